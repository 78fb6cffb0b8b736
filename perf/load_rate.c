/* perf/load_rate.c: rw-load --rate R, the connection-rate mode.
 *
 * Open loop, unlike --churn (closed loop: each of --connections slots
 * reconnects as soon as its last cycle closed, so the rate is whatever the
 * server allows): new connections are due at a fixed R per second from the
 * start of the warmup, whatever the server does; each connects, exchanges
 * --pipeline messages of --size bytes (verified), shuts down and closes.
 * --connections is the pool of slots (the most connections open at once);
 * a connection that is due when every slot is busy starts as soon as one
 * frees, and its latency counts from when it was due (no coordinated
 * omission), so a server that cannot keep up shows in p99, in the achieved
 * connections/s and in the late count (starts over 1 ms after they were due).
 */
#include "load.h"

#include <stdlib.h>
#include <sys/socket.h>

#define LATE_NS 1000000ull

/* Every slot free; the schedule starts now. */
void rate_setup(struct load *L, uint64_t now)
{
	L->free_slots = malloc(L->o.conns * sizeof *L->free_slots);
	if (!L->free_slots)
		die("out of memory");
	L->nfree = 0;
	for (unsigned i = L->o.conns; i-- > 0;) {
		L->c[i].state = C_NEW;
		L->free_slots[L->nfree++] = i;
	}
	L->t_rate0 = now;
	L->started = 0;
}

void rate_slot_free(struct load *L, unsigned idx)
{
	L->free_slots[L->nfree++] = idx;
}

/* Start every connection that is due and has a slot. */
void rate_start(struct load *L, uint64_t now)
{
	if (!issuing(L) || !L->free_slots)
		return;
	uint64_t due = (uint64_t)((double)(now - L->t_rate0) * L->o.rate / NSEC) + 1;
	while (L->started < due && L->nfree) {
		unsigned idx = L->free_slots[--L->nfree];
		struct conn *c = &L->c[idx];
		c->t_sched = L->t_rate0 + (uint64_t)((double)L->started * NSEC / L->o.rate);
		L->started++;
		if (L->phase == P_MEASURE && now - c->t_sched > LATE_NS)
			L->s.late++;
		if (!c->used) { /* the socket made at setup is still in the slot */
			c->used = true;
			churn_connect(L, idx);
			continue;
		}
		struct io_uring_sqe *sqe = get_sqe(L);
		io_uring_prep_socket_direct(sqe, L->dst.ss_family, SOCK_STREAM, 0, idx, 0);
		io_uring_sqe_set_data64(sqe, ((uint64_t)idx << 8) | OP_SOCKET);
	}
}
