/* src/tls_options.c: the TLS context's settings from the documents' SSL
 * properties and Config (cipher suites, ALPN, supported groups, signature
 * algorithms, renegotiation, key logging), translated into wolfSSL's terms. */
#include "tls_priv.h"

#include "ringworks/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *rw__tls_wolf_cipher_name(const char *name, char *all, size_t all_len)
{
	unsigned char s0, s1;
	int flags;
	if (wolfSSL_get_cipher_suite_from_name(name, &s0, &s1, &flags) == 0)
		return name;
	if (wolfSSL_get_ciphers(all, (int)all_len) != WOLFSSL_SUCCESS)
		return NULL;
	char *save = NULL;
	for (char *w = strtok_r(all, ":", &save); w; w = strtok_r(NULL, ":", &save)) {
		if (wolfSSL_get_cipher_suite_from_name(w, &s0, &s1, &flags) != 0)
			continue;
		const char *iana = wolfSSL_get_cipher_name_iana_from_suite(s0, s1);
		if (iana && strcmp(iana, name) == 0)
			return w;
	}
	return NULL;
}

/* Bulk cipher key bits of a wolfSSL suite name ("ECDHE-RSA-AES256-GCM-SHA384",
 * "TLS13-CHACHA20-POLY1305-SHA256"), for SSLCipherStrength. */
static int name_bits(const char *w)
{
	if (strstr(w, "NULL"))
		return 0;
	if (strstr(w, "CHACHA20"))
		return 256;
	if (strstr(w, "DES-CBC3") || strstr(w, "3DES"))
		return 112;
	static const char *const families[] = {"AES", "CAMELLIA", "ARIA"};
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		const char *f = strstr(w, families[i]);
		if (f) {
			f += strlen(families[i]);
			f += *f == '-' || *f == '_';
			int bits = atoi(f);
			if (bits)
				return bits;
		}
	}
	return 128;
}

/* Keep the names of a ':' list (in place) whose bulk cipher has min_bits. */
static size_t keep_strong(char *list, int min_bits)
{
	size_t o = 0;
	char *save = NULL;
	for (char *w = strtok_r(list, ":", &save); w; w = strtok_r(NULL, ":", &save)) {
		if (name_bits(w) < min_bits)
			continue;
		size_t n = strlen(w);
		if (o)
			list[o++] = ':';
		memmove(list + o, w, n);
		o += n;
	}
	list[o] = 0;
	return o;
}

int rw__tls_ctx_set_ciphers(struct rw_tls_ctx *c, const char *list, int min_bits)
{
	char out[8192] = "", name[128], all[8192];
	size_t o = 0;
	if (!list || !*list || strcmp(list, "*") == 0) {
		if (min_bits <= 0)
			return 0;
		if (wolfSSL_get_ciphers(out, (int)sizeof(out)) != WOLFSSL_SUCCESS)
			return -RW_ESSL_LIBRARY;
		o = strlen(out);
		list = "";
	}
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ";,");
		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		size_t m = n;
		while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
			m--;
		if (m) {
			if (m >= sizeof(name))
				return -RW_EBAD_VALUE;
			memcpy(name, p, m);
			name[m] = 0;
			const char *w = rw__tls_wolf_cipher_name(name, all, sizeof(all));
			if (!w)
				return -RW_EBAD_VALUE;
			int k = snprintf(out + o, sizeof(out) - o, "%s%s", o ? ":" : "", w);
			if (k < 0 || (size_t)k >= sizeof(out) - o)
				return -RW_EBAD_VALUE;
			o += (size_t)k;
		}
		p += n;
		if (*p)
			p++;
	}
	if (min_bits > 0)
		o = keep_strong(out, min_bits);
	if (!o || wolfSSL_CTX_set_cipher_list(c->ctx, out) != WOLFSSL_SUCCESS)
		return -RW_ENOT_SUPPORTED;
	return 0;
}

/* ALPN: the server's order wins. */
static int on_alpn(WOLFSSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	const struct rw_tls_ctx *c = arg;
	for (size_t i = 0; i < c->alpn_len; i += 1u + c->alpn[i]) {
		for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
			if (in[j] == c->alpn[i] && j + 1u + in[j] <= inlen &&
			    memcmp(in + j + 1, c->alpn + i + 1, in[j]) == 0) {
				*out = in + j + 1;
				*outlen = in[j];
				return 0; /* SSL_TLSEXT_ERR_OK */
			}
		}
	}
	return 3; /* SSL_TLSEXT_ERR_NOACK: no protocol in common, no ALPN answer */
}

int rw__tls_ctx_set_alpn(struct rw_tls_ctx *c, const char *list)
{
	size_t n = 0;
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 0 || len > 255 || n + 1 + len > sizeof(c->alpn))
			return -RW_EBAD_VALUE;
		c->alpn[n] = (uint8_t)len;
		memcpy(c->alpn + n + 1, p, len);
		n += 1 + len;
		p = e ? e + 1 : p + len;
	}
	c->alpn_len = n;
	wolfSSL_CTX_set_alpn_select_cb(c->ctx, n ? on_alpn : NULL, c);
	return 0;
}

static int group_id(const char *name, size_t n)
{
	static const struct { const char *name; int id; } groups[] = {
		{"ecdhe_secp256r1", WOLFSSL_ECC_SECP256R1}, {"ecdhe_secp384r1", WOLFSSL_ECC_SECP384R1},
		{"ecdhe_secp521r1", WOLFSSL_ECC_SECP521R1}, {"ecdhe_x25519", WOLFSSL_ECC_X25519},
		{"ecdhe_x448", WOLFSSL_ECC_X448},           {"ffdhe_2048", WOLFSSL_FFDHE_2048},
		{"ffdhe_3072", WOLFSSL_FFDHE_3072},         {"ffdhe_4096", WOLFSSL_FFDHE_4096},
		{"ffdhe_6144", WOLFSSL_FFDHE_6144},         {"ffdhe_8192", WOLFSSL_FFDHE_8192},
	};
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (strlen(groups[i].name) == n && strncasecmp(groups[i].name, name, n) == 0)
			return groups[i].id;
	return 0;
}

static int add_groups(const char *list, int *ids, int *n, int max)
{
	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",; ");
		if (len) {
			int id = group_id(p, len);
			if (!id)
				return -RW_EBAD_VALUE;
			bool seen = false;
			for (int i = 0; i < *n; i++)
				seen |= ids[i] == id;
			if (!seen && *n < max)
				ids[(*n)++] = id;
		}
		p += len;
		if (*p)
			p++;
	}
	return 0;
}

int rw__tls_ctx_set_groups(struct rw_tls_ctx *c, const char *tls13, const char *tls12)
{
	int ids[16], n = 0, rc;
	if ((rc = add_groups(tls13, ids, &n, 16)) < 0 || (rc = add_groups(tls12, ids, &n, 16)) < 0)
		return rc;
	if (n && wolfSSL_CTX_set_groups(c->ctx, ids, n) != WOLFSSL_SUCCESS)
		return -RW_ENOT_SUPPORTED;
	return 0;
}

/* A signature algorithm in the documents' names (TLS13SignatureAlgorithms:
 * rsa_pss_sha256, ecdsa_secp256r1_sha256, ed25519; TLS12SignatureAlgorithms:
 * sha256-rsa, sha384-ecdsa) as wolfSSL's "KEY+HASH" term; "" for DSA, which
 * no TLS 1.2/1.3 stack here signs with (the documents' defaults name it);
 * NULL for an unknown name. */
static const char *sigalg_term(const char *name, size_t n)
{
	static const struct { const char *doc, *wolf; } map[] = {
		{"rsa_pss_sha256", "RSA-PSS+SHA256"}, {"rsa_pss_sha384", "RSA-PSS+SHA384"},
		{"rsa_pss_sha512", "RSA-PSS+SHA512"}, {"rsa_pkcs1_sha256", "RSA+SHA256"},
		{"rsa_pkcs1_sha384", "RSA+SHA384"},   {"rsa_pkcs1_sha512", "RSA+SHA512"},
		{"ecdsa_secp256r1_sha256", "ECDSA+SHA256"}, {"ecdsa_secp384r1_sha384", "ECDSA+SHA384"},
		{"ecdsa_secp521r1_sha512", "ECDSA+SHA512"}, {"ed25519", "ED25519"}, {"ed448", "ED448"},
		{"sha512-ecdsa", "ECDSA+SHA512"}, {"sha512-rsa", "RSA+SHA512"},
		{"sha384-ecdsa", "ECDSA+SHA384"}, {"sha384-rsa", "RSA+SHA384"},
		{"sha256-ecdsa", "ECDSA+SHA256"}, {"sha256-rsa", "RSA+SHA256"},
		{"sha224-ecdsa", "ECDSA+SHA224"}, {"sha224-rsa", "RSA+SHA224"},
		{"sha1-ecdsa", "ECDSA+SHA1"},     {"sha1-rsa", "RSA+SHA1"},
		{"sha512-dsa", ""}, {"sha384-dsa", ""}, {"sha256-dsa", ""}, {"sha224-dsa", ""}, {"sha1-dsa", ""},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i].doc) == n && strncasecmp(map[i].doc, name, n) == 0)
			return map[i].wolf;
	return NULL;
}

static int add_sigalgs(const char *list, char *out, size_t cap, size_t *o)
{
	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",; ");
		if (len) {
			const char *term = sigalg_term(p, len);
			if (!term)
				return -RW_EBAD_VALUE;
			if (*term && !strstr(out, term)) { /* each term once */
				int k = snprintf(out + *o, cap - *o, "%s%s", *o ? ":" : "", term);
				if (k < 0 || (size_t)k >= cap - *o)
					return -RW_EBAD_VALUE;
				*o += (size_t)k;
			}
		}
		p += len;
		if (*p)
			p++;
	}
	return 0;
}

int rw__tls_ctx_set_sigalgs(struct rw_tls_ctx *c, const char *tls13, const char *tls12)
{
	char out[512] = "";
	size_t o = 0;
	int rc;
	if ((rc = add_sigalgs(tls13, out, sizeof(out), &o)) < 0 || (rc = add_sigalgs(tls12, out, sizeof(out), &o)) < 0)
		return rc;
	if (!o)
		return (tls13 && *tls13) || (tls12 && *tls12) ? -RW_EBAD_VALUE : 0;
	/* Checked here once; each connection applies it (tls_filter.c), since
	 * wolfSSL builds a session's lists afresh from its own defaults. */
	if (wolfSSL_CTX_set1_sigalgs_list(c->ctx, out) != WOLFSSL_SUCCESS)
		return -RW_ENOT_SUPPORTED;
	memcpy(c->sigalgs, out, o + 1);
	return 0;
}

int rw__tls_ctx_set_renegotiation(struct rw_tls_ctx *c, bool on)
{
	c->renegotiation = on;
	if (!on)
		return 0; /* tls_filter.c refuses it (reneg_guard) */
#ifdef HAVE_SECURE_RENEGOTIATION
	return wolfSSL_CTX_UseSecureRenegotiation(c->ctx) == WOLFSSL_SUCCESS ? 0 : -RW_ESSL_LIBRARY;
#else
	return -RW_ENOT_SUPPORTED;
#endif
}

bool rw__tls_renegotiation_supported(void)
{
#ifdef HAVE_SECURE_RENEGOTIATION
	return true;
#else
	return false;
#endif
}

#if defined(HAVE_SECRET_CALLBACK) && defined(OPENSSL_EXTRA)
/* TLS 1.3 secrets, one NSS key log line each, as wolfSSL derives them inside
 * rw__tls_feed; the connection writes them out. */
static void on_keylog(const WOLFSSL *ssl, const char *line)
{
	struct rw_tls *t = wolfSSL_GetIOReadCtx((WOLFSSL *)ssl);
	if (t && t->cbs && t->cbs->keylog)
		t->cbs->keylog(t->cb_ctx, line, strlen(line));
}
#endif

void rw__tls_ctx_set_keylog(struct rw_tls_ctx *c, bool on)
{
	c->keylog = on;
#if defined(HAVE_SECRET_CALLBACK) && defined(OPENSSL_EXTRA)
	wolfSSL_CTX_set_keylog_callback(c->ctx, on ? on_keylog : NULL);
#endif
}
