// perf/peers/ws-echo.js: node's `ws` package as a WebSocket echo peer.
//
//   NODE_PATH=build/node/node_modules node perf/peers/ws-echo.js [--deflate] [PORT [CERT KEY]]
//
// Each message back with its type; permessage-deflate only with --deflate
// (then every message is compressed: threshold 0). With CERT and KEY (PEM
// files) it serves wss: the ws server sits on node's https server.
// Prints "listening ws PORT" (or "listening wss PORT"); exits 0 on SIGINT or
// SIGTERM. perf/bench.sh installs ws@8 into build/node with npm when it is
// missing.
'use strict';
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const deflate = args.includes('--deflate');
const [portArg, certFile, keyFile] = args.filter((a) => a !== '--deflate');
const port = Number(portArg || 0);
const opts = { perMessageDeflate: deflate ? { threshold: 0 } : false, maxPayload: 64 << 20 };
let kind = 'ws';
let server;
if (certFile) {
  kind = 'wss';
  server = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile || certFile) });
  opts.server = server;
} else {
  Object.assign(opts, { host: '127.0.0.1', port, backlog: 4096 });
}
const wss = new WebSocketServer(opts);
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
if (server) {
  server.listen({ host: '127.0.0.1', port, backlog: 4096 },
    () => console.log(`listening wss ${server.address().port}`));
} else {
  wss.on('listening', () => console.log(`listening ws ${wss.address().port}`));
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
