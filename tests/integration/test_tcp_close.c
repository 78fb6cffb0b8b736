/* tests/integration/test_tcp_close.c: the end of connections (spec §11 items
 * 29-33): Disconnect / Connected=false, client close, client reset, Shutdown,
 * StopListening, Linger on and off, idle timeouts, a reset in the middle of a
 * large send. */
#include "helpers/rwtest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

TestSuite(close, .timeout = 60);

static void check_invalid(rw_tcpserver *s, rw_connid id)
{
	char buf[64];
	cr_expect_eq(rw_tcpserver_get_connected(s, id), -RW_EINVALID_CONNID);
	cr_expect_eq(rw_tcpserver_get_remote_port(s, id), -RW_EINVALID_CONNID);
	cr_expect_eq(rw_tcpserver_get_remote_host(s, id, buf, sizeof(buf)), -RW_EINVALID_CONNID);
	cr_expect_eq(rw_tcpserver_get_accept_data(s, id), -RW_EINVALID_CONNID);
	cr_expect_eq(rw_tcpserver_send(s, id, "x", 1), -RW_EINVALID_CONNID);
	cr_expect_eq(rw_tcpserver_send_line(s, id, "x"), -RW_EINVALID_CONNID);
	cr_expect_eq(rw_tcpserver_disconnect(s, id), -RW_EINVALID_CONNID);
	cr_expect_eq(rw_tcpserver_pause_data(s, id), -RW_EINVALID_CONNID);
	cr_expect_null(rw_tcpserver_get_user_data(s, id));
}

struct server1 {
	rwt_rec rec;
	rw_tcpserver *s;
	int port;
};

static void srv_start(struct server1 *v, bool echo)
{
	rwt_rec_init(&v->rec);
	v->rec.echo = echo;
	v->s = rwt_server_new(&v->rec);
}

static int srv_connect(struct server1 *v, rw_connid *id)
{
	return rwt_connect_ready(v->s, &v->rec, v->port, 10000, 0, id);
}

/* Connect a client with a small SO_RCVBUF (so server sends back up) as the first
 * connection and wait for its ReadyToSend; returns the fd, *id is set. */
static int srv_connect_rcvbuf(struct server1 *v, int rcvbuf, rw_connid *id)
{
	return rwt_connect_ready(v->s, &v->rec, v->port, 10000, rcvbuf, id);
}

/* Wait for the first Disconnected, let late events arrive for settle_ms, and
 * check that id got exactly one Disconnected (never a second one). */
static void srv_expect_one_disconnected(struct server1 *v, rw_connid id, int settle_ms)
{
	pump_until_ge(v->s, &v->rec.disconnected, 1, 5000);
	rwt_pump_for(v->s, settle_ms);
	cr_expect_eq(rwt_ev_count(&v->rec, id, RWT_DISCONNECTED), 1);
}

/* After an abnormal end the (echo) server must keep serving: a new client's
 * echo works and its close is the want_disc-th Disconnected. */
static void srv_expect_still_serving(struct server1 *v, int want_disc)
{
	rw_connid id2;
	int fd2 = srv_connect(v, &id2);
	cr_expect(rwt_pump_echo(v->s, fd2, "second", 6, 5000));
	close(fd2);
	pump_until_ge(v->s, &v->rec.disconnected, want_disc, 5000);
}

/* A started echo server with one client whose echo of "abc" already worked. */
static int srv_echo_client(struct server1 *v, rw_connid *id)
{
	srv_start(v, true);
	v->port = rwt_server_start(v->s);
	int fd = srv_connect(v, id);
	cr_expect(rwt_pump_echo(v->s, fd, "abc", 3, 5000));
	return fd;
}

static void srv_end(struct server1 *v)
{
	rwt_server_end(v->s, &v->rec);
}

static void do_disconnect_test(bool via_property)
{
	struct server1 v;
	srv_start(&v, false);
	v.port = rwt_server_start(v.s);
	rw_connid id;
	int fd = srv_connect(&v, &id);
	int sentinel = 42;
	cr_assert_eq(rw_tcpserver_set_user_data(v.s, id, &sentinel), 0);
	cr_expect_eq(rw_tcpserver_get_user_data(v.s, id), &sentinel);
	cr_assert_eq(rw_tcpserver_send(v.s, id, "bye", 3), 0);
	size_t before = v.rec.n;
	int rc = via_property ? rw_tcpserver_set_connected(v.s, id, false) : rw_tcpserver_disconnect(v.s, id);
	cr_assert_eq(rc, 0);
	cr_expect_eq(v.rec.n, before, "no event may fire from inside disconnect");
	cr_expect_eq(rw_tcpserver_disconnect(v.s, id), 0, "Disconnect is idempotent for a closing id");
	rc = rw_tcpserver_send(v.s, id, "late", 4);
	cr_expect_eq(rc, -RW_ENOTCONN, "send on a closing connection: %d (%s)", rc, rw_strerror(rc));
	/* with Linger (default) the queued "bye" arrives before EOF */
	char b[3];
	cr_expect_eq(rwt_pump_recv(v.s, fd, b, 3, 5000), 3);
	cr_expect_eq(memcmp(b, "bye", 3), 0);
	int end = rwt_pump_recv_end(v.s, fd, 5000);
	cr_expect_eq(end, 0, "the client sees EOF after Disconnect, got %d", end);
	srv_expect_one_disconnected(&v, id, 150);
	const rwt_event *d = rwt_ev_nth(&v.rec, id, RWT_DISCONNECTED, 0);
	cr_expect_eq(d->status, 0);
	cr_expect_str_eq(d->desc, "OK");
	cr_expect_eq(rw_tcpserver_get_connection_count(v.s), 0);
	check_invalid(v.s, id);
	close(fd);
	srv_end(&v);
}

Test(close, disconnect_by_server)
{
	do_disconnect_test(false);
}

Test(close, connected_false_is_disconnect)
{
	do_disconnect_test(true);
}

/* The client receives exactly `words` (a 9-byte line sent before a Disconnect)
 * and then a clean EOF. */
static void expect_last_words(struct server1 *v, int fd, const char words[9])
{
	char b[9];
	cr_expect_eq(rwt_pump_recv(v->s, fd, b, 9, 5000), 9);
	cr_expect_eq(memcmp(b, words, 9), 0);
	cr_expect_eq(rwt_pump_recv_end(v->s, fd, 5000), 0);
}

/* Disconnect from inside the connection's own DataIn. */
static void disconnect_in_data(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_data_in *e)
{
	cr_assert_eq(rw_tcpserver_send_line(s, e->connection_id, "closing"), 0);
	cr_assert_eq(rw_tcpserver_disconnect(s, e->connection_id), 0);
}

Test(close, disconnect_inside_data_in)
{
	struct server1 v;
	srv_start(&v, false);
	v.rec.on_data = disconnect_in_data;
	v.port = rwt_server_start(v.s);
	rw_connid id;
	int fd = srv_connect(&v, &id);
	cr_assert_eq(rwt_send_all(fd, "quit\n", 5), 0);
	expect_last_words(&v, fd, "closing\r\n");
	srv_expect_one_disconnected(&v, id, 100);
	close(fd);
	srv_end(&v);
}

Test(close, client_close_gives_disconnected_ok)
{
	struct server1 v;
	rw_connid id;
	int fd = srv_echo_client(&v, &id);
	close(fd);
	srv_expect_one_disconnected(&v, id, 100);
	const rwt_event *d = rwt_ev_nth(&v.rec, id, RWT_DISCONNECTED, 0);
	cr_expect_eq(d->status, 0);
	cr_expect_str_eq(d->desc, "OK");
	check_invalid(v.s, id);
	srv_end(&v);
}

Test(close, client_reset_gives_one_disconnected)
{
	struct server1 v;
	rw_connid id;
	int fd = srv_echo_client(&v, &id);
	rwt_close_rst(fd);
	srv_expect_one_disconnected(&v, id, 150);
	int st = rwt_ev_nth(&v.rec, id, RWT_DISCONNECTED, 0)->status;
	cr_expect(st == RW_ECONNRESET || st == 0, "Disconnected status after a reset: %d", st);
	cr_log_info("reset status: %d", st);
	check_invalid(v.s, id);
	srv_end(&v);
}

/* A reset while the server sends: the server has 8 MiB queued, the client
 * reads nothing and resets. */
Test(close, client_reset_during_large_send)
{
	struct server1 v;
	srv_start(&v, true);
	rwt_config(v.s, "SendQueueLimit=16777216");
	v.port = rwt_server_start(v.s);
	rw_connid id;
	int fd = srv_connect_rcvbuf(&v, 16384, &id);
	size_t n = 8u << 20;
	uint8_t *data = rwt_random(n, 5);
	cr_assert_eq(rw_tcpserver_send(v.s, id, data, n), 0, "8 MiB fit a 16 MiB queue");
	rwt_pump_for(v.s, 100); /* let sends be in flight */
	char b[1000];
	cr_expect_eq(recv(fd, b, sizeof(b), 0), (ssize_t)sizeof(b), "the server was sending");
	rwt_close_rst(fd);
	srv_expect_one_disconnected(&v, id, 150);
	cr_log_info("status after reset mid-send: %d", rwt_ev_nth(&v.rec, id, RWT_DISCONNECTED, 0)->status);
	/* the server keeps serving */
	srv_expect_still_serving(&v, 2);
	free(data);
	srv_end(&v);
}

/* The same during a blocking (Timeout > 0) send. */
static void rst_later(rwt_thread *t)
{
	int fd = *(int *)t->arg;
	char b[4096];
	if (recv(fd, b, sizeof(b), 0) <= 0)
		rwt_fail(t, "nothing received before the reset");
	rwt_close_rst(fd);
}

Test(close, client_reset_during_blocking_send)
{
	struct server1 v;
	srv_start(&v, true);
	v.port = rwt_server_start(v.s);
	rw_connid id;
	int fd = srv_connect_rcvbuf(&v, 16384, &id);
	cr_assert_eq(rw_tcpserver_set_timeout(v.s, id, 10), 0);
	size_t n = 8u << 20;
	uint8_t *data = rwt_random(n, 6);
	rwt_thread t = {0};
	rwt_thread_start(&t, rst_later, &fd);
	double t0 = rwt_now_ms();
	int rc = rw_tcpserver_send(v.s, id, data, n);
	double dt = rwt_now_ms() - t0;
	cr_expect(rc < 0, "a blocking send to a reset peer must fail, got %d", rc);
	cr_expect(dt < 9000, "the failure took %.0f ms (not detected before Timeout)", dt);
	cr_log_info("blocking send to reset peer: %d (%s) after %.0f ms", rc, rw_strerror(rc), dt);
	rwt_thread_finish(v.s, &t, 5000);
	srv_expect_one_disconnected(&v, id, 150);
	srv_expect_still_serving(&v, 2);
	free(data);
	srv_end(&v);
}

Test(close, shutdown_disconnects_everyone)
{
	enum { N = 6 };
	struct server1 v;
	srv_start(&v, true);
	v.port = rwt_server_start(v.s);
	int fd[N];
	rw_connid id[N];
	for (int i = 0; i < N; i++)
		fd[i] = srv_connect(&v, &id[i]);
	size_t before = v.rec.n;
	cr_assert_eq(rw_tcpserver_shutdown(v.s), 0);
	cr_expect_eq(v.rec.n, before, "no event may fire from inside shutdown");
	cr_expect_eq(rw_tcpserver_get_listening(v.s), false);
	pump_until_ge(v.s, &v.rec.disconnected, N, 5000);
	rwt_pump_for(v.s, 150);
	for (int i = 0; i < N; i++) {
		cr_expect_eq(rwt_ev_count(&v.rec, id[i], RWT_DISCONNECTED), 1, "id %lld", (long long)id[i]);
		int end = rwt_pump_recv_end(v.s, fd[i], 5000);
		cr_expect(end == 0 || end == -ECONNRESET, "client %d end: %d", i, end);
		close(fd[i]);
	}
	cr_expect_eq(rw_tcpserver_get_connection_count(v.s), 0);
	int nfd = rwt_connect("127.0.0.1", v.port, 2000);
	cr_expect(nfd < 0, "connect after Shutdown succeeded");
	if (nfd >= 0)
		close(nfd);
	cr_expect_eq(rw_tcpserver_run(v.s), 0, "run() returns at once after a completed shutdown");
	srv_end(&v);
}

static void shutdown_in_data(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_data_in *e)
{
	cr_assert_eq(rw_tcpserver_shutdown(s), 0);
}

/* run() returns once a Shutdown (from inside an event) has closed everything.
 * Bounded by the test's own timeout. */
Test(close, run_returns_after_shutdown_from_an_event, .timeout = 15)
{
	struct server1 v;
	srv_start(&v, false);
	v.port = rwt_server_start(v.s);
	rw_connid a, b;
	int fa = srv_connect(&v, &a);
	int fb = srv_connect(&v, &b);
	v.rec.on_data = shutdown_in_data;
	cr_assert_eq(rwt_send_all(fa, "x", 1), 0);
	int rc = rw_tcpserver_run(v.s);
	cr_expect_eq(rc, 0, "run: %d", rc);
	cr_expect_eq(v.rec.disconnected, 2, "run() returned before every Disconnected");
	cr_expect_eq(rw_tcpserver_get_listening(v.s), false);
	cr_expect_eq(rw_tcpserver_get_connection_count(v.s), 0);
	close(fa);
	close(fb);
	srv_end(&v);
}

Test(close, stop_listening_keeps_existing_connections)
{
	struct server1 v;
	srv_start(&v, true);
	v.port = rwt_server_start(v.s);
	rw_connid a, b;
	int fa = srv_connect(&v, &a);
	int fb = srv_connect(&v, &b);
	cr_assert_eq(rw_tcpserver_stop_listening(v.s), 0);
	cr_expect_eq(rw_tcpserver_get_listening(v.s), false);
	cr_expect_eq(rw_tcpserver_stop_listening(v.s), 0);
	rw_tcpserver_do_events(v.s);
	int nfd = rwt_connect("127.0.0.1", v.port, 2000);
	cr_expect_eq(nfd, -ECONNREFUSED, "connect after StopListening: %d", nfd);
	if (nfd >= 0)
		close(nfd);
	cr_expect(rwt_pump_echo(v.s, fa, "still here", 10, 5000));
	cr_expect(rwt_pump_echo(v.s, fb, "me too", 6, 5000));
	cr_expect_eq(rw_tcpserver_get_connection_count(v.s), 2);
	cr_expect_eq(v.rec.connected, 2);
	close(fa);
	close(fb);
	pump_until_ge(v.s, &v.rec.disconnected, 2, 5000);
	srv_end(&v);
}

Test(close, linger_false_disconnect_resets)
{
	struct server1 v;
	srv_start(&v, false);
	cr_assert_eq(rw_tcpserver_set_linger(v.s, false), 0);
	cr_expect_eq(rw_tcpserver_get_linger(v.s), false);
	v.port = rwt_server_start(v.s);
	rw_connid id;
	int fd = srv_connect(&v, &id);
	cr_assert_eq(rw_tcpserver_send(v.s, id, "data", 4), 0);
	cr_assert_eq(rw_tcpserver_disconnect(v.s, id), 0);
	pump_until_ge(v.s, &v.rec.disconnected, 1, 5000);
	/* read until the end: a reset, never a clean EOF */
	int end = 1;
	char b[64];
	for (int i = 0; i < 100 && end == 1; i++) {
		ssize_t k = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (k > 0)
			continue;
		if (k == 0)
			end = 0;
		else if (errno == EAGAIN)
			end = rwt_pump_recv_end(v.s, fd, 3000);
		else
			end = -errno;
	}
	cr_expect_eq(end, -ECONNRESET, "Linger=false: the client must see a reset, got %d", end);
	cr_expect_eq(rwt_ev_count(&v.rec, id, RWT_DISCONNECTED), 1);
	cr_expect_eq(rwt_ev_nth(&v.rec, id, RWT_DISCONNECTED, 0)->status, 0);
	close(fd);
	srv_end(&v);
}

/* Linger=true: 2 MiB sent right before Disconnect all arrive before EOF. */
struct drain {
	int fd;
	size_t got;
	uint64_t seed;
	int end;
};

static void drain_thread(rwt_thread *t)
{
	struct drain *d = t->arg;
	uint8_t buf[65536], want[65536];
	for (;;) {
		ssize_t k = recv(d->fd, buf, sizeof(buf), 0);
		if (k == 0) {
			d->end = 0;
			return;
		}
		if (k < 0) {
			d->end = -errno;
			return;
		}
		rwt_pattern(d->seed, d->got, want, (size_t)k);
		if (memcmp(buf, want, (size_t)k) != 0) {
			rwt_fail(t, "data differs at %zu", d->got);
			return;
		}
		d->got += (size_t)k;
	}
}

Test(close, linger_true_delivers_queued_data_before_eof)
{
	struct server1 v;
	srv_start(&v, false);
	rwt_config(v.s, "SendQueueLimit=4194304");
	v.port = rwt_server_start(v.s);
	rw_connid id;
	int fd = srv_connect_rcvbuf(&v, 32768, &id);
	size_t n = 2u << 20;
	uint8_t *data = malloc(n);
	rwt_pattern(33, 0, data, n);
	cr_assert_eq(rw_tcpserver_send(v.s, id, data, n), 0);
	cr_assert_eq(rw_tcpserver_disconnect(v.s, id), 0);
	struct drain d = {.fd = fd, .seed = 33, .end = 1};
	rwt_thread t = {0};
	rwt_thread_start(&t, drain_thread, &d);
	rwt_thread_finish(v.s, &t, 15000);
	cr_expect_eq(d.got, n, "received %zu of %zu bytes before the end", d.got, n);
	cr_expect_eq(d.end, 0, "the end should be a clean EOF, got %d", d.end);
	pump_until_ge(v.s, &v.rec.disconnected, 1, 5000);
	cr_expect_eq(rwt_ev_nth(&v.rec, id, RWT_DISCONNECTED, 0)->status, 0);
	free(data);
	close(fd);
	srv_end(&v);
}

/* ---- idle timeout ------------------------------------------------------------- */

static void dribble_thread(rwt_thread *t)
{
	int fd = *(int *)t->arg;
	struct timespec pace = {.tv_sec = 0, .tv_nsec = 300 * 1000 * 1000};
	for (int i = 0; i < 9; i++) { /* 9 x 300 ms = 2.7 s */
		if (rwt_send_all(fd, "z", 1) < 0) {
			rwt_fail(t, "send %d failed: the connection was closed", i);
			return;
		}
		nanosleep(&pace, NULL); /* the client's pace */
	}
}

Test(close, idle_timeout)
{
	struct server1 v;
	srv_start(&v, false);
	cr_assert_eq(rw_tcpserver_set_default_idle_timeout(v.s, 1), 0);
	cr_expect_eq(rw_tcpserver_get_default_idle_timeout(v.s), 1);
	v.port = rwt_server_start(v.s);
	rw_connid silent, exempt, chatty;
	double t0 = rwt_now_ms();
	int fs = srv_connect(&v, &silent);
	int fe = srv_connect(&v, &exempt);
	cr_expect_eq(rw_tcpserver_get_idle_timeout(v.s, exempt), 1, "DefaultIdleTimeout seeds IdleTimeout");
	cr_assert_eq(rw_tcpserver_set_idle_timeout(v.s, exempt, 0), 0);
	int fc = srv_connect(&v, &chatty);
	rwt_thread t = {0};
	rwt_thread_start(&t, dribble_thread, &fc);

	pump_until_ge(v.s, &v.rec.disconnected, 1, 4000);
	double dt = rwt_now_ms() - t0;
	cr_expect_eq(rwt_ev_count(&v.rec, silent, RWT_DISCONNECTED), 1, "the silent client goes first");
	const rwt_event *d = rwt_ev_nth(&v.rec, silent, RWT_DISCONNECTED, 0);
	if (d) {
		cr_expect_neq(d->status, 0, "an idle timeout has a non-zero status");
		cr_expect_eq(d->status, RW_ETIMEDOUT, "status %d desc %s", d->status, d->desc);
	}
	cr_expect(dt >= 900, "disconnected after %.0f ms with IdleTimeout=1", dt);
	cr_expect_eq(rwt_pump_recv_end(v.s, fs, 3000), 0, "the idle client sees the close");

	/* the chatty one survives its 2.7 s, the exempt one survives too */
	rwt_thread_finish(v.s, &t, 8000);
	cr_expect_eq(rw_tcpserver_get_connected(v.s, chatty), 1, "a client sending every 300 ms was cut");
	cr_expect_eq(rw_tcpserver_get_connected(v.s, exempt), 1, "IdleTimeout=0 did not exempt");
	cr_expect_eq(v.rec.disconnected, 1);
	/* once the chatty one stops it times out too; the exempt one stays */
	pump_until_ge(v.s, &v.rec.disconnected, 2, 4000);
	cr_expect_eq(rwt_ev_count(&v.rec, chatty, RWT_DISCONNECTED), 1);
	cr_expect_eq(rw_tcpserver_get_connected(v.s, exempt), 1);
	close(fs);
	close(fc);
	close(fe);
	pump_until_ge(v.s, &v.rec.disconnected, 3, 5000);
	srv_end(&v);
}

/* ---- reset, free, disconnect inside Connected --------------------------------------- */

Test(close, reset_closes_without_events_and_restores_defaults)
{
	struct server1 v;
	srv_start(&v, true);
	cr_assert_eq(rw_tcpserver_set_connection_backlog(v.s, 50), 0);
	cr_assert_eq(rw_tcpserver_set_default_eol(v.s, "\n", 1), 0);
	cr_assert_eq(rw_tcpserver_set_default_idle_timeout(v.s, 30), 0);
	cr_assert_eq(rw_tcpserver_set_linger(v.s, false), 0);
	rwt_config(v.s, "MaxConnections=7");
	rwt_config(v.s, "AllowedClients=127.0.0.*");
	v.port = rwt_server_start(v.s);
	rw_connid a, b;
	int fa = srv_connect(&v, &a);
	int fb = srv_connect(&v, &b);
	size_t before = v.rec.n;
	cr_assert_eq(rw_tcpserver_reset(v.s), 0);
	cr_expect_eq(v.rec.n, before, "no event from inside reset");
	/* the peers see the abortive close without any further call */
	cr_expect_eq(rwt_recv_end(fa), -ECONNRESET, "client a after reset");
	cr_expect_eq(rwt_recv_end(fb), -ECONNRESET, "client b after reset");
	cr_expect_eq(rw_tcpserver_get_listening(v.s), false);
	cr_expect_eq(rw_tcpserver_get_connection_count(v.s), 0);
	cr_expect_eq(rw_tcpserver_get_connection_backlog(v.s), 5);
	uint8_t eol[4];
	cr_expect_eq(rw_tcpserver_get_default_eol(v.s, eol, sizeof(eol)), 0);
	cr_expect_eq(rw_tcpserver_get_default_idle_timeout(v.s), 0);
	cr_expect_eq(rw_tcpserver_get_linger(v.s), true);
	cr_expect_eq(rw_tcpserver_get_local_port(v.s), 0);
	char host[64];
	cr_expect_eq(rw_tcpserver_get_local_host(v.s, host, sizeof(host)), 0);
	cr_expect_str_eq(rwt_config_get(v.s, "MaxConnections"), "1000");
	cr_expect_str_eq(rwt_config_get(v.s, "AllowedClients"), "*");
	cr_expect_str_eq(rwt_config_get(v.s, "DoEventsTimeout"), "1000");
	check_invalid(v.s, a);
	check_invalid(v.s, b);
	/* it can listen again, and no late events arrive for the old ids */
	rwt_config(v.s, "DoEventsTimeout=50");
	cr_assert_eq(rw_tcpserver_set_local_host(v.s, "127.0.0.1"), 0);
	v.port = rwt_server_start(v.s);
	rw_connid c;
	int fc = srv_connect(&v, &c);
	cr_expect(rwt_pump_echo(v.s, fc, "after reset", 11, 5000));
	cr_expect(c != a && c != b, "ids are never reused");
	close(fc);
	pump_until_ge(v.s, &v.rec.disconnected, 1, 5000);
	rwt_pump_for(v.s, 100);
	cr_expect_eq(rwt_ev_count(&v.rec, a, RWT_DISCONNECTED), 0);
	cr_expect_eq(rwt_ev_count(&v.rec, b, RWT_DISCONNECTED), 0);
	close(fa);
	close(fb);
	srv_end(&v);
}

Test(close, free_with_live_connections_and_queued_data)
{
	struct server1 v;
	srv_start(&v, false);
	rwt_config(v.s, "SendQueueLimit=8388608");
	v.port = rwt_server_start(v.s);
	int fd[3];
	rw_connid id[3];
	size_t n = 4u << 20;
	uint8_t *data = calloc(1, n);
	for (int i = 0; i < 3; i++) {
		fd[i] = srv_connect(&v, &id[i]);
		cr_assert_eq(rw_tcpserver_send(v.s, id[i], data, n), 0);
		cr_assert_eq(rw_tcpserver_pause_data(v.s, id[i]), 0);
		cr_assert_eq(rwt_send_all(fd[i], "pending", 7), 0);
	}
	size_t before = v.rec.n;
	RWT_ASSERT_CLEAN(&v.rec);
	rw_tcpserver_free(v.s);
	cr_expect_eq(v.rec.n, before, "free fired events");
	for (int i = 0; i < 3; i++) {
		/* the peer sees the end (after whatever data was in flight) */
		char buf[65536];
		ssize_t k;
		int end = 1;
		for (int guard = 0; guard < 10000 && end == 1; guard++) {
			k = recv(fd[i], buf, sizeof(buf), 0);
			if (k == 0)
				end = 0;
			else if (k < 0)
				end = -errno;
		}
		cr_expect(end == 0 || end == -ECONNRESET, "client %d end after free: %d", i, end);
		close(fd[i]);
	}
	free(data);
	rwt_rec_free(&v.rec);
}

static void disconnect_in_connected(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_connected *e)
{
	cr_assert_eq(rw_tcpserver_send_line(s, e->connection_id, "go away"), 0);
	cr_assert_eq(rw_tcpserver_disconnect(s, e->connection_id), 0);
}

Test(close, disconnect_inside_connected)
{
	struct server1 v;
	srv_start(&v, false);
	v.rec.on_connected = disconnect_in_connected;
	v.port = rwt_server_start(v.s);
	int fd = rwt_connect("127.0.0.1", v.port, 5000);
	cr_assert(fd >= 0);
	expect_last_words(&v, fd, "go away\r\n");
	pump_until_ge(v.s, &v.rec.disconnected, 1, 5000);
	rwt_pump_for(v.s, 100);
	rw_connid id = rwt_id(&v.rec, 0);
	cr_expect_eq(rwt_ev_count(&v.rec, id, RWT_CONNECTED), 1);
	cr_expect_eq(rwt_ev_count(&v.rec, id, RWT_DISCONNECTED), 1);
	cr_expect_eq(v.rec.ev[v.rec.n - 1].type, RWT_DISCONNECTED, "Disconnected is the last event");
	close(fd);
	srv_end(&v);
}

/* Inside Disconnected (the id's last event) the id's UserData is still
 * readable, so per-connection state can be released there; afterwards the
 * id is gone from get_connection_ids. */
struct ud_seen {
	void *seen;
	int connected_prop;
};

static void ud_disconnected(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_disconnected *e)
{
	struct ud_seen *u = r->ctx;
	u->seen = rw_tcpserver_get_user_data(s, e->connection_id);
}

Test(close, user_data_readable_inside_disconnected)
{
	struct server1 v;
	srv_start(&v, false);
	struct ud_seen u = {0};
	v.rec.ctx = &u;
	v.rec.on_disconnected = ud_disconnected;
	v.port = rwt_server_start(v.s);
	rw_connid a, b;
	int fa = srv_connect(&v, &a);
	int fb = srv_connect(&v, &b);
	static int token;
	cr_assert_eq(rw_tcpserver_set_user_data(v.s, a, &token), 0);
	close(fa);
	pump_until_ge(v.s, &v.rec.disconnected, 1, 5000);
	cr_expect_eq(u.seen, &token, "UserData inside Disconnected: %p", u.seen);
	rw_connid ids[4];
	cr_expect_eq(rw_tcpserver_get_connection_ids(v.s, ids, 4), 1);
	cr_expect_eq(ids[0], b);
	cr_expect_null(rw_tcpserver_get_user_data(v.s, a));
	close(fb);
	pump_until_ge(v.s, &v.rec.disconnected, 2, 5000);
	srv_end(&v);
}
