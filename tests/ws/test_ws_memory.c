/* tests/ws/test_ws_memory.c: the heap an idle WebSocket connection costs,
 * measured as tests/unit/test_engine.c does for TCP (heap in use before and
 * after N idle connections, divided by N), after the handshake and one echoed
 * message each: plain, compressed with the default permessage-deflate (no
 * context takeover: nothing of zlib may stay with an idle connection), and
 * with PermessageDeflateContextTakeover=True (logged, for the header's
 * figures). The total is asserted; a plain TCP connection on the same engine
 * is measured in the same run, so the WebSocket layer's own share is known
 * (and bounded) as well.
 *
 * Clients are raw sockets in this thread (the server is turned while they
 * wait); the server's handlers allocate nothing. A first batch of
 * connections warms the pools (send chunks, send ops, inflate streams) so that
 * they are not billed to the measured ones. */
#include "wstest.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));
static double heap_in_use(void)
{
	if (__sanitizer_get_current_allocated_bytes)
		return (double)__sanitizer_get_current_allocated_bytes();
	return (double)mallinfo2().uordblks;
}

enum { WARM = 300, N = 1500 };

struct mem_state {
	int connected, data, disc;
	bool rare; /* the handler uses the rare per-connection state (rare_data) */
};

static void set_conn(rw_wsserver *s, const char *name, rw_connid id, long long v)
{
	char cfg[64];
	snprintf(cfg, sizeof(cfg), "%s[%lld]=%lld", name, (long long)id, v);
	cr_assert_eq(rw_wsserver_config(s, cfg, NULL, 0), 0, "%s", cfg);
}

/* The first message: MessageLength set and reset, then line mode on; the
 * line that follows (in line mode): line mode off from inside DataIn, while
 * the line buffer is in use. Each is echoed. */
static void rare_data(rw_wsserver *s, const rw_wsserver_data_in *e)
{
	rw_connid id = e->connection_id;
	if (rw_wsserver_get_line_mode(s, id) == 1) {
		cr_assert(e->eol, "a whole line");
		cr_assert_eq(rw_wsserver_change_line_mode(s, id, false), 0);
	} else {
		set_conn(s, "MessageLength", id, 1000);
		set_conn(s, "MessageLength", id, 0);
		cr_assert_eq(rw_wsserver_change_line_mode(s, id, true), 0);
	}
	cr_assert_eq(rw_wsserver_send_text_n(s, id, (const char *)e->text, e->text_len), 0);
}

static void m_data(rw_wsserver *s, const rw_wsserver_data_in *e, void *u)
{
	struct mem_state *st = u;
	st->data++;
	if (st->rare)
		rare_data(s, e);
	else if (e->data_format == RW_WS_FORMAT_TEXT)
		rw_wsserver_send_text_n(s, e->connection_id, (const char *)e->text, e->text_len);
	else
		rw_wsserver_send_bytes(s, e->connection_id, e->text, e->text_len);
}

static void m_connected(rw_wsserver *s, const rw_wsserver_connected *e, void *u)
{
	(void)s;
	(void)e;
	((struct mem_state *)u)->connected++;
}

static void m_disc(rw_wsserver *s, const rw_wsserver_disconnected *e, void *u)
{
	(void)s;
	(void)e;
	((struct mem_state *)u)->disc++;
}

static rw_wsserver *mem_server(struct mem_state *st, const char *extra_cfg, int *port)
{
	static const rw_wsserver_events ev = {.connected = m_connected, .data_in = m_data, .disconnected = m_disc};
	rw_wsserver *s = rw_wsserver_new();
	cr_assert_not_null(s);
	rw_wsserver_set_events(s, &ev, st);
	cr_assert_eq(rw_wsserver_set_local_host(s, "127.0.0.1"), 0);
	cr_assert_eq(rw_wsserver_set_local_port(s, 0), 0);
	cr_assert_eq(rw_wsserver_set_connection_backlog(s, 4096), 0);
	wst_cfg(s, "DoEventsTimeout=20");
	wst_cfg(s, "MaxConnections=5000");
	if (extra_cfg)
		wst_cfg(s, extra_cfg);
	cr_assert_eq(rw_wsserver_start_listening(s), 0);
	*port = rw_wsserver_get_local_port(s);
	return s;
}

/* A raw deflate of msg with the 00 00 ff ff tail removed (RFC 7692 §7.2.1). */
static size_t deflate_msg(const char *msg, uint8_t *out, size_t cap)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)msg;
	z.avail_in = (uInt)strlen(msg);
	z.next_out = out;
	z.avail_out = (uInt)cap;
	cr_assert_eq(deflate(&z, Z_SYNC_FLUSH), Z_OK);
	size_t n = cap - z.avail_out;
	deflateEnd(&z);
	cr_assert(n >= 4 && !memcmp(out + n - 4, "\x00\x00\xff\xff", 4));
	return n - 4;
}

/* Open `count` WebSocket connections (fds[]), each with the handshake and one
 * echoed message (compressed when pmd), verified. */
static void open_batch(rw_wsserver *s, struct mem_state *st, int port, int *fds, int count, bool pmd)
{
	static const char msg[] = "an idle connection, after one message: an idle connection";
	const char *ext = pmd ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : NULL;
	uint8_t z[256];
	size_t zn = pmd ? deflate_msg(msg, z, sizeof(z)) : 0;
	int data0 = st->data;
	for (int i = 0; i < count; i++) {
		char resp[1024];
		fds[i] = wst_raw_open(s, port, "/", ext, resp, sizeof(resp));
		cr_assert_geq(fds[i], 0, "connect %d: %s", i, strerror(-fds[i]));
		cr_assert(strncmp(resp, "HTTP/1.1 101 ", 13) == 0, "handshake %d: %s", i, resp);
		cr_assert_eq(strstr(resp, "permessage-deflate") != NULL, pmd, "%s", resp);
		if (pmd)
			wst_frame(fds[i], 0xc1, z, zn); /* FIN, RSV1, text */
		else
			wst_frame(fds[i], 0x81, msg, strlen(msg));
	}
	wst_wait(s, st->data == data0 + count, 30000);
	for (int i = 0; i < count; i++) {
		uint8_t *p;
		size_t n;
		int b0 = wst_read_frame(s, fds[i], &p, &n, NULL, 5000);
		cr_assert_eq(b0 & 0x0f, 1, "connection %d: echo frame %d", i, b0);
		if (pmd) {
			cr_assert(b0 & 0x40, "the echo is compressed");
			uint8_t out[256];
			z_stream in;
			memset(&in, 0, sizeof(in));
			cr_assert_eq(inflateInit2(&in, -15), Z_OK);
			uint8_t tail[] = {0, 0, 0xff, 0xff};
			in.next_in = p;
			in.avail_in = (uInt)n;
			in.next_out = out;
			in.avail_out = sizeof(out);
			inflate(&in, Z_SYNC_FLUSH);
			in.next_in = tail;
			in.avail_in = 4;
			inflate(&in, Z_SYNC_FLUSH);
			size_t got = sizeof(out) - in.avail_out;
			inflateEnd(&in);
			cr_assert(got == strlen(msg) && !memcmp(out, msg, got), "connection %d: echo differs", i);
		} else {
			cr_assert(n == strlen(msg) && !memcmp(p, msg, n), "connection %d: echo differs", i);
		}
		free(p);
	}
	/* Let the sends complete so that their chunks are back in the pool. */
	wst_pump_for(s, 100);
}

/* Close with a reset: the thousands of connections this file opens leave no
 * client TIME_WAIT sockets behind for the tests that run alongside. */
static void close_reset(int fd)
{
	struct linger l = {1, 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* Line mode's round (rare_data): one line to each connection, echoed. */
static void line_round(rw_wsserver *s, struct mem_state *st, int *fds, int count)
{
	static const char line[] = "a line, then line mode goes off\n";
	int data0 = st->data;
	for (int i = 0; i < count; i++)
		wst_frame(fds[i], 0x81, line, strlen(line));
	wst_wait(s, st->data == data0 + count, 30000);
	for (int i = 0; i < count; i++) {
		uint8_t *p;
		size_t n;
		int b0 = wst_read_frame(s, fds[i], &p, &n, NULL, 5000);
		cr_assert_eq(b0, 0x81, "connection %d: echo frame %d", i, b0);
		cr_assert(n == strlen(line) - 1 && !memcmp(p, line, n), "connection %d: echo differs", i);
		free(p);
	}
	wst_pump_for(s, 100);
}

static void close_all(rw_wsserver *s, struct mem_state *st, int *fds, int count)
{
	int disc0 = st->disc;
	for (int i = 0; i < count; i++)
		close_reset(fds[i]);
	wst_wait(s, st->disc == disc0 + count, 30000);
}

/* Heap per idle connection of one kind: after a warm-up batch that stays
 * open, the heap grown by N more. */
static double per_conn_cfgs(const char *const *cfgs, bool pmd, int warm_n, int n)
{
	struct mem_state st = {0};
	int port;
	rw_wsserver *s = mem_server(&st, cfgs[0], &port);
	for (int i = 1; cfgs[i]; i++)
		wst_cfg(s, cfgs[i]);
	static int warm[WARM], fds[N];
	open_batch(s, &st, port, warm, warm_n, pmd);
	double before = heap_in_use();
	open_batch(s, &st, port, fds, n, pmd);
	cr_assert_eq(rw_wsserver_get_connection_count(s), warm_n + n);
	double per = (heap_in_use() - before) / n;
	close_all(s, &st, fds, n);
	close_all(s, &st, warm, warm_n);
	rw_wsserver_free(s);
	return per;
}

static double per_conn(const char *cfg, bool pmd, int warm_n, int n)
{
	const char *cfgs[] = {cfg, NULL};
	return per_conn_cfgs(cfgs, pmd, warm_n, n);
}

/* Plain TCP connections on the same engine, for the WebSocket share. */
struct tcp_state {
	int connected;
};
static void t_connected(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u)
{
	(void)s;
	(void)e;
	((struct tcp_state *)u)->connected++;
}

static double tcp_per_conn(void)
{
	struct tcp_state st = {0};
	rw_tcpserver *s = rw_tcpserver_new();
	rw_tcpserver_set_events(s, &(rw_tcpserver_events){.connected = t_connected}, &st);
	cr_assert_eq(rw_tcpserver_set_local_host(s, "127.0.0.1"), 0);
	cr_assert_eq(rw_tcpserver_set_connection_backlog(s, 4096), 0);
	cr_assert_eq(rw_tcpserver_config(s, "MaxConnections=5000", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	int port = rw_tcpserver_get_local_port(s);
	static int fds[WARM + N];
	double before = 0;
	for (int i = 0; i < WARM + N; i++) {
		if (i == WARM) {
			for (double t0 = rwt_now_ms(); st.connected < WARM && rwt_now_ms() - t0 < 10000;)
				rw_tcpserver_do_events(s);
			before = heap_in_use();
		}
		fds[i] = rwt_connect("127.0.0.1", port, 5000);
		cr_assert_geq(fds[i], 0, "connect %d: %s", i, strerror(-fds[i]));
		if (i % 64 == 63)
			rw_tcpserver_do_events(s);
	}
	for (double t0 = rwt_now_ms(); st.connected < WARM + N && rwt_now_ms() - t0 < 30000;)
		rw_tcpserver_do_events(s);
	cr_assert_eq(st.connected, WARM + N);
	double per = (heap_in_use() - before) / N;
	for (int i = 0; i < WARM + N; i++)
		close_reset(fds[i]);
	rw_tcpserver_free(s);
	return per;
}

/* At most 256 B per idle WebSocket in all: the engine's connection object
 * (from its slab, with the WebSocket state in place), the request metadata
 * and anything else; the WebSocket layer's own share (its in-place state and
 * the metadata) is bounded by WS_LAYER_MAX. Every client here sends the same
 * request, so the connections share one copy of the metadata (ws_meta.c):
 * the layer's share is its 48 B in place (a 32 B block of metadata each
 * would make it about 98). Both figures hold for glibc's allocator (chunk
 * overhead counted) and ASan's (requested bytes). */
#define WS_TOTAL_MAX 256.0
#define WS_LAYER_MAX 84.0 /* 48 B, give or take a slab of each kind */

Test(ws_memory, idle_connection_heap)
{
	double tcp = tcp_per_conn();
	double ws = per_conn(NULL, false, WARM, N);
	double pmd = per_conn(NULL, true, WARM, N);
	cr_log_info("heap per idle connection: TCP %.1f B; WebSocket %.1f B (%.1f B over TCP); "
	            "WebSocket with permessage-deflate, no context takeover, %.1f B (%.1f B over TCP)",
	            tcp, ws, ws - tcp, pmd, pmd - tcp);
	cr_assert_leq(ws, WS_TOTAL_MAX, "an idle WebSocket costs %.1f B of heap in all", ws);
	cr_assert_leq(pmd, WS_TOTAL_MAX, "an idle compressed WebSocket costs %.1f B of heap in all", pmd);
	cr_assert_leq(ws - tcp, WS_LAYER_MAX, "the WebSocket layer costs %.1f B per idle connection", ws - tcp);
	cr_assert_leq(pmd - tcp, WS_LAYER_MAX,
	              "with permessage-deflate the WebSocket layer costs %.1f B per idle connection", pmd - tcp);
}

/* What a connection needs now and then (MessageLength, line mode's buffer)
 * is given back once unused: such a connection, idle again, costs what a
 * plain one does. */
static double rare_per_conn(int warm_n, int n)
{
	struct mem_state st = {.rare = true};
	int port;
	rw_wsserver *s = mem_server(&st, NULL, &port);
	static int warm[WARM], fds[N];
	open_batch(s, &st, port, warm, warm_n, false);
	line_round(s, &st, warm, warm_n);
	double before = heap_in_use();
	open_batch(s, &st, port, fds, n, false);
	line_round(s, &st, fds, n);
	double per = (heap_in_use() - before) / n;
	close_all(s, &st, fds, n);
	close_all(s, &st, warm, warm_n);
	rw_wsserver_free(s);
	return per;
}

Test(ws_memory, rare_state_is_given_back)
{
	double plain = per_conn(NULL, false, 100, 500);
	double rare = rare_per_conn(100, 500);
	cr_log_info("heap per idle connection: %.1f B, %.1f B after MessageLength and line mode", plain, rare);
	/* The engine's connections come in 32 KiB slabs: one slab more or less
	 * between the two runs is not the WebSocket's (the cold part alone would
	 * be about 96 B per connection, the line buffer 2 KiB). */
	cr_assert_leq(rare, plain + 32768.0 / 500 + 8.0, "line mode and MessageLength left %.1f B per connection",
	              rare - plain);
}

Test(ws_memory, context_takeover_cost)
{
	/* Each connection keeps its own zlib streams: measured, bounded by what
	 * the header documents for these settings. */
	double tcp = tcp_per_conn();
	static const char *const small[] = {"PermessageDeflateContextTakeover=True", "PermessageDeflateWindowBits=10",
	                                    "PermessageDeflateMemLevel=1", NULL};
	double d15 = per_conn("PermessageDeflateContextTakeover=True", true, 20, 100);
	double d10 = per_conn_cfgs(small, true, 20, 100);
	cr_log_info("heap per idle connection with context takeover: %.0f B (deflate window 15, memLevel 8), "
	            "%.0f B (window 10, memLevel 1); the client's context: inflate with a 32 KiB window",
	            d15 - tcp, d10 - tcp);
	cr_assert_gt(d15 - tcp, 32768.0, "context takeover keeps zlib state per connection");
	cr_assert_lt(d10, d15 - 65536.0, "a small window and memLevel must save memory (%.0f vs %.0f B)", d10, d15);
}

Test(ws_memory, request_headers_kept_only_when_asked)
{
	/* The headers are the largest part of a connection's metadata: by
	 * default they are readable in WebSocketOpenRequest only. */
	for (int keep = 0; keep < 2; keep++) {
		struct mem_state st = {0};
		int port;
		rw_wsserver *s = mem_server(&st, keep ? "KeepRequestHeaders=True" : NULL, &port);
		char resp[1024], buf[1024];
		int fd = wst_raw_open(s, port, "/p?q=1", "X-Test: abc\r\nOrigin: http://o.test\r\n"
		                      "Sec-WebSocket-Protocol: a, b\r\n", resp, sizeof(resp));
		cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
		cr_assert(strncmp(resp, "HTTP/1.1 101 ", 13) == 0, "%s", resp);
		wst_wait(s, st.connected == 1, 5000);
		rw_connid id;
		cr_assert_eq(rw_wsserver_get_connection_ids(s, &id, 1), 1);
		int n = rw_wsserver_get_request_headers(s, id, buf, sizeof(buf));
		if (keep)
			cr_assert(n > 0 && strstr(buf, "X-Test: abc"), "%d %s", n, buf);
		else
			cr_assert_eq(n, 0, "headers not kept: \"%s\"", buf);
		cr_assert_gt(rw_wsserver_get_request_uri(s, id, buf, sizeof(buf)), 0);
		cr_assert_str_eq(buf, "/p?q=1");
		rw_wsserver_get_origin(s, id, buf, sizeof(buf));
		cr_assert_str_eq(buf, "http://o.test");
		rw_wsserver_get_host(s, id, buf, sizeof(buf));
		cr_assert(strncmp(buf, "127.0.0.1:", 10) == 0, "%s", buf);
		rw_wsserver_get_subprotocols(s, id, buf, sizeof(buf));
		cr_assert_str_eq(buf, "a, b");
		cr_assert_eq(rw_wsserver_get_selected_subprotocol(s, id, buf, sizeof(buf)), 0);
		close(fd);
		wst_wait(s, st.disc == 1, 5000);
		rw_wsserver_free(s);
	}
}

/* The newest connection of the server (ids grow). */
static rw_connid newest(rw_wsserver *s)
{
	rw_connid ids[8], best = 0;
	int n = rw_wsserver_get_connection_ids(s, ids, 8);
	for (int i = 0; i < n; i++)
		best = ids[i] > best ? ids[i] : best;
	return best;
}

static void uri_is(rw_wsserver *s, rw_connid id, const char *want)
{
	char buf[64];
	cr_assert_gt(rw_wsserver_get_request_uri(s, id, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, want, "connection %lld", (long long)id);
	rw_wsserver_get_origin(s, id, buf, sizeof(buf));
	cr_assert_str_eq(buf, want[1] == 'a' ? "http://a.test" : "http://b.test");
}

/* Shared metadata stays each connection's own: equal requests share a copy,
 * a different one in between gets its own, and whichever connections close
 * first, the others still read their values (under ASan a copy freed too
 * early would be reported). */
Test(ws_memory, shared_metadata_outlives_its_first_owner)
{
	static const char *const paths[] = {"/a", "/a", "/b", "/a", "/b"};
	enum { K = 5 };
	struct mem_state st = {0};
	int port, fds[K];
	rw_connid ids[K];
	rw_wsserver *s = mem_server(&st, NULL, &port);
	for (int i = 0; i < K; i++) {
		char resp[1024], extra[64];
		snprintf(extra, sizeof(extra), "Origin: http://%c.test\r\n", paths[i][1]);
		fds[i] = wst_raw_open(s, port, paths[i], extra, resp, sizeof(resp));
		cr_assert_geq(fds[i], 0, "connect: %s", strerror(-fds[i]));
		wst_wait(s, st.connected == i + 1, 5000);
		ids[i] = newest(s);
	}
	for (int i = 0; i < K; i++)
		uri_is(s, ids[i], paths[i]);
	static const int close_order[] = {0, 2, 3};
	for (int k = 0; k < 3; k++) {
		close(fds[close_order[k]]);
		wst_wait(s, st.disc == k + 1, 5000);
		for (int i = 0; i < K; i++)
			if (i != 0 && i != 2 && (i != 3 || k < 2))
				uri_is(s, ids[i], paths[i]);
	}
	close(fds[1]);
	close(fds[4]);
	wst_wait(s, st.disc == K, 5000);
	rw_wsserver_free(s);
}

Test(ws_memory, deflate_settings_are_checked)
{
	struct mem_state st = {0};
	int port;
	rw_wsserver *s = mem_server(&st, NULL, &port);
	char out[32];
	cr_assert_eq(rw_wsserver_config(s, "PermessageDeflateWindowBits", out, sizeof(out)), 2);
	cr_assert_str_eq(out, "15");
	cr_assert_eq(rw_wsserver_config(s, "PermessageDeflateMemLevel", out, sizeof(out)), 1);
	cr_assert_str_eq(out, "0");
	cr_assert_eq(rw_wsserver_config(s, "KeepRequestHeaders", out, sizeof(out)), 5);
	cr_assert_str_eq(out, "False");
	cr_assert_eq(rw_wsserver_config(s, "PermessageDeflateWindowBits=8", NULL, 0), -RW_EBAD_VALUE);
	cr_assert_eq(rw_wsserver_config(s, "PermessageDeflateWindowBits=16", NULL, 0), -RW_EBAD_VALUE);
	cr_assert_eq(rw_wsserver_config(s, "PermessageDeflateMemLevel=10", NULL, 0), -RW_EBAD_VALUE);
	cr_assert_eq(rw_wsserver_config(s, "PermessageDeflateWindowBits=9", NULL, 0), 0);
	cr_assert_eq(rw_wsserver_config(s, "PermessageDeflateMemLevel=9", NULL, 0), 0);
	rw_wsserver_free(s);
}
