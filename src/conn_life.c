/* src/conn_life.c: a connection's life: creation, the close sequence, the
 * deferred phase (resume, owed Disconnected, free) and the once-a-second
 * sweep. A connection is freed only when its close has completed and no SQE
 * that references it is in flight, and only by the outermost loop turn, so no
 * event handler frame can be left holding a freed connection. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct rw_conn *rw__conn_new(struct rw_tcpserver *s, uint32_t slot)
{
	/* From the loop's slab: no malloc header, 16-byte aligned (the CQE tags). */
	size_t size = sizeof(struct rw_conn) + (((size_t)s->layer_size + 15) & ~(size_t)15);
	uint16_t tag;
	struct rw_conn *c = rw__slab_alloc(&s->loop->conn_caches, size, &tag);
	if (!c)
		return NULL;
	memset(c, 0, size);
	c->slab_tag = tag;
	const struct rw_tcp_settings *st = &s->set;
	c->srv = s;
	c->id = (s->next_seq << RW_SLOT_BITS) | slot;
	s->next_seq += s->seq_step; /* 1, or the worker count (workers.h) */
	c->idle_timeout = st->default_idle_timeout;
	c->timeout = st->default_timeout;
	c->last_active = s->loop->now_ms;
	if (st->linger)
		c->flags |= RW_C_LINGER;
	/* A line mode by default: every connection needs its framer. */
	if (st->default_eol_len || st->default_single_line) {
		struct rw_conn_ext *x = rw__conn_ext(c);
		if (!x) {
			rw__slab_put(c, c->slab_tag);
			return NULL;
		}
		memcpy(x->framer.eol, st->default_eol, st->default_eol_len);
		x->framer.eol_len = st->default_eol_len;
		x->framer.single_line = st->default_single_line;
	}
	/* Live list, oldest first. */
	c->live_prev = s->live_tail;
	if (s->live_tail)
		s->live_tail->live_next = c;
	else
		s->live_head = c;
	s->live_tail = c;
	s->loop->slots[slot] = c;
	s->open_count++;
	return c;
}

struct rw_conn *rw__conn_find(const struct rw_tcpserver *s, rw_connid id)
{
	if (id <= 0 || !s->loop)
		return NULL;
	uint32_t slot = (uint32_t)(id & RW_SLOT_MASK);
	if (slot >= s->loop->slot_count)
		return NULL;
	struct rw_conn *c = s->loop->slots[slot];
	if (!c || c->srv != s || c->id != id || ((c->flags & RW_C_GONE) && c != s->disc_firing))
		return NULL;
	return c;
}

/* Cancel the request tagged `target`; the cancel's own CQE holds the
 * connection alive like any other request. */
void rw__conn_cancel(struct rw_conn *c, uint64_t target)
{
	struct io_uring_sqe *sqe = rw__sqe(c->srv->loop);
	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, target, 0);
	io_uring_sqe_set_data64(sqe, RW_UD(c, RW_OP_CANCEL));
	c->inflight++;
}

void rw__conn_start_close(struct rw_conn *c)
{
	if (c->flags & RW_C_CLOSE_SENT)
		return;
	struct rw_loop *l = c->srv->loop;
	/* Each request that holds the socket is cancelled by its user_data:
	 * closing the slot only drops the table's reference, and a cancel keyed
	 * on the fixed file does not find a multishot recv waiting for data
	 * (seen on 6.18: IORING_ASYNC_CANCEL_FD_FIXED matched nothing). */
	if (c->flags & RW_C_RECV_ARMED)
		rw__conn_cancel(c, RW_UD(c, RW_OP_RECV));
	if ((c->flags & RW_C_SEND_INFLIGHT) && c->send_op)
		rw__conn_cancel(c, RW_UD(c->send_op, RW_OP_SEND));
	struct io_uring_sqe *sqe = rw__sqe(l);
	if (!sqe)
		return; /* the SQ is refused; the sweep tries again */
	c->flags |= RW_C_CLOSE_SENT;
	io_uring_prep_close_direct(sqe, rw__conn_slot(c));
	io_uring_sqe_set_data64(sqe, RW_UD(c, RW_OP_CLOSE));
	c->inflight++;
}

void rw__conn_close(struct rw_conn *c, int status, const char *text, bool abortive)
{
	struct rw_loop *l = c->srv->loop;
	if (c->flags & RW_C_CLOSING) {
		if (abortive && !(c->flags & RW_C_CLOSE_SENT)) {
			c->flags |= RW_C_ABORT;
			rw__conn_start_close(c);
		}
		return;
	}
	/* A graceful close of a TLS connection says so (close_notify) first; the
	 * alert joins the queue and goes out before the close. */
	if (!abortive && c->tls && (c->flags & RW_C_TLS_OPEN))
		rw__tls_close_notify(c->tls);
	c->flags |= RW_C_CLOSING;
	c->status = status;
	/* Out of memory for an unusual text: Disconnected says the code's own. */
	(void)rw__conn_set_status_text(c, text);
	if (c->flags & RW_C_EXPOSED) {
		c->flags |= RW_C_DISC_OWED;
		rw__defer(l, c);
	}
	bool queued = c->sq_head || (c->flags & RW_C_SEND_INFLIGHT);
	if (abortive || !(c->flags & RW_C_LINGER) || !queued) {
		if (abortive || !(c->flags & RW_C_LINGER))
			c->flags |= RW_C_ABORT;
		rw__conn_start_close(c);
		return;
	}
	/* Linger: stop receiving, let the queue drain (queue_drained closes),
	 * but never longer than LingerTimeout. */
	if (rw__conn_set_close_deadline(c, l->now_ms + (int64_t)c->srv->set.linger_timeout * 1000) < 0) {
		/* No lingering without a deadline: say so, and close now. */
		rw__fire_error(c->srv, c->id, RW_ENOMEM, "close: no memory to linger; queued bytes dropped");
		c->flags |= RW_C_ABORT;
		rw__conn_start_close(c);
		return;
	}
	if (c->flags & RW_C_RECV_ARMED)
		rw__conn_cancel(c, RW_UD(c, RW_OP_RECV));
	rw__flush_later(l, c);
}

void rw__conn_on_close(struct rw_conn *c, const struct io_uring_cqe *cqe)
{
	(void)cqe;
	c->inflight--;
	c->flags |= RW_C_CLOSED;
	/* The slot stays reserved until the struct goes, so that the id still
	 * resolves inside its Disconnected event (UserData, RemoteHost). */
	rw__conn_maybe_free(c);
}

void rw__conn_maybe_free(struct rw_conn *c)
{
	if ((c->flags & RW_C_CLOSED) && c->inflight == 0)
		rw__defer(c->srv->loop, c);
}

/* Take c off the loop's flush and deferred lists (rare: only when it was
 * queued again after its last visit, e.g. ProcessData inside Disconnected). */
static void unlink_from_loop_lists(struct rw_loop *l, struct rw_conn *c)
{
	if (c->flags & RW_C_ON_FLUSH) {
		for (struct rw_conn **p = &l->flush_head; *p; p = &(*p)->flush_next)
			if (*p == c) {
				*p = c->flush_next;
				break;
			}
	}
	if (c->flags & RW_C_ON_DEFER) {
		struct rw_conn *prev = NULL;
		for (struct rw_conn *p = l->defer_head; p; prev = p, p = p->defer_next) {
			if (p != c)
				continue;
			if (prev)
				prev->defer_next = c->defer_next;
			else
				l->defer_head = c->defer_next;
			if (l->defer_tail == c)
				l->defer_tail = prev;
			break;
		}
	}
	c->flags &= ~(RW_C_ON_FLUSH | RW_C_ON_DEFER);
}

void rw__conn_destroy_now(struct rw_conn *c)
{
	struct rw_tcpserver *s = c->srv;
	unlink_from_loop_lists(s->loop, c);
	rw__slot_free(s->loop, rw__conn_slot(c));
	rw__sendq_clear(s->loop, c);
	rw__tls_free(c->tls);
	rw__conn_ext_free(c);
	if (c->live_prev)
		c->live_prev->live_next = c->live_next;
	else
		s->live_head = c->live_next;
	if (c->live_next)
		c->live_next->live_prev = c->live_prev;
	else
		s->live_tail = c->live_prev;
	s->open_count--;
	rw__slab_put(c, c->slab_tag);
}

void rw__conn_deferred(struct rw_conn *c)
{
	struct rw_loop *l = c->srv->loop;
	if (c->flags & RW_C_RESUME) {
		c->flags &= ~RW_C_RESUME;
		rw__conn_deliver_held(c);
	}
	if (c->flags & RW_C_DISC_OWED) {
		c->flags &= ~RW_C_DISC_OWED;
		rw__conn_count_add(c->srv, -1);
		c->flags |= RW_C_GONE;
		/* The id stays valid inside its own Disconnected, invalid after. */
		c->srv->disc_firing = c;
		rw__fire_disconnected(c);
		c->srv->disc_firing = NULL;
	}
	if ((c->flags & RW_C_CLOSED) && c->inflight == 0) {
		if (l->depth == 1)
			rw__conn_destroy_now(c);
		else
			rw__defer(l, c);
	}
}

void rw__conn_pause(struct rw_conn *c)
{
	c->flags |= RW_C_PAUSED;
	c->flags &= ~RW_C_RESUME;
	if (c->flags & RW_C_RECV_ARMED)
		rw__conn_cancel(c, RW_UD(c, RW_OP_RECV));
}

void rw__conn_sweep(struct rw_tcpserver *s, int64_t now)
{
	for (struct rw_conn *c = s->live_head; c; c = c->live_next) {
		if (c->flags & RW_C_CLOSING) {
			int64_t dl = rw__conn_close_deadline(c);
			if (!(c->flags & RW_C_CLOSE_SENT) && dl && now >= dl) {
				c->flags |= RW_C_ABORT;
				rw__conn_start_close(c);
			}
			continue;
		}
		if (c->ext && c->ext->proxy) {
			rw__conn_proxy_sweep(c, now);
			continue;
		}
		rw__conn_tls_sweep(c, now);
		if (c->flags & RW_C_CLOSING)
			continue;
		if (c->idle_timeout > 0 && now - c->last_active >= (int64_t)c->idle_timeout * 1000)
			rw__conn_close(c, RW_ETIMEDOUT, "Idle timeout", false);
	}
}
