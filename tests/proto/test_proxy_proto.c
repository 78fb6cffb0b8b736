/* tests/proto/test_proxy_proto.c: the PROXY protocol v1/v2 parser, each
 * header fed whole, byte by byte and split in two at every point (and in three
 * at every pair of points for the short ones), with client bytes behind it
 * that must stay with the caller. */
#include "proto/proxy_proto.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const uint8_t SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char TAIL[] = "\x16\x03\x01 client bytes";

/* Feed `hdr` then TAIL in the pieces that `cuts` (ascending, within the total)
 * describe; return the parser's last answer and the header bytes consumed. */
static int feed_split(unsigned accept, const uint8_t *hdr, size_t hlen, const size_t *cuts, int ncuts,
                      rw_proxy_parser *p, size_t *taken)
{
	uint8_t all[1024];
	size_t total = hlen + sizeof(TAIL) - 1;
	cr_assert(total <= sizeof(all));
	memcpy(all, hdr, hlen);
	memcpy(all + hlen, TAIL, sizeof(TAIL) - 1);
	rw_proxy_init(p, accept);
	size_t pos = 0, sum = 0;
	int rc = RW_PROXY_MORE;
	for (int k = 0; k <= ncuts && rc == RW_PROXY_MORE; k++) {
		size_t end = k < ncuts ? cuts[k] : total;
		size_t used = 0;
		rc = rw_proxy_feed(p, all + pos, end - pos, &used);
		if (rc == RW_PROXY_MORE)
			cr_assert_eq(used, end - pos, "MORE must take every byte");
		sum += used;
		pos = end;
	}
	*taken = sum;
	return rc;
}

/* Every single split and byte-by-byte: DONE, exactly hlen consumed, same hdr. */
static void check_all_splits(unsigned accept, const uint8_t *hdr, size_t hlen, rw_proxy_hdr *out)
{
	rw_proxy_parser p;
	size_t taken;
	cr_assert_eq(feed_split(accept, hdr, hlen, NULL, 0, &p, &taken), RW_PROXY_DONE);
	cr_assert_eq(taken, hlen);
	*out = p.hdr;
	size_t total = hlen + sizeof(TAIL) - 1;
	for (size_t c = 0; c <= total; c++) {
		size_t cuts[1] = {c};
		cr_assert_eq(feed_split(accept, hdr, hlen, cuts, 1, &p, &taken), RW_PROXY_DONE, "split at %zu", c);
		cr_assert_eq(taken, hlen, "split at %zu: took %zu of %zu", c, taken, hlen);
		cr_assert_eq(memcmp(&p.hdr, out, sizeof(*out)), 0, "split at %zu: other header", c);
	}
	if (hlen <= 64) {
		for (size_t a = 0; a <= hlen; a++)
			for (size_t b = a; b <= hlen; b++) {
				size_t cuts[2] = {a, b};
				cr_assert_eq(feed_split(accept, hdr, hlen, cuts, 2, &p, &taken), RW_PROXY_DONE);
				cr_assert_eq(taken, hlen);
				cr_assert_eq(memcmp(&p.hdr, out, sizeof(*out)), 0);
			}
	}
	/* byte by byte */
	rw_proxy_init(&p, accept);
	int rc = RW_PROXY_MORE;
	size_t i = 0;
	for (; i < hlen && rc == RW_PROXY_MORE; i++) {
		size_t used;
		rc = rw_proxy_feed(&p, hdr + i, 1, &used);
		cr_assert_eq(used, 1);
	}
	cr_assert_eq(rc, RW_PROXY_DONE);
	cr_assert_eq(i, hlen);
	/* After DONE: same answer, nothing consumed. */
	size_t used = 99;
	cr_assert_eq(rw_proxy_feed(&p, (const uint8_t *)"xyz", 3, &used), RW_PROXY_DONE);
	cr_assert_eq(used, 0);
}

static int bad_at(unsigned accept, const void *hdr, size_t hlen)
{
	rw_proxy_parser p;
	rw_proxy_init(&p, accept);
	size_t used;
	return rw_proxy_feed(&p, hdr, hlen, &used);
}

Test(proxy_v1, tcp4)
{
	const char *h = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
	rw_proxy_hdr r;
	check_all_splits(RW_PROXY_ACCEPT_V1 | RW_PROXY_ACCEPT_V2, (const uint8_t *)h, strlen(h), &r);
	cr_expect_eq(r.version, 1);
	cr_expect_not(r.local);
	cr_expect_eq(r.family, 4);
	uint8_t a[4];
	inet_pton(AF_INET, "192.0.2.1", a);
	cr_expect_eq(memcmp(r.src, a, 4), 0);
	inet_pton(AF_INET, "198.51.100.7", a);
	cr_expect_eq(memcmp(r.dst, a, 4), 0);
	cr_expect_eq(r.src_port, 56324);
	cr_expect_eq(r.dst_port, 443);
}

Test(proxy_v1, tcp6_longest_line)
{
	/* The longest TCP6 line (104 bytes), and the longest v1 line (107): UNKNOWN
	 * followed by the same fields. */
	const char *h = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	cr_assert_eq(strlen(h), 104);
	rw_proxy_hdr r;
	const char *u = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	cr_assert_eq(strlen(u), RW_PROXY_V1_MAX);
	check_all_splits(RW_PROXY_ACCEPT_V1, (const uint8_t *)u, strlen(u), &r);
	cr_expect(r.local);
	check_all_splits(RW_PROXY_ACCEPT_V1, (const uint8_t *)h, strlen(h), &r);
	cr_expect_eq(r.family, 6);
	cr_expect_eq(r.src_port, 65535);
	for (int i = 0; i < 16; i++)
		cr_expect_eq(r.src[i], 0xff);
	const char *h2 = "PROXY TCP6 2001:db8::1 ::1 1 2\r\n";
	check_all_splits(RW_PROXY_ACCEPT_V1, (const uint8_t *)h2, strlen(h2), &r);
	cr_expect_eq(r.src[0], 0x20);
	cr_expect_eq(r.src[15], 1);
	cr_expect_eq(r.dst[15], 1);
	cr_expect_eq(r.src_port, 1);
	cr_expect_eq(r.dst_port, 2);
}

Test(proxy_v1, unknown)
{
	rw_proxy_hdr r;
	const char *h = "PROXY UNKNOWN\r\n";
	check_all_splits(RW_PROXY_ACCEPT_V1, (const uint8_t *)h, strlen(h), &r);
	cr_expect(r.local);
	const char *h2 = "PROXY UNKNOWN ffff:f::1 ::1 1 2\r\n";
	check_all_splits(RW_PROXY_ACCEPT_V1, (const uint8_t *)h2, strlen(h2), &r);
	cr_expect(r.local);
}

Test(proxy_v1, malformed)
{
	const unsigned A = RW_PROXY_ACCEPT_V1 | RW_PROXY_ACCEPT_V2;
	const char *bad[] = {
		"PROXY TCP4 192.0.2.1 198.51.100.7 56324\r\n",          /* three fields */
		"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443 1\r\n",    /* five */
		"PROXY TCP4 192.0.2.1  198.51.100.7 56324 443\r\n",     /* two spaces */
		"PROXY TCP4 192.0.2.1 198.51.100.7 65536 443\r\n",      /* port too big */
		"PROXY TCP4 192.0.2.1 198.51.100.7 -1 443\r\n",
		"PROXY TCP4 ::1 ::1 1 2\r\n",                           /* v6 under TCP4 */
		"PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n",                   /* v4 under TCP6 */
		"PROXY TCP4 256.0.0.1 1.2.3.4 1 2\r\n",
		"PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n",
		"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n",                     /* LF without CR */
		"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX\n",                  /* CR not before LF */
		"PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n",                  /* control byte */
		"PROXY UNKNOWNX\r\n",
		"PROXY \r\n",
		"proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n",                   /* case */
		"PROXYTCP4 1.2.3.4 1.2.3.4 1 2\r\n",
		"GET / HTTP/1.1\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(bad_at(A, bad[i], strlen(bad[i])), RW_PROXY_BAD, "accepted: %s", bad[i]);
	/* 107 bytes with no line end: refused at the 107th byte, not later */
	char longl[200];
	memset(longl, 'a', sizeof(longl));
	memcpy(longl, "PROXY UNKNOWN ", 14);
	rw_proxy_parser p;
	rw_proxy_init(&p, A);
	size_t used;
	cr_expect_eq(rw_proxy_feed(&p, (uint8_t *)longl, RW_PROXY_V1_MAX - 1, &used), RW_PROXY_MORE);
	cr_expect_eq(rw_proxy_feed(&p, (uint8_t *)longl, 1, &used), RW_PROXY_BAD);
	/* refused early: a wrong byte fails when it arrives */
	rw_proxy_init(&p, A);
	cr_expect_eq(rw_proxy_feed(&p, (const uint8_t *)"PROX", 4, &used), RW_PROXY_MORE);
	cr_expect_eq(rw_proxy_feed(&p, (const uint8_t *)"Z", 1, &used), RW_PROXY_BAD);
	cr_expect_eq(rw_proxy_feed(&p, (const uint8_t *)"Y ", 2, &used), RW_PROXY_BAD, "BAD sticks");
	/* v1 not accepted */
	cr_expect_eq(bad_at(RW_PROXY_ACCEPT_V2, "PROXY UNKNOWN\r\n", 15), RW_PROXY_BAD);
}

/* ---- v2 ---------------------------------------------------------------- */

static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, uint16_t len)
{
	memcpy(out, SIG, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(len >> 8);
	out[15] = (uint8_t)len;
	if (len)
		memcpy(out + 16, body, len);
	return 16u + len;
}

Test(proxy_v2, tcp4_with_tlvs)
{
	uint8_t body[12 + 20], h[64];
	inet_pton(AF_INET, "203.0.113.9", body);
	inet_pton(AF_INET, "127.0.0.1", body + 4);
	body[8] = 0xC0; body[9] = 0x01; /* 49153 */
	body[10] = 0x1F; body[11] = 0x90; /* 8080 */
	/* TLVs: PP2_TYPE_ALPN "h2", PP2_TYPE_NOOP padding */
	const uint8_t tlvs[20] = {0x01, 0x00, 0x02, 'h', '2', 0x04, 0x00, 0x0C};
	memcpy(body + 12, tlvs, 20);
	size_t n = v2(h, 0x21, 0x11, body, sizeof(body));
	rw_proxy_hdr r;
	check_all_splits(RW_PROXY_ACCEPT_V1 | RW_PROXY_ACCEPT_V2, h, n, &r);
	cr_expect_eq(r.version, 2);
	cr_expect_not(r.local);
	cr_expect_eq(r.family, 4);
	cr_expect_eq(memcmp(r.src, body, 4), 0);
	cr_expect_eq(memcmp(r.dst, body + 4, 4), 0);
	cr_expect_eq(r.src_port, 49153);
	cr_expect_eq(r.dst_port, 8080);
	cr_expect_eq(r.tlv_len, 20);
}

Test(proxy_v2, tcp6_and_local_and_unspec)
{
	uint8_t body[36], h[64];
	inet_pton(AF_INET6, "2001:db8::42", body);
	inet_pton(AF_INET6, "::1", body + 16);
	body[32] = 0x30; body[33] = 0x39; /* 12345 */
	body[34] = 0x01; body[35] = 0xBB; /* 443 */
	size_t n = v2(h, 0x21, 0x21, body, 36);
	rw_proxy_hdr r;
	check_all_splits(RW_PROXY_ACCEPT_V2, h, n, &r);
	cr_expect_eq(r.family, 6);
	cr_expect_eq(memcmp(r.src, body, 16), 0);
	cr_expect_eq(r.src_port, 12345);
	cr_expect_eq(r.dst_port, 443);
	/* LOCAL (a health check), no body; and LOCAL with a body of any family */
	n = v2(h, 0x20, 0x00, NULL, 0);
	check_all_splits(RW_PROXY_ACCEPT_V2, h, n, &r);
	cr_expect(r.local);
	n = v2(h, 0x20, 0x11, body, 12);
	check_all_splits(RW_PROXY_ACCEPT_V2, h, n, &r);
	cr_expect(r.local);
	/* PROXY with UNSPEC */
	n = v2(h, 0x21, 0x00, body, 5);
	check_all_splits(RW_PROXY_ACCEPT_V2, h, n, &r);
	cr_expect(r.local);
}

Test(proxy_v2, large_tlv_block_is_skipped_without_keeping_it)
{
	static uint8_t h[16 + 65535];
	static uint8_t body[65535];
	memset(body, 0xAB, sizeof(body));
	size_t n = v2(h, 0x21, 0x11, body, 65535);
	rw_proxy_parser p;
	rw_proxy_init(&p, RW_PROXY_ACCEPT_V2);
	size_t used, sum = 0;
	int rc = RW_PROXY_MORE;
	for (size_t off = 0; off < n && rc == RW_PROXY_MORE; off += 1000) {
		size_t len = n - off < 1000 ? n - off : 1000;
		rc = rw_proxy_feed(&p, h + off, len, &used);
		sum += used;
	}
	cr_expect_eq(rc, RW_PROXY_DONE);
	cr_expect_eq(sum, n);
	cr_expect_eq(p.hdr.tlv_len, 65535 - 12);
}

Test(proxy_v2, malformed)
{
	uint8_t body[36] = {0}, h[64];
	const unsigned A = RW_PROXY_ACCEPT_V1 | RW_PROXY_ACCEPT_V2;
	size_t n = v2(h, 0x11, 0x11, body, 12); /* version 1 in a v2 header */
	cr_expect_eq(bad_at(A, h, n), RW_PROXY_BAD);
	n = v2(h, 0x22, 0x11, body, 12); /* command 2 */
	cr_expect_eq(bad_at(A, h, n), RW_PROXY_BAD);
	n = v2(h, 0x21, 0x12, body, 12); /* UDP */
	cr_expect_eq(bad_at(A, h, n), RW_PROXY_BAD);
	n = v2(h, 0x21, 0x31, body, 36); /* UNIX */
	cr_expect_eq(bad_at(A, h, n), RW_PROXY_BAD);
	n = v2(h, 0x21, 0x11, body, 11); /* too short for TCP4 */
	cr_expect_eq(bad_at(A, h, n), RW_PROXY_BAD);
	n = v2(h, 0x21, 0x21, body, 35); /* too short for TCP6 */
	cr_expect_eq(bad_at(A, h, n), RW_PROXY_BAD);
	n = v2(h, 0x21, 0x11, body, 12);
	h[7] = 'q'; /* signature */
	cr_expect_eq(bad_at(A, h, n), RW_PROXY_BAD);
	h[7] = 'Q';
	cr_expect_eq(bad_at(RW_PROXY_ACCEPT_V1, h, n), RW_PROXY_BAD, "v2 not accepted");
	cr_expect_eq(bad_at(A, h, n), RW_PROXY_DONE);
	/* A TLS ClientHello and an empty-ish stream of zeros fail on byte 1. */
	rw_proxy_parser p;
	rw_proxy_init(&p, A);
	size_t used;
	cr_expect_eq(rw_proxy_feed(&p, (const uint8_t *)"\x16\x03\x01\x02\x00", 5, &used), RW_PROXY_BAD);
	cr_expect_eq(used, 1);
	cr_expect_eq(bad_at(A, "\0\0\0\0", 4), RW_PROXY_BAD);
	/* nothing fed: MORE */
	rw_proxy_init(&p, A);
	cr_expect_eq(rw_proxy_feed(&p, h, 0, &used), RW_PROXY_MORE);
	cr_expect_eq(used, 0);
}
