/* tests/helpers/rwtest.c: see rwtest.h. */
#include "rwtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

double rwt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- recorder ------------------------------------------------------------ */

static void violation(rwt_rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(rwt_rec *r, const char *fmt, ...)
{
	if (r->violation[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->violation, sizeof(r->violation), fmt, ap);
	va_end(ap);
}

static uint64_t hash_id(rw_connid id)
{
	uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
	return x ^ (x >> 29);
}

static rwt_conn *tab_find(rwt_rec *r, rw_connid id, bool create)
{
	if (create && (r->tab_n + 1) * 2 > r->tab_cap) {
		size_t ncap = r->tab_cap ? r->tab_cap * 2 : 64;
		rwt_conn *nt = calloc(ncap, sizeof(*nt));
		for (size_t i = 0; i < r->tab_cap; i++) {
			if (!r->tab[i].id)
				continue;
			size_t j = hash_id(r->tab[i].id) & (ncap - 1);
			while (nt[j].id)
				j = (j + 1) & (ncap - 1);
			nt[j] = r->tab[i];
		}
		free(r->tab);
		r->tab = nt;
		r->tab_cap = ncap;
	}
	if (!r->tab_cap)
		return NULL;
	size_t j = hash_id(id) & (r->tab_cap - 1);
	while (r->tab[j].id) {
		if (r->tab[j].id == id)
			return &r->tab[j];
		j = (j + 1) & (r->tab_cap - 1);
	}
	if (!create)
		return NULL;
	memset(&r->tab[j], 0, sizeof(r->tab[j]));
	r->tab[j].id = id;
	r->tab_n++;
	return &r->tab[j];
}

rwt_conn *rwt_conn_get(rwt_rec *r, rw_connid id)
{
	return tab_find(r, id, false);
}

rw_connid rwt_id(const rwt_rec *r, size_t n)
{
	return n < r->order_n ? r->order[n] : 0;
}

static rwt_event *push(rwt_rec *r, enum rwt_ev_type type, rw_connid id)
{
	static rwt_event scratch;
	if (!r->record_events) {
		memset(&scratch, 0, sizeof(scratch));
		return &scratch;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->ev = realloc(r->ev, r->cap * sizeof(*r->ev));
	}
	rwt_event *e = &r->ev[r->n++];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->id = id;
	e->t_ms = rwt_now_ms();
	e->in_send = r->in_send;
	return e;
}

static void copy_desc(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "(null)");
}

static void ev_request(rw_tcpserver *s, rw_tcpserver_connection_request *e, void *u)
{
	rwt_rec *r = u;
	rwt_event *ev = push(r, RWT_REQUEST, 0);
	copy_desc(ev->addr, sizeof(ev->addr), e->address);
	ev->port = e->port;
	ev->accept_initial = e->accept;
	r->requests++;
	if (r->on_request)
		r->on_request(r, s, e);
	ev->accept_final = e->accept;
	if (e->accept)
		r->pending_accepts++;
}

static void ev_connected(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u)
{
	rwt_rec *r = u;
	rwt_event *ev = push(r, RWT_CONNECTED, e->connection_id);
	ev->status = e->status_code;
	copy_desc(ev->desc, sizeof(ev->desc), e->description);
	r->connected++;
	if (e->connection_id <= 0)
		violation(r, "Connected with non-positive id %lld", (long long)e->connection_id);
	rwt_conn *c = tab_find(r, e->connection_id, true);
	if (c->connected_n)
		violation(r, "second Connected for id %lld", (long long)e->connection_id);
	if (r->pending_accepts <= 0)
		violation(r, "Connected(%lld) without an accepted ConnectionRequest before it",
		          (long long)e->connection_id);
	else
		r->pending_accepts--;
	if (e->status_code != 0 || !e->description || strcmp(e->description, "OK") != 0)
		violation(r, "Connected(%lld) status %d desc '%s', expected 0 'OK'",
		          (long long)e->connection_id, e->status_code, e->description ? e->description : "(null)");
	c->connected_n++;
	c->state = 1;
	c->remote_port = rw_tcpserver_get_remote_port(s, e->connection_id);
	if (rw_tcpserver_get_remote_host(s, e->connection_id, c->remote_host, sizeof(c->remote_host)) < 0)
		c->remote_host[0] = 0;
	if (r->order_n == r->order_cap) {
		r->order_cap = r->order_cap ? r->order_cap * 2 : 64;
		r->order = realloc(r->order, r->order_cap * sizeof(*r->order));
	}
	r->order[r->order_n++] = e->connection_id;
	if (r->on_connected)
		r->on_connected(r, s, e);
}

/* One echo send attempt (shared by the first send and the resends): true when
 * all len bytes went out; on -RW_EWOULDBLOCK counts it and sets *took to the
 * bytes the library kept (BytesSent, checked <= len); on any other failure
 * records the first echo error (what names the attempt) and sets *took = -1. */
static bool echo_send(rwt_rec *r, rw_tcpserver *s, rwt_conn *c, const uint8_t *p, size_t len,
                      const char *what, int64_t *took)
{
	*took = -1;
	int rc = rw_tcpserver_send(s, c->id, p, len);
	if (rc == 0)
		return true;
	if (rc != -RW_EWOULDBLOCK) {
		if (!r->echo_error[0])
			snprintf(r->echo_error, sizeof(r->echo_error), "%s on %lld: %d (%s)", what,
			         (long long)c->id, rc, rw_strerror(rc));
		return false;
	}
	c->echo_wouldblock++;
	int64_t t = rw_tcpserver_get_bytes_sent(s, c->id);
	if (t < 0 || (size_t)t > len) {
		if (!r->echo_error[0])
			snprintf(r->echo_error, sizeof(r->echo_error), "BytesSent %lld after WOULDBLOCK on %zu bytes",
			         (long long)t, len);
		return false;
	}
	*took = t;
	return false;
}

static void echo_flush(rwt_rec *r, rw_tcpserver *s, rwt_conn *c)
{
	while (c->pending_off < c->pending_len) {
		size_t left = c->pending_len - c->pending_off;
		int64_t took;
		if (echo_send(r, s, c, c->pending + c->pending_off, left, "resend", &took)) {
			c->pending_off = c->pending_len;
			break;
		}
		if (took >= 0)
			c->pending_off += (size_t)took;
		return; /* error recorded, or wait for ReadyToSend */
	}
	free(c->pending);
	c->pending = NULL;
	c->pending_len = c->pending_off = 0;
	rw_tcpserver_process_data(s, c->id);
}

static void echo_data(rwt_rec *r, rw_tcpserver *s, rwt_conn *c, const rw_tcpserver_data_in *e)
{
	if (c->pending) { /* paused, but the pause may not be immediate: keep order */
		c->pending = realloc(c->pending, c->pending_len + e->text_len);
		memcpy(c->pending + c->pending_len, e->text, e->text_len);
		c->pending_len += e->text_len;
		return;
	}
	int64_t took;
	if (echo_send(r, s, c, (const uint8_t *)e->text, e->text_len, "send", &took) || took < 0)
		return;
	size_t rest = e->text_len - (size_t)took;
	c->pending = malloc(rest ? rest : 1);
	memcpy(c->pending, e->text + took, rest);
	c->pending_len = rest;
	c->pending_off = 0;
	rw_tcpserver_pause_data(s, e->connection_id);
}

/* The connection an event (named ev) is for, or NULL; records a contract
 * violation when the id never got Connected or already got Disconnected. */
static rwt_conn *live_conn(rwt_rec *r, rw_connid id, const char *ev)
{
	rwt_conn *c = tab_find(r, id, false);
	if (!c)
		violation(r, "%s for id %lld that never got Connected", ev, (long long)id);
	else if (c->state == 3)
		violation(r, "%s for id %lld after its Disconnected", ev, (long long)id);
	return c;
}

static void ev_data(rw_tcpserver *s, const rw_tcpserver_data_in *e, void *u)
{
	rwt_rec *r = u;
	rwt_conn *c = live_conn(r, e->connection_id, "DataIn");
	if (c && c->state == 1)
		violation(r, "DataIn for id %lld before its ReadyToSend", (long long)e->connection_id);
	rwt_event *ev = push(r, RWT_DATA, e->connection_id);
	ev->eol = e->eol;
	ev->len = e->text_len;
	if (r->copy_data && r->record_events) {
		ev->data = malloc(e->text_len + 1);
		memcpy(ev->data, e->text, e->text_len);
		ev->data[e->text_len] = 0;
	}
	r->data_events++;
	r->data_bytes += e->text_len;
	if (c) {
		c->data_events++;
		c->data_bytes += e->text_len;
	}
	if (r->on_data)
		r->on_data(r, s, e);
	if (r->echo && c)
		echo_data(r, s, c, e);
}

static void ev_ready(rw_tcpserver *s, const rw_tcpserver_ready_to_send *e, void *u)
{
	rwt_rec *r = u;
	rwt_conn *c = live_conn(r, e->connection_id, "ReadyToSend");
	push(r, RWT_READY, e->connection_id);
	r->ready++;
	if (c) {
		c->ready_n++;
		if (c->state == 1)
			c->state = 2;
	}
	if (r->on_ready)
		r->on_ready(r, s, e);
	if (r->echo && c && c->pending)
		echo_flush(r, s, c);
}

static void ev_disconnected(rw_tcpserver *s, const rw_tcpserver_disconnected *e, void *u)
{
	rwt_rec *r = u;
	rwt_conn *c = tab_find(r, e->connection_id, false);
	if (!c)
		violation(r, "Disconnected for id %lld that never got Connected", (long long)e->connection_id);
	else if (c->disconnected_n)
		violation(r, "second Disconnected for id %lld", (long long)e->connection_id);
	rwt_event *ev = push(r, RWT_DISCONNECTED, e->connection_id);
	ev->status = e->status_code;
	copy_desc(ev->desc, sizeof(ev->desc), e->description);
	r->disconnected++;
	if (c) {
		c->disconnected_n++;
		c->state = 3;
		c->disc_status = e->status_code;
		free(c->pending);
		c->pending = NULL;
		c->pending_len = c->pending_off = 0;
	}
	if (r->on_disconnected)
		r->on_disconnected(r, s, e);
}

static void ev_error(rw_tcpserver *s, const rw_tcpserver_error *e, void *u)
{
	rwt_rec *r = u;
	rwt_event *ev = push(r, RWT_ERROR, e->connection_id);
	ev->status = e->error_code;
	copy_desc(ev->desc, sizeof(ev->desc), e->description);
	r->errors++;
}

static void ev_log(rw_tcpserver *s, int level, const char *message, void *u)
{
	rwt_rec *r = u;
	snprintf(r->log_last, sizeof(r->log_last), "%s", message ? message : "");
}

void rwt_rec_init(rwt_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->copy_data = true;
	r->record_events = true;
}

void rwt_rec_attach(rwt_rec *r, rw_tcpserver *s)
{
	rw_tcpserver_events ev = {
		.connection_request = ev_request,
		.connected = ev_connected,
		.data_in = ev_data,
		.disconnected = ev_disconnected,
		.ready_to_send = ev_ready,
		.error = ev_error,
		.log = ev_log,
	};
	rw_tcpserver_set_events(s, &ev, r);
}

void rwt_rec_free(rwt_rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ev[i].data);
	free(r->ev);
	for (size_t i = 0; i < r->tab_cap; i++)
		free(r->tab[i].pending);
	free(r->tab);
	free(r->order);
	memset(r, 0, sizeof(*r));
}

size_t rwt_ev_count(const rwt_rec *r, rw_connid id, int type)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		if ((id < 0 || r->ev[i].id == id) && (!type || (int)r->ev[i].type == type))
			n++;
	return n;
}

const rwt_event *rwt_ev_nth(const rwt_rec *r, rw_connid id, int type, size_t n)
{
	for (size_t i = 0; i < r->n; i++)
		if ((id < 0 || r->ev[i].id == id) && (!type || (int)r->ev[i].type == type))
			if (n-- == 0)
				return &r->ev[i];
	return NULL;
}

const char *rwt_first_error(const rwt_rec *r)
{
	static char buf[160];
	const rwt_event *e = rwt_ev_nth(r, -1, RWT_ERROR, 0);
	if (!e)
		return "(none recorded)";
	snprintf(buf, sizeof(buf), "id %lld code %d %s", (long long)e->id, e->status, e->desc);
	return buf;
}

uint8_t *rwt_data_concat(const rwt_rec *r, rw_connid id, size_t *len)
{
	size_t total = 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->ev[i].type == RWT_DATA && r->ev[i].id == id)
			total += r->ev[i].len;
	uint8_t *out = malloc(total + 1), *p = out;
	for (size_t i = 0; i < r->n; i++)
		if (r->ev[i].type == RWT_DATA && r->ev[i].id == id && r->ev[i].data) {
			memcpy(p, r->ev[i].data, r->ev[i].len);
			p += r->ev[i].len;
		}
	*len = (size_t)(p - out);
	return out;
}

/* ---- servers and pumping --------------------------------------------------- */

rw_tcpserver *rwt_server_new(rwt_rec *rec)
{
	rw_tcpserver *s = rw_tcpserver_new();
	cr_assert_not_null(s);
	rwt_config(s, "DoEventsTimeout=50");
	cr_assert_eq(rw_tcpserver_set_local_host(s, "127.0.0.1"), 0);
	cr_assert_eq(rw_tcpserver_set_local_port(s, 0), 0);
	if (rec)
		rwt_rec_attach(rec, s);
	return s;
}

int rwt_server_start(rw_tcpserver *s)
{
	int rc = rw_tcpserver_start_listening(s);
	cr_assert_eq(rc, 0, "start_listening: %d (%s)", rc, rw_strerror(rc));
	int port = rw_tcpserver_get_local_port(s);
	cr_assert(port > 0 && port < 65536, "LocalPort after start_listening: %d", port);
	char got[16] = "";
	rw_tcpserver_config(s, "Backend", got, sizeof(got));
	rwt_expect_backend(got);
	return port;
}

void rwt_expect_backend(const char *got)
{
	/* The suites that run again on the epoll backend (and under the seccomp
	 * launcher) name the backend they expect: a silent run on io_uring
	 * would prove nothing about epoll. */
	const char *want = getenv("RWT_EXPECT_BACKEND");
	if (want && *want)
		cr_assert_str_eq(got, want, "backend in use");
}

void rwt_server_end(rw_tcpserver *s, rwt_rec *rec)
{
	RWT_ASSERT_CLEAN(rec);
	rw_tcpserver_free(s);
	rwt_rec_free(rec);
}

int rwt_connect_ready(rw_tcpserver *s, rwt_rec *rec, int port, int io_timeout_ms, int rcvbuf, rw_connid *id)
{
	int want = rec->ready + 1;
	int fd = rwt_connect_opts("127.0.0.1", port, io_timeout_ms, rcvbuf, NULL);
	cr_assert(fd >= 0, "connect to port %d: %s", port, strerror(-fd));
	pump_until_ge(s, &rec->ready, want, 5000);
	*id = rec->order[rec->order_n - 1];
	return fd;
}

void rwt_close_all_end(rw_tcpserver *s, rwt_rec *rec, const int *fds, size_t n, int want_disc)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	pump_until_ge(s, &rec->disconnected, want_disc, 5000);
	rwt_server_end(s, rec);
}

void rwt_config(rw_tcpserver *s, const char *setting)
{
	int rc = rw_tcpserver_config(s, setting, NULL, 0);
	cr_assert_eq(rc, 0, "Config(\"%s\"): %d (%s)", setting, rc, rw_strerror(rc));
}

const char *rwt_config_get(rw_tcpserver *s, const char *name)
{
	static char buf[512];
	int rc = rw_tcpserver_config(s, name, buf, sizeof(buf));
	cr_assert(rc >= 0, "Config(\"%s\"): %d (%s)", name, rc, rw_strerror(rc));
	cr_assert_eq((size_t)rc, strlen(buf), "Config(\"%s\") returned %d for \"%s\"", name, rc, buf);
	return buf;
}

/* One turn of a server or of a shared loop, for wait_until. */
static int turn_server(void *s)
{
	return rw_tcpserver_do_events(s);
}

static int turn_loop(void *l)
{
	return rw_loop_do_events(l, 50);
}

/* The bounded wait behind both pump_until variants: check pred, give up once
 * timeout_ms has passed, else turn once (asserting the turn did not fail). */
static bool wait_until(int (*turn)(void *), void *obj, const char *what, rwt_pred pred, void *ctx,
                       int timeout_ms)
{
	double end = rwt_now_ms() + timeout_ms;
	for (;;) {
		if (pred(ctx))
			return true;
		if (rwt_now_ms() > end)
			return false;
		int rc = turn(obj);
		cr_assert(rc >= 0, "%s: %d (%s)", what, rc, rw_strerror(rc));
	}
}

bool rwt_pump_until(rw_tcpserver *s, rwt_pred pred, void *ctx, int timeout_ms)
{
	return wait_until(turn_server, s, "do_events", pred, ctx, timeout_ms);
}

bool rwt_loop_pump_until(rw_loop *l, rwt_pred pred, void *ctx, int timeout_ms)
{
	return wait_until(turn_loop, l, "rw_loop_do_events", pred, ctx, timeout_ms);
}

static bool never(void *ctx)
{
	return false;
}

void rwt_pump_for(rw_tcpserver *s, int ms)
{
	rwt_pump_until(s, never, NULL, ms);
}

bool rwt_pred_ge(void *ctx)
{
	struct rwt_ge *g = ctx;
	int64_t v = g->width == 4 ? (int64_t)*(const volatile int *)g->p : *(const volatile int64_t *)g->p;
	return v >= g->want;
}

/* ---- threads ----------------------------------------------------------------- */

static void *thread_main(void *arg)
{
	rwt_thread *t = arg;
	t->fn(t);
	atomic_store(&t->done, 1);
	return NULL;
}

void rwt_thread_start(rwt_thread *t, void (*fn)(rwt_thread *t), void *arg)
{
	/* keep caller-set parameters (port, host) */
	int port = t->port;
	const char *host = t->host;
	memset(t, 0, sizeof(*t));
	t->port = port;
	t->host = host ? host : "127.0.0.1";
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	cr_assert_eq(pthread_create(&t->th, NULL, thread_main, t), 0);
	t->started = true;
}

void rwt_fail(rwt_thread *t, const char *fmt, ...)
{
	if (t->err[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
}

void rwt_pinger_thread(rwt_thread *t)
{
	rwt_pinger *p = t->arg;
	for (int i = 0; i < p->max_pings && !atomic_load(&p->until->flag); i++) {
		char msg[32], back[32];
		int n = snprintf(msg, sizeof(msg), "ping-%06d", i);
		int rc = rwt_exchange(p->fd, msg, (size_t)n, back, (size_t)n, 10000);
		if (rc < 0 || memcmp(msg, back, (size_t)n) != 0) {
			rwt_fail(t, "ping %d: %s", i, rc < 0 ? strerror(-rc) : "echo differs");
			return;
		}
		p->pings++;
	}
}

bool rwt_thread_done(void *t)
{
	return atomic_load(&((rwt_thread *)t)->done) != 0;
}

void rwt_thread_join(rwt_thread *t)
{
	if (t->started) {
		pthread_join(t->th, NULL);
		t->started = false;
	}
}

void rwt_thread_go(rwt_thread *t)
{
	pthread_mutex_lock(&t->mu);
	t->go = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

bool rwt_thread_wait_go(rwt_thread *t, int timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&t->mu);
	while (!t->go)
		if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) == ETIMEDOUT)
			break;
	bool go = t->go;
	pthread_mutex_unlock(&t->mu);
	return go;
}

/* ---- sockets ------------------------------------------------------------------- */

static int make_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return AF_INET6;
	}
	return -1;
}

int rwt_connect_opts(const char *host, int port, int io_timeout_ms, int rcvbuf, const char *bind_addr)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fam = make_addr(host, port, &ss, &sl);
	if (fam < 0)
		return -EINVAL;
	int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct timeval tv = {.tv_sec = io_timeout_ms / 1000, .tv_usec = (io_timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind_addr) {
		struct sockaddr_storage bs;
		socklen_t bl;
		if (make_addr(bind_addr, 0, &bs, &bl) < 0 || bind(fd, (struct sockaddr *)&bs, bl) < 0) {
			int err = errno ? errno : EINVAL;
			close(fd);
			return -err;
		}
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int rwt_connect(const char *host, int port, int io_timeout_ms)
{
	return rwt_connect_opts(host, port, io_timeout_ms, 0, NULL);
}

int rwt_send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t rwt_recv_n(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = recv(fd, (uint8_t *)buf + got, n - got, 0);
		if (k == 0)
			break;
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)k;
	}
	return (ssize_t)got;
}

int rwt_recv_end(int fd)
{
	char c;
	for (;;) {
		ssize_t k = recv(fd, &c, 1, 0);
		if (k == 0)
			return 0;
		if (k > 0)
			return 1;
		if (errno == EINTR)
			continue;
		return -errno;
	}
}

void rwt_close_rst(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

int rwt_sock_port(int fd, bool peer, char *addr, size_t addr_len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &sl) : getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (rc < 0)
		return -errno;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		if (addr)
			inet_ntop(AF_INET, &a->sin_addr, addr, (socklen_t)addr_len);
		return ntohs(a->sin_port);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
	if (addr)
		inet_ntop(AF_INET6, &a->sin6_addr, addr, (socklen_t)addr_len);
	return ntohs(a->sin6_port);
}

int rwt_exchange(int fd, const void *out, size_t out_len, void *in, size_t in_len, int timeout_ms)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	size_t sent = 0, got = 0;
	double end = rwt_now_ms() + timeout_ms;
	int rc = 0;
	while (got < in_len || sent < out_len) {
		double left = end - rwt_now_ms();
		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		struct pollfd p = {.fd = fd, .events = (short)((got < in_len ? POLLIN : 0) | (sent < out_len ? POLLOUT : 0))};
		int k = poll(&p, 1, (int)left + 1);
		if (k < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (k <= 0)
			continue;
		if (sent < out_len && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = send(fd, (const uint8_t *)out + sent, out_len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				break;
			}
		}
		if (got < in_len && (p.revents & (POLLIN | POLLERR | POLLHUP))) {
			ssize_t n = recv(fd, (uint8_t *)in + got, in_len - got, 0);
			if (n > 0)
				got += (size_t)n;
			else if (n == 0) {
				rc = -EPIPE; /* EOF before everything came back */
				break;
			} else if (errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				break;
			}
		}
	}
	fcntl(fd, F_SETFL, fl);
	return rc;
}

struct recv_ctx {
	int fd;
	uint8_t *buf;
	size_t n, got;
	int end; /* 2 = not yet */
};

static bool recv_pred(void *p)
{
	struct recv_ctx *c = p;
	while (c->got < c->n) {
		ssize_t k = recv(c->fd, c->buf + c->got, c->n - c->got, MSG_DONTWAIT);
		if (k > 0) {
			c->got += (size_t)k;
			continue;
		}
		if (k == 0 || (errno != EAGAIN && errno != EINTR))
			return true; /* EOF or error: stop */
		return false;
	}
	return true;
}

size_t rwt_pump_recv(rw_tcpserver *s, int fd, void *buf, size_t n, int timeout_ms)
{
	struct recv_ctx c = {.fd = fd, .buf = buf, .n = n};
	rwt_pump_until(s, recv_pred, &c, timeout_ms);
	return c.got;
}

static bool end_pred(void *p)
{
	struct recv_ctx *c = p;
	char b;
	ssize_t k = recv(c->fd, &b, 1, MSG_DONTWAIT);
	if (k == 0)
		c->end = 0;
	else if (k > 0)
		c->end = 1;
	else if (errno == EAGAIN || errno == EINTR)
		return false;
	else
		c->end = -errno;
	return true;
}

int rwt_pump_recv_end(rw_tcpserver *s, int fd, int timeout_ms)
{
	struct recv_ctx c = {.fd = fd, .end = 2};
	if (!rwt_pump_until(s, end_pred, &c, timeout_ms))
		return -ETIMEDOUT;
	return c.end;
}

bool rwt_pump_echo(rw_tcpserver *s, int fd, const void *msg, size_t len, int timeout_ms)
{
	if (rwt_send_all(fd, msg, len) < 0)
		return false;
	uint8_t *buf = malloc(len ? len : 1);
	size_t got = rwt_pump_recv(s, fd, buf, len, timeout_ms);
	bool ok = got == len && memcmp(buf, msg, len) == 0;
	free(buf);
	return ok;
}

/* ---- random ---------------------------------------------------------------------- */

uint64_t rwt_splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void rwt_pattern(uint64_t seed, uint64_t offset, void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t block = offset / 8;
	size_t skip = (size_t)(offset % 8);
	while (len) {
		uint64_t st = seed ^ (block * 0xD1B54A32D192ED03ull);
		uint64_t v = rwt_splitmix(&st);
		uint8_t b[8];
		memcpy(b, &v, 8);
		size_t take = 8 - skip;
		if (take > len)
			take = len;
		memcpy(p, b + skip, take);
		p += take;
		len -= take;
		skip = 0;
		block++;
	}
}

uint8_t *rwt_random(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	rwt_pattern(seed, 0, p, len);
	for (size_t i = 0; i < len; i += 97)
		p[i] = 0;
	return p;
}

/* ---- processes ----------------------------------------------------------------------- */

int rwt_proc_spawn(rwt_proc *p, char *const argv[], bool with_stdin)
{
	memset(p, 0, sizeof(*p));
	p->in_fd = -1;
	int out[2], in[2] = {-1, -1};
	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (with_stdin && pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (with_stdin)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	int rc = posix_spawnp(&p->pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	if (with_stdin)
		close(in[0]);
	if (rc != 0) {
		close(out[0]);
		if (with_stdin)
			close(in[1]);
		return -rc;
	}
	p->out_fd = out[0];
	fcntl(p->out_fd, F_SETFL, fcntl(p->out_fd, F_GETFL) | O_NONBLOCK);
	p->in_fd = with_stdin ? in[1] : -1;
	p->out_cap = 4096;
	p->out = calloc(1, p->out_cap);
	return 0;
}

int rwt_python(rwt_proc *p, const char *script, const char *const *args)
{
	const char *argv[32] = {"python3", "-c", script};
	int n = 3;
	for (; args && *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return rwt_proc_spawn(p, (char *const *)argv, false);
}

static void proc_drain(rwt_proc *p)
{
	if (p->out_fd < 0)
		return;
	for (;;) {
		if (p->out_len + 4096 + 1 > p->out_cap) {
			p->out_cap *= 2;
			p->out = realloc(p->out, p->out_cap);
		}
		ssize_t k = read(p->out_fd, p->out + p->out_len, p->out_cap - p->out_len - 1);
		if (k > 0) {
			p->out_len += (size_t)k;
			p->out[p->out_len] = 0;
			continue;
		}
		if (k == 0) {
			close(p->out_fd);
			p->out_fd = -1;
		}
		return;
	}
}

bool rwt_proc_done(void *arg)
{
	rwt_proc *p = arg;
	proc_drain(p);
	if (!p->exited) {
		int st;
		pid_t r = waitpid(p->pid, &st, WNOHANG);
		if (r == p->pid) {
			p->exited = true;
			p->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
	}
	if (p->exited)
		proc_drain(p);
	return p->exited && p->out_fd < 0;
}

void rwt_python_client(rw_tcpserver *s, rwt_proc *p, const char *script, int port, int timeout_ms)
{
	char ports[16];
	snprintf(ports, sizeof(ports), "%d", port);
	const char *args[] = {ports, NULL};
	cr_assert_eq(rwt_python(p, script, args), 0);
	rwt_proc_finish(s, p, timeout_ms);
}

void rwt_proc_kill(rwt_proc *p)
{
	if (p->pid > 0 && !p->exited) {
		kill(p->pid, SIGKILL);
		int st;
		waitpid(p->pid, &st, 0);
		p->exited = true;
		p->exit_code = 128 + SIGKILL;
	}
}

void rwt_proc_free(rwt_proc *p)
{
	rwt_proc_kill(p);
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->in_fd >= 0)
		close(p->in_fd);
	free(p->out);
	memset(p, 0, sizeof(*p));
	p->out_fd = p->in_fd = -1;
}

/* ---- misc ------------------------------------------------------------------------------- */

bool rwt_have_ipv6_loopback(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

const char *rwt_hex(const void *p, size_t len)
{
	static char buf[3 * 48 + 8];
	size_t n = len < 48 ? len : 48, o = 0;
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%02x ", ((const uint8_t *)p)[i]);
	if (len > n)
		snprintf(buf + o, sizeof(buf) - o, "...");
	return buf;
}
