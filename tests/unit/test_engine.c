/* tests/unit/test_engine.c: engine behaviours that need the public API but
 * are about the io_uring mechanism: receive-buffer exhaustion (ENOBUFS) re-arms
 * without losing or reordering bytes (also for a burst of 1,000 connections
 * on a ring that starts small), a peer that never reads cannot hold
 * every receive buffer through its queued echo, SEND_ZC sends are byte-exact, a shared
 * loop serves two servers, and an idle connection costs at most 200 bytes of
 * heap (its 160 B struct rw_conn from the loop's slab, no malloc header, no
 * framer or other state while it is idle in raw mode; the margin covers the
 * slab's 32 KiB granularity and the sanitizer's allocator), and no more
 * once it has been in line mode and is back in raw mode. Clients are plain blocking sockets in a thread. */
#include <ringworks/ringworks.h>

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Heap in use. Under ASan malloc is the sanitizer's, and glibc's mallinfo2
 * sees nothing, so ask the sanitizer when it is there. */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));
static double heap_in_use(void)
{
	if (__sanitizer_get_current_allocated_bytes)
		return (double)__sanitizer_get_current_allocated_bytes();
	return (double)mallinfo2().uordblks;
}

/* Turn the loop until *counter reaches want or `seconds` pass. */
static void pump(rw_tcpserver *s, const int *counter, int want, double seconds)
{
	double end = now_s() + seconds;
	while (*counter < want && now_s() < end)
		rw_tcpserver_do_events(s);
}

struct echo_state {
	int connected, disconnected;
	rw_connid last_id;
};

/* Echo with backpressure: on WOULDBLOCK keep the rest, pause, resend on
 * ReadyToSend. One pending remainder per server is enough for one client. */
static uint8_t *pending;
static size_t pending_len;

static void on_connected(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u)
{
	struct echo_state *st = u;
	st->connected++;
	st->last_id = e->connection_id;
}

static void on_disconnected(rw_tcpserver *s, const rw_tcpserver_disconnected *e, void *u)
{
	((struct echo_state *)u)->disconnected++;
}

static void on_data(rw_tcpserver *s, const rw_tcpserver_data_in *e, void *u)
{
	int rc = rw_tcpserver_send(s, e->connection_id, e->text, e->text_len);
	if (rc == -RW_EWOULDBLOCK) {
		size_t took = (size_t)rw_tcpserver_get_bytes_sent(s, e->connection_id);
		pending = realloc(pending, pending_len + e->text_len - took);
		memcpy(pending + pending_len, e->text + took, e->text_len - took);
		pending_len += e->text_len - took;
		rw_tcpserver_pause_data(s, e->connection_id);
	} else {
		cr_assert_eq(rc, 0);
	}
}

static void on_ready(rw_tcpserver *s, const rw_tcpserver_ready_to_send *e, void *u)
{
	if (!pending_len)
		return;
	int rc = rw_tcpserver_send(s, e->connection_id, pending, pending_len);
	size_t took = rc == 0 ? pending_len : (size_t)rw_tcpserver_get_bytes_sent(s, e->connection_id);
	memmove(pending, pending + took, pending_len - took);
	pending_len -= took;
	if (!pending_len)
		rw_tcpserver_process_data(s, e->connection_id);
}

static const rw_tcpserver_events echo_events = {
	.connected = on_connected, .disconnected = on_disconnected,
	.data_in = on_data, .ready_to_send = on_ready,
};

static rw_tcpserver *start_server(struct echo_state *st, const char *const *configs)
{
	rw_tcpserver *s = rw_tcpserver_new();
	cr_assert_not_null(s);
	cr_assert_eq(rw_tcpserver_set_local_host(s, "127.0.0.1"), 0);
	cr_assert_eq(rw_tcpserver_config(s, "DoEventsTimeout=20", NULL, 0), 0);
	for (; configs && *configs; configs++)
		cr_assert_eq(rw_tcpserver_config(s, *configs, NULL, 0), 0, "config %s", *configs);
	rw_tcpserver_set_events(s, &echo_events, st);
	cr_assert_eq(rw_tcpserver_set_connection_backlog(s, 4096), 0);
	int rc = rw_tcpserver_start_listening(s);
	cr_assert_eq(rc, 0, "start_listening: %s", rw_strerror(rc));
	return s;
}

static int connect_to(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

struct client_job {
	int port;
	size_t len;
	int ok; /* 1 = echo matched */
};

static uint8_t pattern_byte(size_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static void *writer(void *arg)
{
	int *p = arg;
	uint8_t buf[65536];
	size_t len = (size_t)p[1], off = 0;
	while (off < len) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern_byte(off + i);
		ssize_t w = write(p[0], buf, n);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	return NULL;
}

/* Send `len` patterned bytes and check they all come back in order. */
static void *echo_client(void *arg)
{
	struct client_job *j = arg;
	int fd = connect_to(j->port);
	int wargs[2] = {fd, (int)j->len};
	pthread_t w;
	pthread_create(&w, NULL, writer, wargs);
	uint8_t buf[65536];
	size_t got = 0;
	j->ok = 1;
	while (got < j->len) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r <= 0) {
			j->ok = 0;
			break;
		}
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pattern_byte(got + (size_t)i))
				j->ok = 0;
		got += (size_t)r;
	}
	pthread_join(w, NULL);
	close(fd);
	return NULL;
}

static void run_echo(rw_tcpserver *s, struct echo_state *st, size_t len)
{
	struct client_job j = {rw_tcpserver_get_local_port(s), len, -1};
	pthread_t t;
	pthread_create(&t, NULL, echo_client, &j);
	pump(s, &st->disconnected, 1, 60);
	pthread_join(t, NULL);
	cr_assert_eq(j.ok, 1, "echo of %zu bytes was not byte-exact", len);
	cr_assert_eq(st->disconnected, 1);
}

Test(engine, enobufs_rearm_keeps_order)
{
	/* Two 512-byte buffers for a 4 MiB echo: the multishot receive runs dry
	 * constantly and must be re-armed without losing a byte. */
	static const char *const cfg[] = {"RecvBufferSize=512", "RecvBufferCount=2", NULL};
	struct echo_state st = {0};
	rw_tcpserver *s = start_server(&st, cfg);
	run_echo(s, &st, 4u << 20);
	rw_tcpserver_free(s);
}

/* A peer that sends but never reads keeps its echo queued. Echoed bytes are
 * sent from the receive buffers they arrived in (no copy) only while queued
 * sends hold fewer than half of the buffers, so such a peer cannot take them
 * all: another connection's echo still completes, and once the stuck peer is
 * gone every buffer is back (a third echo completes too). */
Test(engine, stuck_peer_does_not_starve_receive_buffers)
{
	static const char *const cfg[] = {"RecvBufferSize=4096", "RecvBufferCount=4", "OutBufferSize=4096",
	                                  "SendQueueLimit=1048576", NULL};
	struct echo_state st = {0};
	rw_tcpserver *s = start_server(&st, cfg);
	int port = rw_tcpserver_get_local_port(s);
	int stuck = socket(AF_INET, SOCK_STREAM, 0);
	int small = 4096;
	setsockopt(stuck, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(stuck, (struct sockaddr *)&a, sizeof(a)), 0);
	pump(s, &st.connected, 1, 10);
	/* 256 KiB in 4 KiB writes: far more than the peer's window and the
	 * server's send buffer take, so most of it stays queued. */
	uint8_t block[4096];
	memset(block, 0x5a, sizeof(block));
	for (int i = 0; i < 64; i++) {
		cr_assert_eq(write(stuck, block, sizeof(block)), (ssize_t)sizeof(block));
		for (int k = 0; k < 3; k++)
			rw_tcpserver_do_events(s);
	}
	int conns_before = st.disconnected;
	run_echo(s, &st, 1u << 20);
	close(stuck);
	pump(s, &st.disconnected, conns_before + 2, 10);
	cr_assert_eq(st.disconnected, conns_before + 2);
	st.disconnected = 0;
	run_echo(s, &st, 1u << 20);
	rw_tcpserver_free(s);
}

/* A burst: 1,000 connections each send 16 KiB at once, and every one gets
 * its 16 KiB back, byte-exact: with the default ring (64 of its 1,024
 * buffers in it at first, more when it runs dry) and with 16 buffers, where
 * receives run dry (ENOBUFS) over and over and are re-armed as buffers
 * return. */
static void burst(const char *const *cfg)
{
	enum { N = 1000, LEN = 16384 };
	struct echo_state st = {0};
	rw_tcpserver *s = start_server(&st, cfg);
	int port = rw_tcpserver_get_local_port(s);
	static int fds[N];
	static size_t got[N];
	static uint8_t msg[LEN], buf[LEN];
	for (size_t i = 0; i < LEN; i++)
		msg[i] = pattern_byte(i);
	for (int i = 0; i < N; i++) {
		fds[i] = connect_to(port);
		if (i % 64 == 63)
			rw_tcpserver_do_events(s);
	}
	pump(s, &st.connected, N, 30);
	cr_assert_eq(st.connected, N);
	for (int i = 0; i < N; i++)
		cr_assert_eq(write(fds[i], msg, LEN), LEN);
	int done = 0;
	double end = now_s() + 60;
	while (done < N && now_s() < end) {
		rw_tcpserver_do_events(s);
		for (int i = 0; i < N; i++) {
			if (got[i] == LEN)
				continue;
			ssize_t r = recv(fds[i], buf, LEN - got[i], MSG_DONTWAIT);
			if (r <= 0)
				continue;
			cr_assert(!memcmp(buf, msg + got[i], (size_t)r), "connection %d: echo differs at %zu", i, got[i]);
			got[i] += (size_t)r;
			done += got[i] == LEN;
		}
	}
	cr_assert_eq(done, N, "%d of %d connections got their 16 KiB back", done, N);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	pump(s, &st.disconnected, N, 30);
	cr_assert_eq(st.disconnected, N);
	rw_tcpserver_free(s);
}

Test(engine, burst_of_1000_connections, .timeout = 120)
{
	static const char *const cfg[] = {"MaxConnections=2000", NULL};
	burst(cfg);
}

Test(engine, burst_of_1000_connections_on_16_buffers, .timeout = 120)
{
	static const char *const cfg[] = {"MaxConnections=2000", "RecvBufferCount=16", NULL};
	burst(cfg);
}

Test(engine, send_zc_byte_exact)
{
	static const char *const cfg[] = {"ZeroCopyThreshold=4096", "SendQueueLimit=262144", NULL};
	struct echo_state st = {0};
	rw_tcpserver *s = start_server(&st, cfg);
	run_echo(s, &st, 8u << 20);
	rw_tcpserver_free(s);
}

Test(engine, shared_loop_serves_two_servers)
{
	rw_loop *loop;
	cr_assert_eq(rw_loop_new(&loop, NULL), 0);
	struct echo_state a = {0}, b = {0};
	rw_tcpserver *sa = rw_tcpserver_new_on_loop(loop), *sb = rw_tcpserver_new_on_loop(loop);
	rw_tcpserver *both[2] = {sa, sb};
	struct echo_state *sts[2] = {&a, &b};
	for (int i = 0; i < 2; i++) {
		rw_tcpserver_set_local_host(both[i], "127.0.0.1");
		rw_tcpserver_set_events(both[i], &echo_events, sts[i]);
		cr_assert_eq(rw_tcpserver_start_listening(both[i]), 0);
	}
	cr_assert_eq(rw_loop_free(loop), -RW_EBAD_STATE, "a loop with servers must refuse to go");
	int fa = connect_to(rw_tcpserver_get_local_port(sa));
	int fb = connect_to(rw_tcpserver_get_local_port(sb));
	for (int i = 0; i < 500 && (a.connected < 1 || b.connected < 1); i++)
		rw_loop_do_events(loop, 20);
	cr_assert_eq(a.connected, 1);
	cr_assert_eq(b.connected, 1);
	close(fa);
	close(fb);
	for (int i = 0; i < 500 && (a.disconnected < 1 || b.disconnected < 1); i++)
		rw_loop_do_events(loop, 20);
	cr_assert_eq(a.disconnected + b.disconnected, 2);
	rw_tcpserver_free(sa);
	rw_tcpserver_free(sb);
	cr_assert_eq(rw_loop_free(loop), 0);
}

Test(engine, idle_connection_heap_cost)
{
	enum { N = 2000 };
	static const char *const cfg[] = {"MaxConnections=4000", NULL};
	struct echo_state st = {0};
	rw_tcpserver *s = start_server(&st, cfg);
	int port = rw_tcpserver_get_local_port(s);
	/* Warm up: one connection in and out, so that lazily built structures
	 * (pools, the loop) are not billed to the measured connections. */
	int warm = connect_to(port);
	pump(s, &st.connected, 1, 10);
	close(warm);
	pump(s, &st.disconnected, 1, 10);
	for (int i = 0; i < 10; i++)
		rw_tcpserver_do_events(s);
	double before = heap_in_use();
	static int fds[N];
	for (int i = 0; i < N; i++) {
		fds[i] = connect_to(port);
		if (i % 64 == 63)
			rw_tcpserver_do_events(s);
	}
	pump(s, &st.connected, N + 1, 30);
	cr_assert_eq(rw_tcpserver_get_connection_count(s), N);
	double per_conn = (heap_in_use() - before) / N;
	cr_log_info("heap per idle connection: %.1f bytes", per_conn);
	cr_assert_leq(per_conn, 200.0, "an idle connection costs %.1f bytes of heap", per_conn);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	pump(s, &st.disconnected, N + 1, 30);
	cr_assert_eq(st.disconnected, N + 1);
	rw_tcpserver_free(s);
}

/* Line mode on and off again: the connection's framer state goes once the
 * next input finds it back in raw mode, so it costs what an idle one does. */
enum { LM_N = 500 };
struct lm_state {
	int connected, data;
	rw_connid ids[LM_N + 1];
};
static void lm_connected(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u)
{
	struct lm_state *st = u;
	if (st->connected <= LM_N)
		st->ids[st->connected] = e->connection_id;
	st->connected++;
}
static void lm_data(rw_tcpserver *s, const rw_tcpserver_data_in *e, void *u)
{
	cr_assert_eq(e->text_len, 1);
	cr_assert(e->eol, "raw mode again: the byte is a whole unit");
	((struct lm_state *)u)->data++;
}

Test(engine, line_mode_state_goes_back_to_raw)
{
	static struct lm_state st;
	rw_tcpserver *s = rw_tcpserver_new();
	cr_assert_eq(rw_tcpserver_set_local_host(s, "127.0.0.1"), 0);
	cr_assert_eq(rw_tcpserver_config(s, "DoEventsTimeout=20", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_config(s, "MaxConnections=1000", NULL, 0), 0);
	rw_tcpserver_set_events(s, &(rw_tcpserver_events){.connected = lm_connected, .data_in = lm_data}, &st);
	cr_assert_eq(rw_tcpserver_set_connection_backlog(s, 1024), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	int port = rw_tcpserver_get_local_port(s);
	static int fds[LM_N];
	for (int i = 0; i < LM_N; i++) {
		fds[i] = connect_to(port);
		if (i % 64 == 63)
			rw_tcpserver_do_events(s);
	}
	pump(s, &st.connected, LM_N, 30);
	cr_assert_eq(st.connected, LM_N);
	double idle = heap_in_use();
	for (int i = 0; i < LM_N; i++)
		cr_assert_eq(rw_tcpserver_set_eol(s, st.ids[i], "\r\n", 2), 0);
	double lines = heap_in_use();
	cr_assert_geq((lines - idle) / LM_N, 64.0, "line mode keeps framer state (%.1f B)", (lines - idle) / LM_N);
	uint8_t eol[4];
	cr_assert_eq(rw_tcpserver_get_eol(s, st.ids[0], eol, sizeof eol), 2);
	cr_assert(!memcmp(eol, "\r\n", 2));
	for (int i = 0; i < LM_N; i++)
		cr_assert_eq(rw_tcpserver_set_eol(s, st.ids[i], NULL, 0), 0);
	for (int i = 0; i < LM_N; i++)
		cr_assert_eq(write(fds[i], "x", 1), 1);
	pump(s, &st.data, LM_N, 30);
	cr_assert_eq(st.data, LM_N);
	double after = heap_in_use();
	cr_log_info("heap per connection: line mode %.1f B more, back to raw %.1f B more", (lines - idle) / LM_N,
	            (after - idle) / LM_N);
	cr_assert_leq((after - idle) / LM_N, 8.0, "back in raw mode a connection keeps %.1f B more",
	              (after - idle) / LM_N);
	cr_assert_eq(rw_tcpserver_get_eol(s, st.ids[0], eol, sizeof eol), 0);
	for (int i = 0; i < LM_N; i++)
		close(fds[i]);
	rw_tcpserver_free(s);
}
