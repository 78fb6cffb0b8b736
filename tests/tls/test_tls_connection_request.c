/* tests/tls/test_tls_connection_request.c: SSLConnectionRequest against
 * openssl s_client: the offered cipher suites and signature algorithms as the
 * client sent them, Accept false failing the handshake, and a certificate
 * chosen per client (RSA for a client that offers no ECDSA signature). */
#include "tls_test_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int requests;
static char seen_suites[4096], seen_sigalgs[1024];
static bool refuse;
static char rsa_pem[256];
static bool bad_alternative;

static void on_request(rw_tcpserver *s, rw_tcpserver_ssl_connection_request *e, void *u)
{
	requests++;
	snprintf(seen_suites, sizeof(seen_suites), "%s", e->supported_cipher_suites);
	snprintf(seen_sigalgs, sizeof(seen_sigalgs), "%s", e->supported_signature_algs);
	cr_assert_eq(e->accept, true);
	cr_assert_eq(e->cert_store_type, rw_tcpserver_get_ssl_cert_store_type(s), "starts as the server's own setting");
	cr_assert_eq(e->cert_store_len, strlen(pem));
	cr_assert_arr_eq(e->cert_store, pem, strlen(pem));
	if (refuse)
		e->accept = false;
	if (rsa_pem[0] && !strstr(e->supported_signature_algs, "ecdsa")) {
		e->cert_store_type = RW_CERT_PEM_KEY_FILE;
		e->cert_store = rsa_pem;
		e->cert_store_len = strlen(rsa_pem);
		e->cert_subject = "*";
	}
	if (bad_alternative) {
		e->cert_store_type = RW_CERT_PEM_KEY_BLOB;
		e->cert_store = "not a certificate";
		e->cert_store_len = 17;
	}
}

static const rw_tcpserver_events ev = {
	.connected = on_connected, .disconnected = on_disconnected, .data_in = on_data,
	.ssl_connection_request = on_request,
};

static rw_tcpserver *server(struct state *st)
{
	make_cert();
	rw_tcpserver *s = tls_server_unstarted(st, &ev);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	return s;
}

/* s_client with extra options; prints the peer certificate's subject line
 * and the echo of "hello". */
static int s_client(rw_tcpserver *s, const char *opts, char *out, size_t len)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd),
	         "(echo hello; sleep 1) | openssl s_client -connect 127.0.0.1:$1 %s 2>/dev/null | "
	         "grep -E '^(subject=|hello$)'", opts);
	return run_shell(s, cmd, out, len, 20);
}

Test(tls_connection_request, offered_suites_and_signature_algorithms)
{
	struct state st = {0};
	rw_tcpserver *s = server(&st);
	char out[1024];
	cr_assert_eq(s_client(s, "-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384 "
	                         "-sigalgs ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:ed25519", out, sizeof(out)), 0);
	cr_assert(strstr(out, "hello\n") != NULL, "echo after the event: %s", out);
	cr_assert_eq(requests, 1);
	cr_assert(strncmp(seen_suites, "TLS_CHACHA20_POLY1305_SHA256,TLS_AES_256_GCM_SHA384,", 52) == 0, "%s",
	          seen_suites);
	cr_assert_str_eq(seen_sigalgs, "ecdsa_secp256r1_sha256,rsa_pss_rsae_sha256,ed25519");
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_connection_request, accept_false_fails_the_handshake)
{
	struct state st = {0};
	rw_tcpserver *s = server(&st);
	char out[1024];
	refuse = true;
	s_client(s, "", out, sizeof(out));
	cr_assert(strstr(out, "hello") == NULL, "%s", out);
	pump_until(s, &st.disconnected, 1, 5);
	cr_assert_eq(st.failed_status, RW_ESSL_HANDSHAKE);
	refuse = false;
	cr_assert_eq(s_client(s, "", out, sizeof(out)), 0);
	cr_assert(strstr(out, "hello\n") != NULL, "the next client is served: %s", out);
	cr_assert_eq(requests, 2);
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_connection_request, a_certificate_per_client)
{
	struct state st = {0};
	rw_tcpserver *s = server(&st);
	snprintf(rsa_pem, sizeof(rsa_pem), "%s/rsa.pem", dir);
	char cmd[800];
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/rk -out %s/rc -days 2 -subj /CN=rsa-alt "
	         ">/dev/null 2>&1 && cat %s/rc %s/rk > %s", dir, dir, dir, dir, rsa_pem);
	cr_assert_eq(system(cmd), 0);
	char out[1024];
	for (int round = 0; round < 2; round++) { /* the second time from the cache */
		cr_assert_eq(s_client(s, "-tls1_3 -sigalgs rsa_pss_rsae_sha256", out, sizeof(out)), 0);
		cr_assert(strstr(out, "CN = rsa-alt") && strstr(out, "hello\n"), "%s", out);
		cr_assert_eq(s_client(s, "-tls1_2 -sigalgs ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256", out, sizeof(out)), 0);
		cr_assert(strstr(out, "CN = localhost") && strstr(out, "hello\n"), "%s", out);
	}
	cr_assert_eq(st.failed_status, 0);
	bad_alternative = true;
	s_client(s, "", out, sizeof(out));
	cr_assert(strstr(out, "hello") == NULL, "%s", out);
	pump_until(s, &st.disconnected, 5, 5);
	cr_assert_eq(st.failed_status, RW_ESSL_HANDSHAKE, "a certificate that cannot be loaded fails the handshake");
	rw_tcpserver_free(s);
	drop_cert();
}
