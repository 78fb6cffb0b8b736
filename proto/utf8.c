/* proto/utf8.c: incremental UTF-8 validation.
 *
 * The state packs what the next byte may be: bits 0-7 the number of
 * continuation bytes still expected, bits 8-15 and 16-23 the lowest and
 * highest value the next one may take. The narrowed ranges after E0, ED, F0
 * and F4 are what rule out overlongs, surrogates and values above U+10FFFF
 * (RFC 3629 §4), so no code point is ever assembled. */
#include "proto/utf8.h"

#include <string.h>

#define ST(need, lo, hi) ((uint32_t)(need) | (uint32_t)(lo) << 8 | (uint32_t)(hi) << 16)

rw_utf8_state rw_utf8_feed(rw_utf8_state st, const uint8_t *p, size_t n)
{
	if (st == RW_UTF8_BAD)
		return st;
	size_t i = 0;
	while (i < n) {
		if (st == 0) {
			/* ASCII runs, eight bytes at a time. */
			while (i + 8 <= n) {
				uint64_t w;
				memcpy(&w, p + i, 8);
				if (w & 0x8080808080808080ull)
					break;
				i += 8;
			}
			if (i >= n)
				break;
			uint8_t b = p[i++];
			if (b < 0x80)
				continue;
			if (b >= 0xC2 && b <= 0xDF)
				st = ST(1, 0x80, 0xBF);
			else if (b == 0xE0)
				st = ST(2, 0xA0, 0xBF);
			else if (b == 0xED)
				st = ST(2, 0x80, 0x9F);
			else if (b >= 0xE1 && b <= 0xEF)
				st = ST(2, 0x80, 0xBF);
			else if (b == 0xF0)
				st = ST(3, 0x90, 0xBF);
			else if (b >= 0xF1 && b <= 0xF3)
				st = ST(3, 0x80, 0xBF);
			else if (b == 0xF4)
				st = ST(3, 0x80, 0x8F);
			else
				return RW_UTF8_BAD;
			continue;
		}
		uint8_t b = p[i++];
		if (b < ((st >> 8) & 0xff) || b > ((st >> 16) & 0xff))
			return RW_UTF8_BAD;
		uint32_t need = (st & 0xff) - 1;
		st = need ? ST(need, 0x80, 0xBF) : 0;
	}
	return st;
}

bool rw_utf8_valid(const uint8_t *p, size_t n)
{
	return rw_utf8_feed(RW_UTF8_OK, p, n) == RW_UTF8_OK;
}

size_t rw_utf8_boundary(const uint8_t *p, size_t n)
{
	/* Step back over at most 3 continuation bytes to the last lead byte. */
	size_t i = n;
	for (int k = 0; k < 4 && i > 0; k++) {
		uint8_t b = p[i - 1];
		if ((b & 0xC0) != 0x80) {
			size_t len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
			return (n - (i - 1) >= len) ? n : i - 1;
		}
		i--;
	}
	return n;
}
