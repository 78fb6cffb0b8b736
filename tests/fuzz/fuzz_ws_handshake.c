/* tests/fuzz/fuzz_ws_handshake.c: libFuzzer target for the opening handshake
 * parser. The input is fed whole and in pseudo-random pieces; both must give
 * the same verdict, status, consumed length and request fields. A DONE request
 * must carry a 16-byte key and version 13; responses are built for it. */
#include "proto/ws_handshake.h"

#include <stdlib.h>
#include <string.h>

static int run(const uint8_t *d, size_t n, bool cut, rw_ws_handshake *h, size_t *consumed)
{
	rw_ws_handshake_init(h);
	h->max_head = 2048;
	uint32_t seed = (uint32_t)n;
	size_t at = 0;
	int rc = RW_WS_HS_MORE;
	while (at < n && rc == RW_WS_HS_MORE) {
		size_t k = n - at, used;
		if (cut) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % k;
		}
		rc = rw_ws_handshake_feed(h, d + at, k, &used);
		if (used > k)
			abort();
		at += used;
	}
	*consumed = at;
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rw_ws_handshake a, b;
	size_t ua, ub;
	int ra = run(data, size, false, &a, &ua);
	int rb = run(data, size, true, &b, &ub);
	if (ra != rb || a.status != b.status)
		abort();
	if (ra == RW_WS_HS_DONE) {
		if (ua != ub || strcmp(a.req.request_uri, b.req.request_uri) || strcmp(a.req.headers, b.req.headers) ||
		    strcmp(a.req.protocols, b.req.protocols) || strcmp(a.req.extensions, b.req.extensions) ||
		    a.req.version != 13 || strlen(a.req.key) != 24)
			abort();
		size_t n;
		char *r = rw_ws_response_101(a.req.key, a.req.protocols, NULL, a.req.headers, &n);
		if (r && strlen(r) != n)
			abort();
		free(r);
	}
	if (ra == RW_WS_HS_ERROR && a.status != 400 && a.status != 426 && a.status != 431 && a.status != 500)
		abort();
	rw_ws_handshake_free(&a);
	rw_ws_handshake_free(&b);
	return 0;
}
