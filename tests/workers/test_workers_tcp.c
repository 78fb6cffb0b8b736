/* tests/workers/test_workers_tcp.c: TCPServer with Config Workers=N. Real
 * loopback clients (blocking sockets); the server's handlers run on worker
 * threads and count what they see in atomics, asserted by the main thread.
 *  - N workers all serve: connections land on several threads, none on the
 *    caller's; getters from the main thread reach every worker;
 *  - one connection's events never overlap, and stay on one thread, while
 *    another thread calls methods on the same connections;
 *  - 8 foreign threads send numbered lines to every connection: each client
 *    gets each sender's lines in order, byte-exact;
 *  - handlers send across workers (a broadcast): no deadlock, order kept;
 *  - a blocking send (Timeout > 0) from a foreign thread;
 *  - Shutdown with live connections on every worker: one Disconnected each,
 *    run() returns, free joins every thread;
 *  - MaxConnections counts the whole object; Workers's own Config rules. */
#include "wtest.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXC 64

/* What the handlers record; one per test. */
static struct {
	rw_tcpserver *srv;
	wt_threads th; /* which threads ran handlers */
	atomic_int connected, disconnected, data_events;
	atomic_int overlaps, thread_switches, wrong_server, bad;
	bool slow, echo, broadcast;
	atomic_int disc_by_slot[MAXC * 4];
} g;

struct cstate {
	atomic_int in_handler;
	pthread_t thr;
	int slot; /* index in disc_by_slot */
};
static atomic_int g_slot;

static struct cstate *enter(rw_tcpserver *s, rw_connid id)
{
	if (s != g.srv)
		atomic_fetch_add(&g.wrong_server, 1);
	struct cstate *st = rw_tcpserver_get_user_data(s, id);
	if (!st) {
		atomic_fetch_add(&g.bad, 1);
		return NULL;
	}
	if (atomic_fetch_add(&st->in_handler, 1) != 0)
		atomic_fetch_add(&g.overlaps, 1);
	if (!pthread_equal(st->thr, pthread_self()))
		atomic_fetch_add(&g.thread_switches, 1);
	return st;
}

static void leave(struct cstate *st)
{
	if (st)
		atomic_fetch_sub(&st->in_handler, 1);
}

static void on_connected(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u)
{
	(void)u;
	if (s != g.srv)
		atomic_fetch_add(&g.wrong_server, 1);
	struct cstate *st = calloc(1, sizeof(*st));
	st->thr = pthread_self();
	st->slot = atomic_fetch_add(&g_slot, 1);
	rw_tcpserver_set_user_data(s, e->connection_id, st);
	wt_note_thread(&g.th);
	atomic_fetch_add(&g.connected, 1);
}

static void on_data(rw_tcpserver *s, const rw_tcpserver_data_in *e, void *u)
{
	(void)u;
	struct cstate *st = enter(s, e->connection_id);
	atomic_fetch_add(&g.data_events, 1);
	if (g.slow)
		usleep(20);
	char line[256];
	size_t n = e->text_len < 200 ? e->text_len : 200;
	memcpy(line, e->text, n);
	line[n] = 0;
	if (!strcmp(line, "shutdown")) {
		/* Server-wide calls inside events, on several workers at once. */
		char out[32];
		if (rw_tcpserver_config(s, "LingerTimeout=5", NULL, 0) != 0 ||
		    rw_tcpserver_config(s, "RejectedConnectionCount", out, sizeof(out)) <= 0 ||
		    rw_tcpserver_get_connection_count(s) < 0 || rw_tcpserver_shutdown(s) != 0)
			atomic_fetch_add(&g.bad, 1);
	} else if (g.echo && rw_tcpserver_send_line(s, e->connection_id, line) != 0)
		atomic_fetch_add(&g.bad, 1);
	if (g.broadcast) {
		/* Send to every connection, most of them on other workers. */
		rw_connid ids[MAXC];
		int k = rw_tcpserver_get_connection_ids(s, ids, MAXC);
		for (int i = 0; i < k && i < MAXC; i++) {
			int rc = rw_tcpserver_send_line(s, ids[i], line);
			if (rc != 0 && rc != -RW_EINVALID_CONNID && rc != -RW_ENOTCONN)
				atomic_fetch_add(&g.bad, 1);
		}
	}
	leave(st);
}

static void on_disconnected(rw_tcpserver *s, const rw_tcpserver_disconnected *e, void *u)
{
	(void)u;
	struct cstate *st = enter(s, e->connection_id);
	if (st && st->slot < MAXC * 4)
		atomic_fetch_add(&g.disc_by_slot[st->slot], 1);
	leave(st);
	rw_tcpserver_set_user_data(s, e->connection_id, NULL);
	free(st);
	atomic_fetch_add(&g.disconnected, 1);
}

static const rw_tcpserver_events events = {
	.connected = on_connected, .data_in = on_data, .disconnected = on_disconnected};

static int g_threads_before;

static rw_tcpserver *start(int workers)
{
	memset(&g, 0, sizeof(g));
	atomic_store(&g_slot, 0);
	pthread_mutex_init(&g.th.mu, NULL);
	g.th.main = pthread_self();
	g.echo = true;
	g_threads_before = wt_thread_count();
	rw_tcpserver *s = rw_tcpserver_new();
	cr_assert(s);
	g.srv = s;
	char buf[32];
	snprintf(buf, sizeof(buf), "Workers=%d", workers);
	cr_assert_eq(rw_tcpserver_config(s, buf, NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_set_default_eol(s, "\n", 1), 0);
	cr_assert_eq(rw_tcpserver_set_local_host(s, "127.0.0.1"), 0);
	cr_assert_eq(rw_tcpserver_set_connection_backlog(s, 256), 0);
	rw_tcpserver_set_events(s, &events, NULL);
	return s;
}

static int listen_port(rw_tcpserver *s)
{
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	int port = rw_tcpserver_get_local_port(s);
	cr_assert_gt(port, 0);
	return port;
}

static void finish(rw_tcpserver *s)
{
	rw_tcpserver_free(s);
	/* Every worker thread has been joined. */
	cr_assert_eq(wt_thread_count(), g_threads_before);
	cr_assert_eq(atomic_load(&g.overlaps), 0, "events of one connection overlapped");
	cr_assert_eq(atomic_load(&g.thread_switches), 0, "a connection's events moved threads");
	cr_assert_eq(atomic_load(&g.wrong_server), 0, "an event carried a worker's server");
	cr_assert_eq(atomic_load(&g.th.on_main), 0, "an event ran on the caller's thread");
	cr_assert_eq(atomic_load(&g.bad), 0);
}

Test(workers_tcp, all_workers_serve)
{
	rw_tcpserver *s = start(4);
	int port = listen_port(s);
	cr_assert_eq(wt_thread_count(), g_threads_before + 4);
	cr_assert_null(rw_tcpserver_get_loop(s));
	enum { N = 48 };
	int fds[N];
	for (int i = 0; i < N; i++) {
		fds[i] = wt_connect(port, 5000);
		cr_assert_geq(fds[i], 0);
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "ping %d\n", i);
		cr_assert(wt_send_all(fds[i], msg, (size_t)n));
	}
	for (int i = 0; i < N; i++) {
		char want[32], got[32] = {0};
		int n = snprintf(want, sizeof(want), "ping %d\r\n", i);
		cr_assert_eq(wt_read_full(fds[i], got, (size_t)n), (size_t)n);
		cr_assert_str_eq(got, want);
	}
	cr_assert(wt_wait_ge(&g.connected, N, 5000));
	/* Several workers took connections (48 over 4 by SO_REUSEPORT's hash). */
	cr_assert_geq(g.th.nthreads, 2, "connections landed on %d worker thread(s)", g.th.nthreads);
	cr_assert_eq(rw_tcpserver_get_connection_count(s), N);
	/* Getters from this (foreign) thread reach every worker: each id's
	 * RemotePort is one of our clients' ports. */
	rw_connid ids[N + 4];
	cr_assert_eq(rw_tcpserver_get_connection_ids(s, ids, N + 4), N);
	for (int i = 0; i < N; i++) {
		int rp = rw_tcpserver_get_remote_port(s, ids[i]);
		bool found = false;
		for (int j = 0; j < N && !found; j++) {
			struct sockaddr_in a;
			socklen_t len = sizeof(a);
			getsockname(fds[j], (struct sockaddr *)&a, &len);
			found = ntohs(a.sin_port) == rp;
		}
		cr_assert(found, "id %lld: remote port %d is not a client's", (long long)ids[i], rp);
		char cfg[64], out[32];
		snprintf(cfg, sizeof(cfg), "RemotePort[%lld]", (long long)ids[i]);
		cr_assert_gt(rw_tcpserver_config(s, cfg, out, sizeof(out)), 0);
		cr_assert_eq(atoi(out), rp);
	}
	cr_assert_eq(rw_tcpserver_get_remote_port(s, ids[0] + 1), -RW_EINVALID_CONNID);
	cr_assert_eq(rw_tcpserver_send(s, 12345, "x", 1), -RW_EINVALID_CONNID);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	cr_assert(wt_wait_ge(&g.disconnected, N, 5000));
	cr_assert_eq(rw_tcpserver_get_connection_count(s), 0);
	finish(s);
}

/* A foreign thread pokes the connections while their events run. */
static atomic_int g_stop_poke;
static void *poker(void *arg)
{
	rw_tcpserver *s = arg;
	rw_connid ids[MAXC];
	while (!atomic_load(&g_stop_poke)) {
		int n = rw_tcpserver_get_connection_ids(s, ids, MAXC);
		for (int i = 0; i < n && i < MAXC; i++) {
			rw_tcpserver_get_bytes_sent(s, ids[i]);
			rw_tcpserver_set_idle_timeout(s, ids[i], 0);
		}
	}
	return NULL;
}

Test(workers_tcp, one_connections_events_never_overlap)
{
	rw_tcpserver *s = start(4);
	g.slow = true;
	int port = listen_port(s);
	enum { N = 16, LINES = 200 };
	int fds[N];
	for (int i = 0; i < N; i++)
		cr_assert_geq(fds[i] = wt_connect(port, 10000), 0);
	cr_assert(wt_wait_ge(&g.connected, N, 5000));
	pthread_t pk;
	atomic_store(&g_stop_poke, 0);
	pthread_create(&pk, NULL, poker, s);
	static char buf[LINES * 16];
	for (int i = 0; i < N; i++) {
		size_t len = 0;
		for (int k = 0; k < LINES; k++)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%d.%d\n", i, k);
		cr_assert(wt_send_all(fds[i], buf, len));
	}
	for (int i = 0; i < N; i++) {
		wt_reader r = {.fd = fds[i]};
		char line[64], want[64];
		for (int k = 0; k < LINES; k++) {
			cr_assert(wt_read_line(&r, line, sizeof(line)), "client %d line %d", i, k);
			snprintf(want, sizeof(want), "%d.%d\r", i, k);
			cr_assert_str_eq(line, want);
		}
	}
	atomic_store(&g_stop_poke, 1);
	pthread_join(pk, NULL);
	cr_assert_eq(atomic_load(&g.data_events), N * LINES);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	cr_assert(wt_wait_ge(&g.disconnected, N, 5000));
	finish(s);
}

/* ---- foreign senders --------------------------------------------------------- */

enum { SENDERS = 8, CLIENTS = 8, MSGS = 1500 };

struct sender {
	pthread_t t;
	rw_tcpserver *s;
	int idx;
	rw_connid ids[CLIENTS];
	int failures, wouldblocks;
};

static void *send_thread(void *arg)
{
	struct sender *x = arg;
	char line[32];
	for (int k = 0; k < MSGS; k++) {
		for (int c = 0; c < CLIENTS; c++) {
			snprintf(line, sizeof(line), "%d:%d", x->idx, k);
			int rc;
			double end = wt_now_ms() + 10000;
			while ((rc = rw_tcpserver_send_line(x->s, x->ids[c], line)) == -RW_EWOULDBLOCK &&
			       wt_now_ms() < end) {
				x->wouldblocks++;
				wt_sleep_ms(1);
			}
			if (rc != 0)
				x->failures++;
		}
	}
	return NULL;
}

struct reader {
	pthread_t t;
	int fd;
	int next[SENDERS];
	int lines, errors;
	int expect_per_sender;
};

static void *read_thread(void *arg)
{
	struct reader *r = arg;
	wt_reader rd = {.fd = r->fd};
	char line[64];
	while (r->lines < SENDERS * r->expect_per_sender && wt_read_line(&rd, line, sizeof(line))) {
		int who, k;
		if (sscanf(line, "%d:%d\r", &who, &k) != 2 || who < 0 || who >= SENDERS || k != r->next[who]) {
			r->errors++;
		} else {
			r->next[who]++;
		}
		r->lines++;
	}
	return NULL;
}

Test(workers_tcp, foreign_threads_send_in_order)
{
	rw_tcpserver *s = start(4);
	g.echo = false;
	int port = listen_port(s);
	struct reader rd[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		memset(&rd[i], 0, sizeof(rd[i]));
		cr_assert_geq(rd[i].fd = wt_connect(port, 20000), 0);
		rd[i].expect_per_sender = MSGS;
	}
	cr_assert(wt_wait_ge(&g.connected, CLIENTS, 5000));
	rw_connid ids[CLIENTS];
	cr_assert_eq(rw_tcpserver_get_connection_ids(s, ids, CLIENTS), CLIENTS);
	for (int i = 0; i < CLIENTS; i++)
		pthread_create(&rd[i].t, NULL, read_thread, &rd[i]);
	struct sender sd[SENDERS];
	for (int i = 0; i < SENDERS; i++) {
		memset(&sd[i], 0, sizeof(sd[i]));
		sd[i].s = s;
		sd[i].idx = i;
		memcpy(sd[i].ids, ids, sizeof(ids));
		pthread_create(&sd[i].t, NULL, send_thread, &sd[i]);
	}
	for (int i = 0; i < SENDERS; i++) {
		pthread_join(sd[i].t, NULL);
		cr_assert_eq(sd[i].failures, 0, "sender %d: %d sends failed", i, sd[i].failures);
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(rd[i].t, NULL);
		cr_assert_eq(rd[i].errors, 0, "client %d: %d lines out of order", i, rd[i].errors);
		cr_assert_eq(rd[i].lines, SENDERS * MSGS, "client %d got %d lines", i, rd[i].lines);
		for (int k = 0; k < SENDERS; k++)
			cr_assert_eq(rd[i].next[k], MSGS);
		close(rd[i].fd);
	}
	cr_assert(wt_wait_ge(&g.disconnected, CLIENTS, 5000));
	finish(s);
}

/* Handlers on each worker send to connections on the others. */
Test(workers_tcp, handlers_send_across_workers)
{
	rw_tcpserver *s = start(4);
	g.echo = false;
	g.broadcast = true;
	int port = listen_port(s);
	enum { LINES = 100 };
	struct reader rd[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		memset(&rd[i], 0, sizeof(rd[i]));
		cr_assert_geq(rd[i].fd = wt_connect(port, 20000), 0);
		rd[i].expect_per_sender = LINES;
	}
	cr_assert(wt_wait_ge(&g.connected, CLIENTS, 5000));
	cr_assert_geq(g.th.nthreads, 2);
	for (int i = 0; i < CLIENTS; i++)
		pthread_create(&rd[i].t, NULL, read_thread, &rd[i]);
	/* Client i is sender i: its lines reach every client, in its order. */
	for (int k = 0; k < LINES; k++) {
		for (int i = 0; i < CLIENTS; i++) {
			char line[32];
			int n = snprintf(line, sizeof(line), "%d:%d\n", i, k);
			cr_assert(wt_send_all(rd[i].fd, line, (size_t)n));
		}
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(rd[i].t, NULL);
		cr_assert_eq(rd[i].errors, 0, "client %d: %d lines out of order", i, rd[i].errors);
		cr_assert_eq(rd[i].lines, CLIENTS * LINES, "client %d got %d lines", i, rd[i].lines);
		close(rd[i].fd);
	}
	cr_assert(wt_wait_ge(&g.disconnected, CLIENTS, 5000));
	finish(s);
}

struct slow_reader {
	pthread_t t;
	int fd;
	size_t got;
	bool exact;
};

static uint8_t pattern(size_t i) { return (uint8_t)(i * 131 + (i >> 11)); }

static void *slow_read(void *arg)
{
	struct slow_reader *r = arg;
	static uint8_t buf[65536];
	r->exact = true;
	for (;;) {
		wt_sleep_ms(1);
		ssize_t n = recv(r->fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern(r->got + (size_t)i))
				r->exact = false;
		r->got += (size_t)n;
		if (r->got >= (4u << 20))
			break;
	}
	return NULL;
}

Test(workers_tcp, blocking_send_from_foreign_thread)
{
	rw_tcpserver *s = start(2);
	g.echo = false;
	int port = listen_port(s);
	struct slow_reader r = {0};
	cr_assert_geq(r.fd = wt_connect(port, 20000), 0);
	cr_assert(wt_wait_ge(&g.connected, 1, 5000));
	rw_connid id;
	cr_assert_eq(rw_tcpserver_get_connection_ids(s, &id, 1), 1);
	char cfg[64];
	snprintf(cfg, sizeof(cfg), "Timeout[%lld]=20", (long long)id);
	cr_assert_eq(rw_tcpserver_config(s, cfg, NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_get_timeout(s, id), 20);
	/* 4 MiB through a 64 KiB queue: the call waits for the worker. */
	cr_assert_eq(rw_tcpserver_config(s, "SendQueueLimit=65536", NULL, 0), 0);
	size_t len = 4u << 20;
	uint8_t *data = malloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = pattern(i);
	pthread_create(&r.t, NULL, slow_read, &r);
	cr_assert_eq(rw_tcpserver_send(s, id, data, len), 0);
	pthread_join(r.t, NULL);
	free(data);
	cr_assert_eq(r.got, len);
	cr_assert(r.exact, "the bytes differ");
	close(r.fd);
	cr_assert(wt_wait_ge(&g.disconnected, 1, 5000));
	finish(s);
}

Test(workers_tcp, shutdown_stops_every_worker)
{
	rw_tcpserver *s = start(4);
	g.echo = false;
	int port = listen_port(s);
	enum { N = 32 };
	int fds[N];
	for (int i = 0; i < N; i++)
		cr_assert_geq(fds[i] = wt_connect(port, 5000), 0);
	cr_assert(wt_wait_ge(&g.connected, N, 5000));
	cr_assert_geq(g.th.nthreads, 2);
	cr_assert_eq(rw_tcpserver_shutdown(s), 0);
	cr_assert_not(rw_tcpserver_get_listening(s));
	double t0 = wt_now_ms();
	cr_assert_eq(rw_tcpserver_run(s), 0); /* returns once every connection closed */
	cr_assert_lt(wt_now_ms() - t0, 10000);
	cr_assert_eq(atomic_load(&g.disconnected), N);
	for (int i = 0; i < N; i++)
		cr_assert_eq(atomic_load(&g.disc_by_slot[i]), 1, "slot %d", i);
	cr_assert_eq(rw_tcpserver_get_connection_count(s), 0);
	for (int i = 0; i < N; i++) {
		char b;
		cr_assert_eq(recv(fds[i], &b, 1, 0), 0, "client %d: no EOF", i); /* graceful close */
		close(fds[i]);
	}
	/* The port is free again: nobody listens. */
	cr_assert_lt(wt_connect(port, 1000), 0);
	cr_assert_eq(rw_tcpserver_do_events(s), 0); /* nothing to run here */
	finish(s);
}

Test(workers_tcp, shutdown_inside_events_on_several_workers)
{
	rw_tcpserver *s = start(4);
	int port = listen_port(s);
	enum { N = 16 };
	int fds[N];
	for (int i = 0; i < N; i++)
		cr_assert_geq(fds[i] = wt_connect(port, 5000), 0);
	cr_assert(wt_wait_ge(&g.connected, N, 5000));
	cr_assert_geq(g.th.nthreads, 2);
	for (int i = 0; i < N; i++)
		cr_assert(wt_send_all(fds[i], "shutdown\n", 9));
	cr_assert(wt_wait_ge(&g.disconnected, N, 10000), "%d of %d disconnected", atomic_load(&g.disconnected), N);
	cr_assert_not(rw_tcpserver_get_listening(s));
	for (int i = 0; i < N; i++)
		close(fds[i]);
	finish(s);
}

Test(workers_tcp, max_connections_counts_the_object)
{
	rw_tcpserver *s = start(4);
	cr_assert_eq(rw_tcpserver_config(s, "MaxConnections=6", NULL, 0), 0);
	int port = listen_port(s);
	enum { N = 20 };
	int fds[N], served = 0;
	for (int i = 0; i < N; i++) {
		/* One at a time: each is answered (echo) or closed before the next. */
		cr_assert_geq(fds[i] = wt_connect(port, 3000), 0);
		cr_assert(wt_send_all(fds[i], "x\n", 2));
		char b[3];
		size_t n = wt_read_full(fds[i], b, 3);
		served += n == 3;
	}
	cr_assert_eq(served, 6);
	cr_assert_eq(rw_tcpserver_get_connection_count(s), 6);
	char out[32];
	cr_assert_gt(rw_tcpserver_config(s, "RejectedConnectionCount", out, sizeof(out)), 0);
	cr_assert_eq(atoi(out), N - 6);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	cr_assert(wt_wait_ge(&g.disconnected, 6, 5000));
	finish(s);
}

Test(workers_tcp, workers_config_rules)
{
	rw_tcpserver *s = rw_tcpserver_new();
	char out[16];
	cr_assert_eq(rw_tcpserver_config(s, "Workers", out, sizeof(out)), 1);
	cr_assert_str_eq(out, "1");
	cr_assert_eq(rw_tcpserver_config(s, "Workers=0", NULL, 0), -RW_EBAD_VALUE);
	cr_assert_eq(rw_tcpserver_config(s, "Workers=65", NULL, 0), -RW_EBAD_VALUE);
	cr_assert_eq(rw_tcpserver_config(s, "Workers=x", NULL, 0), -RW_EBAD_VALUE);
	cr_assert_eq(rw_tcpserver_config(s, "Workers=3", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_config(s, "Workers", out, sizeof(out)), 1);
	cr_assert_str_eq(out, "3");
	cr_assert_eq(rw_tcpserver_set_local_host(s, "127.0.0.1"), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), -RW_EALREADY_LISTENING);
	cr_assert_eq(rw_tcpserver_config(s, "Workers=2", NULL, 0), -RW_EBAD_STATE);
	cr_assert_eq(rw_tcpserver_config(s, "Workers=3", NULL, 0), 0);
	/* Server-wide settings reach the workers; loop settings are fixed. */
	cr_assert_eq(rw_tcpserver_config(s, "LingerTimeout=3", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_config(s, "RingEntries=64", NULL, 0), -RW_EBAD_STATE);
	/* Stop and start again on the same object. */
	int port = rw_tcpserver_get_local_port(s);
	cr_assert_eq(rw_tcpserver_stop_listening(s), 0);
	cr_assert_lt(wt_connect(port, 1000), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	int fd = wt_connect(rw_tcpserver_get_local_port(s), 3000);
	cr_assert_geq(fd, 0);
	close(fd);
	rw_tcpserver_free(s);
}

/* A port another socket holds exclusively: start fails cleanly, and the
 * object can try again. */
Test(workers_tcp, start_failure_is_clean)
{
	int hold = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(hold, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(hold, 1), 0);
	socklen_t len = sizeof(a);
	getsockname(hold, (struct sockaddr *)&a, &len);
	int before = wt_thread_count();
	rw_tcpserver *s = rw_tcpserver_new();
	cr_assert_eq(rw_tcpserver_config(s, "Workers=3", NULL, 0), 0);
	rw_tcpserver_set_local_host(s, "127.0.0.1");
	rw_tcpserver_set_local_port(s, ntohs(a.sin_port));
	cr_assert_eq(rw_tcpserver_start_listening(s), -RW_EADDRINUSE);
	cr_assert_not(rw_tcpserver_get_listening(s));
	close(hold);
	rw_tcpserver_set_local_port(s, 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	rw_tcpserver_free(s);
	cr_assert_eq(wt_thread_count(), before);
}

/* DTLSServer runs on one thread: Workers above 1 is refused clearly. */
Test(workers_dtls, workers_not_supported)
{
	rw_dtlsserver *d = rw_dtlsserver_new();
	char out[8];
	cr_assert_eq(rw_dtlsserver_config(d, "Workers", out, sizeof(out)), 1);
	cr_assert_str_eq(out, "1");
	cr_assert_eq(rw_dtlsserver_config(d, "Workers=1", NULL, 0), 0);
	cr_assert_eq(rw_dtlsserver_config(d, "Workers=4", NULL, 0), -RW_ENOT_SUPPORTED);
	cr_assert_eq(rw_dtlsserver_config(d, "Workers=0", NULL, 0), -RW_EBAD_VALUE);
	rw_dtlsserver_free(d);
}

/* A server on a shared loop belongs to that loop's thread. */
Test(workers_tcp, not_on_a_shared_loop)
{
	rw_loop *l;
	cr_assert_eq(rw_loop_new(&l, NULL), 0);
	rw_tcpserver *s = rw_tcpserver_new_on_loop(l);
	cr_assert_eq(rw_tcpserver_config(s, "Workers=2", NULL, 0), -RW_EBAD_STATE);
	cr_assert_eq(rw_tcpserver_config(s, "Workers=1", NULL, 0), 0);
	rw_tcpserver_free(s);
	rw_loop_free(l);
}

/* The demo server with --workers: echoes on every worker, exits 0 on SIGTERM. */
Test(workers_tcp, echo_demo_with_workers)
{
	const char *echo = getenv("RW_ECHO");
	cr_assert(echo, "RW_ECHO (the ringworks-echo path) is not set");
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "exec %s --tcp 0 --workers 3", echo);
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	char line[64] = {0};
	size_t n = 0;
	while (n < sizeof(line) - 1 && read(pfd[0], line + n, 1) == 1 && line[n] != '\n')
		n++;
	int port = 0;
	cr_assert_eq(sscanf(line, "listening tcp %d", &port), 1, "%s", line);
	char task[64];
	snprintf(task, sizeof(task), "/proc/%d/task", (int)pid);
	enum { N = 20 };
	int fds[N];
	for (int i = 0; i < N; i++) {
		cr_assert_geq(fds[i] = wt_connect(port, 5000), 0);
		char m[32], back[32] = {0};
		int len = snprintf(m, sizeof(m), "echo %d\n", i);
		cr_assert(wt_send_all(fds[i], m, (size_t)len));
		cr_assert_eq(wt_read_full(fds[i], back, (size_t)len), (size_t)len);
		cr_assert_str_eq(back, m);
	}
	kill(pid, SIGTERM);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	for (int i = 0; i < N; i++) {
		char b;
		cr_assert_eq(recv(fds[i], &b, 1, 0), 0); /* drained and closed */
		close(fds[i]);
	}
	close(pfd[0]);
}
