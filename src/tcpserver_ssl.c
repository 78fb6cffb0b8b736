/* src/tcpserver_ssl.c: TCPServer's SSL* properties, StartSSL, and loading the
 * server certificate into a TLS context at StartListening. */
#include "internal.h"

#include "proto/base64.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

RW_API int rw_tcpserver_get_ssl_start_mode(const rw_tcpserver *s) { return s->set.ssl_start_mode; }

RW_API int rw_tcpserver_set_ssl_start_mode(rw_tcpserver *s, int mode)
{
	if (mode < RW_SSL_START_AUTOMATIC || mode > RW_SSL_START_NONE)
		return -RW_EBAD_VALUE;
	if (s->listening)
		return -RW_EBAD_STATE;
	s->set.ssl_start_mode = mode;
	return 0;
}

RW_API bool rw_tcpserver_get_ssl_enabled(const rw_tcpserver *s)
{
	return s->set.ssl_start_mode != RW_SSL_START_NONE;
}

RW_API int rw_tcpserver_set_ssl_enabled(rw_tcpserver *s, bool on)
{
	if (on == rw_tcpserver_get_ssl_enabled(s))
		return 0;
	return rw_tcpserver_set_ssl_start_mode(s, on ? RW_SSL_START_IMPLICIT : RW_SSL_START_NONE);
}

/* The store types a Linux library can read; Windows, Java, SSH, XML and
 * PKCS#11 stores are not supported. */
static bool cert_type_supported(int type)
{
	return type == RW_CERT_PEM_KEY_FILE || type == RW_CERT_PEM_KEY_BLOB || type == RW_CERT_PFX_FILE ||
	       type == RW_CERT_PFX_BLOB || type == RW_CERT_AUTO;
}

RW_API int rw_tcpserver_get_ssl_cert_store_type(const rw_tcpserver *s) { return s->set.ssl_cert_store_type; }

RW_API int rw_tcpserver_set_ssl_cert_store_type(rw_tcpserver *s, int type)
{
	if (s->listening)
		return -RW_EBAD_STATE;
	if (!cert_type_supported(type))
		return -RW_ENOT_SUPPORTED;
	s->set.ssl_cert_store_type = type;
	return 0;
}

RW_API int rw_tcpserver_set_ssl_cert_store(rw_tcpserver *s, const void *store, size_t len)
{
	if (s->listening)
		return -RW_EBAD_STATE;
	if (len && !store)
		return -RW_EBAD_VALUE;
	uint8_t *copy = malloc(len + 1); /* NUL-terminated, so a path can be used as is */
	if (!copy)
		return -RW_ENOMEM;
	memcpy(copy, store, len);
	copy[len] = 0;
	free(s->set.ssl_cert_store);
	s->set.ssl_cert_store = copy;
	s->set.ssl_cert_store_len = len;
	return 0;
}

RW_API int rw_tcpserver_set_ssl_cert_store_password(rw_tcpserver *s, const char *password)
{
	if (s->listening)
		return -RW_EBAD_STATE;
	return rw__strset(&s->set.ssl_cert_store_password, password);
}

RW_API int rw_tcpserver_set_ssl_cert_subject(rw_tcpserver *s, const char *subject)
{
	if (s->listening)
		return -RW_EBAD_STATE;
	return rw__strset(&s->set.ssl_cert_subject, subject);
}

RW_API int rw_tcpserver_get_ssl_cert_subject(const rw_tcpserver *s, char *buf, size_t len)
{
	const char *v = s->tls_ctx ? s->ssl_subject : (s->set.ssl_cert_subject ? s->set.ssl_cert_subject : "");
	size_t n = strlen(v);
	if (!buf || n + 1 > len)
		return -RW_EBUFFER_TOO_SMALL;
	memcpy(buf, v, n + 1);
	return (int)n;
}

RW_API bool rw_tcpserver_get_ssl_authenticate_clients(const rw_tcpserver *s)
{
	return s->set.ssl_authenticate_clients;
}

RW_API int rw_tcpserver_set_ssl_authenticate_clients(rw_tcpserver *s, bool on)
{
	if (s->listening)
		return -RW_EBAD_STATE;
	s->set.ssl_authenticate_clients = on;
	return 0;
}

RW_API int rw_tcpserver_start_ssl(rw_tcpserver *s, rw_connid id)
{
	RW_ROUTE(s, id);
	struct rw_conn *c = rw__conn_find(s, id);
	if (!c)
		return -RW_EINVALID_CONNID;
	if (c->tls || !s->tls_ctx || (c->flags & RW_C_CLOSING))
		return -RW_EBAD_STATE;
	int rc = rw__conn_tls_start(c, false);
	if (rc == 0 && (c->flags & RW_C_IN_DATAIN))
		c->flags |= RW_C_TLS_SWITCH; /* the rest of this buffer is the ClientHello */
	return rc;
}

int rw__ssl_cert_spec(struct rw_tls_cert *cert, int type, const void *store, size_t len, const char *password,
                      const char *subject)
{
	if (!store || !len)
		return -RW_ESSL_NO_SERVER_CERT;
	if (!cert_type_supported(type))
		return -RW_ENOT_SUPPORTED;
	char path[4096] = "";
	if (type == RW_CERT_AUTO && len < sizeof(path))
		memcpy(path, store, len); /* NUL-terminated here, whatever store is */
	*cert = (struct rw_tls_cert){
		.store = store,
		.store_len = len,
		/* Auto takes a path when one names a readable file, else the bytes. */
		.is_file = type == RW_CERT_PEM_KEY_FILE || type == RW_CERT_PFX_FILE ||
		           (path[0] && access(path, R_OK) == 0),
		.format = type == RW_CERT_PFX_FILE || type == RW_CERT_PFX_BLOB ? RW_TLS_CERT_PFX
		          : type == RW_CERT_AUTO                               ? RW_TLS_CERT_AUTO
		                                                               : RW_TLS_CERT_PEM,
		.password = password,
		.subject = subject,
	};
	return 0;
}

/* A context with the server's TLS settings and the given certificate. */
static int ctx_build(struct rw_tcpserver *s, const struct rw_tls_cert *cert, struct rw_tls_ctx **out,
                     char *subject, size_t subject_len)
{
	const struct rw_tcp_settings *st = &s->set;
	struct rw_tls_ctx *ctx;
	int rc = rw__tls_ctx_new(&ctx, cert, st->ssl_protocols, subject, subject_len);
	if (rc == 0 && st->ssl_alpn)
		rc = rw__tls_ctx_set_alpn(ctx, st->ssl_alpn);
	if (rc == 0 && (st->ssl_cipher_suites || st->ssl_cipher_strength > 0))
		rc = rw__tls_ctx_set_ciphers(ctx, st->ssl_cipher_suites, st->ssl_cipher_strength);
	if (rc == 0 && (st->ssl_groups13 || st->ssl_groups12))
		rc = rw__tls_ctx_set_groups(ctx, st->ssl_groups13, st->ssl_groups12);
	if (rc == 0 && (st->ssl_sigalgs13 || st->ssl_sigalgs12))
		rc = rw__tls_ctx_set_sigalgs(ctx, st->ssl_sigalgs13, st->ssl_sigalgs12);
	if (rc == 0)
		rc = rw__tls_ctx_set_renegotiation(ctx, st->ssl_renegotiation);
	if (rc == 0)
		rw__tls_ctx_set_keylog(ctx, st->ssl_keylog_file && *st->ssl_keylog_file);
	if (rc == 0 && st->ssl_authenticate_clients)
		rc = rw__tls_ctx_set_client_auth(ctx, st->ssl_client_ca_certs, st->ssl_ca_file);
	if (rc < 0 && ctx)
		rw__tls_ctx_free(ctx);
	if (rc == 0)
		*out = ctx;
	return rc;
}

/* base64 DER from PEM or bare base64: armour lines and whitespace go. */
static long decode_encoded(const char *in, uint8_t **out)
{
	size_t n = strlen(in), o = 0;
	char *b64 = malloc(n + 1);
	*out = malloc(n + 1);
	long got = -1;
	if (b64 && *out) {
		for (const char *p = in; *p;) {
			const char *eol = p + strcspn(p, "\n");
			if (strncmp(p, "-----", 5) != 0) /* not a BEGIN/END line */
				for (; p < eol; p++)
					if (*p != ' ' && *p != '\t' && *p != '\r')
						b64[o++] = *p;
			p = *eol ? eol + 1 : eol;
		}
		got = o ? rw_base64_decode(b64, o, *out, n + 1) : -1;
	}
	free(b64);
	if (got <= 0) {
		free(*out);
		*out = NULL;
	}
	return got;
}

RW_API int rw_tcpserver_set_ssl_cert_encoded(rw_tcpserver *s, const char *encoded)
{
	if (s->listening)
		return -RW_EBAD_STATE;
	uint8_t *der = NULL;
	long n = encoded && *encoded ? decode_encoded(encoded, &der) : 0;
	if (n < 0)
		return -RW_EBAD_VALUE;
	free(s->set.ssl_cert_der);
	s->set.ssl_cert_der = der;
	s->set.ssl_cert_der_len = (size_t)n;
	return 0;
}

RW_API int rw_tcpserver_get_ssl_cert_encoded(const rw_tcpserver *s, char *buf, size_t len)
{
	size_t n = s->set.ssl_cert_der_len;
	const uint8_t *der = s->tls_ctx ? rw__tls_ctx_cert_der(s->tls_ctx, &n) : s->set.ssl_cert_der;
	if (!buf || RW_BASE64_LEN(n) + 1 > len)
		return -RW_EBUFFER_TOO_SMALL;
	size_t o = der ? rw_base64_encode(der, n, buf) : 0;
	buf[o] = 0;
	return (int)o;
}

int rw__ssl_ctx_load(struct rw_tcpserver *s)
{
	const struct rw_tcp_settings *st = &s->set;
	struct rw_tls_cert cert;
	struct rw_tls_ctx *ctx = NULL;
	int rc = rw__ssl_cert_spec(&cert, st->ssl_cert_store_type, st->ssl_cert_store, st->ssl_cert_store_len,
	                           st->ssl_cert_store_password, st->ssl_cert_subject);
	if (rc == 0)
		rc = ctx_build(s, &cert, &ctx, s->ssl_subject, sizeof(s->ssl_subject));
	if (rc < 0)
		return rc;
	size_t n = 0;
	const uint8_t *der = rw__tls_ctx_cert_der(ctx, &n);
	if (st->ssl_cert_der && (!der || n != st->ssl_cert_der_len || memcmp(der, st->ssl_cert_der, n))) {
		rw__tls_ctx_free(ctx); /* SSLCertEncoded names another certificate */
		return -RW_ESSL_CERT_NOT_FOUND;
	}
	rw__ssl_ctxs_free(s);
	s->tls_ctx = ctx;
	return 0;
}

/* Certificates chosen in SSLConnectionRequest, each loaded once. They live
 * until the main context goes (a session made from one may still use it). */
struct rw_tls_alt {
	struct rw_tls_alt *next;
	struct rw_tls_ctx *ctx;
	int format;
	bool is_file;
	size_t len;
	char *password, *subject;
	uint8_t store[]; /* len bytes */
};

#define RW_TLS_ALT_MAX 16

static bool same(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

int rw__ssl_alt_ctx(struct rw_tcpserver *s, const struct rw_tls_cert *cert, struct rw_tls_ctx **out)
{
	int n = 0;
	for (struct rw_tls_alt *a = s->tls_alts; a; a = a->next, n++)
		if (a->format == (int)cert->format && a->is_file == cert->is_file && a->len == cert->store_len &&
		    memcmp(a->store, cert->store, a->len) == 0 && same(a->password, cert->password) &&
		    same(a->subject, cert->subject)) {
			*out = a->ctx;
			return 0;
		}
	if (n >= RW_TLS_ALT_MAX)
		return -RW_ESSL_CERT_STORE;
	struct rw_tls_alt *a = calloc(1, sizeof(*a) + cert->store_len + 1);
	if (!a)
		return -RW_ENOMEM;
	memcpy(a->store, cert->store, cert->store_len); /* and a NUL, so a path is a string */
	struct rw_tls_cert copy = *cert;
	copy.store = a->store;
	char subject[256];
	int rc = ctx_build(s, &copy, &a->ctx, subject, sizeof(subject));
	a->password = cert->password ? strdup(cert->password) : NULL;
	a->subject = cert->subject ? strdup(cert->subject) : NULL;
	if (rc == 0 && ((cert->password && !a->password) || (cert->subject && !a->subject)))
		rc = -RW_ENOMEM;
	if (rc < 0) {
		rw__tls_ctx_free(a->ctx);
		free(a->password);
		free(a->subject);
		free(a);
		return rc;
	}
	a->format = (int)cert->format;
	a->is_file = cert->is_file;
	a->len = cert->store_len;
	a->next = s->tls_alts;
	s->tls_alts = a;
	*out = a->ctx;
	return 0;
}

void rw__ssl_ctxs_free(struct rw_tcpserver *s)
{
	while (s->tls_alts) {
		struct rw_tls_alt *a = s->tls_alts;
		s->tls_alts = a->next;
		rw__tls_ctx_free(a->ctx);
		free(a->password);
		free(a->subject);
		free(a);
	}
	rw__tls_ctx_free(s->tls_ctx);
	s->tls_ctx = NULL;
}

void rw__ssl_settings_free(struct rw_tcp_settings *st)
{
	free(st->ssl_cert_store);
	free(st->ssl_cert_subject);
	free(st->ssl_alpn);
	free(st->ssl_cipher_suites);
	st->ssl_cipher_suites = NULL;
	free(st->ssl_keylog_file);
	free(st->ssl_groups13);
	free(st->ssl_groups12);
	free(st->ssl_cert_der);
	st->ssl_cert_der = NULL;
	st->ssl_cert_der_len = 0;
	free(st->ssl_sigalgs13);
	free(st->ssl_sigalgs12);
	st->ssl_keylog_file = st->ssl_groups13 = st->ssl_groups12 = NULL;
	st->ssl_sigalgs13 = st->ssl_sigalgs12 = NULL;
	free(st->ssl_cert_store_password);
	st->ssl_cert_store_password = NULL;
	free(st->ssl_client_ca_certs);
	free(st->ssl_ca_file);
	st->ssl_alpn = st->ssl_client_ca_certs = st->ssl_ca_file = NULL;
	st->ssl_cert_store = NULL;
	st->ssl_cert_subject = NULL;
}
