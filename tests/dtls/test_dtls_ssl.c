/* tests/dtls/test_dtls_ssl.c: DTLSServer's SSL settings and read-outs with
 * a wolfSSL DTLS 1.2 client driven from the test's thread:
 * SSLEnabledCipherSuites picks what is negotiated (and a client that offers
 * none of the list fails while the server goes on serving others), the
 * SSLNegotiated* read-outs, bad lists refused, and the documents' SSL
 * settings this component does not have answer -RW_ENOT_SUPPORTED. */
#include "dtls_test.h"
#include "helpers/rwtest.h"

#include <criterion/criterion.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void echo_once(rw_dtlsserver *s, struct dt_client *c, const char *msg)
{
	cr_assert_eq(wolfSSL_write(c->ssl, msg, (int)strlen(msg)), (int)strlen(msg));
	char buf[256];
	double end = dt_now_ms() + 5000;
	while (dt_now_ms() < end) {
		rw_dtlsserver_do_events(s);
		int n = wolfSSL_read(c->ssl, buf, sizeof(buf));
		if (n > 0) {
			cr_assert_eq((size_t)n, strlen(msg));
			cr_assert_eq(memcmp(buf, msg, (size_t)n), 0);
			return;
		}
	}
	cr_assert_fail("no echo of '%s'", msg);
}

static rw_dtlsserver *server(struct dt_rec *r, const char *suites)
{
	char pem[256];
	snprintf(pem, sizeof(pem), "%s/server.pem", dt_certs()); /* EC P-256 */
	dt_rec_init(r);
	r->echo = true;
	rw_dtlsserver *s = dt_server(r, pem, NULL, false);
	cr_assert_eq(rw_dtlsserver_config(s, "DoEventsTimeout=5", NULL, 0), 0);
	if (suites) {
		char set[512];
		snprintf(set, sizeof(set), "SSLEnabledCipherSuites=%s", suites);
		int rc = rw_dtlsserver_config(s, set, NULL, 0);
		cr_assert_eq(rc, 0, "%s: %s", set, rw_strerror(rc));
	}
	int rc = rw_dtlsserver_start_listening(s);
	cr_assert_eq(rc, 0, "start_listening: %s", rw_strerror(rc));
	return s;
}

static void expect(rw_dtlsserver *s, const char *name, const char *want)
{
	char v[128] = "";
	int rc = rw_dtlsserver_config(s, name, v, sizeof(v));
	cr_assert_geq(rc, 0, "%s: %s", name, rw_strerror(rc));
	cr_assert_str_eq(v, want, "%s is '%s', want '%s'", name, v, want);
}

Test(dtls_ssl, enabled_cipher_suites_choose_what_is_negotiated, .timeout = 60)
{
	struct dt_rec r;
	rw_dtlsserver *s = server(&r, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
	expect(s, "SSLEnabledCipherSuites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
	struct dt_client c;
	dt_client_open(&c, rw_dtlsserver_get_local_port(s), NULL); /* the client's defaults prefer AES-256 */
	cr_assert(dt_client_handshake(s, &c));
	cr_assert_str_eq(wolfSSL_get_cipher_name(c.ssl), "ECDHE-ECDSA-AES128-GCM-SHA256");
	echo_once(s, &c, "one hundred and twenty-eight");
	char id[32];
	snprintf(id, sizeof(id), "[%lld]", (long long)r.last_id);
	char name[96];
#define READ_OUT(n, want)                                            \
	do {                                                         \
		snprintf(name, sizeof(name), "%s%s", n, id);         \
		expect(s, name, want);                               \
	} while (0)
	READ_OUT("SSLNegotiatedCipherSuite", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
	READ_OUT("SSLNegotiatedCipher", "AES_128_GCM");
	READ_OUT("SSLNegotiatedCipherStrength", "128");
	READ_OUT("SSLNegotiatedKeyExchange", "ECDHE SECP256R1");
	READ_OUT("SSLNegotiatedKeyExchangeStrength", "256");
	cr_assert_eq(rw_dtlsserver_config(s, "SSLNegotiatedCipher[9999]", name, sizeof(name)),
	             -RW_EINVALID_CONNID);
	cr_assert_eq(rw_dtlsserver_config(s, "SSLNegotiatedCipher[1]=x", NULL, 0), -RW_EBAD_VALUE);
	dt_client_close(&c);
	rw_dtlsserver_free(s);

	/* The defaults ("*") let the client's preference through. */
	s = server(&r, NULL);
	expect(s, "SSLEnabledCipherSuites", "*");
	dt_client_open(&c, rw_dtlsserver_get_local_port(s), NULL);
	cr_assert(dt_client_handshake(s, &c));
	snprintf(id, sizeof(id), "[%lld]", (long long)r.last_id);
	READ_OUT("SSLNegotiatedCipherSuite", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
	READ_OUT("SSLNegotiatedCipher", "AES_256_GCM");
	READ_OUT("SSLNegotiatedCipherStrength", "256");
#undef READ_OUT
	dt_client_close(&c);
	rw_dtlsserver_free(s);
}

Test(dtls_ssl, a_client_without_an_enabled_suite_fails_and_others_go_on, .timeout = 60)
{
	struct dt_rec r;
	rw_dtlsserver *s = server(&r, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256; TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256");
	struct dt_client bad;
	dt_client_open(&bad, rw_dtlsserver_get_local_port(s), "ECDHE-ECDSA-AES256-GCM-SHA384");
	cr_assert_not(dt_client_handshake(s, &bad), "a handshake without a common suite completed");
	struct dt_ge fail = {&r.connected_fail, 1};
	cr_assert(dt_pump_until(s, dt_ge, &fail, 5000), "no failed Connected");
	cr_assert_eq(r.last_connected_status, RW_EDTLS_HANDSHAKE);
	cr_assert_eq(r.connected_ok, 0);
	dt_client_close(&bad);
	struct dt_client good;
	dt_client_open(&good, rw_dtlsserver_get_local_port(s), "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384");
	cr_assert(dt_client_handshake(s, &good));
	cr_assert_str_eq(wolfSSL_get_cipher_name(good.ssl), "ECDHE-ECDSA-AES128-SHA256");
	echo_once(s, &good, "cbc");
	cr_assert_eq(r.connected_ok, 1);
	dt_client_close(&good);
	rw_dtlsserver_free(s);
}

Test(dtls_ssl, bad_cipher_lists_and_settings_that_are_not_supported)
{
	rw_dtlsserver *s = rw_dtlsserver_new();
	cr_assert_not_null(s);
	cr_assert_eq(rw_dtlsserver_config(s, "SSLEnabledCipherSuites=TLS_NO_SUCH_SUITE", NULL, 0), -RW_EBAD_VALUE);
	cr_assert_eq(rw_dtlsserver_config(s, "SSLEnabledCipherSuites=;;", NULL, 0), -RW_EBAD_VALUE);
	char v[256];
	cr_assert_gt(rw_dtlsserver_config(s, "SSLEnabledCipherSuites", v, sizeof(v)), 0);
	cr_assert_str_eq(v, "*", "a refused list changed the setting to '%s'", v);
	/* wolfSSL's own names work as well as IANA's; "*" goes back to the defaults. */
	cr_assert_eq(rw_dtlsserver_config(s, "SSLEnabledCipherSuites=ECDHE-ECDSA-AES128-GCM-SHA256", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_config(s, "SSLEnabledCipherSuites=*", NULL, 0), 0);
	cr_assert_gt(rw_dtlsserver_config(s, "SSLEnabledCipherSuites", v, sizeof(v)), 0);
	cr_assert_str_eq(v, "*");
	static const char *const names[] = {
		"SSLCipherStrength", "SSLKeyLogFile", "LogSSLPackets", "SSLCACerts", "TLS12SignatureAlgorithms",
		"TLS12SupportedGroups", "SSLEnableRenegotiation", "SSLCheckCRL", "SSLCheckOCSP", "SSLSecurityFlags",
		"ReuseSSLSession", "SSLServerCACerts", "KeepAliveTime", "KeepAliveInterval", "KeepAliveMode",
		"SSLCertEffectiveDate", "SSLCertExpirationDate", "SSLCertFingerprint", "SSLCertFingerprintSHA256",
		"SSLCertIssuer", "SSLCertPublicKeyLength", "SSLCertSerialNumber", "SSLCertThumbprintSHA1",
		"SSLCertUsageFlags", "SSLCertVersion", "SSLCertEncoded",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char set[128];
		snprintf(set, sizeof(set), "%s=1", names[i]);
		cr_assert_eq(rw_dtlsserver_config(s, names[i], v, sizeof(v)), -RW_ENOT_SUPPORTED, "%s", names[i]);
		cr_assert_eq(rw_dtlsserver_config(s, set, NULL, 0), -RW_ENOT_SUPPORTED, "%s", set);
	}
	cr_assert_eq(rw_dtlsserver_config(s, "NoSuchSetting", v, sizeof(v)), -RW_EUNKNOWN_CONFIG);
	rw_dtlsserver_free(s);

	/* Fixed while listening. */
	struct dt_rec r;
	s = server(&r, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
	cr_assert_eq(rw_dtlsserver_config(s, "SSLEnabledCipherSuites=*", NULL, 0), -RW_EBAD_STATE);
	rw_dtlsserver_free(s);
}
