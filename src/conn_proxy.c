/* src/conn_proxy.c: Config ProxyProtocol=off|v1|v2|auto. With it on, an
 * accepted connection is held unexposed (no ConnectionRequest, no Connected)
 * while its first bytes go to the PROXY header parser (proto/proxy_proto.h),
 * before TLS: a load balancer sends the header in clear ahead of the client's
 * ClientHello. Once the header is complete:
 *   - RemoteHost/RemotePort become the client's address from the header
 *     (LOCAL / UNKNOWN / UNSPEC headers, e.g. health checks, keep the socket's
 *     address); LocalAddress stays the socket's;
 *   - MaxConnections, AllowedClients/BlockedClients and ConnectionRequest are
 *     decided on that address, then Connected (or the TLS handshake) follows
 *     as for any connection, and the bytes after the header go on to TLS or
 *     the framer.
 * A malformed header, bytes then EOF before the header ends, or no complete
 * header within DefaultConnectionTimeout (30 s when 0) closes the connection
 * abortively with one Error event (ConnectionId 0: the connection was never
 * exposed; the text names the peer). A connection that closes before sending
 * any byte (a TCP health check) closes quietly. Nothing else is disturbed.
 * "auto" takes a v1 or a v2 header, told apart by the first byte; the header
 * is never optional, since a direct client could then forge its address. */
#include "internal.h"
#include "proto/proxy_proto.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rw_proxy_state {
	rw_proxy_parser parser;
	int64_t deadline_ms;
	bool got_bytes;
};

static const char *const modes[] = {"off", "v1", "v2", "auto"};

int rw__proxy_config(struct rw_tcpserver *s, const char *value, char *out, size_t out_len)
{
	if (!value) {
		const char *m = modes[s->set.proxy_protocol & 3];
		size_t n = strlen(m);
		if (!out || n + 1 > out_len)
			return -RW_EBUFFER_TOO_SMALL;
		memcpy(out, m, n + 1);
		return (int)n;
	}
	for (int i = 0; i < 4; i++)
		if (strcasecmp(value, modes[i]) == 0) {
			s->set.proxy_protocol = i; /* applies to connections accepted from now on */
			return 0;
		}
	return -RW_EBAD_VALUE;
}

int rw__conn_proxy_begin(struct rw_conn *c)
{
	struct rw_proxy_state *ps = malloc(sizeof(*ps));
	if (!ps)
		return -RW_ENOMEM;
	int mode = c->srv->set.proxy_protocol;
	rw_proxy_init(&ps->parser, mode == 1 ? RW_PROXY_ACCEPT_V1
	                           : mode == 2 ? RW_PROXY_ACCEPT_V2
	                                       : RW_PROXY_ACCEPT_V1 | RW_PROXY_ACCEPT_V2);
	int secs = c->srv->set.default_connection_timeout > 0 ? c->srv->set.default_connection_timeout : 30;
	ps->deadline_ms = c->srv->loop->now_ms + (int64_t)secs * 1000;
	ps->got_bytes = false;
	struct rw_conn_ext *x = rw__conn_ext(c);
	if (!x) {
		free(ps);
		return -RW_ENOMEM;
	}
	x->proxy = ps;
	rw__conn_arm_recv(c);
	return 0;
}

static void proxy_fail(struct rw_conn *c, int code, const char *why)
{
	char peer[RW_MAX_TEXT_ADDR], text[192];
	rw__addr_text(&c->peer, peer, sizeof(peer));
	snprintf(text, sizeof(text), "ProxyProtocol: %s from %s:%u", why, peer, c->peer.port);
	free(c->ext->proxy);
	c->ext->proxy = NULL;
	rw__fire_error(c->srv, 0, code, text);
	rw__conn_close(c, code, "ProxyProtocol", true);
}

void rw__conn_proxy_input(struct rw_conn *c, const uint8_t *data, size_t len)
{
	struct rw_proxy_state *ps = c->ext->proxy;
	size_t used = 0;
	ps->got_bytes = true;
	int rc = rw_proxy_feed(&ps->parser, data, len, &used);
	if (rc == RW_PROXY_MORE)
		return;
	if (rc == RW_PROXY_BAD) {
		proxy_fail(c, RW_EBAD_VALUE, "malformed or missing PROXY header");
		return;
	}
	const rw_proxy_hdr *h = &ps->parser.hdr;
	if (!h->local) {
		memset(&c->peer, 0, sizeof(c->peer));
		c->peer.family = h->family == 4 ? AF_INET : AF_INET6;
		c->peer.port = h->src_port;
		memcpy(c->peer.bytes, h->src, h->family == 4 ? 4 : 16);
	}
	free(ps);
	c->ext->proxy = NULL;
	rw__conn_ext_trim(c);
	struct rw_tcpserver *s = c->srv;
	if (rw__conn_limit_reached(s)) {
		s->rejected++;
		rw__conn_close(c, 0, "", true);
		return;
	}
	if (!rw__listener_request(s, &c->peer) || !s->listening) {
		rw__conn_close(c, 0, "", true);
		return;
	}
	rw__listener_expose(c);
	if (used < len && !(c->flags & RW_C_CLOSING)) {
		if (c->tls)
			rw__conn_tls_input(c, data + used, len - used);
		else
			rw__conn_accept_plain(c, data + used, len - used);
	}
}

void rw__conn_proxy_eof(struct rw_conn *c)
{
	if (c->ext->proxy->got_bytes) {
		proxy_fail(c, RW_ECONNRESET, "connection closed inside the PROXY header");
		return;
	}
	free(c->ext->proxy);
	c->ext->proxy = NULL;
	rw__conn_close(c, 0, "", true); /* a TCP health check: no event */
}

void rw__conn_proxy_sweep(struct rw_conn *c, int64_t now)
{
	if (now >= c->ext->proxy->deadline_ms)
		proxy_fail(c, RW_ETIMEDOUT, "no complete PROXY header in time");
}
