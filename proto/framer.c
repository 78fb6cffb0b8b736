/* proto/framer.c: splits a received byte stream into DataIn units.
 *
 * The bytes not yet delivered form one virtual sequence: the kept buffer
 * (_buf, _len) followed by the rest of the fed buffer. Every step reads the
 * settings afresh, finds the first unit of that sequence (or decides that more
 * bytes are needed), emits it, and drops it from the front of the sequence.
 * A unit lying wholly in the fed buffer is emitted from it directly; a unit
 * that starts in the kept buffer is completed there (copying only its own
 * content bytes). Decisions never depend on how the stream was split.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "proto/framer.h"

#include "ringworks/common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX

/* The not-yet-delivered bytes: kept buffer `a`, then fed bytes `d`. */
struct view {
	const uint8_t *a;
	size_t an;
	const uint8_t *d;
	size_t dn;
};

enum { U_NEED, U_UNIT, U_DROP };

/* One step's decision: emit k content bytes (U_UNIT), then drop e >= k bytes. */
struct unit {
	int kind;
	size_t k, e;
	bool eol, cr;
};

static inline uint8_t vbyte(const struct view *v, size_t i)
{
	return i < v->an ? v->a[i] : v->d[i - v->an];
}

static bool vmatch(const struct view *v, size_t k, const uint8_t *s, size_t m)
{
	for (size_t i = 0; i < m; i++)
		if (vbyte(v, k + i) != s[i])
			return false;
	return true;
}

static size_t min_sz(size_t x, size_t y)
{
	return x < y ? x : y;
}

static size_t line_limit(const rw_framer *f)
{
	return f->max_line ? f->max_line : 1;
}

static size_t eol_len(const rw_framer *f)
{
	return min_sz(f->eol_len, RW_FRAMER_EOL_MAX);
}

/* Smallest start k <= lim at which the whole eol lies in the view, or NONE. */
static size_t eol_full(const struct view *v, const uint8_t *eol, size_t tl, size_t lim)
{
	size_t n = v->an + v->dn;
	if (n < tl)
		return NONE;
	size_t last = min_sz(n - tl, lim);
	if (v->an >= tl) {
		const uint8_t *p = memmem(v->a, min_sz(v->an, last + tl), eol, tl);
		if (p)
			return (size_t)(p - v->a);
	}
	for (size_t k = v->an >= tl ? v->an - tl + 1 : 0; k < v->an && k <= last; k++)
		if (vmatch(v, k, eol, tl))
			return k;
	if (last >= v->an) {
		const uint8_t *p = memmem(v->d, last - v->an + tl, eol, tl);
		if (p)
			return v->an + (size_t)(p - v->d);
	}
	return NONE;
}

/* EOL mode: a terminated line, an overflow unit, or wait for more bytes. */
static void find_eol(const rw_framer *f, const struct view *v, struct unit *u)
{
	size_t n = v->an + v->dn, tl = eol_len(f), lim = line_limit(f);
	size_t k = eol_full(v, f->eol, tl, lim);
	if (k != NONE) {
		*u = (struct unit){U_UNIT, k, k + tl, true, false};
		return;
	}
	/* A proper prefix of eol at the tail, starting at or before lim. */
	for (k = n >= tl ? n - tl + 1 : 0; k < n && k <= lim; k++)
		if (vmatch(v, k, f->eol, n - k))
			return;
	if (n > lim)
		*u = (struct unit){U_UNIT, lim, lim, false, false};
}

/* Offset of the first CR or LF in p[0..n), or NONE. */
static size_t crlf_in(const uint8_t *p, size_t n)
{
	if (!n)
		return NONE;
	const uint8_t *lf = memchr(p, '\n', n);
	size_t m = lf ? (size_t)(lf - p) : n;
	const uint8_t *cr = memchr(p, '\r', m);
	if (cr)
		return (size_t)(cr - p);
	return lf ? m : NONE;
}

/* Single-line mode: CR or LF ends a line (the LF of CRLF via _skip_lf). */
static void find_single(const rw_framer *f, const struct view *v, struct unit *u)
{
	size_t n = v->an + v->dn, lim = line_limit(f);
	size_t span = min_sz(n, lim + 1);
	size_t k = crlf_in(v->a, min_sz(v->an, span));
	if (k == NONE && span > v->an) {
		k = crlf_in(v->d, span - v->an);
		if (k != NONE)
			k += v->an;
	}
	if (k != NONE)
		*u = (struct unit){U_UNIT, k, k + 1, true, vbyte(v, k) == '\r'};
	else if (n > lim)
		*u = (struct unit){U_UNIT, lim, lim, false, false};
}

/* The next step for the current settings; u->kind stays U_NEED to wait. The LF
 * after a CR-terminated line is swallowed whatever the mode is now (a handler
 * that switches to records after "SIZE\r\n" wants the record to start after it). */
static void find_unit(rw_framer *f, const struct view *v, struct unit *u)
{
	size_t n = v->an + v->dn;
	*u = (struct unit){U_NEED, 0, 0, false, false};
	if (f->_skip_lf && n) {
		f->_skip_lf = false;
		if (vbyte(v, 0) == '\n') {
			*u = (struct unit){U_DROP, 0, 1, false, false};
			return;
		}
	}
	if (f->record_len) {
		if (n >= f->record_len)
			*u = (struct unit){U_UNIT, f->record_len, f->record_len, true, false};
	} else if (f->single_line) {
		find_single(f, v, u);
	} else if (f->eol_len) {
		find_eol(f, v, u);
	} else if (v->an) {
		*u = (struct unit){U_UNIT, v->an, v->an, true, false};
	} else if (v->dn) {
		*u = (struct unit){U_UNIT, v->dn, v->dn, true, false};
	}
}

/* Room for `need` kept bytes; grows geometrically up to the mode's bound. */
static int buf_reserve(rw_framer *f, size_t need)
{
	if (need <= f->_cap)
		return 0;
	if (need > UINT32_MAX)
		return -RW_ENOMEM;
	size_t bound = f->record_len ? f->record_len : line_limit(f) + eol_len(f);
	size_t cap = f->_cap ? (size_t)f->_cap * 2 : 256;
	cap = min_sz(cap, bound > need ? bound : need);
	if (cap < need)
		cap = need;
	uint8_t *p = realloc(f->_buf, cap);
	if (!p)
		return -RW_ENOMEM;
	f->_buf = p;
	f->_cap = (uint32_t)cap;
	return 0;
}

static int buf_append(rw_framer *f, const uint8_t *p, size_t n)
{
	if (!n)
		return 0;
	if (buf_reserve(f, (size_t)f->_len + n) < 0)
		return -RW_ENOMEM;
	memcpy(f->_buf + f->_len, p, n);
	f->_len += (uint32_t)n;
	return 0;
}

/* Drop e bytes from the front of the virtual sequence. */
static void consume(rw_framer *f, size_t *pos, size_t e)
{
	if (e <= f->_len) {
		f->_len -= (uint32_t)e;
		if (f->_len)
			memmove(f->_buf, f->_buf + e, f->_len);
	} else {
		*pos += e - f->_len;
		f->_len = 0;
	}
}

/* Emit one unit (zero copy when nothing is kept) and drop it. Returns 0, or
 * -RW_ENOMEM; *stop gets emit's result. */
static int deliver(rw_framer *f, const uint8_t *d, size_t *pos, const struct unit *u,
                   rw_framer_emit_fn emit, void *ctx, int *stop)
{
	const uint8_t *p = d ? d + *pos : NULL;
	if (f->_len && u->kind == U_UNIT) {
		if (u->k > f->_len) {
			size_t add = u->k - f->_len;
			if (buf_append(f, d + *pos, add) < 0)
				return -RW_ENOMEM;
			*pos += add;
		}
		p = f->_buf;
	}
	if (u->cr)
		f->_skip_lf = true;
	if (u->kind == U_UNIT)
		*stop = emit(ctx, p, u->k, u->eol);
	consume(f, pos, u->e);
	return 0;
}

static void release_if_empty(rw_framer *f)
{
	if (f->_len == 0 && f->_buf) {
		free(f->_buf);
		f->_buf = NULL;
		f->_cap = 0;
	}
}

/* Deliver every complete unit of kept + d, keep the rest (unless stopped). */
static ssize_t run(rw_framer *f, const uint8_t *d, size_t len, rw_framer_emit_fn emit,
                   void *ctx, int *stop)
{
	size_t pos = 0;
	*stop = 0;
	for (;;) {
		struct view v = {f->_buf, f->_len, d ? d + pos : NULL, len - pos};
		struct unit u;
		find_unit(f, &v, &u);
		if (u.kind == U_NEED) {
			if (buf_append(f, v.d, v.dn) < 0)
				goto nomem;
			pos = len;
			break;
		}
		if (deliver(f, d, &pos, &u, emit, ctx, stop) < 0)
			goto nomem;
		if (*stop)
			break;
	}
	release_if_empty(f);
	return (ssize_t)pos;
nomem:
	release_if_empty(f);
	return -RW_ENOMEM;
}

void rw_framer_init(rw_framer *f)
{
	memset(f, 0, sizeof(*f));
	f->max_line = 2048;
}

ssize_t rw_framer_feed(rw_framer *f, const uint8_t *data, size_t len, rw_framer_emit_fn emit, void *ctx)
{
	int stop;
	if (!data)
		len = 0;
	return run(f, data, len, emit, ctx, &stop);
}

/* Units the current settings find in the kept bytes go out as usual; what is
 * left is a partial unit, emitted with eol = false (line units in pieces of at
 * most max_line, as a partial terminator may sit past it). */
int rw_framer_flush(rw_framer *f, rw_framer_emit_fn emit, void *ctx)
{
	int rc = 0;
	if (run(f, NULL, 0, emit, ctx, &rc) < 0 || rc)
		return rc;
	bool lines = !f->record_len && (f->single_line || f->eol_len);
	while (f->_len && !rc) {
		size_t n = lines ? min_sz(f->_len, line_limit(f)) : f->_len;
		size_t pos = 0;
		rc = emit(ctx, f->_buf, n, false);
		consume(f, &pos, n);
	}
	release_if_empty(f);
	return rc;
}

size_t rw_framer_buffered(const rw_framer *f)
{
	return f->_len;
}

void rw_framer_free(rw_framer *f)
{
	free(f->_buf);
	f->_buf = NULL;
	f->_len = f->_cap = 0;
	f->_skip_lf = false;
}

uint8_t *rw_framer_take_kept(rw_framer *f, size_t *len)
{
	*len = f->_len;
	if (!f->_len) {
		rw_framer_free(f);
		return NULL;
	}
	uint8_t *b = f->_buf;
	f->_buf = NULL;
	f->_len = f->_cap = 0;
	f->_skip_lf = false;
	return b;
}
