/* tests/workers/test_workers_ws.c: WSServer with Config Workers=N.
 *  - python3-websockets (Debian's, a client nobody here wrote): 24 clients at
 *    once, text and binary, small and large (compressed: each worker has its
 *    own deflate stream), all echoed; connections on several worker threads,
 *    one connection's events never overlapping;
 *  - foreign threads send numbered messages to every connection: each client
 *    (a raw socket reading server frames) gets them in order;
 *  - Shutdown sends every client a close frame (1000) and joins the workers. */
#include "wtest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
	rw_wsserver *srv;
	wt_threads th; /* which threads ran handlers */
	atomic_int connected, disconnected, messages;
	atomic_int overlaps, wrong_server, bad;
	bool echo;
} g;

struct wstate {
	atomic_int in_handler;
	pthread_t thr;
};

static void on_connected(rw_wsserver *s, const rw_wsserver_connected *e, void *u)
{
	(void)u;
	if (s != g.srv)
		atomic_fetch_add(&g.wrong_server, 1);
	struct wstate *st = calloc(1, sizeof(*st));
	st->thr = pthread_self();
	rw_tcpserver_set_user_data(rw_wsserver_get_tcpserver(s), e->connection_id, st);
	wt_note_thread(&g.th);
	atomic_fetch_add(&g.connected, 1);
}

static void on_data(rw_wsserver *s, const rw_wsserver_data_in *e, void *u)
{
	(void)u;
	struct wstate *st = rw_tcpserver_get_user_data(rw_wsserver_get_tcpserver(s), e->connection_id);
	if (!st || s != g.srv) {
		atomic_fetch_add(&g.bad, 1);
		return;
	}
	if (atomic_fetch_add(&st->in_handler, 1) != 0 || !pthread_equal(st->thr, pthread_self()))
		atomic_fetch_add(&g.overlaps, 1);
	atomic_fetch_add(&g.messages, 1);
	if (g.echo) {
		int rc = e->data_format == RW_WS_FORMAT_TEXT
		             ? rw_wsserver_send_text_n(s, e->connection_id, (const char *)e->text, e->text_len)
		             : rw_wsserver_send_bytes(s, e->connection_id, e->text, e->text_len);
		if (rc != 0)
			atomic_fetch_add(&g.bad, 1);
	}
	atomic_fetch_sub(&st->in_handler, 1);
}

static void on_disconnected(rw_wsserver *s, const rw_wsserver_disconnected *e, void *u)
{
	(void)u;
	struct wstate *st = rw_tcpserver_get_user_data(rw_wsserver_get_tcpserver(s), e->connection_id);
	rw_tcpserver_set_user_data(rw_wsserver_get_tcpserver(s), e->connection_id, NULL);
	free(st);
	atomic_fetch_add(&g.disconnected, 1);
}

static const rw_wsserver_events events = {
	.connected = on_connected, .data_in = on_data, .disconnected = on_disconnected};

static int g_threads_before;

static rw_wsserver *start(int workers, int *port)
{
	memset(&g, 0, sizeof(g));
	pthread_mutex_init(&g.th.mu, NULL);
	g.th.main = pthread_self();
	g.echo = true;
	g_threads_before = wt_thread_count();
	rw_wsserver *s = rw_wsserver_new();
	g.srv = s;
	char buf[32];
	snprintf(buf, sizeof(buf), "Workers=%d", workers);
	cr_assert_eq(rw_wsserver_config(s, buf, NULL, 0), 0);
	cr_assert_eq(rw_wsserver_config(s, "BufferMessage=True", NULL, 0), 0);
	cr_assert_eq(rw_wsserver_set_local_host(s, "127.0.0.1"), 0);
	cr_assert_eq(rw_wsserver_set_connection_backlog(s, 256), 0);
	rw_wsserver_set_events(s, &events, NULL);
	cr_assert_eq(rw_wsserver_start_listening(s), 0);
	*port = rw_wsserver_get_local_port(s);
	cr_assert_gt(*port, 0);
	cr_assert_eq(wt_thread_count(), g_threads_before + workers);
	return s;
}

static void finish(rw_wsserver *s)
{
	rw_wsserver_free(s);
	cr_assert_eq(wt_thread_count(), g_threads_before);
	cr_assert_eq(atomic_load(&g.overlaps), 0);
	cr_assert_eq(atomic_load(&g.wrong_server), 0);
	cr_assert_eq(atomic_load(&g.th.on_main), 0);
	cr_assert_eq(atomic_load(&g.bad), 0);
}

static const char *py_clients =
	"import asyncio, os, sys, websockets\n"
	"port = int(sys.argv[1])\n"
	"async def one(i):\n"
	"    async with websockets.connect(f'ws://127.0.0.1:{port}/w', max_size=None) as ws:\n"
	"        for k in range(50):\n"
	"            if k % 10 == 9:\n"
	"                m = (b'%d-%d ' % (i, k)) * 8000\n"
	"            elif k % 2:\n"
	"                m = os.urandom(100 + k)\n"
	"            else:\n"
	"                m = f'text {i} {k}'\n"
	"            await ws.send(m)\n"
	"            r = await asyncio.wait_for(ws.recv(), 20)\n"
	"            assert r == m, (i, k)\n"
	"async def main():\n"
	"    await asyncio.gather(*(one(i) for i in range(24)))\n"
	"asyncio.run(main())\n"
	"print('ok')\n";

Test(workers_ws, python_websockets_clients)
{
	cr_assert_eq(system("/usr/bin/python3 -c 'import websockets' 2>/dev/null"), 0,
	             "python3-websockets is missing (tools/run installs it)");
	int port;
	rw_wsserver *s = start(4, &port);
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "timeout 120 /usr/bin/python3 -c \"$PY\" %d", port);
	setenv("PY", py_clients, 1);
	FILE *p = popen(cmd, "r");
	char out[64] = {0};
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	int st = pclose(p);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "python clients failed: %.*s", (int)n, out);
	cr_assert_str_eq(out, "ok\n");
	cr_assert_eq(atomic_load(&g.connected), 24);
	cr_assert_eq(atomic_load(&g.messages), 24 * 50);
	cr_assert_geq(g.th.nthreads, 2, "%d worker thread(s) served", g.th.nthreads);
	cr_assert(wt_wait_ge(&g.disconnected, 24, 5000));
	cr_assert_eq(rw_wsserver_get_connection_count(s), 0);
	finish(s);
}

/* ---- raw clients ------------------------------------------------------------- */

static int ws_open(int port)
{
	int fd = wt_connect(port, 20000);
	cr_assert_geq(fd, 0);
	const char *req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
	                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 13\r\n\r\n";
	cr_assert(wt_send_all(fd, req, strlen(req)));
	char head[1024];
	size_t n = 0;
	while (n < sizeof(head) - 1 && (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4)))
		cr_assert_eq(recv(fd, head + n++, 1, 0), 1);
	head[n] = 0;
	cr_assert(strstr(head, " 101 "), "%s", head);
	return fd;
}

/* One unmasked server frame with a payload under 126 bytes. */
static int read_frame(int fd, uint8_t *op, char *payload, size_t cap)
{
	uint8_t h[2];
	if (wt_read_full(fd, h, 2) != 2 || (h[1] & 0x80) || (h[1] & 0x7f) >= 126 || (h[1] & 0x7f) >= cap)
		return -1;
	size_t len = h[1] & 0x7f;
	if (wt_read_full(fd, payload, len) != len)
		return -1;
	payload[len] = 0;
	*op = h[0];
	return (int)len;
}

enum { SENDERS = 8, CLIENTS = 8, MSGS = 500 };

struct sender {
	pthread_t t;
	rw_wsserver *s;
	int idx, failures;
	rw_connid ids[CLIENTS];
};

static void *send_thread(void *arg)
{
	struct sender *x = arg;
	char m[32];
	for (int k = 0; k < MSGS; k++)
		for (int c = 0; c < CLIENTS; c++) {
			snprintf(m, sizeof(m), "%d:%d", x->idx, k);
			int rc;
			double end = wt_now_ms() + 10000;
			while ((rc = rw_wsserver_send_text(x->s, x->ids[c], m)) == -RW_EWOULDBLOCK && wt_now_ms() < end)
				wt_sleep_ms(1);
			x->failures += rc != 0;
		}
	return NULL;
}

struct reader {
	pthread_t t;
	int fd, lines, errors;
	int next[SENDERS];
};

static void *read_thread(void *arg)
{
	struct reader *r = arg;
	char p[128];
	uint8_t op;
	while (r->lines < SENDERS * MSGS && read_frame(r->fd, &op, p, sizeof(p)) >= 0) {
		int who, k;
		if (op != 0x81 || sscanf(p, "%d:%d", &who, &k) != 2 || who < 0 || who >= SENDERS || k != r->next[who])
			r->errors++;
		else
			r->next[who]++;
		r->lines++;
	}
	return NULL;
}

Test(workers_ws, foreign_threads_send_in_order)
{
	int port;
	rw_wsserver *s = start(4, &port);
	g.echo = false;
	struct reader rd[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		memset(&rd[i], 0, sizeof(rd[i]));
		rd[i].fd = ws_open(port);
	}
	cr_assert(wt_wait_ge(&g.connected, CLIENTS, 5000));
	rw_connid ids[CLIENTS];
	cr_assert_eq(rw_wsserver_get_connection_ids(s, ids, CLIENTS), CLIENTS);
	cr_assert_eq(rw_wsserver_get_connection_count(s), CLIENTS);
	for (int i = 0; i < CLIENTS; i++)
		pthread_create(&rd[i].t, NULL, read_thread, &rd[i]);
	struct sender sd[SENDERS];
	for (int i = 0; i < SENDERS; i++) {
		memset(&sd[i], 0, sizeof(sd[i]));
		sd[i].s = s;
		sd[i].idx = i;
		memcpy(sd[i].ids, ids, sizeof(ids));
		pthread_create(&sd[i].t, NULL, send_thread, &sd[i]);
	}
	for (int i = 0; i < SENDERS; i++) {
		pthread_join(sd[i].t, NULL);
		cr_assert_eq(sd[i].failures, 0);
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(rd[i].t, NULL);
		cr_assert_eq(rd[i].errors, 0, "client %d: %d messages out of order", i, rd[i].errors);
		cr_assert_eq(rd[i].lines, SENDERS * MSGS);
	}
	/* Shutdown: a close frame (1000) to each, then every worker stops. */
	cr_assert_eq(rw_wsserver_shutdown(s), 0);
	for (int i = 0; i < CLIENTS; i++) {
		uint8_t op;
		char p[128];
		int n = read_frame(rd[i].fd, &op, p, sizeof(p));
		cr_assert(n >= 2 && op == 0x88 && (uint8_t)p[0] == 0x03 && (uint8_t)p[1] == 0xe8, "client %d", i);
		/* Answer the close as a client does: masked, code 1000. */
		uint8_t fr[8] = {0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2};
		wt_send_all(rd[i].fd, fr, sizeof(fr));
	}
	cr_assert_eq(rw_wsserver_run(s), 0);
	cr_assert_eq(atomic_load(&g.disconnected), CLIENTS);
	for (int i = 0; i < CLIENTS; i++)
		close(rd[i].fd);
	finish(s);
}
