/* tests/fuzz/fuzz_framer.c: libFuzzer target for the stream framer.
 *
 * Input: 12 header bytes (mode, max_line, eol, record_len, seed), then the
 * stream. The stream is framed twice: whole, and cut at random points with
 * random early stops. Settings may change inside emit (decided from the unit
 * index only, so both runs see the same changes). Checked: both runs give the
 * same units; no line unit exceeds max_line; no record unit differs from
 * record_len; the kept bytes stay within one partial unit after every feed;
 * units plus terminators rebuild the stream when single-line mode is unused.
 */
#include "proto/framer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sink {
	rw_framer *f;
	uint8_t *out;       /* units as [len:4][eol:1][bytes] */
	size_t len, cap;
	uint8_t *text;      /* units + terminators, to rebuild the stream */
	size_t text_len, text_cap;
	uint32_t seed;
	uint8_t flags;      /* bit 0: change settings in emit; bit 1: early stops */
	size_t units;
	bool saw_single;
	bool stop_on;       /* this run stops early now and then */
	bool stopped;       /* the last feed was stopped by emit */
	const uint8_t *stream;
	size_t stream_len;
};

static void put(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n > *cap) {
		*cap = (*len + n) * 2 + 64;
		*buf = realloc(*buf, *cap);
		if (!*buf)
			abort();
	}
	if (n)
		memcpy(*buf + *len, p, n);
	*len += n;
}

static uint32_t mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

/* A deterministic settings change after unit `i`; never raw mode. */
static void change(rw_framer *f, uint32_t r)
{
	switch (r % 6) {
	case 0:
		f->record_len = 1 + (r >> 8) % 17;
		break;
	case 1:
		f->record_len = 0;
		break;
	case 2:
		f->single_line = !f->single_line;
		break;
	case 3:
		f->max_line = 1 + (r >> 8) % 40;
		break;
	case 4:
		f->eol_len = (uint8_t)(1 + (r >> 8) % 3);
		f->eol[0] = (uint8_t)"\r\n\0a"[(r >> 12) % 4];
		break;
	default:
		break;
	}
}

/* Line units never exceed max_line; records are exactly record_len. */
static void check_unit(const rw_framer *f, size_t len, bool eol)
{
	if (f->record_len) {
		if (len != f->record_len || !eol)
			abort();
	} else if (f->single_line || f->eol_len) {
		if (len > (f->max_line ? f->max_line : 1))
			abort();
	} else if (len == 0 || !eol) {
		abort();
	}
}

/* EOL mode, stream position known: the terminator is the first one in the
 * stream, at the unit's end (eol) or nowhere up to max_line (overflow). */
static void check_first(const struct sink *s, size_t len, bool eol)
{
	const rw_framer *f = s->f;
	size_t at = s->text_len, tl = f->eol_len;
	if (!s->stream || f->record_len || f->single_line || !tl || s->saw_single)
		return;
	for (size_t k = 0; k <= len && at + k + tl <= s->stream_len; k++) {
		if (!memcmp(s->stream + at + k, f->eol, tl)) {
			if (!eol || k != len)
				abort();
			return;
		}
	}
	if (eol)
		abort();
}

static int emit(void *ctx, const uint8_t *d, size_t len, bool eol)
{
	struct sink *s = ctx;
	rw_framer *f = s->f;
	uint32_t n32 = (uint32_t)len;
	uint8_t e = eol;
	check_unit(f, len, eol);
	check_first(s, len, eol);
	put(&s->out, &s->len, &s->cap, &n32, 4);
	put(&s->out, &s->len, &s->cap, &e, 1);
	put(&s->out, &s->len, &s->cap, d, len);
	put(&s->text, &s->text_len, &s->text_cap, d, len);
	if (eol && !f->record_len && !f->single_line && f->eol_len)
		put(&s->text, &s->text_len, &s->text_cap, f->eol, f->eol_len);
	uint32_t r = mix(s->seed ^ (uint32_t)s->units++);
	if ((s->flags & 1) && r % 3 == 0)
		change(f, r >> 2);
	s->saw_single |= f->single_line && !f->record_len;
	s->stopped = s->stop_on && (s->flags & 2) && (r >> 20) % 4 == 0;
	return s->stopped;
}

/* Flush-time units are partial: eol = false, shorter than a record, never
 * longer than a line. */
static int emit_flush(void *ctx, const uint8_t *d, size_t len, bool eol)
{
	struct sink *s = ctx;
	const rw_framer *f = s->f;
	uint32_t n32 = (uint32_t)len;
	uint8_t e = eol;
	if (eol || (f->record_len && len >= f->record_len))
		abort();
	if (!f->record_len && (f->single_line || f->eol_len) && len > (f->max_line ? f->max_line : 1))
		abort();
	put(&s->out, &s->len, &s->cap, &n32, 4);
	put(&s->out, &s->len, &s->cap, &e, 1);
	put(&s->out, &s->len, &s->cap, d, len);
	put(&s->text, &s->text_len, &s->text_cap, d, len);
	return 0;
}

/* After a feed that was not stopped, at most one partial unit is kept. */
static void check_kept(const rw_framer *f)
{
	size_t lim = f->max_line ? f->max_line : 1, bound = 0;
	if (f->record_len)
		bound = f->record_len - 1;
	else if (f->single_line)
		bound = lim;
	else if (f->eol_len)
		bound = lim + f->eol_len - 1;
	if (rw_framer_buffered(f) > bound || (rw_framer_buffered(f) == 0 && f->_buf))
		abort();
}

static void setup(rw_framer *f, const uint8_t *h)
{
	rw_framer_init(f);
	f->max_line = (h[1] & 0x80) ? 256 + h[1] * 4u : 1 + h[1] % 40u;
	f->eol_len = (uint8_t)(1 + h[2] % 4);
	memcpy(f->eol, h + 3, 4);
	switch (h[0] & 3) {
	case 0:
		f->eol_len = 0;
		break;
	case 2:
		f->single_line = true;
		break;
	case 3:
		f->record_len = 1 + h[7] % 32u;
		break;
	default:
		break;
	}
}

/* Feed d[0..n) in pieces (cut when `cuts`), re-feeding after early stops. */
static void run(struct sink *s, const uint8_t *d, size_t n, bool cuts)
{
	uint32_t r = s->seed;
	size_t at = 0;
	while (at < n) {
		size_t piece = n - at;
		r = mix(r + 1);
		if (cuts && piece > 1)
			piece = 1 + r % (r & 0x100 && piece > 3 ? 3 : piece);
		uint8_t *copy = malloc(piece);
		memcpy(copy, d + at, piece);
		size_t done = 0;
		do { /* a stop on the last byte may leave units kept: feed again */
			s->stopped = false;
			ssize_t used = rw_framer_feed(s->f, copy + done, piece - done, emit, s);
			if (used < 0 || (size_t)used > piece - done)
				abort();
			done += (size_t)used;
		} while (done < piece || s->stopped);
		check_kept(s->f);
		free(copy);
		at += piece;
	}
	while (rw_framer_buffered(s->f))
		rw_framer_flush(s->f, emit_flush, s);
}

static void sink_free(struct sink *s)
{
	free(s->out);
	free(s->text);
	rw_framer_free(s->f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 12)
		return 0;
	rw_framer fa, fb;
	uint32_t seed;
	memcpy(&seed, data + 8, 4);
	struct sink a = {.f = &fa, .seed = seed, .flags = (uint8_t)(data[0] >> 2),
	                 .stream = data + 12, .stream_len = size - 12};
	struct sink b = {.f = &fb, .seed = seed, .flags = (uint8_t)(data[0] >> 2), .stop_on = true};
	setup(&fa, data);
	setup(&fb, data);
	a.saw_single = fa.single_line;
	run(&a, data + 12, size - 12, false);
	run(&b, data + 12, size - 12, true);
	bool raw = (data[0] & 3) == 0;
	if (!raw && (a.len != b.len || (a.len && memcmp(a.out, b.out, a.len))))
		abort(); /* the units depend on how the stream was cut */
	if (!a.saw_single && (a.text_len != size - 12 || (a.text_len && memcmp(a.text, data + 12, a.text_len))))
		abort(); /* units + terminators do not rebuild the stream */
	sink_free(&a);
	sink_free(&b);
	return 0;
}
