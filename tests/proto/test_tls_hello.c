/* tests/proto/test_tls_hello.c: the ClientHello peek behind
 * SSLConnectionRequest, on hellos built here byte by byte: every split point,
 * a hello spread over two records, lists longer than the arrays, and inputs
 * that are not a ClientHello. */
#include "proto/tls_hello.h"

#include <criterion/criterion.h>
#include <string.h>

static size_t put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; return 2; }

/* A ClientHello body with the given suites and signature algorithms (and an
 * SNI extension before them, so the parser has to skip one). */
static size_t hello_body(uint8_t *b, const uint16_t *suites, size_t ns, const uint16_t *sig, size_t nsig)
{
	size_t o = 0;
	o += put16(b + o, 0x0303);
	memset(b + o, 0xab, 32), o += 32;
	b[o++] = 32, memset(b + o, 0xcd, 32), o += 32; /* session id */
	o += put16(b + o, (unsigned)(2 * ns));
	for (size_t i = 0; i < ns; i++)
		o += put16(b + o, suites[i]);
	b[o++] = 1, b[o++] = 0; /* compression: null */
	size_t ext_len_at = o;
	o += 2;
	static const uint8_t sni[] = {0, 0, 0, 14, 0, 12, 0, 0, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't'};
	memcpy(b + o, sni, sizeof(sni)), o += sizeof(sni);
	if (sig) {
		o += put16(b + o, 13);
		o += put16(b + o, (unsigned)(2 + 2 * nsig));
		o += put16(b + o, (unsigned)(2 * nsig));
		for (size_t i = 0; i < nsig; i++)
			o += put16(b + o, sig[i]);
	}
	put16(b + ext_len_at, (unsigned)(o - ext_len_at - 2));
	return o;
}

/* Handshake header + body, cut into records of at most `rec` body bytes. */
static size_t stream_of(uint8_t *out, const uint8_t *body, size_t n, size_t rec)
{
	uint8_t msg[20000];
	msg[0] = 1, msg[1] = (uint8_t)(n >> 16), msg[2] = (uint8_t)(n >> 8), msg[3] = (uint8_t)n;
	memcpy(msg + 4, body, n);
	size_t total = n + 4, o = 0;
	for (size_t off = 0; off < total; off += rec) {
		size_t k = total - off < rec ? total - off : rec;
		out[o++] = 22, out[o++] = 3, out[o++] = 1;
		o += put16(out + o, (unsigned)k);
		memcpy(out + o, msg + off, k), o += k;
	}
	return o;
}

static const uint16_t suites[] = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f};
static const uint16_t sigs[] = {0x0403, 0x0804, 0x0807};

Test(tls_hello, every_split_point_then_the_lists)
{
	uint8_t body[4096], s[8192];
	size_t n = stream_of(s, body, hello_body(body, suites, 5, sigs, 3), 16384);
	rw_tls_hello h;
	for (size_t cut = 0; cut < n; cut++)
		cr_assert_eq(rw_tls_hello_parse(s, cut, &h), RW_TLS_HELLO_MORE, "cut at %zu of %zu", cut, n);
	s[n] = 23; /* application bytes after the hello are not its business */
	cr_assert_eq(rw_tls_hello_parse(s, n + 1, &h), RW_TLS_HELLO_OK);
	cr_assert_eq(h.consumed, n);
	cr_assert_eq(h.n_suites, 5);
	cr_assert_arr_eq(h.suites, suites, sizeof(suites));
	cr_assert_eq(h.n_sigalgs, 3);
	cr_assert_arr_eq(h.sigalgs, sigs, sizeof(sigs));
	cr_assert_str_eq(rw_tls_sigscheme_name(h.sigalgs[1]), "rsa_pss_rsae_sha256");
	cr_assert_null(rw_tls_sigscheme_name(0xfefe));
}

Test(tls_hello, a_hello_over_several_records)
{
	uint8_t body[4096], s[8192];
	size_t n = stream_of(s, body, hello_body(body, suites, 5, sigs, 3), 7);
	rw_tls_hello h;
	cr_assert_eq(rw_tls_hello_parse(s, n - 1, &h), RW_TLS_HELLO_MORE);
	cr_assert_eq(rw_tls_hello_parse(s, n, &h), RW_TLS_HELLO_OK);
	cr_assert_eq(h.consumed, n);
	cr_assert_eq(h.n_suites, 5);
	cr_assert_eq(h.sigalgs[2], 0x0807);
}

Test(tls_hello, long_lists_are_cut_and_no_sigalgs_is_fine)
{
	uint16_t many[300];
	for (int i = 0; i < 300; i++)
		many[i] = (uint16_t)(0x1000 + i);
	uint8_t body[4096], s[8192];
	rw_tls_hello h;
	size_t n = stream_of(s, body, hello_body(body, many, 300, NULL, 0), 16384);
	cr_assert_eq(rw_tls_hello_parse(s, n, &h), RW_TLS_HELLO_OK);
	cr_assert_eq(h.n_suites, RW_TLS_HELLO_SUITES_MAX);
	cr_assert_eq(h.suites[RW_TLS_HELLO_SUITES_MAX - 1], 0x1000 + RW_TLS_HELLO_SUITES_MAX - 1);
	cr_assert_eq(h.n_sigalgs, 0);
}

Test(tls_hello, not_a_client_hello)
{
	rw_tls_hello h;
	static const uint8_t http[] = "GET / HTTP/1.1\r\n\r\n";
	cr_assert_eq(rw_tls_hello_parse(http, sizeof(http) - 1, &h), RW_TLS_HELLO_NOT);
	/* A handshake record holding a ServerHello. */
	static const uint8_t server_hello[] = {22, 3, 3, 0, 4, 2, 0, 0, 0};
	cr_assert_eq(rw_tls_hello_parse(server_hello, sizeof(server_hello), &h), RW_TLS_HELLO_NOT);
	/* An extension whose length runs past the end of the hello. */
	uint8_t body[4096], s[8192];
	size_t bn = hello_body(body, suites, 5, sigs, 3);
	body[bn - 2 * 3 - 4] = 0x7f; /* signature_algorithms' extension length */
	size_t n = stream_of(s, body, bn, 16384);
	cr_assert_eq(rw_tls_hello_parse(s, n, &h), RW_TLS_HELLO_NOT);
	/* A hello that claims more than RW_TLS_HELLO_MAX bytes. */
	static const uint8_t huge[] = {22, 3, 1, 0, 4, 1, 0x01, 0x00, 0x00};
	cr_assert_eq(rw_tls_hello_parse(huge, sizeof(huge), &h), RW_TLS_HELLO_NOT);
}
