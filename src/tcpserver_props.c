/* src/tcpserver_props.c: TCPServer's properties, server-wide and per
 * connection (getters and setters of the documented names), plus PauseData,
 * ProcessData, ChangeRecordLength, Disconnect and Interrupt, which are
 * property changes in all but name. */
#include "internal.h"
#include "workers.h"

#include <stdlib.h>
#include <string.h>

/* RW_ROUTE: with Workers > 1, `s` becomes the connection's worker and stays
 * locked for the rest of the call (workers.h). */
#define CONN_OR_FAIL(s, id)                         \
	RW_ROUTE(s, id);                            \
	struct rw_conn *c = rw__conn_find((s), (id)); \
	if (!c)                                     \
		return -RW_EINVALID_CONNID

/* The framer to change: the extension's, made on first need (raw mode
 * without one). The extension is trimmed again once it is back to raw mode
 * (after the next input), so a setter only allocates. */
static rw_framer *framer_of(struct rw_conn *c)
{
	struct rw_conn_ext *x = rw__conn_ext(c);
	return x ? &x->framer : NULL;
}

static int copy_str(const char *v, char *buf, size_t len)
{
	size_t n = strlen(v);
	if (!buf || n + 1 > len)
		return -RW_EBUFFER_TOO_SMALL;
	memcpy(buf, v, n + 1);
	return (int)n;
}

/* ---- server-wide ---------------------------------------------------------- */
RW_API int rw_tcpserver_get_connection_backlog(const rw_tcpserver *s) { return s->set.backlog; }
RW_API int rw_tcpserver_set_connection_backlog(rw_tcpserver *s, int backlog)
{
	if (backlog < 0)
		return -RW_EBAD_VALUE;
	s->set.backlog = backlog;
	if (!s->workers)
		return rw__listener_set_backlog(s);
	for (unsigned i = 0; i < rw__workers_count(s->workers); i++) {
		struct rw_route r = {0};
		struct rw_tcpserver *w = rw__worker_lock(s->workers, i, &r);
		w->set.backlog = backlog;
		int rc = rw__listener_set_backlog(w);
		rw__route_end(&r);
		if (rc < 0)
			return rc;
	}
	return 0;
}

RW_API int rw_tcpserver_get_default_eol(const rw_tcpserver *s, uint8_t *buf, size_t len)
{
	size_t n = s->set.default_eol_len;
	if (buf)
		memcpy(buf, s->set.default_eol, n < len ? n : len);
	return (int)n;
}

RW_API int rw_tcpserver_set_default_eol(rw_tcpserver *s, const void *eol, size_t len)
{
	if (len > RW_FRAMER_EOL_MAX || (len && !eol))
		return -RW_EBAD_VALUE;
	if (len)
		memcpy(s->set.default_eol, eol, len);
	s->set.default_eol_len = (uint8_t)len;
	return 0;
}

static int set_nonneg(int *field, int v)
{
	if (v < 0)
		return -RW_EBAD_VALUE;
	*field = v;
	return 0;
}

RW_API int rw_tcpserver_get_default_idle_timeout(const rw_tcpserver *s) { return s->set.default_idle_timeout; }
RW_API int rw_tcpserver_set_default_idle_timeout(rw_tcpserver *s, int v) { return set_nonneg(&s->set.default_idle_timeout, v); }
RW_API int rw_tcpserver_get_default_max_line_length(const rw_tcpserver *s) { return s->set.default_max_line; }
RW_API int rw_tcpserver_set_default_max_line_length(rw_tcpserver *s, int v)
{
	if (v < RW_FRAMER_MIN_LINE)
		return -RW_EBAD_VALUE;
	s->set.default_max_line = v;
	return 0;
}
RW_API bool rw_tcpserver_get_default_single_line_mode(const rw_tcpserver *s) { return s->set.default_single_line; }
RW_API int rw_tcpserver_set_default_single_line_mode(rw_tcpserver *s, bool on) { s->set.default_single_line = on; return 0; }
RW_API int rw_tcpserver_get_default_timeout(const rw_tcpserver *s) { return s->set.default_timeout; }
RW_API int rw_tcpserver_set_default_timeout(rw_tcpserver *s, int v) { return set_nonneg(&s->set.default_timeout, v); }
RW_API bool rw_tcpserver_get_keep_alive(const rw_tcpserver *s) { return s->set.keep_alive; }
RW_API int rw_tcpserver_set_keep_alive(rw_tcpserver *s, bool on) { s->set.keep_alive = on; return 0; }
RW_API bool rw_tcpserver_get_linger(const rw_tcpserver *s) { return s->set.linger; }
RW_API int rw_tcpserver_set_linger(rw_tcpserver *s, bool on) { s->set.linger = on; return 0; }
RW_API bool rw_tcpserver_get_listening(const rw_tcpserver *s) { return s->listening; }

RW_API int rw_tcpserver_get_local_host(const rw_tcpserver *s, char *buf, size_t len)
{
	return copy_str(s->set.local_host ? s->set.local_host : "", buf, len);
}

RW_API int rw_tcpserver_set_local_host(rw_tcpserver *s, const char *host)
{
	if (s->listening)
		return -RW_ELOCALHOST_LISTENING;
	return rw__strset(&s->set.local_host, host);
}

RW_API int rw_tcpserver_get_local_port(const rw_tcpserver *s)
{
	return s->listening ? s->bound_port : s->set.local_port;
}

RW_API int rw_tcpserver_set_local_port(rw_tcpserver *s, int port)
{
	if (s->listening)
		return -RW_ELOCALPORT_LISTENING;
	if (port < 0 || port > 65535)
		return -RW_EBAD_VALUE;
	s->set.local_port = port;
	return 0;
}

RW_API int rw_tcpserver_get_connection_count(const rw_tcpserver *s)
{
	return s->workers ? rw__workers_connection_count(s) : s->conn_count;
}

RW_API int rw_tcpserver_get_connection_ids(const rw_tcpserver *s, rw_connid *ids, size_t max)
{
	if (s->workers)
		return rw__workers_connection_ids(s, ids, max); /* worker by worker */
	size_t n = 0;
	for (const struct rw_conn *c = s->live_head; c; c = c->live_next) {
		if (c->flags & RW_C_GONE)
			continue;
		if (ids && n < max)
			ids[n] = c->id;
		n++;
	}
	return (int)n;
}

/* ---- per connection -------------------------------------------------------- */
RW_API int rw_tcpserver_get_accept_data(const rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	return !(c->flags & RW_C_PAUSED);
}

RW_API int rw_tcpserver_set_accept_data(rw_tcpserver *s, rw_connid id, bool on)
{
	return on ? rw_tcpserver_process_data(s, id) : rw_tcpserver_pause_data(s, id);
}

RW_API int64_t rw_tcpserver_get_bytes_sent(const rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	return c->bytes_sent;
}

RW_API int rw_tcpserver_get_connected(const rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	return !(c->flags & RW_C_CLOSING);
}

RW_API int rw_tcpserver_set_connected(rw_tcpserver *s, rw_connid id, bool on)
{
	if (on) {
		CONN_OR_FAIL(s, id);
		return (c->flags & RW_C_CLOSING) ? -RW_EBAD_STATE : 0;
	}
	return rw_tcpserver_disconnect(s, id);
}

RW_API int rw_tcpserver_get_eol(const rw_tcpserver *s, rw_connid id, uint8_t *buf, size_t len)
{
	CONN_OR_FAIL(s, id);
	rw_framer f;
	rw__conn_framer_view(c, &f);
	if (buf)
		memcpy(buf, f.eol, f.eol_len < len ? f.eol_len : len);
	return f.eol_len;
}

RW_API int rw_tcpserver_set_eol(rw_tcpserver *s, rw_connid id, const void *eol, size_t len)
{
	CONN_OR_FAIL(s, id);
	if (len > RW_FRAMER_EOL_MAX || (len && !eol))
		return -RW_EBAD_VALUE;
	if (!len && !c->ext)
		return 0; /* raw mode already */
	rw_framer *f = framer_of(c);
	if (!f)
		return -RW_ENOMEM;
	if (len)
		memcpy(f->eol, eol, len);
	f->eol_len = (uint8_t)len;
	return 0;
}

RW_API int rw_tcpserver_get_idle_timeout(const rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	return c->idle_timeout;
}

RW_API int rw_tcpserver_set_idle_timeout(rw_tcpserver *s, rw_connid id, int seconds)
{
	CONN_OR_FAIL(s, id);
	return set_nonneg(&c->idle_timeout, seconds);
}

RW_API int rw_tcpserver_get_local_address(const rw_tcpserver *s, rw_connid id, char *buf, size_t len)
{
	CONN_OR_FAIL(s, id);
	return rw__addr_text(rw__conn_local(c), buf, len);
}

RW_API int rw_tcpserver_get_max_line_length(const rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	rw_framer f;
	rw__conn_framer_view(c, &f);
	return (int)f.max_line;
}

RW_API int rw_tcpserver_set_max_line_length(rw_tcpserver *s, rw_connid id, int bytes)
{
	CONN_OR_FAIL(s, id);
	if (bytes < RW_FRAMER_MIN_LINE)
		return -RW_EBAD_VALUE;
	if (!c->ext && bytes == s->set.default_max_line)
		return 0;
	rw_framer *f = framer_of(c);
	if (!f)
		return -RW_ENOMEM;
	f->max_line = (uint32_t)bytes;
	return 0;
}

RW_API int rw_tcpserver_get_ready_to_send(const rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	return !(c->flags & RW_C_WOULDBLOCK);
}

RW_API int rw_tcpserver_get_record_length(const rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	return c->ext ? (int)c->ext->framer.record_len : 0;
}

RW_API int rw_tcpserver_change_record_length(rw_tcpserver *s, rw_connid id, int length)
{
	CONN_OR_FAIL(s, id);
	if (length < 0)
		return -RW_EBAD_VALUE;
	if (!length && !c->ext)
		return 0;
	rw_framer *f = framer_of(c);
	if (!f)
		return -RW_ENOMEM;
	f->record_len = (uint32_t)length;
	return 0;
}

RW_API int rw_tcpserver_get_remote_host(const rw_tcpserver *s, rw_connid id, char *buf, size_t len)
{
	CONN_OR_FAIL(s, id);
	return rw__addr_text(&c->peer, buf, len);
}

RW_API int rw_tcpserver_get_remote_port(const rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	return c->peer.port;
}

RW_API int rw_tcpserver_get_single_line_mode(const rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	return c->ext && c->ext->framer.single_line;
}

RW_API int rw_tcpserver_set_single_line_mode(rw_tcpserver *s, rw_connid id, bool on)
{
	CONN_OR_FAIL(s, id);
	if (!on && !c->ext)
		return 0;
	rw_framer *f = framer_of(c);
	if (!f)
		return -RW_ENOMEM;
	f->single_line = on;
	return 0;
}

RW_API int rw_tcpserver_get_timeout(const rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	return c->timeout;
}

RW_API int rw_tcpserver_set_timeout(rw_tcpserver *s, rw_connid id, int seconds)
{
	CONN_OR_FAIL(s, id);
	return set_nonneg(&c->timeout, seconds);
}

RW_API void *rw_tcpserver_get_user_data(const rw_tcpserver *s, rw_connid id)
{
	RW_ROUTE(s, id);
	struct rw_conn *c = rw__conn_find(s, id);
	return c ? c->user_data : NULL;
}

RW_API int rw_tcpserver_set_user_data(rw_tcpserver *s, rw_connid id, void *data)
{
	CONN_OR_FAIL(s, id);
	c->user_data = data;
	return 0;
}

/* ---- property-like methods ---------------------------------------------- */
RW_API int rw_tcpserver_pause_data(rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	if (!(c->flags & RW_C_PAUSED))
		rw__conn_pause(c);
	return 0;
}

RW_API int rw_tcpserver_process_data(rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	if (c->flags & RW_C_PAUSED) {
		c->flags &= ~RW_C_PAUSED;
		c->flags |= RW_C_RESUME; /* held data is delivered from do_events */
		rw__defer(s->loop, c);
	}
	return 0;
}

RW_API int rw_tcpserver_disconnect(rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	rw__conn_close(c, 0, "OK", false);
	return 0;
}

RW_API int rw_tcpserver_interrupt(rw_tcpserver *s, rw_connid id)
{
	CONN_OR_FAIL(s, id);
	c->flags |= RW_C_INTERRUPT;
	return 0;
}
