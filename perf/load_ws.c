/* perf/load_ws.c: rw-load --mode ws: WebSocket (RFC 6455) over plain TCP: an
 * HTTP upgrade, then each message one masked binary frame (mask key 0, so the
 * payload is the pattern as is); the server's frames are parsed and their
 * payload verified. --mode wss: the same as TLS application data (load_tls.c
 * sends the upgrade once its handshake is done and feeds the decrypted bytes
 * to ws_input). --deflate: permessage-deflate (RFC 7692) with no context
 * takeover either way; each message goes out compressed (RSV1), and a
 * compressed message from the server is collected whole, inflated and then
 * verified (an uncompressed one is verified as it comes). */
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The HTTP upgrade request (ws and wss). */
const char *ws_request(const struct load *L, size_t *len)
{
	static const char plain[] =
		"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
	static const char deflate[] =
		"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
		"client_no_context_takeover\r\n\r\n";
	*len = L->o.deflate ? sizeof deflate - 1 : sizeof plain - 1;
	return L->o.deflate ? deflate : plain;
}

/* --deflate: one deflate and one inflate stream, reset per message. */
void setup_deflate(struct load *L)
{
	L->zdef = calloc(1, sizeof *L->zdef);
	L->zinf = calloc(1, sizeof *L->zinf);
	L->zout = malloc(ZOUT);
	if (!L->zdef || !L->zinf || !L->zout)
		die("out of memory");
	if (deflateInit2(L->zdef, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK ||
	    inflateInit2(L->zinf, -15) != Z_OK)
		die("zlib init failed");
}

/* Compress n bytes into L->zbuf (sync flush, the 00 00 ff ff tail removed,
 * RFC 7692 §7.2.1); returns the compressed length. */
static size_t compress_msg(struct load *L, const uint8_t *in, size_t n)
{
	z_stream *z = L->zdef;
	size_t len = 0;
	deflateReset(z);
	z->next_in = (Bytef *)in;
	z->avail_in = (uInt)n;
	do {
		if (grow(&L->zbuf, &L->zcap, len + n / 2 + 64))
			die("out of memory");
		z->next_out = L->zbuf + len;
		z->avail_out = (uInt)(L->zcap - len);
		if (deflate(z, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
			die("deflate failed");
		len = L->zcap - z->avail_out;
	} while (z->avail_in || !z->avail_out);
	return len - 4;
}

/* The server's compressed message (collected in t->hs): inflate, verify. */
static void inflate_msg(struct load *L, unsigned idx)
{
	static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
	struct tls *t = L->c[idx].t;
	z_stream *z = L->zinf;
	inflateReset(z);
	for (int part = 0; part < 2 && L->c[idx].state == C_OPEN; part++) {
		z->next_in = part ? (Bytef *)tail : t->hs;
		z->avail_in = part ? 4 : (uInt)t->hs_len;
		do {
			z->next_out = L->zout;
			z->avail_out = ZOUT;
			int rc = inflate(z, Z_SYNC_FLUSH);
			if (rc != Z_OK && rc != Z_BUF_ERROR) {
				ws_fail(L, idx, "the server's compressed message does not inflate");
				return;
			}
			if (ZOUT - z->avail_out)
				verify(L, idx, L->zout, ZOUT - z->avail_out);
		} while (z->avail_in || !z->avail_out);
	}
	t->hs_len = 0;
}

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
	if (!c->t && !(c->t = calloc(1, sizeof *c->t)))
		return -1;
	struct tls *t = c->t;
	t->in_len = t->in_off = t->sent = 0;
	t->out_len[0] = t->out_len[1] = 0;
	t->cur = 0;
	t->fl = -1;
	t->hs_done = false;
	ws_reset(t);
	if (grow(&t->out[0], &t->out_cap[0], 512))
		return -1;
	size_t rn;
	const char *req = ws_request(L, &rn);
	memcpy(t->out[0], req, rn);
	t->out_len[0] = rn;
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
			if (t->zmsg) { /* collected, inflated at the message end */
				if (grow(&t->hs, &t->hs_cap, t->hs_len + k))
					die("out of memory");
				memcpy(t->hs + t->hs_len, p, k);
				t->hs_len += k;
			} else {
				verify(L, idx, p, (unsigned)k);
			}
			t->payload_left -= k;
			p += k;
			n -= k;
			if (!t->payload_left && t->zmsg && t->fin)
				inflate_msg(L, idx);
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
			bool rsv1 = t->hdr[0] & 0x40;
			if ((rsv1 && (!L->o.deflate || op == 0)) || (t->hdr[0] & 0x30)) {
				ws_fail(L, idx, "unexpected RSV bits from the server");
				return;
			}
			if (op)
				t->zmsg = rsv1;
			t->fin = t->hdr[0] & 0x80;
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
		if (!len && t->zmsg && t->fin)
			inflate_msg(L, idx);
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
	*end = 0;
	if (L->o.deflate && !strcasestr((char *)t->hs, "\nSec-WebSocket-Extensions: permessage-deflate")) {
		ws_fail(L, idx, "the server did not accept permessage-deflate");
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
		const uint8_t *z = NULL;
		if (L->o.deflate) { /* the message from the pattern, compressed */
			if (grow(&L->wss_plain, &L->wss_plain_cap, n))
				die("out of memory");
			for (size_t done = 0; done < n;) {
				size_t at = (c->base + c->tx_off + done) % PAT_PERIOD;
				size_t k = n - done < PAT_PERIOD - at ? n - done : PAT_PERIOD - at;
				memcpy(L->wss_plain + done, L->pattern + at, k);
				done += k;
			}
			n = compress_msg(L, L->wss_plain, n);
			z = L->zbuf;
		}
		h[0] = z ? 0xc2 : 0x82;
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
		for (size_t done = 0; done < n && !z;) { /* the pattern wraps every PAT_PERIOD bytes */
			size_t at = (c->base + c->tx_off + done) % PAT_PERIOD;
			size_t k = n - done < PAT_PERIOD - at ? n - done : PAT_PERIOD - at;
			memcpy(o + hl + done, L->pattern + at, k);
			done += k;
		}
		if (z)
			memcpy(o + hl, z, n);
		*len += hl + n;
		c->tx_off += L->o.size;
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
