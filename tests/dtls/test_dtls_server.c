/* tests/dtls/test_dtls_server.c: DTLSServer against clients nobody here wrote
 * (openssl s_client -dtls1_2, gnutls-cli --udp) and a raw UDP client: the
 * handshake with its events in order, echo, close_notify, the stateless
 * HelloVerifyRequest (60 bytes, nothing kept), garbage and truncated records
 * while another client is served, a refused ConnectionRequest, the idle
 * timeout, the handshake deadline with retransmissions, and the settings
 * that are not supported. */
#include "dtls_test.h"
#include "helpers/rwtest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct proc_wait {
	rwt_proc *p;
	const char *want; /* text to wait for in the output (NULL: the exit) */
};

static bool proc_ready(void *ctx)
{
	struct proc_wait *w = ctx;
	bool done = rwt_proc_done(w->p);
	if (w->want)
		return w->p->out && strstr(w->p->out, w->want);
	return done;
}

static void s_client(rwt_proc *p, int port, const char *extra1, const char *extra2, const char *extra3)
{
	char target[64];
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	char *argv[16] = {"timeout", "20", "openssl", "s_client", "-dtls1_2", "-connect", target, "-state"};
	int n = 8;
	if (extra1) argv[n++] = (char *)extra1;
	if (extra2) argv[n++] = (char *)extra2;
	if (extra3) argv[n++] = (char *)extra3;
	argv[n] = NULL;
	cr_assert_eq(rwt_proc_spawn(p, argv, true), 0);
}

static void write_in(rwt_proc *p, const char *text)
{
	cr_assert_eq(write(p->in_fd, text, strlen(text)), (ssize_t)strlen(text));
}

static void close_in(rwt_proc *p)
{
	close(p->in_fd);
	p->in_fd = -1;
}

Test(dtls_openssl, handshake_echo_and_close_notify, .timeout = 60)
{
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	struct dt_rec r;
	dt_rec_init(&r);
	rw_dtlsserver *s = dt_server(&r, pem, NULL, true);
	int port = rw_dtlsserver_get_local_port(s);
	rwt_proc p;
	s_client(&p, port, NULL, NULL, NULL);
	struct dt_ge connected = {&r.connected_ok, 1};
	cr_assert(dt_pump_until(s, dt_ge, &connected, 15000), "no Connected; client said:\n%s", p.out);
	cr_assert_eq(rw_dtlsserver_get_connection_count(s), 1);
	write_in(&p, "dtls-ping-7f3a\n");
	struct proc_wait echo = {&p, "dtls-ping-7f3a\n"};
	cr_assert(dt_pump_until(s, proc_ready, &echo, 10000), "no echo; client said:\n%s", p.out);
	cr_assert_eq(r.data_events, 1);
	cr_assert_eq(r.data_len, 15);
	cr_assert_eq(memcmp(r.data, "dtls-ping-7f3a\n", 15), 0);
	cr_assert_str_eq(r.req_addr, "127.0.0.1");
	cr_assert_eq(r.req_port, r.remote_port_in_connected, "ConnectionRequest and the property agree");
	char v[64];
	cr_assert_gt(rw_dtlsserver_config(s, "SSLNegotiatedVersion[1]", v, sizeof(v)), 0);
	cr_assert_str_eq(v, "DTLSv1.2");
	cr_assert_gt(rw_dtlsserver_config(s, "SSLNegotiatedCipherSuite[1]", v, sizeof(v)), 0);
	cr_assert(strstr(v, "TLS_ECDHE_ECDSA_WITH_") == v, "%s", v);
	/* stdin EOF: s_client sends close_notify and exits. */
	close_in(&p);
	struct dt_ge disc = {&r.disconnected, 1};
	cr_assert(dt_pump_until(s, dt_ge, &disc, 10000), "no Disconnected after close_notify");
	cr_assert_eq(r.last_disc_status, 0);
	cr_assert_str_eq(r.last_disc_text, "OK");
	cr_assert_str_eq(r.order, "RCID", "event order %s", r.order);
	cr_assert_eq(rw_dtlsserver_get_connection_count(s), 0);
	cr_assert_eq(rw_dtlsserver_get_remote_port(s, 1), -RW_EINVALID_CONNID);
	struct proc_wait ended = {&p, NULL};
	cr_assert(dt_pump_until(s, proc_ready, &ended, 10000));
	cr_assert(strstr(p.out, "DTLS1 read hello verify request") || strstr(p.out, "hello verify"),
	          "the cookie exchange ran:\n%s", p.out);
	cr_assert_eq(r.errors, 0);
	rwt_proc_free(&p);
	rw_dtlsserver_free(s);
}

Test(dtls_openssl, server_disconnect_sends_close_notify, .timeout = 60)
{
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	struct dt_rec r;
	dt_rec_init(&r);
	rw_dtlsserver *s = dt_server(&r, pem, NULL, true);
	rwt_proc p;
	s_client(&p, rw_dtlsserver_get_local_port(s), NULL, NULL, NULL);
	struct dt_ge connected = {&r.connected_ok, 1};
	cr_assert(dt_pump_until(s, dt_ge, &connected, 15000), "%s", p.out);
	cr_assert_eq(rw_dtlsserver_disconnect(s, r.last_id), 0);
	cr_assert_eq(r.disconnected, 0, "Disconnected never fires inside disconnect()");
	cr_assert_eq(rw_dtlsserver_send_text(s, r.last_id, "late"), -RW_EINVALID_CONNID);
	struct proc_wait ended = {&p, NULL};
	cr_assert(dt_pump_until(s, proc_ready, &ended, 10000), "s_client did not end on close_notify:\n%s", p.out);
	cr_assert_eq(r.disconnected, 1);
	cr_assert_eq(r.last_disc_status, 0);
	rwt_proc_free(&p);
	rw_dtlsserver_free(s);
}

Test(dtls_openssl, client_certificates_accepted_and_rejected, .timeout = 90)
{
	const char *d = dt_certs();
	char pem[256], ca[300], cert[256], key[256], rcert[256], rkey[256];
	snprintf(pem, sizeof(pem), "%s/rsa.pem", d);
	snprintf(ca, sizeof(ca), "OpenSSLCAFile=%s/ca.pem", d);
	snprintf(cert, sizeof(cert), "-cert=%s/client.pem", d);
	snprintf(key, sizeof(key), "-key=%s/client.key", d);
	snprintf(rcert, sizeof(rcert), "-cert=%s/rogue.pem", d);
	snprintf(rkey, sizeof(rkey), "-key=%s/rogue.key", d);
	struct dt_rec r;
	dt_rec_init(&r);
	rw_dtlsserver *s = dt_server(&r, pem, NULL, false);
	cr_assert_eq(rw_dtlsserver_set_ssl_authenticate_clients(s, true), 0);
	cr_assert_eq(rw_dtlsserver_config(s, ca, NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_start_listening(s), 0);
	int port = rw_dtlsserver_get_local_port(s);

	/* Signed by the CA: accepted, before Connected(0). */
	rwt_proc p;
	s_client(&p, port, cert, key, NULL);
	struct dt_ge ok = {&r.connected_ok, 1};
	cr_assert(dt_pump_until(s, dt_ge, &ok, 15000), "%s", p.out);
	cr_assert_eq(r.auth_calls, 1);
	cr_assert(r.auth_accept_in);
	cr_assert_str_eq(r.auth_status, "OK");
	cr_assert(strstr(r.auth_subject, "CN=client one"), "%s", r.auth_subject);
	cr_assert(strstr(r.order, "RAC") != NULL, "order %s", r.order);
	close_in(&p);
	struct dt_ge d1 = {&r.disconnected, 1};
	cr_assert(dt_pump_until(s, dt_ge, &d1, 10000));
	rwt_proc_free(&p);

	/* Self-signed: refused (Connected 404, then Disconnected). */
	s_client(&p, port, rcert, rkey, NULL);
	struct dt_ge fail = {&r.connected_fail, 1};
	cr_assert(dt_pump_until(s, dt_ge, &fail, 15000), "%s", p.out);
	cr_assert_eq(r.auth_calls, 2);
	cr_assert_not(r.auth_accept_in);
	cr_assert_str_neq(r.auth_status, "OK");
	cr_assert_eq(r.last_connected_status, RW_EDTLS_INVALID_CERT, "%d %s", r.last_connected_status,
	             r.last_conn_text);
	struct dt_ge d2 = {&r.disconnected, 2};
	cr_assert(dt_pump_until(s, dt_ge, &d2, 10000));
	struct proc_wait ended = {&p, NULL};
	cr_assert(dt_pump_until(s, proc_ready, &ended, 15000));
	cr_assert_eq(r.connected_ok, 1);
	rwt_proc_free(&p);

	/* The same rogue certificate, accepted by the handler. */
	r.auth_force = 1;
	s_client(&p, port, rcert, rkey, NULL);
	struct dt_ge ok2 = {&r.connected_ok, 2};
	cr_assert(dt_pump_until(s, dt_ge, &ok2, 15000), "%s", p.out);
	cr_assert_not(r.auth_accept_in);
	close_in(&p);
	struct dt_ge d3 = {&r.disconnected, 3};
	cr_assert(dt_pump_until(s, dt_ge, &d3, 10000));
	rwt_proc_free(&p);
	rw_dtlsserver_free(s);
}

Test(dtls_gnutls, udp_handshake_and_echo, .timeout = 60)
{
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	struct dt_rec r;
	dt_rec_init(&r);
	rw_dtlsserver *s = dt_server(&r, pem, NULL, true);
	char port[16];
	snprintf(port, sizeof(port), "--port=%d", rw_dtlsserver_get_local_port(s));
	char *argv[] = {"timeout", "20", "gnutls-cli", "--udp", "--insecure", port, "127.0.0.1", NULL};
	rwt_proc p;
	cr_assert_eq(rwt_proc_spawn(&p, argv, true), 0);
	struct dt_ge connected = {&r.connected_ok, 1};
	cr_assert(dt_pump_until(s, dt_ge, &connected, 15000), "gnutls-cli said:\n%s", p.out);
	write_in(&p, "gnutls ping\n");
	struct dt_ge data = {&r.data_events, 1};
	cr_assert(dt_pump_until(s, dt_ge, &data, 10000), "%s", p.out);
	struct proc_wait echo = {&p, "gnutls ping"};
	cr_assert(dt_pump_until(s, proc_ready, &echo, 10000), "no echo:\n%s", p.out);
	close_in(&p);
	struct dt_ge disc = {&r.disconnected, 1};
	cr_assert(dt_pump_until(s, dt_ge, &disc, 10000), "no Disconnected:\n%s", p.out);
	cr_assert_eq(r.last_disc_status, 0);
	rwt_proc_free(&p);
	rw_dtlsserver_free(s);
}

Test(dtls_openssl, record_sizes_and_a_dtls10_client, .timeout = 60)
{
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs());
	struct dt_rec r;
	dt_rec_init(&r);
	r.echo = false;
	rw_dtlsserver *s = dt_server(&r, pem, NULL, true);
	int port = rw_dtlsserver_get_local_port(s);
	/* DTLS 1.0 is refused; the server stays healthy. */
	char target[64];
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	char *argv10[] = {"timeout", "10", "openssl", "s_client", "-dtls1", "-cipher", "DEFAULT:@SECLEVEL=0",
	                  "-connect", target, NULL};
	rwt_proc p;
	cr_assert_eq(rwt_proc_spawn(&p, argv10, true), 0);
	struct proc_wait ended = {&p, NULL};
	cr_assert(dt_pump_until(s, proc_ready, &ended, 15000));
	cr_assert_neq(p.exit_code, 0, "a DTLS 1.0 handshake must fail:\n%s", p.out);
	cr_assert_eq(r.connected_ok, 0);
	cr_assert_eq(r.connected_fail, r.requests, "every admitted attempt ends in Connected(!= 0)");
	cr_assert_eq(r.disconnected, r.connected_fail, "and its Disconnected");
	rwt_proc_free(&p);
	/* A 10,001-byte line: OpenSSL cuts it into records; every DataIn is one
	 * whole record and the bytes add up. */
	s_client(&p, port, NULL, NULL, NULL);
	struct dt_ge connected = {&r.connected_ok, 1};
	cr_assert(dt_pump_until(s, dt_ge, &connected, 15000), "%s", p.out);
	char big[10002];
	memset(big, 'a', 10000);
	big[10000] = '\n';
	big[10001] = 0;
	write_in(&p, big);
	size_t before = r.data_len;
	for (int i = 0; i < 400 && r.data_len - before < 10001; i++)
		rw_dtlsserver_do_events(s);
	cr_assert_eq(r.data_len - before, 10001, "got %zu bytes in %d DataIn", r.data_len - before, r.data_events);
	cr_assert_gt(r.data_events, 1, "more than one record");
	/* Sends: one record per call, never split; too large is refused whole. */
	char max[32], key[48];
	snprintf(key, sizeof(key), "MaxSendSize[%lld]", (long long)r.last_id);
	cr_assert_gt(rw_dtlsserver_config(s, key, max, sizeof(max)), 0);
	int limit = atoi(max);
	cr_assert(limit >= 1300 && limit < 1500, "MaxSendSize %d", limit);
	static char payload[20000];
	memset(payload, 'z', sizeof(payload));
	cr_assert_eq(rw_dtlsserver_send(s, r.last_id, payload, 1300), 0);
	cr_assert_eq(rw_dtlsserver_send(s, r.last_id, payload, (size_t)limit + 1), -RW_EMSGSIZE);
	cr_assert_eq(rw_dtlsserver_send(s, r.last_id, payload, sizeof(payload)), -RW_EMSGSIZE);
	cr_assert_eq(rw_dtlsserver_send(s, r.last_id, payload, 0), 0);
	cr_assert_eq(rw_dtlsserver_get_connection_local_port(s, r.last_id), port);
	close_in(&p);
	struct dt_ge disc = {&r.disconnected, r.disconnected + 1};
	cr_assert(dt_pump_until(s, dt_ge, &disc, 10000));
	rwt_proc_free(&p);
	rw_dtlsserver_free(s);
}
