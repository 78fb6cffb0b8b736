/* src/ws_recv.c: from frames to DataIn and Ping events.
 *
 * Data pieces go out as they arrive (at least one DataIn per frame), inflated
 * first for a compressed message (the inflate stream comes from a per-server
 * pool and goes back at the message end unless the client keeps its context),
 * UTF-8-checked as they pass for text (fail fast with 1007), collected for
 * BufferMessage (bounded by MaxMessageSize), or split into lines in line mode.
 * Control frames: pings are answered at once, pongs matched against Ping(),
 * a Close is answered and the connection closed. */
#include "ws_internal.h"

#include <stdlib.h>
#include <string.h>

static int halt(const struct rw_ws_ctx *x)
{
	return (x->c->flags & (RW_C_CLOSING | RW_C_PAUSED)) || x->wc->zombie || x->wc->phase == WS_DONE;
}

static void fire_data(struct rw_ws_ctx *x, int format, const uint8_t *d, size_t n, bool eom, bool eol)
{
	struct rw_wsserver *ws = x->ws;
	if (!ws->ev.data_in || ws->freeing)
		return;
	rw_wsserver_data_in e = {x->c->id, format, d, n, eom, eol};
	ws->ev.data_in(ws, &e, ws->user);
}

/* The line buffer (MaxLineLength bytes, in the cold part), made on first
 * use and again after MaxLineLength[id] changed. */
static struct rw_ws_cold *line_buf(struct rw_ws_ctx *x)
{
	struct rw_ws_cold *k = rw__ws_cold(x->wc);
	if (!k || (!k->line && !(k->line = malloc((size_t)x->wc->max_line)))) {
		rw__ws_fail(x->wc, x->c, RW_WS_CLOSE_INTERNAL, "out of memory");
		return NULL;
	}
	return k;
}

/* Line mode: LF ends a line (a CR before it is dropped); MaxLineLength cuts.
 * After each DataIn the buffer is looked up again: the handler may have
 * changed MaxLineLength[id]. */
static void lines(struct rw_ws_ctx *x, const uint8_t *d, size_t n, bool eom)
{
	struct rw_ws_conn *wc = x->wc;
	struct rw_ws_cold *k = NULL;
	for (size_t i = 0; i < n && !halt(x); i++) {
		if (!k && !(k = line_buf(x)))
			return;
		if (d[i] == '\n') {
			size_t len = k->line_len;
			if (len && k->line[len - 1] == '\r')
				len--;
			k->line_len = 0;
			fire_data(x, 0, k->line, len, eom && i + 1 == n, true);
			k = NULL;
			continue;
		}
		k->line[k->line_len++] = d[i];
		if (k->line_len >= (uint32_t)wc->max_line) {
			k->line_len = 0;
			fire_data(x, 0, k->line, (size_t)wc->max_line, eom && i + 1 == n, false);
			k = NULL;
		}
	}
}

/* One piece of the message's (decompressed) payload. */
static int piece(struct rw_ws_ctx *x, const uint8_t *d, size_t n, bool eom)
{
	struct rw_ws_conn *wc = x->wc;
	if (wc->rx->opcode == RW_WS_OP_TEXT) {
		wc->rx->utf8 = rw_utf8_feed(wc->rx->utf8, d, n);
		if (wc->rx->utf8 == RW_UTF8_BAD || (eom && wc->rx->utf8 != RW_UTF8_OK)) {
			rw__ws_fail(wc, x->c, RW_WS_CLOSE_BAD_DATA, "text message is not valid UTF-8");
			return 1;
		}
	}
	if (wc->line_mode) {
		lines(x, d, n, eom);
	} else if (x->ws->set.buffer_message && eom && wc->rx->msg_len == 0) {
		/* A message that arrived in one piece goes out from where it lies
		 * (the receive buffer): no copy, no buffer. */
		fire_data(x, wc->rx->opcode, d, n, true, false);
	} else if (x->ws->set.buffer_message) {
		if (wc->rx->msg_len + n > wc->rx->msg_cap) {
			size_t cap = wc->rx->msg_cap ? wc->rx->msg_cap : 4096;
			while (cap < wc->rx->msg_len + n)
				cap *= 2;
			/* The frames declared so far, when moderate: a message that
			 * spans receive buffers is then copied once, not regrown. */
			uint64_t declared = wc->rx->fp.msg_len;
			if (!wc->rx->fp.msg_compressed && declared > cap && declared <= RW_WS_PRESIZE_MAX)
				cap = (size_t)declared;
			uint8_t *m = realloc(wc->rx->msg, cap);
			if (!m) {
				rw__ws_fail(wc, x->c, RW_WS_CLOSE_INTERNAL, "out of memory");
				return 1;
			}
			wc->rx->msg = m;
			wc->rx->msg_cap = cap;
		}
		if (n)
			memcpy(wc->rx->msg + wc->rx->msg_len, d, n);
		wc->rx->msg_len += n;
		if (eom) {
			/* The buffer leaves the connection with the message, so an idle
			 * connection holds none (it is taken first: the handler may
			 * make a nested turn that starts the next message). */
			struct rw_ws_rx *rx = wc->rx;
			uint8_t *m = rx->msg;
			size_t len = rx->msg_len;
			rx->msg = NULL;
			rx->msg_len = rx->msg_cap = 0;
			/* An echo (or forward) of the message adopts the buffer. */
			struct rw_loop *l = x->c->srv->loop;
			struct rw_lend prev = rw__lend_begin(l, m, len);
			fire_data(x, rx->opcode, m, len, true, false);
			if (!rw__lend_end(l, prev))
				free(m);
		}
	} else if (n || eom) {
		fire_data(x, wc->rx->started ? 0 : wc->rx->opcode, d, n, eom, false);
		wc->rx->started = true;
	}
	if (eom)
		rw__ws_rx_reset(x->ws, wc);
	return halt(x);
}

void rw__ws_inflate_put(struct rw_wsserver *ws, z_stream *z)
{
	if (ws->inflate_pool_n < RW_WS_INFLATE_POOL) {
		rw_pmd_inflate_reset(z);
		ws->inflate_pool[ws->inflate_pool_n++] = z;
		return;
	}
	rw_pmd_inflate_end(z);
	free(z);
}

static z_stream *inflate_get(struct rw_wsserver *ws)
{
	if (ws->inflate_pool_n)
		return ws->inflate_pool[--ws->inflate_pool_n];
	z_stream *z = malloc(sizeof(*z));
	if (z && rw_pmd_inflate_init(z) != RW_PMD_OK) {
		free(z);
		z = NULL;
	}
	return z;
}

/* The message ended: per-message state back to the start (the inflate
 * stream of a client without context takeover goes back to the pool). */
void rw__ws_rx_reset(struct rw_wsserver *ws, struct rw_ws_conn *wc)
{
	struct rw_ws_rx *rx = wc->rx;
	if (!rx)
		return;
	rx->started = false;
	rx->utf8 = RW_UTF8_OK;
	rx->total = 0;
	rx->opcode = 0;
	if (rx->inflater) {
		rw__ws_inflate_put(ws, rx->inflater);
		rx->inflater = NULL;
	}
}

struct rw_ws_rx *rw__ws_rx_get(struct rw_wsserver *ws, struct rw_ws_conn *wc)
{
	if (wc->rx)
		return wc->rx;
	struct rw_ws_rx *rx = ws->rx_pool;
	if (rx) {
		ws->rx_pool = rx->next;
		ws->rx_pool_n--;
	} else if (!(rx = malloc(sizeof(*rx)))) {
		return NULL;
	}
	memset(rx, 0, sizeof(*rx));
	rw_ws_parser_init(&rx->fp);
	rx->fp.max_message = ws->set.max_message;
	rx->fp.allow_rsv1 = wc->pmd;
	rx->utf8 = RW_UTF8_OK;
	wc->rx = rx;
	return rx;
}

/* Idle: at a frame boundary with no message open (nothing of the parser's
 * or the message's state is worth keeping). */
static bool rx_idle(const struct rw_ws_rx *rx)
{
	const rw_ws_parser *p = &rx->fp;
	return !p->_in_payload && p->_hdr_len == 0 && p->msg_opcode == 0 && !p->error && !rx->msg &&
	       !rx->started && rx->opcode == 0;
}

void rw__ws_rx_release(struct rw_wsserver *ws, struct rw_ws_conn *wc, bool force)
{
	struct rw_ws_rx *rx = wc->rx;
	if (!rx || (!force && !rx_idle(rx)))
		return;
	wc->rx = NULL;
	free(rx->msg);
	rx->msg = NULL;
	if (rx->inflater) {
		rw__ws_inflate_put(ws, rx->inflater);
		rx->inflater = NULL;
	}
	if (ws->rx_pool_n < RW_WS_RX_POOL && !ws->freeing) {
		rx->next = ws->rx_pool;
		ws->rx_pool = rx;
		ws->rx_pool_n++;
		return;
	}
	free(rx);
}

void rw__ws_rx_pool_free(struct rw_wsserver *ws)
{
	while (ws->rx_pool) {
		struct rw_ws_rx *rx = ws->rx_pool;
		ws->rx_pool = rx->next;
		free(rx);
	}
	ws->rx_pool_n = 0;
}

static int inflated(void *ctx, const uint8_t *d, size_t n, bool last)
{
	return piece(ctx, d, n, last);
}

static int on_data(void *ctx, const rw_ws_parser *p, const uint8_t *d, size_t n, bool frame_end)
{
	struct rw_ws_ctx *x = ctx;
	struct rw_ws_conn *wc = x->wc;
	if (wc->phase != WS_OPEN)
		return 0; /* after our Close, data is read and dropped */
	bool eom = frame_end && p->fin;
	if (!wc->rx->opcode)
		wc->rx->opcode = p->msg_opcode;
	if (!p->msg_compressed)
		return piece(x, d, n, eom);
	struct rw_wsserver *ws = x->ws;
	/* The stream lives with the message, or with the connection when the
	 * client keeps its context. */
	struct rw_ws_cold *k = wc->pmd_client_nct ? NULL : rw__ws_cold(wc);
	z_stream **zp = wc->pmd_client_nct ? &wc->rx->inflater : k ? &k->inflater : NULL;
	if (!zp || (!*zp && !(*zp = inflate_get(ws)))) {
		rw__ws_fail(wc, x->c, RW_WS_CLOSE_INTERNAL, "out of memory");
		return 1;
	}
	/* Output goes through a buffer on this frame's stack: a DataIn handler
	 * may make a blocking call whose nested loop turn inflates for another
	 * connection, so no buffer may be shared between connections here. */
	uint8_t scratch[RW_WS_SCRATCH];
	int rc = rw_pmd_inflate(*zp, d, n, eom, ws->set.max_message, &wc->rx->total, scratch,
	                        sizeof(scratch), inflated, x);
	if (rc == RW_PMD_TOO_BIG)
		rw__ws_fail(wc, x->c, RW_WS_CLOSE_TOO_BIG, "message larger than MaxMessageSize after inflating");
	else if (rc == RW_PMD_ERROR)
		rw__ws_fail(wc, x->c, RW_WS_CLOSE_BAD_DATA, "compressed message is not valid deflate data");
	else if (rc == RW_PMD_NOMEM)
		rw__ws_fail(wc, x->c, RW_WS_CLOSE_INTERNAL, "out of memory");
	return rc != RW_PMD_OK || halt(x);
}

static int on_control(void *ctx, int op, const uint8_t *d, size_t n)
{
	struct rw_ws_ctx *x = ctx;
	struct rw_ws_conn *wc = x->wc;
	struct rw_wsserver *ws = x->ws;
	struct rw_conn *c = x->c;
	if (op == RW_WS_OP_PING || op == RW_WS_OP_PONG) {
		if (wc->phase != WS_OPEN)
			return 0;
		bool pong = op == RW_WS_OP_PONG;
		if (!pong)
			rw__ws_control(c, RW_WS_OP_PONG, d, n);
		else if (wc->ping_waiting && n == 8 && wc->cold && memcmp(d, wc->cold->ping_payload, 8) == 0)
			wc->pong_seen = true;
		if (ws->ev.ping && !ws->freeing) {
			rw_wsserver_ping_event e = {c->id, d, n, pong};
			ws->ev.ping(ws, &e, ws->user);
		}
		return halt(x);
	}
	/* Close: unless the server closed first, Disconnected reports the
	 * client's code and reason. */
	wc->close_rcvd = true;
	if (!wc->server_closed_first) {
		wc->close_code = (int16_t)(n >= 2 ? (d[0] << 8 | d[1]) : RW_WS_CLOSE_NO_STATUS);
		size_t rn = n > 2 ? n - 2 : 0;
		struct rw_ws_cold *k = rn ? rw__ws_cold(wc) : wc->cold;
		if (k) {
			free(k->reason);
			k->reason = rn ? strndup((const char *)d + 2, rn) : NULL; /* NULL (also out of memory): "" */
		}
	}
	if (!wc->close_sent) {
		/* Echo the code (RFC 6455 §5.5.1), then the server closes TCP. */
		wc->close_sent = true;
		rw__ws_control(c, RW_WS_OP_CLOSE, d, n >= 2 ? 2 : 0);
	}
	wc->phase = WS_CLOSING;
	rw__conn_close(c, 0, "OK", false);
	return 1;
}

const rw_ws_parser_cbs rw__ws_frame_cbs = {on_data, on_control};
