/* tests/dtls/test_dtls_load.c: DTLSServer against a wolfSSL DTLS 1.2 client
 * written here (wolfSSL's own socket I/O, non-blocking, its retransmission
 * timer driven by the client): 1,000 concurrent sessions from one thread
 * while the server runs in another (bounded in count and time); PauseData /
 * ProcessData; a bad record on an established tuple; a client that restarts
 * on the same address and port; IPv6; and a DTLSServer sharing one loop with
 * a TCPServer. */
#include "dtls_test.h"
#include "helpers/rwtest.h"

#include <criterion/criterion.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct wc {
	WOLFSSL *ssl;
	int fd;
	int state; /* 0 idle, 1 handshaking, 2 waiting for the echo, 3 connected, -1 failed */
	double next_to;
	char msg[32];
};

static WOLFSSL_CTX *client_ctx_m(WOLFSSL_METHOD *m)
{
	wolfSSL_Init();
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(m);
	cr_assert_not_null(ctx);
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	return ctx;
}

static WOLFSSL_CTX *client_ctx(void)
{
	wolfSSL_Init();
	return client_ctx_m(wolfDTLSv1_2_client_method());
}

static void wc_open(struct wc *c, WOLFSSL_CTX *ctx, const char *host, int port, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd >= 0 ? fd : dt_udp_socket(host, 0);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len;
	if (strchr(host, ':')) {
		struct sockaddr_in6 *a = (void *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, host, &a->sin6_addr);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (void *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, host, &a->sin_addr);
		len = sizeof(*a);
	}
	c->ssl = wolfSSL_new(ctx);
	cr_assert_not_null(c->ssl);
	wolfSSL_set_fd(c->ssl, c->fd);
	wolfSSL_dtls_set_peer(c->ssl, &ss, len);
	wolfSSL_dtls_set_using_nonblock(c->ssl, 1);
	c->state = 1;
	c->next_to = now_ms() + 1000;
}

/* Drive the handshake: 1 done, 0 not yet, -1 failed. */
static int wc_step(struct wc *c)
{
	if (c->state != 1)
		return c->state < 0 ? -1 : 1;
	int ret = wolfSSL_connect(c->ssl);
	if (ret == WOLFSSL_SUCCESS) {
		c->state = 2;
		return 1;
	}
	int err = wolfSSL_get_error(c->ssl, ret);
	if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE) {
		c->state = -1;
		return -1;
	}
	double t = now_ms();
	if (t >= c->next_to) {
		if (wolfSSL_dtls_got_timeout(c->ssl) != WOLFSSL_SUCCESS) {
			c->state = -1;
			return -1;
		}
		c->next_to = t + 1000.0 * wolfSSL_dtls_get_current_timeout(c->ssl);
	}
	return 0;
}

static int wc_read(struct wc *c, char *buf, int len)
{
	int n = wolfSSL_read(c->ssl, buf, len);
	return n > 0 ? n : -wolfSSL_get_error(c->ssl, n);
}

static void wc_close(struct wc *c, bool notify)
{
	if (notify)
		wolfSSL_shutdown(c->ssl);
	wolfSSL_free(c->ssl);
	close(c->fd);
	c->ssl = NULL;
}

/* Run the server and a single client in this thread until the handshake ends. */
static void handshake_here(rw_dtlsserver *s, struct wc *c)
{
	double end = now_ms() + 10000;
	while (wc_step(c) == 0 && now_ms() < end)
		rw_dtlsserver_do_events(s);
	char o[64] = "";
	rw_dtlsserver_config(s, "HelloVerifyRequestCount", o, sizeof(o));
	cr_assert_eq(c->state, 2, "handshake failed or timed out (HVRs %s, SessionCount %d, dropped %d)", o,
	             dt_config_int(s, "SessionCount"), dt_config_int(s, "DroppedDatagramCount"));
}

static bool read_here(rw_dtlsserver *s, struct wc *c, const char *want)
{
	char buf[256];
	double end = now_ms() + 5000;
	while (now_ms() < end) {
		rw_dtlsserver_do_events(s);
		int n = wc_read(c, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			return strcmp(buf, want) == 0;
		}
	}
	return false;
}

static rw_dtlsserver *server_5ms(struct dt_rec *r, const char *host, const char *extra)
{
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	dt_rec_init(r);
	rw_dtlsserver *s = dt_server(r, pem, host, false);
	cr_assert_eq(rw_dtlsserver_config(s, "DoEventsTimeout=5", NULL, 0), 0);
	if (extra)
		cr_assert_eq(rw_dtlsserver_config(s, extra, NULL, 0), 0);
	int rc = rw_dtlsserver_start_listening(s);
	cr_assert_eq(rc, 0, "%s", rw_strerror(rc));
	return s;
}

/* ---- 1,000 concurrent sessions --------------------------------------------- */

#define LOAD_N 1000
#define LOAD_WINDOW 48
#define LOAD_LIMIT_MS 120000

struct load {
	int port;
	atomic_int phase; /* 1: all connected and echoed; 2: close them; 3: closed */
	atomic_int failed;
	int connected;
	double handshake_ms;
	char why[128];
};

static void *load_client(void *arg)
{
	struct load *L = arg;
	WOLFSSL_CTX *ctx = client_ctx();
	struct wc *c = calloc(LOAD_N, sizeof(*c));
	double t0 = now_ms(), end = t0 + LOAD_LIMIT_MS;
	int started = 0, done = 0, active = 0;
	struct pollfd pfd[LOAD_WINDOW];
	int idx[LOAD_WINDOW];
	while (done < LOAD_N && now_ms() < end && !L->failed) {
		while (active < LOAD_WINDOW && started < LOAD_N) {
			wc_open(&c[started], ctx, "127.0.0.1", L->port, -1);
			snprintf(c[started].msg, sizeof(c[started].msg), "load-%d", started);
			started++;
			active++;
		}
		int np = 0;
		for (int i = 0; i < started && np < LOAD_WINDOW; i++) {
			if (c[i].state == 1 || c[i].state == 2) {
				pfd[np].fd = c[i].fd;
				pfd[np].events = POLLIN;
				idx[np++] = i;
			}
		}
		poll(pfd, (nfds_t)np, 20);
		for (int k = 0; k < np; k++) {
			struct wc *w = &c[idx[k]];
			if (w->state == 1) {
				int r = wc_step(w);
				if (r < 0) {
					snprintf(L->why, sizeof(L->why), "client %d: handshake failed", idx[k]);
					L->failed = 1;
				} else if (r == 1) {
					wolfSSL_write(w->ssl, w->msg, (int)strlen(w->msg));
					w->next_to = now_ms() + 1000;
				}
			} else if (w->state == 2) {
				char buf[64];
				int n = wc_read(w, buf, sizeof(buf) - 1);
				if (n > 0) {
					buf[n] = 0;
					if (strcmp(buf, w->msg) != 0) {
						snprintf(L->why, sizeof(L->why), "client %d: echo '%s'", idx[k], buf);
						L->failed = 1;
					}
					w->state = 3;
					done++;
					active--;
				} else if (now_ms() > w->next_to) { /* the datagram was lost: send again */
					wolfSSL_write(w->ssl, w->msg, (int)strlen(w->msg));
					w->next_to = now_ms() + 1000;
				}
			}
		}
	}
	L->handshake_ms = now_ms() - t0;
	L->connected = done;
	if (done < LOAD_N && !L->failed) {
		snprintf(L->why, sizeof(L->why), "only %d of %d sessions in %d ms", done, LOAD_N, LOAD_LIMIT_MS);
		L->failed = 1;
	}
	L->phase = 1;
	while (L->phase < 2 && now_ms() < end + 30000)
		usleep(1000);
	for (int i = 0; i < started; i++) {
		if (c[i].ssl)
			wc_close(&c[i], c[i].state == 3);
		if (i % 10 == 9)
			usleep(2000); /* let the server's socket buffer drain */
	}
	free(c);
	wolfSSL_CTX_free(ctx);
#if defined(FP_ECC)
	wc_ecc_fp_free(); /* wolfSSL's fixed-point cache is per thread */
#endif
	L->phase = 3;
	return NULL;
}

static bool phase_is(void *ctx)
{
	struct load *L = ctx;
	return L->phase == 1 || L->failed;
}

Test(dtls_load, thousand_concurrent_sessions, .timeout = 240)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	cr_assert_geq(rl.rlim_cur, (rlim_t)LOAD_N + 100, "RLIMIT_NOFILE %ld is too low", (long)rl.rlim_cur);
	struct dt_rec r;
	rw_dtlsserver *s = server_5ms(&r, NULL, "MaxConnections=2000");
	struct load L = {.port = rw_dtlsserver_get_local_port(s)};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, load_client, &L), 0);
	bool ok = dt_pump_until(s, phase_is, &L, LOAD_LIMIT_MS + 5000);
	int count = rw_dtlsserver_get_connection_count(s);
	int ids = rw_dtlsserver_get_connection_ids(s, NULL, 0);
	L.phase = 2;
	struct dt_ge disc = {&r.disconnected, LOAD_N};
	bool closed = dt_pump_until(s, dt_ge, &disc, 15000);
	int by_close_notify = r.disconnected;
	if (!closed) {
		/* close_notify is one unacknowledged datagram: under a slow build
		 * (sanitizers) the socket buffer may drop some. The idle timeout
		 * collects those, each with its own Disconnected. */
		rw_dtlsserver_set_default_idle_timeout(s, 1);
		closed = dt_pump_until(s, dt_ge, &disc, 15000);
	}
	pthread_join(th, NULL);
	cr_assert(ok, "client did not finish");
	cr_assert_not(L.failed, "%s", L.why);
	cr_assert_eq(count, LOAD_N, "ConnectionCount with every client connected");
	cr_assert_eq(ids, LOAD_N);
	cr_assert_eq(r.connected_ok, LOAD_N);
	cr_assert_eq(r.data_events, LOAD_N, "one DataIn per datagram (retransmitted echoes would add)");
	cr_assert(closed, "Disconnected %d of %d (%d by close_notify)", r.disconnected, LOAD_N, by_close_notify);
	cr_assert_gt(by_close_notify, LOAD_N / 2, "most by close_notify (%d)", by_close_notify);
	cr_log_info("%d of %d Disconnected by close_notify, the rest by the idle timeout", by_close_notify, LOAD_N);
	for (int i = 1; i <= LOAD_N; i++)
		cr_assert_eq(r.disc_by_id[i], 1, "id %d: %d Disconnected", i, r.disc_by_id[i]);
	cr_assert_eq(rw_dtlsserver_get_connection_count(s), 0);
	cr_assert_eq(dt_config_int(s, "SessionCount"), 0);
	cr_log_info("%d DTLS sessions handshaken and echoed in %.0f ms", LOAD_N, L.handshake_ms);
	rw_dtlsserver_free(s);
}

/* ---- one client at a time ------------------------------------------------ */

Test(dtls_load, pause_and_process_data, .timeout = 60)
{
	struct dt_rec r;
	rw_dtlsserver *s = server_5ms(&r, NULL, "PausedQueueLimit=8");
	r.echo = false;
	WOLFSSL_CTX *ctx = client_ctx();
	struct wc c;
	wc_open(&c, ctx, "127.0.0.1", rw_dtlsserver_get_local_port(s), -1);
	handshake_here(s, &c);
	cr_assert_eq(rw_dtlsserver_pause_data(s, r.last_id), 0);
	const char *msgs[] = {"one", "two", "three"};
	for (int i = 0; i < 3; i++)
		cr_assert_eq(wolfSSL_write(c.ssl, msgs[i], (int)strlen(msgs[i])), (int)strlen(msgs[i]));
	dt_pump_for(s, 300);
	cr_assert_eq(r.data_events, 0, "no DataIn while paused");
	cr_assert_eq(rw_dtlsserver_process_data(s, r.last_id), 0);
	cr_assert_eq(r.data_events, 0, "ProcessData itself fires nothing");
	struct dt_ge three = {&r.data_events, 3};
	cr_assert(dt_pump_until(s, dt_ge, &three, 3000));
	cr_assert_eq(r.data_len, 11);
	cr_assert_eq(memcmp(r.data, "onetwothree", 11), 0, "in order");
	/* Over the limit while paused: the first 8 are kept, the rest dropped. */
	cr_assert_eq(rw_dtlsserver_pause_data(s, r.last_id), 0);
	for (int i = 0; i < 12; i++)
		wolfSSL_write(c.ssl, "x", 1);
	dt_pump_for(s, 300);
	rw_dtlsserver_process_data(s, r.last_id);
	dt_pump_for(s, 200);
	cr_assert_eq(r.data_events, 3 + 8);
	/* A close_notify while paused takes effect after the queue drains. */
	cr_assert_eq(rw_dtlsserver_pause_data(s, r.last_id), 0);
	wolfSSL_write(c.ssl, "last", 4);
	wc_close(&c, true);
	dt_pump_for(s, 300);
	cr_assert_eq(r.disconnected, 0);
	rw_dtlsserver_process_data(s, r.last_id);
	struct dt_ge disc = {&r.disconnected, 1};
	cr_assert(dt_pump_until(s, dt_ge, &disc, 3000));
	cr_assert_eq(r.data_events, 12);
	cr_assert_eq(r.last_disc_status, 0);
	wolfSSL_CTX_free(ctx);
	rw_dtlsserver_free(s);
}

Test(dtls_load, bad_record_on_an_established_tuple, .timeout = 60)
{
	struct dt_rec r;
	rw_dtlsserver *s = server_5ms(&r, NULL, NULL);
	WOLFSSL_CTX *ctx = client_ctx();
	struct wc c;
	wc_open(&c, ctx, "127.0.0.1", rw_dtlsserver_get_local_port(s), -1);
	handshake_here(s, &c);
	/* Forged epoch-1 records and garbage from the client's own address and
	 * port: they fail authentication and are dropped. */
	uint8_t junk[100];
	memset(junk, 0xa5, sizeof(junk));
	junk[0] = 23; junk[1] = 0xfe; junk[2] = 0xfd; junk[3] = 0; junk[4] = 1;
	junk[11] = 0; junk[12] = 87;
	for (int i = 0; i < 10; i++) {
		junk[10] = (uint8_t)(50 + i);
		dt_send(c.fd, "127.0.0.1", rw_dtlsserver_get_local_port(s), junk, sizeof(junk));
		dt_send(c.fd, "127.0.0.1", rw_dtlsserver_get_local_port(s), "garbage", 7);
	}
	dt_pump_for(s, 200);
	cr_assert_eq(r.data_events, 0);
	cr_assert_eq(r.errors, 0, "forged records are dropped without an Error event");
	/* Larger than a receive buffer (32 KiB): Error 400 for this connection. */
	static uint8_t huge[40000];
	memset(huge, 23, sizeof(huge));
	cr_assert_eq(dt_send(c.fd, "127.0.0.1", rw_dtlsserver_get_local_port(s), huge, sizeof(huge)),
	             (int)sizeof(huge));
	struct dt_ge err = {&r.errors, 1};
	cr_assert(dt_pump_until(s, dt_ge, &err, 2000), "an Error event for the oversized datagram");
	cr_assert_eq(r.last_error, RW_EDTLS_INVALID_DATAGRAM);
	cr_assert_eq(r.last_error_id, r.last_id);
	cr_assert_eq(rw_dtlsserver_get_connection_count(s), 1, "the connection survives: %s", r.last_disc_text);
	wolfSSL_write(c.ssl, "after", 5);
	cr_assert(read_here(s, &c, "after"));
	wc_close(&c, true);
	wolfSSL_CTX_free(ctx);
	rw_dtlsserver_free(s);
}

Test(dtls_load, client_restart_on_the_same_tuple, .timeout = 60)
{
	struct dt_rec r;
	rw_dtlsserver *s = server_5ms(&r, NULL, NULL);
	WOLFSSL_CTX *ctx = client_ctx();
	struct wc a, b;
	wc_open(&a, ctx, "127.0.0.1", rw_dtlsserver_get_local_port(s), -1);
	handshake_here(s, &a);
	rw_connid first = r.last_id;
	/* The client "crashes" (no close_notify) and starts again from the same
	 * socket, so from the same address and port. */
	int fd = a.fd;
	wolfSSL_free(a.ssl);
	wc_open(&b, ctx, "127.0.0.1", rw_dtlsserver_get_local_port(s), fd);
	handshake_here(s, &b);
	dt_pump_for(s, 50);
	cr_assert_neq(r.last_id, first, "a new ConnectionId");
	cr_assert_eq(r.disc_by_id[first], 1, "the old connection ended");
	cr_assert_eq(r.last_disc_status, RW_EDTLS_HANDSHAKE);
	cr_assert_str_eq(r.last_disc_text, "Replaced by a new handshake");
	cr_assert_eq(rw_dtlsserver_get_connection_count(s), 1);
	wolfSSL_write(b.ssl, "again", 5);
	cr_assert(read_here(s, &b, "again"));
	wc_close(&b, true);
	wolfSSL_CTX_free(ctx);
	rw_dtlsserver_free(s);
}

Test(dtls_load, ipv6_loopback_and_dual_stack, .timeout = 60)
{
	if (!rwt_have_ipv6_loopback())
		cr_skip_test("no ::1 here");
	struct dt_rec r;
	rw_dtlsserver *s = server_5ms(&r, "::", "UseIPv6=2");
	int port = rw_dtlsserver_get_local_port(s);
	/* IPv6 through openssl (Debian's wolfSSL socket I/O has no IPv6). */
	char target[64];
	snprintf(target, sizeof(target), "[::1]:%d", port);
	char *argv[] = {"timeout", "20", "openssl", "s_client", "-dtls1_2", "-connect", target, NULL};
	rwt_proc p;
	cr_assert_eq(rwt_proc_spawn(&p, argv, true), 0);
	struct dt_ge conn = {&r.connected_ok, 1};
	cr_assert(dt_pump_until(s, dt_ge, &conn, 15000), "%s", p.out);
	char host[64];
	cr_assert_gt(rw_dtlsserver_get_remote_host(s, r.last_id, host, sizeof(host)), 0);
	cr_assert_str_eq(host, "::1");
	cr_assert_eq(write(p.in_fd, "six-6\n", 6), 6);
	struct dt_ge data = {&r.data_events, 1};
	cr_assert(dt_pump_until(s, dt_ge, &data, 5000), "%s", p.out);
	/* IPv4 on the same dual-stack socket. */
	WOLFSSL_CTX *ctx = client_ctx();
	struct wc c4;
	wc_open(&c4, ctx, "127.0.0.1", port, -1);
	handshake_here(s, &c4);
	cr_assert_gt(rw_dtlsserver_get_remote_host(s, r.last_id, host, sizeof(host)), 0);
	cr_assert_str_eq(host, "127.0.0.1", "an IPv4 peer of a dual-stack socket prints as IPv4");
	wolfSSL_write(c4.ssl, "four", 4);
	cr_assert(read_here(s, &c4, "four"));
	cr_assert_eq(rw_dtlsserver_get_connection_count(s), 2);
	wc_close(&c4, true);
	close(p.in_fd);
	p.in_fd = -1;
	struct dt_ge disc = {&r.disconnected, 2};
	cr_assert(dt_pump_until(s, dt_ge, &disc, 5000));
	rwt_proc_free(&p);
	wolfSSL_CTX_free(ctx);
	rw_dtlsserver_free(s);
}

static void tcp_echo(rw_tcpserver *s, const rw_tcpserver_data_in *e, void *u)
{
	(void)u;
	rw_tcpserver_send(s, e->connection_id, e->text, e->text_len);
}

Test(dtls_load, shares_one_loop_with_a_tcpserver, .timeout = 60)
{
	rw_loop *loop;
	cr_assert_eq(rw_loop_new(&loop, NULL), 0);
	rw_tcpserver *t = rw_tcpserver_new_on_loop(loop);
	rw_tcpserver_set_local_host(t, "127.0.0.1");
	rw_tcpserver_set_events(t, &(rw_tcpserver_events){.data_in = tcp_echo}, NULL);
	cr_assert_eq(rw_tcpserver_start_listening(t), 0);
	struct dt_rec r;
	dt_rec_init(&r);
	rw_dtlsserver *s = rw_dtlsserver_new_on_loop(loop);
	static const rw_dtlsserver_events none = {0};
	rw_dtlsserver_set_events(s, &none, NULL);
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	rw_dtlsserver_set_local_host(s, "127.0.0.1");
	rw_dtlsserver_set_ssl_cert_store(s, pem, strlen(pem));
	cr_assert_eq(rw_dtlsserver_start_listening(s), 0);
	cr_assert_eq(rw_dtlsserver_get_loop(s), loop);
	cr_assert_eq(rw_loop_free(loop), -RW_EBAD_STATE, "servers are still on it");
	/* DTLS echo with the default (no) events: nothing echoes, but the
	 * handshake completes through rw_loop_do_events alone. */
	WOLFSSL_CTX *ctx = client_ctx();
	struct wc c;
	wc_open(&c, ctx, "127.0.0.1", rw_dtlsserver_get_local_port(s), -1);
	double end = now_ms() + 10000;
	while (wc_step(&c) == 0 && now_ms() < end)
		rw_loop_do_events(loop, 5);
	cr_assert_eq(c.state, 2);
	cr_assert_eq(rw_dtlsserver_get_connection_count(s), 1);
	int fd = rwt_connect("127.0.0.1", rw_tcpserver_get_local_port(t), 3000);
	cr_assert_geq(fd, 0);
	cr_assert_eq(rwt_send_all(fd, "tcp", 3), 0);
	char buf[4] = {0};
	end = now_ms() + 5000;
	ssize_t got = 0;
	while (got < 3 && now_ms() < end) {
		rw_loop_do_events(loop, 5);
		ssize_t n = recv(fd, buf + got, (size_t)(3 - got), MSG_DONTWAIT);
		if (n > 0)
			got += n;
	}
	cr_assert_eq(got, 3);
	cr_assert_eq(memcmp(buf, "tcp", 3), 0);
	close(fd);
	wc_close(&c, true);
	wolfSSL_CTX_free(ctx);
	rw_dtlsserver_free(s);
	rw_tcpserver_free(t);
	cr_assert_eq(rw_loop_free(loop), 0);
}

#if defined(WOLFSSL_DTLS13)
/* The tuned wolfSSL: a DTLS 1.3 client goes through wolfSSL's stateless
 * HelloRetryRequest cookie, a DTLS 1.2 client through ours, on one server. */
Test(dtls_load, dtls13_and_dtls12_clients, .timeout = 60)
{
	struct dt_rec r;
	rw_dtlsserver *s = server_5ms(&r, NULL, "SSLEnabledProtocols=15360");
	int port = rw_dtlsserver_get_local_port(s);
	WOLFSSL_CTX *ctx13 = client_ctx_m(wolfDTLSv1_3_client_method());
	struct wc c;
	wc_open(&c, ctx13, "127.0.0.1", port, -1);
	handshake_here(s, &c);
	cr_assert_str_eq(wolfSSL_get_version(c.ssl), "DTLSv1.3");
	char v[64];
	cr_assert_gt(rw_dtlsserver_config(s, "SSLNegotiatedVersion[1]", v, sizeof(v)), 0);
	cr_assert_str_eq(v, "DTLSv1.3");
	cr_assert_eq(r.requests, 1);
	cr_assert_str_eq(r.order, "RC");
	wolfSSL_write(c.ssl, "thirteen", 8);
	cr_assert(read_here(s, &c, "thirteen"));
	WOLFSSL_CTX *ctx12 = client_ctx();
	struct wc d;
	wc_open(&d, ctx12, "127.0.0.1", port, -1);
	handshake_here(s, &d);
	cr_assert_str_eq(wolfSSL_get_version(d.ssl), "DTLSv1.2");
	wolfSSL_write(d.ssl, "twelve", 6);
	cr_assert(read_here(s, &d, "twelve"));
	cr_assert_eq(rw_dtlsserver_get_connection_count(s), 2);
	wc_close(&c, true);
	wc_close(&d, true);
	struct dt_ge disc = {&r.disconnected, 2};
	cr_assert(dt_pump_until(s, dt_ge, &disc, 5000), "Disconnected %d", r.disconnected);
	cr_assert_eq(r.last_disc_status, 0);
	wolfSSL_CTX_free(ctx13);
	wolfSSL_CTX_free(ctx12);
	rw_dtlsserver_free(s);
}

#if defined(WOLFSSL_DTLS_CID)
/* Connection IDs: the client moves to a new source port (a NAT rebinding);
 * its records carry the server's CID and the connection follows it. */
Test(dtls_load, connection_id_survives_a_new_source_port, .timeout = 60)
{
	struct dt_rec r;
	rw_dtlsserver *s = server_5ms(&r, NULL, "SSLEnabledProtocols=15360");
	cr_assert_eq(rw_dtlsserver_config(s, "UseConnectionID=True", NULL, 0), -RW_EBAD_STATE, "fixed while listening");
	rw_dtlsserver_free(s);
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	dt_rec_init(&r);
	s = dt_server(&r, pem, NULL, false);
	cr_assert_eq(rw_dtlsserver_config(s, "SSLEnabledProtocols=15360", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_config(s, "UseConnectionID=True", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_config(s, "DoEventsTimeout=5", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_start_listening(s), 0);
	int port = rw_dtlsserver_get_local_port(s);
	WOLFSSL_CTX *ctx13 = client_ctx_m(wolfDTLSv1_3_client_method());
	struct wc c;
	wc_open(&c, ctx13, "127.0.0.1", port, -1);
	cr_assert_eq(wolfSSL_dtls_cid_use(c.ssl), WOLFSSL_SUCCESS);
	unsigned char mine[2] = {7, 9}; /* the CID the client wants to receive */
	cr_assert_eq(wolfSSL_dtls_cid_set(c.ssl, mine, sizeof(mine)), WOLFSSL_SUCCESS);
	handshake_here(s, &c);
	cr_assert_eq(wolfSSL_dtls_cid_is_enabled(c.ssl), 1, "the CID was negotiated");
	wolfSSL_write(c.ssl, "before", 6);
	cr_assert(read_here(s, &c, "before"));
	int before = rw_dtlsserver_get_remote_port(s, r.last_id);
	/* The rebinding: the same session, a new socket (new port). */
	int fd2 = dt_udp_socket("127.0.0.1", 0);
	wolfSSL_set_fd(c.ssl, fd2);
	close(c.fd);
	c.fd = fd2;
	wolfSSL_write(c.ssl, "moved", 5);
	bool moved = read_here(s, &c, "moved");
	cr_assert(moved, "the echo reached the new port (DataIn %d, dropped %d, port %d)", r.data_events,
	          dt_config_int(s, "DroppedDatagramCount"), rw_dtlsserver_get_remote_port(s, r.last_id));
	int after = rw_dtlsserver_get_remote_port(s, r.last_id);
	cr_assert_neq(after, before, "RemotePort follows the peer (%d)", after);
	cr_assert_eq(rw_dtlsserver_get_connection_count(s), 1);
	cr_assert_eq(r.connected_ok, 1);
	/* A forged CID record from yet another port moves nothing. */
	int fd3 = dt_udp_socket("127.0.0.1", 0);
	uint8_t forged[64];
	memset(forged, 0x5a, sizeof(forged));
	forged[0] = 0x3f; /* unified header, C, S, L, epoch 3 */
	dt_send(fd3, "127.0.0.1", port, forged, sizeof(forged));
	dt_pump_for(s, 100);
	cr_assert_eq(rw_dtlsserver_get_remote_port(s, r.last_id), after);
	close(fd3);
	wc_close(&c, true);
	wolfSSL_CTX_free(ctx13);
	rw_dtlsserver_free(s);
}
#endif

/* A DTLS 1.3 ClientHello without a cookie leaves nothing behind either. */
Test(dtls_load, dtls13_hello_without_cookie_keeps_no_state, .timeout = 30)
{
	struct dt_rec r;
	rw_dtlsserver *s = server_5ms(&r, NULL, "SSLEnabledProtocols=15360");
	int port = rw_dtlsserver_get_local_port(s);
	WOLFSSL_CTX *ctx13 = client_ctx_m(wolfDTLSv1_3_client_method());
	struct wc c[20];
	for (int i = 0; i < 20; i++) {
		wc_open(&c[i], ctx13, "127.0.0.1", port, -1);
		wc_step(&c[i]); /* sends the first ClientHello only */
	}
	dt_pump_for(s, 300);
	cr_assert_eq(dt_config_int(s, "SessionCount"), 0);
	cr_assert_geq(dt_config_int(s, "HelloVerifyRequestCount"), 20, "counted with the HelloRetryRequests");
	uint8_t hrr[2048];
	ssize_t hn = recv(c[0].fd, hrr, sizeof(hrr), MSG_PEEK | MSG_DONTWAIT);
	cr_assert_gt(hn, 0, "a HelloRetryRequest came back");
	cr_log_info("DTLS 1.3 HelloRetryRequest: %zd bytes", hn);
	cr_assert_eq(r.order_len, 0u);
	for (int i = 0; i < 20; i++)
		wc_close(&c[i], false);
	wolfSSL_CTX_free(ctx13);
	rw_dtlsserver_free(s);
}
#endif

Test(dtls_load, stop_listening_shutdown_and_rebind, .timeout = 60)
{
	struct dt_rec r;
	rw_dtlsserver *s = server_5ms(&r, NULL, NULL);
	int port = rw_dtlsserver_get_local_port(s);
	WOLFSSL_CTX *ctx = client_ctx();
	struct wc a, b;
	wc_open(&a, ctx, "127.0.0.1", port, -1);
	handshake_here(s, &a);
	cr_assert_eq(rw_dtlsserver_stop_listening(s), 0);
	cr_assert_not(rw_dtlsserver_get_listening(s));
	/* A new peer is not answered; the existing one still echoes. */
	wc_open(&b, ctx, "127.0.0.1", port, -1);
	double end = now_ms() + 1500;
	while (now_ms() < end && wc_step(&b) == 0)
		rw_dtlsserver_do_events(s);
	cr_assert_eq(b.state, 1, "no handshake while not listening");
	cr_assert_eq(dt_config_int(s, "SessionCount"), 1);
	wolfSSL_write(a.ssl, "still", 5);
	cr_assert(read_here(s, &a, "still"));
	/* Listening again on the same socket: the waiting client gets through. */
	cr_assert_eq(rw_dtlsserver_start_listening(s), 0);
	cr_assert_eq(rw_dtlsserver_get_local_port(s), port);
	handshake_here(s, &b);
	cr_assert_eq(rw_dtlsserver_get_connection_count(s), 2);
	/* Shutdown: both get close_notify and Disconnected(0); run() returns. */
	cr_assert_eq(rw_dtlsserver_shutdown(s), 0);
	cr_assert_eq(r.disconnected, 0, "no event inside shutdown()");
	cr_assert_eq(rw_dtlsserver_run(s), 0);
	cr_assert_eq(r.disconnected, 2);
	cr_assert_eq(r.last_disc_status, 0);
	char buf[16];
	int got = -1;
	for (int i = 0; i < 100 && got != -WOLFSSL_ERROR_ZERO_RETURN; i++) {
		got = wc_read(&a, buf, sizeof(buf));
		usleep(5000);
	}
	cr_assert_eq(got, -WOLFSSL_ERROR_ZERO_RETURN, "the client saw close_notify (%d)", got);
	/* The port is free again at once. */
	struct dt_rec r2;
	rw_dtlsserver *s2 = server_5ms(&r2, NULL, NULL);
	rw_dtlsserver_free(s2);
	rw_dtlsserver *s3 = rw_dtlsserver_new();
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	rw_dtlsserver_set_local_host(s3, "127.0.0.1");
	rw_dtlsserver_set_local_port(s3, port);
	rw_dtlsserver_set_ssl_cert_store(s3, pem, strlen(pem));
	int rc = rw_dtlsserver_start_listening(s3);
	cr_assert_eq(rc, 0, "re-binding port %d after Shutdown: %s", port, rw_strerror(rc));
	rw_dtlsserver_free(s3);
	wc_close(&a, false);
	wc_close(&b, false);
	wolfSSL_CTX_free(ctx);
	rw_dtlsserver_free(s);
}

Test(dtls_load, pfx_certificate_and_blocked_clients, .timeout = 60)
{
	const char *d = dt_certs();
	char cmd[1024], pfx[256];
	snprintf(pfx, sizeof(pfx), "%s/server.pfx", d);
	snprintf(cmd, sizeof(cmd), "openssl pkcs12 -export -in %s/server.pem -out %s -passout pass:s3cret >/dev/null 2>&1",
	         d, pfx);
	cr_assert_eq(system(cmd), 0);
	struct dt_rec r;
	dt_rec_init(&r);
	rw_dtlsserver *s = dt_server(&r, NULL, NULL, false);
	cr_assert_eq(rw_dtlsserver_set_ssl_cert_store_type(s, RW_CERT_PFX_FILE), 0);
	cr_assert_eq(rw_dtlsserver_set_ssl_cert_store(s, pfx, strlen(pfx)), 0);
	cr_assert_eq(rw_dtlsserver_set_ssl_cert_store_password(s, "wrong"), 0);
	cr_assert_eq(rw_dtlsserver_start_listening(s), -RW_ESSL_CERT_STORE);
	cr_assert_eq(rw_dtlsserver_set_ssl_cert_store_password(s, "s3cret"), 0);
	cr_assert_eq(rw_dtlsserver_config(s, "DoEventsTimeout=5", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_start_listening(s), 0);
	char subject[256];
	cr_assert_gt(rw_dtlsserver_get_ssl_cert_subject(s, subject, sizeof(subject)), 0);
	cr_assert(strstr(subject, "CN=localhost"), "%s", subject);
	WOLFSSL_CTX *ctx = client_ctx();
	struct wc c;
	wc_open(&c, ctx, "127.0.0.1", rw_dtlsserver_get_local_port(s), -1);
	handshake_here(s, &c);
	wc_close(&c, true);
	/* BlockedClients presets accept = false: no session, an alert. */
	cr_assert_eq(rw_dtlsserver_config(s, "BlockedClients=127.0.0.0/8", NULL, 0), 0);
	wc_open(&c, ctx, "127.0.0.1", rw_dtlsserver_get_local_port(s), -1);
	double end = now_ms() + 3000;
	while (now_ms() < end && wc_step(&c) == 0)
		rw_dtlsserver_do_events(s);
	cr_assert_eq(c.state, -1, "the client got a fatal alert");
	cr_assert_eq(r.requests, 2);
	cr_assert_eq(r.connected_ok, 1);
	wc_close(&c, false);
	wolfSSL_CTX_free(ctx);
	rw_dtlsserver_free(s);
}
