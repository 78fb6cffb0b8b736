// perf/peers/ws-echo.js: node's `ws` package as a WebSocket echo peer.
//
//   NODE_PATH=build/node/node_modules node perf/peers/ws-echo.js [PORT]
//
// Each message back with its type, no permessage-deflate. Prints
// "listening ws PORT"; exits 0 on SIGINT or SIGTERM. perf/bench.sh installs
// ws@8 into build/node with npm when it is missing.
'use strict';
const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: Number(process.argv[2] || 0),
  backlog: 4096,
  perMessageDeflate: false,
  maxPayload: 64 << 20,
});
wss.on('listening', () => console.log(`listening ws ${wss.address().port}`));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
