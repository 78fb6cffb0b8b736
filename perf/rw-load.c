/* perf/rw-load.c: a TCP echo load generator on io_uring.
 *
 * Opens --connections sockets to an echo server on a loopback address, keeps
 * --pipeline messages of --size bytes in flight on each, verifies every echoed
 * byte against a per-connection pattern and records round-trip latencies in a
 * log-linear histogram. Prints a table (and JSON with --json) at the end.
 *
 * Mechanism (one thread, one ring, kernel 6.1 features at most):
 *  - every socket is created up front and registered in the fixed-file table;
 *    connects go through IORING_OP_CONNECT, at most CONNECT_INFLIGHT at a time
 *    (optionally paced by --connect-rate);
 *  - one multishot recv per connection over a provided-buffer ring; echoed
 *    bytes are compared in place and the buffer goes straight back;
 *  - sends point into one shared pattern table (no copy): a connection's byte
 *    at stream offset o is pattern[(base + o) % PAT_PERIOD], so its pending
 *    messages are always one contiguous send; one send in flight per socket;
 *  - all SQEs of a loop turn go in with one io_uring_enter that also waits.
 *
 * Limits: one process holds at most RLIMIT_NOFILE - FD_RESERVE connections
 * (about 19,900 at a limit of 20,000); run several processes for more, with
 * --sources N so that together they stay under ~28,000 connections per source
 * address (the ephemeral port range). The run always ends by itself: at most
 * CONNECT_PHASE_NS + --warmup + --duration + DRAIN_NS.
 *
 * --server-pid PID samples that process's utime and stime (/proc/PID/stat) and
 * VmRSS at the edges of the measured window, for CPU-per-message figures.
 *
 * Modes: --mode tls runs a wolfSSL client per connection over the same ring
 * (custom I/O callbacks: ciphertext in and out of per-connection buffers) and
 * verifies the decrypted echo; --churn cycles every slot through connect (and
 * handshake), --pipeline messages, shutdown and close on direct descriptors
 * (IORING_OP_SOCKET into the same fixed-file slot), reporting connections/s;
 * --idle holds every connection idle for --duration and then checks that each
 * one still echoes. --mode ws speaks WebSocket (RFC 6455) over plain TCP: an
 * HTTP upgrade, then each message one masked binary frame (mask key 0, so the
 * payload is the pattern as is); the server's frames are parsed and their
 * payload verified.
 */
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

#define BGID             7
#define PAT_PERIOD       65521u            /* prime: never a multiple of a size */
#define SEND_CHUNK_MAX   (256u * 1024)     /* largest single send */
#define CONNECT_INFLIGHT 512u
#define CONNECT_PHASE_NS (10ull * 1000000000ull)
#define DRAIN_NS         (1000000000ull)
#define FD_RESERVE       64u
#define BUFS_MEMORY_MAX  (64u << 20)
#define NSEC             1000000000ull
#define IDLE_CHECK_NS    (20ull * 1000000000ull) /* --idle: time for the final round */
#define TLS_READ_BUF     16384u

/* ---- log-linear latency histogram (HDR-like, ns) ----------------------- */

#define H_SUB_BITS 7
#define H_SUB      (1u << H_SUB_BITS)
#define H_BUCKETS  ((64 - H_SUB_BITS + 1) * H_SUB)

struct hist {
	uint64_t b[H_BUCKETS];
	uint64_t count, max, sum;
};

static unsigned hist_index(uint64_t v)
{
	if (v < 2 * H_SUB)
		return (unsigned)v;
	unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - H_SUB_BITS;
	return (shift + 1) * H_SUB + (unsigned)((v >> shift) - H_SUB);
}

/* The highest value that falls into bucket idx. */
static uint64_t hist_upper(unsigned idx)
{
	if (idx < 2 * H_SUB)
		return idx;
	unsigned shift = idx / H_SUB - 1;
	uint64_t base = (uint64_t)(idx % H_SUB + H_SUB) << shift;
	return base + ((uint64_t)1 << shift) - 1;
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static uint64_t hist_pct(const struct hist *h, double pct)
{
	if (!h->count)
		return 0;
	uint64_t want = (uint64_t)(pct / 100.0 * (double)h->count + 0.999999);
	uint64_t seen = 0;
	for (unsigned i = 0; i < H_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want && seen)
			return hist_upper(i) < h->max ? hist_upper(i) : h->max;
	}
	return h->max;
}

/* ---- state ------------------------------------------------------------- */

struct opts {
	const char *host, *json;
	int port;
	unsigned conns, pipeline, sources;
	size_t size;
	double duration, warmup, connect_rate;
	int server_pid[8]; /* none, or sample their CPU and RSS over the window */
	unsigned nserver_pids;
	const char *mark; /* created when the measured window starts */
	bool quiet, tls, ws, churn, idle;
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
	bool hs_done;
	/* --mode ws: the server's frame being parsed */
	uint8_t hdr[14];
	unsigned hdr_len, hdr_need;
	uint64_t payload_left;
};
enum { P_CONNECT, P_WARMUP, P_MEASURE, P_DRAIN, P_DONE };

struct conn {
	uint64_t tx_queued, tx_off, rx_off; /* stream offsets, bytes */
	uint64_t issued, done;              /* messages */
	uint64_t t_cycle;                   /* --churn: when this cycle's connect went out */
	uint32_t base;                      /* pattern offset of stream byte 0 */
	uint8_t state;
	bool sending, recv_armed, rearm_listed, seen, shut_pending, waiting;
	struct tls *t;                      /* --mode tls */
};

struct stats {
	uint64_t established, connect_fail, msgs, verify_err, disconnects, stalled;
	uint64_t rx_bytes, cycles, tls_err, idle_checked, handshakes, connects;
	uint64_t total_done; /* completions in every phase, for progress */
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
	struct hist h;
	struct stats s;
};

static volatile sig_atomic_t g_stop; /* SIGINT/SIGTERM: end the run early */

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

static struct proc_sample proc_sample1(int pid)
{
	struct proc_sample ps = {0};
	char path[64], buf[1024];
	unsigned long long ut, st;
	FILE *f;

	if (!pid)
		return ps;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return ps;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')'); /* the name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return ps;
	ps.user_us = (double)ut * 1e6 / (double)sysconf(_SC_CLK_TCK);
	ps.sys_us = (double)st * 1e6 / (double)sysconf(_SC_CLK_TCK);
	ps.cpu_us = ps.user_us + ps.sys_us;
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(buf, sizeof buf, f))
		if (sscanf(buf, "VmRSS: %ld", &ps.rss_kib) == 1)
			break;
	if (f)
		fclose(f);
	ps.ok = true;
	return ps;
}

/* The sum over every --server-pid (a proxy and its backend count together). */
static struct proc_sample proc_sample(const struct load *L)
{
	struct proc_sample sum = {0};

	for (unsigned i = 0; i < L->o.nserver_pids; i++) {
		struct proc_sample p = proc_sample1(L->o.server_pid[i]);
		if (!p.ok)
			return (struct proc_sample){0};
		sum.cpu_us += p.cpu_us;
		sum.user_us += p.user_us;
		sum.sys_us += p.sys_us;
		sum.rss_kib += p.rss_kib;
		sum.ok = true;
	}
	return sum;
}

static void die(const char *what)
{
	fprintf(stderr, "rw-load: %s\n", what);
	exit(2);
}

static unsigned next_pow2(unsigned v)
{
	unsigned p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rw-load --port PORT [options]\n"
		"  --host ADDR        loopback server address (127.0.0.0/8 or ::1), default 127.0.0.1\n"
		"  --port PORT        server port (required)\n"
		"  --mode tcp|tls|ws  plain TCP (default); TLS: a wolfSSL client over the same\n"
		"                     ring (custom I/O callbacks, no certificate check), the\n"
		"                     echoed plaintext verified; ws: WebSocket (HTTP upgrade, each\n"
		"                     message one masked binary frame, the echoed payload verified)\n"
		"  --churn            each connection: connect (and handshake), --pipeline messages,\n"
		"                     close, reconnect; reports connections/s (cycles in the window)\n"
		"                     and the cycle latency (connect to last echo)\n"
		"  --idle             each connection echoes one message, then all stay idle for\n"
		"                     --duration s; then every one must echo one more message\n"
		"                     (reports how many did, and the server's RSS per connection)\n"
		"  --mark FILE        create FILE when the measured window starts (for samplers)\n"
		"  --connections N    connections, default 1000 (one process: up to RLIMIT_NOFILE - %u;\n"
		"                     run several processes for more)\n"
		"  --size BYTES       message size, default 64\n"
		"  --pipeline K       messages in flight per connection, default 1 (ping-pong)\n"
		"  --duration S       measured seconds, default 5\n"
		"  --warmup S         unmeasured seconds after the connect phase, default 1\n"
		"  --sources N        bind connections to 127.0.0.1 .. 127.0.0.N, default 1\n"
		"                     (about 28,000 connections per source address)\n"
		"  --connect-rate R   at most R connects per second, default unlimited\n"
		"  --server-pid PID[,PID...]  also report those processes' CPU per message\n"
		"                     (utime+stime over the measured window, summed) and RSS\n"
		"  --json FILE        also write the results as JSON\n"
		"  --quiet            no progress lines and no table\n"
		"the run ends by itself after at most 10 s (connect) + warmup + duration + 1 s\n"
		"(--idle: + 20 s for the final round)\n"
		"exit status: 0 when every connection was established and no verification\n"
		"error, stalled connection or unexpected disconnect happened; 1 otherwise;\n"
		"2 for a usage or setup error\n", FD_RESERVE);
}

static double num_arg(const char *s, const char *name, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "rw-load: bad value for --%s: '%s' (%g..%g)\n", name, s, lo, hi);
		exit(2);
	}
	return v;
}

/* Loopback only: 127.0.0.0/8 or ::1 (a workplace rule). */
static void set_host(struct load *L, const char *host)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&L->dst;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&L->dst;

	memset(&L->dst, 0, sizeof L->dst);
	if (!strcmp(host, "localhost"))
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
			die("--host must be a loopback address (127.0.0.0/8 or ::1)");
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)L->o.port);
		L->dstlen = sizeof *a4;
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
			die("--host must be a loopback address (127.0.0.0/8 or ::1)");
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)L->o.port);
		L->dstlen = sizeof *a6;
	} else {
		die("--host must be a numeric loopback address (127.0.0.0/8 or ::1)");
	}
}

static void parse_args(struct load *L, int argc, char **argv)
{
	static const struct option lo[] = {
		{"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"connections", 1, 0, 'c'},
		{"size", 1, 0, 's'}, {"pipeline", 1, 0, 'k'}, {"duration", 1, 0, 'd'},
		{"warmup", 1, 0, 'w'}, {"sources", 1, 0, 'S'}, {"connect-rate", 1, 0, 'r'},
		{"json", 1, 0, 'j'}, {"mode", 1, 0, 'm'}, {"churn", 0, 0, 'C'},
		{"idle", 0, 0, 'I'}, {"mark", 1, 0, 'M'}, {"server-pid", 1, 0, 'P'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'H'}, {0, 0, 0, 0}};
	struct opts *o = &L->o;
	const char *host = "127.0.0.1";
	int ch;

	*o = (struct opts){.conns = 1000, .size = 64, .pipeline = 1, .duration = 5,
	                   .warmup = 1, .sources = 1, .port = -1};
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': host = optarg; break;
		case 'p': o->port = (int)num_arg(optarg, "port", 1, 65535); break;
		case 'c': o->conns = (unsigned)num_arg(optarg, "connections", 1, 1000000); break;
		case 's': o->size = (size_t)num_arg(optarg, "size", 1, 64 << 20); break;
		case 'k': o->pipeline = (unsigned)num_arg(optarg, "pipeline", 1, 4096); break;
		case 'd': o->duration = num_arg(optarg, "duration", 0.1, 86400); break;
		case 'w': o->warmup = num_arg(optarg, "warmup", 0, 3600); break;
		case 'S': o->sources = (unsigned)num_arg(optarg, "sources", 1, 254); break;
		case 'r': o->connect_rate = num_arg(optarg, "connect-rate", 1, 1e9); break;
		case 'j': o->json = optarg; break;
		case 'M': o->mark = optarg; break;
		case 'C': o->churn = true; break;
		case 'I': o->idle = true; break;
		case 'm':
			if (!strcmp(optarg, "tls"))
				o->tls = true;
			else if (!strcmp(optarg, "ws"))
				o->ws = true;
			else if (strcmp(optarg, "tcp"))
				die("--mode must be tcp, tls or ws");
			break;
		case 'P': {
			char *save = NULL, *tok;
			for (tok = strtok_r(optarg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (o->nserver_pids == 8)
					die("--server-pid: at most 8 pids");
				o->server_pid[o->nserver_pids++] = (int)num_arg(tok, "server-pid", 1, 1 << 30);
			}
			break;
		}
		case 'q': o->quiet = true; break;
		case 'H': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc || o->port < 0) {
		usage(stderr);
		exit(2);
	}
	if (o->tls && o->ws)
		die("--mode is one of tcp, tls, ws");
	if (o->churn && o->idle)
		die("--churn and --idle exclude each other");
	if (o->idle)
		o->pipeline = 1;
	if (o->churn && o->sources > 1)
		die("--churn uses one source address (loopback reuses TIME_WAIT ports)");
	o->host = host;
	set_host(L, host);
	if (o->sources > 1 && L->dst.ss_family != AF_INET)
		die("--sources > 1 needs an IPv4 --host");
}

/* ---- setup -------------------------------------------------------------- */

static void check_fd_limit(const struct load *L)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit failed");
	if (rl.rlim_cur != RLIM_INFINITY && L->o.conns + FD_RESERVE > rl.rlim_cur) {
		fprintf(stderr, "rw-load: %u connections need %u file descriptors but RLIMIT_NOFILE"
			" is %llu; run several rw-load processes (with --sources) instead\n",
			L->o.conns, L->o.conns + FD_RESERVE, (unsigned long long)rl.rlim_cur);
		exit(2);
	}
}

static void setup_ring(struct load *L)
{
	struct io_uring_params p;
	unsigned cq = next_pow2(L->o.conns * 4);
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN, 0};
	int ret = -EINVAL;

	if (cq < 4096)
		cq = 4096;
	if (cq > 65536)
		cq = 65536; /* IORING_MAX_CQ_ENTRIES */
	for (unsigned i = 0; i < sizeof tries / sizeof tries[0]; i++) {
		memset(&p, 0, sizeof p);
		p.flags = tries[i] | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
		p.cq_entries = cq;
		ret = io_uring_queue_init_params(4096, &L->ring, &p);
		if (ret != -EINVAL)
			break;
	}
	if (ret < 0) {
		fprintf(stderr, "rw-load: io_uring_queue_init: %s (io_uring refused by seccomp"
			" or kernel.io_uring_disabled?)\n", strerror(-ret));
		exit(2);
	}
}

/* A provided-buffer ring sized so that every connection can hold a buffer. */
static void setup_buffers(struct load *L)
{
	struct io_uring_buf_reg reg;
	size_t want = L->o.size * L->o.pipeline, ring_bytes;
	int ret;

	L->br_entries = next_pow2(L->o.conns + 256);
	if (L->br_entries < 1024)
		L->br_entries = 1024;
	if (L->br_entries > 32768)
		L->br_entries = 32768;
	L->br_mask = io_uring_buf_ring_mask(L->br_entries);
	L->buf_size = next_pow2(want < 1024 ? 1024 : want > 65536 ? 65536 : (unsigned)want);
	while (L->buf_size > 512 && (size_t)L->buf_size * L->br_entries > BUFS_MEMORY_MAX)
		L->buf_size /= 2;
	ring_bytes = L->br_entries * sizeof(struct io_uring_buf);
	L->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	L->bufs = malloc((size_t)L->buf_size * L->br_entries);
	if (L->br == MAP_FAILED || !L->bufs)
		die("out of memory for receive buffers");
	memset(&reg, 0, sizeof reg);
	reg.ring_addr = (uintptr_t)L->br;
	reg.ring_entries = L->br_entries;
	reg.bgid = BGID;
	ret = io_uring_register_buf_ring(&L->ring, &reg, 0);
	if (ret) {
		fprintf(stderr, "rw-load: register_buf_ring: %s (kernel >= 5.19 needed)\n", strerror(-ret));
		exit(2);
	}
	io_uring_buf_ring_init(L->br);
	for (unsigned i = 0; i < L->br_entries; i++)
		io_uring_buf_ring_add(L->br, L->bufs + (size_t)i * L->buf_size, L->buf_size, (unsigned short)i,
		                      L->br_mask, (int)i);
	io_uring_buf_ring_advance(L->br, (int)L->br_entries);
}

/* The shared send/verify pattern: PAT_PERIOD bytes plus room for a whole send
 * or receive buffer read past the wrap point. */
static void setup_pattern(struct load *L)
{
	size_t slack = SEND_CHUNK_MAX > L->buf_size ? SEND_CHUNK_MAX : L->buf_size;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	L->pattern = malloc(PAT_PERIOD + slack);
	if (!L->pattern)
		die("out of memory");
	for (size_t i = 0; i < PAT_PERIOD; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		L->pattern[i] = (uint8_t)(x >> 24);
	}
	for (size_t i = 0; i < slack; i++)
		L->pattern[PAT_PERIOD + i] = L->pattern[i % PAT_PERIOD];
}

static int make_socket(const struct load *L, unsigned idx)
{
	int one = 1;
	int fd = socket(L->dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (L->o.sources > 1) {
		struct sockaddr_in src = {.sin_family = AF_INET};
		src.sin_addr.s_addr = htonl(0x7f000001u + idx % L->o.sources);
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		if (bind(fd, (struct sockaddr *)&src, sizeof src)) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static void setup_conns(struct load *L)
{
	unsigned n = L->o.conns;
	int ret;

	L->c = calloc(n, sizeof *L->c);
	L->fds = calloc(n, sizeof *L->fds);
	L->rearm = calloc(n, sizeof *L->rearm);
	L->stamps = calloc((size_t)n * L->o.pipeline, sizeof *L->stamps);
	if (!L->c || !L->fds || !L->rearm || !L->stamps)
		die("out of memory for the connection table");
	for (unsigned i = 0; i < n; i++) {
		L->fds[i] = make_socket(L, i);
		if (L->fds[i] < 0) {
			fprintf(stderr, "rw-load: socket %u: %s\n", i, strerror(errno));
			exit(2);
		}
		L->c[i].base = (uint32_t)(((uint64_t)i * 2654435761u) % PAT_PERIOD);
	}
	ret = io_uring_register_files(&L->ring, L->fds, n);
	if (ret) {
		fprintf(stderr, "rw-load: register_files(%u): %s\n", n, strerror(-ret));
		exit(2);
	}
}

/* ---- submission helpers --------------------------------------------------- */

static struct io_uring_sqe *get_sqe(struct load *L)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&L->ring);
	while (!sqe) {
		io_uring_submit(&L->ring);
		sqe = io_uring_get_sqe(&L->ring);
	}
	return sqe;
}

static void set_ud(struct io_uring_sqe *sqe, unsigned idx, unsigned op)
{
	io_uring_sqe_set_data64(sqe, ((uint64_t)idx << 8) | op);
	sqe->flags |= IOSQE_FIXED_FILE;
}

static void arm_recv(struct load *L, unsigned idx)
{
	struct io_uring_sqe *sqe = get_sqe(L);
	io_uring_prep_recv_multishot(sqe, (int)idx, NULL, 0, 0);
	set_ud(sqe, idx, OP_RECV);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	L->c[idx].recv_armed = true;
}

/* ---- TLS (wolfSSL over custom I/O callbacks) ------------------------------- */

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

static int tls_send_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct tls *t = ctx;
	(void)ssl;
	if (grow(&t->out[t->cur], &t->out_cap[t->cur], t->out_len[t->cur] + (size_t)sz))
		return WOLFSSL_CBIO_ERR_GENERAL;
	memcpy(t->out[t->cur] + t->out_len[t->cur], buf, (size_t)sz);
	t->out_len[t->cur] += (size_t)sz;
	return sz;
}

static int tls_recv_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct tls *t = ctx;
	(void)ssl;
	if (t->in_off == t->in_len)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	size_t n = t->in_len - t->in_off;
	if (n > (size_t)sz)
		n = (size_t)sz;
	memcpy(buf, t->in + t->in_off, n);
	t->in_off += n;
	if (t->in_off == t->in_len)
		t->in_off = t->in_len = 0;
	return (int)n;
}

static void setup_tls(struct load *L)
{
	if (wolfSSL_Init() != WOLFSSL_SUCCESS)
		die("wolfSSL_Init failed");
	L->tls_ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (!L->tls_ctx)
		die("wolfSSL_CTX_new failed");
	wolfSSL_CTX_set_verify(L->tls_ctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_SetIORecv(L->tls_ctx, tls_recv_cb);
	wolfSSL_CTX_SetIOSend(L->tls_ctx, tls_send_cb);
	L->tls_scratch = malloc(TLS_READ_BUF);
	if (!L->tls_scratch)
		die("out of memory");
}

/* A fresh session for a new connection (each one a full handshake). */
static int tls_begin(struct load *L, struct conn *c)
{
	if (!c->t && !(c->t = calloc(1, sizeof *c->t)))
		return -1;
	struct tls *t = c->t;
	if (t->ssl)
		wolfSSL_free(t->ssl);
	t->in_len = t->in_off = t->sent = 0;
	t->out_len[0] = t->out_len[1] = 0;
	t->cur = 0;
	t->fl = -1;
	t->hs_done = false;
	t->ssl = wolfSSL_new(L->tls_ctx);
	if (!t->ssl)
		return -1;
	wolfSSL_SetIOReadCtx(t->ssl, t);
	wolfSSL_SetIOWriteCtx(t->ssl, t);
	return 0;
}

static void tls_end(struct conn *c)
{
	if (c->t && c->t->ssl) {
		wolfSSL_free(c->t->ssl);
		c->t->ssl = NULL;
	}
}

/* Send the accumulated ciphertext (one send in flight per socket). */
static void tls_flush(struct load *L, unsigned idx);

static void tls_fail(struct load *L, unsigned idx, int ret, const char *where)
{
	struct tls *t = L->c[idx].t;
	int err = wolfSSL_get_error(t->ssl, ret);
	char msg[WOLFSSL_MAX_ERROR_SZ];

	if (!L->s.tls_err)
		fprintf(stderr, "rw-load: connection %u: TLS %s failed: %d %s\n", idx, where, err,
			wolfSSL_ERR_error_string((unsigned long)err, msg));
	L->s.tls_err++;
}

/* ---- sends ---------------------------------------------------------------- */

static void conn_lost(struct load *L, unsigned idx, int res);
static void verify(struct load *L, unsigned idx, const uint8_t *p, unsigned n);

/* Send what is queued and not yet sent, one send in flight per socket. */
static void start_send(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];
	uint64_t left = c->tx_queued - c->tx_off;

	if (L->o.ws) {
		/* Frame every queued message: FIN + binary, masked with key 0 (the
		 * payload goes out as is), into the accumulating buffer. */
		struct tls *t = c->t;
		while (c->state == C_OPEN && t->hs_done && c->tx_off < c->tx_queued) {
			uint8_t h[14];
			size_t hl = 2, n = L->o.size;
			h[0] = 0x82;
			if (n < 126) {
				h[1] = (uint8_t)(0x80 | n);
			} else if (n < 65536) {
				h[1] = 0x80 | 126;
				h[2] = (uint8_t)(n >> 8);
				h[3] = (uint8_t)n;
				hl = 4;
			} else {
				h[1] = 0x80 | 127;
				for (int i = 0; i < 8; i++)
					h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
				hl = 10;
			}
			memset(h + hl, 0, 4);
			hl += 4;
			if (grow(&t->out[t->cur], &t->out_cap[t->cur], t->out_len[t->cur] + hl + n))
				die("out of memory");
			uint8_t *o = t->out[t->cur] + t->out_len[t->cur];
			memcpy(o, h, hl);
			for (size_t done = 0; done < n;) { /* the pattern wraps every PAT_PERIOD bytes */
				size_t at = (c->base + c->tx_off + done) % PAT_PERIOD;
				size_t k = n - done < PAT_PERIOD - at ? n - done : PAT_PERIOD - at;
				memcpy(o + hl + done, L->pattern + at, k);
				done += k;
			}
			t->out_len[t->cur] += hl + n;
			c->tx_off += n;
		}
		tls_flush(L, idx);
		return;
	}
	if (c->t) {
		/* Encrypt the queued plaintext (the write callback never blocks). */
		while (c->state == C_OPEN && c->t->hs_done && c->tx_off < c->tx_queued) {
			size_t n = c->tx_queued - c->tx_off > TLS_READ_BUF ? TLS_READ_BUF
			                                                  : (size_t)(c->tx_queued - c->tx_off);
			int r = wolfSSL_write(c->t->ssl, L->pattern + (c->base + c->tx_off) % PAT_PERIOD, (int)n);
			if (r <= 0) {
				tls_fail(L, idx, r, "write");
				conn_lost(L, idx, -EPROTO);
				return;
			}
			c->tx_off += (unsigned)r;
		}
		tls_flush(L, idx);
		return;
	}
	if (c->sending || !left || c->state != C_OPEN)
		return;
	size_t len = left > SEND_CHUNK_MAX ? SEND_CHUNK_MAX : (size_t)left;
	const uint8_t *p = L->pattern + (c->base + c->tx_off) % PAT_PERIOD;
	struct io_uring_sqe *sqe = get_sqe(L);
	io_uring_prep_send(sqe, (int)idx, p, len, MSG_NOSIGNAL);
	set_ud(sqe, idx, OP_SEND);
	c->sending = true;
}

static void tls_flush(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];
	struct tls *t = c->t;

	if (c->sending || c->state != C_OPEN)
		return;
	if (t->fl < 0) {
		if (!t->out_len[t->cur])
			return;
		t->fl = t->cur;
		t->cur = !t->cur;
		t->sent = 0;
	}
	struct io_uring_sqe *sqe = get_sqe(L);
	io_uring_prep_send(sqe, (int)idx, t->out[t->fl] + t->sent, t->out_len[t->fl] - t->sent, MSG_NOSIGNAL);
	set_ud(sqe, idx, OP_SEND);
	c->sending = true;
}

static void issue_msg(struct load *L, unsigned idx, uint64_t now)
{
	struct conn *c = &L->c[idx];
	L->stamps[(size_t)idx * L->o.pipeline + c->issued % L->o.pipeline] = now;
	c->issued++;
	c->tx_queued += L->o.size;
	L->inflight_msgs++;
}

static void issue_connects(struct load *L, uint64_t now)
{
	unsigned budget = CONNECT_INFLIGHT - L->connecting;

	if (L->o.connect_rate > 0) {
		double allowed = L->o.connect_rate * (double)(now - L->t_start) / NSEC + 1;
		double room = allowed - L->next_connect;
		if (room < budget)
			budget = room > 0 ? (unsigned)room : 0;
	}
	while (budget-- && L->next_connect < L->o.conns) {
		unsigned idx = L->next_connect++;
		struct io_uring_sqe *sqe = get_sqe(L);
		io_uring_prep_connect(sqe, (int)idx, (struct sockaddr *)&L->dst, L->dstlen);
		set_ud(sqe, idx, OP_CONNECT);
		L->c[idx].state = C_CONNECTING;
		L->c[idx].t_cycle = now;
		L->connecting++;
	}
}

/* ---- completions ---------------------------------------------------------- */

static void conn_lost(struct load *L, unsigned idx, int res)
{
	struct conn *c = &L->c[idx];

	if (c->state != C_OPEN)
		return;
	c->state = C_DEAD;
	L->inflight_msgs -= c->issued - c->done;
	L->s.disconnects++;
	if (!L->s.first_disc_err)
		L->s.first_disc_err = res ? res : -ECONNRESET;
}

static bool issuing(const struct load *L)
{
	return L->phase < P_DRAIN && !g_stop;
}

/* The connection is ready for messages: queue --pipeline of them. */
static bool barrier(const struct load *L)
{
	return (L->o.tls || L->o.ws) && !L->o.churn && !L->barrier_done;
}

static void conn_ready(struct load *L, unsigned idx, uint64_t now)
{
	if (barrier(L)) { /* wait for the others (a server that is slow to accept) */
		L->c[idx].waiting = true;
		start_send(L, idx); /* the TLS Finished, if any */
		return;
	}
	if (issuing(L))
		for (unsigned k = 0; k < L->o.pipeline; k++)
			issue_msg(L, idx, now);
	start_send(L, idx);
}

/* --churn: a new cycle on slot idx (a direct socket in the same slot). */
static void churn_connect(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];
	struct io_uring_sqe *sqe = get_sqe(L);

	io_uring_prep_connect(sqe, (int)idx, (struct sockaddr *)&L->dst, L->dstlen);
	set_ud(sqe, idx, OP_CONNECT);
	c->state = C_CONNECTING;
	c->t_cycle = now_ns();
}

/* --churn: close once the shutdown, the receive and the send are all done. */
static void churn_maybe_close(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];

	if (c->state != C_CLOSING || c->recv_armed || c->sending || c->shut_pending)
		return;
	struct io_uring_sqe *sqe = get_sqe(L);
	io_uring_prep_close_direct(sqe, idx);
	io_uring_sqe_set_data64(sqe, ((uint64_t)idx << 8) | OP_CLOSE);
	c->state = C_CLOSED;
	if (c->t)
		tls_end(c);
}

static void churn_cycle_done(struct load *L, unsigned idx, uint64_t now)
{
	struct conn *c = &L->c[idx];

	if (L->phase == P_MEASURE) {
		hist_add(&L->h, now - c->t_cycle);
		L->s.cycles++;
	}
	c->state = C_CLOSING;
	c->shut_pending = true;
	struct io_uring_sqe *sqe = get_sqe(L);
	io_uring_prep_shutdown(sqe, (int)idx, SHUT_RDWR);
	set_ud(sqe, idx, OP_SHUTDOWN);
}

/* --mode ws: a new connection sends its HTTP upgrade request. */
static int ws_begin(struct load *L, struct conn *c)
{
	static const char req[] =
		"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
	(void)L;
	if (!c->t && !(c->t = calloc(1, sizeof *c->t)))
		return -1;
	struct tls *t = c->t;
	t->in_len = t->in_off = t->sent = 0;
	t->out_len[0] = t->out_len[1] = 0;
	t->cur = 0;
	t->fl = -1;
	t->hs_done = false;
	t->hdr_len = 0;
	t->hdr_need = 2;
	t->payload_left = 0;
	if (grow(&t->out[0], &t->out_cap[0], sizeof req - 1))
		return -1;
	memcpy(t->out[0], req, sizeof req - 1);
	t->out_len[0] = sizeof req - 1;
	return 0;
}

static void ws_fail(struct load *L, unsigned idx, const char *why)
{
	if (!L->s.tls_err)
		fprintf(stderr, "rw-load: connection %u: WebSocket: %s\n", idx, why);
	L->s.tls_err++;
	conn_lost(L, idx, -EPROTO);
}

static void ws_frames(struct load *L, unsigned idx, const uint8_t *p, size_t n)
{
	struct conn *c = &L->c[idx];
	struct tls *t = c->t;

	while (n && c->state == C_OPEN) {
		if (t->payload_left) {
			size_t k = n < t->payload_left ? n : (size_t)t->payload_left;
			verify(L, idx, p, (unsigned)k);
			t->payload_left -= k;
			p += k;
			n -= k;
			continue;
		}
		t->hdr[t->hdr_len++] = *p++;
		n--;
		if (t->hdr_len == 2) {
			unsigned op = t->hdr[0] & 0x0f, len7 = t->hdr[1] & 0x7f;
			if (t->hdr[1] & 0x80)
				{
				ws_fail(L, idx, "masked frame from the server");
				return;
			}
			if (op == 8)
				{
				ws_fail(L, idx, "close frame from the server");
				return;
			}
			if (op != 2 && op != 0)
				{
				ws_fail(L, idx, "unexpected opcode from the server");
				return;
			}
			t->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
		}
		if (t->hdr_len < t->hdr_need)
			continue;
		unsigned len7 = t->hdr[1] & 0x7f;
		uint64_t len = len7;
		if (len7 == 126)
			len = (uint64_t)t->hdr[2] << 8 | t->hdr[3];
		else if (len7 == 127)
			for (int i = 0; i < 8; i++)
				len = len << 8 | t->hdr[2 + i];
		t->payload_left = len;
		t->hdr_len = 0;
		t->hdr_need = 2;
	}
}

static void ws_input(struct load *L, unsigned idx, const uint8_t *p, unsigned n)
{
	struct conn *c = &L->c[idx];
	struct tls *t = c->t;

	if (t->hs_done) {
		ws_frames(L, idx, p, n);
		return;
	}
	if (grow(&t->in, &t->in_cap, t->in_len + n + 1))
		die("out of memory");
	memcpy(t->in + t->in_len, p, n);
	t->in_len += n;
	t->in[t->in_len] = 0;
	char *end = strstr((char *)t->in, "\r\n\r\n");
	if (!end) {
		if (t->in_len > 8192)
			ws_fail(L, idx, "no end of the upgrade response in 8 KiB");
		return;
	}
	if (strncmp((char *)t->in, "HTTP/1.1 101", 12)) {
		ws_fail(L, idx, "upgrade refused");
		return;
	}
	t->hs_done = true;
	L->s.handshakes++;
	size_t used = (size_t)(end + 4 - (char *)t->in), rest = t->in_len - used;
	conn_ready(L, idx, now_ns());
	if (rest)
		ws_frames(L, idx, t->in + used, rest);
	t->in_len = 0;
}

static void on_connect(struct load *L, unsigned idx, int res, uint64_t now)
{
	struct conn *c = &L->c[idx];

	if (c->state != C_CONNECTING)
		return; /* given up on at the end of the connect phase */
	bool first = !c->seen;
	if (first) {
		c->seen = true;
		L->connecting--;
		L->resolved++;
	}
	if (res < 0) {
		c->state = C_DEAD;
		L->s.connect_fail++;
		if (!L->s.first_connect_err)
			L->s.first_connect_err = res;
		return;
	}
	c->state = C_OPEN;
	L->s.connects++;
	if (first)
		L->s.established++;
	arm_recv(L, idx);
	if (L->o.ws) {
		if (ws_begin(L, c))
			die("out of memory");
		tls_flush(L, idx);
		return;
	}
	if (L->o.tls) {
		if (tls_begin(L, c))
			die("out of memory for a TLS session");
		int r = wolfSSL_connect(c->t->ssl); /* the ClientHello */
		if (r != WOLFSSL_SUCCESS && wolfSSL_get_error(c->t->ssl, r) != WOLFSSL_ERROR_WANT_READ) {
			tls_fail(L, idx, r, "handshake");
			conn_lost(L, idx, -EPROTO);
			return;
		}
		tls_flush(L, idx);
		return;
	}
	conn_ready(L, idx, now);
}

static void on_send(struct load *L, unsigned idx, int res)
{
	struct conn *c = &L->c[idx];

	c->sending = false;
	if (res <= 0) {
		conn_lost(L, idx, res);
		churn_maybe_close(L, idx);
		return;
	}
	if (c->t) {
		struct tls *t = c->t;
		t->sent += (unsigned)res;
		if (t->sent == t->out_len[t->fl]) {
			t->out_len[t->fl] = 0;
			t->fl = -1;
		}
		tls_flush(L, idx);
	} else {
		c->tx_off += (unsigned)res;
		start_send(L, idx);
	}
	churn_maybe_close(L, idx);
}

/* Compare echoed bytes with what was sent at the same stream offset. */
static void verify(struct load *L, unsigned idx, const uint8_t *p, unsigned n)
{
	struct conn *c = &L->c[idx];
	const uint8_t *want = L->pattern + (c->base + c->rx_off) % PAT_PERIOD;

	if (c->rx_off + n > c->tx_queued || memcmp(p, want, n)) {
		if (!L->s.verify_err)
			fprintf(stderr, "rw-load: connection %u: echoed bytes differ at stream offset %llu"
				" (%u bytes received, %llu sent)\n", idx,
				(unsigned long long)c->rx_off, n, (unsigned long long)c->tx_queued);
		L->s.verify_err++;
	}
	c->rx_off += n;
	L->s.rx_bytes += n;
}

static void complete_msgs(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];
	uint64_t now = 0;
	bool more = issuing(L) && !L->o.churn && !L->o.idle;

	while (c->done < c->issued && c->rx_off >= (c->done + 1) * L->o.size) {
		if (!now)
			now = now_ns();
		uint64_t sent = L->stamps[(size_t)idx * L->o.pipeline + c->done % L->o.pipeline];
		if (L->phase == P_MEASURE || (L->o.idle && L->phase == P_DRAIN)) {
			if (!L->o.churn)
				hist_add(&L->h, now - sent);
			L->s.msgs++;
		}
		c->done++;
		L->inflight_msgs--;
		L->s.total_done++;
		if (more)
			issue_msg(L, idx, now);
	}
	if (L->o.churn && c->issued && c->done == c->issued && c->state == C_OPEN) {
		churn_cycle_done(L, idx, now ? now : now_ns());
		return;
	}
	start_send(L, idx);
}

/* --mode tls: feed received ciphertext to wolfSSL, finish the handshake,
 * verify the decrypted echo. */
static void tls_input(struct load *L, unsigned idx, const uint8_t *p, unsigned n)
{
	struct conn *c = &L->c[idx];
	struct tls *t = c->t;
	int r;

	if (t->in_off && t->in_off == t->in_len)
		t->in_off = t->in_len = 0;
	if (grow(&t->in, &t->in_cap, t->in_len + n))
		die("out of memory");
	memcpy(t->in + t->in_len, p, n);
	t->in_len += n;
	if (!t->hs_done) {
		r = wolfSSL_connect(t->ssl);
		if (r != WOLFSSL_SUCCESS) {
			if (wolfSSL_get_error(t->ssl, r) == WOLFSSL_ERROR_WANT_READ) {
				tls_flush(L, idx);
				return;
			}
			tls_fail(L, idx, r, "handshake");
			conn_lost(L, idx, -EPROTO);
			return;
		}
		t->hs_done = true;
		if (!L->s.handshakes++) {
			const char *grp = wolfSSL_get_curve_name(t->ssl);
			snprintf(L->tls_info, sizeof L->tls_info, "%s %s %s", wolfSSL_get_version(t->ssl),
			         wolfSSL_get_cipher_name(t->ssl), grp ? grp : "");
		}
		conn_ready(L, idx, now_ns()); /* the Finished and the first messages in one send */
	}
	while (c->state == C_OPEN) {
		r = wolfSSL_read(t->ssl, L->tls_scratch, TLS_READ_BUF);
		if (r > 0) {
			verify(L, idx, L->tls_scratch, (unsigned)r);
			continue;
		}
		int err = wolfSSL_get_error(t->ssl, r);
		if (err != WOLFSSL_ERROR_WANT_READ) {
			if (err != WOLFSSL_ERROR_ZERO_RETURN)
				tls_fail(L, idx, r, "read");
			conn_lost(L, idx, -EPROTO);
		}
		break;
	}
	tls_flush(L, idx); /* wolfSSL may have answered (key update, tickets) */
}

static void on_recv(struct load *L, unsigned idx, const struct io_uring_cqe *cqe)
{
	struct conn *c = &L->c[idx];
	int res = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->recv_armed = false;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *p = L->bufs + (size_t)bid * L->buf_size;
		if (res > 0 && c->state == C_OPEN) {
			if (L->o.ws)
				ws_input(L, idx, p, (unsigned)res);
			else if (c->t)
				tls_input(L, idx, p, (unsigned)res);
			else
				verify(L, idx, p, (unsigned)res);
		}
		io_uring_buf_ring_add(L->br, p, L->buf_size, (unsigned short)bid, L->br_mask,
		                      (int)L->br_pending++);
	}
	if (res > 0 && c->state == C_OPEN)
		complete_msgs(L, idx);
	else if (res != -ENOBUFS && c->state == C_OPEN)
		conn_lost(L, idx, res);
	if (c->state == C_CLOSING || c->state == C_DEAD) {
		churn_maybe_close(L, idx);
		return;
	}
	if (!c->recv_armed && c->state == C_OPEN && !c->rearm_listed) {
		c->rearm_listed = true;
		L->rearm[L->nrearm++] = idx;
	}
}

static void on_shutdown(struct load *L, unsigned idx)
{
	L->c[idx].shut_pending = false;
	churn_maybe_close(L, idx);
}

static void on_close(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];

	if (!issuing(L))
		return;
	c->tx_queued = c->tx_off = c->rx_off = c->issued = c->done = 0;
	c->base = (c->base + 7919u) % PAT_PERIOD;
	c->state = C_NEW;
	struct io_uring_sqe *sqe = get_sqe(L);
	io_uring_prep_socket_direct(sqe, L->dst.ss_family, SOCK_STREAM, 0, idx, 0); /* no CLOEXEC: EINVAL for direct */
	io_uring_sqe_set_data64(sqe, ((uint64_t)idx << 8) | OP_SOCKET);
}

static void on_socket(struct load *L, unsigned idx, int res)
{
	struct conn *c = &L->c[idx];

	if (res < 0) {
		c->state = C_DEAD;
		L->s.connect_fail++;
		if (!L->s.first_connect_err)
			L->s.first_connect_err = res;
		return;
	}
	if (issuing(L))
		churn_connect(L, idx);
}

static unsigned reap(struct load *L)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&L->ring, head, cqe) {
		unsigned idx = (unsigned)(cqe->user_data >> 8);
		switch (cqe->user_data & 0xff) {
		case OP_CONNECT: on_connect(L, idx, cqe->res, now_ns()); break;
		case OP_SEND: on_send(L, idx, cqe->res); break;
		case OP_RECV: on_recv(L, idx, cqe); break;
		case OP_SHUTDOWN: on_shutdown(L, idx); break;
		case OP_CLOSE: on_close(L, idx); break;
		case OP_SOCKET: on_socket(L, idx, cqe->res); break;
		}
		n++;
	}
	io_uring_cq_advance(&L->ring, n);
	if (L->br_pending) {
		io_uring_buf_ring_advance(L->br, (int)L->br_pending);
		L->br_pending = 0;
	}
	for (unsigned i = 0; i < L->nrearm; i++) {
		unsigned idx = L->rearm[i];
		L->c[idx].rearm_listed = false;
		if (L->c[idx].state == C_OPEN && !L->c[idx].recv_armed)
			arm_recv(L, idx);
	}
	L->nrearm = 0;
	return n;
}

/* ---- phases --------------------------------------------------------------- */

static void give_up_connects(struct load *L)
{
	for (unsigned i = 0; i < L->o.conns; i++) {
		if (L->c[i].state == C_CONNECTING || L->c[i].state == C_NEW) {
			L->c[i].state = C_DEAD;
			L->s.connect_fail++;
			if (!L->s.first_connect_err)
				L->s.first_connect_err = -ETIMEDOUT;
		}
	}
	L->connecting = 0;
}

static void progress(struct load *L, uint64_t now)
{
	static const char *names[] = {"connect", "warmup", "measure", "drain", "done"};

	if (L->o.quiet || now - L->t_progress < NSEC)
		return;
	double dt = (double)(now - L->t_progress) / NSEC;
	fprintf(stderr, "rw-load: %-7s t=%5.1fs conns %llu/%u  %.0f msg/s\n", names[L->phase],
		(double)(now - L->t_start) / NSEC, (unsigned long long)L->s.established, L->o.conns,
		(double)(L->s.total_done - L->progress_done) / dt);
	L->t_progress = now;
	L->progress_done = L->s.total_done;
}

static void advance_phase(struct load *L, uint64_t now)
{
	if (g_stop && L->phase < P_DRAIN) {
		if (L->phase == P_MEASURE) {
			getrusage(RUSAGE_SELF, &L->ru1);
			L->srv1 = proc_sample(L);
			L->t_measure_end = now;
		}
		if (L->phase == P_CONNECT)
			give_up_connects(L);
		L->phase = P_DRAIN;
		L->t_drain = now;
	}
	switch (L->phase) {
	case P_CONNECT:
		if (L->resolved == L->o.conns || now - L->t_start > CONNECT_PHASE_NS) {
			if (L->resolved < L->o.conns)
				give_up_connects(L);
			L->t_conn_done = now;
			L->phase = L->s.established ? P_WARMUP : P_DONE;
			if (L->phase == P_DONE)
				break;
		} else {
			break;
		}
		/* fall through */
	case P_WARMUP:
		if (now - L->t_conn_done < (uint64_t)(L->o.warmup * NSEC))
			break;
		/* tls/ws: every handshake done (or given up on), then the messages
		 * start everywhere at once, then the warmup */
		if (barrier(L)) {
			if (L->s.handshakes < L->s.established && now - L->t_conn_done < CONNECT_PHASE_NS)
				break;
			L->barrier_done = true;
			for (unsigned i = 0; i < L->o.conns; i++) {
				if (!L->c[i].waiting || L->c[i].state != C_OPEN)
					continue;
				L->c[i].waiting = false;
				conn_ready(L, i, now);
			}
			L->t_conn_done = now;
			break;
		}
		/* --idle: every first echo is back before the idle window starts */
		if (L->o.idle && L->inflight_msgs &&
		    now - L->t_conn_done < (uint64_t)(L->o.warmup * NSEC) + CONNECT_PHASE_NS)
			break;
		L->phase = P_MEASURE;
		L->t_measure = now;
		getrusage(RUSAGE_SELF, &L->ru0);
		L->srv0 = proc_sample(L);
		if (L->o.mark) {
			FILE *f = fopen(L->o.mark, "w");
			if (f)
				fclose(f);
		}
		break;
	case P_MEASURE:
		if (now - L->t_measure < (uint64_t)(L->o.duration * NSEC))
			break;
		getrusage(RUSAGE_SELF, &L->ru1);
		L->srv1 = proc_sample(L);
		L->t_measure_end = now;
		L->phase = P_DRAIN;
		L->t_drain = now;
		if (L->o.idle) { /* the check: one more message on every connection */
			for (unsigned i = 0; i < L->o.conns; i++) {
				if (L->c[i].state != C_OPEN)
					continue;
				issue_msg(L, i, now);
				start_send(L, i);
			}
			break;
		}
		/* fall through */
	case P_DRAIN:
		if (!L->inflight_msgs || now - L->t_drain > (L->o.idle ? IDLE_CHECK_NS : DRAIN_NS))
			L->phase = P_DONE;
		break;
	}
}

static void run(struct load *L)
{
	L->srv_base = proc_sample(L);
	L->t_start = L->t_progress = now_ns();
	for (;;) {
		uint64_t now = now_ns();
		advance_phase(L, now);
		progress(L, now);
		if (L->phase == P_DONE)
			break;
		if (L->phase == P_CONNECT)
			issue_connects(L, now);
		struct __kernel_timespec ts = {.tv_nsec = L->phase == P_CONNECT ? 1000000 : 10000000};
		struct io_uring_cqe *cqe;
		int ret = io_uring_submit_and_wait_timeout(&L->ring, &cqe, 1, &ts, NULL);
		if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			fprintf(stderr, "rw-load: io_uring_enter: %s\n", strerror(-ret));
			exit(2);
		}
		reap(L);
	}
	for (unsigned i = 0; i < L->o.conns; i++) {
		if (L->o.churn)
			break;
		if (L->c[i].state == C_OPEN && L->c[i].done == 0)
			L->s.stalled++;
		if (L->o.idle && L->c[i].state == C_OPEN && L->c[i].done == 2)
			L->s.idle_checked++;
	}
}

/* ---- report --------------------------------------------------------------- */

struct result {
	double secs, connect_secs, msgs_per_s, mib_per_s, cpu_us_per_msg, cpu_pct;
	double p50, p90, p99, p999, max, mean;
	double srv_us_per_msg, srv_pct; /* -1: not sampled */
	double srv_user_pct, srv_sys_pct, srv_rss_per_conn_kib;
	double conn_per_s, connect_rate;
	uint64_t units; /* messages, or cycles with --churn */
	bool ok;
};

static double tv_us(const struct timeval *t)
{
	return (double)t->tv_sec * 1e6 + (double)t->tv_usec;
}

static struct result summarize(const struct load *L)
{
	struct result r = {0};
	double cpu = tv_us(&L->ru1.ru_utime) + tv_us(&L->ru1.ru_stime) -
	             tv_us(&L->ru0.ru_utime) - tv_us(&L->ru0.ru_stime);

	r.secs = L->t_measure_end > L->t_measure ? (double)(L->t_measure_end - L->t_measure) / NSEC : 0;
	r.connect_secs = (double)(L->t_conn_done - L->t_start) / NSEC;
	r.connect_rate = r.connect_secs > 0 ? (double)L->s.established / r.connect_secs : 0;
	r.units = L->o.churn ? L->s.cycles : L->s.msgs;
	if (r.secs > 0) {
		r.conn_per_s = (double)L->s.cycles / r.secs;
		r.msgs_per_s = L->o.idle ? 0 : (double)r.units / r.secs;
		r.mib_per_s = r.msgs_per_s * (double)L->o.size / (1024.0 * 1024.0);
		r.cpu_pct = cpu / (r.secs * 1e6) * 100.0;
	}
	r.cpu_us_per_msg = r.units && !L->o.idle ? cpu / (double)r.units : 0;
	r.srv_us_per_msg = r.srv_pct = -1;
	if (L->srv0.ok && L->srv1.ok && r.secs > 0) {
		double scpu = L->srv1.cpu_us - L->srv0.cpu_us;
		r.srv_us_per_msg = r.units && !L->o.idle ? scpu / (double)r.units : 0;
		r.srv_pct = scpu / (r.secs * 1e6) * 100.0;
		r.srv_user_pct = (L->srv1.user_us - L->srv0.user_us) / (r.secs * 1e6) * 100.0;
		r.srv_sys_pct = (L->srv1.sys_us - L->srv0.sys_us) / (r.secs * 1e6) * 100.0;
		if (L->srv_base.ok && L->s.established)
			r.srv_rss_per_conn_kib = (double)(L->srv1.rss_kib - L->srv_base.rss_kib) /
			                         (double)L->s.established;
	}
	r.p50 = (double)hist_pct(&L->h, 50) / 1000.0;
	r.p90 = (double)hist_pct(&L->h, 90) / 1000.0;
	r.p99 = (double)hist_pct(&L->h, 99) / 1000.0;
	r.p999 = (double)hist_pct(&L->h, 99.9) / 1000.0;
	r.max = (double)L->h.max / 1000.0;
	r.mean = L->h.count ? (double)L->h.sum / (double)L->h.count / 1000.0 : 0;
	r.ok = L->s.established >= L->o.conns && !L->s.verify_err && !L->s.disconnects &&
	       !L->s.stalled && !L->s.tls_err && !L->s.connect_fail && r.units > 0;
	if (L->o.idle)
		r.ok = r.ok && L->s.idle_checked == L->o.conns;
	return r;
}

static void print_table(const struct load *L, const struct result *r)
{
	const struct stats *s = &L->s;

	printf("rw-load: %s %s port %d, %u connections x %zu B, pipeline %u%s, %.1f s measured"
	       " (warmup %.1f s)\n", L->o.tls ? "tls" : L->o.ws ? "ws" : "tcp", L->o.host, L->o.port, L->o.conns,
	       L->o.size, L->o.pipeline, L->o.churn ? ", churn" : L->o.idle ? ", idle" : "",
	       r->secs, L->o.warmup);
	printf("  %-26s %llu (in %.2f s)\n", "connections established",
	       (unsigned long long)s->established, r->connect_secs);
	printf("  %-26s %llu%s%s\n", "connect failures", (unsigned long long)s->connect_fail,
	       s->first_connect_err ? "  first: " : "",
	       s->first_connect_err ? strerror(-s->first_connect_err) : "");
	printf("  %-26s %.0f\n", "connects/s (connect phase)", r->connect_rate);
	if (L->o.tls)
		printf("  %-26s %llu (%s)\n", "TLS handshakes", (unsigned long long)s->handshakes,
		       L->tls_info);
	if (L->o.ws)
		printf("  %-26s %llu\n", "WebSocket upgrades", (unsigned long long)s->handshakes);
	if (L->o.churn)
		printf("  %-26s %llu, %.0f/s (latency: connect to echo)\n", "connection cycles",
		       (unsigned long long)s->cycles, r->conn_per_s);
	if (L->o.idle)
		printf("  %-26s %llu of %u\n", "echoed after idle", (unsigned long long)s->idle_checked,
		       L->o.conns);
	printf("  %-26s %llu\n", "messages", (unsigned long long)s->msgs);
	printf("  %-26s %.0f\n", "messages/s", r->msgs_per_s);
	printf("  %-26s %.2f (each direction)\n", "MiB/s", r->mib_per_s);
	printf("  %-26s %.1f / %.1f / %.1f (max %.1f)\n", "latency p50/p99/p99.9 us",
	       r->p50, r->p99, r->p999, r->max);
	printf("  %-26s %llu\n", "verify errors", (unsigned long long)s->verify_err);
	printf("  %-26s %llu%s%s\n", "disconnects", (unsigned long long)s->disconnects,
	       s->first_disc_err ? "  first: " : "",
	       s->first_disc_err ? strerror(-s->first_disc_err) : "");
	printf("  %-26s %llu\n", "stalled (no echo at all)", (unsigned long long)s->stalled);
	if (L->o.tls || L->o.ws)
		printf("  %-26s %llu\n", L->o.ws ? "WebSocket errors" : "TLS errors",
		       (unsigned long long)s->tls_err);
	printf("  %-26s %.2f us/msg (%.0f %% of a core)\n", "client CPU", r->cpu_us_per_msg,
	       r->cpu_pct);
	if (r->srv_us_per_msg >= 0)
		printf("  %-26s %.2f us/msg (%.0f %% of a core: user %.0f, system %.0f), RSS %.1f MiB"
		       " (%.2f KiB per connection)\n", "server CPU", r->srv_us_per_msg, r->srv_pct,
		       r->srv_user_pct, r->srv_sys_pct, (double)L->srv1.rss_kib / 1024.0,
		       r->srv_rss_per_conn_kib);
	printf("  %-26s %s\n", "result", r->ok ? "OK" : "FAILED");
	fflush(stdout);
}

static int write_json(const struct load *L, const struct result *r)
{
	const struct stats *s = &L->s;
	FILE *f = fopen(L->o.json, "w");

	if (!f) {
		fprintf(stderr, "rw-load: %s: %s\n", L->o.json, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"mode\": \"%s\",\n  \"kind\": \"%s\",\n", L->o.tls ? "tls" : L->o.ws ? "ws" : "tcp",
		L->o.churn ? "churn" : L->o.idle ? "idle" : "echo");
	fprintf(f, "  \"tls\": \"%s\",\n", L->tls_info);
	fprintf(f, "  \"host\": \"%s\",\n  \"port\": %d,\n  \"connections\": %u,\n"
		"  \"size\": %zu,\n  \"pipeline\": %u,\n  \"duration_s\": %.3f,\n  \"warmup_s\": %.3f,\n",
		L->o.host, L->o.port, L->o.conns, L->o.size, L->o.pipeline, r->secs, L->o.warmup);
	fprintf(f, "  \"established\": %llu,\n  \"connect_failures\": %llu,\n  \"connect_s\": %.3f,\n"
		"  \"messages\": %llu,\n  \"messages_per_s\": %.1f,\n  \"mib_per_s\": %.3f,\n",
		(unsigned long long)s->established, (unsigned long long)s->connect_fail,
		r->connect_secs, (unsigned long long)s->msgs, r->msgs_per_s, r->mib_per_s);
	fprintf(f, "  \"latency_p50_us\": %.2f,\n  \"latency_p90_us\": %.2f,\n"
		"  \"latency_p99_us\": %.2f,\n  \"latency_p999_us\": %.2f,\n"
		"  \"latency_max_us\": %.2f,\n  \"latency_mean_us\": %.2f,\n",
		r->p50, r->p90, r->p99, r->p999, r->max, r->mean);
	fprintf(f, "  \"connect_per_s\": %.1f,\n  \"cycles\": %llu,\n  \"connections_per_s\": %.1f,\n"
		"  \"handshakes\": %llu,\n  \"tls_errors\": %llu,\n  \"idle_checked\": %llu,\n"
		"  \"rx_bytes_total\": %llu,\n  \"messages_total\": %llu,\n  \"connects_total\": %llu,\n",
		r->connect_rate, (unsigned long long)s->cycles, r->conn_per_s,
		(unsigned long long)s->handshakes, (unsigned long long)s->tls_err,
		(unsigned long long)s->idle_checked, (unsigned long long)s->rx_bytes,
		(unsigned long long)s->total_done, (unsigned long long)s->connects);
	fprintf(f, "  \"verify_errors\": %llu,\n  \"disconnects\": %llu,\n  \"stalled\": %llu,\n"
		"  \"client_cpu_us_per_msg\": %.3f,\n  \"client_cpu_pct\": %.1f,\n",
		(unsigned long long)s->verify_err, (unsigned long long)s->disconnects,
		(unsigned long long)s->stalled, r->cpu_us_per_msg, r->cpu_pct);
	if (r->srv_us_per_msg >= 0)
		fprintf(f, "  \"server_cpu_us_per_msg\": %.3f,\n  \"server_cpu_pct\": %.1f,\n"
			"  \"server_user_pct\": %.1f,\n  \"server_sys_pct\": %.1f,\n"
			"  \"server_rss_kib\": %ld,\n  \"server_rss_per_conn_kib\": %.3f,\n",
			r->srv_us_per_msg, r->srv_pct, r->srv_user_pct, r->srv_sys_pct, L->srv1.rss_kib,
			r->srv_rss_per_conn_kib);
	fprintf(f, "  \"ok\": %s\n}\n", r->ok ? "true" : "false");
	return fclose(f) ? -1 : 0;
}

int main(int argc, char **argv)
{
	static struct load L; /* large (histogram); lives for the whole run */
	struct sigaction sa = {.sa_handler = on_signal};
	struct result r;

	parse_args(&L, argc, argv);
	check_fd_limit(&L);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setup_ring(&L);
	setup_buffers(&L);
	setup_pattern(&L);
	if (L.o.tls)
		setup_tls(&L);
	setup_conns(&L);
	run(&L);
	r = summarize(&L);
	if (!L.o.quiet)
		print_table(&L, &r);
	if (L.o.json && write_json(&L, &r))
		return 2;
	/* Closing the ring first drops its references; the sockets close at exit. */
	io_uring_queue_exit(&L.ring);
	for (unsigned i = 0; i < L.o.conns; i++)
		close(L.fds[i]);
	return r.ok ? 0 : 1;
}
