/* tests/integration/test_tcp_drain.c: rw_tcpserver_drain. Idle connections
 * close at once with Disconnected(0, "OK") and a FIN; new connections are
 * refused; a queued 4 MB send reaches a slow reader whole before the FIN; a
 * reader that never reads loses the rest of the queue at the deadline; the demo server drains on
 * SIGTERM (queued echo bytes arrive, then EOF, exit status 0). */
#include "helpers/rwtest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(drain, .timeout = 60);

#define BIG (4u << 20)

struct drained {
	rw_tcpserver *s;
};

static bool drained(void *ctx)
{
	return rw_tcpserver_drain(((struct drained *)ctx)->s, -1) == 0;
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + (i >> 10));
}

Test(drain, report_only_and_idle_connections)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	int port = rwt_server_start(s);
	int fds[3];
	rw_connid id;
	for (int i = 0; i < 3; i++)
		fds[i] = rwt_connect_ready(s, &rec, port, 5000, 0, &id);
	/* deadline < 0 reports and changes nothing */
	cr_expect_eq(rw_tcpserver_drain(s, -1), 3);
	cr_expect_eq(rw_tcpserver_get_listening(s), 1);
	double t0 = rwt_now_ms();
	cr_expect_eq(rw_tcpserver_drain(s, 10000), 3);
	cr_expect_eq(rw_tcpserver_get_listening(s), 0);
	rwt_pump_for(s, 50); /* the accept's cancel completes: the port is free */
	int late = rwt_connect("127.0.0.1", port, 2000);
	cr_expect_eq(late, -ECONNREFUSED, "a connection after drain: %d", late);
	if (late >= 0)
		close(late);
	struct drained d = {s};
	pump_until(s, drained, &d, 3000);
	cr_expect(rwt_now_ms() - t0 < 2000, "idle connections close at once, not at the deadline");
	cr_expect_eq(rec.disconnected, 3);
	for (int i = 0; i < 3; i++) {
		const rwt_event *e = rwt_ev_nth(&rec, -1, RWT_DISCONNECTED, (size_t)i);
		cr_expect_eq(e->status, 0);
		cr_expect_str_eq(e->desc, "OK");
		cr_expect_eq(rwt_recv_end(fds[i]), 0, "client %d sees a FIN", i);
		close(fds[i]);
	}
	rwt_server_end(s, &rec);
}

/* A 4 MB send queued for a client with a small receive buffer: drain lets
 * all of it go out before the FIN. */
Test(drain, queued_send_finishes_before_close)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	rwt_config(s, "SendQueueLimit=16777216");
	int port = rwt_server_start(s);
	rw_connid id;
	int fd = rwt_connect_ready(s, &rec, port, 10000, 4096, &id);
	uint8_t *out = malloc(BIG), *in = malloc(BIG);
	fill(out, BIG);
	cr_assert_eq(rw_tcpserver_send(s, id, out, BIG), 0);
	rwt_pump_for(s, 50);
	cr_assert_gt(rw_tcpserver_drain(s, 20000), 0);
	cr_expect_eq(rec.disconnected, 0, "Disconnected comes from do_events");
	size_t got = rwt_pump_recv(s, fd, in, BIG, 20000);
	cr_expect_eq(got, BIG, "received %zu of %u", got, BIG);
	cr_expect_eq(memcmp(in, out, got), 0);
	cr_expect_eq(rwt_pump_recv_end(s, fd, 5000), 0, "FIN after the data");
	struct drained d = {s};
	pump_until(s, drained, &d, 5000);
	cr_expect_eq(rec.disconnected, 1);
	free(in);
	free(out);
	close(fd);
	rwt_server_end(s, &rec);
}

/* The client never reads: at the deadline the rest of the queue is dropped
 * and the socket closed (the kernel still delivers what it had taken, then
 * the FIN); drain reaches 0 soon after the deadline. */
Test(drain, deadline_resets_what_is_left)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	rwt_config(s, "SendQueueLimit=16777216");
	int port = rwt_server_start(s);
	rw_connid id;
	int fd = rwt_connect_ready(s, &rec, port, 5000, 4096, &id);
	uint8_t *out = malloc(BIG);
	fill(out, BIG);
	cr_assert_eq(rw_tcpserver_send(s, id, out, BIG), 0);
	rwt_pump_for(s, 50);
	double t0 = rwt_now_ms();
	cr_assert_eq(rw_tcpserver_drain(s, 400), 1);
	/* a second call never extends the deadline */
	cr_assert_eq(rw_tcpserver_drain(s, 60000), 1);
	struct drained d = {s};
	pump_until(s, drained, &d, 5000);
	double dt = rwt_now_ms() - t0;
	cr_expect(dt >= 350 && dt < 2500, "drained after %.0f ms (deadline 400)", dt);
	/* what reached the client is a prefix, then the reset */
	size_t got = 0;
	static uint8_t buf[65536];
	int end = 1;
	for (int i = 0; i < 10000; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0) {
			end = n == 0 ? 0 : -errno;
			break;
		}
		cr_assert_eq(memcmp(buf, out + got, (size_t)n), 0);
		got += (size_t)n;
	}
	cr_expect_lt(got, BIG, "the whole queue cannot have gone to a client that never read");
	cr_expect(end == 0 || end == -ECONNRESET, "closed at the deadline (got %d after %zu bytes)", end, got);
	cr_expect_eq(rec.disconnected, 1);
	free(out);
	close(fd);
	rwt_server_end(s, &rec);
}

/* ---- the demo server --------------------------------------------------------- */

static pid_t spawn_echo(int *port)
{
	const char *echo = getenv("RW_ECHO");
	cr_assert(echo && *echo, "RW_ECHO (path of ringworks-echo) is not set");
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execl(echo, echo, "--tcp", "0", "--host", "127.0.0.1", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	char line[256];
	size_t n = 0;
	*port = 0;
	struct pollfd p = {pfd[0], POLLIN, 0};
	double t0 = rwt_now_ms();
	while (!*port && rwt_now_ms() - t0 < 10000 && n + 1 < sizeof(line)) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t k = read(pfd[0], line + n, sizeof(line) - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		line[n] = 0;
		sscanf(line, "listening tcp %d", port);
	}
	close(pfd[0]);
	cr_assert_gt(*port, 0, "no 'listening tcp PORT' from ringworks-echo: '%.*s'", (int)n, line);
	return pid;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	for (int i = 0; i < timeout_ms / 10; i++) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

Test(drain, demo_drains_on_sigterm)
{
	int port;
	pid_t pid = spawn_echo(&port);
	/* a client that echoes a line, and one that sent 2 MB without reading:
	 * part of its echo is queued in the server when SIGTERM comes */
	int a = rwt_connect("127.0.0.1", port, 5000);
	int b = rwt_connect_opts("127.0.0.1", port, 10000, 4096, NULL);
	cr_assert(a >= 0 && b >= 0);
	char back[8];
	cr_assert_eq(rwt_send_all(a, "hello\n", 6), 0);
	cr_assert_eq(rwt_recv_n(a, back, 6), 6);
	const size_t total = 2u << 20;
	uint8_t *out = malloc(total);
	fill(out, total);
	int fl = fcntl(b, F_GETFL);
	fcntl(b, F_SETFL, fl | O_NONBLOCK);
	size_t sent = 0;
	double t0 = rwt_now_ms();
	while (sent < total && rwt_now_ms() - t0 < 3000) {
		ssize_t k = send(b, out + sent, total - sent, MSG_NOSIGNAL);
		if (k > 0)
			sent += (size_t)k;
		else
			usleep(10000);
	}
	fcntl(b, F_SETFL, fl);
	cr_assert_gt(sent, 0);
	usleep(200000);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	/* a: FIN; b: every echoed byte is a prefix of what it sent, then FIN */
	cr_expect_eq(rwt_recv_end(a), 0, "the idle client sees a FIN");
	static uint8_t buf[65536];
	size_t got = 0;
	int end = 1;
	for (int i = 0; i < 100000; i++) {
		ssize_t n = recv(b, buf, sizeof(buf), 0);
		if (n <= 0) {
			end = n == 0 ? 0 : -errno;
			break;
		}
		cr_assert_leq(got + (size_t)n, sent);
		cr_assert_eq(memcmp(buf, out + got, (size_t)n), 0);
		got += (size_t)n;
	}
	cr_expect_eq(end, 0, "FIN after the queued echo (got %d after %zu bytes)", end, got);
	cr_expect_gt(got, 65536, "the queued echo went out before the close (%zu bytes)", got);
	cr_expect_eq(wait_exit(pid, 10000), 0, "ringworks-echo exits 0 after SIGTERM");
	int late = rwt_connect("127.0.0.1", port, 2000);
	cr_expect(late < 0);
	if (late >= 0)
		close(late);
	close(a);
	close(b);
	free(out);
}
