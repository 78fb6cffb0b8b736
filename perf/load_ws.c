/* perf/load_ws.c: rw-load --mode ws: WebSocket (RFC 6455) over plain TCP: an
 * HTTP upgrade, then each message one masked binary frame (mask key 0, so the
 * payload is the pattern as is); the server's frames are parsed and their
 * payload verified. --mode wss: the same as TLS application data (load_tls.c
 * sends the upgrade once its handshake is done and feeds the decrypted bytes
 * to ws_input). */
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The HTTP upgrade request (ws and wss). */
const char ws_req[] =
	"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const size_t ws_req_len = sizeof ws_req - 1;

/* Before the upgrade: no response seen, no frame begun. */
void ws_reset(struct tls *t)
{
	t->ws_done = false;
	t->hs_len = 0;
	t->hdr_len = 0;
	t->hdr_need = 2;
	t->payload_left = 0;
}

/* --mode ws: a new connection sends its HTTP upgrade request. */
int ws_begin(struct load *L, struct conn *c)
{
	(void)L;
	if (!c->t && !(c->t = calloc(1, sizeof *c->t)))
		return -1;
	struct tls *t = c->t;
	t->in_len = t->in_off = t->sent = 0;
	t->out_len[0] = t->out_len[1] = 0;
	t->cur = 0;
	t->fl = -1;
	t->hs_done = false;
	ws_reset(t);
	if (grow(&t->out[0], &t->out_cap[0], ws_req_len))
		return -1;
	memcpy(t->out[0], ws_req, ws_req_len);
	t->out_len[0] = ws_req_len;
	return 0;
}

void ws_fail(struct load *L, unsigned idx, const char *why)
{
	if (!L->s.tls_err)
		fprintf(stderr, "rw-load: connection %u: WebSocket: %s\n", idx, why);
	L->s.tls_err++;
	conn_lost(L, idx, -EPROTO);
}

static void ws_frames(struct load *L, unsigned idx, const uint8_t *p, size_t n)
{
	struct conn *c = &L->c[idx];
	struct tls *t = c->t;

	while (n && c->state == C_OPEN) {
		if (t->payload_left) {
			size_t k = n < t->payload_left ? n : (size_t)t->payload_left;
			verify(L, idx, p, (unsigned)k);
			t->payload_left -= k;
			p += k;
			n -= k;
			continue;
		}
		t->hdr[t->hdr_len++] = *p++;
		n--;
		if (t->hdr_len == 2) {
			unsigned op = t->hdr[0] & 0x0f, len7 = t->hdr[1] & 0x7f;
			if (t->hdr[1] & 0x80)
				{
				ws_fail(L, idx, "masked frame from the server");
				return;
			}
			if (op == 8)
				{
				ws_fail(L, idx, "close frame from the server");
				return;
			}
			if (op != 2 && op != 0)
				{
				ws_fail(L, idx, "unexpected opcode from the server");
				return;
			}
			t->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
		}
		if (t->hdr_len < t->hdr_need)
			continue;
		unsigned len7 = t->hdr[1] & 0x7f;
		uint64_t len = len7;
		if (len7 == 126)
			len = (uint64_t)t->hdr[2] << 8 | t->hdr[3];
		else if (len7 == 127)
			for (int i = 0; i < 8; i++)
				len = len << 8 | t->hdr[2 + i];
		t->payload_left = len;
		t->hdr_len = 0;
		t->hdr_need = 2;
	}
}

void ws_input(struct load *L, unsigned idx, const uint8_t *p, unsigned n)
{
	struct conn *c = &L->c[idx];
	struct tls *t = c->t;

	if (t->ws_done) {
		ws_frames(L, idx, p, n);
		return;
	}
	if (grow(&t->hs, &t->hs_cap, t->hs_len + n + 1))
		die("out of memory");
	memcpy(t->hs + t->hs_len, p, n);
	t->hs_len += n;
	t->hs[t->hs_len] = 0;
	char *end = strstr((char *)t->hs, "\r\n\r\n");
	if (!end) {
		if (t->hs_len > 8192)
			ws_fail(L, idx, "no end of the upgrade response in 8 KiB");
		return;
	}
	if (strncmp((char *)t->hs, "HTTP/1.1 101", 12)) {
		ws_fail(L, idx, "upgrade refused");
		return;
	}
	t->ws_done = true;
	L->s.handshakes++;
	size_t used = (size_t)(end + 4 - (char *)t->hs), rest = t->hs_len - used;
	conn_ready(L, idx, now_ns());
	if (rest && c->state == C_OPEN)
		ws_frames(L, idx, t->hs + used, rest);
	t->hs_len = 0;
}

/* Append every queued message to buf as one frame: FIN + binary, masked
 * with key 0 (so the payload goes out as is). */
static void frame_msgs(struct load *L, struct conn *c, uint8_t **buf, size_t *cap, size_t *len)
{
	while (c->tx_off < c->tx_queued) {
		uint8_t h[14];
		size_t hl = 2, n = L->o.size;
		h[0] = 0x82;
		if (n < 126) {
			h[1] = (uint8_t)(0x80 | n);
		} else if (n < 65536) {
			h[1] = 0x80 | 126;
			h[2] = (uint8_t)(n >> 8);
			h[3] = (uint8_t)n;
			hl = 4;
		} else {
			h[1] = 0x80 | 127;
			for (int i = 0; i < 8; i++)
				h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
			hl = 10;
		}
		memset(h + hl, 0, 4);
		hl += 4;
		if (grow(buf, cap, *len + hl + n))
			die("out of memory");
		uint8_t *o = *buf + *len;
		memcpy(o, h, hl);
		for (size_t done = 0; done < n;) { /* the pattern wraps every PAT_PERIOD bytes */
			size_t at = (c->base + c->tx_off + done) % PAT_PERIOD;
			size_t k = n - done < PAT_PERIOD - at ? n - done : PAT_PERIOD - at;
			memcpy(o + hl + done, L->pattern + at, k);
			done += k;
		}
		*len += hl + n;
		c->tx_off += n;
	}
}

/* Frame every queued message into the accumulating output (wss: encrypt
 * the frames first), and send it. */
void ws_queue(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];
	struct tls *t = c->t;
	if (c->state == C_OPEN && t->ws_done && c->tx_off < c->tx_queued) {
		if (L->o.tls) {
			L->wss_len = 0;
			frame_msgs(L, c, &L->wss_buf, &L->wss_cap, &L->wss_len);
			if (tls_write_all(L, idx, L->wss_buf, L->wss_len))
				return;
		} else {
			frame_msgs(L, c, &t->out[t->cur], &t->out_cap[t->cur], &t->out_len[t->cur]);
		}
	}
	tls_flush(L, idx);
}
