/* tests/dtls/test_dtls_raw.c: DTLSServer against a raw UDP client: a
 * ClientHello without a cookie gets exactly one 60-byte HelloVerifyRequest and
 * leaves no state (SessionCount stays 0, no event) even from 2,000 spoofed
 * ports; garbage, truncated records and fragments are dropped while an
 * openssl client is served; a ClientHello that echoes the cookie creates one
 * session, whose flight is retransmitted until the handshake deadline ends
 * it (Connected 10060, then Disconnected); a refused ConnectionRequest gets
 * an access_denied alert; the idle timeout; MaxConnections; and the
 * settings this wolfSSL cannot do. */
#include "dtls_test.h"
#include "helpers/rwtest.h"

#include <wolfssl/options.h> /* WOLFSSL_DTLS13: which wolfSSL this build has */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static rw_dtlsserver *started(struct dt_rec *r)
{
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	dt_rec_init(r);
	return dt_server(r, pem, NULL, true);
}

/* Pump the server, then read one datagram from fd (bounded). */
static int pump_recv(rw_dtlsserver *s, int fd, uint8_t *buf, size_t len, int timeout_ms)
{
	double end = now_s() + timeout_ms / 1000.0;
	while (now_s() < end) {
		rw_dtlsserver_do_events(s);
		int n = dt_recv(fd, buf, len, 5);
		if (n >= 0)
			return n;
	}
	return -1;
}

Test(dtls_raw, hello_verify_request_is_stateless, .timeout = 60)
{
	struct dt_rec r;
	rw_dtlsserver *s = started(&r);
	int port = rw_dtlsserver_get_local_port(s);
	int fd = dt_udp_socket("127.0.0.1", 0);
	uint8_t rnd[32], ch[512], in[2048];
	memset(rnd, 7, sizeof(rnd));
	size_t n = dt_client_hello(ch, rnd, NULL, 0, 0, 0);
	cr_assert_eq(dt_send(fd, "127.0.0.1", port, ch, n), (int)n);
	int got = pump_recv(s, fd, in, sizeof(in), 3000);
	cr_assert_eq(got, 60, "one 60-byte HelloVerifyRequest, got %d", got);
	cr_assert_eq(in[0], 22);
	cr_assert_eq(in[13], 3);
	cr_assert_leq((size_t)got, n, "never larger than the ClientHello");
	dt_pump_for(s, 100);
	cr_assert_eq(dt_recv(fd, in, sizeof(in), 50), -1, "exactly one datagram");
	cr_assert_eq(dt_config_int(s, "SessionCount"), 0);
	cr_assert_eq(dt_config_int(s, "HelloVerifyRequestCount"), 1);
	cr_assert_eq(r.order_len, 0u, "no event for the cookie exchange");

	/* A flood from 2,000 source ports: each answered, none remembered. */
	int fds[50];
	for (int i = 0; i < 50; i++)
		fds[i] = dt_udp_socket("127.0.0.1", 0);
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < 50; i++) {
			rnd[0] = (uint8_t)round;
			n = dt_client_hello(ch, rnd, NULL, 0, 0, (uint64_t)round);
			dt_send(fds[i], "127.0.0.1", port, ch, n);
		}
		dt_pump_for(s, 5);
		for (int i = 0; i < 50; i++)
			while (dt_recv(fds[i], in, sizeof(in), 0) >= 0)
				;
	}
	dt_pump_for(s, 200);
	cr_assert_eq(dt_config_int(s, "SessionCount"), 0);
	cr_assert_geq(dt_config_int(s, "HelloVerifyRequestCount"), 1000,
	              "most of the 2,000 hellos were answered (UDP may drop some)");
	cr_assert_eq(r.order_len, 0u);
	for (int i = 0; i < 50; i++)
		close(fds[i]);
	close(fd);
	rw_dtlsserver_free(s);
}

Test(dtls_raw, garbage_and_truncated_records_while_serving_others, .timeout = 60)
{
	struct dt_rec r;
	rw_dtlsserver *s = started(&r);
	int port = rw_dtlsserver_get_local_port(s);
	int bad = dt_udp_socket("127.0.0.1", 0);
	uint8_t rnd[32] = {1}, ch[512], buf[2048];
	size_t chn = dt_client_hello(ch, rnd, NULL, 0, 0, 0);
	uint64_t seed = 42;
	for (int i = 0; i < 1000; i++) {
		size_t n = 1 + rwt_splitmix(&seed) % 1400;
		rwt_pattern(seed, (uint64_t)i, buf, n);
		if (i % 4 == 1) { /* a plausible record header with random bytes after it */
			buf[0] = 22; buf[1] = 0xfe; buf[2] = 0xfd; buf[3] = 0; buf[4] = 0;
		} else if (i % 4 == 2) { /* every truncation of a real ClientHello */
			n = (size_t)i % chn;
			memcpy(buf, ch, n);
		} else if (i % 4 == 3) { /* a ClientHello claiming to be a fragment */
			memcpy(buf, ch, chn);
			buf[24] = 9;
			n = chn;
		}
		dt_send(bad, "127.0.0.1", port, buf, n);
		if (i % 50 == 0)
			dt_pump_for(s, 2);
	}
	dt_pump_for(s, 200);
	cr_assert_eq(dt_config_int(s, "SessionCount"), 0);
	cr_assert_eq(r.order_len, 0u, "no event for garbage: %s", r.order);
	cr_assert_geq(dt_config_int(s, "DroppedDatagramCount"), 700);
	/* A real client is still served, and garbage on its own tuple neither
	 * kills its connection nor reaches DataIn. */
	char target[64];
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	char *argv[] = {"timeout", "20", "openssl", "s_client", "-dtls1_2", "-connect", target,
	                "-bind", "127.0.0.1:0", NULL};
	rwt_proc p;
	cr_assert_eq(rwt_proc_spawn(&p, argv, true), 0);
	struct dt_ge conn = {&r.connected_ok, 1};
	cr_assert(dt_pump_until(s, dt_ge, &conn, 15000), "%s", p.out);
	char host[64];
	cr_assert_gt(rw_dtlsserver_get_remote_host(s, r.last_id, host, sizeof(host)), 0);
	int cport = rw_dtlsserver_get_remote_port(s, r.last_id);
	close(bad);
	bad = dt_udp_socket("127.0.0.1", 0);
	for (int i = 0; i < 20; i++) {
		buf[0] = 23; buf[1] = 0xfe; buf[2] = 0xfd; buf[3] = 0; buf[4] = 1;
		dt_send(bad, "127.0.0.1", port, buf, 40);
	}
	cr_assert_eq(write(p.in_fd, "still-alive-91\n", 15), 15);
	struct dt_ge data = {&r.data_events, 1};
	cr_assert(dt_pump_until(s, dt_ge, &data, 10000), "%s", p.out);
	cr_assert_eq(r.data_len, 15);
	cr_assert_eq(rw_dtlsserver_get_connection_count(s), 1);
	cr_assert_gt(cport, 0);
	close(p.in_fd);
	p.in_fd = -1;
	struct dt_ge disc = {&r.disconnected, 1};
	cr_assert(dt_pump_until(s, dt_ge, &disc, 10000));
	rwt_proc_free(&p);
	close(bad);
	rw_dtlsserver_free(s);
}

/* Send a ClientHello, get the cookie, send it back: a session exists. */
static void cookie_round(rw_dtlsserver *s, int fd, int port, const uint8_t *rnd)
{
	uint8_t ch[512], in[2048];
	size_t n = dt_client_hello(ch, rnd, NULL, 0, 0, 0);
	dt_send(fd, "127.0.0.1", port, ch, n);
	int got = pump_recv(s, fd, in, sizeof(in), 3000);
	cr_assert_eq(got, 60);
	n = dt_client_hello(ch, rnd, in + 28, in[27], 1, 1);
	dt_send(fd, "127.0.0.1", port, ch, n);
}

Test(dtls_raw, handshake_deadline_with_retransmissions, .timeout = 60)
{
	struct dt_rec r;
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	dt_rec_init(&r);
	rw_dtlsserver *s = dt_server(&r, pem, NULL, false);
	cr_assert_eq(rw_dtlsserver_config(s, "HandshakeTimeout=3", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_start_listening(s), 0);
	int port = rw_dtlsserver_get_local_port(s);
	int fd = dt_udp_socket("127.0.0.1", 0);
	uint8_t rnd[32], in[4096];
	memset(rnd, 9, sizeof(rnd));
	double t0 = now_s();
	cookie_round(s, fd, port, rnd);
	/* The server's first flight (ServerHello...), then resends of it while
	 * this client stays silent. */
	int flights = 0;
	double first = 0, last = 0;
	while (now_s() - t0 < 6 && r.disconnected == 0) {
		rw_dtlsserver_do_events(s);
		int n = dt_recv(fd, in, sizeof(in), 5);
		if (n > 13 && in[0] == 22 && in[13] == 2) { /* a datagram starting with ServerHello */
			flights++;
			last = now_s();
			if (!first)
				first = last;
		}
	}
	cr_assert_eq(r.requests, 1);
	cr_assert_geq(flights, 2, "the flight was retransmitted (%d)", flights);
	cr_assert_geq(last - first, 0.8, "after about a second");
	cr_assert_eq(r.connected_fail, 1);
	cr_assert_eq(r.last_connected_status, RW_ETIMEDOUT, "%d %s", r.last_connected_status, r.last_conn_text);
	cr_assert_str_eq(r.last_conn_text, "Handshake timeout");
	cr_assert_eq(r.disconnected, 1);
	cr_assert_str_eq(r.order, "RCD");
	double took = now_s() - t0;
	cr_assert(took >= 2.5 && took < 5.5, "deadline 3 s, ended after %.1f s", took);
	cr_assert_eq(dt_config_int(s, "SessionCount"), 0);
	close(fd);
	rw_dtlsserver_free(s);
}

Test(dtls_raw, refused_request_gets_an_alert, .timeout = 30)
{
	struct dt_rec r;
	rw_dtlsserver *s = started(&r);
	r.refuse = true;
	int port = rw_dtlsserver_get_local_port(s);
	int fd = dt_udp_socket("127.0.0.1", 0);
	uint8_t rnd[32], in[256];
	memset(rnd, 3, sizeof(rnd));
	cookie_round(s, fd, port, rnd);
	int n = pump_recv(s, fd, in, sizeof(in), 3000);
	cr_assert_eq(n, 15, "a fatal alert");
	cr_assert_eq(in[0], 21);
	cr_assert_eq(in[13], 2);
	cr_assert_eq(in[14], 49, "access_denied");
	cr_assert_eq(r.requests, 1);
	cr_assert_str_eq(r.order, "R");
	cr_assert_eq(dt_config_int(s, "SessionCount"), 0);
	close(fd);
	rw_dtlsserver_free(s);
}

Test(dtls_raw, max_connections_counts_handshaking_peers, .timeout = 30)
{
	struct dt_rec r;
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	dt_rec_init(&r);
	rw_dtlsserver *s = dt_server(&r, pem, NULL, false);
	cr_assert_eq(rw_dtlsserver_config(s, "MaxConnections=2", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_start_listening(s), 0);
	cr_assert_eq(rw_dtlsserver_config(s, "MaxConnections=5", NULL, 0), -RW_EBAD_STATE);
	int port = rw_dtlsserver_get_local_port(s);
	int fds[3];
	uint8_t rnd[32];
	for (int i = 0; i < 3; i++) {
		fds[i] = dt_udp_socket("127.0.0.1", 0);
		memset(rnd, 20 + i, sizeof(rnd));
		cookie_round(s, fds[i], port, rnd);
		dt_pump_for(s, 50);
	}
	cr_assert_eq(dt_config_int(s, "SessionCount"), 2);
	cr_assert_eq(dt_config_int(s, "RejectedConnectionCount"), 1);
	cr_assert_eq(r.requests, 2, "no ConnectionRequest beyond the limit");
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	rw_dtlsserver_free(s);
}

Test(dtls_raw, idle_timeout, .timeout = 60)
{
	struct dt_rec r;
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	dt_rec_init(&r);
	rw_dtlsserver *s = dt_server(&r, pem, NULL, true);
	cr_assert_eq(rw_dtlsserver_set_default_idle_timeout(s, -1), -RW_EBAD_VALUE);
	cr_assert_eq(rw_dtlsserver_set_default_idle_timeout(s, 2), 0);
	char target[64];
	snprintf(target, sizeof(target), "127.0.0.1:%d", rw_dtlsserver_get_local_port(s));
	char *argv[] = {"timeout", "20", "openssl", "s_client", "-dtls1_2", "-connect", target, NULL};
	rwt_proc p;
	cr_assert_eq(rwt_proc_spawn(&p, argv, true), 0);
	struct dt_ge conn = {&r.connected_ok, 1};
	cr_assert(dt_pump_until(s, dt_ge, &conn, 15000), "%s", p.out);
	double t0 = now_s();
	struct dt_ge disc = {&r.disconnected, 1};
	cr_assert(dt_pump_until(s, dt_ge, &disc, 6000), "no idle timeout");
	double took = now_s() - t0;
	cr_assert(took >= 1.5 && took < 4.5, "idle 2 s, closed after %.1f s", took);
	cr_assert_eq(r.last_disc_status, RW_ETIMEDOUT);
	cr_assert_str_eq(r.last_disc_text, "Idle timeout");
	rwt_proc_kill(&p);
	rwt_proc_free(&p);
	rw_dtlsserver_free(s);
}

Test(dtls_raw, unsupported_and_invalid_settings)
{
	struct dt_rec r;
	dt_rec_init(&r);
	rw_dtlsserver *s = dt_server(&r, NULL, NULL, false);
	cr_assert_eq(rw_dtlsserver_set_keep_alive(s, true), -RW_EDTLS_NOT_SUPPORTED);
	cr_assert_eq(rw_dtlsserver_config(s, "KeepAlive=True", NULL, 0), -RW_EDTLS_NOT_SUPPORTED);
	cr_assert_eq(rw_dtlsserver_set_keep_alive(s, false), 0);
	cr_assert_not(rw_dtlsserver_get_keep_alive(s));
	cr_assert_eq(rw_dtlsserver_start_listening(s), -RW_EDTLS_INVALID_CERT, "no certificate");
	cr_assert_not(rw_dtlsserver_get_listening(s));
	int rc13 = rw_dtlsserver_config(s, "SSLEnabledProtocols=15360", NULL, 0);
#if defined(WOLFSSL_DTLS13)
	cr_assert_eq(rc13, 0, "the tuned wolfSSL has DTLS 1.3");
#else
	cr_assert_eq(rc13, -RW_ENOT_SUPPORTED, "Debian's wolfSSL has no DTLS 1.3");
#endif
	int rccid = rw_dtlsserver_config(s, "UseConnectionID=True", NULL, 0);
#if defined(WOLFSSL_DTLS_CID) && defined(WOLFSSL_DTLS13)
	cr_assert_eq(rccid, 0, "the tuned wolfSSL has (DTLS 1.3) connection IDs");
#else
	cr_assert_eq(rccid, -RW_ENOT_SUPPORTED);
#endif
	cr_assert_eq(rw_dtlsserver_config(s, "UseConnectionID=False", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_config(s, "SSLEnabledProtocols=48", NULL, 0), -RW_ENOT_SUPPORTED,
	             "TLS 1.0-style bits");
	cr_assert_eq(rw_dtlsserver_config(s, "NoSuchSetting", NULL, 0), -RW_EUNKNOWN_CONFIG);
	cr_assert_eq(rw_dtlsserver_config(s, "SessionCount=3", NULL, 0), -RW_EBAD_VALUE);
	cr_assert_eq(rw_dtlsserver_set_local_port(s, 70000), -RW_EBAD_VALUE);
	cr_assert_eq(rw_dtlsserver_send_text(s, 1, "x"), -RW_EINVALID_CONNID);
	cr_assert_eq(rw_dtlsserver_disconnect(s, 1), -RW_EINVALID_CONNID);
	cr_assert_eq(rw_dtlsserver_do_events(s), -RW_EBAD_STATE);
	cr_assert_str_eq(rw_strerror(-RW_EDTLS_HANDSHAKE), "DTLS handshake error.");
	cr_assert_str_eq(rw_strerror(RW_EDTLS_NOT_SUPPORTED), "Not supported.");
	rw_dtlsserver_free(s);
}

Test(dtls_raw, share_local_port)
{
	struct dt_rec r1, r2;
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	dt_rec_init(&r1);
	dt_rec_init(&r2);
	rw_dtlsserver *a = dt_server(&r1, pem, NULL, false);
	cr_assert_eq(rw_dtlsserver_config(a, "ShareLocalPort=True", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_config(a, "InBufferSize=1048576", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_config(a, "DontFragment=True", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_start_listening(a), 0);
	int port = rw_dtlsserver_get_local_port(a);
	rw_dtlsserver *b = dt_server(&r2, pem, NULL, false);
	rw_dtlsserver_set_local_port(b, port);
	cr_assert_eq(rw_dtlsserver_start_listening(b), -RW_EADDRINUSE, "without ShareLocalPort");
	cr_assert_eq(rw_dtlsserver_config(b, "ShareLocalPort=True", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_start_listening(b), 0, "both share the port");
	cr_assert_eq(rw_dtlsserver_get_local_port(b), port);
	cr_assert_eq(rw_dtlsserver_config(b, "ShareLocalPort=False", NULL, 0), -RW_EBAD_STATE);
	rw_dtlsserver_free(b);
	rw_dtlsserver_free(a);
}
