/* tests/tls/test_tls_options.c: the TLS settings whose behaviour depends on
 * the wolfSSL flavour (meson -Dwolfssl=tuned|system, RW_TEST_WOLFSSL_TUNED):
 * SSLKeyLogFile for TLS 1.3, SSLEnableRenegotiation, and the TLS 1.3/1.2
 * signature algorithm lists, checked against python3's ssl module and
 * openssl s_client. Features the system wolfSSL lacks must answer "not
 * supported" there, and work on the tuned build. */
#include "tls_test_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RW_TEST_WOLFSSL_TUNED
#error "tests/tls/meson.build defines RW_TEST_WOLFSSL_TUNED"
#endif

/* Every TLS 1.3 secret line the server logged must be in the client's own
 * key log (python's ssl writes NSS lines, as SSLKEYLOGFILE does). */
Test(tls_options, key_log_file_for_tls13)
{
	make_cert();
	struct state st = {0};
	rw_tcpserver *s = tls_server_unstarted(&st, &events);
	char server_log[300], client_log[300];
	key_log_exchange(s, "ctx.minimum_version = ssl.TLSVersion.TLSv1_3", server_log, client_log);
	char cmd[1600];
	if (RW_TEST_WOLFSSL_TUNED) {
		/* The four traffic secrets, each the very line the client logged. */
		snprintf(cmd, sizeof(cmd),
		         "for l in CLIENT_HANDSHAKE_TRAFFIC_SECRET SERVER_HANDSHAKE_TRAFFIC_SECRET "
		         "CLIENT_TRAFFIC_SECRET_0 SERVER_TRAFFIC_SECRET_0; do "
		         /* wolfSSL writes upper-case hex, OpenSSL lower-case */
		         "line=$(grep \"^$l \" %s) && test -n \"$line\" && grep -qix \"$line\" %s || exit 1; done",
		         server_log, client_log);
		cr_assert_eq(system(cmd), 0, "the server's TLS 1.3 key log lines differ from the client's");
	} else {
		snprintf(cmd, sizeof(cmd), "test ! -s %s", server_log);
		cr_assert_eq(system(cmd), 0, "the system wolfSSL has no secret callback: nothing is logged for TLS 1.3");
	}
	rw_tcpserver_free(s);
	drop_cert();
}

/* openssl s_client renegotiates when a line "R" is typed (it says
 * RENEGOTIATING on stderr); the lines around it are echoed. */
static const char *const s_client_renegotiate =
	"(printf 'before\\n'; sleep 1; printf 'R\\n'; sleep 1; printf 'after\\n'; sleep 1) | "
	"openssl s_client -connect 127.0.0.1:$1 -tls1_2 2>/dev/null | grep -E '^(before|after|RENEGOTIATING)$'";

static int errors_seen;
static void on_error(rw_tcpserver *s, const rw_tcpserver_error *e, void *u) { errors_seen++; }

Test(tls_options, renegotiation_is_refused_by_default)
{
	make_cert();
	struct state st = {0};
	static const rw_tcpserver_events ev = {
		.connected = on_connected, .disconnected = on_disconnected, .data_in = on_data, .error = on_error,
	};
	rw_tcpserver *s = tls_server_unstarted(&st, &ev);
	char value[16];
	cr_assert_geq(rw_tcpserver_config(s, "SSLEnableRenegotiation", value, sizeof(value)), 0);
	cr_assert_str_eq(value, "False");
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	char out[4096];
	run_shell(s, s_client_renegotiate, out, sizeof(out), 20);
	cr_assert_str_eq(out, "before\n", "a refused renegotiation ends the connection");
	pump_until(s, &st.disconnected, 1, 5);
	cr_assert_eq(st.last_status, RW_ESSL_HANDSHAKE);
	cr_assert_eq(errors_seen, 1);
	/* The next client is served as usual. */
	cr_assert_eq(run_shell(s, "(echo again; sleep 1) | openssl s_client -connect 127.0.0.1:$1 2>/dev/null | grep -x again",
	                       out, sizeof(out), 20), 0);
	cr_assert_str_eq(out, "again\n");
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_options, renegotiation_when_enabled)
{
	make_cert();
	struct state st = {0};
	rw_tcpserver *s = tls_server_unstarted(&st, &events);
	int rc = rw_tcpserver_config(s, "SSLEnableRenegotiation=True", NULL, 0);
	if (!RW_TEST_WOLFSSL_TUNED) {
		cr_assert_eq(rc, -RW_ENOT_SUPPORTED, "the system wolfSSL has no secure renegotiation");
		rw_tcpserver_free(s);
		drop_cert();
		return;
	}
	cr_assert_eq(rc, 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	cr_assert_eq(rw_tcpserver_config(s, "SSLEnableRenegotiation=False", NULL, 0), -RW_EBAD_STATE);
	char out[4096];
	cr_assert_eq(run_shell(s, s_client_renegotiate, out, sizeof(out), 20), 0, "%s", out);
	cr_assert_str_eq(out, "before\nafter\n", "echo on both sides of the renegotiation");
	cr_assert_eq(st.failed_status, 0);
	rw_tcpserver_free(s);
	drop_cert();
}

/* With client authentication on, the CertificateRequest carries the server's
 * signature algorithms: s_client prints them. */
static void requested_sigalgs(const char *setting, const char *version, const char *want)
{
	make_cert();
	struct state st = {0};
	rw_tcpserver *s = tls_server_unstarted(&st, &events);
	cr_assert_eq(rw_tcpserver_config(s, setting, NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_set_ssl_authenticate_clients(s, true), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	char cmd[300], out[16384];
	snprintf(cmd, sizeof(cmd), "echo x | openssl s_client -connect 127.0.0.1:$1 %s 2>&1 | grep '^Requested Signature'",
	         version);
	cr_assert_eq(run_shell(s, cmd, out, sizeof(out), 20), 0, "%s", out);
	cr_assert_str_eq(out, want);
	rw_tcpserver_free(s);
	drop_cert();
}

/* wolfSSL keeps one list for both versions and, in 5.5.4, a TLS 1.3
 * CertificateRequest always carries every algorithm it has: the TLS 1.3 list
 * shows in TLS 1.2 handshakes (tls_filter.h documents this). */
Test(tls_options, tls13_signature_algorithms_shape_the_certificate_request)
{
	requested_sigalgs("TLS13SignatureAlgorithms=ecdsa_secp384r1_sha384,rsa_pss_sha256", "-tls1_2",
	                  "Requested Signature Algorithms: ECDSA+SHA384:RSA-PSS+SHA256:rsa_pss_pss_sha256\n");
}

Test(tls_options, tls12_signature_algorithms_and_dsa_names_ignored)
{
	requested_sigalgs("TLS12SignatureAlgorithms=sha256-rsa,sha256-dsa,sha512-ecdsa", "-tls1_2",
	                  "Requested Signature Algorithms: RSA+SHA256:ECDSA+SHA512\n");
}

Test(tls_options, unknown_signature_algorithm_is_refused_at_start_listening)
{
	make_cert();
	struct state st = {0};
	rw_tcpserver *s = tls_server_unstarted(&st, &events);
	cr_assert_eq(rw_tcpserver_config(s, "TLS13SignatureAlgorithms=rsa_pss_md5", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), -RW_EBAD_VALUE);
	cr_assert_eq(rw_tcpserver_config(s, "TLS13SignatureAlgorithms=", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0, "an empty list keeps wolfSSL's defaults");
	rw_tcpserver_free(s);
	drop_cert();
}

/* A PFX that carries its CA certificate: the server sends the whole chain,
 * so a client that trusts only the CA verifies the server. */
Test(tls_options, pfx_chain_is_sent)
{
	make_cert();
	char cmd[1600];
	snprintf(cmd, sizeof(cmd),
	         "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cak -out ca "
	         "-days 2 -subj /CN=chain-ca -addext basicConstraints=critical,CA:TRUE >/dev/null 2>&1 && "
	         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout lk -out lr -subj /CN=localhost "
	         ">/dev/null 2>&1 && openssl x509 -req -in lr -CA ca -CAkey cak -CAcreateserial -out l -days 2 "
	         ">/dev/null 2>&1 && openssl pkcs12 -export -inkey lk -in l -certfile ca -out s.pfx -passout pass:pw "
	         ">/dev/null 2>&1", dir);
	cr_assert_eq(system(cmd), 0);
	struct state st = {0};
	rw_tcpserver *s = tls_server_unstarted(&st, &events);
	char pfx[300];
	snprintf(pfx, sizeof(pfx), "%s/s.pfx", dir);
	cr_assert_eq(rw_tcpserver_set_ssl_cert_store_type(s, RW_CERT_PFX_FILE), 0);
	cr_assert_eq(rw_tcpserver_set_ssl_cert_store(s, pfx, strlen(pfx)), 0);
	cr_assert_eq(rw_tcpserver_set_ssl_cert_store_password(s, "pw"), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	char out[8192];
	snprintf(cmd, sizeof(cmd),
	         "(echo chain; sleep 1) | openssl s_client -connect 127.0.0.1:$1 -showcerts -CAfile %s/ca "
	         "-verify_return_error 2>/dev/null | grep -cE '^-----BEGIN CERTIFICATE|^chain$'", dir);
	cr_assert_eq(run_shell(s, cmd, out, sizeof(out), 20), 0, "%s", out);
	cr_assert_str_eq(out, "3\n", "two certificates sent, verified against the CA, then the echo");
	rw_tcpserver_free(s);
	drop_cert();
}

static char cert_b64[4096];

static void read_file(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, len - 1, p);
	out[n] = 0;
	pclose(p);
	while (n && (out[n - 1] == '\n'))
		out[--n] = 0;
}

Test(tls_options, cert_encoded_selects_and_reports_the_certificate)
{
	make_cert();
	char cmd[600], other[4096];
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -outform DER | base64 -w0", pem);
	read_file(cmd, cert_b64, sizeof(cert_b64));
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null "
	         "-days 2 -subj /CN=other 2>/dev/null");
	read_file(cmd, other, sizeof(other));
	struct state st = {0};
	rw_tcpserver *s = tls_server_unstarted(&st, &events);
	cr_assert_eq(rw_tcpserver_set_ssl_cert_encoded(s, "not base64!"), -RW_EBAD_VALUE);
	cr_assert_eq(rw_tcpserver_set_ssl_cert_encoded(s, other), 0, "PEM armour is accepted");
	cr_assert_eq(rw_tcpserver_start_listening(s), -RW_ESSL_CERT_NOT_FOUND, "the store holds another certificate");
	char own_pem[4096];
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s", pem);
	read_file(cmd, own_pem, sizeof(own_pem));
	cr_assert_eq(rw_tcpserver_set_ssl_cert_encoded(s, own_pem), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	char got[4096];
	cr_assert_eq(rw_tcpserver_get_ssl_cert_encoded(s, got, 8), -RW_EBUFFER_TOO_SMALL);
	cr_assert_gt(rw_tcpserver_get_ssl_cert_encoded(s, got, sizeof(got)), 0);
	cr_assert_str_eq(got, cert_b64);
	rw_tcpserver_free(s);
	drop_cert();
}

static char neg_cipher[64];

static void on_connected_cipher(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u)
{
	on_connected(s, e, u);
	char key[64];
	snprintf(key, sizeof(key), "SSLNegotiatedCipher[%lld]", (long long)e->connection_id);
	if (!e->status_code)
		cr_assert_geq(rw_tcpserver_config(s, key, neg_cipher, sizeof(neg_cipher)), 0);
}

Test(tls_options, cipher_strength_and_negotiated_cipher)
{
	make_cert();
	struct state st = {0};
	static const rw_tcpserver_events ev = {
		.connected = on_connected_cipher, .disconnected = on_disconnected, .data_in = on_data,
	};
	rw_tcpserver *s = tls_server_unstarted(&st, &ev);
	cr_assert_eq(rw_tcpserver_config(s, "SSLCipherStrength=256", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	char out[256];
	static const char *const weak =
		"(echo c; sleep 1) | openssl s_client -connect 127.0.0.1:$1 -tls1_3 "
		"-ciphersuites TLS_AES_128_GCM_SHA256 2>/dev/null | grep -x c";
	run_shell(s, weak, out, sizeof(out), 20);
	cr_assert_str_eq(out, "", "a client with only AES-128 finds no cipher of 256 bits");
	static const char *const strong =
		"(echo c; sleep 1) | openssl s_client -connect 127.0.0.1:$1 -tls1_3 "
		"-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384 2>/dev/null | grep -x c";
	cr_assert_eq(run_shell(s, strong, out, sizeof(out), 20), 0);
	cr_assert_str_eq(out, "c\n");
	cr_assert_str_eq(neg_cipher, "AES_256_GCM");
	static const char *const tls12 =
		"(echo c; sleep 1) | openssl s_client -connect 127.0.0.1:$1 -tls1_2 "
		"-cipher ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256 2>/dev/null | grep -x c";
	cr_assert_eq(run_shell(s, tls12, out, sizeof(out), 20), 0);
	cr_assert_str_eq(neg_cipher, "CHACHA20_POLY1305");
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_options, tls12_only_server_refuses_a_tls13_only_client)
{
	make_cert();
	struct state st = {0};
	rw_tcpserver *s = tls_server_unstarted(&st, &events);
	cr_assert_eq(rw_tcpserver_config(s, "SSLEnabledProtocols=3072", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	char out[256];
	run_shell(s, "(echo v; sleep 1) | openssl s_client -connect 127.0.0.1:$1 -tls1_3 2>/dev/null | grep -x v",
	          out, sizeof(out), 20);
	cr_assert_str_eq(out, "", "no TLS 1.3 on a TLS 1.2-only server");
	pump_until(s, &st.disconnected, 1, 5);
	cr_assert_neq(st.failed_status, 0, "Connected with a non-zero status");
	cr_assert_eq(run_shell(s, "(echo v; sleep 1) | openssl s_client -connect 127.0.0.1:$1 -tls1_2 2>/dev/null | grep -x v",
	                       out, sizeof(out), 20), 0);
	cr_assert_str_eq(out, "v\n");
	rw_tcpserver_free(s);
	/* TLS 1.0 (192) and 1.1 (768) are refused by decision. */
	s = tls_server_unstarted(&st, &events);
	cr_assert_eq(rw_tcpserver_config(s, "SSLEnabledProtocols=3840", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), -RW_ENOT_SUPPORTED);
	rw_tcpserver_free(s);
	drop_cert();
}
