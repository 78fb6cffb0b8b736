/* proto/ws_frame.c: RFC 6455 frame parsing and header writing (server side).
 *
 * The header is collected byte by byte into _hdr until its full length is
 * known (2, then +2/+8 for the extended length, +4 for the mask), so any split
 * of the input behaves the same. Payload bytes are unmasked in place and
 * passed on; control payloads are collected into _ctrl and delivered whole. */
#include "proto/ws_frame.h"

#include "proto/utf8.h"

#include <string.h>

void rw_ws_parser_init(rw_ws_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->require_mask = true;
}

bool rw_ws_close_code_valid(int code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
	       (code >= 3000 && code <= 4999);
}

bool rw_ws_close_code_sendable(int code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

size_t rw_ws_frame_header(uint8_t *out, int opcode, bool fin, bool rsv1, uint64_t len)
{
	out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

/* 32 bytes per step: what the compiler makes of this is two SSE2 (or one
 * AVX2) XORs, against eight bytes per step before; the key is rotated to
 * `pos` first, so no byte-wise lead-in is needed at any alignment. */
typedef uint64_t rw_u64x4 __attribute__((vector_size(32)));

uint32_t rw_ws_unmask(uint8_t *d, size_t n, const uint8_t mask[4], uint32_t pos)
{
	size_t i = 0;
	if (n >= 8) {
		uint8_t kb[8];
		for (int j = 0; j < 8; j++)
			kb[j] = mask[(pos + (uint32_t)j) & 3];
		uint64_t k;
		memcpy(&k, kb, 8);
		rw_u64x4 kv = {k, k, k, k};
		for (; i + 32 <= n; i += 32) {
			rw_u64x4 w;
			memcpy(&w, d + i, 32);
			w ^= kv;
			memcpy(d + i, &w, 32);
		}
		for (; i + 8 <= n; i += 8) {
			uint64_t w;
			memcpy(&w, d + i, 8);
			w ^= k;
			memcpy(d + i, &w, 8);
		}
	}
	for (; i < n; i++)
		d[i] ^= mask[(pos + (uint32_t)i) & 3];
	return (pos + (uint32_t)n) & 3;
}

static ssize_t fail(rw_ws_parser *p, int code, const char *why)
{
	p->error = code;
	p->error_text = why;
	return -1;
}

/* Bytes the header needs in total, given what has been collected. */
static size_t header_need(const rw_ws_parser *p)
{
	if (p->_hdr_len < 2)
		return 2;
	size_t n = 2;
	uint8_t l7 = p->_hdr[1] & 0x7f;
	if (l7 == 126)
		n += 2;
	else if (l7 == 127)
		n += 8;
	if (p->_hdr[1] & 0x80)
		n += 4;
	return n;
}

/* Validate a complete header and set up the frame. */
static ssize_t header_done(rw_ws_parser *p)
{
	uint8_t b0 = p->_hdr[0], b1 = p->_hdr[1];
	bool fin = b0 & 0x80, rsv1 = b0 & 0x40;
	int op = b0 & 0x0f;
	if (b0 & 0x30)
		return fail(p, RW_WS_CLOSE_PROTOCOL, "RSV2/RSV3 set without a negotiated extension");
	if (op > 2 && op < 8)
		return fail(p, RW_WS_CLOSE_PROTOCOL, "reserved data opcode");
	if (op > 10)
		return fail(p, RW_WS_CLOSE_PROTOCOL, "reserved control opcode");
	p->_masked = b1 & 0x80;
	if (p->require_mask && !p->_masked)
		return fail(p, RW_WS_CLOSE_PROTOCOL, "client frame not masked");
	uint64_t len = b1 & 0x7f;
	size_t at = 2;
	if (len == 126) {
		len = (uint64_t)p->_hdr[2] << 8 | p->_hdr[3];
		at = 4;
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p->_hdr[2 + i];
		at = 10;
		if (len >> 63)
			return fail(p, RW_WS_CLOSE_PROTOCOL, "64-bit length with the high bit set");
	}
	if (p->_masked)
		memcpy(p->_mask, p->_hdr + at, 4);
	p->_mask_pos = 0;
	if (op >= 8) {
		if (!fin)
			return fail(p, RW_WS_CLOSE_PROTOCOL, "fragmented control frame");
		if (len > RW_WS_MAX_CONTROL)
			return fail(p, RW_WS_CLOSE_PROTOCOL, "control frame longer than 125 bytes");
		if (rsv1)
			return fail(p, RW_WS_CLOSE_PROTOCOL, "RSV1 on a control frame");
		p->_ctrl_len = 0;
	} else if (op == RW_WS_OP_CONT) {
		if (!p->msg_opcode)
			return fail(p, RW_WS_CLOSE_PROTOCOL, "continuation frame with no message open");
		if (rsv1)
			return fail(p, RW_WS_CLOSE_PROTOCOL, "RSV1 on a continuation frame");
		p->fin = fin;
	} else {
		if (p->msg_opcode)
			return fail(p, RW_WS_CLOSE_PROTOCOL, "new message before the last one ended");
		if (rsv1 && !p->allow_rsv1)
			return fail(p, RW_WS_CLOSE_PROTOCOL, "RSV1 set without permessage-deflate");
		p->msg_opcode = (uint8_t)op;
		p->msg_compressed = rsv1;
		p->msg_len = 0;
		p->fin = fin;
	}
	if (op < 8) {
		/* Checked on the declared length, so a huge frame fails at once. */
		if (p->max_message && (len > p->max_message || p->msg_len + len > p->max_message))
			return fail(p, RW_WS_CLOSE_TOO_BIG, "message larger than MaxMessageSize");
		p->msg_len += len;
	}
	p->_opcode = (uint8_t)op;
	p->_left = len;
	p->_in_payload = true;
	p->_hdr_len = 0;
	return 0;
}

static ssize_t control_done(rw_ws_parser *p)
{
	if (p->_opcode == RW_WS_OP_CLOSE && p->_ctrl_len) {
		if (p->_ctrl_len == 1)
			return fail(p, RW_WS_CLOSE_PROTOCOL, "close frame with a 1-byte body");
		int code = p->_ctrl[0] << 8 | p->_ctrl[1];
		if (!rw_ws_close_code_valid(code))
			return fail(p, RW_WS_CLOSE_PROTOCOL, "invalid close code");
		if (!rw_utf8_valid(p->_ctrl + 2, p->_ctrl_len - 2u))
			return fail(p, RW_WS_CLOSE_BAD_DATA, "close reason is not UTF-8");
	}
	return 0;
}

ssize_t rw_ws_parse(rw_ws_parser *p, uint8_t *data, size_t n, const rw_ws_parser_cbs *cbs, void *ctx)
{
	if (p->error)
		return -1;
	size_t i = 0;
	for (;;) {
		if (!p->_in_payload) {
			if (i >= n)
				return (ssize_t)i;
			size_t need = header_need(p);
			while (p->_hdr_len < need && i < n) {
				p->_hdr[p->_hdr_len++] = data[i++];
				need = header_need(p);
			}
			if (p->_hdr_len < need)
				return (ssize_t)i;
			if (header_done(p) < 0)
				return -1;
		}
		size_t take = p->_left < n - i ? (size_t)p->_left : n - i;
		if (p->_masked && take)
			p->_mask_pos = rw_ws_unmask(data + i, take, p->_mask, p->_mask_pos);
		if (p->_opcode >= 8) {
			memcpy(p->_ctrl + p->_ctrl_len, data + i, take);
			p->_ctrl_len = (uint8_t)(p->_ctrl_len + take);
			i += take;
			p->_left -= take;
			if (p->_left)
				return (ssize_t)i;
			p->_in_payload = false;
			if (control_done(p) < 0)
				return -1;
			if (cbs->control && cbs->control(ctx, p->_opcode, p->_ctrl, p->_ctrl_len))
				return (ssize_t)i;
			continue;
		}
		/* Data: deliver what is here; an empty remainder is only reported
		 * when it completes the frame. */
		if (!take && p->_left)
			return (ssize_t)i;
		const uint8_t *d = data + i;
		i += take;
		p->_left -= take;
		bool end = p->_left == 0;
		bool msg_end = end && p->fin;
		if (end)
			p->_in_payload = false;
		int stop = cbs->data ? cbs->data(ctx, p, d, take, end) : 0;
		if (msg_end) {
			p->msg_opcode = 0;
			p->msg_compressed = false;
		}
		if (stop)
			return (ssize_t)i;
	}
}
