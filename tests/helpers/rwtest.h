/* tests/helpers/rwtest.h: shared helpers for the integration tests.
 *
 *  - an event recorder: every event of a server, in order, with copies of
 *    DataIn bytes, per-connection state, a live check of the documented
 *    per-connection order, optional echo with WOULDBLOCK handling;
 *  - pump_until(): turn the server until a predicate holds, bounded in time;
 *  - a threaded client runner (errors are recorded by the thread and asserted
 *    by the main thread: Criterion's asserts must not run off the main thread);
 *  - blocking and non-blocking socket helpers for clients;
 *  - a seeded pseudo-random generator, also addressable by stream offset;
 *  - spawning python3 / nc with collected output and exit code.
 *
 * Everything here is test code: loopback only, every wait bounded. */
#ifndef RWTEST_H
#define RWTEST_H

#include <ringworks/ringworks.h>

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- time --------------------------------------------------------------- */

double rwt_now_ms(void);

/* ---- event recorder ----------------------------------------------------- */

enum rwt_ev_type {
	RWT_REQUEST = 1,
	RWT_CONNECTED,
	RWT_READY,
	RWT_DATA,
	RWT_DISCONNECTED,
	RWT_ERROR,
};

typedef struct {
	enum rwt_ev_type type;
	rw_connid id;        /* 0 for RWT_REQUEST */
	int status;          /* Connected/Disconnected status, Error code */
	char desc[96];       /* description (Connected/Disconnected/Error) */
	bool eol;            /* DataIn */
	uint8_t *data;       /* DataIn copy (when copy_data), else NULL */
	size_t len;          /* DataIn length */
	char addr[64];       /* ConnectionRequest address */
	int port;            /* ConnectionRequest port */
	bool accept_initial; /* ConnectionRequest accept as the library set it */
	bool accept_final;   /* after the test's hook */
	bool in_send;        /* fired while rec->in_send was set (nested in a blocking call) */
	double t_ms;
} rwt_event;

typedef struct rwt_rec rwt_rec;

/* Per-connection state kept by the recorder (never removed). */
typedef struct {
	rw_connid id;
	int state;           /* 1 connected, 2 ready seen, 3 disconnected */
	int connected_n, ready_n, disconnected_n;
	size_t data_events, data_bytes;
	int disc_status;
	char remote_host[64];
	int remote_port;     /* read with the getters inside Connected */
	/* echo remainder after -RW_EWOULDBLOCK */
	uint8_t *pending;
	size_t pending_len, pending_off;
	int echo_wouldblock; /* times the echo hit -RW_EWOULDBLOCK */
	void *test;          /* free for tests */
} rwt_conn;

struct rwt_rec {
	rwt_event *ev;
	size_t n, cap;
	/* open-addressing table of rwt_conn by id */
	rwt_conn *tab;
	size_t tab_cap, tab_n;
	rw_connid *order;    /* ids in Connected order */
	size_t order_n, order_cap;

	int requests, connected, disconnected, ready, errors;
	size_t data_events, data_bytes;
	int pending_accepts; /* requests left with accept = true, not yet Connected */

	bool copy_data;      /* store DataIn bytes (default true) */
	bool record_events;  /* keep the event list (default true) */
	bool echo;           /* echo DataIn back, handling -RW_EWOULDBLOCK */
	volatile bool in_send; /* set by a test around a blocking call */

	void (*on_request)(rwt_rec *r, rw_tcpserver *s, rw_tcpserver_connection_request *e);
	void (*on_connected)(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_connected *e);
	void (*on_data)(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_data_in *e);
	void (*on_ready)(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_ready_to_send *e);
	void (*on_disconnected)(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_disconnected *e);
	void *ctx;

	char violation[512]; /* first contract violation seen live */
	char echo_error[256];
	char log_last[256];
};

void rwt_rec_init(rwt_rec *r);
void rwt_rec_attach(rwt_rec *r, rw_tcpserver *s);
void rwt_rec_free(rwt_rec *r);
rwt_conn *rwt_conn_get(rwt_rec *r, rw_connid id);
/* n-th id (0-based) in Connected order, or 0 */
rw_connid rwt_id(const rwt_rec *r, size_t n);
/* events of one id (id < 0: all ids) and type (0: all types) */
size_t rwt_ev_count(const rwt_rec *r, rw_connid id, int type);
const rwt_event *rwt_ev_nth(const rwt_rec *r, rw_connid id, int type, size_t n);
/* concatenated DataIn bytes of one id (malloc'd; *len set) */
uint8_t *rwt_data_concat(const rwt_rec *r, rw_connid id, size_t *len);

#define RWT_ASSERT_CLEAN(r)                                                              \
	do {                                                                             \
		cr_assert((r)->violation[0] == 0, "event contract: %s", (r)->violation);  \
		cr_assert((r)->echo_error[0] == 0, "echo: %s", (r)->echo_error);          \
		cr_expect_eq((r)->errors, 0, "unexpected Error events: %d, first: %s",     \
		             (r)->errors, rwt_first_error(r));                           \
	} while (0)
const char *rwt_first_error(const rwt_rec *r);

/* ---- servers and pumping -------------------------------------------------- */

/* A new server with DoEventsTimeout=50, LocalHost 127.0.0.1, LocalPort 0 and
 * the recorder attached (rec may be NULL). */
rw_tcpserver *rwt_server_new(rwt_rec *rec);
/* start_listening (asserted) and return the bound port */
int rwt_server_start(rw_tcpserver *s);
/* Asserts that `got` (Config "Backend" of a started server) is the backend
 * the environment's RWT_EXPECT_BACKEND names, when it names one. */
void rwt_expect_backend(const char *got);
/* End of a test: assert the recorder saw no contract violation, echo error or
 * Error event (RWT_ASSERT_CLEAN), then free the server and the recorder. */
void rwt_server_end(rw_tcpserver *s, rwt_rec *rec);
/* Config "Name=Value", asserted to return 0 */
void rwt_config(rw_tcpserver *s, const char *setting);
/* Config "Name": the value (static buffer, overwritten by the next call) */
const char *rwt_config_get(rw_tcpserver *s, const char *name);

typedef bool (*rwt_pred)(void *ctx);

/* Call do_events until pred(ctx) holds (checked before each call) or the
 * deadline passes; asserts that do_events never fails. Returns whether pred
 * held. */
bool rwt_pump_until(rw_tcpserver *s, rwt_pred pred, void *ctx, int timeout_ms);
bool rwt_loop_pump_until(rw_loop *l, rwt_pred pred, void *ctx, int timeout_ms);
/* Turn the loop for an observation window (to assert that nothing happens). */
void rwt_pump_for(rw_tcpserver *s, int ms);

#define pump_until(s, pred, ctx, timeout_ms)                                            \
	cr_assert(rwt_pump_until((s), (pred), (ctx), (timeout_ms)),                     \
	          "pump_until(%s) timed out after %d ms", #pred, (int)(timeout_ms))
#define loop_pump_until(l, pred, ctx, timeout_ms)                                       \
	cr_assert(rwt_loop_pump_until((l), (pred), (ctx), (timeout_ms)),                \
	          "loop_pump_until(%s) timed out after %d ms", #pred, (int)(timeout_ms))

struct rwt_ge {
	const volatile void *p;
	int64_t want;
	int width; /* sizeof the counter: 4 (int) or 8 (size_t / int64_t) */
};
bool rwt_pred_ge(void *ctx);
#define pump_until_ge(s, counter_ptr, want_, ms)                                       \
	do {                                                                             \
		struct rwt_ge g__ = {(counter_ptr), (int64_t)(want_),                     \
		                     (int)sizeof(*(counter_ptr))};                        \
		cr_assert(rwt_pump_until((s), rwt_pred_ge, &g__, (ms)),                   \
		          "pump_until(%s >= %lld) timed out after %d ms (value %lld)",     \
		          #counter_ptr, (long long)(want_), (int)(ms),                    \
		          (long long)*(counter_ptr));                                     \
	} while (0)

/* ---- threads ------------------------------------------------------------- */

typedef struct rwt_thread {
	pthread_t th;
	bool started;
	atomic_int done;
	char err[512];
	void (*fn)(struct rwt_thread *t);
	void *arg;
	/* a one-way "go" signal from the main thread */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int go;
	/* common client parameters and progress counters */
	int port;
	const char *host;
	atomic_llong progress;
	atomic_int flag;
} rwt_thread;

void rwt_thread_start(rwt_thread *t, void (*fn)(rwt_thread *t), void *arg);
/* record the first error (thread side) */
void rwt_fail(rwt_thread *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool rwt_thread_done(void *t);
void rwt_thread_join(rwt_thread *t);
void rwt_thread_go(rwt_thread *t);
/* thread side: wait for go (bounded); returns false on timeout */
bool rwt_thread_wait_go(rwt_thread *t, int timeout_ms);

/* pump until the thread is done, join it, assert it recorded no error */
#define rwt_thread_finish(s, t, ms)                                                   \
	do {                                                                             \
		pump_until((s), rwt_thread_done, (t), (ms));                              \
		rwt_thread_join(t);                                                       \
		cr_assert((t)->err[0] == 0, "client thread: %s", (t)->err);               \
	} while (0)

/* A pinger client (thread body rwt_pinger_thread, arg a rwt_pinger): echo
 * round trips "ping-NNNNNN" on fd until `until`'s flag is set (or max_pings),
 * to show that another connection keeps being served meanwhile. */
typedef struct {
	int fd;
	rwt_thread *until;
	int max_pings;
	int pings; /* round trips done */
} rwt_pinger;
void rwt_pinger_thread(rwt_thread *t);

/* ---- client sockets ------------------------------------------------------- */

/* A blocking TCP client (SOCK_CLOEXEC) with SO_RCVTIMEO/SO_SNDTIMEO of
 * io_timeout_ms. rcvbuf > 0 sets SO_RCVBUF before connecting. Returns the fd
 * or -errno. */
int rwt_connect(const char *host, int port, int io_timeout_ms);
int rwt_connect_opts(const char *host, int port, int io_timeout_ms, int rcvbuf, const char *bind_addr);
int rwt_send_all(int fd, const void *buf, size_t len);
/* read until n bytes or EOF; returns the count or -errno */
ssize_t rwt_recv_n(int fd, void *buf, size_t n);
/* wait (blocking, bounded by the fd's timeout) for the end: 0 = EOF,
 * -ECONNRESET = reset, 1 = data arrived instead, other -errno */
int rwt_recv_end(int fd);
/* close with SO_LINGER {1, 0}: the peer sees a reset */
void rwt_close_rst(int fd);
/* the local / peer port and address of a socket */
int rwt_sock_port(int fd, bool peer, char *addr, size_t addr_len);
/* Send data and read the same number of bytes back concurrently (poll on a
 * non-blocking socket). Returns 0, or -errno / -ETIMEDOUT. */
int rwt_exchange(int fd, const void *out, size_t out_len, void *in, size_t in_len, int timeout_ms);

/* Main-thread client helpers (they turn the server while waiting). */
/* Connect a client (rwt_connect_opts, rcvbuf 0 = default) and pump until the
 * recorder counts one more ReadyToSend; returns the fd and sets *id to the
 * newest connection's id. The usual "connect and wait until usable" step. */
int rwt_connect_ready(rw_tcpserver *s, rwt_rec *rec, int port, int io_timeout_ms, int rcvbuf, rw_connid *id);
/* Close the n client fds, pump until the recorder counts want_disc
 * Disconnected events in all, then rwt_server_end: the usual test ending. */
void rwt_close_all_end(rw_tcpserver *s, rwt_rec *rec, const int *fds, size_t n, int want_disc);
/* read exactly n bytes, pumping; returns the count (less on EOF/timeout) */
size_t rwt_pump_recv(rw_tcpserver *s, int fd, void *buf, size_t n, int timeout_ms);
/* wait for EOF or reset, pumping: 0 = EOF, -ECONNRESET, -ETIMEDOUT, 1 = data */
int rwt_pump_recv_end(rw_tcpserver *s, int fd, int timeout_ms);
/* send msg and expect it echoed back */
bool rwt_pump_echo(rw_tcpserver *s, int fd, const void *msg, size_t len, int timeout_ms);

/* ---- pseudo-random data ---------------------------------------------------- */

uint64_t rwt_splitmix(uint64_t *state);
/* fill buf with bytes of the stream `seed` starting at byte `offset` */
void rwt_pattern(uint64_t seed, uint64_t offset, void *buf, size_t len);
/* malloc'd len bytes of stream `seed`, with a NUL every 97 bytes */
uint8_t *rwt_random(size_t len, uint64_t seed);

/* ---- child processes -------------------------------------------------------- */

typedef struct {
	pid_t pid;
	int out_fd;     /* stdout+stderr of the child, non-blocking */
	int in_fd;      /* write end of the child's stdin, or -1 */
	char *out;
	size_t out_len, out_cap;
	bool exited;
	int exit_code;  /* exit status, or 128 + signal */
} rwt_proc;

/* spawn argv (PATH lookup); with_stdin gives a pipe in p->in_fd, else /dev/null */
int rwt_proc_spawn(rwt_proc *p, char *const argv[], bool with_stdin);
/* python3 -c script arg... (args NULL-terminated) */
int rwt_python(rwt_proc *p, const char *script, const char *const *args);
/* drain output; reap; true once exited and output at EOF (a rwt_pred) */
bool rwt_proc_done(void *p);
void rwt_proc_kill(rwt_proc *p);
/* Run `python3 -c script PORT` (a client of the server on port) to the end
 * while turning s; asserts it started and ended within timeout_ms. The exit
 * code and output are left in *p for the test to check; rwt_proc_free it. */
void rwt_python_client(rw_tcpserver *s, rwt_proc *p, const char *script, int port, int timeout_ms);
void rwt_proc_free(rwt_proc *p);

#define rwt_proc_finish(s, p, ms)                                                     \
	do {                                                                             \
		bool ok__ = rwt_pump_until((s), rwt_proc_done, (p), (ms));                \
		if (!ok__)                                                                \
			rwt_proc_kill(p);                                                 \
		cr_assert(ok__, "child process did not finish in %d ms; output:\n%s",      \
		          (int)(ms), (p)->out ? (p)->out : "");                           \
	} while (0)

/* ---- misc ---------------------------------------------------------------- */

bool rwt_have_ipv6_loopback(void);
/* hex preview of bytes for messages (static buffer) */
const char *rwt_hex(const void *p, size_t len);

#endif
