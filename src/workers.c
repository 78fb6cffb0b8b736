/* src/workers.c: the worker machinery of Config Workers=N (see workers.h for
 * the model): worker threads and their loop, the per-worker lock and how a
 * call is routed to it, waking a worker, and posting work to a worker's
 * thread. What a worker is (a TCPServer or a WSServer engine) comes from a
 * struct rw_worker_kind (workers_tcp.c, ws_workers.c). */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct rw_worker {
	/* First member: the loop dispatches the eventfd read's CQE here (a tag-0
	 * target, see rw_cqe_fn in internal.h). */
	_Alignas(16) rw_cqe_fn on_wake;
	struct rw_workers *group;
	unsigned idx;
	pthread_t thread;
	bool thread_started;
	/* Held by the worker's thread except while it waits in the kernel. */
	pthread_mutex_t mu;
	void *obj;                /* the worker's server object (TCP or WS) */
	struct rw_tcpserver *tcp; /* its engine */
	int efd;                  /* eventfd: other threads wake the worker */
	uint64_t efd_val;
	int wake_pending;         /* atomic: a wake is written and not yet read */
	bool read_armed, quit, no_unlock;
	/* One posted call at a time (rw_worker_call), under req_mu. */
	pthread_mutex_t req_mu;
	pthread_cond_t req_cv;
	int (*req_fn)(struct rw_worker *w, void *arg);
	void *req_arg;
	int req_rc;
	bool req_done;
};

/* The worker whose lock this thread holds (at most one, see workers.h), how
 * many routed calls deep, and the worker this thread runs (worker threads). */
static __thread struct rw_worker *t_cur;
static __thread int t_depth;
static __thread struct rw_worker *t_home;

unsigned rw__workers_count(const struct rw_workers *g) { return g->n; }

/* ---- locking and routing -------------------------------------------------- */

static void wake(struct rw_worker *w);

/* Another thread may queue SQEs but must never submit them (only the worker's
 * thread enters its ring): with the SQ nearly full (a burst of calls that
 * got the lock before the worker could), let the worker submit first. Bounded:
 * after ~1 s the call goes on and a full SQ makes it fail as it would anyway. */
static void wait_for_sq_room(struct rw_worker *w)
{
	struct rw_loop *l = w->tcp ? w->tcp->loop : NULL;
	if (!l || !l->ring_ok)
		return;
	unsigned want = rw_ring_sq_entries(&l->ring) / 2;
	for (int i = 0; i < 10000 && rw_ring_sq_space_left(&l->ring) < want; i++) {
		wake(w);
		pthread_mutex_unlock(&w->mu);
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&w->mu);
	}
}

static void enter(struct rw_route *r, struct rw_worker *w)
{
	r->w = w;
	if (t_cur == w) {
		t_depth++;
		r->swapped = false;
		return;
	}
	r->swapped = true;
	r->prev = t_cur;
	r->prev_depth = t_depth;
	if (t_cur)
		pthread_mutex_unlock(&t_cur->mu);
	pthread_mutex_lock(&w->mu);
	t_cur = w;
	t_depth = 1;
	if (t_home != w)
		wait_for_sq_room(w);
}

static void wake(struct rw_worker *w)
{
	if (__atomic_exchange_n(&w->wake_pending, 1, __ATOMIC_ACQ_REL))
		return;
	uint64_t one = 1;
	ssize_t n = write(w->efd, &one, sizeof(one));
	(void)n; /* an eventfd write fails only on counter overflow */
}

/* Work queued by another thread waits for the worker's next submit. */
static bool work_queued(struct rw_worker *w)
{
	struct rw_loop *l = w->tcp ? w->tcp->loop : NULL;
	return l && (l->flush_head || l->defer_head || rw_ring_sq_ready(&l->ring));
}

void rw__route_end(struct rw_route *r)
{
	struct rw_worker *w = r->w;
	if (!w)
		return;
	if (!r->swapped) {
		t_depth--;
		return;
	}
	if (t_home != w && work_queued(w))
		wake(w);
	pthread_mutex_unlock(&w->mu);
	t_cur = r->prev;
	t_depth = r->prev_depth;
	if (t_cur)
		pthread_mutex_lock(&t_cur->mu);
}

struct rw_tcpserver *rw__route_begin(struct rw_route *r, struct rw_workers *g, int64_t id)
{
	unsigned i = 0;
	int64_t seq = id > 0 ? id >> RW_SLOT_BITS : 0;
	if (seq >= 1)
		i = (unsigned)((seq - 1) % g->n);
	enter(r, g->w[i]);
	return g->w[i]->tcp;
}

struct rw_tcpserver *rw__worker_lock(struct rw_workers *g, unsigned i, struct rw_route *r)
{
	enter(r, g->w[i]);
	return g->w[i]->tcp;
}

void *rw__worker_obj(struct rw_workers *g, unsigned i) { return g->w[i]->obj; }

void rw__settings_enter(struct rw_workers *g, struct rw_route *r)
{
	r->prev = t_cur;
	r->prev_depth = t_depth;
	if (t_cur)
		pthread_mutex_unlock(&t_cur->mu);
	t_cur = NULL;
	t_depth = 0;
	pthread_mutex_lock(&g->set_mu);
}

void rw__settings_leave(struct rw_workers *g, struct rw_route *r)
{
	pthread_mutex_unlock(&g->set_mu);
	t_cur = r->prev;
	t_depth = r->prev_depth;
	if (t_cur)
		pthread_mutex_lock(&t_cur->mu);
}

void rw__blocking_wait(struct rw_tcpserver *s, int timeout_ms)
{
	struct rw_worker *w = s->worker;
	if (!w || t_home == w || t_cur != w) {
		rw__loop_turn(s->loop, timeout_ms);
		return;
	}
	/* Another thread's blocking send: the worker moves the bytes. */
	wake(w);
	pthread_mutex_unlock(&w->mu);
	struct timespec ts = {0, (timeout_ms < 2 ? timeout_ms : 2) * 1000000L};
	nanosleep(&ts, NULL);
	pthread_mutex_lock(&w->mu);
}

/* ---- the worker's loop ------------------------------------------------------ */

static void arm_wake_read(struct rw_worker *w)
{
	struct io_uring_sqe *sqe = w->quit ? NULL : rw__sqe(w->tcp->loop);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, w->efd, &w->efd_val, sizeof(w->efd_val), 0);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)w);
	w->read_armed = true;
}

static void on_wake(void *target, const struct io_uring_cqe *cqe)
{
	struct rw_worker *w = target;
	(void)cqe;
	w->read_armed = false;
	__atomic_store_n(&w->wake_pending, 0, __ATOMIC_RELEASE);
	arm_wake_read(w);
}

static bool request_pending(struct rw_worker *w)
{
	pthread_mutex_lock(&w->req_mu);
	bool p = w->req_fn && !w->req_done;
	pthread_mutex_unlock(&w->req_mu);
	return p;
}

/* The turn's wait (loop.c): submit under the lock, then sleep without it, so
 * that other threads' calls run meanwhile. Only the outermost turn of the
 * worker's own thread lets go: a nested turn (a blocking send inside an
 * event) runs inside a call that holds the lock. */
static int worker_wait(struct rw_loop *l, int timeout_ms)
{
	struct rw_worker *w = l->wait_arg;
	if (t_home != w || t_cur != w || t_depth != 1 || w->no_unlock || timeout_ms == 0)
		return rw_ring_submit_wait(&l->ring, timeout_ms);
	int rc = rw_ring_submit_wait(&l->ring, 0);
	if (rc < 0 || rw_ring_cq_ready(&l->ring) || request_pending(w))
		return rc;
	pthread_mutex_unlock(&w->mu);
	rc = rw_ring_wait(&l->ring, timeout_ms);
	pthread_mutex_lock(&w->mu);
	/* The epoll backend only waited for readiness: its requests run now,
	 * under the lock. */
	if (rc == 0 && rw_ring_is_epoll(&l->ring))
		rc = rw_ring_submit_wait(&l->ring, 0);
	if (rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY)
		rc = 0;
	return rc < 0 ? rc : 0;
}

static void hook_loop(struct rw_worker *w)
{
	struct rw_loop *l = w->tcp ? w->tcp->loop : NULL;
	if (!l || l->wait_hook)
		return;
	l->wait_hook = worker_wait;
	l->wait_arg = w;
}

static void run_request(struct rw_worker *w)
{
	pthread_mutex_lock(&w->req_mu);
	int (*fn)(struct rw_worker *, void *) = w->req_done ? NULL : w->req_fn;
	void *arg = w->req_arg;
	pthread_mutex_unlock(&w->req_mu);
	if (!fn)
		return;
	int rc = fn(w, arg);
	hook_loop(w); /* a start creates the loop */
	pthread_mutex_lock(&w->req_mu);
	w->req_rc = rc;
	w->req_done = true;
	pthread_cond_broadcast(&w->req_cv);
	pthread_mutex_unlock(&w->req_mu);
}

static void *worker_main(void *arg)
{
	struct rw_worker *w = arg;
	t_home = w;
	pthread_mutex_lock(&w->mu);
	t_cur = w;
	t_depth = 1;
	while (!w->quit) {
		run_request(w);
		if (w->quit)
			break;
		struct rw_loop *l = w->tcp ? w->tcp->loop : NULL;
		if (l && l->ring_ok) {
			if (!w->read_armed)
				arm_wake_read(w);
			rw__loop_turn(l, w->tcp->set.do_events_timeout);
			continue;
		}
		/* No loop yet (or a start failed before making one): wait for a call. */
		pthread_mutex_unlock(&w->mu);
		pthread_mutex_lock(&w->req_mu);
		while (!w->req_fn || w->req_done)
			pthread_cond_wait(&w->req_cv, &w->req_mu);
		pthread_mutex_unlock(&w->req_mu);
		pthread_mutex_lock(&w->mu);
	}
	t_cur = NULL;
	t_depth = 0;
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Wait on w's request state (req_mu held). A worker thread waiting for
 * another worker (a server-wide call made inside an event) keeps serving
 * calls posted to itself meanwhile: that other worker may be waiting for it
 * in the same way. */
static void wait_req(struct rw_worker *w)
{
	struct rw_worker *home = t_home;
	if (!home || home == w) {
		pthread_cond_wait(&w->req_cv, &w->req_mu);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&w->req_cv, &w->req_mu, &ts);
	pthread_mutex_unlock(&w->req_mu);
	struct rw_worker *cur = t_cur;
	int depth = t_depth;
	pthread_mutex_lock(&home->mu);
	t_cur = home;
	t_depth = 1;
	run_request(home);
	t_cur = cur;
	t_depth = depth;
	pthread_mutex_unlock(&home->mu);
	pthread_mutex_lock(&w->req_mu);
}

/* Run fn on the worker's thread and wait for it. The caller lets go of any
 * worker lock it holds meanwhile (that worker may be calling into this one). */
static int worker_call(struct rw_worker *w, int (*fn)(struct rw_worker *, void *), void *arg)
{
	if (t_home == w)
		return fn(w, arg);
	struct rw_worker *held = t_cur;
	if (held)
		pthread_mutex_unlock(&held->mu);
	pthread_mutex_lock(&w->req_mu);
	while (w->req_fn)
		wait_req(w);
	w->req_fn = fn;
	w->req_arg = arg;
	w->req_done = false;
	pthread_cond_broadcast(&w->req_cv);
	pthread_mutex_unlock(&w->req_mu);
	wake(w);
	pthread_mutex_lock(&w->req_mu);
	while (!w->req_done)
		wait_req(w);
	int rc = w->req_rc;
	w->req_fn = NULL;
	w->req_done = false;
	pthread_cond_broadcast(&w->req_cv);
	pthread_mutex_unlock(&w->req_mu);
	if (held)
		pthread_mutex_lock(&held->mu);
	return rc;
}

int rw__workers_each(struct rw_workers *g, int (*fn)(struct rw_worker *, void *), void *arg)
{
	int first = 0;
	for (unsigned i = 0; i < g->n; i++) {
		int rc = worker_call(g->w[i], fn, arg);
		if (rc < 0 && !first)
			first = rc;
	}
	return first;
}

int rw__worker_call(struct rw_workers *g, unsigned i, int (*fn)(struct rw_worker *, void *), void *arg)
{
	return worker_call(g->w[i], fn, arg);
}

struct rw_tcpserver *rw__worker_tcp(struct rw_worker *w) { return w->tcp; }
void *rw__worker_object(struct rw_worker *w) { return w->obj; }
unsigned rw__worker_index(struct rw_worker *w) { return w->idx; }
struct rw_workers *rw__worker_group(struct rw_worker *w) { return w->group; }

/* ---- creating and ending workers -------------------------------------------- */

static void worker_destroy(struct rw_worker *w)
{
	if (w->efd >= 0)
		close(w->efd);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->req_mu);
	pthread_cond_destroy(&w->req_cv);
	free(w);
}

static int end_fn(struct rw_worker *w, void *arg)
{
	const struct rw_worker_kind *k = arg;
	/* Freeing turns the loop until the kernel lets go: keep the lock, no
	 * other thread may touch a server that is going away. */
	w->no_unlock = true;
	if (w->obj)
		k->destroy(w->obj);
	w->obj = NULL;
	w->tcp = NULL;
	w->quit = true;
	return 0;
}

void rw__workers_end(struct rw_workers *g, const struct rw_worker_kind *k)
{
	for (unsigned i = 0; i < g->n; i++) {
		struct rw_worker *w = g->w[i];
		if (!w)
			continue;
		if (w->thread_started) {
			worker_call(w, end_fn, (void *)k);
			pthread_join(w->thread, NULL);
		} else if (w->obj) {
			k->destroy(w->obj);
		}
		worker_destroy(w);
	}
	pthread_mutex_destroy(&g->set_mu);
	free(g);
}

struct rw_workers *rw__workers_create(struct rw_tcpserver *master, unsigned n, const struct rw_worker_kind *k)
{
	struct rw_workers *g = calloc(1, sizeof(*g) + n * sizeof(g->w[0]));
	if (!g)
		return NULL;
	g->n = n;
	g->master = master;
	/* Recursive: WSServer's Config passes TCP settings on to the engine's. */
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&g->set_mu, &ma);
	pthread_mutexattr_destroy(&ma);
	for (unsigned i = 0; i < n; i++) {
		struct rw_worker *w = aligned_alloc(16, (sizeof(*w) + 15) & ~(size_t)15);
		if (!w)
			goto fail;
		memset(w, 0, sizeof(*w));
		w->on_wake = on_wake;
		w->group = g;
		w->idx = i;
		w->efd = eventfd(0, EFD_CLOEXEC);
		pthread_mutex_init(&w->mu, NULL);
		pthread_mutex_init(&w->req_mu, NULL);
		pthread_cond_init(&w->req_cv, NULL);
		g->w[i] = w;
		if (w->efd < 0 || !(w->obj = k->make(master, w, &w->tcp)))
			goto fail;
		w->tcp->worker = w;
		w->tcp->next_seq = i + 1;
		w->tcp->seq_step = n;
		w->tcp->shared_live = &g->live;
		/* Workers take no process signals: they stay with the
		 * application's own threads. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		int rc = pthread_create(&w->thread, NULL, worker_main, w);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc != 0)
			goto fail;
		w->thread_started = true;
	}
	return g;
fail:
	rw__workers_end(g, k);
	return NULL;
}
