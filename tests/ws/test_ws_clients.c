/* tests/ws/test_ws_clients.c: interoperability with WebSocket clients that
 * nobody here wrote: python3-websockets (with and without permessage-deflate,
 * over ws:// and wss://) and node's `ws` package (perMessageDeflate on). Each
 * client checks what it receives itself and exits non-zero on any mismatch;
 * the test checks the server's events. */
#include "wstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GO(...)                                                         \
	wst_rec *r = calloc(1, sizeof(wst_rec));                            \
	int port;                                                           \
	const char *cfg__[] = {__VA_ARGS__, NULL};                          \
	rw_wsserver *s = wst_server(r, cfg__[0] ? cfg__ : NULL, &port)
#define END()              \
	do {                   \
		wst_end(s, r); \
		free(r);       \
	} while (0)

static void need_python(void)
{
	cr_assert(wst_have_python_websockets(),
	          "python3-websockets is missing: tools/run deps installs it (Debian package python3-websockets)");
}

/* Echo round trips of random sizes and both types, the compression the
 * client negotiated printed for the test. */
static const char *PY_ECHO =
	"import asyncio, os, random, sys, websockets\n"
	"port = int(sys.argv[1]); comp = sys.argv[2]\n"
	"async def main():\n"
	"    kw = {} if comp == 'on' else {'compression': None}\n"
	"    async with websockets.connect(f'ws://127.0.0.1:{port}/echo?x=1', subprotocols=['chat', 'b'],\n"
	"                                  max_size=None, origin='http://example.test', **kw) as ws:\n"
	"        print('ext', ws.response_headers.get('Sec-WebSocket-Extensions'))\n"
	"        print('proto', ws.subprotocol)\n"
	"        rnd = random.Random(7)\n"
	"        for i in range(60):\n"
	"            n = rnd.choice([0, 1, 125, 126, 1000, 65536, 200000])\n"
	"            if i % 2:\n"
	"                m = os.urandom(n)\n"
	"            else:\n"
	"                m = ''.join(rnd.choice('ab\\u00e9\\u2713 ') for _ in range(n // 3))\n"
	"            await ws.send(m)\n"
	"            got = await ws.recv()\n"
	"            assert got == m, (i, n, type(got), len(got))\n"
	"        big = 'x' * (1 << 20)\n"
	"        await ws.send(big)\n"
	"        assert await ws.recv() == big\n"
	"        pong = await ws.ping(b'hi')\n"
	"        await asyncio.wait_for(pong, 5)\n"
	"        await ws.close(1001, 'bye')\n"
	"    print('close', ws.close_code)\n"
	"asyncio.run(main())\n";

static void py_echo(const char *comp, const char *want_ext)
{
	need_python();
	GO("BufferMessage=True");
	r->echo = true;
	r->open_pick = "chat";
	const char *out = wst_python(s, PY_ECHO, port, comp, 60000);
	cr_assert(strstr(out, want_ext), "output:\n%s", out);
	cr_assert(strstr(out, "proto chat"), "%s", out);
	wst_wait(s, r->disc == 1, 5000);
	rw_connid id = r->last_id;
	cr_assert_eq(r->errors, 0, "%s", r->errors ? wst_nth(r, -1, WE_ERROR, 0)->text : "");
	cr_assert_eq(wst_count(r, id, WE_DATA), 61);
	cr_assert_eq(r->pings, 1);
	const wst_event *d = wst_nth(r, id, WE_DISC, 0);
	cr_assert_eq(d->code, 1001);
	cr_assert_str_eq(d->text, "bye");
	cr_assert_str_eq(r->open_origin, "http://example.test");
	cr_assert_str_eq(wst_nth(r, id, WE_OPEN, 0)->text, "/echo?x=1");
	END();
}

Test(ws_python, echo_without_compression)
{
	py_echo("off", "ext None");
}

Test(ws_python, echo_with_permessage_deflate)
{
	py_echo("on", "ext permessage-deflate; server_no_context_takeover; client_no_context_takeover");
}

Test(ws_python, echo_with_context_takeover)
{
	need_python();
	GO("BufferMessage=True", "PermessageDeflateContextTakeover=True");
	r->echo = true;
	const char *out = wst_python(s, PY_ECHO, port, "on", 60000);
	cr_assert(strstr(out, "ext permessage-deflate\n"), "%s", out);
	wst_wait(s, r->disc == 1, 5000);
	cr_assert_eq(wst_count(r, r->last_id, WE_DATA), 61);
	END();
}

Test(ws_python, rejected_with_401)
{
	need_python();
	GO(NULL);
	r->open_status = 401;
	r->open_headers = "WWW-Authenticate: Basic realm=\"Secure Realm\"";
	const char *out = wst_python(s,
		"import asyncio, sys, websockets\n"
		"async def main():\n"
		"    try:\n"
		"        async with websockets.connect(f'ws://127.0.0.1:{sys.argv[1]}/'):\n"
		"            print('opened')\n"
		"    except websockets.InvalidStatusCode as e:\n"
		"        print('status', e.status_code, e.headers.get('WWW-Authenticate'))\n"
		"asyncio.run(main())\n",
		port, NULL, 20000);
	cr_assert(strstr(out, "status 401 Basic realm=\"Secure Realm\""), "%s", out);
	wst_wait(s, r->disc == 1, 3000);
	cr_assert_eq(r->connected, 0);
	END();
}

Test(ws_python, server_disconnect_and_messages_from_server)
{
	need_python();
	GO("DisconnectStatusCode=4001", "DisconnectStatusDescription=custom", "MaxFrameSize=1000");
	r->on_ready = NULL;
	/* On Connected the test sends a text, a 2500-byte binary (3 frames) and
	 * then disconnects; the client prints what it saw. */
	rwt_proc p = {0};
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	char *argv[] = {"/usr/bin/python3", "-c",
		"import asyncio, sys, websockets\n"
		"async def main():\n"
		"    async with websockets.connect(f'ws://127.0.0.1:{sys.argv[1]}/') as ws:\n"
		"        a = await ws.recv(); b = await ws.recv()\n"
		"        print('got', repr(a), len(b), b == bytes(range(250)) * 10)\n"
		"        try:\n"
		"            await ws.recv()\n"
		"        except websockets.ConnectionClosed as e:\n"
		"            print('closed', e.code, e.reason)\n"
		"asyncio.run(main())\n",
		ps, NULL};
	cr_assert_eq(rwt_proc_spawn(&p, argv, false), 0);
	wst_wait(s, r->ready == 1, 10000);
	rw_connid id = r->last_id;
	cr_assert_eq(rw_wsserver_send_text(s, id, "h\xc3\xa9llo"), 0);
	uint8_t bin[2500];
	for (int i = 0; i < 2500; i++)
		bin[i] = (uint8_t)(i % 250);
	cr_assert_eq(rw_wsserver_send_bytes(s, id, bin, sizeof(bin)), 0);
	cr_assert_eq(rw_wsserver_disconnect(s, id), 0);
	cr_assert(wst_pump_until(s, rwt_proc_done, &p, 10000));
	cr_assert_eq(p.exit_code, 0, "%s", p.out);
	cr_assert(strstr(p.out, "got 'h\xc3\xa9llo' 2500 True"), "%s", p.out);
	cr_assert(strstr(p.out, "closed 4001 custom"), "%s", p.out);
	wst_wait(s, r->disc == 1, 5000);
	cr_assert_eq(wst_nth(r, id, WE_DISC, 0)->code, 4001);
	rwt_proc_free(&p);
	END();
}

/* ---- node ws --------------------------------------------------------------- */

/* RW_NODE_PREFIX (meson sets it to <build>/node), else ./build/node; node's
 * require() needs an absolute path. */
static const char *node_prefix(void)
{
	static char abs[4096];
	const char *p = getenv("RW_NODE_PREFIX");
	if (p && *p)
		return p;
	if (!getcwd(abs, sizeof(abs) - 16))
		return "build/node";
	strcat(abs, "/build/node");
	return abs;
}

/* Install ws@8 into the build tree once (npm, no global state). */
static void need_node_ws(void)
{
	char path[1024], cmd[1200];
	snprintf(path, sizeof(path), "%s/node_modules/ws/package.json", node_prefix());
	struct stat st;
	if (stat(path, &st) == 0)
		return;
	cr_assert_eq(system("command -v node >/dev/null && command -v npm >/dev/null"), 0,
	             "node and npm are needed (tools/run deps installs nodejs npm)");
	snprintf(cmd, sizeof(cmd), "npm install --no-audit --no-fund --prefix '%s' ws@8 >/dev/null 2>&1", node_prefix());
	cr_assert_eq(system(cmd), 0, "npm install ws@8 failed (network?)");
	cr_assert_eq(stat(path, &st), 0);
}

static const char *NODE_ECHO =
	"const WebSocket = require(process.argv[2] + '/node_modules/ws');\n"
	"const crypto = require('crypto');\n"
	"const ws = new WebSocket('ws://127.0.0.1:' + process.argv[1] + '/node', ['n1'],\n"
	"  {perMessageDeflate: {threshold: 0}});\n"
	"const msgs = [];\n"
	"for (let i = 0; i < 40; i++) {\n"
	"  const n = [0, 5, 126, 4000, 70000, 300000][i % 6];\n"
	"  msgs.push(i % 2 ? crypto.randomBytes(n) : 'caf\\u00e9 '.repeat(n / 5 | 0));\n"
	"}\n"
	"let i = 0;\n"
	"ws.on('open', () => { console.log('ext', ws.extensions, 'proto', ws.protocol); ws.send(msgs[0]); });\n"
	"ws.on('message', (data, isBinary) => {\n"
	"  const m = msgs[i];\n"
	"  const ok = typeof m === 'string' ? (!isBinary && data.toString() === m) : (isBinary && Buffer.compare(data, m) === 0);\n"
	"  if (!ok) { console.log('mismatch', i); process.exit(1); }\n"
	"  if (++i < msgs.length) ws.send(msgs[i]); else ws.close(1000, 'done');\n"
	"});\n"
	"ws.on('close', (code, reason) => { console.log('closed', code, reason.toString(), i); process.exit(i === msgs.length ? 0 : 1); });\n"
	"ws.on('error', (e) => { console.log('error', e.message); process.exit(2); });\n"
	"setTimeout(() => { console.log('timeout', i); process.exit(3); }, 30000);\n";

Test(ws_node, echo_with_per_message_deflate)
{
	need_node_ws();
	GO("BufferMessage=True");
	r->echo = true;
	r->open_pick = "n1";
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	/* node -e SCRIPT -- PORT PREFIX: process.argv is [node, PORT, PREFIX]. */
	char *argv[] = {"node", "-e", (char *)NODE_ECHO, "--", ps, (char *)node_prefix(), NULL};
	const char *out = wst_run(s, argv, 60000, 0);
	cr_assert(strstr(out, "ext permessage-deflate"), "%s", out);
	cr_assert(strstr(out, "proto n1"), "%s", out);
	/* The server echoes the code (not the reason) of the client's Close. */
	cr_assert(strstr(out, "closed 1000  40"), "%s", out);
	wst_wait(s, r->disc == 1, 5000);
	cr_assert_eq(rw_wsserver_get_connection_count(s), 0);
	cr_assert_eq(wst_count(r, -1, WE_DATA), 40);
	cr_assert_eq(wst_nth(r, -1, WE_DISC, 0)->code, 1000);
	cr_assert_str_eq(wst_nth(r, -1, WE_DISC, 0)->text, "done");
	END();
}

/* ---- wss ------------------------------------------------------------------- */

static char cert_dir[] = "/tmp/rw-ws-cert-XXXXXX";

static void make_cert(void)
{
	cr_assert_not_null(mkdtemp(cert_dir));
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/k "
	         "-out %s/c -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null && "
	         "cat %s/c %s/k > %s/pem",
	         cert_dir, cert_dir, cert_dir, cert_dir, cert_dir);
	cr_assert_eq(system(cmd), 0, "openssl could not make a test certificate");
}

static void drop_cert(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", cert_dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", cert_dir);
}

Test(ws_wss, python_over_tls_with_compression)
{
	need_python();
	make_cert();
	wst_rec *r = calloc(1, sizeof(wst_rec));
	r->echo = true;
	char pem[512];
	snprintf(pem, sizeof(pem), "%s/pem", cert_dir);
	int port;
	const char *cfg[] = {"BufferMessage=True", NULL};
	rw_wsserver *s = wst_server_ex(r, cfg, pem, &port);
	const char *out = wst_python(s,
		"import asyncio, os, ssl, sys, websockets\n"
		"ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
		"async def main():\n"
		"    async with websockets.connect(f'wss://127.0.0.1:{sys.argv[1]}/tls', ssl=ctx, max_size=None) as ws:\n"
		"        print('ext', ws.response_headers.get('Sec-WebSocket-Extensions'))\n"
		"        for n in (1, 1000, 100000, 1 << 20):\n"
		"            m = os.urandom(n); await ws.send(m); assert await ws.recv() == m, n\n"
		"            t = 'z' * n; await ws.send(t); assert await ws.recv() == t, n\n"
		"    print('ok')\n"
		"asyncio.run(main())\n",
		port, pem, 60000);
	cr_assert(strstr(out, "ok"), "%s", out);
	cr_assert(strstr(out, "ext permessage-deflate"), "%s", out);
	wst_wait(s, r->disc == 1, 5000);
	cr_assert_eq(wst_count(r, -1, WE_DATA), 8);
	/* A plain ws:// client against the TLS port fails: the failed TLS
	 * handshake gives Error, then Disconnected(1006), and no WebSocket. */
	char resp[256];
	int errors = r->errors;
	int fd = wst_raw_open(s, port, "/", NULL, resp, sizeof(resp));
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	cr_assert(strncmp(resp, "HTTP/1.1 101", 12) != 0, "plaintext got: %s", resp);
	wst_wait(s, r->disc == 2, 5000);
	cr_assert_gt(r->errors, errors);
	cr_assert_eq(wst_nth(r, -1, WE_DISC, 1)->code, 1006);
	cr_assert_eq(r->connected, 1);
	close(fd);
	wst_end(s, r);
	free(r);
	drop_cert();
}

Test(ws_python, blocking_ping_gets_the_pong)
{
	need_python();
	GO(NULL);
	rwt_proc p = {0};
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	char *argv[] = {"/usr/bin/python3", "-c",
		"import asyncio, sys, websockets\n"
		"async def main():\n"
		"    async with websockets.connect(f'ws://127.0.0.1:{sys.argv[1]}/') as ws:\n"
		"        try:\n"
		"            await ws.recv()\n"
		"        except websockets.ConnectionClosed as e:\n"
		"            print('closed', e.code)\n"
		"asyncio.run(main())\n",
		ps, NULL};
	cr_assert_eq(rwt_proc_spawn(&p, argv, false), 0);
	wst_wait(s, r->ready == 1, 10000);
	rw_connid id = r->last_id;
	rw_wsserver_set_timeout(s, id, 5);
	double t0 = rwt_now_ms();
	cr_assert_eq(rw_wsserver_ping(s, id), 0);
	cr_assert_lt(rwt_now_ms() - t0, 2000);
	cr_assert_eq(r->pongs, 1);
	cr_assert_eq(wst_nth(r, id, WE_PONG, 0)->len, 8);
	rw_wsserver_disconnect(s, id);
	cr_assert(wst_pump_until(s, rwt_proc_done, &p, 10000));
	cr_assert(strstr(p.out, "closed 1000"), "%s", p.out);
	rwt_proc_free(&p);
	END();
}
