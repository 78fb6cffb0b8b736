/* src/dtls_ssl.c: DTLSServer's wolfSSL context (DTLS 1.2; DTLS 1.3 and
 * connection IDs with the tuned wolfSSL) and its client-certificate callback.
 * Certificates load through the TLS code's loader (tls_cert.c), so PEM, PFX
 * and Auto behave exactly as for TCPServer. The verify callback is DTLS's own
 * because TCPServer's is bound to its stream filter's state; it follows the
 * same rules: failures above the leaf are remembered, the leaf goes to the
 * application with the verdict, and the application decides. */
#include "dtls_internal.h"
#include "tls_cert.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int io_unused(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	(void)ssl;
	(void)buf;
	(void)sz;
	(void)ctx;
	return WOLFSSL_CBIO_ERR_GENERAL;
}

static WOLFSSL_METHOD *method(int protocols)
{
#if defined(WOLFSSL_DTLS13)
	if (protocols & RW_DTLS_PROTO_DTLS13)
		return wolfDTLS_server_method(); /* 1.2 and 1.3, floor set below */
#endif
	(void)protocols;
	return wolfDTLSv1_2_server_method();
}

int rw__dtls_ctx_new(struct rw_dtlsserver *s)
{
	const struct rw_dtls_settings *st = &s->set;
	if (st->protocols & ~(RW_DTLS_PROTO_DTLS12 | RW_DTLS_PROTO_DTLS13))
		return -RW_ENOT_SUPPORTED; /* DTLS 1.0 and others: refused by decision */
#if !defined(WOLFSSL_DTLS13)
	if (st->protocols & RW_DTLS_PROTO_DTLS13)
		return -RW_ENOT_SUPPORTED;
#endif
	if (!st->cert_store || !st->cert_store_len)
		return -RW_EDTLS_INVALID_CERT;
	if (wolfSSL_Init() != WOLFSSL_SUCCESS) /* reference counted by wolfSSL */
		return -RW_ESSL_LIBRARY;
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(method(st->protocols));
	if (!ctx) {
		wolfSSL_Cleanup();
		return -RW_ENOMEM;
	}
	int rc = 0;
	if (!(st->protocols & RW_DTLS_PROTO_DTLS12))
		wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_DTLSV1_3);
	else if (st->protocols & RW_DTLS_PROTO_DTLS13)
		wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_DTLSV1_2);
	int type = st->cert_store_type;
	bool file = type == RW_CERT_PEM_KEY_FILE || type == RW_CERT_PFX_FILE;
	if (type == RW_CERT_AUTO) /* a readable path, else the bytes */
		file = memchr(st->cert_store, 0, st->cert_store_len) == NULL && st->cert_store_len < 4096 &&
		       access((const char *)st->cert_store, R_OK) == 0;
	char path[4096];
	if (file) {
		snprintf(path, sizeof(path), "%.*s", (int)st->cert_store_len, (const char *)st->cert_store);
	}
	struct rw_tls_cert cert = {
		.store = file ? (const void *)path : st->cert_store,
		.store_len = file ? strlen(path) : st->cert_store_len,
		.is_file = file,
		.format = type == RW_CERT_PFX_FILE || type == RW_CERT_PFX_BLOB ? RW_TLS_CERT_PFX
		        : type == RW_CERT_AUTO                                 ? RW_TLS_CERT_AUTO
		                                                               : RW_TLS_CERT_PEM,
		.password = st->cert_password,
		.subject = st->cert_subject,
	};
	if (type != RW_CERT_PEM_KEY_FILE && type != RW_CERT_PEM_KEY_BLOB && type != RW_CERT_PFX_FILE &&
	    type != RW_CERT_PFX_BLOB && type != RW_CERT_AUTO)
		rc = -RW_ENOT_SUPPORTED;
	if (rc == 0)
		rc = rw__tls_load_cert(ctx, &cert, s->subject, sizeof(s->subject));
	if (rc == 0 && st->cipher_suites) {
		/* Checked name by name at Config; a list wolfSSL still refuses
		 * (none of its suites usable with DTLS) is not supported. */
		char list[8192];
		int n = rw__dtls_cipher_list(st->cipher_suites, list, sizeof(list));
		if (n < 0)
			rc = n;
		else if (n > 0 && wolfSSL_CTX_set_cipher_list(ctx, list) != WOLFSSL_SUCCESS)
			rc = -RW_ENOT_SUPPORTED;
	}
	if (rc == 0 && st->authenticate_clients) {
		if (st->client_ca_certs && *st->client_ca_certs &&
		    wolfSSL_CTX_load_verify_buffer(ctx, (const unsigned char *)st->client_ca_certs,
		                                   (long)strlen(st->client_ca_certs),
		                                   WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
			rc = -RW_ESSL_CHAIN_VERIFY;
		if (rc == 0 && st->ca_file && *st->ca_file &&
		    wolfSSL_CTX_load_verify_locations(ctx, st->ca_file, NULL) != WOLFSSL_SUCCESS)
			rc = -RW_ESSL_CHAIN_VERIFY;
	}
	if (rc < 0) {
		wolfSSL_CTX_free(ctx);
		wolfSSL_Cleanup();
		s->subject[0] = 0;
		return rc;
	}
	/* Per-session callbacks replace these (dtls_sess.c); the context's
	 * defaults would be wolfSSL's socket I/O, which must never run here. */
	wolfSSL_CTX_SetIORecv(ctx, io_unused);
	wolfSSL_CTX_SetIOSend(ctx, io_unused);
	s->ctx = ctx;
	return 0;
}

void rw__dtls_ctx_free(struct rw_dtlsserver *s)
{
	if (!s->ctx)
		return;
	wolfSSL_CTX_free(s->ctx);
	wolfSSL_Cleanup();
	s->ctx = NULL;
}

static int on_verify(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	WOLFSSL *ssl = wolfSSL_X509_STORE_CTX_get_ex_data(store, wolfSSL_get_ex_data_X509_STORE_CTX_idx());
	struct rw_dtls_sess *x = ssl ? wolfSSL_get_ex_data(ssl, 0) : NULL;
	if (!x)
		return preverify;
	struct rw_dtlsserver *s = x->srv;
	int err = wolfSSL_X509_STORE_CTX_get_error(store);
	if (wolfSSL_X509_STORE_CTX_get_error_depth(store) > 0) {
		if (!preverify && !x->chain_error)
			x->chain_error = err ? err : -1;
		return 1;
	}
	WOLFSSL_X509 *c = wolfSSL_X509_STORE_CTX_get_current_cert(store);
	char subject[512], issuer[512];
	rw__tls_name_text(c ? wolfSSL_X509_get_subject_name(c) : NULL, subject, sizeof(subject));
	rw__tls_name_text(c ? wolfSSL_X509_get_issuer_name(c) : NULL, issuer, sizeof(issuer));
	int der_len = 0;
	const unsigned char *der = c ? wolfSSL_X509_get_der(c, &der_len) : NULL;
	int bad = !preverify ? (err ? err : -1) : x->chain_error;
	rw_dtlsserver_ssl_client_authentication e = {
		.connection_id = x->id,
		.cert_encoded = der, .cert_encoded_len = der_len > 0 ? (size_t)der_len : 0,
		.cert_subject = subject, .cert_issuer = issuer,
		.status = bad ? wolfSSL_X509_verify_cert_error_string(bad > 0 ? bad : 0) : "OK",
		.accept = !bad,
	};
	if (!der || der_len <= 0) { /* an empty Certificate message */
		e.cert_encoded = NULL;
		e.cert_encoded_len = 0;
		e.status = "No client certificate";
		e.accept = false;
		x->no_cert = true;
	}
	x->cert_decided = true;
	if (s->ev.ssl_client_authentication)
		s->ev.ssl_client_authentication(s, &e, s->user);
	if (!e.accept)
		x->chain_error = bad ? bad : -1;
	return e.accept && x->state != RW_DS_CLOSING ? 1 : 0;
}

void rw__dtls_verify_setup(WOLFSSL *ssl, struct rw_dtls_sess *x)
{
	wolfSSL_set_ex_data(ssl, 0, x);
	if (x->srv->set.authenticate_clients)
		wolfSSL_set_verify(ssl, WOLFSSL_VERIFY_PEER, on_verify);
}
