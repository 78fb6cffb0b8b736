/* src/tls_filter.c: wolfSSL driven as a byte filter. The receive callback
 * reads from the window of ciphertext that rw__tls_feed was given and says
 * WANT_READ when it is used up; the send callback passes ciphertext to the
 * sink. wolfSSL's global init is reference counted here, so that no global
 * state leaks out to the user. */
#include "tls_filter.h"
#include "tls_cert.h"

#include "ringworks/common.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rw_tls_ctx {
	WOLFSSL_CTX *ctx;
	uint8_t alpn[256]; /* ALPN wire format: length-prefixed names */
	size_t alpn_len;
	bool client_auth;
};

struct rw_tls {
	WOLFSSL *ssl;
	rw_tls_sink_fn sink;
	void *sink_ctx;
	const uint8_t *in;
	size_t in_len, in_off;
	int open;
	char error[128];
	char server_name[256];
	/* during rw__tls_feed, for callbacks that run inside wolfSSL */
	const struct rw_tls_cbs *cbs;
	void *cb_ctx;
	int chain_error;  /* a verification failure above the leaf */
	bool cert_decided;
	bool no_cert;
	bool client_auth;
};

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int init_refs;

static int global_ref(void)
{
	int rc = 0;
	pthread_mutex_lock(&init_lock);
	if (init_refs++ == 0 && wolfSSL_Init() != WOLFSSL_SUCCESS) {
		init_refs = 0;
		rc = -RW_ESSL_LIBRARY;
	}
	pthread_mutex_unlock(&init_lock);
	return rc;
}

static void global_unref(void)
{
	pthread_mutex_lock(&init_lock);
	if (init_refs > 0 && --init_refs == 0)
		wolfSSL_Cleanup();
	pthread_mutex_unlock(&init_lock);
}

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	(void)ssl;
	struct rw_tls *t = arg;
	size_t left = t->in_len - t->in_off;
	if (!left)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	size_t n = (size_t)sz < left ? (size_t)sz : left;
	memcpy(buf, t->in + t->in_off, n);
	t->in_off += n;
	return (int)n;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	(void)ssl;
	struct rw_tls *t = arg;
	t->sink(t->sink_ctx, (const uint8_t *)buf, (size_t)sz);
	return sz;
}

/* SNI: remember what the client asked for; any name is accepted (the server
 * has one certificate). */
static int on_server_name(WOLFSSL *ssl, int *alert, void *arg)
{
	(void)alert;
	(void)arg;
	struct rw_tls *t = wolfSSL_GetIOReadCtx(ssl);
	const char *name = wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME);
	if (t && name)
		snprintf(t->server_name, sizeof(t->server_name), "%s", name);
	return 0; /* SSL_TLSEXT_ERR_OK */
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

/* Client certificate verification. With WOLFSSL_ALWAYS_VERIFY_CB this runs for
 * every certificate of the chain, verified or not: failures above the leaf are
 * remembered, and at the leaf the application decides. */
static int on_verify(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	WOLFSSL *ssl = wolfSSL_X509_STORE_CTX_get_ex_data(store, wolfSSL_get_ex_data_X509_STORE_CTX_idx());
	struct rw_tls *t = ssl ? wolfSSL_GetIOReadCtx(ssl) : NULL;
	if (!t || !t->cbs || !t->cbs->client_cert)
		return preverify;
	int err = wolfSSL_X509_STORE_CTX_get_error(store);
	if (wolfSSL_X509_STORE_CTX_get_error_depth(store) > 0) {
		if (!preverify && !t->chain_error)
			t->chain_error = err ? err : -1;
		return 1;
	}
	WOLFSSL_X509 *x = wolfSSL_X509_STORE_CTX_get_current_cert(store);
	char subject[512], issuer[512];
	rw__tls_name_text(x ? wolfSSL_X509_get_subject_name(x) : NULL, subject, sizeof(subject));
	rw__tls_name_text(x ? wolfSSL_X509_get_issuer_name(x) : NULL, issuer, sizeof(issuer));
	int der_len = 0;
	const unsigned char *der = x ? wolfSSL_X509_get_der(x, &der_len) : NULL;
	int bad = !preverify ? (err ? err : -1) : t->chain_error;
	struct rw_tls_peer_cert pc = {
		.der = der, .der_len = der_len > 0 ? (size_t)der_len : 0,
		.subject = subject, .issuer = issuer,
		.status = bad ? wolfSSL_X509_verify_cert_error_string(bad > 0 ? bad : 0) : "OK",
		.accept = !bad,
	};
	if (!der || der_len <= 0) { /* called for an empty Certificate message */
		pc.der = NULL;
		pc.der_len = 0;
		pc.status = "No client certificate";
		pc.accept = false;
		t->no_cert = true;
	}
	t->cert_decided = true;
	return t->cbs->client_cert(t->cb_ctx, &pc) ? 1 : 0;
}

int rw__tls_ctx_set_client_auth(struct rw_tls_ctx *c, const char *ca_pem, const char *ca_file)
{
	if (ca_pem && *ca_pem &&
	    wolfSSL_CTX_load_verify_buffer(c->ctx, (const unsigned char *)ca_pem, (long)strlen(ca_pem),
	                                   WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
		return -RW_ESSL_CHAIN_VERIFY;
	if (ca_file && *ca_file && wolfSSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != WOLFSSL_SUCCESS)
		return -RW_ESSL_CHAIN_VERIFY;
	wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_PEER, on_verify);
	c->client_auth = true;
	return 0;
}

/* wolfSSL's name for a suite given by its IANA or its own name, or NULL. */
static const char *wolf_cipher_name(const char *name, char *all, size_t all_len)
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

int rw__tls_ctx_set_ciphers(struct rw_tls_ctx *c, const char *list)
{
	if (!list || !*list || strcmp(list, "*") == 0)
		return 0;
	char out[4096] = "", name[128], all[8192];
	size_t o = 0;
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
			const char *w = wolf_cipher_name(name, all, sizeof(all));
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
	if (!o || wolfSSL_CTX_set_cipher_list(c->ctx, out) != WOLFSSL_SUCCESS)
		return -RW_ENOT_SUPPORTED;
	return 0;
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

static int set_versions(WOLFSSL_CTX *ctx, int protocols)
{
	if (protocols & ~(RW_TLS_PROTO_TLS12 | RW_TLS_PROTO_TLS13))
		return -RW_ENOT_SUPPORTED; /* TLS 1.0/1.1, SSL: refused by decision */
	if (!(protocols & (RW_TLS_PROTO_TLS12 | RW_TLS_PROTO_TLS13)))
		return -RW_EBAD_VALUE;
	int lo = (protocols & RW_TLS_PROTO_TLS12) ? WOLFSSL_TLSV1_2 : WOLFSSL_TLSV1_3;
	if (wolfSSL_CTX_SetMinVersion(ctx, lo) != WOLFSSL_SUCCESS)
		return -RW_ENOT_SUPPORTED;
	if (!(protocols & RW_TLS_PROTO_TLS13))
		wolfSSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	return 0;
}

int rw__tls_ctx_new(struct rw_tls_ctx **out, const struct rw_tls_cert *cert, int protocols,
                    char *subject_out, size_t subject_len)
{
	*out = NULL;
	int rc = global_ref();
	if (rc < 0)
		return rc;
	struct rw_tls_ctx *c = calloc(1, sizeof(*c));
	if (!c || !(c->ctx = wolfSSL_CTX_new(wolfSSLv23_server_method()))) {
		free(c);
		global_unref();
		return -RW_ENOMEM;
	}
	char subject[512];
	if ((rc = set_versions(c->ctx, protocols)) < 0 ||
	    (rc = rw__tls_load_cert(c->ctx, cert, subject, sizeof(subject))) < 0) {
		wolfSSL_CTX_free(c->ctx);
		free(c);
		global_unref();
		return rc;
	}
	if (subject_out && subject_len) {
		strncpy(subject_out, subject, subject_len - 1);
		subject_out[subject_len - 1] = 0;
	}
	wolfSSL_CTX_SetIORecv(c->ctx, io_recv);
	wolfSSL_CTX_SetIOSend(c->ctx, io_send);
	wolfSSL_CTX_set_servername_callback(c->ctx, on_server_name);
	*out = c;
	return 0;
}

void rw__tls_ctx_free(struct rw_tls_ctx *c)
{
	if (!c)
		return;
	wolfSSL_CTX_free(c->ctx);
	free(c);
	global_unref();
}

int rw__tls_new(struct rw_tls **out, struct rw_tls_ctx *ctx, rw_tls_sink_fn sink, void *sink_ctx)
{
	struct rw_tls *t = calloc(1, sizeof(*t));
	if (!t || !(t->ssl = wolfSSL_new(ctx->ctx))) {
		free(t);
		return -RW_ENOMEM;
	}
	t->sink = sink;
	t->sink_ctx = sink_ctx;
	t->client_auth = ctx->client_auth;
	wolfSSL_SetIOReadCtx(t->ssl, t);
	wolfSSL_SetIOWriteCtx(t->ssl, t);
	*out = t;
	return 0;
}

void rw__tls_free(struct rw_tls *t)
{
	if (!t)
		return;
	wolfSSL_free(t->ssl);
	free(t);
}

static int fail(struct rw_tls *t, int code, int ret)
{
	int err = wolfSSL_get_error(t->ssl, ret);
	char text[80];
	wolfSSL_ERR_error_string_n((unsigned long)err, text, sizeof(text));
	snprintf(t->error, sizeof(t->error), "%s (wolfSSL %d: %s)", rw_strerror(code), err, text);
	return -code;
}

int rw__tls_feed(struct rw_tls *t, const uint8_t *data, size_t len, const struct rw_tls_cbs *cbs, void *ctx)
{
	t->in = data;
	t->in_len = len;
	t->in_off = 0;
	t->cbs = cbs;
	t->cb_ctx = ctx;
	if (!t->open) {
		int ret = wolfSSL_accept(t->ssl);
		if (ret != WOLFSSL_SUCCESS) {
			int err = wolfSSL_get_error(t->ssl, ret);
			if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE)
				return RW_TLS_HANDSHAKING;
			return fail(t, t->no_cert        ? RW_ESSL_NO_CLIENT_CERT
			             : t->cert_decided ? RW_ESSL_CERT_VERIFY
			                               : RW_ESSL_HANDSHAKE, ret);
		}
		/* Asked for a certificate and got none: the application decides. */
		if (t->client_auth && !t->cert_decided && cbs->client_cert) {
			struct rw_tls_peer_cert none = {NULL, 0, "", "", "No client certificate", false};
			if (!cbs->client_cert(ctx, &none)) {
				snprintf(t->error, sizeof(t->error), "%s", rw_strerror(RW_ESSL_NO_CLIENT_CERT));
				return -RW_ESSL_NO_CLIENT_CERT;
			}
		}
		t->open = 1;
		cbs->opened(ctx);
	}
	uint8_t buf[16384];
	for (;;) {
		int n = wolfSSL_read(t->ssl, buf, sizeof(buf));
		if (n > 0) {
			if (cbs->plain(ctx, buf, (size_t)n))
				return RW_TLS_OPEN;
			continue;
		}
		int err = wolfSSL_get_error(t->ssl, n);
		if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE)
			return RW_TLS_OPEN;
		if (err == WOLFSSL_ERROR_ZERO_RETURN)
			return RW_TLS_PEER_CLOSED;
		return fail(t, RW_ESSL_DECRYPT, n);
	}
}

int rw__tls_write(struct rw_tls *t, const uint8_t *data, size_t len)
{
	if (!t->open)
		return -RW_EBAD_STATE;
	size_t off = 0;
	while (off < len) {
		size_t chunk = len - off < 16384 ? len - off : 16384;
		int n = wolfSSL_write(t->ssl, data + off, (int)chunk);
		if (n <= 0)
			return fail(t, RW_ESSL_ENCRYPT, n);
		off += (size_t)n;
	}
	return 0;
}

void rw__tls_close_notify(struct rw_tls *t)
{
	if (t->open)
		wolfSSL_shutdown(t->ssl);
}

const char *rw__tls_error_text(const struct rw_tls *t)
{
	return t->error;
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
	if (!t->open || wolfSSL_version(t->ssl) != TLS1_2_VERSION || !sess || len < 14 + 64 + 1 + 96 + 2 ||
	    wolfSSL_get_client_random(t->ssl, random, sizeof(random)) != sizeof(random) ||
	    wolfSSL_SESSION_get_master_key(sess, master, sizeof(master)) != (int)sizeof(master))
		return 0;
	size_t o = 0;
	memcpy(buf, "CLIENT_RANDOM ", 14);
	o = 14;
	o += hex(buf + o, random, sizeof(random));
	buf[o++] = ' ';
	o += hex(buf + o, master, sizeof(master));
	buf[o++] = '\n';
	buf[o] = 0;
	return o;
}

int rw__tls_cipher_bits(const struct rw_tls *t)
{
	WOLFSSL_CIPHER *c = wolfSSL_get_current_cipher(t->ssl);
	return c ? wolfSSL_CIPHER_get_bits(c, NULL) : 0;
}

const char *rw__tls_kx(const struct rw_tls *t, const char **group, int *bits)
{
	const char *g = wolfSSL_get_curve_name(t->ssl);
	const char *name = wolfSSL_get_cipher_name(t->ssl);
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
