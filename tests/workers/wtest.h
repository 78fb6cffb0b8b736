/* tests/workers/wtest.h: helpers for the Workers=N tests: blocking loopback
 * clients with timeouts, a line reader, and per-connection state that the
 * servers' handlers (which run on worker threads) keep in UserData. Criterion
 * asserts run on the main thread only: handlers count violations in atomics
 * that the test asserts afterwards. Every wait is bounded. */
#ifndef WTEST_H
#define WTEST_H

#include <ringworks/ringworks.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

double wt_now_ms(void);
void wt_sleep_ms(int ms);

/* A blocking TCP client to 127.0.0.1:port with a receive timeout; -1 on error. */
int wt_connect(int port, int timeout_ms);
/* Read until `len` bytes arrived, EOF, error or the socket's timeout: the count. */
size_t wt_read_full(int fd, void *buf, size_t len);
/* Send all of buf; false on error. */
bool wt_send_all(int fd, const void *buf, size_t len);
/* Read one '\n'-terminated line (without the '\n') into buf through a small
 * per-reader buffer; false on EOF, error or timeout. */
typedef struct {
	int fd;
	char buf[4096];
	size_t have, off;
} wt_reader;
bool wt_read_line(wt_reader *r, char *line, size_t max);

/* Live thread count of this process (/proc/self/task). */
int wt_thread_count(void);

/* The threads that ran event handlers: the test's main thread (set `main`
 * and init `mu` before starting), how many handler calls ran on it, and the
 * distinct other threads (up to 16). */
typedef struct {
	pthread_t main;
	atomic_int on_main;
	pthread_mutex_t mu;
	pthread_t threads[16];
	int nthreads;
} wt_threads;
/* Record the calling thread (from inside a handler). */
void wt_note_thread(wt_threads *t);

/* Wait (bounded) until *v >= want; returns whether it got there. */
bool wt_wait_ge(atomic_int *v, int want, int timeout_ms);

#endif
