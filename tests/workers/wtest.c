/* tests/workers/wtest.c: see wtest.h. */
#include "wtest.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double wt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

void wt_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int wt_connect(int port, int timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

size_t wt_read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

bool wt_send_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

bool wt_read_line(wt_reader *r, char *line, size_t max)
{
	size_t n = 0;
	for (;;) {
		if (r->off == r->have) {
			ssize_t got = recv(r->fd, r->buf, sizeof(r->buf), 0);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return false;
			r->have = (size_t)got;
			r->off = 0;
		}
		char ch = r->buf[r->off++];
		if (ch == '\n') {
			line[n] = 0;
			return true;
		}
		if (n + 1 < max)
			line[n++] = ch;
	}
}

int wt_thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

bool wt_wait_ge(atomic_int *v, int want, int timeout_ms)
{
	double end = wt_now_ms() + timeout_ms;
	while (atomic_load(v) < want) {
		if (wt_now_ms() > end)
			return false;
		wt_sleep_ms(2);
	}
	return true;
}

void wt_note_thread(wt_threads *t)
{
	pthread_t me = pthread_self();
	if (pthread_equal(me, t->main))
		atomic_fetch_add(&t->on_main, 1);
	pthread_mutex_lock(&t->mu);
	bool seen = false;
	for (int i = 0; i < t->nthreads; i++)
		seen |= pthread_equal(t->threads[i], me);
	if (!seen && t->nthreads < 16)
		t->threads[t->nthreads++] = me;
	pthread_mutex_unlock(&t->mu);
}
