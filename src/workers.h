/* src/workers.h: Config Workers=N (workers.c). A server object with N > 1
 * workers owns N worker servers, each a complete engine (struct rw_tcpserver
 * with its own loop, ring, buffer ring and fixed-file table) driven by its own
 * thread and listening on the same port with SO_REUSEPORT; the public object
 * keeps the settings and the user's events, and holds no connection itself.
 *
 * A connection lives on one worker. Its id carries the worker: worker w of N
 * numbers its connections with seq = w + 1, w + 1 + N, ... (seq is the id's
 * high part, conn_life.c), so (seq - 1) % N finds the worker in O(1).
 *
 * Threads. Each worker has a mutex that its thread holds while it runs (CQE
 * dispatch, events, the deferred phase) and releases only while it waits in
 * the kernel (loop.c calls wait_hook). A method called with a connection id
 * (RW_ROUTE) locks the owning worker, runs the ordinary single-threaded code
 * on the worker's server and unlocks; called from another thread, it then
 * wakes the worker (an eventfd it keeps a read armed on) when it queued work
 * (sends on the flush list, SQEs, deferred resumes), and the worker submits:
 * only a worker's own thread ever enters its ring, so rings keep
 * SINGLE_ISSUER | DEFER_TASKRUN. A thread holds at most one worker lock: going
 * to another worker releases the one it holds (and takes it back after), so
 * two workers calling into each other from their events cannot deadlock.
 * Server-wide work that needs the worker's thread (start, stop, shutdown,
 * drain, free) is posted to it and waited for (rw__workers_each). */
#ifndef RW_SRC_WORKERS_H
#define RW_SRC_WORKERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct rw_tcpserver;
struct rw_loop;
struct rw_worker;
struct rw_workers;

/* What one routed call holds; undone by rw__route_end at scope exit. */
struct rw_route {
	struct rw_worker *w;    /* the worker locked for this call, or NULL */
	struct rw_worker *prev; /* the worker this thread held before (re-taken after) */
	int prev_depth;
	bool swapped;
};

void rw__route_end(struct rw_route *r);
/* Lock the worker that owns `id` and return its server (worker 0's for an id
 * that names no worker: the ordinary lookup then fails with INVALID_CONNID). */
struct rw_tcpserver *rw__route_begin(struct rw_route *r, struct rw_workers *ws, int64_t id);

/* At the top of a public per-connection method: on a multi-worker object,
 * `s` becomes the owning worker's server for the rest of the call. */
#define RW_ROUTE(s, id)                                                        \
	struct rw_route rw_route_ __attribute__((cleanup(rw__route_end))) = {0}; \
	if ((s) && (s)->workers)                                               \
	(s) = rw__route_begin(&rw_route_, (s)->workers, (id))

/* Worker i's server, locked; and unlocking it. */
struct rw_tcpserver *rw__worker_lock(struct rw_workers *ws, unsigned i, struct rw_route *r);
unsigned rw__workers_count(const struct rw_workers *ws);

/* Config Workers: 1 (default) to RW_WORKERS_MAX; fixed once the workers exist. */
int rw__workers_config(struct rw_tcpserver *s, const char *value, char *out, size_t out_len);

/* The public object's server-wide methods when it has (or will have) workers. */
bool rw__workers_wanted(const struct rw_tcpserver *s);
int rw__workers_start(struct rw_tcpserver *s);
int rw__workers_stop(struct rw_tcpserver *s);
int rw__workers_shutdown(struct rw_tcpserver *s);
int rw__workers_drain(struct rw_tcpserver *s, int deadline_ms);
void rw__workers_free(struct rw_tcpserver *s);
int rw__workers_do_events(struct rw_tcpserver *s);
int rw__workers_run(struct rw_tcpserver *s);
int rw__workers_connection_count(const struct rw_tcpserver *s);
int rw__workers_connection_ids(const struct rw_tcpserver *s, int64_t *ids, size_t max);
int64_t rw__workers_rejected(const struct rw_tcpserver *s);
/* Config on every worker (a server-wide set while they exist). */
int rw__workers_config_all(struct rw_tcpserver *s, const char *setting);

/* A blocking send's wait (tcpserver_send.c): a loop turn on the worker's own
 * thread; from any other thread, a short sleep with the worker unlocked and
 * woken, so that it makes the progress the caller waits for. */
void rw__blocking_wait(struct rw_tcpserver *s, int timeout_ms);

/* How a kind of server makes its workers (WSServer sets its own). `make`
 * returns the worker's public-level object and its engine in *tcp; `copy`
 * refreshes a worker's settings from the public object (on the worker's
 * thread, before each start); `destroy` frees a worker object (on its thread). */
struct rw_worker_kind {
	void *(*make)(struct rw_tcpserver *master, void *wref, struct rw_tcpserver **tcp);
	int (*copy)(void *obj, struct rw_tcpserver *master);
	void (*destroy)(void *obj);
	int (*shutdown)(void *obj);
};

/* The workers of one object. `live` counts their connections (Connected, not
 * yet Disconnected) for ConnectionCount and MaxConnections. */
struct rw_workers {
	unsigned n;
	struct rw_tcpserver *master;
	int live; /* atomic */
	pthread_mutex_t set_mu; /* a server-wide Config set, object then workers */
	struct rw_worker *w[];
};

/* Around a server-wide Config set: the object's settings are one thread's at
 * a time. The calling thread lets go of its worker lock first (the set then
 * locks each worker in turn), so this cannot deadlock with worker locks. */
void rw__settings_enter(struct rw_workers *g, struct rw_route *r);
void rw__settings_leave(struct rw_workers *g, struct rw_route *r);

/* workers.c: make N workers (each with its thread, idle until its first
 * start), end them (their servers freed on their threads, threads joined),
 * and post a call to one worker's thread or to each in turn (the first error
 * is returned). A worker's events get `wref` (the struct rw_worker) as their
 * user pointer. */
struct rw_workers *rw__workers_create(struct rw_tcpserver *master, unsigned n, const struct rw_worker_kind *k);
void rw__workers_end(struct rw_workers *g, const struct rw_worker_kind *k);
int rw__worker_call(struct rw_workers *g, unsigned i, int (*fn)(struct rw_worker *, void *), void *arg);
int rw__workers_each(struct rw_workers *g, int (*fn)(struct rw_worker *, void *), void *arg);
struct rw_tcpserver *rw__worker_tcp(struct rw_worker *w);
void *rw__worker_object(struct rw_worker *w);
void *rw__worker_obj(struct rw_workers *g, unsigned i);
unsigned rw__worker_index(struct rw_worker *w);
struct rw_workers *rw__worker_group(struct rw_worker *w);

/* tcpserver_config.c: Config on one server, without the routing. */
int rw__tcpserver_config_one(struct rw_tcpserver *s, const char *setting, char *out, size_t out_len);

/* Deep copy of the settings (every heap field duplicated). */
int rw__settings_copy(struct rw_tcp_settings *dst, const struct rw_tcp_settings *src);

#endif
