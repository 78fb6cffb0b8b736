/* perf/load.h: rw-load's shared state and the functions its files share. */
#ifndef RW_LOAD_H
#define RW_LOAD_H

#include "load_args.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define BGID             7
#define PAT_PERIOD       65521u            /* prime: never a multiple of a size */
#define SEND_CHUNK_MAX   (256u * 1024)     /* largest single send */
#define CONNECT_INFLIGHT 512u
#define DRAIN_NS         (1000000000ull)
#define FD_RESERVE       64u
#define SOURCE_CONNS     8000u  /* default connections per source address */
#define BUFS_MEMORY_MAX  (64u << 20)
#define NSEC             1000000000ull
#define IDLE_CHECK_NS    (20ull * 1000000000ull) /* --idle: time for the final round */
#define TLS_READ_BUF     16384u
#define ZOUT             16384u            /* --deflate: inflate output chunk */

/* ---- log-linear latency histogram (HDR-like, ns) ----------------------- */

#define H_SUB_BITS 7
#define H_SUB      (1u << H_SUB_BITS)
#define H_BUCKETS  ((64 - H_SUB_BITS + 1) * H_SUB)

struct hist {
	uint64_t b[H_BUCKETS];
	uint64_t count, max, sum;
};

/* ---- state ------------------------------------------------------------- */

struct opts {
	const char *host, *json;
	int port;
	unsigned conns, pipeline, sources;
	unsigned conns_total; /* over every process (conns: this process's part) */
	size_t size;
	double duration, warmup, connect_rate;
	double rate; /* --rate: new connections per second (open loop), 0: off */
	int server_pid[8]; /* none, or sample their CPU and RSS over the window */
	unsigned nserver_pids;
	const char *mark; /* created when the measured window starts */
	unsigned processes; /* 0: as many as RLIMIT_NOFILE needs */
	double connect_timeout; /* seconds for the connect phase */
	bool quiet, tls, ws, churn, idle;
	bool deflate; /* ws/wss: permessage-deflate */
};

/* A process's CPU time and resident memory, from /proc. */
struct proc_sample {
	double cpu_us, user_us, sys_us;
	long rss_kib;
	bool ok;
};

enum { OP_CONNECT = 1, OP_RECV, OP_SEND, OP_SHUTDOWN, OP_CLOSE, OP_SOCKET };
enum { C_NEW, C_CONNECTING, C_OPEN, C_DEAD, C_CLOSING, C_CLOSED };

/* --mode tls: wolfSSL over the same ring. Ciphertext from the network is
 * appended to in[]; wolfSSL's write callback appends to out[cur] while
 * out[!cur] may be in flight (one send per socket). */
struct tls {
	WOLFSSL *ssl;
	uint8_t *in, *out[2];
	size_t in_len, in_off, in_cap, out_len[2], out_cap[2], sent;
	int cur, fl; /* fl: the buffer in flight, or -1 */
	bool hs_done;  /* TLS handshake done */
	/* --mode ws/wss: the upgrade response (in plaintext), then the server's
	 * frame being parsed */
	bool ws_done;
	bool zmsg, fin; /* --deflate: the message is compressed; the frame is its last */
	uint8_t *hs;
	size_t hs_len, hs_cap;
	uint8_t hdr[14];
	unsigned hdr_len, hdr_need;
	uint64_t payload_left;
};
enum { P_CONNECT, P_WARMUP, P_MEASURE, P_DRAIN, P_DONE };

struct conn {
	uint64_t tx_queued, tx_off, rx_off; /* stream offsets, bytes */
	uint64_t issued, done;              /* messages */
	uint64_t t_cycle;                   /* --churn: when this cycle's connect went out */
	uint64_t t_sched;                   /* --rate: when this cycle was due */
	uint32_t base;                      /* pattern offset of stream byte 0 */
	uint8_t state;
	bool sending, recv_armed, rearm_listed, seen, shut_pending, waiting;
	bool used;                          /* --rate: its first socket is gone */
	struct tls *t;                      /* --mode tls */
};

struct stats {
	uint64_t established, connect_fail, msgs, verify_err, disconnects, stalled;
	uint64_t rx_bytes, cycles, tls_err, idle_checked, handshakes, connects;
	uint64_t total_done; /* completions in every phase, for progress */
	uint64_t late;       /* --rate: connections started over 1 ms after they were due */
	int first_connect_err, first_disc_err;
};

struct load {
	struct opts o;
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	uint8_t *bufs, *pattern;
	unsigned br_entries, br_mask, buf_size, br_pending;
	struct conn *c;
	int *fds;
	uint64_t *stamps; /* conns x pipeline send times */
	unsigned *rearm;
	unsigned nrearm, next_connect, connecting, resolved;
	uint64_t inflight_msgs;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	int phase;
	bool barrier_done; /* tls/ws echo: messages start once every handshake is done */
	uint64_t t_start, t_conn_done, t_measure, t_measure_end, t_drain, t_progress;
	uint64_t progress_done;
	struct rusage ru0, ru1;
	struct proc_sample srv0, srv1, srv_base;
	WOLFSSL_CTX *tls_ctx;
	char tls_info[128]; /* version, cipher and group of the first handshake */
	uint8_t *tls_scratch;
	uint8_t *wss_buf;   /* --mode wss: frames before encryption */
	size_t wss_cap, wss_len;
	z_stream *zdef, *zinf; /* --deflate: reset per message (no context takeover) */
	uint8_t *wss_plain;    /* --deflate: a message before compression */
	size_t wss_plain_cap;
	uint8_t *zbuf, *zout;  /* a compressed message; inflated output */
	size_t zcap;
	struct hist h;
	struct stats s;
	/* several processes (load_multi.c): this one's part of the connections */
	struct share *sh;     /* NULL when alone */
	unsigned proc_idx;    /* which process */
	unsigned first;       /* global index of connection 0 */
	bool at_barrier;      /* arrived at the measure barrier */
	/* --rate (load_rate.c) */
	unsigned *free_slots, nfree;
	uint64_t t_rate0, started;
};

struct result {
	double secs, connect_secs, msgs_per_s, mib_per_s, cpu_us_per_msg, cpu_pct;
	double p50, p90, p99, p999, max, mean;
	double srv_us_per_msg, srv_pct; /* -1: not sampled */
	double srv_user_pct, srv_sys_pct, srv_rss_per_conn_kib;
	double conn_per_s, connect_rate;
	uint64_t units; /* messages, or cycles with --churn */
	bool ok;
};

extern volatile sig_atomic_t g_stop; /* SIGINT/SIGTERM: end the run early */

/* load_proc.c */
void on_signal(int sig);
uint64_t now_ns(void);
struct proc_sample proc_sample(const struct load *L);
unsigned next_pow2(unsigned v);

/* load_hist.c */
void hist_add(struct hist *h, uint64_t v);
uint64_t hist_pct(const struct hist *h, double pct);

/* load_opts.c */
void parse_args(struct load *L, int argc, char **argv);

/* load_setup.c */
unsigned fd_limit(void);
void check_fd_limit(const struct load *L);
void setup_ring(struct load *L);
void setup_buffers(struct load *L);
void setup_pattern(struct load *L);
void setup_conns(struct load *L);
struct io_uring_sqe *get_sqe(struct load *L);
void set_ud(struct io_uring_sqe *sqe, unsigned idx, unsigned op);
void arm_recv(struct load *L, unsigned idx);

/* load_tls.c */
int grow(uint8_t **buf, size_t *cap, size_t need);
void setup_tls(struct load *L);
int tls_begin(struct load *L, struct conn *c);
int tls_write_all(struct load *L, unsigned idx, const uint8_t *p, size_t len);
void tls_end(struct conn *c);
void tls_fail(struct load *L, unsigned idx, int ret, const char *where);
void tls_flush(struct load *L, unsigned idx); /* send the accumulated output, one send in flight */
void tls_queue(struct load *L, unsigned idx);
void tls_input(struct load *L, unsigned idx, const uint8_t *p, unsigned n);

/* load_ws.c */
const char *ws_request(const struct load *L, size_t *len);
void setup_deflate(struct load *L);
void ws_reset(struct tls *t);
int ws_begin(struct load *L, struct conn *c);
void ws_fail(struct load *L, unsigned idx, const char *why);
void ws_queue(struct load *L, unsigned idx);
void ws_input(struct load *L, unsigned idx, const uint8_t *p, unsigned n);

/* load_conn.c */
void start_send(struct load *L, unsigned idx);
void issue_msg(struct load *L, unsigned idx, uint64_t now);
void issue_connects(struct load *L, uint64_t now);
void conn_lost(struct load *L, unsigned idx, int res);
bool issuing(const struct load *L);
bool barrier(const struct load *L);
void conn_ready(struct load *L, unsigned idx, uint64_t now);
void churn_connect(struct load *L, unsigned idx);
void verify(struct load *L, unsigned idx, const uint8_t *p, unsigned n);
void complete_msgs(struct load *L, unsigned idx);
unsigned reap(struct load *L);

/* load_multi.c */
int run_processes(struct load *L); /* fork, run, merge; returns the exit status */
bool multi_barrier(struct load *L, uint64_t now);
void multi_arrive(struct load *L);
void multi_progress(struct load *L, uint64_t *established, uint64_t *done);

/* load_rate.c */
void rate_setup(struct load *L, uint64_t now);
void rate_start(struct load *L, uint64_t now);
void rate_slot_free(struct load *L, unsigned idx);

/* load_run.c */
void run(struct load *L);

/* load_report.c */
const char *mode_name(const struct load *L);
struct result summarize(const struct load *L);
void print_table(const struct load *L, const struct result *r);
int write_json(const struct load *L, const struct result *r);

#endif
