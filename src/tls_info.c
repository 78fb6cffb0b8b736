/* src/tls_info.c: what a TLS connection negotiated (version, cipher suite,
 * key exchange, ALPN, SNI) and its TLS 1.2 key log line, in the documents'
 * names. */
#include "tls_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rw__tls_alpn(const struct rw_tls *t)
{
	static __thread char name[256];
	char *p = NULL;
	unsigned short len = 0;
	if (wolfSSL_ALPN_GetProtocol(t->ssl, &p, &len) != WOLFSSL_SUCCESS || !p)
		return "";
	snprintf(name, sizeof(name), "%.*s", (int)len, p);
	return name;
}

const char *rw__tls_server_name(const struct rw_tls *t)
{
	return t->server_name;
}

const uint8_t *rw__tls_ctx_cert_der(struct rw_tls_ctx *ctx, size_t *len)
{
	WOLFSSL_X509 *x = wolfSSL_CTX_get0_certificate(ctx->ctx);
	int n = 0;
	const unsigned char *der = x ? wolfSSL_X509_get_der(x, &n) : NULL;
	*len = der && n > 0 ? (size_t)n : 0;
	return *len ? der : NULL;
}

const char *rw__tls_suite_name(uint16_t suite)
{
	const char *n = wolfSSL_get_cipher_name_iana_from_suite((unsigned char)(suite >> 8), (unsigned char)suite);
	return n && *n && strcmp(n, "None") ? n : NULL;
}

const char *rw__tls_version(const struct rw_tls *t)
{
	return wolfSSL_get_version(t->ssl);
}

/* The IANA name ("TLS_AES_128_GCM_SHA256"), as the documents' cipher-suite
 * settings use; wolfSSL's own name when it has no IANA one. */
const char *rw__tls_cipher(const struct rw_tls *t)
{
	int cs = wolfSSL_get_current_cipher_suite(t->ssl);
	const char *iana = cs >= 0 ? wolfSSL_get_cipher_name_iana_from_suite((unsigned char)(cs >> 8),
	                                                                     (unsigned char)cs)
	                           : NULL;
	return iana && *iana && strcmp(iana, "None") ? iana : wolfSSL_get_cipher_name(t->ssl);
}

static size_t hex(char *out, const unsigned char *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	return 2 * n;
}

size_t rw__tls_keylog_line(const struct rw_tls *t, char *buf, size_t len)
{
	unsigned char random[32], master[48];
	WOLFSSL_SESSION *sess = wolfSSL_get_session(t->ssl);
	if (!t->open || wolfSSL_version(t->ssl) != TLS1_2_VERSION || !sess || len < 14 + 64 + 1 + 96 + 1 ||
	    wolfSSL_get_client_random(t->ssl, random, sizeof(random)) != sizeof(random) ||
	    wolfSSL_SESSION_get_master_key(sess, master, sizeof(master)) != (int)sizeof(master))
		return 0;
	size_t o = 0;
	memcpy(buf, "CLIENT_RANDOM ", 14);
	o = 14;
	o += hex(buf + o, random, sizeof(random));
	buf[o++] = ' ';
	o += hex(buf + o, master, sizeof(master));
	buf[o] = 0;
	return o;
}

const char *rw__tls_bulk_cipher(const struct rw_tls *t)
{
	static __thread char bulk[64];
	const char *iana = rw__tls_cipher(t), *w = strstr(iana, "_WITH_");
	w = w ? w + 6 : strncmp(iana, "TLS_", 4) == 0 ? iana + 4 : iana;
	snprintf(bulk, sizeof(bulk), "%s", w);
	char *mac = strrchr(bulk, '_'); /* the MAC/PRF hash ends every IANA name */
	if (mac && strncmp(mac, "_SHA", 4) == 0)
		*mac = 0;
	return bulk;
}

int rw__tls_cipher_bits(const struct rw_tls *t)
{
	WOLFSSL_CIPHER *c = wolfSSL_get_current_cipher(t->ssl);
	return c ? wolfSSL_CIPHER_get_bits(c, NULL) : 0;
}

const char *rw__tls_ssl_kx(struct WOLFSSL *ssl, const char **group, int *bits)
{
	const char *g = wolfSSL_get_curve_name(ssl);
	const char *name = wolfSSL_get_cipher_name(ssl);
	*group = g ? g : "";
	*bits = 0;
	if (g) {
		if (strstr(g, "25519"))
			*bits = 253; /* Curve25519 gives about 128-bit security over a 253-bit order */
		else if (strstr(g, "448"))
			*bits = 448;
		else
			for (const char *p = g; *p && !*bits; p++)
				if (*p >= '0' && *p <= '9')
					*bits = atoi(p);
	}
	if (g && strncmp(g, "FFDHE", 5) == 0)
		return "DHE";
	if (g || (name && (strncmp(name, "TLS13", 5) == 0 || strncmp(name, "ECDHE", 5) == 0)))
		return "ECDHE";
	return name && strncmp(name, "DHE", 3) == 0 ? "DHE" : "RSA";
}

const char *rw__tls_kx(const struct rw_tls *t, const char **group, int *bits)
{
	return rw__tls_ssl_kx(t->ssl, group, bits);
}
