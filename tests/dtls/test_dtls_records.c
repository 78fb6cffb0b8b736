/* tests/dtls/test_dtls_records.c: DTLSServer and the records of an
 * established session, with a wolfSSL DTLS 1.2 client whose send callback can
 * hold datagrams back and keep copies: a replayed record is not delivered
 * again, records sent out of order are each delivered once (DTLS has no
 * ordering), and the session keeps serving; the cookie secret rotates
 * (CookieSecretLifetime): a cookie of the previous secret is still honoured,
 * one two secrets old is answered with a fresh HelloVerifyRequest; SSLStatus
 * reports the handshake's progress; Config MTU bounds the records. */
#include "dtls_test.h"
#include "helpers/rwtest.h"

#include <criterion/criterion.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct cl {
	struct dt_client dc;
	bool hold;              /* keep the next datagrams instead of sending them */
	uint8_t held[4][512];
	size_t held_len[4], nheld;
	uint8_t last[512];      /* a copy of the last datagram sent */
	size_t last_len;
};

static int cl_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	(void)ssl;
	struct cl *c = ctx;
	if ((size_t)sz <= sizeof(c->last)) {
		memcpy(c->last, buf, (size_t)sz);
		c->last_len = (size_t)sz;
	}
	if (c->hold && c->nheld < 4 && (size_t)sz <= sizeof(c->held[0])) {
		memcpy(c->held[c->nheld], buf, (size_t)sz);
		c->held_len[c->nheld++] = (size_t)sz;
		return sz;
	}
	ssize_t n = sendto(c->dc.fd, buf, (size_t)sz, 0, (struct sockaddr *)&c->dc.peer, sizeof(c->dc.peer));
	return n < 0 ? WOLFSSL_CBIO_ERR_GENERAL : (int)n;
}

static void cl_open(struct cl *c, int port)
{
	memset(c, 0, sizeof(*c));
	dt_client_open(&c->dc, port, NULL);
	wolfSSL_SSLSetIOSend(c->dc.ssl, cl_send);
	wolfSSL_SetIOWriteCtx(c->dc.ssl, c);
}

static void cl_handshake(rw_dtlsserver *s, struct cl *c)
{
	cr_assert(dt_client_handshake(s, &c->dc), "handshake failed or timed out");
}

/* The echoes that come back within ms, concatenated into out. */
static size_t cl_echoes(rw_dtlsserver *s, struct cl *c, char *out, size_t cap, int ms)
{
	size_t o = 0;
	double end = dt_now_ms() + ms;
	while (dt_now_ms() < end) {
		rw_dtlsserver_do_events(s);
		int n = wolfSSL_read(c->dc.ssl, out + o, (int)(cap - o - 1));
		if (n > 0)
			o += (size_t)n;
	}
	out[o] = 0;
	return o;
}

static rw_dtlsserver *server(struct dt_rec *r, const char *setting)
{
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	dt_rec_init(r);
	r->echo = true;
	rw_dtlsserver *s = dt_server(r, pem, NULL, false);
	cr_assert_eq(rw_dtlsserver_config(s, "DoEventsTimeout=5", NULL, 0), 0);
	if (setting)
		cr_assert_eq(rw_dtlsserver_config(s, setting, NULL, 0), 0, "%s", setting);
	int rc = rw_dtlsserver_start_listening(s);
	cr_assert_eq(rc, 0, "start_listening: %s", rw_strerror(rc));
	return s;
}

Test(dtls_records, replayed_and_reordered_records, .timeout = 60)
{
	struct dt_rec r;
	rw_dtlsserver *s = server(&r, NULL);
	struct cl c;
	cl_open(&c, rw_dtlsserver_get_local_port(s));
	cl_handshake(s, &c);
	char got[256];

	cr_assert_eq(wolfSSL_write(c.dc.ssl, "first", 5), 5);
	cr_assert_eq(cl_echoes(s, &c, got, sizeof(got), 300), 5u);
	cr_assert_str_eq(got, "first");
	cr_assert_eq(r.data_events, 1);

	/* The same datagram again: inside the replay window, so dropped. */
	uint8_t replay[512];
	size_t replay_len = c.last_len;
	memcpy(replay, c.last, replay_len);
	cr_assert_eq(sendto(c.dc.fd, replay, replay_len, 0, (struct sockaddr *)&c.dc.peer, sizeof(c.dc.peer)),
	             (ssize_t)replay_len);
	cr_assert_eq(cl_echoes(s, &c, got, sizeof(got), 300), 0u, "a replayed record was echoed: '%s'", got);
	cr_assert_eq(r.data_events, 1, "a replayed record gave DataIn");

	/* Two records held back, then sent in the opposite order: each is
	 * delivered once, in the order it arrived. */
	c.hold = true;
	cr_assert_eq(wolfSSL_write(c.dc.ssl, "second", 6), 6);
	cr_assert_eq(wolfSSL_write(c.dc.ssl, "third", 5), 5);
	c.hold = false;
	cr_assert_eq(c.nheld, 2u);
	for (int i = 1; i >= 0; i--)
		cr_assert_eq(sendto(c.dc.fd, c.held[i], c.held_len[i], 0, (struct sockaddr *)&c.dc.peer, sizeof(c.dc.peer)),
		             (ssize_t)c.held_len[i]);
	cr_assert_eq(cl_echoes(s, &c, got, sizeof(got), 500), 11u);
	cr_assert_str_eq(got, "thirdsecond");
	cr_assert_eq(r.data_events, 3);
	cr_assert_eq(memcmp(r.data, "firstthirdsecond", 16), 0);

	/* Replays of both (and of the first) change nothing. */
	for (int i = 0; i < 2; i++)
		sendto(c.dc.fd, c.held[i], c.held_len[i], 0, (struct sockaddr *)&c.dc.peer, sizeof(c.dc.peer));
	sendto(c.dc.fd, replay, replay_len, 0, (struct sockaddr *)&c.dc.peer, sizeof(c.dc.peer));
	cr_assert_eq(cl_echoes(s, &c, got, sizeof(got), 300), 0u);
	cr_assert_eq(r.data_events, 3);

	/* The session goes on as if nothing happened. */
	cr_assert_eq(wolfSSL_write(c.dc.ssl, "fourth", 6), 6);
	cr_assert_eq(cl_echoes(s, &c, got, sizeof(got), 300), 6u);
	cr_assert_str_eq(got, "fourth");
	cr_assert_eq(r.disconnected, 0);
	cr_assert_eq(r.errors, 0);
	cr_assert_eq(rw_dtlsserver_get_connection_count(s), 1);
	dt_client_close(&c.dc);
	rw_dtlsserver_free(s);
}

/* Send a ClientHello (with `cookie` if any) and return the answer's length,
 * copying a HelloVerifyRequest's cookie into cookie_out. */
static int hello(rw_dtlsserver *s, int fd, int port, const uint8_t *rnd, const uint8_t *cookie,
                 size_t cookie_len, uint8_t *cookie_out, size_t *cookie_out_len, uint8_t *type)
{
	uint8_t ch[512], in[2048];
	size_t n = dt_client_hello(ch, rnd, cookie, cookie_len, cookie ? 1 : 0, cookie ? 1 : 0);
	cr_assert_eq(dt_send(fd, "127.0.0.1", port, ch, n), (int)n);
	double end = dt_now_ms() + 3000;
	while (dt_now_ms() < end) {
		rw_dtlsserver_do_events(s);
		int got = dt_recv(fd, in, sizeof(in), 5);
		if (got < 0)
			continue;
		*type = got > 13 ? in[13] : 0;
		if (*type == 3 && got >= 28 && 28u + in[27] <= (unsigned)got) {
			memcpy(cookie_out, in + 28, in[27]);
			*cookie_out_len = in[27];
		}
		return got;
	}
	return -1;
}

/* Ask for a cookie every 50 ms until it differs from `old`: the secret has
 * just rotated. False after `ms`. */
static bool until_rotated(rw_dtlsserver *s, int fd, int port, const uint8_t *rnd, const uint8_t *old,
                          size_t old_len, int ms)
{
	uint8_t now[64], type;
	size_t now_len = 0;
	double end = dt_now_ms() + ms;
	while (dt_now_ms() < end) {
		cr_assert_gt(hello(s, fd, port, rnd, NULL, 0, now, &now_len, &type), 0);
		cr_assert_eq(type, 3);
		if (now_len != old_len || memcmp(now, old, old_len) != 0)
			return true;
		dt_pump_for(s, 50);
	}
	return false;
}

/* Rotations are observed, not timed: the test holds on a loaded machine as
 * long as a hello is answered within a period (2 s). */
Test(dtls_records, cookie_secret_rotates, .timeout = 60)
{
	struct dt_rec r;
	rw_dtlsserver *s = server(&r, "CookieSecretLifetime=2");
	int port = rw_dtlsserver_get_local_port(s);
	int a = dt_udp_socket("127.0.0.1", 0), b = dt_udp_socket("127.0.0.1", 0);
	uint8_t rnd[32], ca[64], cb[64], again[64], type;
	size_t ca_len = 0, cb_len = 0, again_len = 0;
	memset(rnd, 0x5a, sizeof(rnd));
	cr_assert_gt(hello(s, a, port, rnd, NULL, 0, ca, &ca_len, &type), 0);
	cr_assert_eq(type, 3);
	cr_assert_gt(hello(s, b, port, rnd, NULL, 0, cb, &cb_len, &type), 0);
	cr_assert_eq(type, 3);
	cr_assert(cb_len != ca_len || memcmp(cb, ca, ca_len) != 0, "the cookie does not cover the port");
	/* First rotation: b's cookie is now of the previous secret, and honoured
	 * (ConnectionRequest, a session, the ServerHello flight). */
	cr_assert(until_rotated(s, a, port, rnd, ca, ca_len, 5000), "the cookie secret did not rotate");
	cr_assert_gt(hello(s, b, port, rnd, cb, cb_len, again, &again_len, &type), 0);
	cr_assert_eq(type, 2, "the previous secret's cookie was refused (answer type %d)", type);
	cr_assert_eq(r.requests, 1);
	cr_assert_eq(dt_config_int(s, "SessionCount"), 1);
	/* Second rotation: a's first cookie is two secrets old; its hello gets a
	 * fresh HelloVerifyRequest and no session. */
	uint8_t cur[64];
	size_t cur_len = 0;
	cr_assert_gt(hello(s, a, port, rnd, NULL, 0, cur, &cur_len, &type), 0);
	cr_assert(until_rotated(s, a, port, rnd, cur, cur_len, 5000), "no second rotation");
	cr_assert_gt(hello(s, a, port, rnd, ca, ca_len, again, &again_len, &type), 0);
	cr_assert_eq(type, 3, "a cookie two secrets old was accepted (answer type %d)", type);
	cr_assert_eq(r.requests, 1);
	cr_assert_eq(dt_config_int(s, "SessionCount"), 1);
	close(a);
	close(b);
	rw_dtlsserver_free(s);
}

struct statuses {
	int n;
	bool started, completed;
};

static void on_status(rw_dtlsserver *s, const rw_dtlsserver_ssl_status *e, void *u)
{
	(void)s;
	struct statuses *st = u;
	st->n++;
	cr_assert_gt(e->connection_id, 0);
	st->started |= strstr(e->message, "started") != NULL;
	st->completed |= strstr(e->message, "completed") != NULL;
}

Test(dtls_records, ssl_status_reports_the_handshake, .timeout = 60)
{
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	rw_dtlsserver *s = rw_dtlsserver_new();
	struct statuses st = {0};
	rw_dtlsserver_events ev = {.ssl_status = on_status};
	rw_dtlsserver_set_events(s, &ev, &st);
	cr_assert_eq(rw_dtlsserver_set_local_host(s, "127.0.0.1"), 0);
	cr_assert_eq(rw_dtlsserver_set_ssl_cert_store(s, pem, strlen(pem)), 0);
	cr_assert_eq(rw_dtlsserver_config(s, "DoEventsTimeout=5", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_start_listening(s), 0);
	struct cl c;
	cl_open(&c, rw_dtlsserver_get_local_port(s));
	cl_handshake(s, &c);
	dt_pump_for(s, 50);
	cr_assert(st.started && st.completed, "SSLStatus: %d messages, started %d, completed %d", st.n, st.started,
	          st.completed);
	dt_client_close(&c.dc);
	rw_dtlsserver_free(s);
}

/* Config MTU: with the tuned wolfSSL (WOLFSSL_DTLS_MTU) a smaller MTU makes
 * the handshake's flights fragment and lowers MaxSendSize[id], and a send
 * above it is refused whole; without it, only 0 (wolfSSL's 1400) is accepted. */
Test(dtls_records, mtu_bounds_the_records, .timeout = 60)
{
#if defined(WOLFSSL_DTLS_MTU)
	struct dt_rec r;
	rw_dtlsserver *s = server(&r, "MTU=600");
	struct cl c;
	cl_open(&c, rw_dtlsserver_get_local_port(s));
	cl_handshake(s, &c); /* the certificate flight does not fit one 600-byte datagram */
	dt_pump_for(s, 20);
	char name[64], v[32];
	snprintf(name, sizeof(name), "MaxSendSize[%lld]", (long long)r.last_id);
	cr_assert_gt(rw_dtlsserver_config(s, name, v, sizeof(v)), 0);
	int max = atoi(v);
	cr_assert(max > 400 && max < 600, "MaxSendSize %d with MTU 600", max);
	static uint8_t big[2048];
	memset(big, 'm', sizeof(big));
	cr_assert_eq(rw_dtlsserver_send(s, r.last_id, big, (size_t)max + 1), -RW_EMSGSIZE);
	cr_assert_eq(rw_dtlsserver_send(s, r.last_id, big, (size_t)max), 0);
	char got[2048];
	cr_assert_eq(cl_echoes(s, &c, got, sizeof(got), 500), (size_t)max);
	dt_client_close(&c.dc);
	rw_dtlsserver_free(s);
#else
	rw_dtlsserver *s = rw_dtlsserver_new();
	cr_assert_eq(rw_dtlsserver_config(s, "MTU=600", NULL, 0), -RW_ENOT_SUPPORTED);
	cr_assert_eq(rw_dtlsserver_config(s, "MTU=0", NULL, 0), 0);
	rw_dtlsserver_free(s);
#endif
}
