/* src/tcpserver.c: TCPServer's lifecycle and server-wide methods: new/free,
 * StartListening, StopListening, Shutdown, Reset, DoEvents, run. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rw_tcpserver *server_alloc(void)
{
	rw_tcpserver *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	rw__settings_defaults(&s->set);
	s->listener.fd = -1;
	s->next_seq = 1;
	s->seq_step = 1;
	return s;
}

RW_API rw_tcpserver *rw_tcpserver_new(void)
{
	return server_alloc();
}

RW_API rw_tcpserver *rw_tcpserver_new_on_loop(rw_loop *loop)
{
	if (!loop)
		return NULL;
	rw_tcpserver *s = server_alloc();
	if (!s)
		return NULL;
	s->loop = loop;
	rw__loop_attach(loop, s);
	return s;
}

RW_API void rw_tcpserver_set_events(rw_tcpserver *s, const rw_tcpserver_events *events, void *user)
{
	if (!s)
		return;
	if (events)
		s->ev = *events;
	else
		memset(&s->ev, 0, sizeof(s->ev));
	s->user = user;
}

RW_API rw_loop *rw_tcpserver_get_loop(rw_tcpserver *s)
{
	return s ? s->loop : NULL; /* NULL with Workers > 1: each worker has its own */
}

static int ensure_loop(rw_tcpserver *s)
{
	if (s->loop)
		return 0;
	struct rw_loop *l;
	rw_loop_options o = s->loop_opts;
	if (!o.max_fixed_files)
		o.max_fixed_files = (unsigned)s->set.max_connections + 64;
	int rc = rw__loop_create(&l, &o, (unsigned)s->seq_step);
	if (rc == -RW_EURING_UNAVAILABLE)
		rw__log(s, RW_LOG_ERROR, "%s", rw_loop_unavailable_reason());
	if (rc < 0)
		return rc;
	s->loop = l;
	s->own_loop = true;
	rw__loop_attach(l, s);
	return 0;
}

/* Backend=auto fell back to epoll: said once per loop, by the first server
 * that starts on it. */
static void log_fallback(rw_tcpserver *s)
{
	const char *why = rw__loop_take_fallback(s->loop);
	if (why)
		rw__log(s, RW_LOG_WARN, "io_uring is unavailable, running on the epoll backend: %s", why);
}

RW_API int rw_tcpserver_start_listening(rw_tcpserver *s)
{
	if (!s)
		return -RW_EINVAL;
	if (s->listening)
		return -RW_EALREADY_LISTENING;
	if (rw__workers_wanted(s))
		return rw__workers_start(s);
	int rc = ensure_loop(s);
	if (rc < 0)
		return rc;
	log_fallback(s);
	if ((unsigned)s->set.max_connections > s->loop->slot_count)
		rw__log(s, RW_LOG_WARN,
		        "MaxConnections=%d exceeds this loop's fixed-file table (%u, capped by "
		        "RLIMIT_NOFILE); at most %u connections will be admitted",
		        s->set.max_connections, s->loop->slot_count, s->loop->slot_count);
	if (s->set.ssl_start_mode != RW_SSL_START_NONE && (rc = rw__ssl_ctx_load(s)) < 0)
		return rc;
	rc = rw__listener_start(s);
	if (rc < 0)
		return rc;
	s->listening = true;
	return 0;
}

RW_API int rw_tcpserver_stop_listening(rw_tcpserver *s)
{
	if (!s)
		return -RW_EINVAL;
	if (s->workers)
		return rw__workers_stop(s);
	if (!s->listening)
		return 0;
	s->listening = false;
	rw__listener_stop(s);
	return 0;
}

RW_API int rw_tcpserver_shutdown(rw_tcpserver *s)
{
	if (!s)
		return -RW_EINVAL;
	if (s->workers)
		return rw__workers_shutdown(s);
	rw_tcpserver_stop_listening(s);
	for (struct rw_conn *c = s->live_head; c; c = c->live_next)
		if (!(c->flags & RW_C_CLOSING))
			rw__conn_close(c, 0, "OK", false);
	return 0;
}

/* Close everything abortively and wait (without events) until no SQE of this
 * server is in flight, so that its memory can go. */
static void drain_silently(rw_tcpserver *s)
{
	s->freeing = true;
	rw_tcpserver_stop_listening(s);
	for (struct rw_conn *c = s->live_head; c; c = c->live_next)
		rw__conn_close(c, 0, "OK", true);
	for (int i = 0; i < 1000 && (s->open_count || s->listener.inflight); i++)
		rw__loop_turn(s->loop, 10);
	s->freeing = false;
}

RW_API int rw_tcpserver_reset(rw_tcpserver *s)
{
	if (!s)
		return -RW_EINVAL;
	rw__workers_free(s); /* no events, as for a single loop */
	s->workers_wanted = 0;
	if (s->loop)
		drain_silently(s);
	rw__ssl_ctxs_free(s);
	s->ssl_subject[0] = 0;
	rw__settings_free(&s->set);
	rw__settings_defaults(&s->set);
	memset(&s->loop_opts, 0, sizeof(s->loop_opts));
	s->rejected = 0;
	return 0;
}

RW_API void rw_tcpserver_free(rw_tcpserver *s)
{
	if (!s)
		return;
	rw__workers_free(s);
	if (s->loop) {
		if (s->loop->ring_ok)
			drain_silently(s);
		/* Whatever did not drain (a wedged kernel op) is released with the ring. */
		while (s->live_head)
			rw__conn_destroy_now(s->live_head);
		rw__loop_detach(s->loop, s);
		if (s->own_loop)
			rw_loop_free(s->loop);
	}
	rw__ssl_ctxs_free(s);
	rw__settings_free(&s->set);
	free(s->locals);
	free(s);
}

RW_API int rw_tcpserver_do_events(rw_tcpserver *s)
{
	if (!s)
		return -RW_EINVAL;
	if (s->workers)
		return rw__workers_do_events(s);
	if (!s->loop)
		return -RW_EBAD_STATE;
	return rw__loop_turn(s->loop, s->set.do_events_timeout);
}

RW_API int rw_tcpserver_run(rw_tcpserver *s)
{
	if (!s)
		return -RW_EINVAL;
	if (s->workers)
		return rw__workers_run(s);
	if (!s->loop)
		return -RW_EBAD_STATE;
	while (s->listening || s->conn_count > 0) {
		int rc = rw__loop_turn(s->loop, s->set.do_events_timeout);
		if (rc < 0)
			return rc;
	}
	return 0;
}
