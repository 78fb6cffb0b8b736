/* src/listener.c: the listening socket and the accept path. Accepts run in
 * the ring with room for the peer's address (see struct rw_accept); each
 * accepted socket passes MaxConnections, Allowed/BlockedClients and
 * ConnectionRequest, and is then installed in the ring's fixed-file table and
 * its fd closed, both by queued SQEs, so that a live connection holds no file
 * descriptor (RLIMIT_NOFILE stays free for 100,000 connections across rings).
 * The socket options come from the listener (struct rw_sockopts) and the
 * local address from its bind unless that is a wildcard: on io_uring an
 * accepted connection costs no syscall of its own then. */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

int rw__addr_text(const struct rw_addr *a, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	if (!a->family) {
		tmp[0] = 0;
	} else if (!inet_ntop(a->family, a->bytes, tmp, sizeof(tmp))) {
		tmp[0] = 0;
	}
	/* Show an IPv4 peer of a dual-stack socket as plain IPv4. */
	const char *t = tmp;
	if (a->family == AF_INET6 && strncmp(tmp, "::ffff:", 7) == 0 && strchr(tmp + 7, '.'))
		t = tmp + 7;
	size_t n = strlen(t);
	if (!buf || n + 1 > len)
		return -RW_EBUFFER_TOO_SMALL;
	memcpy(buf, t, n + 1);
	return (int)n;
}

static void addr_from_sockaddr(struct rw_addr *a, const struct sockaddr_storage *ss)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;
		a->family = AF_INET;
		a->port = ntohs(in->sin_port);
		memcpy(a->bytes, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		a->family = AF_INET6;
		a->port = ntohs(in6->sin6_port);
		memcpy(a->bytes, &in6->sin6_addr, 16);
	}
}

static int resolve_bind_addr(struct rw_tcpserver *s, struct sockaddr_storage *ss, socklen_t *len)
{
	const struct rw_tcp_settings *st = &s->set;
	const char *host = st->local_host && *st->local_host ? st->local_host : NULL;
	memset(ss, 0, sizeof(*ss));
	int family = st->use_ipv6 ? AF_INET6 : AF_INET;
	if (host) {
		struct addrinfo hints = {.ai_family = st->use_ipv6 == 2 ? AF_UNSPEC : family,
		                         .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
		struct addrinfo *res = NULL;
		int rc = getaddrinfo(host, NULL, &hints, &res);
		if (rc != 0 || !res)
			return -RW_EHOST_NOT_FOUND;
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*len = res->ai_addrlen;
		freeaddrinfo(res);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (void *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_any;
		*len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (void *)ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_ANY);
		*len = sizeof(*in);
	}
	uint16_t port = htons((uint16_t)st->local_port);
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = port;
	else
		((struct sockaddr_in *)ss)->sin_port = port;
	return 0;
}

static struct rw_sockopts sockopts_of(const struct rw_tcp_settings *st)
{
	return (struct rw_sockopts){
		.nodelay = st->tcp_nodelay, .keep_alive = st->keep_alive, .linger = st->linger,
		.keepalive_time_ms = st->keep_alive ? st->keepalive_time_ms : 0,
		.keepalive_interval_ms = st->keep_alive ? st->keepalive_interval_ms : 0,
		.rcvbuf = st->in_buffer_size, .sndbuf = st->out_buffer_size};
}

/* Bring socket `fd`, which has the options `*have` (a new socket's: all, or
 * its listener's), to the settings' options, setting only those that
 * differ (all of them when `fresh`: a new socket has the system's defaults),
 * and record them in *have. A buffer size set back to 0 keeps the one
 * passed on: the system's default cannot be asked for again. */
static void set_sock_options(int fd, struct rw_sockopts *have, const struct rw_tcp_settings *st, bool fresh)
{
	struct rw_sockopts want = sockopts_of(st);
	if (fresh)
		*have = (struct rw_sockopts){.linger = true};
	int on;
	if (want.nodelay != have->nodelay) {
		on = want.nodelay;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	}
	if (want.keep_alive != have->keep_alive) {
		on = want.keep_alive;
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	}
	if (want.keepalive_time_ms > 0 && want.keepalive_time_ms != have->keepalive_time_ms) {
		int secs = (want.keepalive_time_ms + 999) / 1000;
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof(secs));
	}
	if (want.keepalive_interval_ms > 0 && want.keepalive_interval_ms != have->keepalive_interval_ms) {
		int secs = (want.keepalive_interval_ms + 999) / 1000;
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof(secs));
	}
	if (want.linger != have->linger) {
		/* Linger off: close resets, the documented hard disconnect. */
		struct linger lg = {!want.linger, 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (want.rcvbuf > 0 && want.rcvbuf != have->rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want.rcvbuf, sizeof(int));
	if (want.sndbuf > 0 && want.sndbuf != have->sndbuf)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want.sndbuf, sizeof(int));
	*have = want;
}

static int open_listen_socket(struct rw_tcpserver *s)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int rc = resolve_bind_addr(s, &ss, &len);
	if (rc < 0)
		return rc;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rw__errno(errno);
	int one = 1, zero = 0;
	if (!s->set.bind_exclusively)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s->set.reuse_port)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) {
		int v6only = s->set.use_ipv6 == 2 ? zero : one;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	}
	set_sock_options(fd, &s->listener.opts, &s->set, true);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, s->set.backlog) < 0) {
		int err = errno;
		close(fd);
		return rw__errno(err);
	}
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	struct rw_listener *ls = &s->listener;
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0) {
		addr_from_sockaddr(&ls->local, &bound);
		s->bound_port = ls->local.port;
	}
	static const uint8_t zero16[16];
	ls->any_addr = !ls->local.family ||
	               !memcmp(ls->local.bytes, zero16, ls->local.family == AF_INET ? 4 : 16);
	return fd;
}

static int arm_one(struct rw_tcpserver *s, struct rw_accept *a)
{
	struct rw_listener *ls = &s->listener;
	struct io_uring_sqe *sqe = rw__sqe(s->loop);
	if (!sqe)
		return -RW_ENOBUFS;
	a->ls = ls;
	a->gen = ls->gen;
	a->has_addr = !rw_ring_is_epoll(&s->loop->ring);
	if (a->has_addr) {
		a->len = sizeof(a->addr);
		io_uring_prep_accept(sqe, ls->fd, &a->addr.sa, &a->len, SOCK_CLOEXEC);
	} else {
		/* The emulation's single-shot accept would dup and register the
		 * listener each time: one multishot accept, getpeername after. */
		io_uring_prep_multishot_accept(sqe, ls->fd, NULL, NULL, SOCK_CLOEXEC);
	}
	io_uring_sqe_set_data64(sqe, RW_UD(a, RW_OP_ACCEPT));
	a->busy = true;
	ls->accepts++;
	ls->inflight++;
	return 0;
}

/* Arms every idle cell; one still in flight from before a StopListening
 * re-arms itself when its cancellation completes. */
static int arm_accept(struct rw_tcpserver *s)
{
	unsigned n = rw_ring_is_epoll(&s->loop->ring) ? 1 : RW_ACCEPTS;
	for (unsigned i = 0; i < n; i++) {
		struct rw_accept *a = &s->listener.cells[i];
		int rc = a->busy ? 0 : arm_one(s, a);
		if (rc < 0 && !s->listener.accepts)
			return rc;
	}
	return 0;
}

int rw__listener_start(struct rw_tcpserver *s)
{
	int fd = open_listen_socket(s);
	if (fd < 0)
		return fd;
	s->listener.srv = s;
	s->listener.fd = fd;
	s->listener.gen++;
	s->listener.stopping = false;
	s->listener.starved = false;
	int rc = arm_accept(s);
	if (rc < 0) {
		close(fd);
		s->listener.fd = -1;
		return rc;
	}
	return 0;
}

/* Linux resizes the accept queue of a socket that is already listening when
 * listen() is called on it again; connections queued meanwhile stay. */
int rw__listener_set_backlog(struct rw_tcpserver *s)
{
	struct rw_listener *ls = &s->listener;
	if (ls->fd < 0 || ls->stopping)
		return 0;
	return listen(ls->fd, s->set.backlog) < 0 ? rw__errno(errno) : 0;
}

void rw__listener_stop(struct rw_tcpserver *s)
{
	struct rw_listener *ls = &s->listener;
	if (ls->fd < 0)
		return;
	ls->stopping = true;
	for (unsigned i = 0; i < RW_ACCEPTS && ls->accepts; i++) {
		struct rw_accept *a = &ls->cells[i];
		struct io_uring_sqe *sqe = a->busy ? rw__sqe(s->loop) : NULL;
		if (sqe) {
			io_uring_prep_cancel64(sqe, RW_UD(a, RW_OP_ACCEPT), IORING_ASYNC_CANCEL_ALL);
			io_uring_sqe_set_data64(sqe, RW_UD(ls, RW_OP_LCANCEL));
			ls->inflight++;
		}
	}
	/* An in-flight accept holds its own reference to the socket, and the
	 * cancels complete through task work that may come turns later: the
	 * shutdown stops listening (refuses connections, frees the port) now. */
	shutdown(ls->fd, SHUT_RD);
	close(ls->fd);
	ls->fd = -1;
}

void rw__listener_on_cancel(struct rw_listener *ls, const struct io_uring_cqe *cqe)
{
	(void)cqe;
	ls->inflight--;
}

/* ConnectionRequest with Accept preset by Allowed/BlockedClients. */
bool rw__listener_request(struct rw_tcpserver *s, const struct rw_addr *peer)
{
	const struct rw_tcp_settings *st = &s->set;
	int fam = peer->family == AF_INET ? 4 : 6;
	bool accept = (st->allowed.any || rw_addr_list_match(&st->allowed, fam, peer->bytes)) &&
	              !rw_addr_list_match(&st->blocked, fam, peer->bytes);
	if (s->ev.connection_request && !s->freeing) {
		char text[RW_MAX_TEXT_ADDR];
		rw__addr_text(peer, text, sizeof(text));
		rw_tcpserver_connection_request e = {text, peer->port, accept};
		s->ev.connection_request(s, &e, s->user);
		accept = e.accept;
	}
	return accept;
}

/* The peer's and the local address of accepted socket `fd`: from the accept
 * and the listener's bind where they tell, else asked. False when the peer
 * left already. */
static bool conn_addresses(const struct rw_accept *a, int fd, struct rw_addr *peer, struct rw_addr *local)
{
	const struct rw_listener *ls = a->ls;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (a->has_addr) {
		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, &a->addr, a->len < sizeof(a->addr) ? a->len : sizeof(a->addr));
	} else if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
		return false;
	}
	addr_from_sockaddr(peer, &ss);
	if (!ls->any_addr) {
		*local = ls->local;
		return true;
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		ss.ss_family = 0;
	addr_from_sockaddr(local, &ss);
	return true;
}

static void admit(struct rw_tcpserver *s, struct rw_accept *a, int fd)
{
	struct rw_addr peer, local;
	if (!conn_addresses(a, fd, &peer, &local)) {
		close(fd); /* the peer left already */
		return;
	}
	if (rw__conn_limit_reached(s) || !s->loop->free_count) {
		s->rejected++;
		close(fd);
		return;
	}
	/* ProxyProtocol: decided once the header gives the client's address. */
	if (!s->set.proxy_protocol && (!rw__listener_request(s, &peer) || !s->listening)) {
		close(fd);
		return;
	}
	struct rw_sockopts opts = a->ls->opts;
	set_sock_options(fd, &opts, &s->set, false);
	uint32_t slot;
	int rc = rw__slot_alloc(s->loop, &slot);
	/* The table takes the fd, installed or not. The install is issued by
	 * the next submit, before any receive or send on the slot. */
	a->fd = fd;
	if (rc < 0)
		close(fd);
	else if ((rc = rw_ring_install_fd_queued(&s->loop->ring, slot, &a->fd)) < 0)
		rw__slot_free(s->loop, slot);
	struct rw_conn *c = rc == 0 ? rw__conn_new(s, slot) : NULL;
	if (!c) {
		if (rc == 0) { /* out of memory: take the socket back out of the table */
			static const int no_fd = -1;
			rw_ring_install_fd_queued(&s->loop->ring, slot, &no_fd);
			rw__slot_free(s->loop, slot);
		}
		rw__fire_error(s, 0, rc < 0 ? rw_errno_map(rc) : RW_ENOMEM, "accept: cannot admit connection");
		return;
	}
	c->peer = peer;
	if (rw__conn_set_local(c, &local) < 0) {
		rw__fire_error(s, 0, RW_ENOMEM, "accept: cannot admit connection");
		rw__conn_close(c, RW_ENOMEM, "", true);
		return;
	}
	if (s->set.proxy_protocol) {
		if (rw__conn_proxy_begin(c) < 0) {
			rw__fire_error(s, 0, RW_ENOMEM, "accept: cannot admit connection");
			rw__conn_close(c, RW_ENOMEM, "", true);
		}
		return;
	}
	rw__listener_expose(c);
	rw__conn_arm_recv(c);
}

void rw__listener_expose(struct rw_conn *c)
{
	struct rw_tcpserver *s = c->srv;
	c->flags |= RW_C_EXPOSED;
	rw__conn_count_add(s, 1);
	int mode = s->set.ssl_start_mode;
	if (s->tls_ctx && (mode == RW_SSL_START_AUTOMATIC || mode == RW_SSL_START_IMPLICIT)) {
		/* Connected and ReadyToSend wait for the handshake. */
		int rc2 = rw__conn_tls_start(c, true);
		if (rc2 < 0) {
			rw__fire_connected(c, -rc2, rw_strerror(rc2));
			rw__conn_close(c, -rc2, rw_strerror(rc2), true);
			return;
		}
	} else {
		rw__fire_connected(c, 0, "OK");
		if (!(c->flags & RW_C_CLOSING))
			rw__fire_ready(c);
	}
}

void rw__listener_on_accept(struct rw_accept *a, const struct io_uring_cqe *cqe)
{
	struct rw_listener *ls = a->ls;
	struct rw_tcpserver *s = ls->srv;
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (!more) {
		a->busy = false;
		ls->accepts--;
		ls->inflight--;
	}
	/* An accept armed on an earlier socket: stopped since (its result may
	 * be the shutdown's error as well as -ECANCELED). */
	bool stale = a->gen != ls->gen || ls->stopping;
	if (cqe->res >= 0) {
		if (stale || s->freeing)
			close(cqe->res);
		else
			admit(s, a, cqe->res);
	} else if (cqe->res != -ECANCELED && !stale) {
		/* Out of descriptors or memory, a re-armed accept would fail again
		 * at once, every cell on every turn: accepting pauses until the
		 * next sweep (at most a second; the clients wait in the queue) and
		 * the pause gets one Error, not one per failure. */
		bool starved = cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOBUFS ||
		               cqe->res == -ENOMEM;
		int code = rw_errno_map(cqe->res);
		if (!(starved && ls->starved))
			rw__fire_error(s, 0, code, rw_strerror(code));
		if (starved && !ls->starved)
			rw__log(s, RW_LOG_WARN, "accept: %s; accepting pauses for a second",
			        cqe->res == -EMFILE || cqe->res == -ENFILE ? "out of file descriptors (RLIMIT_NOFILE)"
			                                                   : "out of memory");
		ls->starved |= starved;
	}
	/* Re-armed while listening; a cancelled one (a StopListening's) too
	 * when a StartListening came since: that start left it to us. */
	if (!more && !a->busy && !ls->starved && !ls->stopping && ls->fd >= 0 && s->listening && !s->freeing)
		arm_one(s, a);
}

void rw__listener_sweep(struct rw_tcpserver *s)
{
	struct rw_listener *ls = &s->listener;
	if (!ls->starved)
		return;
	ls->starved = false;
	if (!ls->stopping && ls->fd >= 0 && s->listening && !s->freeing)
		arm_accept(s);
}
