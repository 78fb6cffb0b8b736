/* tests/ws/test_ws_browser.c: a real browser (headless Chromium) over ws://
 * and wss://. The page echoes text (with non-ASCII), a 100 KB text and a
 * 70 KB binary message through the server, then reports what it saw as a
 * last "RESULT ..." message; the test reads that from DataIn. */
#include "wstest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *PAGE =
	"<!doctype html><html><body><script>\n"
	"const ws = new WebSocket('%s://127.0.0.1:%d/browser', ['b1', 'b2']);\n"
	"ws.binaryType = 'arraybuffer';\n"
	"const bin = new Uint8Array(70000); for (let i = 0; i < bin.length; i++) bin[i] = i %% 251;\n"
	"const msgs = ['hello', 'h\\u00e9llo \\u2713', 'x'.repeat(100000), bin];\n"
	"let step = 0;\n"
	"function same(a, b) {\n"
	"  if (typeof b === 'string') return a === b;\n"
	"  const u = new Uint8Array(a); if (u.length !== b.length) return false;\n"
	"  for (let i = 0; i < u.length; i++) if (u[i] !== b[i]) return false; return true;\n"
	"}\n"
	"ws.onopen = () => ws.send(msgs[0]);\n"
	"ws.onmessage = (e) => {\n"
	"  if (!same(e.data, msgs[step])) { ws.send('RESULT mismatch ' + step); return; }\n"
	"  if (++step < msgs.length) { ws.send(msgs[step]); return; }\n"
	"  ws.send('RESULT ok ext=' + ws.extensions + ' proto=' + ws.protocol);\n"
	"};\n"
	"ws.onerror = () => { document.title = 'error'; };\n"
	"</script></body></html>\n";

static void result_seen(wst_rec *r, rw_wsserver *s, const rw_wsserver_data_in *e)
{
	(void)s;
	if (e->text_len >= 6 && !memcmp(e->text, "RESULT", 6))
		snprintf(r->ctx, 256, "%.*s", (int)e->text_len, (const char *)e->text);
}

static void run_browser(const char *scheme, const char *pem)
{
	cr_assert_eq(system("command -v chromium >/dev/null"), 0,
	             "chromium is needed for the browser test (Debian package chromium)");
	wst_rec *r = calloc(1, sizeof(wst_rec));
	char result[256] = "";
	r->echo = true;
	r->ctx = result;
	r->on_data = result_seen;
	r->open_pick = "b2";
	int port;
	const char *cfg[] = {"BufferMessage=True", NULL};
	rw_wsserver *s = wst_server_ex(r, cfg, pem, &port);
	char dir[] = "/tmp/rw-ws-browser-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char page[512], url[600], profile[600];
	snprintf(page, sizeof(page), "%s/page.html", dir);
	snprintf(url, sizeof(url), "file://%s", page);
	snprintf(profile, sizeof(profile), "--user-data-dir=%s/profile", dir);
	FILE *f = fopen(page, "w");
	cr_assert_not_null(f);
	fprintf(f, PAGE, scheme, port);
	fclose(f);
	char *argv[] = {"chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
	                "--disable-extensions", "--ignore-certificate-errors", profile, url, NULL};
	rwt_proc p = {0};
	cr_assert_eq(rwt_proc_spawn(&p, argv, false), 0);
	double t0 = rwt_now_ms();
	while (!result[0] && rwt_now_ms() - t0 < 60000 && !rwt_proc_done(&p))
		rw_wsserver_do_events(s);
	/* The browser does not exit by itself: stop it (our own child) with
	 * SIGTERM, so that it ends its own helper processes too (Criterion's
	 * runner would inherit orphans and count them as a failure), then
	 * SIGKILL if it does not go within 10 s. */
	if (!p.exited) {
		kill(p.pid, SIGTERM);
		double t1 = rwt_now_ms();
		while (!rwt_proc_done(&p) && rwt_now_ms() - t1 < 10000)
			rw_wsserver_do_events(s);
		if (!p.exited)
			rwt_proc_kill(&p);
	}
	cr_assert(result[0], "no RESULT from the browser; its output:\n%s", p.out ? p.out : "");
	cr_assert(strstr(result, "RESULT ok ext=permessage-deflate"), "%s", result);
	cr_assert(strstr(result, "proto=b2"), "%s", result);
	cr_assert_eq(r->errors, 0);
	cr_assert_eq(wst_count(r, -1, WE_DATA), 5);
	rwt_proc_free(&p);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
	wst_end(s, r);
	free(r);
}

Test(ws_browser, chromium_ws, .timeout = 120)
{
	run_browser("ws", NULL);
}

Test(ws_browser, chromium_wss, .timeout = 120)
{
	char dir[] = "/tmp/rw-ws-cert-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char cmd[1024], pem[128];
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/k "
	         "-out %s/c -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null && "
	         "cat %s/c %s/k > %s/pem",
	         dir, dir, dir, dir, dir);
	cr_assert_eq(system(cmd), 0, "openssl could not make a test certificate");
	snprintf(pem, sizeof(pem), "%s/pem", dir);
	run_browser("wss", pem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}
