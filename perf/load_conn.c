/* perf/load_conn.c: rw-load's connections: connects, sends, multishot
 * receives, verification of every echoed byte, churn cycles, and the
 * completion dispatch. */
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Send what is queued and not yet sent, one send in flight per socket. */
void start_send(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];
	uint64_t left = c->tx_queued - c->tx_off;

	if (L->o.ws) {
		ws_queue(L, idx);
		return;
	}
	if (c->t) {
		tls_queue(L, idx);
		return;
	}
	if (c->sending || !left || c->state != C_OPEN)
		return;
	size_t len = left > SEND_CHUNK_MAX ? SEND_CHUNK_MAX : (size_t)left;
	const uint8_t *p = L->pattern + (c->base + c->tx_off) % PAT_PERIOD;
	struct io_uring_sqe *sqe = get_sqe(L);
	io_uring_prep_send(sqe, (int)idx, p, len, MSG_NOSIGNAL);
	set_ud(sqe, idx, OP_SEND);
	c->sending = true;
}

void issue_msg(struct load *L, unsigned idx, uint64_t now)
{
	struct conn *c = &L->c[idx];
	L->stamps[(size_t)idx * L->o.pipeline + c->issued % L->o.pipeline] = now;
	c->issued++;
	c->tx_queued += L->o.size;
	L->inflight_msgs++;
}

void issue_connects(struct load *L, uint64_t now)
{
	unsigned budget = CONNECT_INFLIGHT - L->connecting;

	if (L->o.connect_rate > 0) {
		double allowed = L->o.connect_rate * (double)(now - L->t_start) / NSEC + 1;
		double room = allowed - L->next_connect;
		if (room < budget)
			budget = room > 0 ? (unsigned)room : 0;
	}
	while (budget-- && L->next_connect < L->o.conns) {
		unsigned idx = L->next_connect++;
		struct io_uring_sqe *sqe = get_sqe(L);
		io_uring_prep_connect(sqe, (int)idx, (struct sockaddr *)&L->dst, L->dstlen);
		set_ud(sqe, idx, OP_CONNECT);
		L->c[idx].state = C_CONNECTING;
		L->c[idx].t_cycle = now;
		L->connecting++;
	}
}

/* ---- completions ---------------------------------------------------------- */

void conn_lost(struct load *L, unsigned idx, int res)
{
	struct conn *c = &L->c[idx];

	if (c->state != C_OPEN)
		return;
	c->state = C_DEAD;
	L->inflight_msgs -= c->issued - c->done;
	L->s.disconnects++;
	if (!L->s.first_disc_err)
		L->s.first_disc_err = res ? res : -ECONNRESET;
}

bool issuing(const struct load *L)
{
	return L->phase < P_DRAIN && !g_stop;
}

/* The connection is ready for messages: queue --pipeline of them. */
bool barrier(const struct load *L)
{
	return (L->o.tls || L->o.ws) && !L->o.churn && !L->barrier_done;
}

void conn_ready(struct load *L, unsigned idx, uint64_t now)
{
	if (barrier(L)) { /* wait for the others (a server that is slow to accept) */
		L->c[idx].waiting = true;
		start_send(L, idx); /* the TLS Finished, if any */
		return;
	}
	if (issuing(L))
		for (unsigned k = 0; k < L->o.pipeline; k++)
			issue_msg(L, idx, now);
	start_send(L, idx);
}

/* --churn: a new cycle on slot idx (a direct socket in the same slot). */
void churn_connect(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];
	struct io_uring_sqe *sqe = get_sqe(L);

	io_uring_prep_connect(sqe, (int)idx, (struct sockaddr *)&L->dst, L->dstlen);
	set_ud(sqe, idx, OP_CONNECT);
	c->state = C_CONNECTING;
	c->t_cycle = L->o.rate > 0 ? c->t_sched : now_ns(); /* --rate: late starts count */
}

/* --churn: close once the shutdown, the receive and the send are all done. */
void churn_maybe_close(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];

	if (c->state != C_CLOSING || c->recv_armed || c->sending || c->shut_pending)
		return;
	struct io_uring_sqe *sqe = get_sqe(L);
	io_uring_prep_close_direct(sqe, idx);
	io_uring_sqe_set_data64(sqe, ((uint64_t)idx << 8) | OP_CLOSE);
	c->state = C_CLOSED;
	if (c->t)
		tls_end(c);
}

void churn_cycle_done(struct load *L, unsigned idx, uint64_t now)
{
	struct conn *c = &L->c[idx];

	if (L->phase == P_MEASURE) {
		hist_add(&L->h, now - c->t_cycle);
		L->s.cycles++;
	}
	c->state = C_CLOSING;
	c->shut_pending = true;
	struct io_uring_sqe *sqe = get_sqe(L);
	io_uring_prep_shutdown(sqe, (int)idx, SHUT_RDWR);
	set_ud(sqe, idx, OP_SHUTDOWN);
}

void on_connect(struct load *L, unsigned idx, int res, uint64_t now)
{
	struct conn *c = &L->c[idx];

	if (c->state != C_CONNECTING)
		return; /* given up on at the end of the connect phase */
	bool first = !c->seen;
	if (first) {
		c->seen = true;
		if (L->connecting) /* --rate: slots connect outside the connect phase */
			L->connecting--;
		L->resolved++;
	}
	if (res < 0) {
		c->state = C_DEAD;
		L->s.connect_fail++;
		if (!L->s.first_connect_err)
			L->s.first_connect_err = res;
		return;
	}
	c->state = C_OPEN;
	L->s.connects++;
	if (first)
		L->s.established++;
	arm_recv(L, idx);
	if (L->o.ws && !L->o.tls) { /* wss begins with the TLS handshake */
		if (ws_begin(L, c))
			die("out of memory");
		tls_flush(L, idx);
		return;
	}
	if (L->o.tls) {
		if (tls_begin(L, c))
			die("out of memory for a TLS session");
		int r = wolfSSL_connect(c->t->ssl); /* the ClientHello */
		if (r != WOLFSSL_SUCCESS && wolfSSL_get_error(c->t->ssl, r) != WOLFSSL_ERROR_WANT_READ) {
			tls_fail(L, idx, r, "handshake");
			conn_lost(L, idx, -EPROTO);
			return;
		}
		tls_flush(L, idx);
		return;
	}
	conn_ready(L, idx, now);
}

void on_send(struct load *L, unsigned idx, int res)
{
	struct conn *c = &L->c[idx];

	c->sending = false;
	if (res <= 0) {
		conn_lost(L, idx, res);
		churn_maybe_close(L, idx);
		return;
	}
	if (c->t) {
		struct tls *t = c->t;
		t->sent += (unsigned)res;
		if (t->sent == t->out_len[t->fl]) {
			t->out_len[t->fl] = 0;
			t->fl = -1;
		}
		tls_flush(L, idx);
	} else {
		c->tx_off += (unsigned)res;
		start_send(L, idx);
	}
	churn_maybe_close(L, idx);
}

/* Compare echoed bytes with what was sent at the same stream offset. */
void verify(struct load *L, unsigned idx, const uint8_t *p, unsigned n)
{
	struct conn *c = &L->c[idx];
	const uint8_t *want = L->pattern + (c->base + c->rx_off) % PAT_PERIOD;

	if (c->rx_off + n > c->tx_queued || memcmp(p, want, n)) {
		if (!L->s.verify_err)
			fprintf(stderr, "rw-load: connection %u: echoed bytes differ at stream offset %llu"
				" (%u bytes received, %llu sent)\n", idx,
				(unsigned long long)c->rx_off, n, (unsigned long long)c->tx_queued);
		L->s.verify_err++;
	}
	c->rx_off += n;
	L->s.rx_bytes += n;
}

void complete_msgs(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];
	uint64_t now = 0;
	bool more = issuing(L) && !L->o.churn && !L->o.idle;

	while (c->done < c->issued && c->rx_off >= (c->done + 1) * L->o.size) {
		if (!now)
			now = now_ns();
		uint64_t sent = L->stamps[(size_t)idx * L->o.pipeline + c->done % L->o.pipeline];
		if (L->phase == P_MEASURE || (L->o.idle && L->phase == P_DRAIN)) {
			if (!L->o.churn)
				hist_add(&L->h, now - sent);
			L->s.msgs++;
		}
		c->done++;
		L->inflight_msgs--;
		L->s.total_done++;
		if (more)
			issue_msg(L, idx, now);
	}
	if (L->o.churn && c->issued && c->done == c->issued && c->state == C_OPEN) {
		churn_cycle_done(L, idx, now ? now : now_ns());
		return;
	}
	start_send(L, idx);
}

static void on_recv(struct load *L, unsigned idx, const struct io_uring_cqe *cqe)
{
	struct conn *c = &L->c[idx];
	int res = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->recv_armed = false;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *p = L->bufs + (size_t)bid * L->buf_size;
		if (res > 0 && c->state == C_OPEN) {
			if (L->o.tls)
				tls_input(L, idx, p, (unsigned)res);
			else if (L->o.ws)
				ws_input(L, idx, p, (unsigned)res);
			else
				verify(L, idx, p, (unsigned)res);
		}
		io_uring_buf_ring_add(L->br, p, L->buf_size, (unsigned short)bid, L->br_mask,
		                      (int)L->br_pending++);
	}
	if (res > 0 && c->state == C_OPEN)
		complete_msgs(L, idx);
	else if (res != -ENOBUFS && c->state == C_OPEN)
		conn_lost(L, idx, res);
	if (c->state == C_CLOSING || c->state == C_DEAD) {
		churn_maybe_close(L, idx);
		return;
	}
	if (!c->recv_armed && c->state == C_OPEN && !c->rearm_listed) {
		c->rearm_listed = true;
		L->rearm[L->nrearm++] = idx;
	}
}

static void on_shutdown(struct load *L, unsigned idx)
{
	L->c[idx].shut_pending = false;
	churn_maybe_close(L, idx);
}

static void on_close(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];

	if (!issuing(L))
		return;
	c->tx_queued = c->tx_off = c->rx_off = c->issued = c->done = 0;
	c->base = (c->base + 7919u) % PAT_PERIOD;
	c->state = C_NEW;
	if (L->o.rate > 0) { /* the schedule decides when it is used again */
		rate_slot_free(L, idx);
		return;
	}
	struct io_uring_sqe *sqe = get_sqe(L);
	io_uring_prep_socket_direct(sqe, L->dst.ss_family, SOCK_STREAM, 0, idx, 0); /* no CLOEXEC: EINVAL for direct */
	io_uring_sqe_set_data64(sqe, ((uint64_t)idx << 8) | OP_SOCKET);
}

static void on_socket(struct load *L, unsigned idx, int res)
{
	struct conn *c = &L->c[idx];

	if (res < 0) {
		c->state = C_DEAD;
		L->s.connect_fail++;
		if (!L->s.first_connect_err)
			L->s.first_connect_err = res;
		return;
	}
	if (issuing(L))
		churn_connect(L, idx);
}

unsigned reap(struct load *L)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&L->ring, head, cqe) {
		unsigned idx = (unsigned)(cqe->user_data >> 8);
		switch (cqe->user_data & 0xff) {
		case OP_CONNECT: on_connect(L, idx, cqe->res, now_ns()); break;
		case OP_SEND: on_send(L, idx, cqe->res); break;
		case OP_RECV: on_recv(L, idx, cqe); break;
		case OP_SHUTDOWN: on_shutdown(L, idx); break;
		case OP_CLOSE: on_close(L, idx); break;
		case OP_SOCKET: on_socket(L, idx, cqe->res); break;
		}
		n++;
	}
	io_uring_cq_advance(&L->ring, n);
	if (L->br_pending) {
		io_uring_buf_ring_advance(L->br, (int)L->br_pending);
		L->br_pending = 0;
	}
	for (unsigned i = 0; i < L->nrearm; i++) {
		unsigned idx = L->rearm[i];
		L->c[idx].rearm_listed = false;
		if (L->c[idx].state == C_OPEN && !L->c[idx].recv_armed)
			arm_recv(L, idx);
	}
	L->nrearm = 0;
	return n;
}
