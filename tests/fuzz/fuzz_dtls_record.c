/* tests/fuzz/fuzz_dtls_record.c: the DTLS record peek and ClientHello parser
 * on arbitrary datagrams; whatever parses must lie inside the input, and a
 * HelloVerifyRequest written for it must never be larger than it. */
#include "proto/dtls_record.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rw_dtls_record r;
	if (rw_dtls_record_peek(data, size, &r) == 0 && (size_t)r.length + RW_DTLS_RECORD_HDR > size)
		abort();
	rw_dtls_client_hello ch;
	if (rw_dtls_parse_client_hello(data, size, &ch) == 0) {
		const uint8_t *end = data + size;
		if (ch.random + 32 > end || ch.cookie + ch.cookie_len > end ||
		    ch.suites + ch.suites_len > end || ch.compression + ch.compression_len > end)
			abort();
		uint8_t cookie[32] = {0}, out[128];
		size_t n = rw_dtls_write_hvr(out, sizeof(out), &ch, cookie, sizeof(cookie));
		if (n != 60 || n > size)
			abort();
		(void)rw_dtls_ch_offers_version(&ch, 0xfefc);
	}
	return 0;
}
