/* proto/ws_deflate.c: permessage-deflate negotiation, inflate and deflate. */
#include "proto/ws_deflate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- negotiation ------------------------------------------------------- */

static const char *skip_ows(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static size_t rtrim(const char *p, size_t n)
{
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return n;
}

/* A window-bits value: 8..15, plain or quoted; -1 if malformed. */
static int bits_value(const char *v, size_t n)
{
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n < 1 || n > 2 || !isdigit((unsigned char)v[0]) || v[0] == '0')
		return -1;
	int x = v[0] - '0';
	if (n == 2) {
		if (!isdigit((unsigned char)v[1]))
			return -1;
		x = x * 10 + v[1] - '0';
	}
	return x >= 8 && x <= 15 ? x : -1;
}

/* One offer: "permessage-deflate; p1; p2=v". Returns true when acceptable. */
static bool parse_offer(const char *p, const char *e, bool allow_takeover, rw_pmd_params *out)
{
	const char *semi = memchr(p, ';', (size_t)(e - p));
	const char *ne = semi ? semi : e;
	p = skip_ows(p, ne);
	size_t nl = rtrim(p, (size_t)(ne - p));
	if (nl != 18 || strncasecmp(p, "permessage-deflate", 18) != 0)
		return false;
	rw_pmd_params r = {0};
	r.server_max_window_bits = 15;
	bool seen_snct = false, seen_cnct = false, seen_smwb = false, seen_cmwb = false;
	while (semi) {
		p = semi + 1;
		semi = memchr(p, ';', (size_t)(e - p));
		const char *pe = semi ? semi : e;
		p = skip_ows(p, pe);
		size_t n = rtrim(p, (size_t)(pe - p));
		const char *eq = memchr(p, '=', n);
		size_t kn = eq ? rtrim(p, (size_t)(eq - p)) : n;
		const char *v = NULL;
		size_t vn = 0;
		if (eq) {
			v = skip_ows(eq + 1, p + n);
			vn = (size_t)(p + n - v);
		}
#define KEY(k) (kn == sizeof(k) - 1 && strncasecmp(p, k, kn) == 0)
		if (KEY("server_no_context_takeover")) {
			if (seen_snct || eq)
				return false;
			seen_snct = true;
			r.server_no_context_takeover = true;
		} else if (KEY("client_no_context_takeover")) {
			if (seen_cnct || eq)
				return false;
			seen_cnct = true;
			r.client_no_context_takeover = true;
		} else if (KEY("server_max_window_bits")) {
			int b = eq ? bits_value(v, vn) : -1;
			if (seen_smwb || b < 0 || b == 8)
				return false; /* 8: zlib has no raw deflate with a 256-byte window */
			seen_smwb = true;
			r.server_max_window_bits = b;
			r.server_bits_requested = true;
		} else if (KEY("client_max_window_bits")) {
			/* Without a value it only says the client can honour one; we
			 * inflate with 15 bits anyway, so the value only needs to be valid. */
			if (seen_cmwb || (eq && bits_value(v, vn) < 0))
				return false;
			seen_cmwb = true;
		} else {
			return false;
		}
#undef KEY
	}
	if (!allow_takeover)
		r.server_no_context_takeover = r.client_no_context_takeover = true;
	*out = r;
	return true;
}

bool rw_pmd_negotiate(const char *offers, bool allow_takeover, rw_pmd_params *out)
{
	const char *p = offers ? offers : "";
	const char *end = p + strlen(p);
	while (p < end) {
		/* Offers are split at commas outside quoted strings. */
		const char *e = p;
		bool quoted = false;
		while (e < end && (quoted || *e != ',')) {
			if (*e == '"')
				quoted = !quoted;
			e++;
		}
		if (parse_offer(p, e, allow_takeover, out))
			return true;
		p = e < end ? e + 1 : end;
	}
	return false;
}

void rw_pmd_response(const rw_pmd_params *p, char *out, size_t cap)
{
	int n = snprintf(out, cap, "permessage-deflate%s%s", p->server_no_context_takeover ? "; server_no_context_takeover" : "",
	                 p->client_no_context_takeover ? "; client_no_context_takeover" : "");
	if (p->server_bits_requested && n > 0 && (size_t)n < cap)
		snprintf(out + n, cap - (size_t)n, "; server_max_window_bits=%d", p->server_max_window_bits);
}

/* ---- inflate ------------------------------------------------------------ */

int rw_pmd_inflate_init(z_stream *z)
{
	memset(z, 0, sizeof(*z));
	int rc = inflateInit2(z, -15);
	return rc == Z_OK ? RW_PMD_OK : rc == Z_MEM_ERROR ? RW_PMD_NOMEM : RW_PMD_ERROR;
}

void rw_pmd_inflate_end(z_stream *z)
{
	inflateEnd(z);
}

void rw_pmd_inflate_reset(z_stream *z)
{
	inflateReset(z);
}

static const uint8_t TAIL[4] = {0x00, 0x00, 0xff, 0xff};

int rw_pmd_inflate(z_stream *z, const uint8_t *in, size_t n, bool final, uint64_t limit,
                   uint64_t *total, uint8_t *scratch, size_t cap, rw_pmd_out_fn out, void *ctx)
{
	/* Two halves: one is being filled while the other holds the previous
	 * chunk, so that the last chunk of the message can be marked `last`. */
	size_t half = cap / 2;
	uint8_t *cur = scratch, *held = scratch + half;
	size_t held_n = 0;
	bool have_held = false;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && !final)
			break;
		z->next_in = (Bytef *)(pass == 0 ? in : TAIL);
		z->avail_in = (uInt)(pass == 0 ? n : sizeof(TAIL));
		for (;;) {
			z->next_out = cur;
			z->avail_out = (uInt)half;
			int rc = inflate(z, Z_SYNC_FLUSH);
			size_t got = half - z->avail_out;
			if (rc == Z_STREAM_END) {
				/* A final deflate block (BFINAL): what follows, if anything,
				 * starts a new stream. */
				inflateReset(z);
			} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
				return rc == Z_MEM_ERROR ? RW_PMD_NOMEM : RW_PMD_ERROR;
			}
			if (got) {
				*total += got;
				if (limit && *total > limit)
					return RW_PMD_TOO_BIG;
				if (have_held && out(ctx, held, held_n, false))
					return RW_PMD_STOP;
				uint8_t *t = held;
				held = cur;
				cur = t;
				held_n = got;
				have_held = true;
			}
			if (rc == Z_BUF_ERROR && got == 0)
				break; /* no progress possible: input used up */
			if (z->avail_in == 0 && z->avail_out != 0)
				break;
		}
	}
	if (final) {
		if (out(ctx, have_held ? held : scratch, have_held ? held_n : 0, true))
			return RW_PMD_STOP;
	} else if (have_held && out(ctx, held, held_n, false)) {
		return RW_PMD_STOP;
	}
	return RW_PMD_OK;
}

/* ---- deflate ------------------------------------------------------------ */

int rw_pmd_deflate_init(z_stream *z, int window_bits, int mem_level, int level)
{
	memset(z, 0, sizeof(*z));
	if (window_bits < 9 || window_bits > 15 || mem_level < 0 || mem_level > 9)
		return RW_PMD_ERROR;
	/* By default memLevel follows the window (zlib's own ratio at 15 bits
	 * is 8). */
	int mem = mem_level ? mem_level : window_bits - 7;
	int rc = deflateInit2(z, level, Z_DEFLATED, -window_bits, mem, Z_DEFAULT_STRATEGY);
	return rc == Z_OK ? RW_PMD_OK : rc == Z_MEM_ERROR ? RW_PMD_NOMEM : RW_PMD_ERROR;
}

void rw_pmd_deflate_end(z_stream *z)
{
	deflateEnd(z);
}

static int grow(rw_pmd_buf *b, size_t need)
{
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < need)
		cap *= 2;
	uint8_t *d = realloc(b->d, cap);
	if (!d)
		return -1;
	b->d = d;
	b->cap = cap;
	return 0;
}

int rw_pmd_deflate(z_stream *z, const uint8_t *in, size_t n, bool reset, rw_pmd_buf *buf)
{
	if (reset)
		deflateReset(z);
	buf->len = 0;
	if (grow(buf, deflateBound(z, (uLong)n) + 16) < 0)
		return RW_PMD_NOMEM;
	z->next_in = (Bytef *)in;
	z->avail_in = (uInt)n;
	for (;;) {
		z->next_out = buf->d + buf->len;
		z->avail_out = (uInt)(buf->cap - buf->len);
		int rc = deflate(z, Z_SYNC_FLUSH);
		buf->len = buf->cap - z->avail_out;
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return RW_PMD_ERROR;
		if (z->avail_in == 0 && z->avail_out != 0)
			break;
		if (grow(buf, buf->cap * 2) < 0)
			return RW_PMD_NOMEM;
	}
	if (buf->len >= 4 && memcmp(buf->d + buf->len - 4, TAIL, 4) == 0)
		buf->len -= 4;
	if (buf->len == 0) {
		buf->d[0] = 0x00;
		buf->len = 1;
	}
	return RW_PMD_OK;
}
