/* src/wsserver_props.c: WSServer's properties. Server-wide and TCP-level
 * ones are the engine's; the WebSocket ones live in the connection's layer
 * state. */
#include "ws_internal.h"

#include <string.h>

static int copy_out(const char *v, char *buf, size_t len)
{
	size_t n = strlen(v ? v : "");
	if (!buf || n + 1 > len)
		return -RW_EBUFFER_TOO_SMALL;
	memcpy(buf, v ? v : "", n + 1);
	return (int)n;
}

/* The layer state of a connection, for reads: also during the handshake. */
static struct rw_ws_conn *conn_of(const rw_wsserver *ws, rw_connid id)
{
	return ws ? rw__ws_conn(ws, id, NULL) : NULL;
}

RW_API int rw_wsserver_get_connection_backlog(const rw_wsserver *ws)
{
	return ws ? rw_tcpserver_get_connection_backlog(ws->tcp) : -RW_EINVAL;
}

RW_API int rw_wsserver_set_connection_backlog(rw_wsserver *ws, int backlog)
{
	return ws ? rw_tcpserver_set_connection_backlog(ws->tcp, backlog) : -RW_EINVAL;
}

RW_API int rw_wsserver_get_default_timeout(const rw_wsserver *ws)
{
	return ws ? rw_tcpserver_get_default_timeout(ws->tcp) : -RW_EINVAL;
}

RW_API int rw_wsserver_set_default_timeout(rw_wsserver *ws, int seconds)
{
	return ws ? rw_tcpserver_set_default_timeout(ws->tcp, seconds) : -RW_EINVAL;
}

RW_API bool rw_wsserver_get_listening(const rw_wsserver *ws)
{
	return ws && rw_tcpserver_get_listening(ws->tcp);
}

RW_API int rw_wsserver_get_local_host(const rw_wsserver *ws, char *buf, size_t len)
{
	return ws ? rw_tcpserver_get_local_host(ws->tcp, buf, len) : -RW_EINVAL;
}

RW_API int rw_wsserver_set_local_host(rw_wsserver *ws, const char *host)
{
	return ws ? rw_tcpserver_set_local_host(ws->tcp, host) : -RW_EINVAL;
}

RW_API int rw_wsserver_get_local_port(const rw_wsserver *ws)
{
	return ws ? rw_tcpserver_get_local_port(ws->tcp) : -RW_EINVAL;
}

RW_API int rw_wsserver_set_local_port(rw_wsserver *ws, int port)
{
	return ws ? rw_tcpserver_set_local_port(ws->tcp, port) : -RW_EINVAL;
}

RW_API bool rw_wsserver_get_use_ssl(const rw_wsserver *ws)
{
	return ws && rw_tcpserver_get_ssl_enabled(ws->tcp);
}

RW_API int rw_wsserver_set_use_ssl(rw_wsserver *ws, bool on)
{
	if (!ws)
		return -RW_EINVAL;
	return rw_tcpserver_set_ssl_start_mode(ws->tcp, on ? RW_SSL_START_IMPLICIT : RW_SSL_START_NONE);
}

RW_API int rw_wsserver_get_connection_count(const rw_wsserver *ws)
{
	if (ws && ws->tcp->workers)
		return rw__ws_workers_count(ws);
	return ws ? ws->open_count : -RW_EINVAL;
}

RW_API int rw_wsserver_get_connection_ids(const rw_wsserver *ws, rw_connid *ids, size_t max)
{
	if (!ws || (max && !ids))
		return -RW_EINVAL;
	if (ws->tcp->workers)
		return rw__ws_workers_ids(ws, ids, max); /* worker by worker */
	int n = 0;
	for (struct rw_conn *c = ws->tcp->live_head; c; c = c->live_next) {
		const struct rw_ws_conn *wc = rw__ws_state(c);
		if (!wc || !wc->counted || wc->phase == WS_DONE)
			continue;
		if ((size_t)n < max)
			ids[n] = c->id;
		n++;
	}
	return n;
}

RW_API int rw_wsserver_get_accept_data(const rw_wsserver *ws, rw_connid id)
{
	RW_WS_ROUTE(ws, id);
	return ws ? rw_tcpserver_get_accept_data(ws->tcp, id) : -RW_EINVAL;
}

RW_API int rw_wsserver_set_accept_data(rw_wsserver *ws, rw_connid id, bool on)
{
	RW_WS_ROUTE(ws, id);
	return ws ? rw_tcpserver_set_accept_data(ws->tcp, id, on) : -RW_EINVAL;
}

RW_API int64_t rw_wsserver_get_bytes_sent(const rw_wsserver *ws, rw_connid id)
{
	RW_WS_ROUTE(ws, id);
	return ws ? rw_tcpserver_get_bytes_sent(ws->tcp, id) : -RW_EINVAL;
}

RW_API int rw_wsserver_get_connected(const rw_wsserver *ws, rw_connid id)
{
	RW_WS_ROUTE(ws, id);
	struct rw_conn *c;
	struct rw_ws_conn *wc = ws ? rw__ws_conn(ws, id, &c) : NULL;
	if (!ws || !c)
		return ws ? -RW_EINVALID_CONNID : -RW_EINVAL;
	return wc && wc->phase == WS_OPEN && !(c->flags & RW_C_CLOSING);
}

RW_API int rw_wsserver_set_connected(rw_wsserver *ws, rw_connid id, bool on)
{
	RW_WS_ROUTE(ws, id);
	if (on)
		return rw_wsserver_get_connected(ws, id) == 1 ? 0 : -RW_EBAD_VALUE;
	return rw_wsserver_disconnect(ws, id);
}

RW_API int rw_wsserver_get_data_format(const rw_wsserver *ws, rw_connid id)
{
	RW_WS_ROUTE(ws, id);
	struct rw_ws_conn *wc = conn_of(ws, id);
	return wc ? wc->data_format : -RW_EINVALID_CONNID;
}

RW_API int rw_wsserver_set_data_format(rw_wsserver *ws, rw_connid id, int format)
{
	RW_WS_ROUTE(ws, id);
	struct rw_ws_conn *wc = conn_of(ws, id);
	if (!wc)
		return -RW_EINVALID_CONNID;
	if (format != 0 && format != 1 && format != 2 && format != 9 && format != 10)
		return -RW_EBAD_VALUE;
	wc->data_format = format;
	return 0;
}

/* During the handshake the values are still in the parsed request. */
#define STR_GETTER(fn, reqfield, k)                                                    \
	RW_API int rw_wsserver_get_##fn(const rw_wsserver *ws, rw_connid id, char *buf, size_t len) \
	{                                                                                  \
		RW_WS_ROUTE(ws, id);                                                           \
		struct rw_ws_conn *wc = conn_of(ws, id);                                       \
		if (!wc)                                                                       \
			return -RW_EINVALID_CONNID;                                                \
		const rw_ws_handshake *hs = wc->cold ? wc->cold->hs : NULL;                  \
		return copy_out(hs ? hs->req.reqfield : rw__ws_meta_field(wc->meta, k), buf, len);         \
	}

STR_GETTER(request_uri, request_uri, 0)
STR_GETTER(host, host, 1)
STR_GETTER(origin, origin, 2)
STR_GETTER(subprotocols, protocols, 3)
STR_GETTER(request_headers, headers, 5)

RW_API int rw_wsserver_get_selected_subprotocol(const rw_wsserver *ws, rw_connid id, char *buf, size_t len)
{
	RW_WS_ROUTE(ws, id);
	struct rw_ws_conn *wc = conn_of(ws, id);
	return wc ? copy_out(wc->cold && wc->cold->hs ? "" : rw__ws_meta_field(wc->meta, 4), buf, len) : -RW_EINVALID_CONNID;
}

RW_API int rw_wsserver_get_compressed(const rw_wsserver *ws, rw_connid id)
{
	RW_WS_ROUTE(ws, id);
	struct rw_ws_conn *wc = conn_of(ws, id);
	return wc ? wc->pmd : -RW_EINVALID_CONNID;
}

RW_API int rw_wsserver_get_line_mode(const rw_wsserver *ws, rw_connid id)
{
	RW_WS_ROUTE(ws, id);
	struct rw_ws_conn *wc = conn_of(ws, id);
	return wc ? wc->line_mode : -RW_EINVALID_CONNID;
}

RW_API int rw_wsserver_change_line_mode(rw_wsserver *ws, rw_connid id, bool on)
{
	RW_WS_ROUTE(ws, id);
	struct rw_ws_conn *wc = conn_of(ws, id);
	if (!wc)
		return -RW_EINVALID_CONNID;
	wc->line_mode = on;
	if (wc->cold) {
		wc->cold->line_len = 0;
		rw__ws_cold_trim(wc); /* off: the line buffer goes */
	}
	return 0;
}

RW_API int rw_wsserver_get_local_address(const rw_wsserver *ws, rw_connid id, char *buf, size_t len)
{
	RW_WS_ROUTE(ws, id);
	return ws ? rw_tcpserver_get_local_address(ws->tcp, id, buf, len) : -RW_EINVAL;
}

RW_API int rw_wsserver_get_ready_to_send(const rw_wsserver *ws, rw_connid id)
{
	RW_WS_ROUTE(ws, id);
	return ws ? rw_tcpserver_get_ready_to_send(ws->tcp, id) : -RW_EINVAL;
}

RW_API int rw_wsserver_get_remote_host(const rw_wsserver *ws, rw_connid id, char *buf, size_t len)
{
	RW_WS_ROUTE(ws, id);
	return ws ? rw_tcpserver_get_remote_host(ws->tcp, id, buf, len) : -RW_EINVAL;
}

RW_API int rw_wsserver_get_remote_port(const rw_wsserver *ws, rw_connid id)
{
	RW_WS_ROUTE(ws, id);
	return ws ? rw_tcpserver_get_remote_port(ws->tcp, id) : -RW_EINVAL;
}

RW_API int rw_wsserver_get_timeout(const rw_wsserver *ws, rw_connid id)
{
	RW_WS_ROUTE(ws, id);
	return ws ? rw_tcpserver_get_timeout(ws->tcp, id) : -RW_EINVAL;
}

RW_API int rw_wsserver_set_timeout(rw_wsserver *ws, rw_connid id, int seconds)
{
	RW_WS_ROUTE(ws, id);
	return ws ? rw_tcpserver_set_timeout(ws->tcp, id, seconds) : -RW_EINVAL;
}

RW_API int rw_wsserver_interrupt(rw_wsserver *ws, rw_connid id)
{
	RW_WS_ROUTE(ws, id);
	return ws ? rw_tcpserver_interrupt(ws->tcp, id) : -RW_EINVAL;
}

RW_API int rw_wsserver_disconnect_with(rw_wsserver *ws, rw_connid id, int code, const char *reason)
{
	RW_WS_ROUTE(ws, id);
	if (!ws)
		return -RW_EINVAL;
	struct rw_conn *c;
	struct rw_ws_conn *wc = rw__ws_conn(ws, id, &c);
	if (!c)
		return -RW_EINVALID_CONNID;
	if (!rw_ws_close_code_sendable(code) || (reason && !rw_utf8_valid((const uint8_t *)reason, strlen(reason))))
		return -RW_EBAD_VALUE; /* a client would fail the connection with 1007 */
	if (c->flags & RW_C_CLOSING)
		return 0;
	if (!wc || wc->phase != WS_OPEN) {
		/* No WebSocket yet: there is nothing to close but TCP. */
		if (wc && rw__ws_cold(wc))
			wc->cold->fail_text = "Disconnected before the WebSocket opened";
		rw__conn_close(c, 0, "Disconnected", false);
		return 0;
	}
	return rw__ws_close(wc, c, code, reason, ws->set.wait_close);
}

RW_API int rw_wsserver_disconnect(rw_wsserver *ws, rw_connid id)
{
	RW_WS_ROUTE(ws, id);
	if (!ws)
		return -RW_EINVAL;
	return rw_wsserver_disconnect_with(ws, id, ws->set.disconnect_code, ws->set.disconnect_desc);
}
