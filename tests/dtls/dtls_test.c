/* tests/dtls/dtls_test.c: shared helpers of the DTLSServer tests (see
 * dtls_test.h). */
#include "dtls_test.h"
#include "helpers/rwtest.h"

#include <criterion/criterion.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double dt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void dt_rec_init(struct dt_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->echo = true;
	r->auth_force = -1;
}

static void ev(struct dt_rec *r, char c)
{
	if (r->order_len + 1 < sizeof(r->order))
		r->order[r->order_len++] = c;
}

static void on_request(rw_dtlsserver *s, rw_dtlsserver_connection_request *e, void *u)
{
	(void)s;
	struct dt_rec *r = u;
	r->requests++;
	snprintf(r->req_addr, sizeof(r->req_addr), "%s", e->address);
	r->req_port = e->port;
	if (r->refuse)
		e->accept = false;
	ev(r, 'R');
}

static void on_connected(rw_dtlsserver *s, const rw_dtlsserver_connected *e, void *u)
{
	struct dt_rec *r = u;
	r->last_id = e->connection_id;
	r->last_connected_status = e->status_code;
	snprintf(r->last_conn_text, sizeof(r->last_conn_text), "%s", e->description);
	if (e->status_code == 0) {
		r->connected_ok++;
		r->remote_port_in_connected = rw_dtlsserver_get_remote_port(s, e->connection_id);
	} else {
		r->connected_fail++;
	}
	ev(r, 'C');
}

static void on_data(rw_dtlsserver *s, const rw_dtlsserver_data_in *e, void *u)
{
	struct dt_rec *r = u;
	r->data_events++;
	r->last_data_len = e->datagram_len;
	if (r->data_len + e->datagram_len <= sizeof(r->data)) {
		memcpy(r->data + r->data_len, e->datagram, e->datagram_len);
		r->data_len += e->datagram_len;
	}
	ev(r, 'I');
	if (r->echo)
		rw_dtlsserver_send(s, e->connection_id, e->datagram, e->datagram_len);
}

static void on_disconnected(rw_dtlsserver *s, const rw_dtlsserver_disconnected *e, void *u)
{
	(void)s;
	struct dt_rec *r = u;
	r->disconnected++;
	r->last_disc_status = e->status_code;
	snprintf(r->last_disc_text, sizeof(r->last_disc_text), "%s", e->description);
	if (e->connection_id > 0 && e->connection_id < DT_MAX_IDS)
		r->disc_by_id[e->connection_id]++;
	ev(r, 'D');
}

static void on_error(rw_dtlsserver *s, const rw_dtlsserver_error *e, void *u)
{
	(void)s;
	struct dt_rec *r = u;
	r->errors++;
	r->last_error = e->error_code;
	r->last_error_id = e->connection_id;
	ev(r, 'X');
}

static void on_auth(rw_dtlsserver *s, rw_dtlsserver_ssl_client_authentication *e, void *u)
{
	(void)s;
	struct dt_rec *r = u;
	r->auth_calls++;
	r->auth_accept_in = e->accept;
	snprintf(r->auth_subject, sizeof(r->auth_subject), "%s", e->cert_subject);
	snprintf(r->auth_status, sizeof(r->auth_status), "%s", e->status);
	if (r->auth_force >= 0)
		e->accept = r->auth_force == 1;
	ev(r, 'A');
}

rw_dtlsserver *dt_server(struct dt_rec *r, const char *pem, const char *host, bool start)
{
	rw_dtlsserver *s = rw_dtlsserver_new();
	cr_assert_not_null(s);
	static const rw_dtlsserver_events evs = {
		.connection_request = on_request, .connected = on_connected, .data_in = on_data,
		.disconnected = on_disconnected, .error = on_error, .ssl_client_authentication = on_auth,
	};
	rw_dtlsserver_set_events(s, &evs, r);
	cr_assert_eq(rw_dtlsserver_set_local_host(s, host ? host : "127.0.0.1"), 0);
	cr_assert_eq(rw_dtlsserver_config(s, "DoEventsTimeout=20", NULL, 0), 0);
	if (pem)
		cr_assert_eq(rw_dtlsserver_set_ssl_cert_store(s, pem, strlen(pem)), 0);
	if (start) {
		int rc = rw_dtlsserver_start_listening(s);
		cr_assert_eq(rc, 0, "start_listening: %s", rw_strerror(rc));
		cr_assert_gt(rw_dtlsserver_get_local_port(s), 0);
		char got[16] = "";
		rw_dtlsserver_config(s, "Backend", got, sizeof(got));
		rwt_expect_backend(got);
	}
	return s;
}

bool dt_pump_until(rw_dtlsserver *s, dt_pred pred, void *ctx, int timeout_ms)
{
	double end = dt_now_ms() + timeout_ms;
	while (!pred(ctx)) {
		if (dt_now_ms() > end)
			return pred(ctx);
		int rc = rw_dtlsserver_do_events(s);
		cr_assert_geq(rc, 0, "do_events: %s", rw_strerror(rc));
	}
	return true;
}

void dt_pump_for(rw_dtlsserver *s, int ms)
{
	double end = dt_now_ms() + ms;
	while (dt_now_ms() < end)
		rw_dtlsserver_do_events(s);
}

bool dt_ge(void *ctx)
{
	struct dt_ge *g = ctx;
	return *g->v >= g->want;
}

int dt_config_int(rw_dtlsserver *s, const char *name)
{
	char out[64];
	int rc = rw_dtlsserver_config(s, name, out, sizeof(out));
	cr_assert_geq(rc, 0, "Config %s: %s", name, rw_strerror(rc));
	return atoi(out);
}

static char cert_dir[64];

const char *dt_certs(void)
{
	if (cert_dir[0])
		return cert_dir;
	snprintf(cert_dir, sizeof(cert_dir), "/tmp/rw-dtls-XXXXXX");
	cr_assert_not_null(mkdtemp(cert_dir));
	char cmd[3072];
	snprintf(cmd, sizeof(cmd),
		"cd %s && ("
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -out c -days 2 "
		"  -subj /CN=localhost/O=ringworks && cat c k > server.pem && "
		"openssl req -x509 -newkey rsa:2048 -nodes -keyout rk -out rc -days 2 -subj /CN=rsa-server && "
		"cat rc rk > rsa.pem && "
		"openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=Test CA' && "
		"openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj '/CN=client one' && "
		"openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem && "
		"openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.pem -days 2 -subj /CN=rogue"
		") >/dev/null 2>&1", cert_dir);
	cr_assert_eq(system(cmd), 0, "openssl could not make the test certificates");
	return cert_dir;
}

static void fill_addr(struct sockaddr_storage *ss, socklen_t *len, const char *host, int port)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
	} else {
		cr_assert_eq(inet_pton(AF_INET6, host, &a6->sin6_addr), 1);
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
	}
}

int dt_udp_socket(const char *host, int port_to_bind)
{
	struct sockaddr_storage ss;
	socklen_t len;
	fill_addr(&ss, &len, host, port_to_bind);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

int dt_send(int fd, const char *host, int port, const void *p, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len;
	fill_addr(&ss, &len, host, port);
	return (int)sendto(fd, p, n, 0, (struct sockaddr *)&ss, len);
}

int dt_recv(int fd, void *buf, size_t len, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	return (int)recv(fd, buf, len, 0);
}

static size_t put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; return 2; }

size_t dt_client_hello(uint8_t *out, const uint8_t *random32, const uint8_t *cookie, size_t cookie_len,
                       uint16_t msg_seq, uint64_t rec_seq)
{
	uint8_t body[512];
	size_t b = 0;
	b += put16(body + b, 0xfefd);
	memcpy(body + b, random32, 32);
	b += 32;
	body[b++] = 0; /* session id */
	body[b++] = (uint8_t)cookie_len;
	if (cookie_len) /* memcpy from a NULL cookie is undefined, even for 0 bytes (UBSan) */
		memcpy(body + b, cookie, cookie_len);
	b += cookie_len;
	static const uint16_t suites[] = {0xc02b, 0xc02c, 0xc02f, 0xc030, 0xc009, 0xc013};
	b += put16(body + b, sizeof(suites));
	for (size_t i = 0; i < sizeof(suites) / 2; i++)
		b += put16(body + b, suites[i]);
	body[b++] = 1;
	body[b++] = 0;
	uint8_t ext[128];
	size_t e = 0;
	e += put16(ext + e, 10); e += put16(ext + e, 4); e += put16(ext + e, 2); e += put16(ext + e, 23); /* P-256 */
	e += put16(ext + e, 11); e += put16(ext + e, 2); ext[e++] = 1; ext[e++] = 0;              /* uncompressed */
	e += put16(ext + e, 13); e += put16(ext + e, 6); e += put16(ext + e, 4);
	e += put16(ext + e, 0x0403); e += put16(ext + e, 0x0401);                                 /* sig algs */
	e += put16(ext + e, 23); e += put16(ext + e, 0);                                          /* EMS */
	b += put16(body + b, (unsigned)e);
	memcpy(body + b, ext, e);
	b += e;
	size_t n = 0;
	out[n++] = 22;
	n += put16(out + n, 0xfeff);
	n += put16(out + n, 0);
	for (int i = 5; i >= 0; i--)
		out[n++] = (uint8_t)(rec_seq >> (8 * i));
	n += put16(out + n, (unsigned)(12 + b));
	out[n++] = 1;
	out[n++] = 0;
	n += put16(out + n, (unsigned)b);
	n += put16(out + n, msg_seq);
	out[n++] = 0; out[n++] = 0; out[n++] = 0;
	out[n++] = 0;
	n += put16(out + n, (unsigned)b);
	memcpy(out + n, body, b);
	return n + b;
}

void dt_client_open(struct dt_client *c, int port, const char *suites)
{
	memset(c, 0, sizeof(*c));
	wolfSSL_Init();
	c->ctx = wolfSSL_CTX_new(wolfDTLSv1_2_client_method());
	cr_assert_not_null(c->ctx);
	wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_NONE, NULL);
	if (suites)
		cr_assert_eq(wolfSSL_CTX_set_cipher_list(c->ctx, suites), WOLFSSL_SUCCESS);
	c->fd = dt_udp_socket("127.0.0.1", 0);
	c->peer = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &c->peer.sin_addr);
	c->ssl = wolfSSL_new(c->ctx);
	cr_assert_not_null(c->ssl);
	wolfSSL_set_fd(c->ssl, c->fd);
	wolfSSL_dtls_set_peer(c->ssl, &c->peer, sizeof(c->peer));
	wolfSSL_dtls_set_using_nonblock(c->ssl, 1);
}

void dt_client_close(struct dt_client *c)
{
	wolfSSL_shutdown(c->ssl);
	wolfSSL_free(c->ssl);
	wolfSSL_CTX_free(c->ctx);
	close(c->fd);
}

bool dt_client_handshake(rw_dtlsserver *s, struct dt_client *c)
{
	double end = dt_now_ms() + 10000, next_to = dt_now_ms() + 1000;
	while (dt_now_ms() < end) {
		int ret = wolfSSL_connect(c->ssl);
		if (ret == WOLFSSL_SUCCESS)
			return true;
		int err = wolfSSL_get_error(c->ssl, ret);
		if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE)
			return false;
		if (dt_now_ms() >= next_to) {
			if (wolfSSL_dtls_got_timeout(c->ssl) != WOLFSSL_SUCCESS)
				return false;
			next_to = dt_now_ms() + 1000.0 * wolfSSL_dtls_get_current_timeout(c->ssl);
		}
		rw_dtlsserver_do_events(s);
	}
	return false;
}
