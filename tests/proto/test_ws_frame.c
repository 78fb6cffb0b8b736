/* tests/proto/test_ws_frame.c: the WebSocket frame parser (RFC 6455 §5) with
 * the §5.7 examples and every rule a server enforces, fed whole, at every
 * split point, byte by byte and with callbacks that stop the feed; and the
 * server's frame header writer. */
#include "proto/ws_frame.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parse is recorded as text: "T[...]" data pieces (opcode letter of the
 * message: T text, B binary; '.' ends a frame, '!' ends a message) and
 * "<P:...>" control frames. Data pieces of one frame are merged so that any
 * split gives the same record. */
struct rec {
	char out[1 << 17];
	size_t len;
	bool in_piece;
	int stop_every, calls;
};

static void put(struct rec *r, const char *s, size_t n)
{
	cr_assert_lt(r->len + n, sizeof(r->out));
	memcpy(r->out + r->len, s, n);
	r->len += n;
	r->out[r->len] = 0;
}

static void put_bytes(struct rec *r, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i] >= 0x20 && d[i] < 0x7f) {
			put(r, (const char *)d + i, 1);
		} else {
			char hex[8];
			snprintf(hex, sizeof(hex), "\\%02x", d[i]);
			put(r, hex, 3);
		}
	}
}

static int on_data(void *ctx, const rw_ws_parser *p, const uint8_t *d, size_t n, bool end)
{
	struct rec *r = ctx;
	if (!r->in_piece) {
		put(r, p->msg_opcode == 1 ? "T" : "B", 1);
		put(r, p->msg_compressed ? "z[" : "[", p->msg_compressed ? 2 : 1);
		r->in_piece = true;
	}
	put_bytes(r, d, n);
	if (end) {
		put(r, p->fin ? "]!" : "].", 2);
		r->in_piece = false;
	}
	r->calls++;
	return r->stop_every && r->calls % r->stop_every == 0;
}

static int on_control(void *ctx, int op, const uint8_t *d, size_t n)
{
	struct rec *r = ctx;
	char head[8];
	snprintf(head, sizeof(head), "<%c:", op == 8 ? 'C' : op == 9 ? 'P' : 'O');
	put(r, head, 3);
	put_bytes(r, d, n);
	put(r, ">", 1);
	r->calls++;
	return r->stop_every && r->calls % r->stop_every == 0;
}

static const rw_ws_parser_cbs cbs = {on_data, on_control};

struct opts {
	bool unmasked_ok, rsv1;
	uint64_t max;
};

/* Parse `in` fed in pieces at `cuts` (sorted offsets) into r; returns the
 * parser's error (0 when all was consumed). Stops repeat the feed's rest. */
static int parse_cut(const uint8_t *in, size_t n, const size_t *cuts, size_t ncuts, struct opts o,
                     struct rec *r, int stop_every)
{
	uint8_t *buf = malloc(n ? n : 1);
	memcpy(buf, in, n); /* unmasked in place */
	rw_ws_parser p;
	rw_ws_parser_init(&p);
	p.require_mask = !o.unmasked_ok;
	p.allow_rsv1 = o.rsv1;
	p.max_message = o.max;
	memset(r, 0, sizeof(*r));
	r->stop_every = stop_every;
	size_t at = 0;
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : n;
		while (at < end) {
			ssize_t got = rw_ws_parse(&p, buf + at, end - at, &cbs, r);
			if (got < 0) {
				free(buf);
				return p.error;
			}
			cr_assert(got > 0 || end == at, "no progress");
			at += (size_t)got;
		}
	}
	free(buf);
	return 0;
}

/* Every way of feeding gives the same record and error as the whole feed. */
static void expect(const uint8_t *in, size_t n, struct opts o, const char *want, int want_err)
{
	static struct rec whole, part;
	int err = parse_cut(in, n, NULL, 0, o, &whole, 0);
	cr_assert_eq(err, want_err, "error %d, want %d", err, want_err);
	cr_assert_str_eq(whole.out, want);
	for (size_t c = 0; c <= n; c++) {
		size_t cuts[1] = {c};
		err = parse_cut(in, n, cuts, 1, o, &part, 0);
		cr_assert_eq(err, want_err, "split %zu", c);
		if (!want_err)
			cr_assert_str_eq(part.out, want, "split at %zu", c);
	}
	size_t *all = malloc((n + 1) * sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		all[i] = i + 1;
	err = parse_cut(in, n, all, n ? n - 1 : 0, o, &part, 0);
	cr_assert_eq(err, want_err, "byte by byte");
	if (!want_err)
		cr_assert_str_eq(part.out, want, "byte by byte");
	for (int s = 1; s <= 3 && !want_err; s++) {
		err = parse_cut(in, n, NULL, 0, o, &part, s);
		cr_assert_eq(err, 0);
		cr_assert_str_eq(part.out, want, "stopping every %d calls", s);
	}
	free(all);
}

#define B(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})
static const struct opts SERVER = {0}, ANY = {.unmasked_ok = true}, PMD = {.rsv1 = true};

Test(ws_frame, rfc6455_5_7_examples)
{
	/* A single-frame unmasked text message: a server refuses it (unmasked)... */
	expect(B(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f), SERVER, "", 1002);
	/* ...and reads it when masking is not required. */
	expect(B(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f), ANY, "T[Hello]!", 0);
	/* A single-frame masked text message. */
	expect(B(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58), SERVER, "T[Hello]!", 0);
	/* A fragmented unmasked text message. */
	expect(B(0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f), ANY, "T[Hel].T[lo]!", 0);
	/* Unmasked ping, and a masked pong answering it. */
	expect(B(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f), ANY, "<P:Hello>", 0);
	expect(B(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58), SERVER, "<O:Hello>", 0);
}

static void big(size_t len, uint8_t len7, size_t hdr)
{
	size_t n = hdr + 4 + len;
	uint8_t *f = calloc(1, n);
	f[0] = 0x82;
	f[1] = 0x80 | len7;
	for (size_t i = 0; i + 2 < hdr; i++)
		f[2 + i] = (uint8_t)(len >> (8 * (hdr - 3 - i)));
	memcpy(f + hdr, "\x01\x02\x03\x04", 4);
	for (size_t i = 0; i < len; i++)
		f[hdr + 4 + i] = (uint8_t)('a' + i % 26) ^ (uint8_t)(i % 4 + 1);
	uint8_t *copy = malloc(n);
	memcpy(copy, f, n);
	rw_ws_parser p;
	rw_ws_parser_init(&p);
	struct rec *r = calloc(1, sizeof(*r));
	/* Fed in 1000-byte pieces: payload arrives unmasked and in order. */
	for (size_t at = 0; at < n;) {
		size_t k = n - at < 1000 ? n - at : 1000;
		ssize_t got = rw_ws_parse(&p, copy + at, k, &cbs, r);
		cr_assert_eq(got, (ssize_t)k);
		at += k;
	}
	cr_assert_eq(r->len, 1 + 1 + len + 2);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(r->out[2 + i], 'a' + i % 26);
	free(f);
	free(copy);
	free(r);
}

Test(ws_frame, rfc6455_lengths_256_and_64k)
{
	big(256, 126, 4);     /* 0x82 0x7E 0x0100 */
	big(65536, 127, 10);  /* 0x82 0x7F 0x0000000000010000 */
	big(125, 125, 2);
	big(126, 126, 4);
	big(65535, 126, 4);
}

Test(ws_frame, empty_frames)
{
	expect(B(0x81, 0x80, 1, 2, 3, 4), SERVER, "T[]!", 0);
	expect(B(0x02, 0x80, 1, 2, 3, 4, 0x80, 0x80, 1, 2, 3, 4), SERVER, "B[].B[]!", 0);
	expect(B(0x88, 0x80, 1, 2, 3, 4), SERVER, "<C:>", 0);
}

Test(ws_frame, control_between_fragments)
{
	/* text(FIN=0,"ab") ping("p") cont(FIN=1,"cd"), unmasked for readability */
	expect(B(0x01, 0x02, 'a', 'b', 0x89, 0x01, 'p', 0x80, 0x02, 'c', 'd'), ANY, "T[ab].<P:p>T[cd]!", 0);
}

Test(ws_frame, protocol_errors)
{
	expect(B(0x83, 0x00), ANY, "", 1002);             /* reserved opcode 3 */
	expect(B(0x87, 0x00), ANY, "", 1002);             /* 7 */
	expect(B(0x8b, 0x00), ANY, "", 1002);             /* 0xB */
	expect(B(0x8f, 0x00), ANY, "", 1002);             /* 0xF */
	expect(B(0xa1, 0x00), ANY, "", 1002);             /* RSV2 */
	expect(B(0x91, 0x00), ANY, "", 1002);             /* RSV3 */
	expect(B(0xc1, 0x00), ANY, "", 1002);             /* RSV1, no extension */
	expect(B(0x09, 0x00), ANY, "", 1002);             /* fragmented ping */
	expect(B(0x89, 0x7e, 0x00, 0x7e), ANY, "", 1002); /* 126-byte ping */
	expect(B(0x80, 0x00), ANY, "", 1002);             /* continuation, nothing open */
	expect(B(0x01, 0x01, 'a', 0x81, 0x01, 'b'), ANY, "T[a].", 1002); /* text inside a message */
	expect(B(0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0), ANY, "", 1002); /* MSB of 64-bit length */
	/* Nothing is accepted after an error. */
	rw_ws_parser p;
	rw_ws_parser_init(&p);
	uint8_t bad[] = {0x83, 0x80, 0, 0, 0, 0};
	cr_assert_eq(rw_ws_parse(&p, bad, sizeof(bad), &cbs, &(struct rec){0}), -1);
	uint8_t good[] = {0x81, 0x80, 0, 0, 0, 0};
	cr_assert_eq(rw_ws_parse(&p, good, sizeof(good), &cbs, &(struct rec){0}), -1);
	cr_assert_not_null(p.error_text);
}

Test(ws_frame, rsv1_with_permessage_deflate)
{
	expect(B(0xc1, 0x80, 0, 0, 0, 0), PMD, "Tz[]!", 0);
	/* Only on the first frame of a message, never on control frames. */
	expect(B(0x41, 0x80, 0, 0, 0, 0, 0xc0, 0x80, 0, 0, 0, 0), PMD, "Tz[].", 1002);
	expect(B(0xc9, 0x80, 0, 0, 0, 0), PMD, "", 1002);
}

Test(ws_frame, close_frames)
{
	expect(B(0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8), SERVER, "<C:\\03\\e8>", 0);            /* 1000 */
	expect(B(0x88, 0x85, 0, 0, 0, 0, 0x03, 0xe9, 'b', 'y', 'e'), SERVER, "<C:\\03\\e9bye>", 0); /* 1001 */
	expect(B(0x88, 0x82, 0, 0, 0, 0, 0x0b, 0xb8), SERVER, "<C:\\0b\\b8>", 0);            /* 3000 */
	expect(B(0x88, 0x82, 0, 0, 0, 0, 0x13, 0x87), SERVER, "<C:\\13\\87>", 0);            /* 4999 */
	expect(B(0x88, 0x81, 0, 0, 0, 0, 0x03), SERVER, "", 1002);                          /* 1 byte */
	static const int bad[] = {0, 999, 1004, 1005, 1006, 1012, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t f[] = {0x88, 0x82, 0, 0, 0, 0, (uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
		expect(f, sizeof(f), SERVER, "", 1002);
	}
	/* Reason not UTF-8: 1007. */
	expect(B(0x88, 0x84, 0, 0, 0, 0, 0x03, 0xe8, 0xce, 0x28), SERVER, "", 1007);
	cr_assert(rw_ws_close_code_valid(1011));
	cr_assert_not(rw_ws_close_code_valid(1014));
	cr_assert(rw_ws_close_code_sendable(1014));
	cr_assert_not(rw_ws_close_code_sendable(1005));
	cr_assert_not(rw_ws_close_code_sendable(1006));
	cr_assert_not(rw_ws_close_code_sendable(1015));
}

Test(ws_frame, max_message_size)
{
	struct opts o = {.unmasked_ok = true, .max = 4};
	expect(B(0x81, 0x04, 'a', 'b', 'c', 'd'), o, "T[abcd]!", 0);
	/* Refused at the header, before any payload is delivered. */
	expect(B(0x81, 0x05, 'a', 'b', 'c', 'd', 'e'), o, "", 1009);
	/* Fragments add up. */
	expect(B(0x01, 0x03, 'a', 'b', 'c', 0x80, 0x02, 'd', 'e'), o, "T[abc].", 1009);
	/* A new message starts from zero; control frames do not count. */
	expect(B(0x81, 0x04, 'a', 'b', 'c', 'd', 0x89, 0x05, 'p', 'i', 'n', 'g', '!', 0x82, 0x04, 1, 2, 3, 4), o,
	       "T[abcd]!<P:ping!>B[\\01\\02\\03\\04]!", 0);
	/* A 2^62-byte declared length fails at once. */
	struct opts big = {.unmasked_ok = true, .max = 16u << 20};
	expect(B(0x82, 0x7f, 0x40, 0, 0, 0, 0, 0, 0, 0), big, "", 1009);
}

Test(ws_frame, header_writer)
{
	uint8_t h[RW_WS_MAX_HEADER];
	cr_assert_eq(rw_ws_frame_header(h, RW_WS_OP_TEXT, true, false, 5), 2);
	cr_assert(h[0] == 0x81 && h[1] == 5);
	cr_assert_eq(rw_ws_frame_header(h, RW_WS_OP_BINARY, false, true, 125), 2);
	cr_assert(h[0] == 0x42 && h[1] == 125);
	cr_assert_eq(rw_ws_frame_header(h, RW_WS_OP_BINARY, true, false, 126), 4);
	cr_assert(h[1] == 126 && h[2] == 0 && h[3] == 126);
	cr_assert_eq(rw_ws_frame_header(h, RW_WS_OP_CONT, true, false, 65535), 4);
	cr_assert(h[0] == 0x80 && h[2] == 0xff && h[3] == 0xff);
	cr_assert_eq(rw_ws_frame_header(h, RW_WS_OP_BINARY, true, false, 65536), 10);
	static const uint8_t want[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
	cr_assert_arr_eq(h, want, 10);
	/* What the writer makes, the parser (without the mask rule) reads back. */
	uint8_t f[20];
	size_t n = rw_ws_frame_header(f, RW_WS_OP_TEXT, true, false, 3);
	memcpy(f + n, "abc", 3);
	expect(f, n + 3, ANY, "T[abc]!", 0);
}

Test(ws_frame, unmask_offsets)
{
	uint8_t d[100], ref[100];
	const uint8_t m[4] = {0x11, 0x22, 0x33, 0x44};
	for (int i = 0; i < 100; i++)
		ref[i] = d[i] = (uint8_t)i;
	/* Unmasking in uneven pieces equals one pass. */
	uint32_t pos = 0;
	size_t at = 0;
	for (size_t k = 1; at < 100; k += 7) {
		size_t n = 100 - at < k ? 100 - at : k;
		pos = rw_ws_unmask(d + at, n, m, pos);
		at += n;
	}
	for (int i = 0; i < 100; i++)
		cr_assert_eq(d[i], ref[i] ^ m[i % 4]);
}

/* Every start address alignment, key position and length (the 32- and
 * 8-byte steps and the byte tail), against a byte-by-byte reference; the
 * bytes around the range stay untouched. */
Test(ws_frame, unmask_every_alignment)
{
	static uint8_t buf[600], ref[600];
	const uint8_t m[4] = {0xa5, 0x3c, 0x0f, 0xf0};
	for (size_t align = 0; align < 32; align++)
		for (uint32_t pos = 0; pos < 4; pos++)
			for (size_t n = 0; n <= 520; n += n < 80 ? 1 : 37) {
				for (size_t i = 0; i < sizeof buf; i++)
					ref[i] = buf[i] = (uint8_t)(i * 29u + n);
				for (size_t i = 0; i < n; i++)
					ref[align + i] ^= m[(pos + i) & 3];
				uint32_t end = rw_ws_unmask(buf + align, n, m, pos);
				cr_assert_eq(end, (pos + n) & 3);
				cr_assert(!memcmp(buf, ref, sizeof buf), "align %zu pos %u len %zu", align, pos, n);
			}
}
