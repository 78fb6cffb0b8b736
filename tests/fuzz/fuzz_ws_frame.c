/* tests/fuzz/fuzz_ws_frame.c: libFuzzer target for the WebSocket frame parser.
 *
 * Input: 1 settings byte (bit 0 masking not required, bit 1 RSV1 allowed,
 * bits 2-7 a message limit), then the stream. It is parsed twice: whole, and
 * cut at pseudo-random points with callbacks that stop now and then. Checked:
 * both runs agree on the delivered bytes, the control frames and the error;
 * control payloads never exceed 125 bytes; no message exceeds the limit. */
#include "proto/ws_frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sink {
	uint8_t *out;
	size_t len, cap;
	uint64_t limit, msg;
	uint32_t seed;
	bool stops;
};

static void put(struct sink *s, const void *p, size_t n)
{
	if (!n)
		return;
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2 + 64;
		s->out = realloc(s->out, s->cap);
		if (!s->out)
			abort();
	}
	memcpy(s->out + s->len, p, n);
	s->len += n;
}

static int stop(struct sink *s)
{
	s->seed = s->seed * 1103515245u + 12345u;
	return s->stops && (s->seed >> 16) % 5 == 0;
}

static int on_data(void *ctx, const rw_ws_parser *p, const uint8_t *d, size_t n, bool end)
{
	struct sink *s = ctx;
	s->msg += n;
	if (s->limit && s->msg > s->limit)
		abort();
	put(s, d, n);
	if (end) {
		uint8_t tag[2] = {0xEE, (uint8_t)(p->fin | p->msg_opcode << 1 | p->msg_compressed << 3)};
		put(s, tag, 2);
		if (p->fin)
			s->msg = 0;
	}
	return stop(s);
}

static int on_control(void *ctx, int op, const uint8_t *d, size_t n)
{
	struct sink *s = ctx;
	if (n > RW_WS_MAX_CONTROL)
		abort();
	uint8_t tag[2] = {0xCC, (uint8_t)op};
	put(s, tag, 2);
	put(s, d, n);
	return stop(s);
}

static const rw_ws_parser_cbs cbs = {on_data, on_control};

static int run(const uint8_t *in, size_t n, uint8_t settings, bool cut, struct sink *s)
{
	uint8_t *buf = malloc(n ? n : 1);
	memcpy(buf, in, n);
	rw_ws_parser p;
	rw_ws_parser_init(&p);
	p.require_mask = !(settings & 1);
	p.allow_rsv1 = settings & 2;
	p.max_message = (uint64_t)(settings >> 2) * 7;
	s->limit = p.max_message;
	s->stops = cut;
	s->seed = (uint32_t)n;
	size_t at = 0;
	int err = 0;
	while (at < n) {
		size_t k = n - at;
		if (cut) {
			s->seed = s->seed * 1103515245u + 12345u;
			k = 1 + (s->seed >> 16) % k;
		}
		ssize_t got = rw_ws_parse(&p, buf + at, k, &cbs, s);
		if (got < 0) {
			err = p.error;
			if (!p.error_text)
				abort();
			break;
		}
		at += (size_t)got;
	}
	free(buf);
	return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct sink a = {0}, b = {0};
	int ea = run(data + 1, size - 1, data[0], false, &a);
	int eb = run(data + 1, size - 1, data[0], true, &b);
	if (ea != eb || a.len != b.len || (a.len && memcmp(a.out, b.out, a.len) != 0))
		abort();
	free(a.out);
	free(b.out);
	return 0;
}
