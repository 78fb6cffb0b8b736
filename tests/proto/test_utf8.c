/* tests/proto/test_utf8.c: the incremental UTF-8 validator, every input fed
 * whole, at every split point and byte by byte; code-point boundaries. */
#include "proto/utf8.h"

#include <criterion/criterion.h>
#include <string.h>

/* 1 valid, 0 incomplete (valid so far), -1 invalid. */
static int verdict(rw_utf8_state st)
{
	return st == RW_UTF8_BAD ? -1 : st == RW_UTF8_OK ? 1 : 0;
}

static void check(const char *s, size_t n, int want)
{
	const uint8_t *p = (const uint8_t *)s;
	cr_assert_eq(verdict(rw_utf8_feed(0, p, n)), want, "whole, case len %zu", n);
	for (size_t cut = 0; cut <= n; cut++) {
		rw_utf8_state st = rw_utf8_feed(0, p, cut);
		st = rw_utf8_feed(st, p + cut, n - cut);
		cr_assert_eq(verdict(st), want, "split at %zu of %zu", cut, n);
	}
	rw_utf8_state st = 0;
	for (size_t i = 0; i < n; i++)
		st = rw_utf8_feed(st, p + i, 1);
	cr_assert_eq(verdict(st), want, "byte by byte");
}

#define OK(s) check(s, sizeof(s) - 1, 1)
#define BAD(s) check(s, sizeof(s) - 1, -1)
#define PART(s) check(s, sizeof(s) - 1, 0)

Test(utf8, valid_texts)
{
	OK("");
	OK("Hello, plain ASCII long enough for the eight-byte fast path");
	OK("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"); /* κόσμε (Autobahn 6.2) */
	OK("h\xc3\xa9llo \xe2\x9c\x93");                    /* héllo ✓ */
	OK("\xc2\x80");                                     /* U+0080 */
	OK("\xdf\xbf");                                     /* U+07FF */
	OK("\xe0\xa0\x80");                                 /* U+0800 */
	OK("\xed\x9f\xbf");                                 /* U+D7FF */
	OK("\xee\x80\x80");                                 /* U+E000 */
	OK("\xef\xbf\xbf");                                 /* U+FFFF */
	OK("\xf0\x90\x80\x80");                             /* U+10000 */
	OK("\xf4\x8f\xbf\xbf");                             /* U+10FFFF */
	OK("\xf0\x9f\x98\x80 emoji");
}

Test(utf8, invalid_texts)
{
	BAD("\x80");                 /* lone continuation */
	BAD("\xbf");
	BAD("\xc0\x80");             /* overlong NUL */
	BAD("\xc1\xbf");             /* overlong */
	BAD("\xe0\x80\x80");         /* overlong 3-byte */
	BAD("\xe0\x9f\xbf");
	BAD("\xf0\x80\x80\x80");     /* overlong 4-byte */
	BAD("\xf0\x8f\xbf\xbf");
	BAD("\xed\xa0\x80");         /* surrogate U+D800 */
	BAD("\xed\xbf\xbf");         /* surrogate U+DFFF */
	BAD("\xf4\x90\x80\x80");     /* U+110000 */
	BAD("\xf5\x80\x80\x80");
	BAD("\xff");
	BAD("\xfe");
	BAD("\xc3\x28");             /* lead without its continuation */
	BAD("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited"); /* Autobahn 6.3 */
	/* truncated, then an ASCII byte: */
	cr_assert_eq(rw_utf8_feed(rw_utf8_feed(0, (const uint8_t *)"\xe2\x82", 2), (const uint8_t *)"a", 1),
	             RW_UTF8_BAD);
}

Test(utf8, incomplete_is_not_valid_yet)
{
	PART("\xe2\x82");
	PART("abc\xf0\x9f\x98");
	cr_assert_not(rw_utf8_valid((const uint8_t *)"\xe2\x82", 2));
	/* Fail fast: the first impossible byte is reported at once, even with a
	 * partial code point pending from an earlier fragment. */
	rw_utf8_state st = rw_utf8_feed(0, (const uint8_t *)"\xf4", 1);
	cr_assert_eq(verdict(st), 0);
	cr_assert_eq(rw_utf8_feed(st, (const uint8_t *)"\x90", 1), RW_UTF8_BAD);
}

Test(utf8, bad_state_is_sticky)
{
	rw_utf8_state st = rw_utf8_feed(0, (const uint8_t *)"\xff", 1);
	cr_assert_eq(rw_utf8_feed(st, (const uint8_t *)"abc", 3), RW_UTF8_BAD);
}

Test(utf8, boundary)
{
	const uint8_t *s = (const uint8_t *)"a\xe2\x9c\x93" "b\xf0\x9f\x98\x80";
	cr_assert_eq(rw_utf8_boundary(s, 0), 0);
	cr_assert_eq(rw_utf8_boundary(s, 1), 1);
	cr_assert_eq(rw_utf8_boundary(s, 2), 1);
	cr_assert_eq(rw_utf8_boundary(s, 3), 1);
	cr_assert_eq(rw_utf8_boundary(s, 4), 4);
	cr_assert_eq(rw_utf8_boundary(s, 5), 5);
	cr_assert_eq(rw_utf8_boundary(s, 8), 5);
	cr_assert_eq(rw_utf8_boundary(s, 9), 9);
	/* Every prefix cut at the boundary is itself valid UTF-8. */
	for (size_t n = 0; n <= 9; n++)
		cr_assert(rw_utf8_valid(s, rw_utf8_boundary(s, n)), "prefix %zu", n);
}
