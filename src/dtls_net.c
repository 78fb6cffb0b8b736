/* src/dtls_net.c: DTLSServer's one UDP socket. Receives are one multishot
 * recvmsg into the loop's provided-buffer ring (uring/udp); each datagram goes
 * to its peer's session, or, from a peer without state, to the stateless
 * cookie path, which only ever answers ClientHellos. Sends take a pooled
 * rw_dtls_txop each; the loop submits them all with its one io_uring_enter
 * per turn. */
#include "dtls_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rw__dtls_addr_text(const union rw_sockaddr *a, char *buf, size_t len, int *port)
{
	char t[INET6_ADDRSTRLEN] = "";
	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->v4.sin_addr, t, sizeof(t));
		*port = ntohs(a->v4.sin_port);
	} else {
		/* An IPv4 peer of a dual-stack socket prints as plain dotted IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&a->v6.sin6_addr))
			inet_ntop(AF_INET, &a->v6.sin6_addr.s6_addr[12], t, sizeof(t));
		else
			inet_ntop(AF_INET6, &a->v6.sin6_addr, t, sizeof(t));
		*port = ntohs(a->v6.sin6_port);
	}
	size_t n = strlen(t);
	if (n + 1 > len)
		return -RW_EBUFFER_TOO_SMALL;
	memcpy(buf, t, n + 1);
	return (int)n;
}

/* The peer's address with every byte the kernel may leave undefined zeroed:
 * these bytes are both the session table key and the cookie's HMAC input
 * (wolfSSL hashes the same bytes, given by wolfSSL_dtls_set_peer). */
static socklen_t normalise(const struct sockaddr *in, socklen_t inlen, union rw_sockaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (in->sa_family == AF_INET && inlen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *a = (const void *)in;
		out->v4.sin_family = AF_INET;
		out->v4.sin_port = a->sin_port;
		out->v4.sin_addr = a->sin_addr;
		return sizeof(struct sockaddr_in);
	}
	if (in->sa_family == AF_INET6 && inlen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *a = (const void *)in;
		out->v6.sin6_family = AF_INET6;
		out->v6.sin6_port = a->sin6_port;
		out->v6.sin6_addr = a->sin6_addr;
		out->v6.sin6_scope_id = a->sin6_scope_id;
		return sizeof(struct sockaddr_in6);
	}
	return 0;
}

static void on_datagram(struct rw_dtlsserver *s, const struct rw_udp_dgram *d)
{
	union rw_sockaddr peer;
	socklen_t plen = normalise(d->addr, d->addrlen, &peer);
	if (!plen) {
		s->dropped++;
		return;
	}
	struct rw_dtls_sess *x = rw__dtls_lookup(s, &peer);
	if (d->truncated) {
		/* Larger than the loop's receive buffers: cannot be a valid record
		 * we could decrypt. Reported for known peers only (no amplifier). */
		s->dropped++;
		if (x)
			rw__dtls_fire_error(s, x->id, RW_EDTLS_INVALID_DATAGRAM,
			                    "Datagram larger than the receive buffer (dropped)");
		return;
	}
	rw_dtls_client_hello ch;
	if (x) {
		/* RFC 6347 4.2.8: a new epoch-0 ClientHello on an established
		 * connection's tuple means the client restarted; it goes through
		 * the cookie exchange like any new peer. A late duplicate of the
		 * hello that opened this connection (same random) is ignored. */
		if (x->state == RW_DS_OPEN && rw_dtls_parse_client_hello(d->data, d->len, &ch) == 0) {
			if (memcmp(ch.random, x->client_random, 32) != 0)
				rw__dtls_stateless(s, &peer, plen, d->data, d->len, &ch, x);
			return;
		}
		/* wolfSSL is only ever given whole records: a datagram with a
		 * cut or foreign header is dropped here, before it can disturb
		 * the record layer's state for this peer. */
		if (!rw_dtls_records_well_formed(d->data, d->len)) {
			s->dropped++;
			return;
		}
		rw__dtls_sess_input(x, d->data, d->len);
		return;
	}
	if (rw__dtls_cid_route(s, &peer, plen, d->data, d->len))
		return;
	if (!s->listening || rw_dtls_parse_client_hello(d->data, d->len, &ch) != 0) {
		/* Not a ClientHello we can answer without state (garbage, a
		 * fragment, a record for a connection that is gone): silently
		 * dropped, never an event per packet. */
		s->dropped++;
		return;
	}
	rw__dtls_stateless(s, &peer, plen, d->data, d->len, &ch, NULL);
}

static void on_recv(void *target, const struct io_uring_cqe *cqe)
{
	struct rw_dtlsserver *s = ((struct rw_dtls_rxop *)target)->srv;
	struct rw_loop *l = s->loop;
	bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
	if (!more) {
		s->recv_armed = false;
		s->recv_inflight--;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		struct rw_udp_dgram d;
		rw_bufring_filled(&l->bufring);
		if (cqe->res > 0 && !s->freeing &&
		    rw_udp_parse(&s->rx, rw_bufring_addr(&l->bufring, bid), l->bufring.size, cqe->res, &d) == 0) {
			s->dispatching++;
			on_datagram(s, &d);
			s->dispatching--;
		}
		rw_bufring_recycle(&l->bufring, bid);
	} else if (cqe->res == -ENOBUFS) {
		rw_bufring_starved(&l->bufring);
	} else if (cqe->res < 0 && cqe->res != -ECANCELED && !s->freeing) {
		snprintf(s->text, sizeof(s->text), "UDP receive failed: %s", strerror(-cqe->res));
		rw__dtls_fire_error(s, 0, rw_errno_map(cqe->res), s->text);
	}
	/* ENOBUFS (the ring ran dry: datagrams wait in the socket) or any end of
	 * the multishot request: re-arm while the socket is open. */
	if (!s->recv_armed && s->fd >= 0 && !s->freeing)
		rw__dtls_arm_recv(s);
}

void rw__dtls_arm_recv(struct rw_dtlsserver *s)
{
	if (s->recv_armed || s->fd < 0)
		return;
	struct io_uring_sqe *sqe = rw__sqe(s->loop);
	if (!sqe)
		return;
	rw_udp_prep_recv(sqe, s->fd, &s->rx, s->loop->bufring.bgid);
	io_uring_sqe_set_data64(sqe, RW_UD(&s->rxop, 0));
	s->recv_armed = true;
	s->recv_inflight++;
}

static int resolve(struct rw_dtlsserver *s, union rw_sockaddr *a, socklen_t *alen)
{
	const char *h = s->set.local_host && *s->set.local_host ? s->set.local_host : NULL;
	int port = s->set.local_port;
	memset(a, 0, sizeof(*a));
	bool v6 = s->set.use_ipv6 != 0;
	if (!h) {
		if (v6) {
			a->v6.sin6_family = AF_INET6;
			a->v6.sin6_addr = in6addr_any;
		} else {
			a->v4.sin_family = AF_INET;
			a->v4.sin_addr.s_addr = htonl(INADDR_ANY);
		}
	} else if (inet_pton(AF_INET, h, &a->v4.sin_addr) == 1 && !v6) {
		a->v4.sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, h, &a->v6.sin6_addr) == 1) {
		a->v6.sin6_family = AF_INET6;
	} else {
		struct addrinfo hints = {.ai_family = v6 ? AF_INET6 : AF_INET, .ai_socktype = SOCK_DGRAM};
		struct addrinfo *res = NULL;
		if (getaddrinfo(h, NULL, &hints, &res) != 0 || !res)
			return -RW_EHOST_NOT_FOUND;
		memcpy(a, res->ai_addr, res->ai_addrlen < sizeof(*a) ? res->ai_addrlen : sizeof(*a));
		freeaddrinfo(res);
	}
	if (a->sa.sa_family == AF_INET) {
		a->v4.sin_port = htons((uint16_t)port);
		*alen = sizeof(a->v4);
	} else {
		a->v6.sin6_port = htons((uint16_t)port);
		*alen = sizeof(a->v6);
	}
	return 0;
}

int rw__dtls_socket_open(struct rw_dtlsserver *s)
{
	union rw_sockaddr a;
	socklen_t alen;
	int rc = resolve(s, &a, &alen);
	if (rc < 0)
		return rc;
	int fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return rw__errno(-errno);
	int one = 1;
	if (a.sa.sa_family == AF_INET6) {
		int only = s->set.use_ipv6 == 1;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof(only));
	}
	/* ShareLocalPort: several servers on one port; the kernel hashes each
	 * peer's address and port to one of them, so a peer stays with one. */
	if (s->set.share_local_port) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	}
	/* DontFragment: DF on every datagram (a path MTU below wolfSSL's 1400
	 * then makes sends fail instead of fragmenting). */
	if (s->set.dont_fragment) {
		int pmtu = IP_PMTUDISC_DO;
		if (a.sa.sa_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &one, sizeof(one));
		if (a.sa.sa_family == AF_INET || s->set.use_ipv6 == 2)
			setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	}
	if (s->set.in_buffer_size > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &s->set.in_buffer_size, sizeof(int));
	if (s->set.out_buffer_size > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &s->set.out_buffer_size, sizeof(int));
	if (bind(fd, &a.sa, alen) < 0) {
		rc = rw__errno(-errno);
		close(fd);
		return rc;
	}
	union rw_sockaddr b;
	socklen_t blen = sizeof(b);
	getsockname(fd, &b.sa, &blen);
	int port = 0;
	rw__dtls_addr_text(&b, s->bound_host, sizeof(s->bound_host), &port);
	s->bound_port = port;
	s->fd = fd;
	rw_udp_rx_init(&s->rx, s->loop->ring.has_multishot_recv);
	rw__dtls_arm_recv(s);
	return 0;
}

void rw__dtls_socket_close(struct rw_dtlsserver *s)
{
	if (s->fd < 0)
		return;
	if (s->recv_armed) {
		struct io_uring_sqe *sqe = rw__sqe(s->loop);
		if (sqe) {
			io_uring_prep_cancel64(sqe, RW_UD(&s->rxop, 0), 0);
			io_uring_sqe_set_data64(sqe, 0);
		}
	}
	/* The kernel holds its own reference until the cancelled receive
	 * completes; the port is free once that CQE has been reaped. */
	close(s->fd);
	s->fd = -1;
}

/* ---- sends ------------------------------------------------------------- */

static void on_sent(void *target, const struct io_uring_cqe *cqe)
{
	struct rw_dtls_txop *op = target;
	struct rw_dtlsserver *s = op->srv;
	s->tx_inflight--;
	if (cqe->res < 0 && !s->freeing)
		rw__dtls_log(s, RW_LOG_INFO, "UDP send failed: %s", strerror(-cqe->res));
	if (op->tx.data != op->inline_buf) {
		free(op->tx.data);
		op->tx.data = op->inline_buf;
	}
	/* Keep a bounded free list; the rest goes back to malloc. */
	if (s->tx_free_n < 256) {
		op->next_free = s->free_tx;
		s->free_tx = op;
		s->tx_free_n++;
	} else {
		free(op);
	}
}

int rw__dtls_send_to(struct rw_dtlsserver *s, const union rw_sockaddr *to, socklen_t tolen,
                     const uint8_t *data, size_t len)
{
	if (s->fd < 0)
		return -RW_ENOTCONN;
	if (s->tx_inflight >= s->set.send_queue_limit)
		return -RW_ENOBUFS;
	struct rw_dtls_txop *op = s->free_tx;
	if (op) {
		s->free_tx = op->next_free;
		s->tx_free_n--;
	} else if (!(op = malloc(sizeof(*op)))) {
		return -RW_ENOMEM;
	}
	op->fn = on_sent;
	op->srv = s;
	op->tx.data = op->inline_buf;
	op->tx.cap = RW_DTLS_TX_INLINE;
	if (len > RW_DTLS_TX_INLINE && !(op->tx.data = malloc(len))) {
		op->tx.data = op->inline_buf;
		op->next_free = s->free_tx;
		s->free_tx = op;
		s->tx_free_n++;
		return -RW_ENOMEM;
	}
	memcpy(op->tx.data, data, len);
	op->tx.len = (uint32_t)len;
	struct io_uring_sqe *sqe = rw__sqe(s->loop);
	if (!sqe) {
		if (op->tx.data != op->inline_buf)
			free(op->tx.data);
		free(op);
		return -RW_ENOBUFS;
	}
	rw_udp_prep_send(sqe, s->fd, &op->tx, &to->sa, tolen);
	io_uring_sqe_set_data64(sqe, RW_UD(op, 0));
	s->tx_inflight++;
	return 0;
}

static void on_small_sent(void *target, const struct io_uring_cqe *cqe)
{
	(void)cqe;
	struct rw_dtls_smallop *op = target;
	struct rw_dtlsserver *s = op->srv;
	s->tx_inflight--;
	op->next_free = s->free_small;
	s->free_small = op;
}

int rw__dtls_small_init(struct rw_dtlsserver *s)
{
	if (s->small)
		return 0;
	s->small = calloc(RW_DTLS_SMALL_TX, sizeof(*s->small));
	if (!s->small)
		return -RW_ENOMEM;
	for (int i = RW_DTLS_SMALL_TX - 1; i >= 0; i--) {
		s->small[i].fn = on_small_sent;
		s->small[i].srv = s;
		s->small[i].tx.data = s->small[i].buf;
		s->small[i].tx.cap = sizeof(s->small[i].buf);
		s->small[i].next_free = s->free_small;
		s->free_small = &s->small[i];
	}
	return 0;
}

int rw__dtls_send_small(struct rw_dtlsserver *s, const union rw_sockaddr *to, socklen_t tolen,
                        const uint8_t *data, size_t len)
{
	struct rw_dtls_smallop *op = s->free_small;
	if (s->fd < 0 || !op || len > sizeof(op->buf))
		return -RW_ENOBUFS;
	struct io_uring_sqe *sqe = rw__sqe(s->loop);
	if (!sqe)
		return -RW_ENOBUFS;
	s->free_small = op->next_free;
	memcpy(op->buf, data, len);
	op->tx.len = (uint32_t)len;
	rw_udp_prep_send(sqe, s->fd, &op->tx, &to->sa, tolen);
	io_uring_sqe_set_data64(sqe, RW_UD(op, 0));
	s->tx_inflight++;
	return 0;
}

void rw__dtls_tx_free_all(struct rw_dtlsserver *s)
{
	free(s->small);
	s->small = s->free_small = NULL;
	while (s->free_tx) {
		struct rw_dtls_txop *op = s->free_tx;
		s->free_tx = op->next_free;
		free(op);
	}
	s->tx_free_n = 0;
}

/* The receive target's handler is fixed; set once per server. */
void rw__dtls_rxop_init(struct rw_dtlsserver *s)
{
	s->rxop.fn = on_recv;
	s->rxop.srv = s;
}
