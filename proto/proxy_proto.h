/* proto/proxy_proto.h: the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) that a load balancer sends in clear at the start of a TCP
 * connection, before the client's own bytes (before a TLS ClientHello), to
 * pass on the client's address.
 *
 *   v1: one text line, at most 107 bytes with its CRLF:
 *       "PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n", "PROXY TCP6 ...",
 *       "PROXY UNKNOWN[ anything]\r\n" (addresses unknown: keep the socket's).
 *   v2: 12-byte signature "\r\n\r\n\0\r\nQUIT\n", version/command byte (0x20
 *       LOCAL, 0x21 PROXY), family/protocol byte (0x00 UNSPEC, 0x11 TCP4,
 *       0x21 TCP6; UDP and UNIX are refused), 16-bit length, the addresses,
 *       then TLVs (skipped, not kept).
 *
 * Pure and incremental: the parser keeps at most 107 bytes and takes the
 * header in pieces of any size, stopping exactly at its end, so the bytes
 * after it (the client's data) stay with the caller. A wrong byte is refused
 * as soon as it arrives (a TLS ClientHello fails on its first byte). */
#ifndef RW_PROTO_PROXY_PROTO_H
#define RW_PROTO_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RW_PROXY_V1_MAX 107 /* the longest v1 line, CRLF included */
#define RW_PROXY_V2_SIG_LEN 12

enum {
	RW_PROXY_ACCEPT_V1 = 1, /* versions a parser takes (a mask) */
	RW_PROXY_ACCEPT_V2 = 2,
};

enum {
	RW_PROXY_MORE = 0, /* the header is not complete: feed more bytes */
	RW_PROXY_DONE = 1, /* the header is complete: see p->hdr */
	RW_PROXY_BAD = -1, /* not a PROXY header (or one of a refused version) */
};

typedef struct rw_proxy_hdr {
	uint8_t version; /* 1 or 2 */
	bool local;      /* v2 LOCAL, v1 UNKNOWN or v2 UNSPEC: no client address */
	uint8_t family;  /* 4 or 6 (0 when local) */
	uint8_t src[16], dst[16]; /* network order; 4 bytes used for family 4 */
	uint16_t src_port, dst_port;
	uint16_t tlv_len; /* v2: bytes of TLVs skipped */
} rw_proxy_hdr;

typedef struct rw_proxy_parser {
	uint8_t accept; /* RW_PROXY_ACCEPT_* mask */
	uint8_t state;  /* internal */
	uint16_t have;  /* bytes in buf */
	uint32_t left;  /* v2: bytes of the address block and TLVs still to come */
	uint8_t buf[RW_PROXY_V1_MAX + 1];
	rw_proxy_hdr hdr;
} rw_proxy_parser;

void rw_proxy_init(rw_proxy_parser *p, unsigned accept);

/* Feed the next `len` bytes; *consumed says how many belong to the header
 * (all of them while MORE, up to the header's end at DONE, unspecified at
 * BAD). After DONE or BAD, further calls return the same answer and consume
 * nothing. */
int rw_proxy_feed(rw_proxy_parser *p, const uint8_t *data, size_t len, size_t *consumed);

#endif
