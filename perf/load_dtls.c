/* perf/load_dtls.c: rw-load --mode dtls, a DTLS 1.2 echo load generator.
 *
 * Many wolfSSL DTLS 1.2 client sessions in one thread, each on its own UDP
 * socket (wolfSSL's socket I/O, non-blocking), all in one epoll set:
 *  - connect phase: every session handshakes, at most --handshakes-inflight at
 *    a time (a thousand ClientHellos at once overflow a default socket buffer
 *    and turn the phase into a retransmission test); each handshake is timed
 *    from its first ClientHello to wolfSSL_connect's success, and wolfSSL's
 *    retransmission timer is driven from here (wolfSSL_dtls_got_timeout);
 *  - echo (default): once every session is up, each keeps --pipeline datagrams
 *    of --size bytes in flight, and at most --window in all (the rest wait
 *    their turn, so the server's socket buffer never overflows and every
 *    session stays in use); --rate caps the datagrams sent per second, so that
 *    two servers can be compared (and profiled) at the same offered load.
 *    Each datagram carries its session, its sequence
 *    number and a pattern derived from both, and the echo must match byte for
 *    byte. A datagram not echoed within LOSS_NS counts as lost (UDP) and the
 *    session sends a new one;
 *  - --churn: each session cycles through a fresh socket (a new source port),
 *    a full handshake, one echo and close_notify, so the window's server CPU
 *    divided by its handshakes is the CPU per handshake.
 * Server CPU and RSS come from /proc/PID/stat of --server-pid at the edges of
 * the measured window, as in the TCP modes. Every phase is bounded in time:
 * at most HS_PHASE_NS + --warmup + --duration + DRAIN_NS.
 */
#include "load_args.h"
#include "load_dtls.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NSEC        1000000000ull
#define HS_PHASE_NS (30ull * NSEC) /* every session must be up by then */
#define DRAIN_NS    (1ull * NSEC)
#define LOSS_NS     (1ull * NSEC)  /* an echo later than this counts as lost */
#define HDR         12u            /* session (4) + sequence (8) */
#define MAX_SIZE    1300u          /* below every cipher's record limit at MTU 1400 */

/* ---- a log-linear histogram (ns) ------------------------------------------ */

#define H_SUB_BITS 6
#define H_SUB      (1u << H_SUB_BITS)
#define H_BUCKETS  ((64 - H_SUB_BITS + 1) * H_SUB)

struct hist {
	uint64_t b[H_BUCKETS], count, max, sum;
};

static unsigned h_index(uint64_t v)
{
	if (v < 2 * H_SUB)
		return (unsigned)v;
	unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - H_SUB_BITS;
	return (shift + 1) * H_SUB + (unsigned)((v >> shift) - H_SUB);
}

static uint64_t h_upper(unsigned idx)
{
	if (idx < 2 * H_SUB)
		return idx;
	unsigned shift = idx / H_SUB - 1;
	return ((uint64_t)(idx % H_SUB + H_SUB) << shift) + ((uint64_t)1 << shift) - 1;
}

static void h_add(struct hist *h, uint64_t v)
{
	h->b[h_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static double h_pct_us(const struct hist *h, double pct)
{
	if (!h->count)
		return 0;
	uint64_t want = (uint64_t)(pct / 100.0 * (double)h->count + 0.999999), seen = 0;
	for (unsigned i = 0; i < H_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want && seen)
			return (double)(h_upper(i) < h->max ? h_upper(i) : h->max) / 1000.0;
	}
	return (double)h->max / 1000.0;
}

/* ---- state ---------------------------------------------------------------- */

enum { S_NONE, S_HS, S_OPEN, S_FAILED };
enum { P_HS, P_WARMUP, P_MEASURE, P_DRAIN, P_DONE };

struct slot_msg {
	uint64_t seq, t_sent; /* t_sent 0: free */
};

struct sess {
	WOLFSSL *ssl;
	int fd, state;
	uint64_t t_hs, next_to, next_seq;
	unsigned inflight, queued;
	struct slot_msg *m; /* --pipeline entries */
};

struct opts {
	const char *host, *json, *mark;
	int port, server_pid[8];
	unsigned nserver_pids, conns, pipeline, window, hs_inflight;
	size_t size;
	double duration, warmup, rate;
	bool churn, quiet;
};

struct cpu {
	double cpu_us, user_us, sys_us;
	long rss_kib;
	bool ok;
};

struct stats {
	uint64_t handshakes, hs_fail, msgs, lost, late, verify_err, tls_err, disconnects, cycles;
	uint64_t hs_window, retransmits, msgs_all;
};

struct load {
	struct opts o;
	WOLFSSL_CTX *ctx;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	struct sess *s;
	unsigned *waitq, wq_head, wq_len; /* sessions waiting for window room */
	unsigned inflight, hs_now, next_hs, up;
	int ep, phase;
	uint64_t t_start, t_up, t_measure, t_measure_end, t_drain;
	uint64_t rate_sent; /* --rate: datagrams sent since t_up */
	struct rusage ru0, ru1;
	struct cpu srv0, srv1, srv_base;
	struct hist lat, hs;
	struct stats st;
	char info[128];
	uint8_t buf[16384];
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static struct cpu cpu_of(int pid)
{
	struct cpu c = {0};
	char path[64], buf[1024];
	unsigned long long ut, st;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return c;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return c;
	c.user_us = (double)ut * 1e6 / (double)sysconf(_SC_CLK_TCK);
	c.sys_us = (double)st * 1e6 / (double)sysconf(_SC_CLK_TCK);
	c.cpu_us = c.user_us + c.sys_us;
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(buf, sizeof buf, f))
		if (sscanf(buf, "VmRSS: %ld", &c.rss_kib) == 1)
			break;
	if (f)
		fclose(f);
	c.ok = true;
	return c;
}

static struct cpu server_cpu(const struct load *L)
{
	struct cpu sum = {0};
	for (unsigned i = 0; i < L->o.nserver_pids; i++) {
		struct cpu c = cpu_of(L->o.server_pid[i]);
		if (!c.ok)
			return (struct cpu){0};
		sum.cpu_us += c.cpu_us;
		sum.user_us += c.user_us;
		sum.sys_us += c.sys_us;
		sum.rss_kib += c.rss_kib;
		sum.ok = true;
	}
	return sum;
}

/* ---- options -------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rw-load --mode dtls --port PORT [options]\n"
		"  --host ADDR              loopback server address (127.0.0.0/8 or ::1)\n"
		"  --connections N          DTLS sessions, default 1000\n"
		"  --size BYTES             datagram payload, %u..%u, default 64\n"
		"  --pipeline K             datagrams in flight per session, default 1\n"
		"  --window W               datagrams in flight in all, default 256\n"
		"  --handshakes-inflight H  concurrent handshakes, default 64\n"
		"  --rate R                 at most R datagrams/s sent in all (default: no cap)\n"
		"  --churn                  each session: new socket, handshake, one echo,\n"
		"                           close_notify, again; reports handshakes/s\n"
		"  --duration S / --warmup S  measured / unmeasured seconds (5 / 1)\n"
		"  --server-pid PID[,PID]   server CPU per datagram / per handshake, RSS\n"
		"  --mark FILE              created when the measured window starts\n"
		"  --json FILE / --quiet\n"
		"exit status: 0 when every session came up and no verification or DTLS error\n"
		"happened (lost datagrams are counted, not failures); 1 otherwise; 2 usage\n",
		HDR, MAX_SIZE);
}

static void parse_args(struct load *L, int argc, char **argv)
{
	static const struct option lo[] = {
		{"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"connections", 1, 0, 'c'},
		{"size", 1, 0, 's'}, {"pipeline", 1, 0, 'k'}, {"window", 1, 0, 'W'},
		{"handshakes-inflight", 1, 0, 'H'}, {"duration", 1, 0, 'd'}, {"warmup", 1, 0, 'w'},
		{"json", 1, 0, 'j'}, {"mode", 1, 0, 'm'}, {"churn", 0, 0, 'C'}, {"mark", 1, 0, 'M'},
		{"server-pid", 1, 0, 'P'}, {"rate", 1, 0, 'R'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, '?'}, {0, 0, 0, 0}};
	struct opts *o = &L->o;
	int ch;
	*o = (struct opts){.host = "127.0.0.1", .conns = 1000, .size = 64, .pipeline = 1,
	                   .window = 256, .hs_inflight = 64, .duration = 5, .warmup = 1, .port = -1};
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': o->host = optarg; break;
		case 'p': o->port = (int)num_arg(optarg, "port", 1, 65535); break;
		case 'c': o->conns = (unsigned)num_arg(optarg, "connections", 1, 60000); break;
		case 's': o->size = (size_t)num_arg(optarg, "size", HDR, MAX_SIZE); break;
		case 'k': o->pipeline = (unsigned)num_arg(optarg, "pipeline", 1, 64); break;
		case 'W': o->window = (unsigned)num_arg(optarg, "window", 1, 1 << 20); break;
		case 'H': o->hs_inflight = (unsigned)num_arg(optarg, "handshakes-inflight", 1, 60000); break;
		case 'd': o->duration = num_arg(optarg, "duration", 0.1, 3600); break;
		case 'w': o->warmup = num_arg(optarg, "warmup", 0, 600); break;
		case 'j': o->json = optarg; break;
		case 'M': o->mark = optarg; break;
		case 'C': o->churn = true; break;
		case 'R': o->rate = num_arg(optarg, "rate", 1, 1e8); break;
		case 'q': o->quiet = true; break;
		case 'm':
			if (strcmp(optarg, "dtls"))
				die("rw-load-dtls: --mode must be dtls");
			break;
		case 'P': {
			char *save = NULL;
			for (char *t = strtok_r(optarg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				if (o->nserver_pids == 8)
					die("--server-pid: at most 8 pids");
				o->server_pid[o->nserver_pids++] = (int)num_arg(t, "server-pid", 1, 1 << 30);
			}
			break;
		}
		case '?':
			usage(optopt ? stderr : stdout);
			exit(optopt ? 2 : 0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc || o->port < 0) {
		usage(stderr);
		exit(2);
	}
	loopback_dst(o->host, o->port, &L->dst, &L->dstlen);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < o->conns + 64) {
		rl.rlim_cur = rl.rlim_max < o->conns + 64 ? rl.rlim_max : o->conns + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < o->conns + 64)
			die("--connections above RLIMIT_NOFILE - 64");
	}
}

/* ---- sessions --------------------------------------------------------------- */

static void sess_close(struct load *L, struct sess *x, bool notify)
{
	if (x->ssl) {
		if (notify && x->state == S_OPEN)
			wolfSSL_shutdown(x->ssl); /* one close_notify datagram */
		wolfSSL_free(x->ssl);
		x->ssl = NULL;
	}
	if (x->fd >= 0) {
		close(x->fd); /* leaves the epoll set with it */
		x->fd = -1;
	}
	if (x->state == S_HS)
		L->hs_now--;
	if (x->inflight) {
		L->inflight -= x->inflight;
		x->inflight = 0;
		for (unsigned k = 0; k < L->o.pipeline; k++)
			x->m[k].t_sent = 0;
	}
	x->state = S_NONE;
}

static void hs_step(struct load *L, unsigned idx, uint64_t now);

static void hs_begin(struct load *L, unsigned idx, uint64_t now)
{
	struct sess *x = &L->s[idx];
	x->fd = socket(L->dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->fd < 0)
		die("socket failed (RLIMIT_NOFILE?)");
	/* Connected: the kernel delivers only the server's datagrams here. */
	if (connect(x->fd, (struct sockaddr *)&L->dst, L->dstlen) < 0)
		die("connect on a UDP socket failed");
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = idx};
	epoll_ctl(L->ep, EPOLL_CTL_ADD, x->fd, &ev);
	x->ssl = wolfSSL_new(L->ctx);
	if (!x->ssl)
		die("wolfSSL_new failed");
	wolfSSL_set_fd(x->ssl, x->fd);
	wolfSSL_dtls_set_peer(x->ssl, &L->dst, L->dstlen);
	wolfSSL_dtls_set_using_nonblock(x->ssl, 1);
	x->state = S_HS;
	x->t_hs = now;
	L->hs_now++;
	hs_step(L, idx, now);
}

static void issue(struct load *L, unsigned idx, uint64_t now);

/* Room for one more datagram: the window, and --rate's budget so far. */
static bool may_send(const struct load *L, uint64_t now)
{
	if (L->inflight >= L->o.window)
		return false;
	if (L->o.rate <= 0 || L->phase == P_HS)
		return true;
	return (double)L->rate_sent < (double)(now - L->t_up) * L->o.rate / (double)NSEC + 1;
}

static void hs_step(struct load *L, unsigned idx, uint64_t now)
{
	struct sess *x = &L->s[idx];
	int ret = wolfSSL_connect(x->ssl);
	if (ret == WOLFSSL_SUCCESS) {
		x->state = S_OPEN;
		L->hs_now--;
		L->up++;
		L->st.handshakes++;
		if (L->phase == P_MEASURE)
			L->st.hs_window++;
		h_add(&L->hs, now - x->t_hs);
		if (!L->info[0])
			snprintf(L->info, sizeof L->info, "%s %s", wolfSSL_get_version(x->ssl),
			         wolfSSL_get_cipher_name(x->ssl));
		if (L->o.churn && L->phase < P_DRAIN)
			issue(L, idx, now);
		return;
	}
	int err = wolfSSL_get_error(x->ssl, ret);
	if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
		x->next_to = now + (uint64_t)wolfSSL_dtls_get_current_timeout(x->ssl) * NSEC;
		return;
	}
	L->st.hs_fail++;
	sess_close(L, x, false);
	x->state = S_FAILED;
}

/* Byte i of datagram seq of session idx. */
static inline uint8_t pat(unsigned idx, uint64_t seq, size_t i)
{
	return (uint8_t)(seq * 131u + idx * 7u + i);
}

static void send_one(struct load *L, unsigned idx, uint64_t now)
{
	struct sess *x = &L->s[idx];
	unsigned k = 0;
	while (k < L->o.pipeline && x->m[k].t_sent)
		k++;
	if (k == L->o.pipeline)
		return;
	uint64_t seq = x->next_seq++;
	uint8_t *b = L->buf;
	memcpy(b, &idx, 4);
	memcpy(b + 4, &seq, 8);
	for (size_t i = HDR; i < L->o.size; i++)
		b[i] = pat(idx, seq, i);
	if (wolfSSL_write(x->ssl, b, (int)L->o.size) != (int)L->o.size) {
		L->st.tls_err++;
		return;
	}
	x->m[k] = (struct slot_msg){.seq = seq, .t_sent = now};
	L->rate_sent++;
	x->inflight++;
	L->inflight++;
}

/* Fill the session's pipeline as far as the window allows; the rest of its
 * turns wait in the queue. */
static void issue(struct load *L, unsigned idx, uint64_t now)
{
	struct sess *x = &L->s[idx];
	unsigned want = L->o.churn ? 1 : L->o.pipeline;
	while (x->state == S_OPEN && x->inflight + x->queued < want) {
		if (!L->wq_len && may_send(L, now)) {
			send_one(L, idx, now);
		} else {
			unsigned cap = L->o.conns * L->o.pipeline;
			L->waitq[(L->wq_head + L->wq_len) % cap] = idx;
			L->wq_len++;
			x->queued++;
		}
	}
}

static void window_room(struct load *L, uint64_t now)
{
	unsigned cap = L->o.conns * L->o.pipeline;
	while (L->wq_len && may_send(L, now) && L->phase < P_DRAIN) {
		unsigned idx = L->waitq[L->wq_head];
		L->wq_head = (L->wq_head + 1) % cap;
		L->wq_len--;
		struct sess *x = &L->s[idx];
		x->queued--;
		if (x->state == S_OPEN)
			send_one(L, idx, now);
	}
}

static void next_cycle(struct load *L, unsigned idx, uint64_t now)
{
	struct sess *x = &L->s[idx];
	if (L->phase == P_MEASURE)
		L->st.cycles++;
	sess_close(L, x, true);
	L->up--;
	(void)now; /* the next handshake starts from start_handshakes() */
}

static void echo_in(struct load *L, unsigned idx, const uint8_t *p, size_t n, uint64_t now)
{
	struct sess *x = &L->s[idx];
	unsigned who;
	uint64_t seq;
	if (n != L->o.size) {
		L->st.verify_err++;
		return;
	}
	memcpy(&who, p, 4);
	memcpy(&seq, p + 4, 8);
	bool ok = who == idx;
	for (size_t i = HDR; ok && i < n; i++)
		ok = p[i] == pat(idx, seq, i);
	if (!ok) {
		L->st.verify_err++;
		return;
	}
	unsigned k = 0;
	while (k < L->o.pipeline && !(x->m[k].t_sent && x->m[k].seq == seq))
		k++;
	if (k == L->o.pipeline) {
		L->st.late++; /* its slot was already given up as lost */
		return;
	}
	L->st.msgs_all++;
	if (L->phase == P_MEASURE) {
		L->st.msgs++;
		h_add(&L->lat, now - x->m[k].t_sent);
	}
	x->m[k].t_sent = 0;
	x->inflight--;
	L->inflight--;
	if (L->o.churn) {
		next_cycle(L, idx, now);
		return;
	}
	if (L->phase < P_DRAIN)
		issue(L, idx, now);
}

static void on_readable(struct load *L, unsigned idx, uint64_t now)
{
	struct sess *x = &L->s[idx];
	if (x->state == S_HS) {
		hs_step(L, idx, now);
		if (x->state != S_OPEN)
			return;
	}
	while (x->state == S_OPEN) {
		int n = wolfSSL_read(x->ssl, L->buf, sizeof L->buf);
		if (n > 0) {
			echo_in(L, idx, L->buf, (size_t)n, now);
			continue;
		}
		int err = wolfSSL_get_error(x->ssl, n);
		if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE)
			return;
		L->st.disconnects++;
		sess_close(L, x, false);
		x->state = S_FAILED;
		L->up--;
	}
}

/* Retransmission timers of handshakes, and echoes given up as lost. */
static void timers(struct load *L, uint64_t now)
{
	for (unsigned i = 0; i < L->o.conns; i++) {
		struct sess *x = &L->s[i];
		if (x->state == S_HS && now >= x->next_to) {
			L->st.retransmits++;
			if (wolfSSL_dtls_got_timeout(x->ssl) != WOLFSSL_SUCCESS) {
				L->st.hs_fail++;
				sess_close(L, x, false);
				x->state = S_FAILED;
				continue;
			}
			x->next_to = now + (uint64_t)wolfSSL_dtls_get_current_timeout(x->ssl) * NSEC;
		} else if (x->state == S_OPEN && x->inflight) {
			for (unsigned k = 0; k < L->o.pipeline; k++) {
				if (x->m[k].t_sent && now - x->m[k].t_sent > LOSS_NS) {
					x->m[k].t_sent = 0;
					x->inflight--;
					L->inflight--;
					L->st.lost++;
				}
			}
			if (L->phase < P_DRAIN)
				issue(L, i, now);
		}
	}
}

static void start_handshakes(struct load *L, uint64_t now)
{
	if (L->phase >= P_DRAIN)
		return;
	if (L->o.churn) {
		/* Any closed slot starts over (round robin from where we were). */
		for (unsigned n = 0; n < L->o.conns && L->hs_now < L->o.hs_inflight; n++) {
			unsigned idx = L->next_hs++ % L->o.conns;
			if (L->s[idx].state == S_NONE)
				hs_begin(L, idx, now);
		}
		return;
	}
	while (L->next_hs < L->o.conns && L->hs_now < L->o.hs_inflight)
		hs_begin(L, L->next_hs++, now);
}

/* ---- phases ----------------------------------------------------------------- */

static void advance(struct load *L, uint64_t now)
{
	switch (L->phase) {
	case P_HS: {
		bool all_up = L->up + L->st.hs_fail >= L->o.conns && L->next_hs >= L->o.conns;
		if (L->o.churn)
			all_up = L->up >= L->o.conns / 2 || L->st.handshakes >= L->o.conns;
		if (!all_up && now - L->t_start < HS_PHASE_NS)
			return;
		L->t_up = now;
		L->phase = P_WARMUP;
		if (!L->o.churn)
			for (unsigned i = 0; i < L->o.conns; i++)
				issue(L, i, now);
		return;
	}
	case P_WARMUP:
		if (now - L->t_up < (uint64_t)(L->o.warmup * NSEC))
			return;
		L->phase = P_MEASURE;
		L->t_measure = now;
		getrusage(RUSAGE_SELF, &L->ru0);
		L->srv0 = server_cpu(L);
		if (L->o.mark) {
			FILE *f = fopen(L->o.mark, "w");
			if (f)
				fclose(f);
		}
		return;
	case P_MEASURE:
		if (now - L->t_measure < (uint64_t)(L->o.duration * NSEC) && !g_stop)
			return;
		L->t_measure_end = now;
		getrusage(RUSAGE_SELF, &L->ru1);
		L->srv1 = server_cpu(L);
		L->phase = P_DRAIN;
		L->t_drain = now;
		return;
	case P_DRAIN:
		if (L->inflight && now - L->t_drain < DRAIN_NS)
			return;
		L->phase = P_DONE;
		return;
	}
}

static void run(struct load *L)
{
	struct epoll_event ev[256];
	uint64_t last_timers = 0;
	L->t_start = now_ns();
	L->srv_base = server_cpu(L);
	while (L->phase != P_DONE) {
		uint64_t now = now_ns();
		start_handshakes(L, now);
		/* 1 ms turns while --rate holds datagrams back, else 10 ms. */
		int n = epoll_wait(L->ep, ev, 256, L->o.rate > 0 && L->wq_len ? 1 : 10);
		if (n < 0 && errno != EINTR)
			die("epoll_wait failed");
		now = now_ns();
		for (int i = 0; i < n; i++)
			on_readable(L, ev[i].data.u32, now);
		window_room(L, now);
		if (now - last_timers >= NSEC / 20) {
			timers(L, now);
			last_timers = now;
		}
		if (g_stop && L->phase < P_MEASURE)
			L->phase = P_DONE;
		advance(L, now);
	}
	for (unsigned i = 0; i < L->o.conns; i++)
		sess_close(L, &L->s[i], true);
}

/* ---- report ----------------------------------------------------------------- */

static double tv_us(const struct timeval *t)
{
	return (double)t->tv_sec * 1e6 + (double)t->tv_usec;
}

static int report(const struct load *L)
{
	const struct stats *s = &L->st;
	double secs = L->t_measure_end > L->t_measure ? (double)(L->t_measure_end - L->t_measure) / NSEC : 0;
	double ccpu = tv_us(&L->ru1.ru_utime) + tv_us(&L->ru1.ru_stime) - tv_us(&L->ru0.ru_utime) -
	              tv_us(&L->ru0.ru_stime);
	double hs_secs = (double)(L->t_up - L->t_start) / NSEC;
	double mps = secs > 0 ? (double)s->msgs / secs : 0;
	double hps = secs > 0 ? (double)s->hs_window / secs : 0;
	bool srv = L->srv0.ok && L->srv1.ok && secs > 0;
	double scpu = srv ? L->srv1.cpu_us - L->srv0.cpu_us : 0;
	double us_msg = srv && s->msgs ? scpu / (double)s->msgs : -1;
	double us_hs = srv && L->o.churn && s->hs_window ? scpu / (double)s->hs_window : -1;
	double ccpu_pct = secs > 0 ? ccpu / (secs * 1e6) * 100 : 0;
	bool ok = !s->verify_err && !s->tls_err && !s->disconnects && !s->hs_fail && s->msgs > 0 &&
	          (L->o.churn || s->handshakes >= L->o.conns);
	const char *kind = L->o.churn ? "churn" : "echo";
	if (!L->o.quiet) {
		printf("rw-load: dtls %s port %d, %u sessions x %zu B, pipeline %u, window %u, rate %.0f/s"
		       " (0: no cap), %s, %.1f s measured (warmup %.1f s)\n", L->o.host, L->o.port, L->o.conns,
		       L->o.size, L->o.pipeline, L->o.window, L->o.rate, kind, secs, L->o.warmup);
		printf("  %-26s %llu (%s), %.2f s to bring %u up\n", "DTLS handshakes",
		       (unsigned long long)s->handshakes, L->info, hs_secs, L->o.conns);
		printf("  %-26s p50 %.0f / p99 %.0f us (max %.0f)\n", "handshake time", h_pct_us(&L->hs, 50),
		       h_pct_us(&L->hs, 99), (double)L->hs.max / 1000.0);
		printf("  %-26s %llu failed, %llu retransmission timeouts\n", "handshakes",
		       (unsigned long long)s->hs_fail, (unsigned long long)s->retransmits);
		if (L->o.churn)
			printf("  %-26s %llu in the window, %.0f/s\n", "handshakes (churn)",
			       (unsigned long long)s->hs_window, hps);
		printf("  %-26s %llu, %.0f/s\n", "datagrams echoed", (unsigned long long)s->msgs, mps);
		printf("  %-26s %.1f / %.1f / %.1f (max %.1f)\n", "latency p50/p99/p99.9 us",
		       h_pct_us(&L->lat, 50), h_pct_us(&L->lat, 99), h_pct_us(&L->lat, 99.9),
		       (double)L->lat.max / 1000.0);
		printf("  %-26s %llu lost, %llu late\n", "UDP", (unsigned long long)s->lost,
		       (unsigned long long)s->late);
		printf("  %-26s %llu verify, %llu DTLS, %llu disconnects\n", "errors",
		       (unsigned long long)s->verify_err, (unsigned long long)s->tls_err,
		       (unsigned long long)s->disconnects);
		printf("  %-26s %.2f us/datagram (%.0f %% of a core)\n", "client CPU",
		       s->msgs ? ccpu / (double)s->msgs : 0, ccpu_pct);
		if (srv)
			printf("  %-26s %.2f us/datagram%s, %.0f %% of a core (user %.0f, system %.0f),"
			       " RSS %.1f MiB\n", "server CPU", us_msg, L->o.churn ? " (with its handshake)" : "",
			       scpu / (secs * 1e6) * 100, (L->srv1.user_us - L->srv0.user_us) / (secs * 1e4),
			       (L->srv1.sys_us - L->srv0.sys_us) / (secs * 1e4), (double)L->srv1.rss_kib / 1024);
		if (us_hs >= 0)
			printf("  %-26s %.1f us/handshake (all of the window's CPU)\n", "server CPU", us_hs);
		printf("  %-26s %s\n", "result", ok ? "OK" : "FAILED");
		fflush(stdout);
	}
	if (L->o.json) {
		FILE *f = fopen(L->o.json, "w");
		if (!f)
			return 2;
		fprintf(f, "{\n  \"mode\": \"dtls\",\n  \"kind\": \"%s\",\n  \"tls\": \"%s\",\n", kind, L->info);
		fprintf(f, "  \"host\": \"%s\",\n  \"port\": %d,\n  \"connections\": %u,\n  \"size\": %zu,\n"
		        "  \"pipeline\": %u,\n  \"window\": %u,\n  \"rate\": %.0f,\n  \"duration_s\": %.3f,\n  \"warmup_s\": %.3f,\n",
		        L->o.host, L->o.port, L->o.conns, L->o.size, L->o.pipeline, L->o.window, L->o.rate, secs, L->o.warmup);
		fprintf(f, "  \"established\": %u,\n  \"handshakes\": %llu,\n  \"handshakes_window\": %llu,\n"
		        "  \"handshakes_per_s\": %.1f,\n  \"handshake_failures\": %llu,\n  \"retransmits\": %llu,\n"
		        "  \"handshake_p50_us\": %.1f,\n  \"handshake_p99_us\": %.1f,\n  \"connect_s\": %.3f,\n",
		        L->o.churn ? L->o.conns : L->up, (unsigned long long)s->handshakes,
		        (unsigned long long)s->hs_window, hps, (unsigned long long)s->hs_fail,
		        (unsigned long long)s->retransmits, h_pct_us(&L->hs, 50), h_pct_us(&L->hs, 99), hs_secs);
		/* The keys of the TCP modes where they mean the same (bench-report.py,
		 * demo.sh): for --churn a "message" unit is a handshake, as a
		 * connection is for TCP churn. */
		fprintf(f, "  \"messages\": %llu,\n  \"messages_per_s\": %.1f,\n  \"cycles\": %llu,\n"
		        "  \"connections_per_s\": %.1f,\n  \"connect_failures\": %llu,\n  \"stalled\": 0,\n"
		        "  \"messages_total\": %llu,\n  \"connects_total\": %llu,\n"
		        "  \"lost\": %llu,\n  \"late\": %llu,\n  \"verify_errors\": %llu,\n  \"tls_errors\": %llu,\n"
		        "  \"disconnects\": %llu,\n", (unsigned long long)s->msgs, mps,
		        (unsigned long long)s->cycles, L->o.churn ? hps : 0, (unsigned long long)s->hs_fail,
		        (unsigned long long)s->msgs_all, (unsigned long long)s->handshakes,
		        (unsigned long long)s->lost, (unsigned long long)s->late,
		        (unsigned long long)s->verify_err, (unsigned long long)s->tls_err,
		        (unsigned long long)s->disconnects);
		fprintf(f, "  \"latency_p50_us\": %.2f,\n  \"latency_p99_us\": %.2f,\n  \"latency_p999_us\": %.2f,\n"
		        "  \"latency_max_us\": %.2f,\n  \"client_cpu_us_per_msg\": %.3f,\n"
		        "  \"client_cpu_pct\": %.1f,\n",
		        h_pct_us(&L->lat, 50), h_pct_us(&L->lat, 99), h_pct_us(&L->lat, 99.9),
		        (double)L->lat.max / 1000.0, s->msgs ? ccpu / (double)s->msgs : 0, ccpu_pct);
		if (srv)
			fprintf(f, "  \"server_cpu_us_per_msg\": %.3f,\n  \"server_cpu_us_per_datagram\": %.3f,\n"
			        "  \"server_cpu_us_per_handshake\": %.3f,\n  \"server_cpu_pct\": %.1f,\n"
			        "  \"server_user_pct\": %.1f,\n  \"server_sys_pct\": %.1f,\n"
			        "  \"server_rss_kib\": %ld,\n", L->o.churn ? us_hs : us_msg, us_msg, us_hs,
			        scpu / (secs * 1e6) * 100, (L->srv1.user_us - L->srv0.user_us) / (secs * 1e4),
			        (L->srv1.sys_us - L->srv0.sys_us) / (secs * 1e4), L->srv1.rss_kib);
		fprintf(f, "  \"ok\": %s\n}\n", ok ? "true" : "false");
		if (fclose(f))
			return 2;
	}
	return ok ? 0 : 1;
}

int rw_load_dtls_main(int argc, char **argv)
{
	static struct load L; /* large (histograms); lives for the whole run */
	struct sigaction sa = {.sa_handler = on_signal};
	parse_args(&L, argc, argv);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	wolfSSL_Init();
	L.ctx = wolfSSL_CTX_new(wolfDTLSv1_2_client_method());
	if (!L.ctx)
		die("wolfSSL_CTX_new failed");
	wolfSSL_CTX_set_verify(L.ctx, WOLFSSL_VERIFY_NONE, NULL);
	L.s = calloc(L.o.conns, sizeof *L.s);
	L.waitq = calloc((size_t)L.o.conns * L.o.pipeline, sizeof *L.waitq);
	struct slot_msg *m = calloc((size_t)L.o.conns * L.o.pipeline, sizeof *m);
	L.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!L.s || !L.waitq || !m || L.ep < 0)
		die("out of memory");
	for (unsigned i = 0; i < L.o.conns; i++) {
		L.s[i].fd = -1;
		L.s[i].m = m + (size_t)i * L.o.pipeline;
	}
	run(&L);
	int rc = report(&L);
	wolfSSL_CTX_free(L.ctx);
	wolfSSL_Cleanup();
	free(m);
	free(L.waitq);
	free(L.s);
	close(L.ep);
	return rc;
}
