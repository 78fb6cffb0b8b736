/* src/tcpserver_drain.c: rw_tcpserver_drain (ringworks/tcpserver_drain.h).
 * It reuses the lingering close: each connection is closed gracefully with
 * Linger forced on and its close deadline set to the drain's deadline; the
 * once-a-second sweep is pulled forward to that deadline, where it resets
 * whatever has not drained (conn_life.c, rw__conn_sweep). */
#include "internal.h"

RW_API int rw_tcpserver_drain(rw_tcpserver *s, int deadline_ms)
{
	if (!s)
		return -RW_EINVAL;
	if (s->workers)
		return rw__workers_drain(s, deadline_ms);
	if (!s->loop || deadline_ms < 0)
		return (int)s->open_count;
	struct rw_loop *l = s->loop;
	int64_t now = rw__now_ms();
	int64_t dl = now + deadline_ms;
	/* A drain that ended (or a restart) leaves an old deadline: start afresh. */
	bool fresh = !s->drain_deadline || s->listening || s->open_count == 0;
	if (fresh || dl < s->drain_deadline)
		s->drain_deadline = dl;
	rw_tcpserver_stop_listening(s);
	for (struct rw_conn *c = s->live_head; c; c = c->live_next) {
		if (!(c->flags & RW_C_EXPOSED)) { /* PROXY header still awaited */
			rw__conn_close(c, 0, "", true);
			continue;
		}
		if (!(c->flags & RW_C_CLOSING)) {
			c->flags |= RW_C_LINGER; /* let the queue go out first */
			rw__conn_close(c, 0, "OK", false);
		}
		if (c->flags & RW_C_CLOSE_SENT)
			continue;
		if (now >= s->drain_deadline)
			rw__conn_close(c, 0, "OK", true); /* abort: drop the queue */
		else if ((!rw__conn_close_deadline(c) || rw__conn_close_deadline(c) > s->drain_deadline) &&
		         rw__conn_set_close_deadline(c, s->drain_deadline) < 0)
		{
			/* No memory for a deadline: drop the queue now rather than wait forever. */
			rw__fire_error(s, c->id, RW_ENOMEM, "drain: no memory for a deadline; queued bytes dropped");
			rw__conn_close(c, RW_ENOMEM, "OK", true);
		}
	}
	if (l->next_sweep_ms > s->drain_deadline)
		l->next_sweep_ms = s->drain_deadline;
	return (int)s->open_count;
}
