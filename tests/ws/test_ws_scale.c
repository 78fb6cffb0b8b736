/* tests/ws/test_ws_scale.c: 10,000 concurrent WebSocket connections. Every
 * client connects, completes the opening handshake (101 with the right
 * Sec-WebSocket-Accept), sends one distinct masked text message and gets
 * exactly that message back; once all 10,000 are open at the same time, each
 * one runs the close handshake (Close 1000 answered with Close 1000, then the
 * server closes TCP). The server side counts one Connected and one
 * Disconnected (status 1000) per id.
 *
 * The clients are one C thread with non-blocking sockets and epoll (bounded
 * connects in flight); the process stays under RLIMIT_NOFILE (20,000 here):
 * the server side uses io_uring fixed files. Every wait is bounded. */
#include "wstest.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

TestSuite(ws_scale, .timeout = 170);

#define NCONN 10000
#define MSGLEN 32
#define HEAD_MAX 256
#define INFLIGHT 512
#define ECHO_LEN (2 + MSGLEN)   /* server frame: unmasked, 7-bit length */
#define CLOSE_LEN 4             /* Close with code 1000, no reason */

enum { C_CONNECTING = 1, C_HANDSHAKE, C_ECHO, C_ECHOED, C_CLOSING, C_CLOSED };

struct client {
	int fd;
	uint8_t state;
	uint16_t got;
	char in[HEAD_MAX];
};

struct many {
	struct client c[NCONN];
	atomic_int opened, echoed, closed;
};

static void msg_for(int i, char out[MSGLEN + 1])
{
	uint8_t r[8];
	rwt_pattern(6455, (uint64_t)i * 8, r, 8);
	snprintf(out, MSGLEN + 1, "ws%05d:%02x%02x%02x%02x%02x%02x%02x%02x:", i, r[0], r[1], r[2], r[3], r[4], r[5],
	         r[6], r[7]);
	size_t n = strlen(out); /* fixed length: pad */
	memset(out + n, '.', MSGLEN - n);
	out[MSGLEN] = 0;
}

/* A masked client frame (mask key from i, so every client masks differently). */
static size_t client_frame(int i, uint8_t b0, const uint8_t *p, size_t n, uint8_t *out)
{
	uint8_t key[4] = {(uint8_t)i, (uint8_t)(i >> 8), 0x5a, 0xa5};
	out[0] = b0;
	out[1] = (uint8_t)(0x80 | n);
	memcpy(out + 2, key, 4);
	for (size_t k = 0; k < n; k++)
		out[6 + k] = p[k] ^ key[k % 4];
	return 6 + n;
}

static bool send_all(int fd, const void *d, size_t n)
{
	/* Small writes to a fresh socket: the kernel takes them whole. */
	return send(fd, d, n, MSG_NOSIGNAL) == (ssize_t)n;
}

static int open_one(rwt_thread *t, struct many *m, int ep, int i)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rwt_fail(t, "socket %d: %s", i, strerror(errno));
		return -1;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
		rwt_fail(t, "connect %d: %s", i, strerror(errno));
		close(fd);
		return -1;
	}
	m->c[i].fd = fd;
	m->c[i].state = C_CONNECTING;
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)i};
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

/* Bytes arrived for client i; false (with the error recorded) on a mismatch. */
static bool client_input(rwt_thread *t, struct many *m, int ep, int i)
{
	struct client *c = &m->c[i];
	size_t want = c->state == C_HANDSHAKE ? HEAD_MAX - 1 : c->state == C_ECHO ? ECHO_LEN : CLOSE_LEN;
	if (c->state == C_ECHOED) {
		/* Nothing may come while all are open. */
		char x;
		ssize_t r = recv(c->fd, &x, 1, MSG_PEEK);
		if (r < 0 && errno == EAGAIN)
			return true;
		rwt_fail(t, "connection %d: unexpected %s while idle", i, r == 0 ? "EOF" : "bytes");
		return false;
	}
	if (c->state == C_CLOSING && c->got == CLOSE_LEN) {
		char x;
		ssize_t r = recv(c->fd, &x, 1, 0);
		if (r < 0 && errno == EAGAIN)
			return true;
		if (r != 0) {
			rwt_fail(t, "connection %d: bytes after the Close", i);
			return false;
		}
		c->state = C_CLOSED;
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		atomic_fetch_add(&m->closed, 1);
		return true;
	}
	/* The handshake is read up to its end only: the peek finds the blank line. */
	ssize_t r = c->state == C_HANDSHAKE ? recv(c->fd, c->in + c->got, want - c->got, MSG_PEEK)
	                                    : recv(c->fd, c->in + c->got, want - c->got, 0);
	if (r < 0 && errno == EAGAIN)
		return true;
	if (r <= 0) {
		rwt_fail(t, "connection %d (state %d): %s", i, c->state, r == 0 ? "EOF" : strerror(errno));
		return false;
	}
	if (c->state == C_HANDSHAKE) {
		c->in[c->got + r] = 0;
		char *end = strstr(c->in, "\r\n\r\n");
		if (!end) {
			if (recv(c->fd, c->in + c->got, (size_t)r, 0) != r) { /* take the peeked bytes */
				rwt_fail(t, "connection %d: recv after peek", i);
				return false;
			}
			c->got = (uint16_t)(c->got + r);
			if (c->got >= HEAD_MAX - 1) {
				rwt_fail(t, "connection %d: no end of the response head in %d bytes", i, HEAD_MAX);
				return false;
			}
			return true;
		}
		size_t head = (size_t)(end + 4 - c->in) - c->got;
		if (recv(c->fd, c->in + c->got, head, 0) != (ssize_t)head) {
			rwt_fail(t, "connection %d: recv after peek", i);
			return false;
		}
		if (strncmp(c->in, "HTTP/1.1 101 ", 13) ||
		    !strstr(c->in, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")) {
			rwt_fail(t, "connection %d: handshake response: %.200s", i, c->in);
			return false;
		}
		char msg[MSGLEN + 1];
		uint8_t f[6 + MSGLEN];
		msg_for(i, msg);
		if (!send_all(c->fd, f, client_frame(i, 0x81, (const uint8_t *)msg, MSGLEN, f))) {
			rwt_fail(t, "connection %d: send: %s", i, strerror(errno));
			return false;
		}
		c->state = C_ECHO;
		c->got = 0;
		return true;
	}
	c->got = (uint16_t)(c->got + r);
	if (c->got < want)
		return true;
	if (c->state == C_ECHO) {
		char msg[MSGLEN + 1];
		msg_for(i, msg);
		if ((uint8_t)c->in[0] != 0x81 || c->in[1] != MSGLEN || memcmp(c->in + 2, msg, MSGLEN)) {
			rwt_fail(t, "connection %d: echo is not its own message: %02x %02x %.32s", i, (uint8_t)c->in[0],
			         (uint8_t)c->in[1], c->in + 2);
			return false;
		}
		c->state = C_ECHOED;
		c->got = 0;
		atomic_fetch_add(&m->echoed, 1);
		return true;
	}
	/* C_CLOSING: the server's Close echoes our code. */
	if ((uint8_t)c->in[0] != 0x88 || c->in[1] != 2 || (uint8_t)c->in[2] != 0x03 || (uint8_t)c->in[3] != 0xe8) {
		rwt_fail(t, "connection %d: close answer %02x %02x %02x %02x", i, (uint8_t)c->in[0], (uint8_t)c->in[1],
		         (uint8_t)c->in[2], (uint8_t)c->in[3]);
		return false;
	}
	return client_input(t, m, ep, i); /* EOF may be here already */
}

static bool poll_once(rwt_thread *t, struct many *m, int ep)
{
	static const char req[] =
		"GET /scale HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
	struct epoll_event evs[512];
	int n = epoll_wait(ep, evs, 512, 100);
	for (int k = 0; k < n; k++) {
		int i = (int)evs[k].data.u32;
		struct client *c = &m->c[i];
		if (c->state == C_CONNECTING) {
			if (!(evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
				continue;
			int err = 0;
			socklen_t el = sizeof(err);
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err || !send_all(c->fd, req, sizeof(req) - 1)) {
				rwt_fail(t, "connect/upgrade %d: %s", i, strerror(err ? err : errno));
				return false;
			}
			c->state = C_HANDSHAKE;
			atomic_fetch_add(&m->opened, 1);
			struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			continue;
		}
		if (c->state != C_CLOSED && !client_input(t, m, ep, i))
			return false;
	}
	return true;
}

static void many_client(rwt_thread *t)
{
	struct many *m = t->arg;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int next = 0;
	double end = rwt_now_ms() + 120000;
	while (atomic_load(&m->echoed) < NCONN) {
		if (rwt_now_ms() > end) {
			rwt_fail(t, "timeout: %d connected, %d handshaken and echoed", atomic_load(&m->opened),
			         atomic_load(&m->echoed));
			goto out;
		}
		/* A bounded number of clients between connect and echo. */
		while (next < NCONN && next - atomic_load(&m->echoed) < INFLIGHT) {
			if (open_one(t, m, ep, next) < 0)
				goto out;
			next++;
		}
		if (!poll_once(t, m, ep))
			goto out;
	}
	/* All are open and echoed: let the main thread look, then close each. */
	atomic_store(&t->flag, 1);
	if (!rwt_thread_wait_go(t, 60000)) {
		rwt_fail(t, "no go to close");
		goto out;
	}
	static const uint8_t code[2] = {0x03, 0xe8};
	for (int i = 0; i < NCONN; i++) {
		uint8_t f[8];
		if (!send_all(m->c[i].fd, f, client_frame(i, 0x88, code, 2, f))) {
			rwt_fail(t, "connection %d: send Close: %s", i, strerror(errno));
			goto out;
		}
		m->c[i].state = C_CLOSING;
		m->c[i].got = 0;
	}
	end = rwt_now_ms() + 60000;
	while (atomic_load(&m->closed) < NCONN) {
		if (rwt_now_ms() > end) {
			rwt_fail(t, "timeout: %d of %d closed", atomic_load(&m->closed), NCONN);
			goto out;
		}
		if (!poll_once(t, m, ep))
			goto out;
	}
out:
	for (int i = 0; i < NCONN; i++)
		if (m->c[i].state && m->c[i].state != C_CLOSED)
			close(m->c[i].fd);
	close(ep);
}

/* Server side: echo, and one Connected / Disconnected per id (the ids are
 * collected and compared at the end). */
struct srv {
	rw_connid *connected, *disc;
	int cap;
	int n_connected, n_disc, disc_1000, bad;
	char first_bad[200];
};

static int cmp_id(const void *a, const void *b)
{
	rw_connid x = *(const rw_connid *)a, y = *(const rw_connid *)b;
	return x < y ? -1 : x > y;
}

static void note_bad(struct srv *v, const char *what, rw_connid id, int code)
{
	if (!v->bad++)
		snprintf(v->first_bad, sizeof(v->first_bad), "%s (id %lld, code %d)", what, (long long)id, code);
}

static void s_connected(rw_wsserver *s, const rw_wsserver_connected *e, void *u)
{
	(void)s;
	struct srv *v = u;
	if (v->n_connected < v->cap)
		v->connected[v->n_connected] = e->connection_id;
	v->n_connected++;
}

static void s_data(rw_wsserver *s, const rw_wsserver_data_in *e, void *u)
{
	struct srv *v = u;
	if (e->data_format != RW_WS_FORMAT_TEXT || !e->eom || e->text_len != MSGLEN)
		note_bad(v, "DataIn is not one whole text message", e->connection_id, e->data_format);
	int rc = rw_wsserver_send_text_n(s, e->connection_id, (const char *)e->text, e->text_len);
	if (rc < 0)
		note_bad(v, "echo send failed", e->connection_id, rc);
}

static void s_disc(rw_wsserver *s, const rw_wsserver_disconnected *e, void *u)
{
	(void)s;
	struct srv *v = u;
	if (v->n_disc < v->cap)
		v->disc[v->n_disc] = e->connection_id;
	v->n_disc++;
	if (e->status_code == 1000)
		v->disc_1000++;
}

static void s_error(rw_wsserver *s, const rw_wsserver_error *e, void *u)
{
	(void)s;
	note_bad(u, e->description, e->connection_id, e->error_code);
}

static bool flag_or_done(void *p)
{
	rwt_thread *t = p;
	return atomic_load(&t->flag) || rwt_thread_done(t);
}

Test(ws_scale, ten_thousand_websockets_handshake_echo_close)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	cr_assert(rl.rlim_cur >= NCONN + 200, "RLIMIT_NOFILE %llu is too small for %d client sockets",
	          (unsigned long long)rl.rlim_cur, NCONN);
	struct srv v = {.cap = NCONN + 100};
	v.connected = calloc((size_t)v.cap, sizeof(rw_connid));
	v.disc = calloc((size_t)v.cap, sizeof(rw_connid));
	static const rw_wsserver_events ev = {
		.connected = s_connected, .data_in = s_data, .disconnected = s_disc, .error = s_error};
	rw_wsserver *s = rw_wsserver_new();
	cr_assert_not_null(s);
	rw_wsserver_set_events(s, &ev, &v);
	cr_assert_eq(rw_wsserver_set_local_host(s, "127.0.0.1"), 0);
	cr_assert_eq(rw_wsserver_set_connection_backlog(s, 4096), 0);
	wst_cfg(s, "MaxConnections=12000");
	wst_cfg(s, "DoEventsTimeout=20");
	cr_assert_eq(rw_wsserver_start_listening(s), 0);

	struct many *m = calloc(1, sizeof(*m));
	rwt_thread t = {.port = rw_wsserver_get_local_port(s)};
	double t0 = rwt_now_ms();
	rwt_thread_start(&t, many_client, m);
	bool ok = wst_pump_until(s, flag_or_done, &t, 130000);
	double dt = rwt_now_ms() - t0;
	if (!ok || !atomic_load(&t.flag)) {
		rwt_thread_go(&t);
		wst_pump_until(s, rwt_thread_done, &t, 10000);
		rwt_thread_join(&t);
		cr_assert_fail("clients did not finish: %s (connected %d, echoed %d; server Connected %d, %s)", t.err,
		               atomic_load(&m->opened), atomic_load(&m->echoed), v.n_connected, v.first_bad);
	}
	cr_expect_eq(v.bad, 0, "%d problems, first: %s", v.bad, v.first_bad);
	cr_expect_eq(v.n_connected, NCONN);
	cr_expect_eq(rw_wsserver_get_connection_count(s), NCONN, "all %d open at once", NCONN);
	char out[32];
	cr_expect_eq(rw_wsserver_config(s, "RejectedConnectionCount", out, sizeof(out)), 1);
	cr_expect_str_eq(out, "0");
	cr_log_info("%d WebSocket connections handshaken and echoed in %.0f ms", NCONN, dt);

	rwt_thread_go(&t);
	wst_pump_until(s, rwt_thread_done, &t, 70000);
	rwt_thread_join(&t);
	cr_assert(t.err[0] == 0, "client thread: %s", t.err);
	double t1 = rwt_now_ms();
	while (v.n_disc < NCONN && rwt_now_ms() - t1 < 30000)
		rw_wsserver_do_events(s);
	cr_expect_eq(v.bad, 0, "%d problems, first: %s", v.bad, v.first_bad);
	cr_expect_eq(v.n_disc, NCONN);
	cr_expect_eq(v.disc_1000, NCONN, "every close handshake ends with the client's code 1000");
	cr_expect_eq(rw_wsserver_get_connection_count(s), 0);
	/* One Connected and one Disconnected per id, ids distinct. */
	cr_assert_eq(v.n_connected, NCONN);
	cr_assert_eq(v.n_disc, NCONN);
	qsort(v.connected, NCONN, sizeof(rw_connid), cmp_id);
	qsort(v.disc, NCONN, sizeof(rw_connid), cmp_id);
	for (int i = 0; i < NCONN; i++) {
		cr_assert(v.connected[i] > 0 && (i == 0 || v.connected[i] != v.connected[i - 1]),
		          "ids are distinct and valid");
		cr_assert_eq(v.connected[i], v.disc[i], "the same ids connected and disconnected");
	}
	rw_wsserver_free(s);
	free(m);
	free(v.connected);
	free(v.disc);
}
