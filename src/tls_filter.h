/* src/tls_filter.h: TLS as a byte filter over wolfSSL custom I/O (issue 3's
 * core, not yet wired to TCPServer). The loop hands received ciphertext to
 * rw__tls_feed; the handshake and decryption run there, never blocking, with no
 * syscall of their own; ciphertext to send leaves through the sink callback
 * (the connection's send queue). Nothing here knows sockets or io_uring. */
#ifndef RW_SRC_TLS_FILTER_H
#define RW_SRC_TLS_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rw_tls_ctx;
struct rw_tls;

/* Ciphertext for the peer. */
typedef void (*rw_tls_sink_fn)(void *ctx, const uint8_t *data, size_t len);
/* The client's certificate, for the application's decision. `accept` is the
 * verification's verdict; the callback returns its own decision. */
struct rw_tls_peer_cert {
	const uint8_t *der; /* NULL when the client sent no certificate */
	size_t der_len;
	const char *subject, *issuer, *status; /* status: "OK" or why not */
	bool accept;
};

/* What a client offers in its ClientHello (codes as on the wire). */
struct rw_tls_hello_info {
	const uint16_t *suites;
	unsigned n_suites;
	const uint16_t *sigalgs;
	unsigned n_sigalgs;
};

/* What rw__tls_feed reports while it runs: `opened` once, when the handshake
 * completes (before any application data of the same feed); `plain` for the
 * decrypted bytes; a non-zero return from `plain` stops the feed (the rest
 * stays inside wolfSSL and comes out at the next feed, which may be empty). */
struct rw_tls_cbs {
	void (*opened)(void *ctx);
	int (*plain)(void *ctx, const uint8_t *data, size_t len);
	/* With client authentication on: once per handshake, with the client's
	 * certificate (or none); returns true to go on, false to fail it. */
	bool (*client_cert)(void *ctx, const struct rw_tls_peer_cert *cert);
	/* After rw__tls_wait_hello: once, with the client's ClientHello, before
	 * wolfSSL sees it. Returns another context to serve this client from
	 * (its certificate), or NULL to keep the one it was made with; sets
	 * *reject to fail the handshake. */
	struct rw_tls_ctx *(*hello)(void *ctx, const struct rw_tls_hello_info *hello, bool *reject);
	/* With key logging on: one NSS key log line (no newline) per secret. */
	void (*keylog)(void *ctx, const char *line, size_t len);
};

/* SSLEnabledProtocols bits (the documents' values). */
#define RW_TLS_PROTO_TLS12 3072
#define RW_TLS_PROTO_TLS13 12288

enum { RW_TLS_HANDSHAKING = 0, RW_TLS_OPEN = 1, RW_TLS_PEER_CLOSED = 2 };

/* Where the server certificate and key come from: PEM (certificate chain and
 * private key) or PFX/PKCS#12 (with a password), as a file or as bytes; `auto`
 * tells them apart by content. */
struct rw_tls_cert {
	const void *store;  /* a path (NUL-terminated) when is_file, else the bytes */
	size_t store_len;
	bool is_file;
	enum { RW_TLS_CERT_PEM, RW_TLS_CERT_PFX, RW_TLS_CERT_AUTO } format;
	const char *password; /* PFX; may be NULL */
	const char *subject;  /* "*" or NULL = first certificate; else exact or substring */
};

/* A server context. protocols: a mask of RW_TLS_PROTO_*; TLS 1.0/1.1 bits give
 * -RW_ENOT_SUPPORTED. Errors: -RW_ESSL_CERT_STORE (cannot read the store),
 * -RW_ESSL_CERT_NOT_FOUND (subject does not match), -RW_ESSL_CREDENTIALS (the key
 * does not match). The selected certificate's subject ("CN=..., O=...") is
 * copied to subject_out. */
int rw__tls_ctx_new(struct rw_tls_ctx **out, const struct rw_tls_cert *cert, int protocols,
                    char *subject_out, size_t subject_len);
void rw__tls_ctx_free(struct rw_tls_ctx *ctx);

int rw__tls_new(struct rw_tls **out, struct rw_tls_ctx *ctx, rw_tls_sink_fn sink, void *sink_ctx);
void rw__tls_free(struct rw_tls *t);

/* Hold the client's first bytes until its ClientHello is complete and call
 * cbs->hello with it (SSLConnectionRequest). A stream that is not a
 * ClientHello goes to wolfSSL as it is, which fails it. Call before the first
 * rw__tls_feed. */
void rw__tls_wait_hello(struct rw_tls *t);

/* The IANA name of a cipher suite code ("TLS_AES_128_GCM_SHA256"), or NULL. */
const char *rw__tls_suite_name(uint16_t suite);

/* Feed received ciphertext (len may be 0 to resume after a stop). Returns
 * RW_TLS_HANDSHAKING, RW_TLS_OPEN, RW_TLS_PEER_CLOSED (close_notify), or -276
 * (handshake failed) / -284 (decryption failed); rw__tls_error_text says why. */
int rw__tls_feed(struct rw_tls *t, const uint8_t *data, size_t len, const struct rw_tls_cbs *cbs, void *ctx);

/* Encrypt and hand to the sink. 0 or -283. Only once the handshake is done. */
int rw__tls_write(struct rw_tls *t, const uint8_t *data, size_t len);

/* Queue a close_notify alert through the sink. */
void rw__tls_close_notify(struct rw_tls *t);

/* ALPN: the server's protocols in preference order, comma-separated ("h2,http/1.1");
 * the first of them the client also offers is selected; none in common: no
 * ALPN in the reply (the handshake goes on). NULL or "" turns ALPN off.
 * -RW_EBAD_VALUE for an empty or over-long (> 255) name. */
int rw__tls_ctx_set_alpn(struct rw_tls_ctx *ctx, const char *list);

/* Ask clients for a certificate and verify it against the CA certificates in
 * ca_pem (PEM text, may be NULL) and ca_file (a PEM file, may be NULL).
 * -RW_ESSL_CHAIN_VERIFY when the CA certificates cannot be loaded. */
int rw__tls_ctx_set_client_auth(struct rw_tls_ctx *ctx, const char *ca_pem, const char *ca_file);

/* SSLEnabledCipherSuites: "*" (or NULL/"") = wolfSSL's defaults; otherwise a
 * ';' or ',' separated list of IANA names (TLS_AES_128_GCM_SHA256, ...) or
 * OpenSSL-style names. min_bits > 0 (SSLCipherStrength) keeps only suites
 * whose bulk cipher key has at least that many bits. -RW_EBAD_VALUE names an
 * unknown suite; none usable: -RW_ENOT_SUPPORTED. */
int rw__tls_ctx_set_ciphers(struct rw_tls_ctx *ctx, const char *list, int min_bits);

/* Key logging (SSLKeyLogFile): with it on, the keylog callback gets the NSS
 * key log lines of every handshake: "CLIENT_RANDOM <random> <master secret>"
 * for TLS 1.2; for TLS 1.3 the four traffic secrets (and exporter), which need
 * wolfSSL's secret callback: the tuned build has it, Debian's does not, so
 * there TLS 1.3 handshakes log nothing (documented). */
void rw__tls_ctx_set_keylog(struct rw_tls_ctx *ctx, bool on);

/* SSLEnableRenegotiation: a client-initiated secure renegotiation (RFC 5746,
 * TLS 1.2) is answered when on, refused with a no_renegotiation alert when
 * off. On needs the tuned wolfSSL: -RW_ENOT_SUPPORTED otherwise. */
int rw__tls_ctx_set_renegotiation(struct rw_tls_ctx *ctx, bool on);
bool rw__tls_renegotiation_supported(void);

/* TLS13SignatureAlgorithms / TLS12SignatureAlgorithms in the documents' names
 * (rsa_pss_sha256, ecdsa_secp256r1_sha256, ed25519 / sha256-rsa,
 * sha384-ecdsa): the signature algorithms the server asks a client
 * certificate to be signed with and accepts, one list for both versions as in
 * wolfSSL. Limits of wolfSSL 5.5.4: a TLS 1.3 CertificateRequest always lists
 * every algorithm it has, and the server signs with its key's algorithm
 * whatever the list says. DSA names are accepted and ignored. NULL or "" for both keeps wolfSSL's defaults; an unknown name:
 * -RW_EBAD_VALUE. */
int rw__tls_ctx_set_sigalgs(struct rw_tls_ctx *ctx, const char *tls13, const char *tls12);

/* TLS13SupportedGroups / TLS12SupportedGroups (the documents' names:
 * ecdhe_x25519, ecdhe_secp256r1, ffdhe_2048, ...). wolfSSL keeps one list for
 * both versions: the TLS 1.3 list first, then TLS 1.2 names not in it. An
 * unknown name: -RW_EBAD_VALUE; a group this wolfSSL lacks: -RW_ENOT_SUPPORTED. */
int rw__tls_ctx_set_groups(struct rw_tls_ctx *ctx, const char *tls13, const char *tls12);

/* The context's own certificate (DER), or NULL. */
const uint8_t *rw__tls_ctx_cert_der(struct rw_tls_ctx *ctx, size_t *len);

const char *rw__tls_error_text(const struct rw_tls *t);
const char *rw__tls_alpn(const struct rw_tls *t);        /* selected protocol or "" */
const char *rw__tls_server_name(const struct rw_tls *t); /* the client's SNI or "" */
const char *rw__tls_version(const struct rw_tls *t); /* "TLSv1.3", ... */
const char *rw__tls_cipher(const struct rw_tls *t);
/* The bulk cipher of the negotiated suite: "AES_128_GCM", "CHACHA20_POLY1305". */
const char *rw__tls_bulk_cipher(const struct rw_tls *t);
int rw__tls_cipher_bits(const struct rw_tls *t); /* bulk cipher key bits, e.g. 128 */
/* Key exchange ("ECDHE", "DHE", "RSA"), its group ("SECP256R1", "X25519") and
 * strength in bits (256, 253, 2048; 0 when unknown). */
const char *rw__tls_kx(const struct rw_tls *t, const char **group, int *bits);
/* The same for any wolfSSL session (DTLSServer's too). */
struct WOLFSSL;
const char *rw__tls_ssl_kx(struct WOLFSSL *ssl, const char **group, int *bits);
/* wolfSSL's name for a cipher suite given by its IANA or its own name, or
 * NULL when this wolfSSL has no such suite; `all` is scratch space for
 * wolfSSL's list of every suite it has (8 KiB is plenty). */
const char *rw__tls_wolf_cipher_name(const char *name, char *all, size_t all_len);

#endif
