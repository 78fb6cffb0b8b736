/* proto/framer.h: splits a received byte stream into DataIn units.
 *
 * Modes, chosen from the public fields at every step (so a DataIn handler may
 * change them between units, e.g. ChangeRecordLength inside DataIn):
 *   record_len > 0     fixed-size records of record_len bytes (eol = true);
 *                      wins over everything else.
 *   single_line        lines ended by CR, LF or CRLF (one terminator, also when
 *                      CR ends one feed and LF starts the next); eol bytes ignored.
 *   eol_len > 0        lines ended by the eol byte string (may hold NUL).
 *   otherwise (raw)    every fed buffer is emitted as it is (eol = true), zero copy.
 * In line modes a unit that reaches max_line content bytes without a terminator
 * is emitted with eol = false and the line starts afresh. Terminators are never
 * part of the emitted bytes.
 *
 * Memory: units that lie wholly inside one fed buffer are emitted straight from
 * it (no copy). Only a partial unit at the end of a feed is copied into an
 * internal buffer, which is allocated on demand and freed again as soon as it
 * is empty at the end of a feed, so an idle framer holds no heap memory.
 */
#ifndef RW_PROTO_FRAMER_H
#define RW_PROTO_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RW_FRAMER_EOL_MAX 64
#define RW_FRAMER_MIN_LINE 256

typedef struct rw_framer {
	/* Settings: the caller may change them at any time. */
	uint8_t eol[RW_FRAMER_EOL_MAX];
	uint8_t eol_len;
	bool single_line;
	uint32_t max_line;   /* >= 1; the component enforces >= RW_FRAMER_MIN_LINE */
	uint32_t record_len; /* 0 = off */
	/* Private state; zero-initialised is valid. */
	uint8_t *_buf;
	uint32_t _len, _cap;
	bool _skip_lf;       /* single_line: a CR ended the last unit; swallow one LF */
} rw_framer;

/* Called for each unit. Return 0 to go on, non-zero to stop the feed right after
 * this unit (the connection was paused or closed inside the handler). */
typedef int (*rw_framer_emit_fn)(void *ctx, const uint8_t *data, size_t len, bool eol);

/* Initialise with defaults: raw mode, max_line 2048. */
void rw_framer_init(rw_framer *f);

/* Feed `len` bytes. Emits every complete unit, then keeps a partial one.
 * Returns the number of bytes consumed: `len`, or fewer when emit asked to stop
 * (the caller keeps data[consumed..len) and feeds it again later), or a
 * negative -RW_ENOMEM (ringworks/common.h) when the partial unit could not be
 * stored (nothing of this feed was kept then). */
ssize_t rw_framer_feed(rw_framer *f, const uint8_t *data, size_t len, rw_framer_emit_fn emit, void *ctx);

/* Emit a kept partial unit, if any, with eol = false (at connection close).
 * Returns emit's result, or 0 when nothing was kept. */
int rw_framer_flush(rw_framer *f, rw_framer_emit_fn emit, void *ctx);

/* Bytes currently kept in the internal buffer. */
size_t rw_framer_buffered(const rw_framer *f);

/* Hand over the kept bytes (NULL when none; *len set); the caller frees them.
 * For a switch of protocol mid-stream (StartSSL): the bytes are not a unit. */
uint8_t *rw_framer_take_kept(rw_framer *f, size_t *len);

/* Free the internal buffer; the framer stays usable. */
void rw_framer_free(rw_framer *f);

#endif
