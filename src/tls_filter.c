/* src/tls_filter.c: wolfSSL driven as a byte filter. The receive callback
 * reads from the window of ciphertext that rw__tls_feed was given and says
 * WANT_READ when it is used up; the send callback passes ciphertext to the
 * sink. wolfSSL's global init is reference counted here, so that no global
 * state leaks out to the user. */
#include "tls_priv.h"
#include "tls_cert.h"

#include "proto/tls_hello.h"

#include "ringworks/common.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


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

/* A wolfSSL session made from ctx, with everything this filter sets per
 * session. Also used to start over from another context (SSLConnectionRequest
 * chose another certificate) before the handshake has begun. */
static int session_new(struct rw_tls *t, struct rw_tls_ctx *ctx)
{
	WOLFSSL *ssl = wolfSSL_new(ctx->ctx);
	if (!ssl)
		return -RW_ENOMEM;
	if (ctx->sigalgs[0] && wolfSSL_set1_sigalgs_list(ssl, ctx->sigalgs) != WOLFSSL_SUCCESS) {
		wolfSSL_free(ssl);
		return -RW_ESSL_LIBRARY;
	}
	wolfSSL_free(t->ssl);
	t->ssl = ssl;
	t->client_auth = ctx->client_auth;
	t->keylog = ctx->keylog;
	t->reneg_guard = !ctx->renegotiation;
	wolfSSL_SetIOReadCtx(ssl, t);
	wolfSSL_SetIOWriteCtx(ssl, t);
	return 0;
}

int rw__tls_new(struct rw_tls **out, struct rw_tls_ctx *ctx, rw_tls_sink_fn sink, void *sink_ctx)
{
	struct rw_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return -RW_ENOMEM;
	int rc = session_new(t, ctx);
	if (rc < 0) {
		free(t);
		return rc;
	}
	t->sink = sink;
	t->sink_ctx = sink_ctx;
	*out = t;
	return 0;
}

void rw__tls_wait_hello(struct rw_tls *t)
{
	t->hello_wait = true;
}

/* rw__tls_wait_hello's part of rw__tls_feed: keep the client's bytes until
 * its ClientHello is whole, then let cbs->hello decide. Returns 1 while
 * waiting, 0 to go on with t->hello (now the bytes to feed), or an error. */
static int await_hello(struct rw_tls *t, const uint8_t *data, size_t len)
{
	if (len) {
		uint8_t *b = realloc(t->hello, t->hello_len + len);
		if (!b)
			return -RW_ENOMEM;
		memcpy(b + t->hello_len, data, len);
		t->hello = b;
		t->hello_len += len;
	}
	rw_tls_hello h;
	int rc = rw_tls_hello_parse(t->hello, t->hello_len, &h);
	/* The parser says NOT well before this much is held (its own limit). */
	if (rc == RW_TLS_HELLO_MORE && t->hello_len <= 5 + RW_TLS_HELLO_MAX + 4096)
		return 1;
	t->hello_wait = false;
	if (rc != RW_TLS_HELLO_OK)
		return 0; /* not a ClientHello: wolfSSL says why */
	struct rw_tls_hello_info info = {h.suites, h.n_suites, h.sigalgs, h.n_sigalgs};
	bool reject = false;
	struct rw_tls_ctx *other = t->cbs->hello ? t->cbs->hello(t->cb_ctx, &info, &reject) : NULL;
	if (reject) {
		snprintf(t->error, sizeof(t->error), "%s: refused by SSLConnectionRequest", rw_strerror(RW_ESSL_HANDSHAKE));
		return -RW_ESSL_HANDSHAKE;
	}
	return other ? session_new(t, other) : 0;
}

void rw__tls_free(struct rw_tls *t)
{
	if (!t)
		return;
	free(t->hello);
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

/* A wolfSSL built with secure renegotiation answers every client that asks
 * for one, whatever the context says, and one built without it fails the
 * connection with an unexpected_message alert; SSLEnableRenegotiation is off
 * by default, so the filter refuses it itself, the same way in both builds. It reads only record headers: in
 * TLS 1.2 the client's handshake ends with ChangeCipherSpec and one Finished
 * record, so a handshake record after that is a renegotiation. (TLS 1.3 hides
 * record types after the ClientHello and has no renegotiation.) Returns true
 * when the stream asks for one. The cost is one header per record. */
static bool renegotiation_asked(struct rw_tls *t, const uint8_t *p, size_t len)
{
	while (len) {
		if (t->rec_left) {
			size_t n = len < t->rec_left ? len : t->rec_left;
			t->rec_left -= (uint32_t)n;
			p += n;
			len -= n;
			continue;
		}
		t->rec_hdr[t->rec_hdr_len++] = *p++;
		len--;
		if (t->rec_hdr_len < 5)
			continue;
		t->rec_hdr_len = 0;
		t->rec_left = (uint32_t)t->rec_hdr[3] << 8 | t->rec_hdr[4];
		if (t->rec_hdr[0] == 20 && !t->client_finish) /* change_cipher_spec */
			t->client_finish = 1;
		else if (t->rec_hdr[0] == 22 && t->client_finish == 1) /* its Finished */
			t->client_finish = 2;
		else if (t->rec_hdr[0] == 22 && t->client_finish == 2)
			return true;
	}
	return false;
}

/* TLS 1.2 has no secret callback to wait for: its one key log line is known
 * once the handshake is done. */
static void keylog_tls12(struct rw_tls *t)
{
	char line[256];
	size_t n;
	if (t->keylog && t->cbs->keylog && (n = rw__tls_keylog_line(t, line, sizeof(line))))
		t->cbs->keylog(t->cb_ctx, line, n);
}

int rw__tls_feed(struct rw_tls *t, const uint8_t *data, size_t len, const struct rw_tls_cbs *cbs, void *ctx)
{
	t->in = data;
	t->in_len = len;
	t->in_off = 0;
	t->cbs = cbs;
	t->cb_ctx = ctx;
	if (t->reneg_guard && renegotiation_asked(t, data, len)) {
		snprintf(t->error, sizeof(t->error), "%s: the client asked to renegotiate (SSLEnableRenegotiation is off)",
		         rw_strerror(RW_ESSL_HANDSHAKE));
		return -RW_ESSL_HANDSHAKE;
	}
	if (t->hello_wait) {
		int rc = await_hello(t, data, len);
		if (rc)
			return rc > 0 ? RW_TLS_HANDSHAKING : rc;
		t->in = t->hello; /* the held bytes, the hello and whatever came with it */
		t->in_len = t->hello_len;
	}
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
		free(t->hello); /* wolfSSL has read all of it by now */
		t->hello = NULL;
		t->open = 1;
		keylog_tls12(t);
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
