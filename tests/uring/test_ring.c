/* tests/uring/test_ring.c: the uring/ layer alone (linked without src/):
 * setup flags and probing, the hand-mapped provided-buffer ring, a
 * multishot receive that runs out of buffers (ENOBUFS, no F_MORE) and is
 * re-armed without losing or reordering bytes, and an adaptive ring that
 * gives the memory of the buffers it no longer holds back to the kernel. */
#include "uring/bufring.h"
#include "uring/ring.h"
#include "ring_backend.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

Test(ring, setup_probe_and_fixed_files)
{
	struct rw_ring r;
	int rc = rwt_ring_init(&r, 64, 16);
	cr_assert_eq(rc, 0, "rw_ring_init: %s", strerror(-rc));
	cr_assert_eq(r.fixed_files, 16u);
	cr_assert(r.has_multishot_recv, "kernel 6.1+ has multishot recv");
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(rw_ring_install_fd(&r, 3, sv[0]), 0); /* the table takes sv[0] */
	/* A failed install takes the fd too: it is closed. */
	int extra = dup(sv[1]);
	cr_assert_lt(rw_ring_install_fd(&r, 99, extra), 0);
	cr_assert_eq(fcntl(extra, F_GETFD), -1, "a failed install closes the fd");
	close(sv[1]);
	rw_ring_exit(&r);
}

Test(ring, refusal_reasons_name_the_cause)
{
	cr_assert(strstr(rw_ring_refusal_reason(-EPERM), "seccomp") != NULL);
	cr_assert(strstr(rw_ring_refusal_reason(EPERM), "io_uring_disabled") != NULL);
	cr_assert(strstr(rw_ring_refusal_reason(-ENOSYS), "ENOSYS") != NULL);
}

Test(bufring, rejects_non_power_of_two)
{
	struct rw_ring r;
	struct rw_bufring b;
	cr_assert_eq(rwt_ring_init(&r, 8, 0), 0);
	cr_assert_eq(rw_bufring_init(&b, &r, 1, 3, 256), -EINVAL);
	rw_ring_exit(&r);
}

static void arm(struct rw_ring *r, struct rw_bufring *b, int fd)
{
	int err = 0;
	struct io_uring_sqe *sqe = rw_ring_sqe(r, &err);
	cr_assert_not_null(sqe);
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = b->bgid;
	io_uring_sqe_set_data64(sqe, 42);
}

/* Write `total` patterned bytes into a socketpair in `step`-byte writes while
 * a multishot receive reads them through `b`, re-armed whenever it ends;
 * checks that every byte arrives in order. Adaptive rings are told what
 * each completion did, and `check` runs after each publish. Returns the
 * number of ENOBUFS completions; *rearms counts the re-arms. */
static int stream(struct rw_ring *r, struct rw_bufring *b, size_t total, size_t step, int *rearms,
                  void (*check)(const struct rw_bufring *))
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	uint8_t *sent = malloc(total), *got = malloc(total);
	for (size_t i = 0; i < total; i++)
		sent[i] = (uint8_t)(i * 131 + (i >> 9));
	size_t wrote = 0, have = 0;
	int enobufs = 0;
	*rearms = 0;
	arm(r, b, sv[1]);
	while (have < total) {
		if (wrote < total) {
			ssize_t w = write(sv[0], sent + wrote, total - wrote > step ? step : total - wrote);
			cr_assert_gt(w, 0);
			wrote += (size_t)w;
		}
		cr_assert_eq(rw_ring_submit_wait(r, 1000), 0);
		struct io_uring_cqe cqes[64];
		unsigned n = rw_ring_reap(r, cqes, 64);
		for (unsigned i = 0; i < n; i++) {
			const struct io_uring_cqe *c = &cqes[i];
			if (c->res > 0) {
				unsigned bid = c->flags >> IORING_CQE_BUFFER_SHIFT;
				rw_bufring_filled(b);
				memcpy(got + have, rw_bufring_addr(b, bid), (size_t)c->res);
				have += (size_t)c->res;
				rw_bufring_recycle(b, bid);
			} else {
				cr_assert_eq(c->res, -ENOBUFS, "unexpected res %d", c->res);
				rw_bufring_starved(b);
				enobufs++;
			}
			if (!(c->flags & IORING_CQE_F_MORE)) {
				(*rearms)++;
				rw_bufring_publish(b);
				arm(r, b, sv[1]);
			}
		}
		rw_bufring_publish(b);
		if (check)
			check(b);
	}
	cr_assert_eq(memcmp(sent, got, total), 0, "bytes lost or reordered");
	free(sent);
	free(got);
	close(sv[0]);
	close(sv[1]);
	return enobufs;
}

Test(bufring, multishot_recv_survives_enobufs)
{
	struct rw_ring r;
	struct rw_bufring b;
	cr_assert_eq(rwt_ring_init(&r, 16, 0), 0);
	cr_assert_eq(rw_bufring_init(&b, &r, 7, 2, 64), 0);
	int rearms;
	cr_assert_gt(stream(&r, &b, 64 * 1024, 4096, &rearms, NULL), 0, "two 64-byte buffers must run dry at least once");
	cr_assert_gt(rearms, 0);
	rw_bufring_exit(&b, &r);
	rw_ring_exit(&r);
}

/* Adaptive: at most `target` buffers are in the ring. A stream that needs
 * more runs the ring dry; the target then grows (never past the count), no
 * byte is lost or reordered, and each second without a dry ring it shrinks
 * back toward its minimum, but not in a second that had one. */
static void within_target(const struct rw_bufring *b)
{
	cr_assert_leq(b->in_ring, b->target, "more buffers in the ring than the target");
	cr_assert_leq(b->in_ring + b->stack_n, 16u);
}

Test(bufring, adaptive_target_grows_on_enobufs_and_decays)
{
	struct rw_ring r;
	struct rw_bufring b;
	cr_assert_eq(rwt_ring_init(&r, 64, 0), 0);
	cr_assert_eq(rw_bufring_init(&b, &r, 9, 16, 64), 0);
	rw_bufring_adapt(&b, 2); /* takes back 14 of the 16 published at init */
	cr_assert_eq(b.target, 2);
	cr_assert_eq(b.in_ring, 2);
	cr_assert_eq(b.stack_n, 14);
	int rearms;
	cr_assert_gt(stream(&r, &b, 128 * 1024, 8192, &rearms, within_target), 0);
	cr_assert_gt(b.target, 2u, "the target did not grow after the ring ran dry");
	cr_assert_leq(b.target, 16u);
	unsigned grown = b.target;
	rw_bufring_decay(&b); /* this second had a dry ring: no shrink */
	cr_assert_eq(b.target, grown);
	for (int i = 0; i < 100; i++)
		rw_bufring_decay(&b);
	cr_assert_eq(b.target, 2u, "an idle ring goes back to its minimum");
	rw_bufring_exit(&b, &r);
	rw_ring_exit(&r);
}

/* Resident pages of buffer `bid` (mincore). */
static unsigned resident(const struct rw_bufring *b, unsigned bid)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char vec[16];
	cr_assert_leq(b->size / page, sizeof(vec));
	cr_assert_eq(mincore(rw_bufring_addr(b, bid), b->size, vec), 0);
	unsigned n = 0;
	for (size_t i = 0; i < b->size / page; i++)
		n += vec[i] & 1;
	return n;
}

/* The end of a stream's socket: its multishot receive completes with 0. */
static void drain_eof(struct rw_ring *r)
{
	for (int tries = 0; tries < 50; tries++) {
		cr_assert_eq(rw_ring_submit_wait(r, 100), 0);
		struct io_uring_cqe c;
		while (rw_ring_reap(r, &c, 1) == 1) {
			cr_assert_leq(c.res, 0, "no bytes after the stream's end");
			if (c.res == 0)
				return;
		}
	}
	cr_assert_fail("the receive of a closed stream did not end");
}

/* A burst grows the ring; once its target has decayed back, the buffers the
 * quiet traffic after it fills are no longer republished: the next second
 * gives their memory back (none of those outside the ring stays resident,
 * while some were), and a stream through the released buffers still arrives
 * intact. */
Test(bufring, decayed_ring_gives_memory_back)
{
	struct rw_ring r;
	struct rw_bufring b;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	cr_assert_eq(rwt_ring_init(&r, 64, 0), 0);
	cr_assert_eq(rw_bufring_init(&b, &r, 11, 16, (unsigned)(2 * page)), 0);
	rw_bufring_adapt(&b, 2);
	int rearms;
	cr_assert_gt(stream(&r, &b, 512 * 1024, 64 * 1024, &rearms, within_target), 0);
	cr_assert_gt(b.target, 2u, "the burst did not grow the ring");
	for (int i = 0; i < 100; i++)
		rw_bufring_decay(&b);
	cr_assert_eq(b.target, 2u);
	drain_eof(&r);
	/* Quiet traffic: one page at a time, each receive takes a buffer of the
	 * ring, which gets back only up to the target. */
	stream(&r, &b, 32 * page, page, &rearms, NULL);
	drain_eof(&r);
	cr_assert_eq(b.in_ring + b.stack_n, b.count, "every buffer is in the ring or on the stack");
	unsigned before = 0;
	for (unsigned i = 0; i < b.stack_n; i++)
		before += resident(&b, b.stack[i]) > 0;
	cr_assert_gt(before, 2u, "the traffic filled buffers that are now out of the ring");
	rw_bufring_decay(&b);
	cr_assert_gt(b.stack_n, 0u);
	for (unsigned i = 0; i < b.stack_n; i++)
		cr_assert_eq(resident(&b, b.stack[i]), 0, "buffer %u outside the ring kept its memory", b.stack[i]);
	stream(&r, &b, 512 * 1024, 64 * 1024, &rearms, NULL);
	rw_bufring_exit(&b, &r);
	rw_ring_exit(&r);
}
