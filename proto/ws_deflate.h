/* proto/ws_deflate.h: permessage-deflate (RFC 7692), server side, over zlib.
 *
 * Negotiation: the client's Sec-WebSocket-Extensions offers are read in order
 * and the first acceptable permessage-deflate offer wins. An offer is declined
 * for an unknown or repeated parameter, a malformed value, or
 * server_max_window_bits=8 (zlib cannot make a raw deflate stream with a
 * 256-byte window). The response always carries server_no_context_takeover
 * and client_no_context_takeover unless context takeover is allowed (so that
 * no zlib state outlives a message; RFC 7692 §7.1.1 lets a server add both
 * parameters unasked), and server_max_window_bits when the client asked.
 * client_max_window_bits is never answered: the server inflates with a 32 KiB
 * window, which covers any window the client uses.
 *
 * Inflate: one message at a time, input in any pieces, the 00 00 ff ff tail
 * appended at the message end (§7.2.2); output handed out in bounded chunks,
 * and stopped at a limit, so memory stays bounded whatever the ratio (a
 * decompression bomb fails with RW_PMD_TOO_BIG as soon as the output passes
 * the limit, never after).
 *
 * Deflate: a whole message, sync-flushed, the 00 00 ff ff tail removed.
 *
 * Memory (zlib 1.2.13, 64-bit): an inflate stream with a 32 KiB window is
 * about 7 KiB of state plus the 32 KiB window; a deflate stream at windowBits
 * 15 and memLevel 8 is about 256 KiB (128 KiB window + 128 KiB hash), at
 * windowBits 9 and memLevel 1 about 2 KiB + 1 KiB.
 */
#ifndef RW_PROTO_WS_DEFLATE_H
#define RW_PROTO_WS_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

typedef struct {
	bool server_no_context_takeover; /* we reset our deflate stream per message */
	bool client_no_context_takeover; /* the client resets its stream per message */
	int server_max_window_bits;      /* 9..15 (15 when the client set no limit) */
	bool server_bits_requested;      /* answer server_max_window_bits */
} rw_pmd_params;

/* Pick the first acceptable offer from a Sec-WebSocket-Extensions value.
 * allow_takeover false: the answer demands no context takeover both ways.
 * Returns true with *out set, false when no offer is acceptable. */
bool rw_pmd_negotiate(const char *offers, bool allow_takeover, rw_pmd_params *out);

/* The response's extension value ("permessage-deflate; ..."), NUL-terminated
 * into out (at least 128 bytes). */
void rw_pmd_response(const rw_pmd_params *p, char *out, size_t cap);

enum { RW_PMD_OK = 0, RW_PMD_ERROR = -1, RW_PMD_TOO_BIG = -2, RW_PMD_NOMEM = -3, RW_PMD_STOP = -4 };

/* A raw inflate stream (windowBits -15). */
int rw_pmd_inflate_init(z_stream *z);
void rw_pmd_inflate_end(z_stream *z);
/* Start a new message (no context takeover): forget the window. */
void rw_pmd_inflate_reset(z_stream *z);

/* Output callback: `last` is true exactly once, on the final call of the
 * message's final piece (possibly with n = 0). Non-zero return stops:
 * rw_pmd_inflate returns RW_PMD_STOP (the message is then abandoned). */
typedef int (*rw_pmd_out_fn)(void *ctx, const uint8_t *d, size_t n, bool last);

/* Inflate one piece of a message. `final`: this piece ends the message (the
 * tail is appended). *total counts the message's output so far; more than
 * `limit` (0 = none) gives RW_PMD_TOO_BIG. `scratch` of `cap` bytes (>= 2 KiB)
 * holds the output; chunks of at most cap/2 are passed to out. */
int rw_pmd_inflate(z_stream *z, const uint8_t *in, size_t n, bool final, uint64_t limit,
                   uint64_t *total, uint8_t *scratch, size_t cap, rw_pmd_out_fn out, void *ctx);

/* A raw deflate stream for window_bits 9..15 and mem_level 1..9 (0: scaled
 * down with the window, so a small window really saves memory). */
int rw_pmd_deflate_init(z_stream *z, int window_bits, int mem_level, int level);
void rw_pmd_deflate_end(z_stream *z);

/* A growable output buffer. */
typedef struct {
	uint8_t *d;
	size_t len, cap;
} rw_pmd_buf;

/* Compress a whole message into buf (replacing its contents): sync flush, the
 * 00 00 ff ff tail stripped (an empty result becomes the single byte 00, an
 * empty stored block, as §7.2.3.6 describes). reset: start from an empty
 * window (no context takeover). Returns RW_PMD_OK or RW_PMD_NOMEM /
 * RW_PMD_ERROR. */
int rw_pmd_deflate(z_stream *z, const uint8_t *in, size_t n, bool reset, rw_pmd_buf *buf);

#endif
