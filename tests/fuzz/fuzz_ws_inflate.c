/* tests/fuzz/fuzz_ws_inflate.c: libFuzzer target for permessage-deflate
 * inflation and offer negotiation. The input is inflated as one message whole
 * and cut in two; both must agree (result and bytes), output never passes the
 * limit by more than nothing, and exactly one `last` chunk ends a message that
 * succeeded. The input is also negotiated as an extension offer. */
#include "proto/ws_deflate.h"

#include <stdlib.h>
#include <string.h>

#define LIMIT (256u * 1024u)

struct sink {
	uint8_t *d;
	size_t len;
	int lasts;
};

static int out(void *ctx, const uint8_t *d, size_t n, bool last)
{
	struct sink *s = ctx;
	if (s->lasts || s->len + n > LIMIT)
		abort();
	memcpy(s->d + s->len, d, n);
	s->len += n;
	s->lasts += last;
	return 0;
}

static int run(const uint8_t *in, size_t n, size_t cut, struct sink *s)
{
	static uint8_t scratch[4096];
	z_stream z;
	if (rw_pmd_inflate_init(&z) != 0)
		return 99;
	uint64_t total = 0;
	int rc = rw_pmd_inflate(&z, in, cut, cut == n, LIMIT, &total, scratch, sizeof(scratch), out, s);
	if (rc == 0 && cut < n)
		rc = rw_pmd_inflate(&z, in + cut, n - cut, true, LIMIT, &total, scratch, sizeof(scratch), out, s);
	rw_pmd_inflate_end(&z);
	if (rc == 0 && s->lasts != 1)
		abort();
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t a_buf[LIMIT], b_buf[LIMIT];
	struct sink a = {a_buf, 0, 0}, b = {b_buf, 0, 0};
	int ra = run(data, size, size, &a);
	int rb = run(data, size, size / 2, &b);
	if (ra != rb || (ra == 0 && (a.len != b.len || memcmp(a.d, b.d, a.len) != 0)))
		abort();
	char *offer = malloc(size + 1);
	memcpy(offer, data, size);
	offer[size] = 0;
	rw_pmd_params p;
	if (rw_pmd_negotiate(offer, size & 1, &p)) {
		char resp[160];
		rw_pmd_response(&p, resp, sizeof(resp));
		if (p.server_max_window_bits < 9 || p.server_max_window_bits > 15 || strncmp(resp, "permessage-deflate", 18))
			abort();
	}
	free(offer);
	return 0;
}
