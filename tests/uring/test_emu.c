/* tests/uring/test_emu.c: the epoll backend (uring/emu.h) alone, linked
 * without src/: what the engine relies on, each against real sockets.
 * Multishot accept posts one CQE per connection with F_MORE until cancelled;
 * a multishot recv through a fixed-file slot fills provided buffers in order,
 * ends with -ENOBUFS when the ring is dry and gives data before EOF; a send
 * the socket cannot take waits, a send posts what the socket took (partial),
 * sends stay in order; SEND_ZC posts its result with F_MORE, then F_NOTIF;
 * cancel by user_data (its CQE before its target's, as the kernel posts
 * them); cancel + close_direct in one batch, and the peer sees the close; a file read at an offset, and an eventfd read
 * that waits for readiness. */
#include "uring/bufring.h"
#include "uring/ring.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static struct io_uring_sqe *sqe_of(struct rw_ring *r, uint64_t ud)
{
	int err = 0;
	struct io_uring_sqe *sqe = rw_ring_sqe(r, &err);
	cr_assert_not_null(sqe);
	io_uring_sqe_set_data64(sqe, ud);
	return sqe;
}

/* Turn the ring until `want` CQEs are in (bounded: 3 s); returns the count. */
static unsigned collect(struct rw_ring *r, struct io_uring_cqe *out, unsigned want, unsigned max)
{
	unsigned n = 0;
	for (int i = 0; i < 300 && n < want; i++) {
		cr_assert_eq(rw_ring_submit_wait(r, 10), 0);
		n += rw_ring_reap(r, out + n, max - n);
	}
	return n;
}

/* The index of the CQE for `ud` among n (the kernel's order between a
 * cancel's CQE and its target's is: cancel first). */
static unsigned at(const struct io_uring_cqe *q, unsigned n, uint64_t ud)
{
	for (unsigned i = 0; i < n; i++)
		if (q[i].user_data == ud)
			return i;
	cr_assert_fail("no CQE for %llu", (unsigned long long)ud);
	return n;
}

static int listener(struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	cr_assert_eq(listen(fd, 16), 0);
	socklen_t l = sizeof(*a);
	getsockname(fd, (struct sockaddr *)a, &l);
	return fd;
}

static int dial(const struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(fd, (const struct sockaddr *)a, sizeof(*a)), 0);
	return fd;
}

Test(emu, multishot_accept_until_cancelled)
{
	struct rw_ring r;
	cr_assert_eq(rw_ring_init_epoll(&r, 16, 0), 0);
	struct sockaddr_in a;
	int ls = listener(&a);
	io_uring_prep_multishot_accept(sqe_of(&r, 11), ls, NULL, NULL, SOCK_CLOEXEC);
	int c[3];
	for (int i = 0; i < 3; i++)
		c[i] = dial(&a);
	struct io_uring_cqe q[8];
	cr_assert_eq(collect(&r, q, 3, 8), 3u);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(q[i].user_data, 11u);
		cr_assert_geq(q[i].res, 0, "accept: %d", q[i].res);
		cr_assert(q[i].flags & IORING_CQE_F_MORE);
		cr_assert(fcntl(q[i].res, F_GETFD) & FD_CLOEXEC);
		/* The accepted socket is blocking, as the kernel's is. */
		cr_assert_eq(fcntl(q[i].res, F_GETFL) & O_NONBLOCK, 0);
		close(q[i].res);
	}
	io_uring_prep_cancel64(sqe_of(&r, 12), 11, 0);
	/* The request holds its own reference: closing ours is allowed now. */
	close(ls);
	cr_assert_eq(collect(&r, q, 2, 8), 2u);
	cr_assert_eq(at(q, 2, 12), 0u, "the cancel's CQE, then its target's");
	cr_assert_eq(q[0].res, 0);
	cr_assert_eq(q[1].user_data, 11u);
	cr_assert_eq(q[1].res, -ECANCELED);
	cr_assert_eq(q[1].flags & IORING_CQE_F_MORE, 0u);
	for (int i = 0; i < 3; i++)
		close(c[i]);
	/* Nothing holds the listener any more: a new connection is refused. */
	int late = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(late, (struct sockaddr *)&a, sizeof(a)), -1, "the listener is still open");
	cr_assert_eq(errno, ECONNREFUSED);
	close(late);
	io_uring_prep_cancel64(sqe_of(&r, 13), 11, 0);
	cr_assert_eq(collect(&r, q, 1, 8), 1u);
	cr_assert_eq(q[0].res, -ENOENT);
	rw_ring_exit(&r);
}

static void arm_recv(struct rw_ring *r, unsigned slot, uint16_t bgid, uint64_t ud)
{
	struct io_uring_sqe *sqe = sqe_of(r, ud);
	io_uring_prep_recv_multishot(sqe, (int)slot, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = bgid;
}

/* An epoll-backed ring with `files` fixed slots, and one end of a Unix
 * socket pair installed in `slot` (sv[1] stays the test's end); a buffer
 * size of 0 keeps the default. */
static void open_pair(struct rw_ring *r, unsigned files, unsigned slot, int sndbuf, int rcvbuf, int sv[2])
{
	cr_assert_eq(rw_ring_init_epoll(r, 16, files), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	if (sndbuf)
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (rcvbuf)
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	cr_assert_eq(rw_ring_install_fd(r, slot, sv[0]), 0);
}

Test(emu, recv_fills_buffers_in_order_then_enobufs_then_eof)
{
	struct rw_ring r;
	struct rw_bufring b;
	int sv[2];
	open_pair(&r, 8, 2, 0, 0, sv);
	cr_assert_eq(rw_bufring_init(&b, &r, 5, 4, 64), 0);
	uint8_t sent[1000], got[1000];
	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (uint8_t)(i * 7 + 3);
	cr_assert_eq(write(sv[1], sent, sizeof(sent)), (ssize_t)sizeof(sent));
	shutdown(sv[1], SHUT_WR); /* EOF waits behind the data */
	size_t have = 0;
	int enobufs = 0, eof = 0;
	arm_recv(&r, 2, 5, 21);
	for (int turn = 0; turn < 300 && !eof; turn++) {
		cr_assert_eq(rw_ring_submit_wait(&r, 10), 0);
		struct io_uring_cqe q[16];
		unsigned n = rw_ring_reap(&r, q, 16);
		for (unsigned i = 0; i < n; i++) {
			cr_assert_eq(q[i].user_data, 21u);
			if (q[i].res > 0) {
				cr_assert(q[i].flags & IORING_CQE_F_BUFFER);
				cr_assert_leq(q[i].res, 64);
				unsigned bid = q[i].flags >> IORING_CQE_BUFFER_SHIFT;
				cr_assert_lt(bid, 4u);
				memcpy(got + have, rw_bufring_addr(&b, bid), (size_t)q[i].res);
				have += (size_t)q[i].res;
				cr_assert(q[i].flags & IORING_CQE_F_MORE);
				rw_bufring_recycle(&b, bid);
			} else if (q[i].res == -ENOBUFS) {
				cr_assert_eq(q[i].flags & IORING_CQE_F_MORE, 0u);
				enobufs++;
			} else {
				cr_assert_eq(q[i].res, 0, "res %d", q[i].res);
				cr_assert_eq(q[i].flags & IORING_CQE_F_MORE, 0u);
				cr_assert_eq(have, sizeof(sent), "EOF before all the data");
				eof = 1;
			}
			if (!(q[i].flags & IORING_CQE_F_MORE) && !eof)
				arm_recv(&r, 2, 5, 21);
		}
		/* Buffers go back only once per turn, as the engine does, so
		 * four buffers run dry within one readiness report. */
		rw_bufring_publish(&b);
	}
	cr_assert(eof, "no EOF");
	cr_assert_eq(memcmp(sent, got, sizeof(sent)), 0, "bytes lost or reordered");
	cr_assert_gt(enobufs, 0, "4 x 64-byte buffers must run dry for 1000 bytes");
	close(sv[1]);
	rw_bufring_exit(&b, &r);
	rw_ring_exit(&r);
}

static void prep_send(struct rw_ring *r, unsigned slot, const void *p, size_t n, uint64_t ud, bool zc)
{
	struct io_uring_sqe *sqe = sqe_of(r, ud);
	if (zc)
		io_uring_prep_send_zc(sqe, (int)slot, p, n, MSG_NOSIGNAL, 0);
	else
		io_uring_prep_send(sqe, (int)slot, p, n, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
}

static size_t drain(int fd, uint8_t *out, size_t cap)
{
	size_t n = 0;
	ssize_t k;
	while (n < cap && (k = recv(fd, out + n, cap - n, MSG_DONTWAIT)) > 0)
		n += (size_t)k;
	return n;
}

Test(emu, sends_wait_for_room_partial_in_order)
{
	struct rw_ring r;
	int sv[2];
	open_pair(&r, 4, 1, 4096, 4096, sv);
	enum { BIG = 1 << 20 };
	uint8_t *a = malloc(BIG), *in = malloc(BIG + 64);
	for (size_t i = 0; i < BIG; i++)
		a[i] = (uint8_t)(i * 13 + (i >> 11));
	/* One big send: the socket takes part of it; the CQE says how much. */
	prep_send(&r, 1, a, BIG, 31, false);
	struct io_uring_cqe q[8];
	cr_assert_eq(collect(&r, q, 1, 8), 1u);
	cr_assert_eq(q[0].user_data, 31u);
	cr_assert_gt(q[0].res, 0);
	cr_assert_lt(q[0].res, BIG, "a 1 MiB send into a 4 KiB socket buffer is partial");
	size_t off = (size_t)q[0].res;
	/* The socket is full now: two more sends wait, and no CQE comes. */
	prep_send(&r, 1, a + off, 100, 32, false);
	prep_send(&r, 1, a + off + 100, 200, 33, true);
	cr_assert_eq(rw_ring_submit_wait(&r, 50), 0);
	cr_assert_eq(rw_ring_reap(&r, q, 8), 0u, "a send the socket cannot take waits");
	/* The reader makes room: both complete, in order, the ZC one with
	 * F_MORE and then its notification. */
	size_t got = 0;
	unsigned n = 0;
	for (int i = 0; i < 300 && n < 3; i++) {
		got += drain(sv[1], in + got, BIG + 64 - got);
		cr_assert_eq(rw_ring_submit_wait(&r, 10), 0);
		n += rw_ring_reap(&r, q + n, 8 - n);
	}
	cr_assert_eq(n, 3u);
	cr_assert_eq(q[0].user_data, 32u);
	cr_assert_eq(q[0].res, 100);
	cr_assert_eq(q[1].user_data, 33u);
	cr_assert_eq(q[1].res, 200);
	cr_assert(q[1].flags & IORING_CQE_F_MORE);
	cr_assert_eq(q[2].user_data, 33u);
	cr_assert(q[2].flags & IORING_CQE_F_NOTIF);
	got += drain(sv[1], in + got, BIG + 64 - got);
	cr_assert_eq(got, off + 300);
	cr_assert_eq(memcmp(in, a, got), 0, "bytes out of order");
	free(a);
	free(in);
	close(sv[1]);
	rw_ring_exit(&r);
}

Test(emu, cancel_and_close_in_one_batch_complete_in_order)
{
	struct rw_ring r;
	struct rw_bufring b;
	int sv[2];
	open_pair(&r, 4, 3, 0, 0, sv);
	cr_assert_eq(rw_bufring_init(&b, &r, 0, 4, 256), 0);
	arm_recv(&r, 3, 0, 41);
	cr_assert_eq(rw_ring_submit_wait(&r, 20), 0);
	struct io_uring_cqe q[8];
	cr_assert_eq(rw_ring_reap(&r, q, 8), 0u, "a recv with no data waits");
	io_uring_prep_cancel64(sqe_of(&r, 42), 41, 0);
	io_uring_prep_close_direct(sqe_of(&r, 43), 3);
	cr_assert_eq(collect(&r, q, 3, 8), 3u);
	unsigned recv_i = at(q, 3, 41), cancel_i = at(q, 3, 42), close_i = at(q, 3, 43);
	cr_assert_eq(q[recv_i].res, -ECANCELED);
	cr_assert_eq(q[cancel_i].res, 0);
	cr_assert_eq(q[close_i].res, 0);
	cr_assert_lt(cancel_i, recv_i);
	cr_assert_lt(cancel_i, close_i, "SQE order");
	/* The slot's socket is closed: the peer reads EOF. */
	char c;
	cr_assert_eq(read(sv[1], &c, 1), 0);
	/* The slot is empty: a request on it fails, a second close too. */
	prep_send(&r, 3, "x", 1, 44, false);
	io_uring_prep_close_direct(sqe_of(&r, 45), 3);
	cr_assert_eq(collect(&r, q, 2, 8), 2u);
	cr_assert_eq(q[0].res, -EBADF);
	cr_assert_eq(q[1].res, -EBADF);
	close(sv[1]);
	rw_bufring_exit(&b, &r);
	rw_ring_exit(&r);
}

Test(emu, cancel_a_waiting_send)
{
	struct rw_ring r;
	int sv[2];
	open_pair(&r, 4, 0, 4096, 0, sv);
	static uint8_t big[1 << 20];
	prep_send(&r, 0, big, sizeof(big), 51, false);
	struct io_uring_cqe q[4];
	cr_assert_eq(collect(&r, q, 1, 4), 1u);
	prep_send(&r, 0, big, sizeof(big), 52, false); /* waits: the socket is full */
	io_uring_prep_cancel64(sqe_of(&r, 53), 52, 0);
	cr_assert_eq(collect(&r, q, 2, 4), 2u);
	cr_assert_eq(q[0].user_data, 53u);
	cr_assert_eq(q[0].res, 0);
	cr_assert_eq(q[1].user_data, 52u);
	cr_assert_eq(q[1].res, -ECANCELED);
	close(sv[1]);
	rw_ring_exit(&r);
}

Test(emu, file_read_at_offset_and_eventfd_read_waits)
{
	struct rw_ring r;
	cr_assert_eq(rw_ring_init_epoll(&r, 16, 0), 0);
	char path[] = "/tmp/rw_emu_XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	cr_assert_eq(write(fd, "0123456789", 10), 10);
	char buf[8] = {0};
	io_uring_prep_read(sqe_of(&r, 61), fd, buf, 4, 3);
	struct io_uring_cqe q[4];
	cr_assert_eq(collect(&r, q, 1, 4), 1u);
	cr_assert_eq(q[0].res, 4);
	cr_assert_eq(memcmp(buf, "3456", 4), 0);
	close(fd);
	/* A blocking eventfd with nothing to read must not stall the ring. */
	int efd = eventfd(0, EFD_CLOEXEC);
	uint64_t v = 0, one = 5;
	io_uring_prep_read(sqe_of(&r, 62), efd, &v, sizeof(v), 0);
	cr_assert_eq(rw_ring_submit_wait(&r, 20), 0);
	cr_assert_eq(rw_ring_reap(&r, q, 4), 0u);
	cr_assert_eq(write(efd, &one, sizeof(one)), 8);
	cr_assert_eq(collect(&r, q, 1, 4), 1u);
	cr_assert_eq(q[0].user_data, 62u);
	cr_assert_eq(q[0].res, 8);
	cr_assert_eq(v, 5u);
	close(efd);
	rw_ring_exit(&r);
}
