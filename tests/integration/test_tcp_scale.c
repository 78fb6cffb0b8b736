/* tests/integration/test_tcp_scale.c: 10,000 concurrent connections, each
 * sending a distinct message and receiving its echo while all are open; every
 * Connected and Disconnected counted. The client is one C thread with
 * non-blocking sockets and epoll; the process stays under RLIMIT_NOFILE
 * (20,000 here): the server side uses io_uring fixed files. With the epoll
 * backend (RINGWORKS_BACKEND=epoll) every server connection holds a real
 * descriptor in this same process, so the count is what the limit leaves
 * for both sides (9,850 at 20,000). */
#include "helpers/rwtest.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

TestSuite(scale, .timeout = 110);

#define NCONN 10000
#define MSGLEN 32

enum { C_CONNECTING = 1, C_SENT, C_ECHOED };

struct many {
	int n; /* connections to open: NCONN, or fewer with the epoll backend */
	int fd[NCONN];
	uint8_t state[NCONN];
	uint8_t got[NCONN];
	char in[NCONN][MSGLEN];
	atomic_int echoed;
	atomic_int connected_ok;
	int max_inflight;
};

static void msg_for(int i, char out[MSGLEN])
{
	uint8_t r[8];
	rwt_pattern(5150, (uint64_t)i * 8, r, 8);
	snprintf(out, MSGLEN, "m%05d:%02x%02x%02x%02x%02x%02x%02x%02x!", i, r[0], r[1], r[2], r[3], r[4], r[5],
	         r[6], r[7]);
	/* fixed length: pad */
	size_t n = strlen(out);
	memset(out + n, '.', MSGLEN - n);
}

static int open_one(rwt_thread *t, struct many *m, int ep, int i)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rwt_fail(t, "socket %d: %s", i, strerror(errno));
		return -1;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
		rwt_fail(t, "connect %d: %s", i, strerror(errno));
		close(fd);
		return -1;
	}
	m->fd[i] = fd;
	m->state[i] = C_CONNECTING;
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)i};
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

static void many_client(rwt_thread *t)
{
	struct many *m = t->arg;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int next = 0, inflight = 0;
	double end = rwt_now_ms() + 80000;
	struct epoll_event evs[512];
	while (atomic_load(&m->echoed) < m->n) {
		if (rwt_now_ms() > end) {
			rwt_fail(t, "timeout: %d opened, %d connected, %d echoed", next, atomic_load(&m->connected_ok),
			         atomic_load(&m->echoed));
			goto out;
		}
		/* keep a bounded number of connects in flight */
		while (next < m->n && inflight < 512) {
			if (open_one(t, m, ep, next) < 0)
				goto out;
			next++;
			inflight++;
		}
		int n = epoll_wait(ep, evs, 512, 100);
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			int fd = m->fd[i];
			if (m->state[i] == C_CONNECTING && (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
				int err = 0;
				socklen_t el = sizeof(err);
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					rwt_fail(t, "connect %d: %s", i, strerror(err));
					goto out;
				}
				atomic_fetch_add(&m->connected_ok, 1);
				char msg[MSGLEN];
				msg_for(i, msg);
				if (send(fd, msg, MSGLEN, MSG_NOSIGNAL) != MSGLEN) {
					rwt_fail(t, "send %d: %s", i, strerror(errno));
					goto out;
				}
				m->state[i] = C_SENT;
				inflight--;
				struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
				continue;
			}
			if (m->state[i] == C_SENT && (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
				ssize_t r = recv(fd, m->in[i] + m->got[i], MSGLEN - m->got[i], 0);
				if (r <= 0) {
					if (r < 0 && errno == EAGAIN)
						continue;
					rwt_fail(t, "recv %d: %s", i, r == 0 ? "EOF before the echo" : strerror(errno));
					goto out;
				}
				m->got[i] = (uint8_t)(m->got[i] + r);
				if (m->got[i] == MSGLEN) {
					char msg[MSGLEN];
					msg_for(i, msg);
					if (memcmp(msg, m->in[i], MSGLEN) != 0) {
						rwt_fail(t, "connection %d got someone else's echo: %.32s", i, m->in[i]);
						goto out;
					}
					m->state[i] = C_ECHOED;
					epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
					atomic_fetch_add(&m->echoed, 1);
				}
			}
		}
	}
	/* all are open and echoed: let the main thread look, then close */
	atomic_store(&t->flag, 1);
	if (!rwt_thread_wait_go(t, 60000))
		rwt_fail(t, "no go to close");
out:
	for (int i = 0; i < m->n; i++)
		if (m->state[i])
			close(m->fd[i]);
	close(ep);
}

static bool flag_or_done(void *p)
{
	rwt_thread *t = p;
	return atomic_load(&t->flag) || rwt_thread_done(t);
}

Test(scale, ten_thousand_concurrent_connections_echo)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	cr_assert(rl.rlim_cur >= NCONN + 200, "RLIMIT_NOFILE %llu is too small for %d client sockets",
	          (unsigned long long)rl.rlim_cur, NCONN);

	rwt_rec rec;
	rwt_rec_init(&rec);
	rec.echo = true;
	rec.record_events = false;
	rw_tcpserver *s = rwt_server_new(&rec);
	rwt_config(s, "MaxConnections=12000");
	cr_assert_eq(rw_tcpserver_set_connection_backlog(s, 4096), 0);
	int port = rwt_server_start(s);

	struct many *m = calloc(1, sizeof(*m));
	int n = NCONN;
	if (strcmp(rwt_config_get(s, "Backend"), "epoll") == 0 && (rlim_t)(2 * n + 300) > rl.rlim_cur)
		n = (int)((rl.rlim_cur - 300) / 2);
	m->n = n;
	rwt_thread t = {.port = port};
	double t0 = rwt_now_ms();
	rwt_thread_start(&t, many_client, m);
	bool ok = rwt_pump_until(s, flag_or_done, &t, 90000);
	double dt = rwt_now_ms() - t0;
	if (!ok || !atomic_load(&t.flag)) {
		rwt_thread_go(&t);
		rwt_pump_until(s, rwt_thread_done, &t, 10000);
		rwt_thread_join(&t);
		cr_assert_fail("clients did not finish: %s (connected %d, echoed %d, server Connected %d)", t.err,
		               atomic_load(&m->connected_ok), atomic_load(&m->echoed), rec.connected);
	}
	RWT_ASSERT_CLEAN(&rec);
	cr_expect_eq(rec.connected, n);
	cr_expect_eq(rw_tcpserver_get_connection_count(s), n, "all %d open at once", n);
	cr_expect_eq(rec.data_bytes, (size_t)n * MSGLEN);
	cr_expect_str_eq(rwt_config_get(s, "RejectedConnectionCount"), "0");
	cr_log_info("%d connections echoed in %.0f ms", n, dt);

	rwt_thread_go(&t);
	rwt_thread_finish(s, &t, 30000);
	pump_until_ge(s, &rec.disconnected, n, 30000);
	RWT_ASSERT_CLEAN(&rec);
	cr_expect_eq(rw_tcpserver_get_connection_count(s), 0);
	int both = 0;
	for (size_t i = 0; i < rec.tab_cap; i++)
		if (rec.tab[i].id && rec.tab[i].connected_n == 1 && rec.tab[i].disconnected_n == 1)
			both++;
	cr_expect_eq(both, n, "ids with exactly one Connected and one Disconnected");
	free(m);
	rw_tcpserver_free(s);
	rwt_rec_free(&rec);
}
