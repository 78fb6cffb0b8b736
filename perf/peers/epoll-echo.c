/* perf/peers/epoll-echo.c: the classic single-threaded epoll echo server.
 *
 * The baseline for side-by-side benchmarks: what any C programmer would write.
 * Level-triggered epoll, non-blocking sockets, read into a 16 KiB stack buffer
 * and write straight back; an unsent remainder is kept per connection and the
 * connection then waits for EPOLLOUT (and is not read meanwhile).
 *
 *   epoll-echo [--host ADDR] [--port PORT] [--corrupt-every N] [--reuseport]
 *                                                         (PORT 0 = ephemeral)
 *
 * Prints "listening tcp PORT" once listening; exits 0 on SIGINT or SIGTERM
 * after printing "epoll-echo: accepted N connections, echoed B bytes".
 * --corrupt-every N flips one byte of every Nth read before echoing it: the
 * load generator's self-test checks that its verification catches that.
 * --reuseport sets SO_REUSEPORT, so that several epoll-echo processes share a
 * port (the kernel spreads connections over them): one process holds at most
 * RLIMIT_NOFILE connections, 20,000 here, so 100,000 need six.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 512
#define READ_BUF   16384

struct conn {
	int fd;
	char *pend;      /* unsent remainder, or NULL */
	size_t pend_len, pend_off;
};

static volatile sig_atomic_t g_stop; /* set by SIGINT/SIGTERM */
static unsigned long long g_accepted, g_bytes, g_reads, g_corrupt_every;
static int g_reuseport;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int listen_on(const char *host, int port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int one = 1, fd;

	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((unsigned short)port);
		len = sizeof *a4;
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((unsigned short)port);
		len = sizeof *a6;
	} else {
		fprintf(stderr, "epoll-echo: bad --host '%s' (numeric address expected)\n", host);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (g_reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)) {
		perror("epoll-echo: SO_REUSEPORT");
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, SOMAXCONN)) {
		perror("epoll-echo: bind/listen");
		close(fd);
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		printf("listening tcp %d\n", ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port));
	fflush(stdout);
	return fd;
}

static void conn_close(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->pend);
	free(c);
}

static void accept_all(int ep, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				perror("epoll-echo: accept");
			return;
		}
		struct conn *c = calloc(1, sizeof *c);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (c)
			c->fd = fd;
		g_accepted++;
		if (!c || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
		}
	}
}

/* Write buf; keep what the socket did not take. Returns -1 on a fatal error. */
static int send_or_keep(int ep, struct conn *c, const char *buf, size_t len)
{
	ssize_t n = write(c->fd, buf, len);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		n = 0;
	}
	if ((size_t)n == len)
		return 0;
	c->pend = malloc(len - (size_t)n);
	if (!c->pend)
		return -1;
	memcpy(c->pend, buf + n, len - (size_t)n);
	c->pend_len = len - (size_t)n;
	c->pend_off = 0;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int on_readable(int ep, struct conn *c)
{
	char buf[READ_BUF];
	ssize_t n = read(c->fd, buf, sizeof buf);

	if (n == 0)
		return -1;
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	g_bytes += (unsigned long long)n;
	if (g_corrupt_every && ++g_reads % g_corrupt_every == 0)
		buf[n / 2] ^= 0x5a;
	return send_or_keep(ep, c, buf, (size_t)n);
}

static int on_writable(int ep, struct conn *c)
{
	ssize_t n = write(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off);

	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	c->pend_off += (size_t)n;
	if (c->pend_off < c->pend_len)
		return 0;
	free(c->pend);
	c->pend = NULL;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void serve(int ep, int lfd)
{
	struct epoll_event evs[MAX_EVENTS];

	while (!g_stop) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			int rc = 0;
			if (!c) {
				accept_all(ep, lfd);
				continue;
			}
			if (c->pend)
				rc = on_writable(ep, c);
			else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				rc = on_readable(ep, c);
			if (rc)
				conn_close(ep, c);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"corrupt-every", 1, 0, 'x'}, {"reuseport", 0, 0, 'R'}, {"help", 0, 0, 'H'}, {0, 0, 0, 0}};
	const char *host = "127.0.0.1";
	int port = 0, ch;
	struct sigaction sa = {.sa_handler = on_signal};

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'x': g_corrupt_every = strtoull(optarg, NULL, 10); break;
		case 'R': g_reuseport = 1; break;
		case 'H': puts("usage: epoll-echo [--host ADDR] [--port PORT] [--corrupt-every N] [--reuseport]"); return 0;
		default: return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: epoll_wait returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	int lfd = listen_on(host, port);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (lfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev))
		return 1;
	serve(ep, lfd);
	fprintf(stderr, "epoll-echo: accepted %llu connections, echoed %llu bytes\n", g_accepted, g_bytes);
	close(ep);
	close(lfd);
	return 0;
}
