/* proto/dtls_record.h: a look at DTLS 1.0/1.2 records without keys (RFC 6347
 * section 4.1 and 4.2): the record header, whether a datagram starts with an
 * unfragmented ClientHello and where its fields (random, session id, cookie,
 * cipher suites, compression) lie; and the two plaintext messages a server
 * sends before it keeps any per-peer state: HelloVerifyRequest and a fatal
 * alert. Pure functions over bytes, no allocation: the stateless cookie
 * exchange runs on them, so every datagram a spoofed source sends is examined
 * here and nowhere else. Fuzzed by tests/fuzz/fuzz_dtls_record.c.
 */
#ifndef RW_PROTO_DTLS_RECORD_H
#define RW_PROTO_DTLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RW_DTLS_RECORD_HDR 13   /* type(1) version(2) epoch(2) seq(6) length(2) */
#define RW_DTLS_HS_HDR 12       /* type(1) length(3) message_seq(2) frag_off(3) frag_len(3) */
#define RW_DTLS_COOKIE_MAX 255  /* DTLS 1.2 cookie<0..2^8-1> */

enum {
	RW_DTLS_CT_CCS = 20, RW_DTLS_CT_ALERT = 21, RW_DTLS_CT_HANDSHAKE = 22,
	RW_DTLS_CT_APPDATA = 23, RW_DTLS_CT_ACK = 26 /* DTLS 1.3 */
};
enum { RW_DTLS_HS_CLIENT_HELLO = 1, RW_DTLS_HS_HELLO_VERIFY_REQUEST = 3 };

typedef struct {
	uint8_t type;      /* content type */
	uint16_t version;  /* on the wire: 0xfeff DTLS 1.0, 0xfefd DTLS 1.2 */
	uint16_t epoch;
	uint64_t seq;      /* 48-bit record sequence number */
	uint8_t seq_raw[6];
	uint16_t length;   /* fragment bytes after the header */
} rw_dtls_record;

/* A parsed ClientHello: every pointer points into the datagram. */
typedef struct {
	rw_dtls_record rec;
	uint16_t message_seq;
	uint16_t client_version;
	const uint8_t *version_bytes; /* the 2 bytes of client_version */
	const uint8_t *random;        /* 32 bytes */
	const uint8_t *session_id; uint8_t session_id_len;
	const uint8_t *cookie;     uint8_t cookie_len;
	const uint8_t *suites;     uint16_t suites_len;  /* bytes, not suites */
	const uint8_t *compression; uint8_t compression_len;
	const uint8_t *extensions; uint16_t extensions_len; /* the block without its length */
} rw_dtls_client_hello;

/* Read the record header at p. 0, or -1 when fewer than 13 bytes are there or
 * the length field runs past len (a truncated record). */
int rw_dtls_record_peek(const uint8_t *p, size_t len, rw_dtls_record *out);

/* Does the datagram consist of whole DTLS records, back to back, each with a
 * DTLS version (0xfeXX)? A DTLS 1.3 ciphertext record (unified header, first
 * byte 001xxxxx) is let through unchecked: its length may be implicit.
 * Datagrams that fail this never reach wolfSSL. */
bool rw_dtls_records_well_formed(const uint8_t *p, size_t len);

/* Is the first record of the datagram a version-plausible (0xfeXX) handshake
 * record of epoch 0 that holds one whole, unfragmented ClientHello? Returns 0
 * and fills *out; -1 when it is not a ClientHello at all; -2 when it is a
 * ClientHello that cannot be answered statelessly (fragmented, truncated or
 * malformed inside). */
int rw_dtls_parse_client_hello(const uint8_t *p, size_t len, rw_dtls_client_hello *out);

/* Does the ClientHello's supported_versions extension (43) list `version`
 * (0xfefc: DTLS 1.3)? False when the extension is absent or malformed. */
bool rw_dtls_ch_offers_version(const rw_dtls_client_hello *ch, uint16_t version);

/* Length of the HelloVerifyRequest for a cookie of cookie_len bytes. */
static inline size_t rw_dtls_hvr_len(size_t cookie_len)
{
	return RW_DTLS_RECORD_HDR + RW_DTLS_HS_HDR + 3 + cookie_len;
}

/* Write a HelloVerifyRequest answering `ch` (record sequence number echoed, as
 * RFC 6347 4.2.1 asks; version 0xfeff in record and body, as the RFC
 * recommends for every DTLS version). Returns the length, or 0 when `cap` or
 * cookie_len do not allow it. */
size_t rw_dtls_write_hvr(uint8_t *out, size_t cap, const rw_dtls_client_hello *ch,
                         const uint8_t *cookie, size_t cookie_len);

/* Write a plaintext fatal alert (epoch 0) with the record sequence number of
 * `rec`: 15 bytes, or 0 when cap < 15. */
size_t rw_dtls_write_alert(uint8_t *out, size_t cap, const rw_dtls_record *rec, uint8_t description);

#endif
