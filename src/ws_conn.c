/* src/ws_conn.c: a WebSocket connection's opening handshake, its input path
 * (received plaintext, from the engine, in place of the framer) and its close
 * handshake. Input is consumed up to the point where the connection was
 * paused or closed; the engine keeps the rest (held bytes) and feeds it again
 * after AcceptData is turned back on. */
#include "ws_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- the cold part ----------------------------------------------------------- */

struct rw_ws_cold *rw__ws_cold(struct rw_ws_conn *wc)
{
	if (!wc->cold)
		wc->cold = calloc(1, sizeof(*wc->cold));
	return wc->cold;
}

void rw__ws_cold_trim(struct rw_ws_conn *wc)
{
	struct rw_ws_cold *k = wc->cold;
	/* While input is processed, callers up the stack may hold k. */
	if (!k || wc->busy || wc->phase != WS_OPEN)
		return;
	if (k->hs || k->message_length || k->deflater || k->inflater || (k->line && wc->line_mode) || k->reason ||
	    k->fail_text || wc->ping_waiting)
		return;
	free(k->line);
	free(k);
	wc->cold = NULL;
}

void rw__ws_conn_free(struct rw_conn *c, struct rw_ws_conn *wc)
{
	struct rw_wsserver *ws = rw__ws_of(c);
	struct rw_ws_cold *k = wc->cold;
	if (k) {
		if (k->hs) {
			rw_ws_handshake_free(k->hs);
			free(k->hs);
		}
		if (k->inflater)
			rw__ws_inflate_put(ws, k->inflater);
		if (k->deflater) {
			rw_pmd_deflate_end(k->deflater);
			free(k->deflater);
		}
		free(k->reason);
		free(k->line);
		free(k);
	}
	rw__ws_meta_put(wc->meta);
	rw__ws_rx_release(ws, wc, true);
	memset(wc, 0, sizeof(*wc));
}

/* The standard reason text of a close code (spec: DisconnectStatusDescription). */
static const char *close_text(int code)
{
	switch (code) {
	case 1000: return "Normal closure.";
	case 1001: return "Going away.";
	case 1002: return "Protocol error.";
	case 1003: return "Unsupported data type.";
	case 1007: return "Invalid payload data.";
	case 1008: return "Policy violation.";
	case 1009: return "Message too big.";
	case 1010: return "Required extension missing.";
	case 1011: return "Unexpected condition.";
	default: return "";
	}
}

/* Send a Close frame (once) and, unless waiting for the client's answer,
 * close the TCP connection once the queue has drained. Short of memory, the
 * Close still goes out with its code and reason; only Disconnected's text
 * falls back to "" and the wait for the client's Close is skipped. */
int rw__ws_close(struct rw_ws_conn *wc, struct rw_conn *c, int code, const char *reason, bool wait)
{
	if (!wc->close_sent) {
		if (!reason || !*reason)
			reason = close_text(code);
		size_t n = strlen(reason);
		if (n > 123)
			n = rw_utf8_boundary((const uint8_t *)reason, 123);
		uint8_t body[125];
		body[0] = (uint8_t)(code >> 8);
		body[1] = (uint8_t)code;
		memcpy(body + 2, reason, n);
		wc->close_sent = true;
		if (!wc->close_rcvd) {
			/* Disconnected reports our code and reason. */
			wc->server_closed_first = true;
			wc->close_code = (int16_t)code;
			struct rw_ws_cold *k = rw__ws_cold(wc);
			if (k) {
				free(k->reason);
				k->reason = strndup(reason, n); /* NULL (also out of memory): "" */
			}
		}
		rw__ws_control(c, RW_WS_OP_CLOSE, body, n + 2);
	}
	if (wc->phase == WS_OPEN)
		wc->phase = WS_CLOSING;
	struct rw_ws_cold *k = wait ? rw__ws_cold(wc) : NULL;
	if (!k) {
		rw__conn_close(c, 0, "OK", false);
	} else {
		/* Bounded wait for the client's Close (D-12). */
		c->idle_timeout = c->timeout > 0 ? c->timeout : RW_WS_CLOSE_WAIT_S;
		c->last_active = c->srv->loop->now_ms;
		k->phase_start = c->last_active;
	}
	return 0;
}

/* A protocol violation (or an internal failure): Close with `code`, then
 * close without waiting long for the answer (RFC 6455 §7.1.7). */
void rw__ws_fail(struct rw_ws_conn *wc, struct rw_conn *c, int code, const char *why)
{
	if (c->flags & RW_C_CLOSING)
		return;
	rw__ws_log(rw__ws_of(c), RW_LOG_INFO, "connection %lld: closing with %d: %s", (long long)c->id, code, why);
	if (!wc->close_sent && rw__ws_cold(wc))
		wc->cold->fail_text = why;
	rw__ws_close(wc, c, code, why, false);
}

/* ---- opening handshake ---------------------------------------------------- */

static void reject(struct rw_ws_conn *wc, struct rw_conn *c, int status, const char *headers, const char *why)
{
	size_t n;
	char *resp = rw_ws_response_error(status, headers, &n);
	if (resp) {
		rw__ws_out(c, (const uint8_t *)resp, n);
		free(resp);
	}
	wc->phase = WS_DONE;
	wc->cold->fail_text = why; /* the handshake's cold part is still there */
	rw__conn_close(c, 0, why, false);
}

/* Whether `pick` is a single token the client offered. */
static bool offered_token(const char *offers, const char *pick)
{
	if (!pick || !*pick || strchr(pick, ',') || strchr(pick, ' '))
		return false;
	return rw_ws_list_has(offers, pick);
}

static void open_request(struct rw_ws_conn *wc, struct rw_conn *c)
{
	struct rw_wsserver *ws = rw__ws_of(c);
	rw_ws_request *r = &wc->cold->hs->req;
	rw_pmd_params pp;
	bool pmd = ws->set.pmd_enable && rw_pmd_negotiate(r->extensions, ws->set.pmd_takeover, &pp);
	rw_wsserver_websocket_open_request e = {
		c->id, r->request_uri, r->path, r->query, r->host, r->origin,
		r->protocols, r->extensions, r->headers, 101, "",
	};
	wc->exposed = true;
	if (ws->ev.websocket_open_request && !ws->freeing)
		ws->ev.websocket_open_request(ws, &e, ws->user);
	if (c->flags & RW_C_CLOSING)
		return; /* the handler disconnected it */
	if (e.status_code != 101) {
		reject(wc, c, e.status_code, e.response_headers, "WebSocket handshake rejected by the application");
		return;
	}
	const char *pick = offered_token(r->protocols, e.subprotocols) ? e.subprotocols : NULL;
	if (e.subprotocols && *e.subprotocols && !pick && *r->protocols)
		rw__ws_log(ws, RW_LOG_WARN, "connection %lld: subprotocol \"%s\" was not offered; none selected",
		           (long long)c->id, e.subprotocols);
	char ext[160] = "";
	if (pmd)
		rw_pmd_response(&pp, ext, sizeof(ext));
	size_t n;
	char *resp = rw_ws_response_101(r->key, pick, ext, e.response_headers, &n);
	struct rw_ws_meta *meta = NULL;
	if (!resp || !rw__ws_meta_make(ws, r, pick, &meta)) {
		free(resp);
		rw__conn_close(c, RW_ENOMEM, rw_strerror(RW_ENOMEM), true);
		return;
	}
	rw__ws_out(c, (const uint8_t *)resp, n);
	free(resp);
	/* Keep what the properties need, drop the rest of the handshake. */
	wc->meta = meta;
	rw_ws_handshake_free(wc->cold->hs);
	free(wc->cold->hs);
	wc->cold->hs = NULL;
	wc->pmd = pmd;
	if (pmd) {
		wc->pmd_server_nct = pp.server_no_context_takeover;
		wc->pmd_client_nct = pp.client_no_context_takeover;
		wc->pmd_bits = (uint8_t)pp.server_max_window_bits;
	}
	wc->phase = WS_OPEN;
	rw__ws_cold_trim(wc);
	c->idle_timeout = 0; /* WebSocket connections have no idle timeout */
	wc->counted = true;
	ws->open_count++;
	if (ws->ev.connected && !ws->freeing) {
		rw_wsserver_connected ce = {c->id};
		ws->ev.connected(ws, &ce, ws->user);
	}
	if (!(c->flags & RW_C_CLOSING) && wc->phase == WS_OPEN && ws->ev.ready_to_send && !ws->freeing) {
		rw_wsserver_ready_to_send re = {c->id};
		ws->ev.ready_to_send(ws, &re, ws->user);
	}
}

/* Returns the bytes of `data` the handshake consumed (the rest are frames). */
static size_t handshake_input(struct rw_ws_conn *wc, struct rw_conn *c, const uint8_t *data, size_t len)
{
	size_t used;
	rw_ws_handshake *hs = wc->cold->hs;
	int rc = rw_ws_handshake_feed(hs, data, len, &used);
	if (rc == RW_WS_HS_MORE)
		return len;
	if (rc == RW_WS_HS_ERROR) {
		rw__ws_log(rw__ws_of(c), RW_LOG_INFO, "connection %lld: bad upgrade request (%d): %s", (long long)c->id,
		           hs->status, hs->error_text);
		reject(wc, c, hs->status, NULL, hs->error_text);
		return len;
	}
	open_request(wc, c);
	return used;
}

/* ---- input ------------------------------------------------------------------ */

static bool stopped(const struct rw_conn *c, const struct rw_ws_conn *wc)
{
	return (c->flags & (RW_C_CLOSING | RW_C_PAUSED)) || wc->zombie;
}

ssize_t rw__ws_input(struct rw_conn *c, uint8_t *data, size_t len)
{
	struct rw_ws_conn *wc = rw__ws_state(c);
	if (!wc || wc->phase == WS_DONE)
		return (ssize_t)len; /* nothing more is wanted from this peer */
	wc->busy++;
	c->flags |= RW_C_IN_DATAIN; /* a nested loop turn holds this connection's bytes */
	if (wc->phase != WS_OPEN && wc->cold)
		c->last_active = wc->cold->phase_start; /* not activity: the deadline holds */
	size_t at = 0;
	if (wc->phase == WS_HANDSHAKE)
		at = handshake_input(wc, c, data, len);
	struct rw_ws_ctx ctx = {rw__ws_of(c), wc, c};
	while (at < len && (wc->phase == WS_OPEN || wc->phase == WS_CLOSING) && !stopped(c, wc)) {
		struct rw_ws_rx *rx = rw__ws_rx_get(ctx.ws, wc);
		if (!rx) {
			rw__ws_fail(wc, c, RW_WS_CLOSE_INTERNAL, "out of memory");
			at = len;
			break;
		}
		ssize_t n = rw_ws_parse(&rx->fp, data + at, len - at, &rw__ws_frame_cbs, &ctx);
		if (n < 0) {
			rw__ws_fail(wc, c, rx->fp.error, rx->fp.error_text);
			at = len;
			break;
		}
		at += (size_t)n;
	}
	/* An idle connection keeps no receive state. */
	rw__ws_rx_release(ctx.ws, wc, false);
	if (wc->phase == WS_DONE || (c->flags & RW_C_CLOSING))
		at = len;
	c->flags &= ~RW_C_IN_DATAIN;
	if (--wc->busy == 0 && wc->zombie) {
		rw__ws_conn_free(c, wc);
	} else if (wc->cold) {
		rw__ws_cold_trim(wc); /* e.g. line mode was turned off in DataIn */
	}
	return (ssize_t)at;
}
