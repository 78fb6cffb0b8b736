/* proto/tls_hello.c: see tls_hello.h. */
#include "tls_hello.h"

#include <stdbool.h>
#include <string.h>

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }

/* Gather the handshake bytes of the leading records (type 22) into msg;
 * returns how many bytes of msg are known and sets *stream_off to the end of
 * the last whole record read, or -1 on a record that cannot start a hello. */
static long gather(const uint8_t *data, size_t len, uint8_t *msg, size_t cap, size_t want, size_t *stream_off)
{
	size_t off = 0, got = 0;
	while (off + 5 <= len && got < want) {
		const uint8_t *h = data + off;
		uint32_t rlen = be16(h + 3);
		if (h[0] != 22 || h[1] != 3 || rlen == 0 || rlen > 16384 + 2048)
			return -1;
		if (off + 5 + rlen > len)
			break; /* this record is not all here yet */
		size_t take = rlen < cap - got ? rlen : cap - got;
		memcpy(msg + got, h + 5, take);
		got += take;
		off += 5 + rlen;
	}
	*stream_off = off;
	return (long)got;
}

static void parse_sigalgs(const uint8_t *p, size_t n, rw_tls_hello *out)
{
	if (n < 2 || be16(p) + 2 > n)
		return;
	size_t list = be16(p);
	for (size_t i = 2; i + 1 < 2 + list && out->n_sigalgs < RW_TLS_HELLO_SIGALGS_MAX; i += 2)
		out->sigalgs[out->n_sigalgs++] = (uint16_t)be16(p + i);
}

int rw_tls_hello_parse(const uint8_t *data, size_t len, rw_tls_hello *out)
{
	static __thread uint8_t msg[RW_TLS_HELLO_MAX + 4];
	size_t stream_off;
	long got = gather(data, len, msg, sizeof(msg), 4, &stream_off);
	if (got < 0)
		return RW_TLS_HELLO_NOT;
	if (got < 4)
		return len > 5 + 16384 + 2048 ? RW_TLS_HELLO_NOT : RW_TLS_HELLO_MORE;
	if (msg[0] != 1) /* client_hello */
		return RW_TLS_HELLO_NOT;
	size_t body = be24(msg + 1);
	if (body > RW_TLS_HELLO_MAX)
		return RW_TLS_HELLO_NOT;
	got = gather(data, len, msg, sizeof(msg), 4 + body, &stream_off);
	if (got < 0)
		return RW_TLS_HELLO_NOT;
	if ((size_t)got < 4 + body)
		return RW_TLS_HELLO_MORE;

	memset(out, 0, sizeof(*out));
	out->consumed = stream_off;
	const uint8_t *p = msg + 4, *end = msg + 4 + body;
	/* legacy_version, random, session_id */
	if (end - p < 2 + 32 + 1 || end - p < 2 + 32 + 1 + p[34])
		return RW_TLS_HELLO_NOT;
	p += 2 + 32;
	p += 1 + p[0];
	/* cipher_suites */
	if (end - p < 2 || (be16(p) & 1) || end - p < 2 + (long)be16(p))
		return RW_TLS_HELLO_NOT;
	size_t ns = be16(p);
	for (size_t i = 0; i < ns; i += 2)
		if (out->n_suites < RW_TLS_HELLO_SUITES_MAX)
			out->suites[out->n_suites++] = (uint16_t)be16(p + 2 + i);
	p += 2 + ns;
	/* compression_methods */
	if (end - p < 1 || end - p < 1 + p[0])
		return RW_TLS_HELLO_NOT;
	p += 1 + p[0];
	if (p == end)
		return RW_TLS_HELLO_OK; /* no extensions (an old client) */
	if (end - p < 2 || end - p < 2 + (long)be16(p))
		return RW_TLS_HELLO_NOT;
	const uint8_t *x = p + 2, *xend = p + 2 + be16(p);
	while (xend - x >= 4) {
		uint32_t type = be16(x), n = be16(x + 2);
		if ((uint32_t)(xend - x - 4) < n)
			return RW_TLS_HELLO_NOT;
		if (type == 13) /* signature_algorithms */
			parse_sigalgs(x + 4, n, out);
		x += 4 + n;
	}
	return x == xend ? RW_TLS_HELLO_OK : RW_TLS_HELLO_NOT;
}

const char *rw_tls_sigscheme_name(uint16_t scheme)
{
	static const struct { uint16_t id; const char *name; } names[] = {
		{0x0401, "rsa_pkcs1_sha256"}, {0x0501, "rsa_pkcs1_sha384"}, {0x0601, "rsa_pkcs1_sha512"},
		{0x0403, "ecdsa_secp256r1_sha256"}, {0x0503, "ecdsa_secp384r1_sha384"},
		{0x0603, "ecdsa_secp521r1_sha512"}, {0x0804, "rsa_pss_rsae_sha256"},
		{0x0805, "rsa_pss_rsae_sha384"}, {0x0806, "rsa_pss_rsae_sha512"}, {0x0807, "ed25519"},
		{0x0808, "ed448"}, {0x0809, "rsa_pss_pss_sha256"}, {0x080a, "rsa_pss_pss_sha384"},
		{0x080b, "rsa_pss_pss_sha512"}, {0x0201, "rsa_pkcs1_sha1"}, {0x0203, "ecdsa_sha1"},
		{0x0301, "sha224_rsa"}, {0x0303, "sha224_ecdsa"}, {0x0402, "sha256_dsa"},
		{0x0302, "sha224_dsa"}, {0x0202, "sha1_dsa"}, {0x0502, "sha384_dsa"}, {0x0602, "sha512_dsa"},
		{0x081a, "ecdsa_brainpoolP256r1tls13_sha256"}, {0x081b, "ecdsa_brainpoolP384r1tls13_sha384"},
		{0x081c, "ecdsa_brainpoolP512r1tls13_sha512"},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].id == scheme)
			return names[i].name;
	return NULL;
}
