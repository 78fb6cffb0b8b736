/* src/wsserver.c: WSServer's lifecycle and the bridge from the TCP engine's
 * events to WebSocket events: ConnectionRequest and the SSL events pass
 * through; the engine's Connected starts the opening handshake (the
 * WebSocket's own Connected fires after the 101); its ReadyToSend is passed on
 * only once the WebSocket is open; its Disconnected becomes a Disconnected
 * with the close code. */
#include "ws_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rw_ws_conn *rw__ws_conn(const struct rw_wsserver *ws, rw_connid id, struct rw_conn **cp)
{
	struct rw_conn *c = ws ? rw__conn_find(ws->tcp, id) : NULL;
	if (cp)
		*cp = c;
	return c ? rw__ws_state(c) : NULL;
}

void rw__ws_log(struct rw_wsserver *ws, int level, const char *fmt, ...)
{
	if (!ws->ev.log || level > ws->tcp->set.log_level || ws->freeing)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ws->ev.log(ws, level, msg, ws->user);
}

/* ---- the engine's events -------------------------------------------------- */

static void on_request(rw_tcpserver *t, rw_tcpserver_connection_request *e, void *u)
{
	struct rw_wsserver *ws = u;
	(void)t;
	if (ws->ev.connection_request && !ws->freeing)
		ws->ev.connection_request(ws, e, ws->user);
}

static void on_connected(rw_tcpserver *t, const rw_tcpserver_connected *e, void *u)
{
	struct rw_wsserver *ws = u;
	struct rw_conn *c = rw__conn_find(t, e->connection_id);
	if (!c)
		return;
	if (e->status_code != 0) {
		/* A failed TLS handshake: Error, then (from the engine) Disconnected. */
		if (ws->ev.error && !ws->freeing) {
			rw_wsserver_error er = {e->connection_id, e->status_code, e->description};
			ws->ev.error(ws, &er, ws->user);
		}
		return;
	}
	struct rw_ws_conn *wc = rw__conn_layer(c); /* zeroed by the engine */
	struct rw_ws_cold *k = calloc(1, sizeof(*k));
	rw_ws_handshake *hs = calloc(1, sizeof(*hs));
	if (!k || !hs) {
		free(k);
		free(hs);
		rw__conn_close(c, RW_ENOMEM, rw_strerror(RW_ENOMEM), true);
		return;
	}
	wc->phase = WS_HANDSHAKE;
	wc->exposed = c->tls != NULL; /* the SSL events carried the id */
	rw_ws_handshake_init(hs);
	hs->max_head = (size_t)ws->set.max_head;
	k->hs = hs;
	wc->cold = k;
	/* The handshake deadline is the engine's idle timeout, measured from
	 * now: input during the handshake does not count as activity (see
	 * rw__ws_input), so a slow client cannot stretch it. */
	int secs = t->set.default_connection_timeout > 0 ? t->set.default_connection_timeout : 30;
	c->last_active = t->loop->now_ms;
	k->phase_start = c->last_active;
	c->idle_timeout = secs;
	wc->max_line = ws->set.max_line;
	/* The close frame or HTTP response must reach the peer before the TCP
	 * close: WSServer connections always close gracefully. */
	c->flags |= RW_C_LINGER;
}

static void on_ready(rw_tcpserver *t, const rw_tcpserver_ready_to_send *e, void *u)
{
	struct rw_wsserver *ws = u;
	struct rw_conn *c;
	struct rw_ws_conn *wc = rw__ws_conn(ws, e->connection_id, &c);
	(void)t;
	/* Before the 101 this is the engine's own "connected" ReadyToSend. */
	if (!wc || wc->phase != WS_OPEN || !ws->ev.ready_to_send || ws->freeing)
		return;
	rw_wsserver_ready_to_send r = {e->connection_id};
	ws->ev.ready_to_send(ws, &r, ws->user);
}

static void on_disconnected(rw_tcpserver *t, const rw_tcpserver_disconnected *e, void *u)
{
	struct rw_wsserver *ws = u;
	struct rw_conn *c = rw__conn_find(t, e->connection_id);
	struct rw_ws_conn *wc = c ? rw__ws_state(c) : NULL;
	bool exposed = (c && c->tls) || (wc && wc->exposed);
	int code = RW_WS_CLOSE_ABNORMAL;
	const char *desc = e->status_code ? e->description : "Connection closed without a Close frame";
	const struct rw_ws_cold *k = wc ? wc->cold : NULL;
	if (wc && wc->server_closed_first) {
		code = wc->close_code;
		desc = k && k->fail_text ? k->fail_text : k && k->reason ? k->reason : "";
	} else if (wc && wc->close_rcvd) {
		code = wc->close_code;
		desc = k && k->reason ? k->reason : "";
	} else if (k && k->fail_text) {
		desc = k->fail_text;
	} else if (wc && wc->phase == WS_HANDSHAKE && e->status_code == RW_ETIMEDOUT) {
		desc = "WebSocket handshake timed out";
	}
	if (wc && wc->counted)
		ws->open_count--;
	if (exposed && ws->ev.disconnected && !ws->freeing) {
		rw_wsserver_disconnected d = {e->connection_id, code, desc};
		ws->ev.disconnected(ws, &d, ws->user);
	}
	if (wc) {
		wc->phase = WS_DONE;
		if (wc->busy) {
			wc->zombie = true; /* the input frame below us frees it */
		} else {
			rw__ws_conn_free(c, wc);
		}
	}
}

static void on_error(rw_tcpserver *t, const rw_tcpserver_error *e, void *u)
{
	struct rw_wsserver *ws = u;
	(void)t;
	if (ws->ev.error && !ws->freeing)
		ws->ev.error(ws, e, ws->user);
}

static void on_ssl_auth(rw_tcpserver *t, rw_tcpserver_ssl_client_authentication *e, void *u)
{
	struct rw_wsserver *ws = u;
	(void)t;
	if (ws->ev.ssl_client_authentication && !ws->freeing)
		ws->ev.ssl_client_authentication(ws, e, ws->user);
}

static void on_ssl_status(rw_tcpserver *t, const rw_tcpserver_ssl_status *e, void *u)
{
	struct rw_wsserver *ws = u;
	(void)t;
	if (ws->ev.ssl_status && !ws->freeing)
		ws->ev.ssl_status(ws, e, ws->user);
}

static void on_log(rw_tcpserver *t, int level, const char *message, void *u)
{
	struct rw_wsserver *ws = u;
	(void)t;
	if (ws->ev.log && !ws->freeing)
		ws->ev.log(ws, level, message, ws->user);
}

static const rw_tcpserver_events bridge = {
	.connection_request = on_request,
	.connected = on_connected,
	.disconnected = on_disconnected,
	.ready_to_send = on_ready,
	.error = on_error,
	.ssl_client_authentication = on_ssl_auth,
	.ssl_status = on_ssl_status,
	.log = on_log,
};

/* ---- lifecycle ------------------------------------------------------------ */

static rw_wsserver *ws_new(rw_loop *loop)
{
	struct rw_wsserver *ws = calloc(1, sizeof(*ws));
	if (!ws)
		return NULL;
	ws->tcp = loop ? rw_tcpserver_new_on_loop(loop) : rw_tcpserver_new();
	if (!ws->tcp) {
		free(ws);
		return NULL;
	}
	ws->tcp->input = rw__ws_input;
	ws->tcp->layer = ws;
	ws->tcp->layer_size = sizeof(struct rw_ws_conn);
	ws->tcp->worker_kind = &rw__ws_worker_kind;
	ws->tcp->set.linger = true;
	rw_tcpserver_set_events(ws->tcp, &bridge, ws);
	struct rw_ws_settings *st = &ws->set;
	st->max_message = 16u << 20;
	st->max_frame = 131072;
	st->disconnect_code = 1000;
	st->wait_close = true;
	st->pmd_enable = true;
	st->pmd_level = 1;
	st->max_line = 2048;
	st->max_head = RW_WS_HEAD_MAX_DEFAULT;
	st->pmd_window_bits = 15;
	return ws;
}

RW_API rw_wsserver *rw_wsserver_new(void)
{
	return ws_new(NULL);
}

RW_API rw_wsserver *rw_wsserver_new_on_loop(rw_loop *loop)
{
	return loop ? ws_new(loop) : NULL;
}

RW_API void rw_wsserver_free(rw_wsserver *ws)
{
	if (!ws)
		return;
	ws->freeing = true;
	/* The engine closes every connection without events, so the layer
	 * state goes first; input arriving while it drains finds no layer and
	 * is dropped. free is never called from inside an event, so no input
	 * frame holds a layer now. */
	for (struct rw_conn *c = ws->tcp->live_head; c; c = c->live_next) {
		struct rw_ws_conn *wc = rw__ws_state(c);
		if (wc)
			rw__ws_conn_free(c, wc);
	}
	rw_tcpserver_free(ws->tcp);
	for (int i = 0; i < 16; i++)
		if (ws->deflaters[i]) {
			rw_pmd_deflate_end(ws->deflaters[i]);
			free(ws->deflaters[i]);
		}
	for (int i = 0; i < ws->inflate_pool_n; i++) {
		rw_pmd_inflate_end(ws->inflate_pool[i]);
		free(ws->inflate_pool[i]);
	}
	rw__ws_rx_pool_free(ws);
	rw__ws_meta_put(ws->last_meta);
	free(ws->zbuf.d);
	free(ws->set.disconnect_desc);
	free(ws);
}

RW_API void rw_wsserver_set_events(rw_wsserver *ws, const rw_wsserver_events *events, void *user)
{
	if (!ws)
		return;
	if (events)
		ws->ev = *events;
	else
		memset(&ws->ev, 0, sizeof(ws->ev));
	ws->user = user;
}

RW_API rw_tcpserver *rw_wsserver_get_tcpserver(rw_wsserver *ws)
{
	return ws ? ws->tcp : NULL;
}

RW_API rw_loop *rw_wsserver_get_loop(rw_wsserver *ws)
{
	return ws ? ws->tcp->loop : NULL;
}

RW_API int rw_wsserver_start_listening(rw_wsserver *ws)
{
	return ws ? rw_tcpserver_start_listening(ws->tcp) : -RW_EINVAL;
}

RW_API int rw_wsserver_stop_listening(rw_wsserver *ws)
{
	return ws ? rw_tcpserver_stop_listening(ws->tcp) : -RW_EINVAL;
}

RW_API int rw_wsserver_shutdown(rw_wsserver *ws)
{
	if (!ws)
		return -RW_EINVAL;
	if (ws->tcp->workers)
		return rw__workers_shutdown(ws->tcp); /* each worker's WSServer shutdown */
	rw_tcpserver_stop_listening(ws->tcp);
	for (struct rw_conn *c = ws->tcp->live_head; c; c = c->live_next) {
		struct rw_ws_conn *wc = rw__ws_state(c);
		if (c->flags & RW_C_CLOSING)
			continue;
		if (wc && wc->phase == WS_OPEN)
			rw__ws_close(wc, c, ws->set.disconnect_code, ws->set.disconnect_desc, ws->set.wait_close);
		else
			rw__conn_close(c, 0, "Shut down", false);
	}
	return 0;
}

RW_API int rw_wsserver_do_events(rw_wsserver *ws)
{
	if (!ws)
		return -RW_EINVAL;
	if (ws->tcp->workers)
		return rw__workers_do_events(ws->tcp);
	if (!ws->tcp->loop)
		return -RW_EBAD_STATE;
	return rw__loop_turn(ws->tcp->loop, ws->tcp->set.do_events_timeout);
}

RW_API int rw_wsserver_run(rw_wsserver *ws)
{
	if (!ws)
		return -RW_EINVAL;
	if (ws->tcp->workers)
		return rw__workers_run(ws->tcp);
	if (!ws->tcp->loop)
		return -RW_EBAD_STATE;
	while (ws->tcp->listening || ws->tcp->open_count > 0) {
		int rc = rw_wsserver_do_events(ws);
		if (rc < 0)
			return rc;
	}
	return 0;
}
