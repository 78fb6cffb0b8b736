/* src/tls_priv.h: the TLS filter's private structures, shared by the files
 * that make it up (tls_filter.c: the I/O core and handshake; tls_options.c:
 * context settings; tls_info.c: what a connection negotiated). Nothing
 * outside src/tls_*.c includes this. */
#ifndef RW_SRC_TLS_PRIV_H
#define RW_SRC_TLS_PRIV_H

#include "tls_filter.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

struct rw_tls_ctx {
	WOLFSSL_CTX *ctx;
	uint8_t alpn[256]; /* ALPN wire format: length-prefixed names */
	size_t alpn_len;
	bool client_auth;
	bool keylog; /* SSLKeyLogFile is set */
	bool renegotiation; /* SSLEnableRenegotiation */
	char sigalgs[512];  /* wolfSSL's list; "" = its defaults */
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
	bool keylog;
	/* Renegotiation guard (see reneg_guard in tls_filter.c): the record
	 * headers of the client's stream, read without decrypting anything. */
	bool reneg_guard;
	uint8_t rec_hdr[5], rec_hdr_len;
	uint32_t rec_left;      /* body bytes of the current record still to skip */
	uint8_t client_finish;  /* 0, 1: after ChangeCipherSpec, 2: Finished seen */
	/* rw__tls_wait_hello: the client's bytes until its ClientHello is whole */
	bool hello_wait;
	uint8_t *hello;
	size_t hello_len;
};

/* tls_info.c: the NSS key log line of a completed TLS 1.2 handshake
 * ("CLIENT_RANDOM <random> <master secret>", no newline: the writer adds
 * it, as for TLS 1.3's lines), or 0 when there is none. */
size_t rw__tls_keylog_line(const struct rw_tls *t, char *buf, size_t len);

#endif
