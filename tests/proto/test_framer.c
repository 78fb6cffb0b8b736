/* tests/proto/test_framer.c: the stream framer, every input fed whole, at every
 * split point and one byte at a time, plus a differential test against a
 * byte-at-a-time reference framer. */
#include "proto/framer.h"

#include "ringworks/common.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- recording units ---------------------------------------------------- */

/* Units are recorded as text: "[bytes]" for eol = true, "[bytes>" for false;
 * bytes outside printable ASCII appear as \xNN. */
struct rec {
	char *text;
	size_t len, cap;
	size_t units;
	int stop_every;            /* emit returns 1 on every n-th unit (0 = never) */
	void (*hook)(struct rec *r, const uint8_t *d, size_t n, bool eol);
	rw_framer *f;
	const uint8_t *zc_lo, *zc_hi; /* the buffer being fed */
	size_t zero_copy;          /* units emitted from inside it */
};

static void rec_put(struct rec *r, const char *s, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		r->cap = (r->len + n + 1) * 2;
		r->text = realloc(r->text, r->cap);
		cr_assert_not_null(r->text);
	}
	memcpy(r->text + r->len, s, n);
	r->len += n;
	r->text[r->len] = '\0';
}

static int rec_emit(void *ctx, const uint8_t *d, size_t n, bool eol)
{
	struct rec *r = ctx;
	char hex[8];
	rec_put(r, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (d[i] >= 0x20 && d[i] < 0x7f && d[i] != '\\') {
			rec_put(r, (const char *)&d[i], 1);
		} else {
			snprintf(hex, sizeof(hex), "\\x%02x", d[i]);
			rec_put(r, hex, 4);
		}
	}
	rec_put(r, eol ? "]" : ">", 1);
	if (n && d >= r->zc_lo && d + n <= r->zc_hi)
		r->zero_copy++;
	r->units++;
	if (r->hook)
		r->hook(r, d, n, eol);
	return r->stop_every && r->units % (size_t)r->stop_every == 0;
}

static void rec_reset(struct rec *r)
{
	free(r->text);
	r->text = NULL;
	r->len = r->cap = r->units = r->zero_copy = 0;
	rec_put(r, "", 0);
}

/* ---- feeding ------------------------------------------------------------ */

struct cfg {
	const char *eol;
	size_t eol_len;
	bool single_line;
	uint32_t max_line;
	uint32_t record_len;
};

static void setup(rw_framer *f, const struct cfg *c)
{
	rw_framer_init(f);
	if (c->eol_len)
		memcpy(f->eol, c->eol, c->eol_len);
	f->eol_len = (uint8_t)c->eol_len;
	f->single_line = c->single_line;
	if (c->max_line)
		f->max_line = c->max_line;
	f->record_len = c->record_len;
}

/* Feed one chunk; re-feed whatever an early stop left. */
static void feed_all(rw_framer *f, struct rec *r, const uint8_t *d, size_t n)
{
	r->zc_lo = d;
	r->zc_hi = d + n;
	do {
		ssize_t used = rw_framer_feed(f, d, n, rec_emit, r);
		cr_assert_geq(used, 0);
		cr_assert_leq((size_t)used, n);
		d += used;
		n -= (size_t)used;
	} while (n);
}

/* Feed `in` as the chunks given by `cuts` (ascending offsets), then flush. */
static char *run_cuts(const struct cfg *c, const uint8_t *in, size_t n, const size_t *cuts,
                      size_t ncuts, int stop_every, void (*hook)(struct rec *, const uint8_t *, size_t, bool))
{
	rw_framer f;
	struct rec r = {.stop_every = stop_every, .hook = hook, .f = &f};
	size_t at = 0;
	setup(&f, c);
	rec_reset(&r);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		uint8_t *copy = malloc(end - at + 1); /* ASan sees overreads per chunk */
		memcpy(copy, in + at, end - at);
		feed_all(&f, &r, copy, end - at);
		free(copy);
		at = end;
	}
	while (rw_framer_buffered(&f))
		rw_framer_flush(&f, rec_emit, &r);
	cr_assert_null(f._buf);
	rw_framer_free(&f);
	return r.text;
}

/* Every split point, one byte at a time, and with early stops: one answer. */
static void check_all_splits(const struct cfg *c, const void *input, size_t n, const char *want,
                             void (*hook)(struct rec *, const uint8_t *, size_t, bool))
{
	const uint8_t *in = input;
	char *whole = run_cuts(c, in, n, NULL, 0, 0, hook);
	cr_assert_str_eq(whole, want);
	for (size_t i = 0; i <= n; i++) {
		char *got = run_cuts(c, in, n, &i, 1, 0, hook);
		cr_assert_str_eq(got, want, "split at %zu", i);
		free(got);
	}
	size_t *cuts = malloc((n + 1) * sizeof(*cuts));
	for (size_t i = 0; i < n; i++)
		cuts[i] = i;
	for (int stop = 0; stop <= 2; stop++) {
		char *got = run_cuts(c, in, n, cuts, n, stop, hook);
		cr_assert_str_eq(got, want, "byte at a time, stop_every %d", stop);
		free(got);
		got = run_cuts(c, in, n, NULL, 0, stop, hook);
		cr_assert_str_eq(got, want, "whole, stop_every %d", stop);
		free(got);
	}
	free(cuts);
	free(whole);
}

#define LIT(s) s, sizeof(s) - 1

/* ---- the documented examples ------------------------------------------- */

Test(framer, crlf_eol_lines)
{
	struct cfg c = {.eol = "\r\n", .eol_len = 2};
	check_all_splits(&c, LIT("ab\r\ncd\r\n"), "[ab][cd]", NULL);
	check_all_splits(&c, LIT("\r\n\r\nx\ry\n\r"), "[][][x\\x0dy\\x0a\\x0d>", NULL);
}

Test(framer, eol_with_nul_bytes)
{
	struct cfg c = {.eol = "\0\0|", .eol_len = 3};
	check_all_splits(&c, LIT("x\0\0|y\0\0|"), "[x][y]", NULL);
	check_all_splits(&c, LIT("x\0\0\0|\0\0\0\0|z"), "[x\\x00][\\x00\\x00][z>", NULL);
}

Test(framer, eol_self_overlapping)
{
	struct cfg c = {.eol = "aab", .eol_len = 3};
	check_all_splits(&c, LIT("aaabxaaaab"), "[a][xaa]", NULL);
}

static char *repeat(char ch, size_t n, const char *tail)
{
	size_t t = strlen(tail);
	char *s = malloc(n + t + 1);
	memset(s, ch, n);
	memcpy(s + n, tail, t + 1);
	return s;
}

static char *expect_units(const size_t *lens, const bool *eols, size_t count, char ch)
{
	struct rec r = {0};
	rec_reset(&r);
	for (size_t i = 0; i < count; i++) {
		char *s = repeat(ch, lens[i], "");
		rec_emit(&r, (const uint8_t *)s, lens[i], eols[i]);
		free(s);
	}
	return r.text;
}

Test(framer, long_line_split_at_max_line)
{
	struct cfg c = {.eol = "\n", .eol_len = 1, .max_line = 2048};
	char *in = repeat('a', 5000, "\n");
	size_t lens[] = {2048, 2048, 904};
	bool eols[] = {false, false, true};
	char *want = expect_units(lens, eols, 3, 'a');
	check_all_splits(&c, in, 5001, want, NULL);
	free(in);
	free(want);
}

/* Build the expected text from (bytes, length, eol) triples. */
struct piece {
	const char *data;
	size_t len;
	bool eol;
};

static char *expect(const struct piece *p, size_t count)
{
	struct rec r = {0};
	rec_reset(&r);
	for (size_t i = 0; i < count; i++)
		rec_emit(&r, (const uint8_t *)p[i].data, p[i].len, p[i].eol);
	return r.text;
}

Test(framer, line_of_exactly_max_line_is_complete)
{
	struct cfg c = {.eol = "\r\n", .eol_len = 2, .max_line = 256};
	char *in = repeat('a', 256, "\r\nb\r\n");
	struct piece p[] = {{in, 256, true}, {"b", 1, true}};
	char *want = expect(p, 2);
	check_all_splits(&c, in, strlen(in), want, NULL);
	free(in);
	free(want);
	/* A terminator that starts past max_line does not count. */
	in = repeat('a', 256, "\rx\r\n");
	struct piece q[] = {{in, 256, false}, {"\rx", 2, true}};
	want = expect(q, 2);
	check_all_splits(&c, in, strlen(in), want, NULL);
	free(in);
	free(want);
}

Test(framer, single_line_cr_lf_crlf)
{
	struct cfg c = {.single_line = true};
	check_all_splits(&c, LIT("a\rb\nc\r\nd\r\n"), "[a][b][c][d]", NULL);
	check_all_splits(&c, LIT("\r\n\r\n"), "[][]", NULL);
	check_all_splits(&c, LIT("a\n\nb\r\rc\n\r"), "[a][][b][][c][]", NULL);
	/* EOL bytes are ignored in single-line mode. */
	struct cfg e = {.single_line = true, .eol = "x", .eol_len = 1};
	check_all_splits(&e, LIT("axb\r\n"), "[axb]", NULL);
}

Test(framer, single_line_cr_then_lf_in_next_feed)
{
	rw_framer f;
	struct rec r = {0};
	struct cfg c = {.single_line = true};
	setup(&f, &c);
	rec_reset(&r);
	feed_all(&f, &r, (const uint8_t *)"a\r", 2);
	cr_assert_str_eq(r.text, "[a]");
	cr_assert_eq(rw_framer_buffered(&f), 0);
	feed_all(&f, &r, (const uint8_t *)"\nb\n", 3);
	cr_assert_str_eq(r.text, "[a][b]");
	rw_framer_free(&f);
	free(r.text);
}

Test(framer, single_line_max_line)
{
	struct cfg c = {.single_line = true, .max_line = 256};
	char *in = repeat('a', 600, "\r\n");
	struct piece p[] = {{in, 256, false}, {in, 256, false}, {in, 88, true}};
	char *want = expect(p, 3);
	check_all_splits(&c, in, strlen(in), want, NULL);
	free(in);
	free(want);
}

Test(framer, records)
{
	struct cfg c = {.record_len = 10};
	rw_framer f;
	struct rec r = {0};
	setup(&f, &c);
	rec_reset(&r);
	feed_all(&f, &r, (const uint8_t *)"0123456789abcdefghijKLMNO", 25);
	cr_assert_str_eq(r.text, "[0123456789][abcdefghij]");
	cr_assert_eq(r.zero_copy, 2, "records inside the fed buffer are not copied");
	cr_assert_eq(rw_framer_buffered(&f), 5);
	feed_all(&f, &r, (const uint8_t *)"PQRST", 5);
	cr_assert_str_eq(r.text, "[0123456789][abcdefghij][KLMNOPQRST]");
	cr_assert_eq(rw_framer_buffered(&f), 0);
	cr_assert_null(f._buf, "the buffer is freed once empty");
	rw_framer_free(&f);
	free(r.text);
	check_all_splits(&c, LIT("0123456789abcdefghijKLMNOPQRST\r\n"),
	                 "[0123456789][abcdefghij][KLMNOPQRST][\\x0d\\x0a>", NULL);
}

static void to_len3(struct rec *r, const uint8_t *d, size_t n, bool eol)
{
	if (r->units == 1)
		r->f->record_len = 3;
}

Test(framer, record_length_changed_inside_emit)
{
	struct cfg c = {.record_len = 10};
	check_all_splits(&c, LIT("0123456789abcdefghijklmn"), "[0123456789][abc][def][ghi][jkl][mn>", to_len3);
}

/* "SIZE\r\n" in single-line mode, then a 10-byte record, then lines again. */
static void size_then_record(struct rec *r, const uint8_t *d, size_t n, bool eol)
{
	if (n == 4 && !memcmp(d, "SIZE", 4))
		r->f->record_len = 10;
	else if (r->f->record_len)
		r->f->record_len = 0;
}

Test(framer, crlf_line_then_record)
{
	struct cfg c = {.single_line = true};
	check_all_splits(&c, LIT("SIZE\r\n0123456789x\r\ny\n"), "[SIZE][0123456789][x][y]", size_then_record);
}

Test(framer, early_stop_returns_consumed)
{
	struct cfg c = {.eol = "\n", .eol_len = 1};
	rw_framer f;
	struct rec r = {.stop_every = 1};
	const uint8_t *in = (const uint8_t *)"ab\ncd\nef";
	setup(&f, &c);
	rec_reset(&r);
	cr_assert_eq(rw_framer_feed(&f, in, 8, rec_emit, &r), 3);
	cr_assert_str_eq(r.text, "[ab]");
	cr_assert_eq(rw_framer_buffered(&f), 0);
	cr_assert_eq(rw_framer_feed(&f, in + 3, 5, rec_emit, &r), 3);
	cr_assert_str_eq(r.text, "[ab][cd]");
	cr_assert_eq(rw_framer_feed(&f, in + 6, 2, rec_emit, &r), 2);
	cr_assert_eq(rw_framer_buffered(&f), 2);
	/* A stop on a unit completed from the kept bytes. */
	cr_assert_eq(rw_framer_feed(&f, (const uint8_t *)"\nxy\n", 4, rec_emit, &r), 1);
	cr_assert_str_eq(r.text, "[ab][cd][ef]");
	cr_assert_eq(rw_framer_feed(&f, (const uint8_t *)"xy\n", 3, rec_emit, &r), 3);
	cr_assert_str_eq(r.text, "[ab][cd][ef][xy]");
	rw_framer_free(&f);
	free(r.text);
}

Test(framer, flush_partial_line)
{
	struct cfg c = {.eol = "\r\n", .eol_len = 2};
	rw_framer f;
	struct rec r = {0};
	setup(&f, &c);
	rec_reset(&r);
	cr_assert_eq(rw_framer_flush(&f, rec_emit, &r), 0);
	cr_assert_str_eq(r.text, "", "nothing kept, nothing emitted");
	feed_all(&f, &r, (const uint8_t *)"one\r\ntwo\r", 9);
	cr_assert_eq(rw_framer_buffered(&f), 4);
	r.stop_every = 2;
	cr_assert_eq(rw_framer_flush(&f, rec_emit, &r), 1, "flush returns emit's result");
	cr_assert_str_eq(r.text, "[one][two\\x0d>");
	cr_assert_eq(rw_framer_buffered(&f), 0);
	cr_assert_null(f._buf);
	rw_framer_free(&f);
	free(r.text);
}

Test(framer, flush_never_exceeds_max_line)
{
	struct cfg c = {.eol = "\r\n", .eol_len = 2, .max_line = 256};
	rw_framer f;
	struct rec r = {0};
	char *in = repeat('a', 256, "\r");
	setup(&f, &c);
	rec_reset(&r);
	feed_all(&f, &r, (const uint8_t *)in, 257);
	cr_assert_eq(rw_framer_buffered(&f), 257, "the CR may start the terminator");
	rw_framer_flush(&f, rec_emit, &r);
	struct piece p[] = {{in, 256, false}, {"\r", 1, false}};
	char *want = expect(p, 2);
	cr_assert_str_eq(r.text, want);
	rw_framer_free(&f);
	free(r.text);
	free(want);
	free(in);
}

Test(framer, raw_mode_emits_each_feed)
{
	rw_framer f;
	struct rec r = {0};
	rw_framer_init(&f);
	rec_reset(&r);
	feed_all(&f, &r, (const uint8_t *)"ab\ncd", 5);
	feed_all(&f, &r, (const uint8_t *)"", 0);
	feed_all(&f, &r, (const uint8_t *)"e", 1);
	cr_assert_str_eq(r.text, "[ab\\x0acd][e]");
	cr_assert_eq(r.zero_copy, 2);
	cr_assert_null(f._buf);
	rw_framer_free(&f);
	free(r.text);
}

Test(framer, zero_copy_and_lazy_buffer)
{
	struct cfg c = {.eol = "\n", .eol_len = 1};
	rw_framer f;
	struct rec r = {0};
	setup(&f, &c);
	rec_reset(&r);
	feed_all(&f, &r, (const uint8_t *)"a\nbb\nccc\n", 9);
	cr_assert_eq(r.zero_copy, 3);
	cr_assert_null(f._buf, "no heap memory without a partial line");
	feed_all(&f, &r, (const uint8_t *)"dd", 2);
	cr_assert_not_null(f._buf);
	feed_all(&f, &r, (const uint8_t *)"d\nee\n", 5);
	cr_assert_str_eq(r.text, "[a][bb][ccc][ddd][ee]");
	cr_assert_eq(r.zero_copy, 4, "only the line that spans two feeds is copied");
	cr_assert_null(f._buf);
	rw_framer_free(&f);
	free(r.text);
}

Test(framer, switch_modes_while_bytes_are_kept)
{
	rw_framer f;
	struct rec r = {0};
	struct cfg c = {.eol = "\n", .eol_len = 1};
	setup(&f, &c);
	rec_reset(&r);
	feed_all(&f, &r, (const uint8_t *)"ab", 2);
	f.eol_len = 0; /* line -> raw: the kept bytes go first, then the feed */
	feed_all(&f, &r, (const uint8_t *)"cd", 2);
	cr_assert_str_eq(r.text, "[ab][cd]");
	f.record_len = 8; /* raw -> record */
	feed_all(&f, &r, (const uint8_t *)"x\ny\nz", 5);
	cr_assert_eq(rw_framer_buffered(&f), 5);
	f.record_len = 0; /* record -> line: the kept bytes hold complete lines */
	f.eol_len = 1;
	feed_all(&f, &r, (const uint8_t *)"\n", 1);
	cr_assert_str_eq(r.text, "[ab][cd][x][y][z]");
	f.record_len = 2; /* line -> record with more kept than one record */
	feed_all(&f, &r, (const uint8_t *)"", 0);
	feed_all(&f, &r, (const uint8_t *)"12345", 5);
	f.record_len = 0;
	f.single_line = true;
	rw_framer_flush(&f, rec_emit, &r);
	cr_assert_str_eq(r.text, "[ab][cd][x][y][z][12][34][5>");
	rw_framer_free(&f);
	free(r.text);
}

Test(framer, max_line_lowered_while_kept)
{
	struct cfg c = {.eol = "\n", .eol_len = 1};
	rw_framer f;
	struct rec r = {0};
	char *in = repeat('a', 600, "");
	setup(&f, &c);
	rec_reset(&r);
	feed_all(&f, &r, (const uint8_t *)in, 600);
	cr_assert_eq(rw_framer_buffered(&f), 600);
	f.max_line = 256;
	feed_all(&f, &r, (const uint8_t *)"\n", 1);
	struct piece p[] = {{in, 256, false}, {in, 256, false}, {in, 88, true}};
	char *want = expect(p, 3);
	cr_assert_str_eq(r.text, want);
	rw_framer_free(&f);
	free(r.text);
	free(want);
	free(in);
}

Test(framer, kept_buffer_is_bounded)
{
	static const struct cfg cfgs[] = {
		{.eol = "\r\n", .eol_len = 2, .max_line = 300},
		{.eol = "\0\0|", .eol_len = 3, .max_line = 300},
		{.single_line = true, .max_line = 300},
	};
	for (size_t k = 0; k < sizeof(cfgs) / sizeof(cfgs[0]); k++) {
		rw_framer f;
		struct rec r = {0};
		size_t bound = 300 + (cfgs[k].eol_len ? cfgs[k].eol_len - 1 : 0);
		setup(&f, &cfgs[k]);
		rec_reset(&r);
		for (int i = 0; i < 20000; i++) {
			/* Now and then a byte that may start the terminator. */
			uint8_t b = i % 97 == 0 && cfgs[k].eol_len ? (uint8_t)cfgs[k].eol[0] : 'x';
			feed_all(&f, &r, &b, 1);
			cr_assert_leq(rw_framer_buffered(&f), bound, "one partial line at most");
			cr_assert_leq(f._cap, 300 + cfgs[k].eol_len);
		}
		rw_framer_free(&f);
		free(r.text);
	}
}

/* ---- differential test against a byte-at-a-time reference -------------- */

/* The reference sees the stream one byte at a time and keeps a plain line. */
struct ref {
	struct rec *r;
	const struct cfg *c;
	uint8_t line[512];
	size_t len;
	bool skip_lf;
};

static bool ref_tail_could_start_eol(const struct ref *x, size_t lim)
{
	size_t tl = x->c->eol_len;
	for (size_t k = x->len >= tl ? x->len - tl + 1 : 0; k < x->len && k <= lim; k++)
		if (!memcmp(x->line + k, x->c->eol, x->len - k))
			return true;
	return false;
}

static void ref_emit(struct ref *x, size_t n, bool eol, size_t drop)
{
	rec_emit(x->r, x->line, n, eol);
	memmove(x->line, x->line + drop, x->len - drop);
	x->len -= drop;
}

static void ref_byte(struct ref *x, uint8_t b)
{
	const struct cfg *c = x->c;
	size_t lim = c->max_line, tl = c->eol_len;
	if (x->skip_lf && (x->skip_lf = false, b == '\n'))
		return;
	if (c->single_line && (b == '\r' || b == '\n')) {
		ref_emit(x, x->len, true, x->len);
		x->skip_lf = b == '\r';
		return;
	}
	x->line[x->len++] = b;
	if (c->record_len) {
		if (x->len == c->record_len)
			ref_emit(x, x->len, true, x->len);
		return;
	}
	if (!c->single_line && x->len >= tl && !memcmp(x->line + x->len - tl, c->eol, tl)) {
		ref_emit(x, x->len - tl, true, x->len);
		return;
	}
	while (x->len > lim && (c->single_line || !ref_tail_could_start_eol(x, lim)))
		ref_emit(x, lim, false, lim);
}

static char *ref_run(const struct cfg *c, const uint8_t *in, size_t n)
{
	struct rec r = {0};
	struct ref x = {.r = &r, .c = c};
	rec_reset(&r);
	for (size_t i = 0; i < n; i++)
		ref_byte(&x, in[i]);
	while (x.len) {
		size_t k = c->record_len || x.len < c->max_line ? x.len : c->max_line;
		ref_emit(&x, k, false, k);
	}
	return r.text;
}

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static void random_cfg(struct cfg *c, char *eol)
{
	static const char alphabet[] = "ab\r\n\0|";
	memset(c, 0, sizeof(*c));
	c->max_line = 1 + rnd(24);
	switch (rnd(3)) {
	case 0:
		c->record_len = 1 + rnd(12);
		break;
	case 1:
		c->single_line = true;
		break;
	default:
		c->eol_len = 1 + rnd(4);
		for (size_t i = 0; i < c->eol_len; i++)
			eol[i] = alphabet[rnd(sizeof(alphabet) - 1)];
		c->eol = eol;
	}
}

Test(framer, differential_random)
{
	static const char alphabet[] = "aab\r\n\0|";
	uint8_t in[300];
	size_t cuts[300];
	char eol[4];
	struct cfg c;
	for (int iter = 0; iter < 3000; iter++) {
		random_cfg(&c, eol);
		size_t n = rnd(sizeof(in));
		for (size_t i = 0; i < n; i++)
			in[i] = (uint8_t)alphabet[rnd(sizeof(alphabet) - 1)];
		size_t ncuts = 0;
		for (size_t i = 1; i < n; i++)
			if (rnd(8) == 0)
				cuts[ncuts++] = i;
		char *want = ref_run(&c, in, n);
		char *got = run_cuts(&c, in, n, cuts, ncuts, (int)rnd(4), NULL);
		cr_assert_str_eq(got, want, "iteration %d", iter);
		free(got);
		free(want);
	}
}

Test(framer, take_kept_hands_over_the_partial_unit)
{
	rw_framer f;
	rw_framer_init(&f);
	f.eol[0] = '\n';
	f.eol_len = 1;
	struct rec r = {0};
	rw_framer_feed(&f, (const uint8_t *)"line\n\x16\x03\x01", 8, rec_emit, &r);
	size_t n;
	uint8_t *kept = rw_framer_take_kept(&f, &n);
	cr_assert_eq(n, 3);
	cr_assert(memcmp(kept, "\x16\x03\x01", 3) == 0);
	cr_assert_eq(rw_framer_buffered(&f), 0);
	free(kept);
	cr_assert_null(rw_framer_take_kept(&f, &n));
	cr_assert_eq(n, 0);
	free(r.text);
}
