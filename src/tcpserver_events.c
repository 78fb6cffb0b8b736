/* src/tcpserver_events.c: the one place TCPServer events are fired from, so
 * that the "no events while the server is being freed" rule and the
 * parameter structs live together; and the Log callback. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

void rw__fire_connected(struct rw_conn *c, int status, const char *text)
{
	struct rw_tcpserver *s = c->srv;
	if (s->ev.connected && !s->freeing) {
		rw_tcpserver_connected e = {c->id, status, text};
		s->ev.connected(s, &e, s->user);
	}
}

void rw__fire_ready(struct rw_conn *c)
{
	struct rw_tcpserver *s = c->srv;
	if (s->ev.ready_to_send && !s->freeing) {
		rw_tcpserver_ready_to_send e = {c->id};
		s->ev.ready_to_send(s, &e, s->user);
	}
}

void rw__fire_disconnected(struct rw_conn *c)
{
	struct rw_tcpserver *s = c->srv;
	if (s->ev.disconnected && !s->freeing) {
		rw_tcpserver_disconnected e = {c->id, c->status, rw__conn_status_text(c)};
		s->ev.disconnected(s, &e, s->user);
	}
}

void rw__fire_error(struct rw_tcpserver *s, rw_connid id, int code, const char *text)
{
	if (s->ev.error && !s->freeing) {
		rw_tcpserver_error e = {id, code, text};
		s->ev.error(s, &e, s->user);
	}
	rw__log(s, RW_LOG_ERROR, "connection %lld: error %d: %s", (long long)id, code, text);
}

void rw__fire_ssl_status(struct rw_conn *c, const char *fmt, ...)
{
	struct rw_tcpserver *s = c->srv;
	if (!s->ev.ssl_status || s->freeing)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rw_tcpserver_ssl_status e = {c->id, msg};
	s->ev.ssl_status(s, &e, s->user);
}

void rw__log(struct rw_tcpserver *s, int level, const char *fmt, ...)
{
	if (!s->ev.log || level > s->set.log_level)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->ev.log(s, level, msg, s->user);
}
