/* src/loop.c: the loop and its turn. One turn, in this fixed order:
 *   1. prepare the pending sends (flush list) and publish recycled buffers;
 *   2. one submit-and-wait (the only syscall of an ordinary turn);
 *   3. reap CQEs into a local array (so nested turns never see them twice) and
 *      dispatch each to its owner by the tag in user_data;
 *   4. once a second, sweep idle and lingering connections;
 *   5. deferred phase: resumes after ProcessData, owed Disconnected events,
 *      and, in the outermost turn only, frees of fully closed connections;
 *   6. prepare the sends these events queued and submit, so nothing waits for
 *      the next call. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

int64_t rw__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

RW_API const char *rw_loop_unavailable_reason(void)
{
	return rw__backend_reason();
}

static unsigned fixed_file_cap(unsigned wanted)
{
	struct rlimit rl;
	unsigned cap = 1u << 20;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < cap)
		cap = (unsigned)rl.rlim_cur;
	return wanted && wanted < cap ? wanted : cap;
}

static void fill_defaults(rw_loop_options *o, const rw_loop_options *in, unsigned share)
{
	memset(o, 0, sizeof(*o));
	if (in)
		*o = *in;
	if (!o->ring_entries)
		o->ring_entries = 4096;
	/* 32 KiB: a 16 KiB WebSocket message and its header arrive in one
	 * buffer and are echoed from it, where two 16 KiB buffers made a copy.
	 * Only the pages a receive writes become resident. */
	if (!o->recv_buffer_size)
		o->recv_buffer_size = 32768;
	/* Each buffer a burst of small messages uses keeps one page touched:
	 * 4 MiB a ring at 1024. A share of it per worker (a power of two). */
	unsigned count = 1024;
	while (share > 1 && count > 64 && count / 2 >= 1024 / share)
		count /= 2;
	if (!o->recv_buffer_count)
		o->recv_buffer_count = count;
	o->max_fixed_files = fixed_file_cap(o->max_fixed_files);
}

int rw__loop_create(struct rw_loop **out, const rw_loop_options *opts, unsigned share)
{
	struct rw_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return -RW_ENOMEM;
	l->share = share > 1 ? share : 1;
	fill_defaults(&l->opts, opts, l->share);
	int rc = rw__ring_open(l);
	if (rc < 0) {
		free(l);
		return rc;
	}
	l->slot_count = l->ring.fixed_files;
	l->slots = calloc(l->slot_count, sizeof(*l->slots));
	l->free_slots = malloc(l->slot_count * sizeof(*l->free_slots));
	if (!l->slots || !l->free_slots) {
		rw_bufring_exit(&l->bufring, &l->ring);
		rw_ring_exit(&l->ring);
		free(l->slots);
		free(l->free_slots);
		free(l);
		return -RW_ENOMEM;
	}
	/* Hand out low slots first: the stack pops from the end. */
	for (uint32_t i = 0; i < l->slot_count; i++)
		l->free_slots[i] = l->slot_count - 1 - i;
	l->free_count = l->slot_count;
	l->ring_ok = true;
	l->now_ms = rw__now_ms();
	l->next_sweep_ms = l->now_ms + 1000;
	*out = l;
	return 0;
}

RW_API int rw_loop_new(rw_loop **out, const rw_loop_options *opts)
{
	if (!out)
		return -RW_EINVAL;
	*out = NULL;
	return rw__loop_create(out, opts, 1);
}

RW_API int rw_loop_free(rw_loop *l)
{
	if (!l)
		return 0;
	if (l->servers || l->clients)
		return -RW_EBAD_STATE;
	rw_bufring_exit(&l->bufring, &l->ring);
	rw_ring_exit(&l->ring);
	rw__pool_free_all(&l->pool);
	rw__slab_caches_free(&l->conn_caches);
	while (l->free_ops) {
		struct rw_send_op *op = l->free_ops;
		l->free_ops = op->next_free;
		free(op);
	}
	free(l->slots);
	free(l->free_slots);
	free(l);
	return 0;
}

void rw__loop_attach(struct rw_loop *l, struct rw_tcpserver *s)
{
	s->loop_next = l->servers;
	l->servers = s;
	l->server_count++;
}

void rw__loop_detach(struct rw_loop *l, struct rw_tcpserver *s)
{
	for (struct rw_tcpserver **p = &l->servers; *p; p = &(*p)->loop_next) {
		if (*p == s) {
			*p = s->loop_next;
			l->server_count--;
			return;
		}
	}
}

void rw__loop_add_client(struct rw_loop *l, struct rw_loop_client *c)
{
	c->next = l->clients;
	l->clients = c;
}

void rw__loop_remove_client(struct rw_loop *l, struct rw_loop_client *c)
{
	for (struct rw_loop_client **p = &l->clients; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			return;
		}
	}
}

int rw__slot_alloc(struct rw_loop *l, uint32_t *slot)
{
	if (!l->free_count)
		return -RW_ECONN_LIMIT;
	*slot = l->free_slots[--l->free_count];
	return 0;
}

void rw__slot_free(struct rw_loop *l, uint32_t slot)
{
	l->slots[slot] = NULL;
	l->free_slots[l->free_count++] = slot;
}

struct io_uring_sqe *rw__sqe(struct rw_loop *l)
{
	int err = 0;
	struct io_uring_sqe *sqe = rw_ring_sqe(&l->ring, &err);
	/* The SQ is flushed when full, so NULL means the kernel refuses
	 * submissions altogether; nothing sensible remains but to report it. */
	return sqe;
}

void rw__defer(struct rw_loop *l, struct rw_conn *c)
{
	if (c->flags & RW_C_ON_DEFER)
		return;
	c->flags |= RW_C_ON_DEFER;
	c->defer_next = NULL;
	if (l->defer_tail)
		l->defer_tail->defer_next = c;
	else
		l->defer_head = c;
	l->defer_tail = c;
}

void rw__flush_later(struct rw_loop *l, struct rw_conn *c)
{
	if (c->flags & (RW_C_ON_FLUSH | RW_C_SEND_INFLIGHT))
		return;
	c->flags |= RW_C_ON_FLUSH;
	c->flush_next = l->flush_head;
	l->flush_head = c;
}

static void run_flush_list(struct rw_loop *l)
{
	while (l->flush_head) {
		struct rw_conn *c = l->flush_head;
		l->flush_head = c->flush_next;
		c->flags &= ~RW_C_ON_FLUSH;
		rw__conn_flush(c);
	}
}

static void run_deferred(struct rw_loop *l)
{
	struct rw_conn *c = l->defer_head;
	l->defer_head = l->defer_tail = NULL;
	while (c) {
		struct rw_conn *next = c->defer_next;
		c->flags &= ~RW_C_ON_DEFER;
		rw__conn_deferred(c);
		c = next;
	}
}

static void dispatch(const struct io_uring_cqe *cqe)
{
	void *p = RW_UD_PTR(cqe->user_data);
	switch (RW_UD_OP(cqe->user_data)) {
	case RW_OP_ACCEPT:
		rw__listener_on_accept(p, cqe);
		break;
	case RW_OP_LCANCEL:
		rw__listener_on_cancel(p, cqe);
		break;
	case RW_OP_RECV:
		rw__conn_on_recv(p, cqe);
		break;
	case RW_OP_SEND:
		rw__conn_on_send(p, cqe);
		break;
	case RW_OP_CLOSE:
		rw__conn_on_close(p, cqe);
		break;
	case RW_OP_READ:
		rw__conn_on_read(p, cqe);
		break;
	case RW_OP_CANCEL: {
		struct rw_conn *c = p;
		c->inflight--;
		rw__conn_maybe_free(c);
		break;
	}
	default:
		/* user_data 0: fire-and-forget SQEs; tag 0 with a target: a
		 * loop client (see rw_cqe_fn). */
		if (p)
			(*(rw_cqe_fn *)p)(p, cqe);
		break;
	}
}

int rw__loop_turn(struct rw_loop *l, int timeout_ms)
{
	l->depth++;
	run_flush_list(l);
	rw_bufring_publish(&l->bufring);
	if (l->defer_head)
		timeout_ms = 0;
	/* Wake for the once-a-second sweep (idle timeouts, lingering closes). */
	int64_t to_sweep = l->next_sweep_ms - rw__now_ms();
	if (to_sweep < 0)
		to_sweep = 0;
	if (timeout_ms < 0 || timeout_ms > to_sweep)
		timeout_ms = (int)to_sweep;
	for (struct rw_loop_client *c = l->clients; c; c = c->next) {
		int64_t to_client = c->wake_ms ? c->wake_ms - rw__now_ms() : timeout_ms;
		if (to_client < timeout_ms)
			timeout_ms = to_client < 0 ? 0 : (int)to_client;
	}
	int rc = l->wait_hook ? l->wait_hook(l, timeout_ms) : rw_ring_submit_wait(&l->ring, timeout_ms);
	l->now_ms = rw__now_ms();
	int handled = 0;
	unsigned n;
	/* A nested turn (a blocking send inside an event) reuses the loop, so the
	 * batch lives on this frame while it is dispatched. */
	struct io_uring_cqe batch[64];
	while ((n = rw_ring_reap(&l->ring, batch, 64)) > 0) {
		for (unsigned i = 0; i < n; i++)
			dispatch(&batch[i]);
		handled += (int)n;
		rw_bufring_publish(&l->bufring);
		if (n < 64 || handled >= 4096)
			break;
	}
	if (l->now_ms >= l->next_sweep_ms) {
		l->next_sweep_ms = l->now_ms + 1000;
		rw_bufring_decay(&l->bufring);
		for (struct rw_tcpserver *s = l->servers; s; s = s->loop_next) {
			rw__conn_sweep(s, l->now_ms);
			rw__listener_sweep(s);
		}
	}
	for (struct rw_loop_client *c = l->clients; c; c = c->next)
		c->turn(c, l->now_ms);
	run_deferred(l);
	/* What this turn's events asked for (sends, closes, re-arms) goes to the
	 * kernel now, not at the next call: an application may stop turning the
	 * loop right after an event, and a close must still reach the peer. */
	run_flush_list(l);
	rw_bufring_publish(&l->bufring);
	/* GETEVENTS too: with DEFER_TASKRUN a cancelled request only lets go of
	 * its socket when task work runs, and that needs GETEVENTS. */
	if (rw_ring_sq_ready(&l->ring))
		rw_ring_submit_wait(&l->ring, 0);
	l->depth--;
	if (rc < 0)
		return rw__errno(rc);
	return handled;
}

RW_API int rw_loop_do_events(rw_loop *l, int timeout_ms)
{
	if (!l)
		return -RW_EINVAL;
	return rw__loop_turn(l, timeout_ms);
}
