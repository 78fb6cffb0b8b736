/* proto/tls_hello.h: reads a TLS ClientHello from the first bytes a client
 * sends, without taking them (the TLS library gets the same bytes after), so
 * that SSLConnectionRequest can show the offered cipher suites and signature
 * algorithms before the server picks its certificate.
 *
 * Pure: no sockets, no TLS library. The hello may span several records and
 * arrive in any number of pieces: call again with everything received so far.
 */
#ifndef RW_PROTO_TLS_HELLO_H
#define RW_PROTO_TLS_HELLO_H

#include <stddef.h>
#include <stdint.h>

/* Largest ClientHello waited for (handshake message bytes). Real ones are
 * 200 B to 2 KiB; post-quantum key shares stay well under this. */
#define RW_TLS_HELLO_MAX 16384

#define RW_TLS_HELLO_SUITES_MAX 128
#define RW_TLS_HELLO_SIGALGS_MAX 64

typedef struct rw_tls_hello {
	uint16_t suites[RW_TLS_HELLO_SUITES_MAX];   /* in the client's order */
	unsigned n_suites;
	uint16_t sigalgs[RW_TLS_HELLO_SIGALGS_MAX]; /* signature_algorithms extension */
	unsigned n_sigalgs;
	size_t consumed; /* bytes of the stream up to the end of the hello's last record */
} rw_tls_hello;

enum {
	RW_TLS_HELLO_MORE = 0, /* incomplete: call again with more bytes */
	RW_TLS_HELLO_OK = 1,   /* *out is filled */
	RW_TLS_HELLO_NOT = -1, /* not a TLS ClientHello, malformed, or too large */
};

/* Parse the start of a client's TLS stream. Lists longer than the arrays are
 * cut (the rest is ignored, never an error). */
int rw_tls_hello_parse(const uint8_t *data, size_t len, rw_tls_hello *out);

/* The IANA name of a TLS SignatureScheme ("ecdsa_secp256r1_sha256",
 * "rsa_pss_rsae_sha256", "ed25519", ...); NULL when it has none. */
const char *rw_tls_sigscheme_name(uint16_t scheme);

#endif
