/* src/workers_tcp.c: a multi-worker server object's server-wide methods
 * (start, stop, shutdown, drain, free, DoEvents, run, counts, Config), the
 * settings copy that seeds each worker, and TCPServer's kind of worker: a
 * plain rw_tcpserver whose events are passed to the object's events with the
 * object as the server argument, so a handler's calls route back through it. */
#include "internal.h"
#include "proto/config_parse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* ---- settings ------------------------------------------------------------------ */

static void *memdup0(const void *p, size_t n)
{
	uint8_t *c = malloc(n + 1); /* NUL-terminated like the setters' copies */
	if (c) {
		memcpy(c, p, n);
		c[n] = 0;
	}
	return c;
}

int rw__settings_copy(struct rw_tcp_settings *dst, const struct rw_tcp_settings *src)
{
	*dst = *src;
	memset(&dst->allowed, 0, sizeof(dst->allowed));
	memset(&dst->blocked, 0, sizeof(dst->blocked));
	char **strs[] = {&dst->local_host, &dst->allowed_text, &dst->blocked_text, &dst->ssl_cert_subject,
	                 &dst->ssl_cert_store_password, &dst->ssl_alpn, &dst->ssl_cipher_suites,
	                 &dst->ssl_keylog_file, &dst->ssl_groups13, &dst->ssl_groups12, &dst->ssl_sigalgs13,
	                 &dst->ssl_sigalgs12, &dst->ssl_client_ca_certs, &dst->ssl_ca_file};
	bool ok = true;
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (*strs[i] && !(*strs[i] = strdup(*strs[i])))
			ok = false;
	if (src->ssl_cert_store && !(dst->ssl_cert_store = memdup0(src->ssl_cert_store, src->ssl_cert_store_len)))
		ok = false;
	if (src->ssl_cert_der && !(dst->ssl_cert_der = memdup0(src->ssl_cert_der, src->ssl_cert_der_len)))
		ok = false;
	if (ok && (rw_addr_list_parse(&dst->allowed, dst->allowed_text) < 0 ||
	           rw_addr_list_parse(&dst->blocked, dst->blocked_text) < 0))
		ok = false;
	if (!ok) {
		rw__settings_free(dst);
		return -RW_ENOMEM;
	}
	return 0;
}

/* ---- TCPServer workers: events pass through to the object ------------------------ */

#define MASTER(u) (rw__worker_group(u)->master)

static void t_request(rw_tcpserver *t, rw_tcpserver_connection_request *e, void *u)
{
	struct rw_tcpserver *m = MASTER(u);
	(void)t;
	if (m->ev.connection_request)
		m->ev.connection_request(m, e, m->user);
}

static void t_connected(rw_tcpserver *t, const rw_tcpserver_connected *e, void *u)
{
	struct rw_tcpserver *m = MASTER(u);
	(void)t;
	if (m->ev.connected)
		m->ev.connected(m, e, m->user);
}

static void t_data_in(rw_tcpserver *t, const rw_tcpserver_data_in *e, void *u)
{
	struct rw_tcpserver *m = MASTER(u);
	(void)t;
	if (m->ev.data_in)
		m->ev.data_in(m, e, m->user);
}

static void t_disconnected(rw_tcpserver *t, const rw_tcpserver_disconnected *e, void *u)
{
	struct rw_tcpserver *m = MASTER(u);
	(void)t;
	if (m->ev.disconnected)
		m->ev.disconnected(m, e, m->user);
}

static void t_ready(rw_tcpserver *t, const rw_tcpserver_ready_to_send *e, void *u)
{
	struct rw_tcpserver *m = MASTER(u);
	(void)t;
	if (m->ev.ready_to_send)
		m->ev.ready_to_send(m, e, m->user);
}

static void t_error(rw_tcpserver *t, const rw_tcpserver_error *e, void *u)
{
	struct rw_tcpserver *m = MASTER(u);
	(void)t;
	if (m->ev.error)
		m->ev.error(m, e, m->user);
}

static void t_ssl_auth(rw_tcpserver *t, rw_tcpserver_ssl_client_authentication *e, void *u)
{
	struct rw_tcpserver *m = MASTER(u);
	(void)t;
	if (m->ev.ssl_client_authentication)
		m->ev.ssl_client_authentication(m, e, m->user);
}

static void t_ssl_status(rw_tcpserver *t, const rw_tcpserver_ssl_status *e, void *u)
{
	struct rw_tcpserver *m = MASTER(u);
	(void)t;
	if (m->ev.ssl_status)
		m->ev.ssl_status(m, e, m->user);
}

static void t_ssl_request(rw_tcpserver *t, rw_tcpserver_ssl_connection_request *e, void *u)
{
	struct rw_tcpserver *m = MASTER(u);
	(void)t;
	if (m->ev.ssl_connection_request)
		m->ev.ssl_connection_request(m, e, m->user);
}

static void t_log(rw_tcpserver *t, int level, const char *message, void *u)
{
	struct rw_tcpserver *m = MASTER(u);
	(void)t;
	if (m->ev.log)
		m->ev.log(m, level, message, m->user);
}

static const rw_tcpserver_events pass = {
	.connection_request = t_request, .connected = t_connected, .data_in = t_data_in,
	.disconnected = t_disconnected, .ready_to_send = t_ready, .error = t_error,
	.ssl_client_authentication = t_ssl_auth, .ssl_status = t_ssl_status,
	.ssl_connection_request = t_ssl_request, .log = t_log,
};

static void *tcp_make(struct rw_tcpserver *master, void *wref, struct rw_tcpserver **tcp)
{
	(void)master;
	rw_tcpserver *t = rw_tcpserver_new();
	if (t)
		rw_tcpserver_set_events(t, &pass, wref);
	*tcp = t;
	return t;
}

static int tcp_copy(void *obj, struct rw_tcpserver *master)
{
	struct rw_tcpserver *t = obj;
	struct rw_tcp_settings fresh;
	int rc = rw__settings_copy(&fresh, &master->set);
	if (rc < 0)
		return rc;
	rw__settings_free(&t->set);
	t->set = fresh;
	t->loop_opts = master->loop_opts;
	return 0;
}

static void tcp_destroy(void *obj) { rw_tcpserver_free(obj); }
static int tcp_shutdown(void *obj) { return rw_tcpserver_shutdown(obj); }

static const struct rw_worker_kind tcp_kind = {tcp_make, tcp_copy, tcp_destroy, tcp_shutdown};

static const struct rw_worker_kind *kind_of(const struct rw_tcpserver *s)
{
	return s->worker_kind ? s->worker_kind : &tcp_kind;
}

/* ---- the object's server-wide methods ------------------------------------------- */

bool rw__workers_wanted(const struct rw_tcpserver *s) { return s->workers || s->workers_wanted > 1; }

int rw__workers_config(struct rw_tcpserver *s, const char *value, char *out, size_t out_len)
{
	int n = s->workers ? (int)rw__workers_count(s->workers) : (s->workers_wanted > 1 ? s->workers_wanted : 1);
	if (!value) {
		char tmp[16];
		int len = snprintf(tmp, sizeof(tmp), "%d", n);
		if (!out || (size_t)len + 1 > out_len)
			return -RW_EBUFFER_TOO_SMALL;
		memcpy(out, tmp, (size_t)len + 1);
		return len;
	}
	int64_t v;
	if (rw_cfg_parse_int(value, 1, RW_WORKERS_MAX, &v) < 0)
		return -RW_EBAD_VALUE;
	if (s->workers || s->listening || s->loop)
		return v == n ? 0 : -RW_EBAD_STATE; /* fixed once the workers exist */
	s->workers_wanted = (int)v;
	return 0;
}

/* Per-worker MaxConnections: the whole object's, capped by what one ring's
 * fixed-file table holds (RLIMIT_NOFILE); the object-wide limit is enforced
 * on the shared count (rw__conn_limit_reached). */
static int worker_max(int total)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 128 &&
	    (rlim_t)total > rl.rlim_cur - 64)
		return (int)(rl.rlim_cur - 64);
	return total;
}

struct start_arg {
	struct rw_tcpserver *master;
	int port;
	int bound;
};

static int start_fn(struct rw_worker *w, void *arg)
{
	struct start_arg *a = arg;
	struct rw_tcpserver *m = a->master, *t = rw__worker_tcp(w);
	int rc = kind_of(m)->copy(rw__worker_object(w), m);
	if (rc < 0)
		return rc;
	t->set.local_port = a->port;
	t->set.reuse_port = true; /* every worker listens on the port */
	t->set.max_connections = worker_max(m->set.max_connections);
	t->shared_max = m->set.max_connections;
	rc = rw_tcpserver_start_listening(t);
	if (rc == 0)
		a->bound = t->bound_port;
	return rc;
}

static int stop_fn(struct rw_worker *w, void *arg)
{
	struct rw_tcpserver *t = rw__worker_tcp(w);
	(void)arg;
	int rc = rw_tcpserver_stop_listening(t);
	/* Submit the accept's cancel now, so the port is closed when the call
	 * returns (the turn is the worker's own; events may fire in it). */
	if (t->loop && t->loop->ring_ok)
		rw__loop_turn(t->loop, 0);
	return rc;
}

int rw__workers_start(struct rw_tcpserver *s)
{
	if (s->listening)
		return -RW_EALREADY_LISTENING;
	if (!s->workers) {
		s->workers = rw__workers_create(s, (unsigned)s->workers_wanted, kind_of(s));
		if (!s->workers)
			return -RW_ENOMEM;
	}
	struct rw_workers *g = s->workers;
	/* Worker 0 binds first (and picks the port when 0 was asked); the others
	 * join it on that port with SO_REUSEPORT. */
	struct start_arg a = {s, s->set.local_port, 0};
	int rc = rw__worker_call(g, 0, start_fn, &a);
	for (unsigned i = 1; rc == 0 && i < g->n; i++) {
		a.port = a.bound;
		rc = rw__worker_call(g, i, start_fn, &a);
	}
	if (rc < 0) {
		rw__workers_each(g, stop_fn, NULL);
		return rc;
	}
	s->bound_port = a.bound;
	s->listening = true;
	return 0;
}

int rw__workers_stop(struct rw_tcpserver *s)
{
	if (!s->workers || !s->listening)
		return 0;
	s->listening = false;
	return rw__workers_each(s->workers, stop_fn, NULL);
}

static int shutdown_fn(struct rw_worker *w, void *arg)
{
	const struct rw_worker_kind *k = arg;
	return k->shutdown(rw__worker_object(w));
}

int rw__workers_shutdown(struct rw_tcpserver *s)
{
	if (!s->workers)
		return 0;
	s->listening = false;
	return rw__workers_each(s->workers, shutdown_fn, (void *)kind_of(s));
}

struct drain_arg {
	int deadline_ms, left;
};

static int drain_fn(struct rw_worker *w, void *arg)
{
	struct drain_arg *a = arg;
	int n = rw_tcpserver_drain(rw__worker_tcp(w), a->deadline_ms);
	if (n > 0)
		a->left += n;
	return 0;
}

int rw__workers_drain(struct rw_tcpserver *s, int deadline_ms)
{
	struct drain_arg a = {deadline_ms, 0};
	if (!s->workers)
		return 0;
	if (deadline_ms >= 0) /* < 0 only counts the open connections */
		s->listening = false;
	rw__workers_each(s->workers, drain_fn, &a);
	return a.left;
}

void rw__workers_free(struct rw_tcpserver *s)
{
	if (!s->workers)
		return;
	rw__workers_end(s->workers, kind_of(s));
	s->workers = NULL;
	s->listening = false;
}

static bool stopped(const struct rw_tcpserver *s)
{
	return !s->listening && rw__workers_connection_count(s) == 0;
}

/* Nothing runs on the caller's thread: wait up to DoEventsTimeout, in short
 * steps so that a stopped server returns at once. */
int rw__workers_do_events(struct rw_tcpserver *s)
{
	int64_t end = rw__now_ms() + s->set.do_events_timeout;
	do {
		if (stopped(s))
			return 0;
		struct timespec ts = {0, 5 * 1000000L};
		nanosleep(&ts, NULL);
	} while (rw__now_ms() < end);
	return 0;
}

int rw__workers_run(struct rw_tcpserver *s)
{
	while (!stopped(s)) {
		struct timespec ts = {0, 5 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 0;
}

int rw__workers_connection_count(const struct rw_tcpserver *s)
{
	return s->workers ? __atomic_load_n(&s->workers->live, __ATOMIC_RELAXED) : 0;
}

int rw__workers_connection_ids(const struct rw_tcpserver *s, int64_t *ids, size_t max)
{
	int total = 0;
	for (unsigned i = 0; s->workers && i < rw__workers_count(s->workers); i++) {
		struct rw_route r = {0};
		struct rw_tcpserver *t = rw__worker_lock(s->workers, i, &r);
		size_t got = (size_t)total < max ? (size_t)total : max;
		int n = rw_tcpserver_get_connection_ids(t, ids ? ids + got : NULL, ids ? max - got : 0);
		rw__route_end(&r);
		total += n > 0 ? n : 0;
	}
	return total;
}

int64_t rw__workers_rejected(const struct rw_tcpserver *s)
{
	int64_t sum = s->rejected;
	for (unsigned i = 0; s->workers && i < rw__workers_count(s->workers); i++) {
		struct rw_route r = {0};
		sum += rw__worker_lock(s->workers, i, &r)->rejected;
		rw__route_end(&r);
	}
	return sum;
}

int rw__workers_config_all(struct rw_tcpserver *s, const char *setting)
{
	for (unsigned i = 0; s->workers && i < rw__workers_count(s->workers); i++) {
		struct rw_route r = {0};
		int rc = rw__tcpserver_config_one(rw__worker_lock(s->workers, i, &r), setting, NULL, 0);
		rw__route_end(&r);
		if (rc < 0)
			return rc;
	}
	return 0;
}
