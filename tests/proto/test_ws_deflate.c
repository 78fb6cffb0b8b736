/* tests/proto/test_ws_deflate.c: permessage-deflate (RFC 7692): offer
 * negotiation, the §7.2.3 examples inflated at every split point, context
 * takeover, the decompression-bomb limit, and deflate round trips. */
#include "proto/ws_deflate.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* ---- negotiation ------------------------------------------------------- */

static bool neg(const char *offers, bool takeover, rw_pmd_params *p, char *resp)
{
	memset(p, 0, sizeof(*p));
	bool ok = rw_pmd_negotiate(offers, takeover, p);
	if (ok)
		rw_pmd_response(p, resp, 256);
	return ok;
}

Test(ws_deflate, negotiate_defaults_demand_no_takeover)
{
	rw_pmd_params p;
	char r[256];
	cr_assert(neg("permessage-deflate", false, &p, r));
	cr_assert_str_eq(r, "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
	cr_assert_eq(p.server_max_window_bits, 15);
	/* The python websockets / browser default offer. */
	cr_assert(neg("permessage-deflate; client_max_window_bits", false, &p, r));
	cr_assert_str_eq(r, "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
}

Test(ws_deflate, negotiate_with_takeover_allowed)
{
	rw_pmd_params p;
	char r[256];
	cr_assert(neg("permessage-deflate", true, &p, r));
	cr_assert_str_eq(r, "permessage-deflate");
	cr_assert(neg("permessage-deflate; server_no_context_takeover", true, &p, r));
	cr_assert_str_eq(r, "permessage-deflate; server_no_context_takeover");
	cr_assert(p.server_no_context_takeover && !p.client_no_context_takeover);
	cr_assert(neg("permessage-deflate;client_no_context_takeover; server_max_window_bits=10", true, &p, r));
	cr_assert_str_eq(r, "permessage-deflate; client_no_context_takeover; server_max_window_bits=10");
	cr_assert_eq(p.server_max_window_bits, 10);
	cr_assert(neg("permessage-deflate; server_max_window_bits=\"12\"", true, &p, r));
	cr_assert_eq(p.server_max_window_bits, 12);
}

Test(ws_deflate, negotiate_declines_and_falls_back)
{
	rw_pmd_params p;
	char r[256];
	/* Window bits 8: declined; the next offer is taken. */
	cr_assert(neg("permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9",
	              true, &p, r));
	cr_assert_eq(p.server_max_window_bits, 9);
	cr_assert_not(neg("permessage-deflate; server_max_window_bits=8", true, &p, r));
	cr_assert_not(neg("permessage-deflate; server_max_window_bits", true, &p, r));   /* needs a value */
	cr_assert_not(neg("permessage-deflate; server_max_window_bits=16", true, &p, r));
	cr_assert_not(neg("permessage-deflate; server_max_window_bits=010", true, &p, r));
	cr_assert_not(neg("permessage-deflate; client_max_window_bits=7", true, &p, r));
	cr_assert_not(neg("permessage-deflate; unknown_param", true, &p, r));
	cr_assert_not(neg("permessage-deflate; server_no_context_takeover; server_no_context_takeover", true, &p, r));
	cr_assert_not(neg("permessage-deflate; server_no_context_takeover=1", true, &p, r));
	cr_assert_not(neg("x-webkit-deflate-frame", true, &p, r));
	cr_assert_not(neg("", true, &p, r));
	/* Unknown extensions before it are skipped. */
	cr_assert(neg("foo; bar=\"a,b\", permessage-deflate; client_max_window_bits=10", false, &p, r));
}

/* ---- inflate ------------------------------------------------------------ */

struct sink {
	uint8_t *d;
	size_t len, cap;
	int lasts;
	size_t max_chunk;
};

static int out(void *ctx, const uint8_t *d, size_t n, bool last)
{
	struct sink *s = ctx;
	cr_assert_eq(s->lasts, 0, "output after the last chunk");
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->d = realloc(s->d, s->cap);
	}
	memcpy(s->d + s->len, d, n);
	s->len += n;
	s->lasts += last;
	if (n > s->max_chunk)
		s->max_chunk = n;
	return 0;
}

/* Inflate a message given as one payload cut at `cut` into two pieces. */
static int inflate_cut(z_stream *z, const uint8_t *in, size_t n, size_t cut, uint64_t limit, struct sink *s)
{
	static uint8_t scratch[4096];
	uint64_t total = 0;
	memset(s, 0, sizeof(*s));
	int rc = rw_pmd_inflate(z, in, cut, cut == n, limit, &total, scratch, sizeof(scratch), out, s);
	if (rc == 0 && cut < n)
		rc = rw_pmd_inflate(z, in + cut, n - cut, true, limit, &total, scratch, sizeof(scratch), out, s);
	if (rc == 0)
		cr_assert_eq(total, s->len);
	return rc;
}

static void expect_hello(const uint8_t *in, size_t n)
{
	for (size_t cut = 0; cut <= n; cut++) {
		z_stream z;
		cr_assert_eq(rw_pmd_inflate_init(&z), 0);
		struct sink s;
		cr_assert_eq(inflate_cut(&z, in, n, cut, 0, &s), 0, "cut %zu", cut);
		cr_assert_eq(s.len, 5, "cut %zu", cut);
		cr_assert_eq(memcmp(s.d, "Hello", 5), 0);
		cr_assert_eq(s.lasts, 1);
		free(s.d);
		rw_pmd_inflate_end(&z);
	}
}

#define B(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

Test(ws_deflate, rfc7692_7_2_3_examples)
{
	expect_hello(B(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00));             /* 7.2.3.1 */
	expect_hello(B(0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f)); /* 7.2.3.3 no compression */
	expect_hello(B(0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00));       /* 7.2.3.4 BFINAL */
	expect_hello(B(0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00)); /* 7.2.3.5 */
}

Test(ws_deflate, rfc7692_context_takeover)
{
	/* 7.2.3.2: the second "Hello" refers back into the first message. */
	z_stream z;
	rw_pmd_inflate_init(&z);
	struct sink s;
	cr_assert_eq(inflate_cut(&z, B(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), 3, 0, &s), 0);
	free(s.d);
	cr_assert_eq(inflate_cut(&z, B(0xf2, 0x00, 0x11, 0x00, 0x00), 2, 0, &s), 0);
	cr_assert_eq(s.len, 5);
	cr_assert_eq(memcmp(s.d, "Hello", 5), 0);
	free(s.d);
	/* After a reset (no context takeover) the back reference is invalid. */
	rw_pmd_inflate_reset(&z);
	cr_assert_eq(inflate_cut(&z, B(0xf2, 0x00, 0x11, 0x00, 0x00), 5, 0, &s), RW_PMD_ERROR);
	free(s.d);
	rw_pmd_inflate_end(&z);
}

Test(ws_deflate, corrupt_input)
{
	z_stream z;
	rw_pmd_inflate_init(&z);
	struct sink s;
	cr_assert_eq(inflate_cut(&z, B(0xff, 0xff, 0xff, 0xff), 4, 0, &s), RW_PMD_ERROR);
	free(s.d);
	rw_pmd_inflate_end(&z);
}

/* Deflate `n` bytes with zlib directly (a client's view). */
static uint8_t *client_deflate(const uint8_t *in, size_t n, size_t *out_n)
{
	z_stream z;
	rw_pmd_buf b = {0};
	cr_assert_eq(rw_pmd_deflate_init(&z, 15, 0, 9), 0);
	cr_assert_eq(rw_pmd_deflate(&z, in, n, true, &b), 0);
	rw_pmd_deflate_end(&z);
	*out_n = b.len;
	return b.d;
}

Test(ws_deflate, decompression_bomb_stops_at_limit)
{
	size_t n = 64u << 20; /* 64 MiB of zeros deflate to ~64 KiB */
	uint8_t *zeros = calloc(1, n);
	size_t cn;
	uint8_t *c = client_deflate(zeros, n, &cn);
	free(zeros);
	cr_assert_lt(cn, 256u * 1024);
	z_stream z;
	rw_pmd_inflate_init(&z);
	struct sink s;
	uint64_t limit = 1u << 20;
	cr_assert_eq(inflate_cut(&z, c, cn, cn / 2, limit, &s), RW_PMD_TOO_BIG);
	/* Output stopped right at the limit (one scratch half past it at most)
	 * and no chunk was larger than half the scratch buffer. */
	cr_assert_leq(s.len, limit);
	cr_assert_leq(s.max_chunk, 2048);
	free(s.d);
	/* The same message within a larger limit inflates fully. */
	rw_pmd_inflate_reset(&z);
	cr_assert_eq(inflate_cut(&z, c, cn, cn / 3, n, &s), 0);
	cr_assert_eq(s.len, n);
	free(s.d);
	rw_pmd_inflate_end(&z);
	free(c);
}

Test(ws_deflate, deflate_hello_matches_rfc)
{
	z_stream z;
	rw_pmd_buf b = {0};
	cr_assert_eq(rw_pmd_deflate_init(&z, 15, 0, Z_DEFAULT_COMPRESSION), 0);
	cr_assert_eq(rw_pmd_deflate(&z, (const uint8_t *)"Hello", 5, true, &b), 0);
	static const uint8_t want[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
	cr_assert_eq(b.len, sizeof(want));
	cr_assert_arr_eq(b.d, want, sizeof(want));
	/* An empty message is the single byte 00 (§7.2.3.6). */
	cr_assert_eq(rw_pmd_deflate(&z, NULL, 0, true, &b), 0);
	cr_assert_eq(b.len, 1);
	cr_assert_eq(b.d[0], 0);
	rw_pmd_deflate_end(&z);
	free(b.d);
}

Test(ws_deflate, round_trips_with_and_without_takeover)
{
	size_t n = 300000;
	uint8_t *msg = malloc(n);
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		msg[i] = i % 3 ? (uint8_t)('a' + (x >> 16) % 8) : (uint8_t)(x >> 24); /* part text, part noise */
	}
	for (int bits = 9; bits <= 15; bits += 3) {
		for (int takeover = 0; takeover < 2; takeover++) {
			z_stream d, in;
			rw_pmd_buf b = {0};
			cr_assert_eq(rw_pmd_deflate_init(&d, bits, 0, 6), 0);
			rw_pmd_inflate_init(&in);
			for (int m = 0; m < 3; m++) {
				size_t len = n / (size_t)(m + 1);
				cr_assert_eq(rw_pmd_deflate(&d, msg, len, !takeover, &b), 0);
				if (!takeover)
					rw_pmd_inflate_reset(&in);
				struct sink s;
				cr_assert_eq(inflate_cut(&in, b.d, b.len, b.len / 2, 0, &s), 0);
				cr_assert_eq(s.len, len, "bits %d takeover %d msg %d", bits, takeover, m);
				cr_assert_eq(memcmp(s.d, msg, len), 0);
				cr_assert_eq(s.lasts, 1);
				free(s.d);
			}
			rw_pmd_deflate_end(&d);
			rw_pmd_inflate_end(&in);
			free(b.d);
		}
	}
	free(msg);
}
