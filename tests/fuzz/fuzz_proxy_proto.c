/* tests/fuzz/fuzz_proxy_proto.c: libFuzzer target for the PROXY protocol
 * parser. Checked: no crash or overread (ASan); the answer and the bytes
 * consumed are the same whether the input comes whole or split at a point
 * taken from its first byte; consumed never exceeds the input; a DONE header
 * is v1 or v2 with a known family; the parser never keeps more than its
 * buffer. */
#include "proto/proxy_proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int run(const uint8_t *data, size_t len, size_t cut, size_t *taken, rw_proxy_hdr *h)
{
	rw_proxy_parser p;
	rw_proxy_init(&p, RW_PROXY_ACCEPT_V1 | RW_PROXY_ACCEPT_V2);
	size_t used = 0;
	int rc = rw_proxy_feed(&p, data, cut, &used);
	*taken = used;
	if (rc == RW_PROXY_MORE) {
		if (used != cut)
			abort();
		rc = rw_proxy_feed(&p, data + cut, len - cut, &used);
		*taken += used;
	}
	if (p.have > sizeof(p.buf))
		abort();
	*h = p.hdr;
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len == 0)
		return 0;
	size_t cut = data[0] % (len + 1);
	size_t t1, t2;
	rw_proxy_hdr h1, h2;
	int r1 = run(data, len, len, &t1, &h1);
	int r2 = run(data, len, cut, &t2, &h2);
	if (r1 != r2)
		abort();
	if (r1 == RW_PROXY_DONE) {
		if (t1 != t2 || t1 > len || memcmp(&h1, &h2, sizeof(h1)) != 0)
			abort();
		if (h1.version != 1 && h1.version != 2)
			abort();
		if (!h1.local && h1.family != 4 && h1.family != 6)
			abort();
	}
	if (r1 == RW_PROXY_MORE && t1 != len)
		abort();
	return 0;
}
