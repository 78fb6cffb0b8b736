/* ringworks/loop.h: an event loop (one io_uring) that several servers may share.
 *
 * Backends. A loop runs on the kernel's io_uring, or, where io_uring is
 * refused (Docker's default seccomp profile, sysctl kernel.io_uring_disabled,
 * a kernel without it), on an epoll backend that emulates the same requests
 * with readiness and non-blocking system calls: same events, same
 * guarantees, more system calls per message. RW_BACKEND_AUTO (the default)
 * tries io_uring and falls back to epoll when io_uring_setup is refused
 * (EPERM, ENOSYS) or the kernel is too old (EINVAL); the servers log the
 * reason once (LogLevel warn) and rw_loop_unavailable_reason() keeps it.
 * The environment variable RINGWORKS_BACKEND=auto|uring|epoll, read when a
 * loop is created, replaces a backend left at auto, so that a program that
 * cannot change its Config can still be moved to a backend. Servers expose
 * this as Config("Backend=auto|uring|epoll") (before their loop exists);
 * Config("Backend") on a server with a loop reads "uring" or "epoll": the
 * backend in use.
 *
 * By default each server creates its own loop at start_listening. To drive a
 * TCPServer, a WSServer and a DTLSServer from one thread with one ring, create
 * a loop, create each server with rw_<component>_new_on_loop(loop), and call
 * rw_loop_do_events(loop): one call serves them all.
 *
 * Not thread-safe: a loop and its servers belong to the thread that drives them.
 */
#ifndef RINGWORKS_LOOP_H
#define RINGWORKS_LOOP_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rw_loop rw_loop;

typedef enum {
	RW_BACKEND_AUTO = 0,  /* io_uring, else epoll (see above) */
	RW_BACKEND_URING = 1, /* io_uring only: -RW_EURING_UNAVAILABLE where refused */
	RW_BACKEND_EPOLL = 2  /* the epoll backend, even where io_uring works */
} rw_backend;

/* Loop settings; zero fields take the defaults shown.
 * Receive buffers: of the recv_buffer_count buffers the loop lends the kernel
 * 64 at first, twice as many each time receives run dry, fewer again when
 * they do not: a buffer filled again soon is still in the cache. A Workers=N
 * server's rings get 1/N of the default count each (rounded up to a power of
 * 2, at least 64). Bytes a DataIn delivers and that are sent during it (an
 * echo, a forward; 1 KiB or more per send) go out from the buffer they
 * arrived in, not a copy; the buffer returns to the ring once they are sent.
 * Such sends may hold fewer than half of the buffers (beyond that they copy),
 * so a peer that never reads cannot starve receiving; they count against
 * SendQueueLimit. */
typedef struct {
	unsigned ring_entries;      /* SQ size, default 4096 */
	unsigned recv_buffer_size;  /* bytes per provided receive buffer, default 32768 */
	unsigned recv_buffer_count; /* buffers in the ring (power of 2), default 1024 */
	unsigned max_fixed_files;   /* fixed-file table size, default min(RLIMIT_NOFILE, 1 << 20) */
	unsigned backend;           /* an rw_backend, default RW_BACKEND_AUTO */
} rw_loop_options;

/* Create a loop. Returns 0 and sets *out, or -RW_EURING_UNAVAILABLE when the
 * backend is RW_BACKEND_URING and the kernel refuses io_uring
 * (rw_loop_unavailable_reason() says why), -RW_EBAD_VALUE for an unknown
 * backend (or RINGWORKS_BACKEND value), -RW_ENOMEM, or another mapped system
 * error. `opts` may be NULL. */
RW_API int rw_loop_new(rw_loop **out, const rw_loop_options *opts);

/* The backend the loop runs on: RW_BACKEND_URING or RW_BACKEND_EPOLL
 * (never AUTO); -RW_EINVAL for NULL. */
RW_API int rw_loop_backend(const rw_loop *loop);

/* Free a loop. Every server on it must have been freed first; returns
 * -RW_EBAD_STATE (and frees nothing) otherwise. NULL is ignored (returns 0). */
RW_API int rw_loop_free(rw_loop *loop);

/* Wait up to timeout_ms (0 = do not wait, < 0 = until something completes) and
 * process completions and timers for every server on the loop, firing their
 * events. Returns the number of completions handled or a negative error. */
RW_API int rw_loop_do_events(rw_loop *loop, int timeout_ms);

/* A human sentence naming why io_uring is unavailable on this machine, after a
 * -RW_EURING_UNAVAILABLE or a fallback to epoll; "" otherwise. Static
 * storage; thread-safe. */
RW_API const char *rw_loop_unavailable_reason(void);

#ifdef __cplusplus
}
#endif
#endif
