/* src/dtls_server.c: DTLSServer's lifecycle (new/free, StartListening,
 * StopListening, Shutdown, DoEvents, run), its events' helpers, and its part
 * of each loop turn: cookie-secret rotation, retransmission and handshake
 * timers, the idle sweep and the deferred events (ProcessData deliveries,
 * Connected/Disconnected of closed sessions). */
#include "dtls_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rw__dtls_fire_error(struct rw_dtlsserver *s, rw_connid id, int code, const char *text)
{
	rw_dtlsserver_error e = {id, code, text};
	if (s->ev.error && !s->freeing)
		s->ev.error(s, &e, s->user);
}

void rw__dtls_log(struct rw_dtlsserver *s, int level, const char *fmt, ...)
{
	if (!s->ev.log || level > s->set.log_level || s->freeing)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->ev.log(s, level, msg, s->user);
}

void rw__dtls_ssl_status(struct rw_dtls_sess *x, const char *fmt, ...)
{
	struct rw_dtlsserver *s = x->srv;
	if (!s->ev.ssl_status || s->freeing)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rw_dtlsserver_ssl_status e = {x->id, msg};
	s->ev.ssl_status(s, &e, s->user);
}

void rw__dtls_timer_at(struct rw_dtlsserver *s, int64_t when_ms)
{
	if (!s->next_timer_ms || when_ms < s->next_timer_ms)
		s->next_timer_ms = when_ms;
}

static void update_wake(struct rw_dtlsserver *s)
{
	int64_t w = s->next_timer_ms;
	if (s->head && (!w || s->next_sweep_ms < w))
		w = s->next_sweep_ms;
	s->client.wake_ms = w;
}

/* The loop client's turn: after the CQEs of each loop turn. */
static void on_turn(struct rw_loop_client *c, int64_t now)
{
	struct rw_dtlsserver *s = (struct rw_dtlsserver *)((char *)c - offsetof(struct rw_dtlsserver, client));
	if (s->dispatching || s->freeing) /* a nested turn inside one of our events */
		return;
	s->dispatching++;
	if (s->fd >= 0)
		rw__dtls_cookie_rotate(s, now);
	if (s->next_timer_ms && now >= s->next_timer_ms)
		rw__dtls_sess_timers(s, now);
	if (now >= s->next_sweep_ms) {
		s->next_sweep_ms = now + 1000;
		rw__dtls_sess_sweep(s, now);
	}
	rw__dtls_run_deferred(s);
	s->dispatching--;
	/* After Shutdown, the socket goes once the last connection has. */
	if (!s->listening && s->shutting_down && !s->head && !s->tx_inflight && s->fd >= 0) {
		rw__dtls_socket_close(s);
		rw__dtls_ctx_free(s); /* certificates may change before a restart */
	}
	update_wake(s);
}

static rw_dtlsserver *server_alloc(void)
{
	rw_dtlsserver *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	rw__dtls_settings_defaults(&s->set);
	s->fd = -1;
	s->next_seq = 1;
	s->client.turn = on_turn;
	rw__dtls_rxop_init(s);
	return s;
}

RW_API rw_dtlsserver *rw_dtlsserver_new(void)
{
	return server_alloc();
}

RW_API rw_dtlsserver *rw_dtlsserver_new_on_loop(rw_loop *loop)
{
	if (!loop)
		return NULL;
	rw_dtlsserver *s = server_alloc();
	if (!s)
		return NULL;
	s->loop = loop;
	rw__loop_add_client(loop, &s->client);
	return s;
}

RW_API void rw_dtlsserver_set_events(rw_dtlsserver *s, const rw_dtlsserver_events *events, void *user)
{
	if (!s)
		return;
	if (events)
		s->ev = *events;
	else
		memset(&s->ev, 0, sizeof(s->ev));
	s->user = user;
}

RW_API rw_loop *rw_dtlsserver_get_loop(rw_dtlsserver *s)
{
	return s ? s->loop : NULL;
}

static int ensure_loop(rw_dtlsserver *s)
{
	if (s->loop)
		return 0;
	/* One UDP socket and no fixed files: a small table is enough. */
	rw_loop_options o = {.max_fixed_files = 16, .backend = s->set.backend};
	struct rw_loop *l;
	int rc = rw__loop_create(&l, &o, 1);
	if (rc == -RW_EURING_UNAVAILABLE)
		rw__dtls_log(s, RW_LOG_ERROR, "%s", rw_loop_unavailable_reason());
	if (rc < 0)
		return rc;
	s->loop = l;
	s->own_loop = true;
	rw__loop_add_client(l, &s->client);
	return 0;
}

RW_API int rw_dtlsserver_start_listening(rw_dtlsserver *s)
{
	if (!s)
		return -RW_EINVAL;
	if (s->listening)
		return -RW_EALREADY_LISTENING;
	if (s->fd >= 0) { /* resume after StopListening on the open socket */
		s->listening = true;
		s->shutting_down = false;
		return 0;
	}
#if !defined(WOLFSSL_DTLS_CID) || !defined(WOLFSSL_DTLS13)
	if (s->set.use_cid)
		return -RW_ENOT_SUPPORTED;
#endif
	/* The certificate first: a server that cannot handshake creates no loop. */
	int rc = 0;
	if (!s->ctx && (rc = rw__dtls_ctx_new(s)) < 0)
		return rc;
	if ((rc = ensure_loop(s)) < 0)
		return rc;
	const char *why = rw__loop_take_fallback(s->loop);
	if (why)
		rw__dtls_log(s, RW_LOG_WARN, "io_uring is unavailable, running on the epoll backend: %s", why);
	if (!s->buckets && (rc = rw__dtls_table_init(s)) < 0)
		return rc;
	if ((rc = rw__dtls_small_init(s)) < 0)
		return rc;
	if ((rc = rw__dtls_socket_open(s)) < 0)
		return rc;
	rw__dtls_cookie_init(s);
	s->next_sweep_ms = s->loop->now_ms + 1000;
	s->listening = true;
	s->shutting_down = false;
	return 0;
}

RW_API int rw_dtlsserver_stop_listening(rw_dtlsserver *s)
{
	if (!s)
		return -RW_EINVAL;
	s->listening = false;
	return 0;
}

RW_API int rw_dtlsserver_shutdown(rw_dtlsserver *s)
{
	if (!s)
		return -RW_EINVAL;
	s->listening = false;
	s->shutting_down = true;
	for (struct rw_dtls_sess *x = s->head; x; x = x->next)
		if (x->state != RW_DS_CLOSING)
			rw__dtls_sess_close(x, 0, "OK", true);
	if (s->loop)
		update_wake(s);
	return 0;
}

/* Drop every session without events, close the socket and turn the loop
 * until the kernel has let go of every buffer this server handed it. */
static void drain_silently(rw_dtlsserver *s)
{
	s->freeing = true;
	s->listening = false;
	while (s->head)
		rw__dtls_sess_destroy(s->head);
	s->defer_head = s->defer_tail = NULL;
	rw__dtls_socket_close(s);
	for (int i = 0; i < 1000 && (s->recv_inflight || s->tx_inflight); i++)
		rw__loop_turn(s->loop, 10);
	s->freeing = false;
}

RW_API void rw_dtlsserver_free(rw_dtlsserver *s)
{
	if (!s)
		return;
	if (s->loop) {
		if (s->loop->ring_ok)
			drain_silently(s);
		rw__loop_remove_client(s->loop, &s->client);
		if (s->own_loop)
			rw_loop_free(s->loop);
	}
	rw__dtls_tx_free_all(s);
	rw__dtls_table_free(s);
	free(s->cid_map);
	rw__dtls_ctx_free(s);
	rw__dtls_settings_free(&s->set);
	free(s);
}

RW_API int rw_dtlsserver_do_events(rw_dtlsserver *s)
{
	if (!s)
		return -RW_EINVAL;
	if (!s->loop)
		return -RW_EBAD_STATE;
	return rw__loop_turn(s->loop, s->set.do_events_timeout);
}

RW_API int rw_dtlsserver_run(rw_dtlsserver *s)
{
	if (!s)
		return -RW_EINVAL;
	if (!s->loop)
		return -RW_EBAD_STATE;
	while (s->listening || s->head) {
		int rc = rw__loop_turn(s->loop, s->set.do_events_timeout);
		if (rc < 0)
			return rc;
	}
	return 0;
}
