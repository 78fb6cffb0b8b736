/* tests/proto/test_dtls_record.c: the DTLS record peek, the ClientHello
 * parser (fed a real OpenSSL-shaped hello, every truncation of it, a fragment
 * and other record types) and the HelloVerifyRequest / alert writers. */
#include "proto/dtls_record.h"

#include <criterion/criterion.h>
#include <string.h>

/* A DTLS 1.2 ClientHello record: 2 suites, no session id, optional cookie,
 * one extension (8 bytes). Returns the datagram length. */
static size_t make_ch(uint8_t *out, const uint8_t *cookie, uint8_t cookie_len)
{
	uint8_t body[200];
	size_t b = 0;
	body[b++] = 0xfe; body[b++] = 0xfd;                   /* client_version */
	for (int i = 0; i < 32; i++) body[b++] = (uint8_t)(i + 1); /* random */
	body[b++] = 0;                                        /* session_id */
	body[b++] = cookie_len;
	if (cookie_len) /* memcpy from a NULL cookie is undefined, even for 0 bytes (UBSan) */
		memcpy(body + b, cookie, cookie_len);
	b += cookie_len;
	body[b++] = 0; body[b++] = 4; body[b++] = 0xc0; body[b++] = 0x2b; body[b++] = 0xc0; body[b++] = 0x2f;
	body[b++] = 1; body[b++] = 0;                         /* compression: null */
	body[b++] = 0; body[b++] = 6;                         /* extensions */
	body[b++] = 0; body[b++] = 0x17; body[b++] = 0; body[b++] = 0; /* extended master secret */
	body[b++] = 0xff; body[b++] = 0x01;                   /* (truncated ext, still framed) */
	/* fix extension block: two bytes of a second ext header with no length would be
	 * malformed TLS, but the parser only checks the block's framing */
	size_t n = 0;
	out[n++] = 22; out[n++] = 0xfe; out[n++] = 0xff; out[n++] = 0; out[n++] = 0;
	for (int i = 0; i < 5; i++) out[n++] = 0;
	out[n++] = 7;                                         /* record seq 7 */
	size_t hl = 12 + b;
	out[n++] = (uint8_t)(hl >> 8); out[n++] = (uint8_t)hl;
	out[n++] = 1;
	out[n++] = 0; out[n++] = (uint8_t)(b >> 8); out[n++] = (uint8_t)b;
	out[n++] = 0; out[n++] = cookie_len ? 1 : 0;          /* message_seq */
	out[n++] = 0; out[n++] = 0; out[n++] = 0;
	out[n++] = 0; out[n++] = (uint8_t)(b >> 8); out[n++] = (uint8_t)b;
	memcpy(out + n, body, b);
	return n + b;
}

Test(dtls_record, peek_header)
{
	uint8_t d[256];
	size_t n = make_ch(d, NULL, 0);
	rw_dtls_record r;
	cr_assert_eq(rw_dtls_record_peek(d, n, &r), 0);
	cr_assert_eq(r.type, 22);
	cr_assert_eq(r.version, 0xfeff);
	cr_assert_eq(r.epoch, 0);
	cr_assert_eq(r.seq, 7);
	cr_assert_eq(r.length, n - 13);
	cr_assert_eq(rw_dtls_record_peek(d, 12, &r), -1, "a short header");
	cr_assert_eq(rw_dtls_record_peek(d, n - 1, &r), -1, "a length past the datagram");
}

Test(dtls_record, client_hello_without_and_with_cookie)
{
	uint8_t d[256], cookie[32];
	memset(cookie, 0xab, sizeof(cookie));
	rw_dtls_client_hello ch;
	size_t n = make_ch(d, NULL, 0);
	cr_assert_eq(rw_dtls_parse_client_hello(d, n, &ch), 0);
	cr_assert_eq(ch.cookie_len, 0);
	cr_assert_eq(ch.client_version, 0xfefd);
	cr_assert_eq(ch.random[0], 1);
	cr_assert_eq(ch.random[31], 32);
	cr_assert_eq(ch.suites_len, 4);
	cr_assert_eq(ch.compression_len, 1);
	n = make_ch(d, cookie, 32);
	cr_assert_eq(rw_dtls_parse_client_hello(d, n, &ch), 0);
	cr_assert_eq(ch.cookie_len, 32);
	cr_assert_eq(memcmp(ch.cookie, cookie, 32), 0);
	cr_assert_eq(ch.message_seq, 1);
}

Test(dtls_record, every_truncation_is_refused)
{
	uint8_t d[256];
	rw_dtls_client_hello ch;
	size_t n = make_ch(d, NULL, 0);
	for (size_t cut = 0; cut < n; cut++)
		cr_assert_neq(rw_dtls_parse_client_hello(d, cut, &ch), 0, "cut at %zu", cut);
	/* Shorten the record's length field too (a consistent but cut record). */
	for (size_t cut = 13; cut < n; cut++) {
		uint8_t e[256];
		memcpy(e, d, cut);
		e[11] = (uint8_t)((cut - 13) >> 8);
		e[12] = (uint8_t)(cut - 13);
		cr_assert_neq(rw_dtls_parse_client_hello(e, cut, &ch), 0, "record cut at %zu", cut);
	}
}

Test(dtls_record, other_records_are_not_client_hellos)
{
	uint8_t d[256];
	rw_dtls_client_hello ch;
	size_t n = make_ch(d, NULL, 0);
	d[0] = 23;
	cr_assert_eq(rw_dtls_parse_client_hello(d, n, &ch), -1, "application data");
	d[0] = 22;
	d[4] = 1;
	cr_assert_eq(rw_dtls_parse_client_hello(d, n, &ch), -1, "epoch 1");
	d[4] = 0;
	d[13] = 2;
	cr_assert_eq(rw_dtls_parse_client_hello(d, n, &ch), -1, "ServerHello");
	d[13] = 1;
	d[1] = 0x03;
	cr_assert_eq(rw_dtls_parse_client_hello(d, n, &ch), -1, "a TLS (not DTLS) version");
	d[1] = 0xfe;
	d[24] = 5; /* frag_len != length: a fragment */
	cr_assert_eq(rw_dtls_parse_client_hello(d, n, &ch), -2);
	cr_assert_eq(rw_dtls_parse_client_hello(NULL, 0, &ch), -1);
}

Test(dtls_record, hello_verify_request_and_alert)
{
	uint8_t d[256], out[128], cookie[32];
	memset(cookie, 0x5a, sizeof(cookie));
	rw_dtls_client_hello ch;
	size_t n = make_ch(d, NULL, 0);
	cr_assert_eq(rw_dtls_parse_client_hello(d, n, &ch), 0);
	size_t h = rw_dtls_write_hvr(out, sizeof(out), &ch, cookie, 32);
	cr_assert_eq(h, 60, "the size wolfSSL and OpenSSL use for a 32-byte cookie");
	cr_assert_leq(h, n, "never larger than the ClientHello");
	cr_assert_eq(out[0], 22);
	cr_assert_eq(out[10], 7, "record sequence number echoed");
	cr_assert_eq(out[13], 3, "HelloVerifyRequest");
	cr_assert_eq(out[27], 32);
	cr_assert_eq(memcmp(out + 28, cookie, 32), 0);
	rw_dtls_record r;
	cr_assert_eq(rw_dtls_record_peek(out, h, &r), 0);
	cr_assert_eq(r.length, 47);
	cr_assert_eq(rw_dtls_write_hvr(out, 59, &ch, cookie, 32), 0, "too small a buffer");
	cr_assert_eq(rw_dtls_write_alert(out, sizeof(out), &ch.rec, 49), 15);
	cr_assert_eq(out[0], 21);
	cr_assert_eq(out[13], 2);
	cr_assert_eq(out[14], 49);
	cr_assert_eq(rw_dtls_write_alert(out, 14, &ch.rec, 49), 0);
}

Test(dtls_record, well_formed_datagrams_are_whole_records)
{
	uint8_t d[512];
	size_t n = make_ch(d, NULL, 0);
	cr_assert(rw_dtls_records_well_formed(d, n));
	memcpy(d + n, d, n); /* two records back to back */
	cr_assert(rw_dtls_records_well_formed(d, 2 * n));
	for (size_t cut = 1; cut < n; cut++)
		cr_assert_not(rw_dtls_records_well_formed(d, n + cut), "a cut second record at %zu", cut);
	cr_assert_not(rw_dtls_records_well_formed((const uint8_t *)"garbage", 7));
	d[1] = 0x03;
	cr_assert_not(rw_dtls_records_well_formed(d, n), "a TLS version");
	d[0] = 0x2c; /* DTLS 1.3 unified header: not walked */
	cr_assert(rw_dtls_records_well_formed(d, 5));
	cr_assert_not(rw_dtls_records_well_formed(d, 0));
}

Test(dtls_record, supported_versions_lookup)
{
	uint8_t d[256];
	size_t n = make_ch(d, NULL, 0);
	rw_dtls_client_hello ch;
	cr_assert_eq(rw_dtls_parse_client_hello(d, n, &ch), 0);
	cr_assert_not(rw_dtls_ch_offers_version(&ch, 0xfefc), "no supported_versions extension");
	/* Rewrite the 6-byte extension block as supported_versions {fefc, fefd}. */
	uint8_t *ext = (uint8_t *)ch.extensions;
	cr_assert_eq(ch.extensions_len, 6);
	ext[0] = 0; ext[1] = 43; ext[2] = 0; ext[3] = 2; ext[4] = 0; ext[5] = 0;
	cr_assert_eq(rw_dtls_parse_client_hello(d, n, &ch), 0);
	cr_assert_not(rw_dtls_ch_offers_version(&ch, 0xfefc), "an empty list (length 0) is malformed");
	/* A 9-byte block does not fit; check a well-formed one in a copy. */
	rw_dtls_client_hello c2 = ch;
	static const uint8_t sv[] = {0, 43, 0, 5, 4, 0xfe, 0xfc, 0xfe, 0xfd};
	c2.extensions = sv;
	c2.extensions_len = sizeof(sv);
	cr_assert(rw_dtls_ch_offers_version(&c2, 0xfefc));
	cr_assert(rw_dtls_ch_offers_version(&c2, 0xfefd));
	cr_assert_not(rw_dtls_ch_offers_version(&c2, 0xfeff));
	c2.extensions_len = sizeof(sv) - 1; /* cut */
	cr_assert_not(rw_dtls_ch_offers_version(&c2, 0xfefd));
}
