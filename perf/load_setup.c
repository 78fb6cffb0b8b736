/* perf/load_setup.c: rw-load's ring, provided buffers, send pattern, sockets
 * (registered as fixed files) and submission helpers. */
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <netinet/tcp.h>
#include <unistd.h>

/* RLIMIT_NOFILE's soft limit (UINT_MAX when unlimited). */
unsigned fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit failed");
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > UINT32_MAX ? UINT32_MAX : (unsigned)rl.rlim_cur;
}

void check_fd_limit(const struct load *L)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit failed");
	if (rl.rlim_cur != RLIM_INFINITY && L->o.conns + FD_RESERVE > rl.rlim_cur) {
		fprintf(stderr, "rw-load: %u connections need %u file descriptors but RLIMIT_NOFILE"
			" is %llu; use --processes\n",
			L->o.conns, L->o.conns + FD_RESERVE, (unsigned long long)rl.rlim_cur);
		exit(2);
	}
}

void setup_ring(struct load *L)
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
void setup_buffers(struct load *L)
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
void setup_pattern(struct load *L)
{
	size_t slack = SEND_CHUNK_MAX > L->buf_size ? SEND_CHUNK_MAX : L->buf_size;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	L->pattern = malloc(PAT_PERIOD + slack);
	if (!L->pattern)
		die("out of memory");
	/* --deflate: words picked at random, so that messages compress as text
	 * does; otherwise random bytes. */
	static const char *const words[] = {"the ", "server ", "echoes ", "every ", "message ", "of ",
	                                    "a ", "client ", "over ", "WebSocket ", "with ", "deflate, "};
	for (size_t i = 0; i < PAT_PERIOD;) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (!L->o.deflate) {
			L->pattern[i++] = (uint8_t)(x >> 24);
			continue;
		}
		for (const char *w = words[(x >> 24) % 12]; *w && i < PAT_PERIOD; w++)
			L->pattern[i++] = (uint8_t)*w;
	}
	for (size_t i = 0; i < slack; i++)
		L->pattern[PAT_PERIOD + i] = L->pattern[i % PAT_PERIOD];
	if (L->o.deflate)
		setup_deflate(L);
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
		src.sin_addr.s_addr = htonl(0x7f000001u + (L->first + idx) % L->o.sources);
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		if (bind(fd, (struct sockaddr *)&src, sizeof src)) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

void setup_conns(struct load *L)
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
		L->c[i].base = (uint32_t)(((uint64_t)(L->first + i) * 2654435761u) % PAT_PERIOD);
	}
	ret = io_uring_register_files(&L->ring, L->fds, n);
	if (ret) {
		fprintf(stderr, "rw-load: register_files(%u): %s\n", n, strerror(-ret));
		exit(2);
	}
}

/* ---- submission helpers --------------------------------------------------- */

struct io_uring_sqe *get_sqe(struct load *L)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&L->ring);
	while (!sqe) {
		io_uring_submit(&L->ring);
		sqe = io_uring_get_sqe(&L->ring);
	}
	return sqe;
}

void set_ud(struct io_uring_sqe *sqe, unsigned idx, unsigned op)
{
	io_uring_sqe_set_data64(sqe, ((uint64_t)idx << 8) | op);
	sqe->flags |= IOSQE_FIXED_FILE;
}

void arm_recv(struct load *L, unsigned idx)
{
	struct io_uring_sqe *sqe = get_sqe(L);
	io_uring_prep_recv_multishot(sqe, (int)idx, NULL, 0, 0);
	set_ud(sqe, idx, OP_RECV);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	L->c[idx].recv_armed = true;
}
