/* src/ws_send.c: Send, SendBytes, SendText, Ping and the frame writer.
 *
 * A data frame is always queued whole (header and payload), so the wire
 * never holds a torn frame. Timeout = 0: as many frames as fit in the bounded
 * queue; if not all of the bytes fit, the message stays open and the next
 * send continues it (continuation frames), which is what the documented
 * "retry with the rest after WOULDBLOCK" protocol needs. Timeout > 0: turn
 * the loop until everything is queued. Control frames (pong, close, ping) are
 * never refused for queue space; pongs are dropped when a client floods pings
 * without reading (the queue holds twice its limit), which RFC 6455 §5.5.3
 * allows (only the latest ping needs an answer). */
#include "ws_internal.h"

#include <stdlib.h>
#include <string.h>

uint32_t rw__ws_room(const struct rw_conn *c)
{
	uint32_t limit = c->srv->set.send_queue_limit;
	return c->sq_bytes >= limit ? 0 : limit - c->sq_bytes;
}

/* Queue bytes exactly as given: encrypted when TLS is on. */
int rw__ws_out(struct rw_conn *c, const uint8_t *d, size_t n)
{
	if (!n)
		return 0;
	if (c->tls) {
		int rc = rw__tls_write(c->tls, d, n);
		if (rc < 0) {
			rw__conn_close(c, -rc, rw__tls_error_text(c->tls), true);
			return rc;
		}
		return 0;
	}
	size_t off = 0;
	while (off < n) {
		uint32_t chunk = n - off > UINT32_MAX ? UINT32_MAX : (uint32_t)(n - off);
		uint32_t k = rw__sendq_append(c->srv->loop, c, d + off, chunk);
		if (!k) {
			rw__conn_close(c, RW_ENOMEM, rw_strerror(RW_ENOMEM), true);
			return -RW_ENOMEM;
		}
		off += k;
	}
	rw__flush_later(c->srv->loop, c);
	return 0;
}

/* One frame; small ones are built in one buffer (one TLS record). */
static int frame(struct rw_conn *c, int op, bool fin, bool rsv1, const uint8_t *d, size_t n)
{
	uint8_t buf[RW_WS_MAX_HEADER + 2048];
	size_t h = rw_ws_frame_header(buf, op, fin, rsv1, n);
	if (n <= sizeof(buf) - h) {
		if (n)
			memcpy(buf + h, d, n);
		return rw__ws_out(c, buf, h + n);
	}
	int rc = rw__ws_out(c, buf, h);
	return rc < 0 ? rc : rw__ws_out(c, d, n);
}

int rw__ws_control(struct rw_conn *c, int opcode, const uint8_t *d, size_t n)
{
	if (c->flags & RW_C_CLOSING)
		return -RW_EWS_SEND;
	if (opcode == RW_WS_OP_PONG && c->sq_bytes > 2 * c->srv->set.send_queue_limit)
		return 0;
	return frame(c, opcode, true, false, d, n);
}

/* ---- data messages ---------------------------------------------------------- */

static int open_conn(struct rw_wsserver *ws, rw_connid id, struct rw_conn **cp, struct rw_ws_conn **wcp)
{
	if (!ws)
		return -RW_EINVAL;
	struct rw_ws_conn *wc = rw__ws_conn(ws, id, cp);
	if (!*cp)
		return -RW_EINVALID_CONNID;
	if (!wc || wc->phase != WS_OPEN || ((*cp)->flags & RW_C_CLOSING))
		return -RW_EWS_SEND;
	*wcp = wc;
	return 0;
}

/* Queue frames of the open message (starting one if needed) from d[0..n)
 * while the queue has room (or without limit when `force`). Returns the bytes
 * taken. */
static int64_t message_length(const struct rw_ws_conn *wc)
{
	return wc->cold ? wc->cold->message_length : 0;
}

static size_t push(struct rw_ws_conn *wc, struct rw_conn *c, int op, const uint8_t *d, size_t n, bool force,
                   int *err)
{
	uint32_t max_frame = rw__ws_of(c)->set.max_frame;
	size_t taken = 0;
	while (taken < n || (!wc->tx_open && n == 0 && taken == 0)) {
		if (!wc->tx_open) {
			int64_t ml = message_length(wc);
			uint64_t total = ml > 0 ? (uint64_t)ml : n - taken;
			wc->tx_open = true;
			wc->tx_left = total;
			wc->tx_opcode = (uint8_t)op;
			if (total == 0) {
				wc->tx_open = false;
				*err = frame(c, op, true, false, NULL, 0);
				return taken;
			}
		}
		uint32_t room = rw__ws_room(c);
		if (!force && room <= RW_WS_MAX_HEADER)
			break;
		size_t k = n - taken;
		if (k > wc->tx_left)
			k = (size_t)wc->tx_left;
		if (k > max_frame)
			k = max_frame;
		if (!force && k > room - RW_WS_MAX_HEADER)
			k = room - RW_WS_MAX_HEADER;
		bool first = wc->tx_opcode != 0;
		bool fin = k == wc->tx_left;
		*err = frame(c, first ? wc->tx_opcode : RW_WS_OP_CONT, fin, false, d + taken, k);
		if (*err < 0)
			return taken;
		wc->tx_opcode = 0; /* later frames are continuations */
		wc->tx_left -= k;
		taken += k;
		if (fin)
			wc->tx_open = false;
	}
	return taken;
}

/* The whole message compressed into one buffer (shared stream reset per
 * message, or the connection's own with context takeover); NULL when the
 * message is not worth or not able to be compressed. */
static const rw_pmd_buf *compress_msg(struct rw_wsserver *ws, struct rw_ws_conn *wc, const uint8_t *d, size_t n)
{
	bool takeover = !wc->pmd_server_nct;
	/* The negotiated limit, or less by PermessageDeflateWindowBits (the
	 * client inflates with the window it announced, which covers ours). */
	int bits = wc->pmd_bits;
	if (bits > ws->set.pmd_window_bits)
		bits = ws->set.pmd_window_bits;
	struct rw_ws_cold *k = takeover ? rw__ws_cold(wc) : NULL;
	if (takeover && !k)
		return NULL; /* sent uncompressed */
	z_stream **zp = takeover ? &k->deflater : &ws->deflaters[bits];
	if (!*zp) {
		z_stream *z = malloc(sizeof(*z));
		if (!z || rw_pmd_deflate_init(z, bits, ws->set.pmd_mem_level, ws->set.pmd_level) != RW_PMD_OK) {
			free(z);
			return NULL;
		}
		*zp = z;
	}
	if (rw_pmd_deflate(*zp, d, n, !takeover, &ws->zbuf) != RW_PMD_OK)
		return NULL;
	return &ws->zbuf;
}

static int send_compressed(struct rw_conn *c, int op, const uint8_t *d, size_t n)
{
	uint32_t max_frame = rw__ws_of(c)->set.max_frame;
	size_t off = 0;
	do {
		size_t k = n - off;
		if (k > max_frame)
			k = max_frame;
		int rc = frame(c, off ? RW_WS_OP_CONT : op, off + k == n, off == 0, d + off, k);
		if (rc < 0)
			return rc;
		off += k;
	} while (off < n);
	return 0;
}

/* Wait one loop turn for a blocking call; NULL when the wait must end. */
static struct rw_ws_conn *wait_turn(struct rw_wsserver *ws, rw_connid id, int64_t since, struct rw_conn **cp,
                                    int *err)
{
	struct rw_conn *c;
	struct rw_ws_conn *wc = rw__ws_conn(ws, id, &c);
	if (!wc || wc->phase != WS_OPEN || (c->flags & RW_C_CLOSING)) {
		*err = -RW_EWS_SEND;
		return NULL;
	}
	if (c->flags & RW_C_INTERRUPT) {
		c->flags &= ~RW_C_INTERRUPT;
		*err = -RW_EINTERRUPTED;
		return NULL;
	}
	if (c->last_active > since)
		since = c->last_active;
	int64_t left = since + (int64_t)c->timeout * 1000 - rw__now_ms();
	if (left <= 0) {
		*err = -RW_ETIMEDOUT;
		return NULL;
	}
	rw__blocking_wait(ws->tcp, left < 100 ? (int)left : 100);
	wc = rw__ws_conn(ws, id, cp);
	if (!wc || wc->phase != WS_OPEN || ((*cp)->flags & RW_C_CLOSING)) {
		*err = -RW_EWS_SEND;
		return NULL;
	}
	return wc;
}

static int send_message(struct rw_wsserver *ws, rw_connid id, int op, const uint8_t *d, size_t n)
{
	struct rw_conn *c;
	struct rw_ws_conn *wc;
	int rc = open_conn(ws, id, &c, &wc);
	if (rc < 0)
		return rc;
	if (n && !d)
		return -RW_EINVAL;
	int64_t ml = message_length(wc);
	bool whole = !wc->tx_open && (ml <= 0 || (uint64_t)ml == n);
	if (op == RW_WS_OP_TEXT && whole && !rw_utf8_valid(d, n))
		return -RW_EBAD_VALUE;
	int err = 0;
	if (wc->pmd && whole && n > 0 && (c->timeout > 0 || n + 64 <= rw__ws_room(c))) {
		const rw_pmd_buf *z = compress_msg(ws, wc, d, n);
		/* With context takeover the stream has taken the message: it must go. */
		if (z && (z->len < n || !wc->pmd_server_nct)) {
			/* In blocking mode the compressed copy must outlive nested
			 * events (which may compress for others): it is queued at once,
			 * even past the queue limit, and then drained like any other. */
			rc = send_compressed(c, op, z->d, z->len);
			c->bytes_sent = c->timeout > 0 ? 0 : (int64_t)n;
			return rc;
		}
	}
	if (c->timeout == 0) {
		size_t took = push(wc, c, op, d, n, false, &err);
		c->bytes_sent = (int64_t)took;
		if (err < 0)
			return err;
		if (took < n) {
			c->flags |= RW_C_WOULDBLOCK;
			return -RW_EWOULDBLOCK;
		}
		return 0;
	}
	/* Blocking: loop turns until all is queued. */
	int64_t since = rw__now_ms();
	size_t done = 0;
	c->flags &= ~RW_C_INTERRUPT;
	c->bytes_sent = 0;
	for (;;) {
		size_t took = push(wc, c, op, d + done, n - done, false, &err);
		done += took;
		if (err < 0)
			return err;
		if (done == n && !(n == 0 && wc->tx_open))
			return 0;
		if (took)
			since = rw__now_ms();
		if (!(wc = wait_turn(ws, id, since, &c, &err)))
			return err;
	}
}

RW_API int rw_wsserver_send(rw_wsserver *ws, rw_connid id, const void *data, size_t len)
{
	RW_WS_ROUTE(ws, id);
	struct rw_conn *c;
	struct rw_ws_conn *wc;
	int rc = open_conn(ws, id, &c, &wc);
	if (rc < 0)
		return rc;
	switch (wc->data_format) {
	case RW_WS_FORMAT_TEXT:
		return send_message(ws, id, RW_WS_OP_TEXT, data, len);
	case RW_WS_FORMAT_PING:
	case RW_WS_FORMAT_PONG:
		if (len > RW_WS_MAX_CONTROL || (len && !data))
			return -RW_EBAD_VALUE;
		c->bytes_sent = (int64_t)len;
		return rw__ws_control(c, wc->data_format == RW_WS_FORMAT_PING ? RW_WS_OP_PING : RW_WS_OP_PONG, data, len);
	default:
		return send_message(ws, id, RW_WS_OP_BINARY, data, len);
	}
}

RW_API int rw_wsserver_send_bytes(rw_wsserver *ws, rw_connid id, const void *data, size_t len)
{
	RW_WS_ROUTE(ws, id);
	return send_message(ws, id, RW_WS_OP_BINARY, data, len);
}

RW_API int rw_wsserver_send_text_n(rw_wsserver *ws, rw_connid id, const char *text, size_t len)
{
	RW_WS_ROUTE(ws, id);
	return send_message(ws, id, RW_WS_OP_TEXT, (const uint8_t *)text, len);
}

RW_API int rw_wsserver_send_text(rw_wsserver *ws, rw_connid id, const char *text)
{
	RW_WS_ROUTE(ws, id);
	return send_message(ws, id, RW_WS_OP_TEXT, (const uint8_t *)text, text ? strlen(text) : 0);
}

/* The end of a blocking Ping(): its payload goes with the cold part. */
static int ping_end(struct rw_ws_conn *wc, int rc)
{
	if (wc) {
		wc->ping_waiting = false;
		rw__ws_cold_trim(wc);
	}
	return rc;
}

RW_API int rw_wsserver_ping(rw_wsserver *ws, rw_connid id)
{
	RW_WS_ROUTE(ws, id);
	struct rw_conn *c;
	struct rw_ws_conn *wc;
	int rc = open_conn(ws, id, &c, &wc);
	if (rc < 0)
		return rc;
	uint64_t seq = ++ws->ping_seq;
	uint8_t payload[8];
	for (int i = 0; i < 8; i++)
		payload[i] = (uint8_t)(seq >> (56 - 8 * i));
	if (c->timeout == 0)
		return rw__ws_control(c, RW_WS_OP_PING, payload, 8); /* no one waits for the pong */
	struct rw_ws_cold *k = rw__ws_cold(wc);
	if (!k)
		return -RW_ENOMEM;
	memcpy(k->ping_payload, payload, 8);
	wc->ping_waiting = true;
	wc->pong_seen = false;
	rc = rw__ws_control(c, RW_WS_OP_PING, payload, 8);
	if (rc < 0)
		return ping_end(wc, rc);
	int64_t since = rw__now_ms();
	c->flags &= ~RW_C_INTERRUPT;
	while (!wc->pong_seen) {
		/* Only the pong counts as progress here, not other traffic. */
		int64_t left = since + (int64_t)c->timeout * 1000 - rw__now_ms();
		if (left <= 0)
			return ping_end(wc, -RW_ETIMEDOUT);
		if (c->flags & RW_C_INTERRUPT) {
			c->flags &= ~RW_C_INTERRUPT;
			return ping_end(wc, -RW_EINTERRUPTED);
		}
		rw__blocking_wait(ws->tcp, left < 100 ? (int)left : 100);
		wc = rw__ws_conn(ws, id, &c);
		if (!wc || wc->phase != WS_OPEN)
			return ping_end(wc, -RW_EWS_SEND);
	}
	return ping_end(wc, 0);
}
