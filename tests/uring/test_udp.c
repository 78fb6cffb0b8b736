/* tests/uring/test_udp.c: uring/udp alone (linked without src/): multishot
 * recvmsg into a provided-buffer ring gives one CQE per datagram with the
 * sender's address and the exact payload; an oversized datagram is flagged
 * truncated; running out of buffers ends the request (ENOBUFS, no F_MORE) and
 * a re-arm gets the datagrams that waited in the socket; the single-shot
 * fallback parses the same; a batch of sendmsg SQEs goes out with one submit. */
#include "uring/bufring.h"
#include "uring/ring.h"
#include "ring_backend.h"
#include "uring/udp.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

static int udp_bound(struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	socklen_t l = sizeof(*a);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)a, &l), 0);
	return fd;
}

static void arm(struct rw_ring *r, struct rw_udp_rx *rx, int fd, uint16_t bgid)
{
	int err = 0;
	struct io_uring_sqe *sqe = rw_ring_sqe(r, &err);
	cr_assert_not_null(sqe);
	rw_udp_prep_recv(sqe, fd, rx, bgid);
	io_uring_sqe_set_data64(sqe, 7);
}

/* Wait for one CQE (bounded: 2 s). */
static struct io_uring_cqe one(struct rw_ring *r)
{
	struct io_uring_cqe c;
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(rw_ring_submit_wait(r, 10), 0);
		if (rw_ring_reap(r, &c, 1) == 1)
			return c;
	}
	cr_assert_fail("no CQE within 2 s");
	return c;
}

static void run_recv(bool multishot)
{
	struct rw_ring r;
	struct rw_bufring b;
	cr_assert_eq(rwt_ring_init(&r, 32, 0), 0);
	cr_assert_eq(rw_bufring_init(&b, &r, 3, 4, 512), 0);
	struct sockaddr_in sa, ca;
	int s = udp_bound(&sa), c = udp_bound(&ca);
	struct rw_udp_rx rx;
	rw_udp_rx_init(&rx, multishot);
	arm(&r, &rx, s, 3);
	const size_t sizes[] = {1, 100, 300, 2000};
	for (size_t i = 0; i < 4; i++) {
		uint8_t msg[2000];
		memset(msg, 'a' + (int)i, sizes[i]);
		cr_assert_eq(sendto(c, msg, sizes[i], 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)sizes[i]);
		struct io_uring_cqe cqe = one(&r);
		cr_assert_eq(cqe.user_data, 7u);
		cr_assert_gt(cqe.res, 0, "res %d", cqe.res);
		cr_assert(cqe.flags & IORING_CQE_F_BUFFER);
		unsigned bid = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
		struct rw_udp_dgram d;
		cr_assert_eq(rw_udp_parse(&rx, rw_bufring_addr(&b, bid), b.size, cqe.res, &d), 0);
		const struct sockaddr_in *from = (const struct sockaddr_in *)d.addr;
		cr_assert_eq(d.addrlen, sizeof(struct sockaddr_in));
		cr_assert_eq(from->sin_port, ca.sin_port, "the sender's port");
		if (sizes[i] > 400) {
			cr_assert(d.truncated, "a 2000-byte datagram in a 512-byte buffer");
		} else {
			cr_assert_not(d.truncated);
			cr_assert_eq(d.len, sizes[i]);
			cr_assert_eq(d.data[0], 'a' + (int)i);
			cr_assert_eq(d.data[d.len - 1], 'a' + (int)i);
		}
		if (multishot)
			cr_assert(cqe.flags & IORING_CQE_F_MORE, "multishot stays armed");
		else
			arm(&r, &rx, s, 3);
		rw_bufring_recycle(&b, bid);
		rw_bufring_publish(&b);
	}
	close(s);
	close(c);
	rw_bufring_exit(&b, &r);
	rw_ring_exit(&r);
}

Test(udp, multishot_recvmsg_one_cqe_per_datagram) { run_recv(true); }
Test(udp, single_shot_fallback_parses_the_same) { run_recv(false); }

Test(udp, enobufs_ends_the_request_and_rearm_loses_nothing)
{
	struct rw_ring r;
	struct rw_bufring b;
	cr_assert_eq(rwt_ring_init(&r, 32, 0), 0);
	cr_assert_eq(rw_bufring_init(&b, &r, 1, 2, 256), 0);
	struct sockaddr_in sa, ca;
	int s = udp_bound(&sa), c = udp_bound(&ca);
	struct rw_udp_rx rx;
	rw_udp_rx_init(&rx, true);
	arm(&r, &rx, s, 1);
	for (int i = 0; i < 5; i++) {
		char m = (char)('0' + i);
		cr_assert_eq(sendto(c, &m, 1, 0, (struct sockaddr *)&sa, sizeof(sa)), 1);
	}
	/* Two buffers: two datagrams, then the request ends with ENOBUFS. */
	char got[8];
	int n = 0;
	unsigned bids[8];
	for (;;) {
		struct io_uring_cqe cqe = one(&r);
		if (cqe.res == -ENOBUFS) {
			cr_assert_not(cqe.flags & IORING_CQE_F_MORE);
			break;
		}
		cr_assert_gt(cqe.res, 0);
		struct rw_udp_dgram d;
		unsigned bid = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
		cr_assert_eq(rw_udp_parse(&rx, rw_bufring_addr(&b, bid), b.size, cqe.res, &d), 0);
		bids[n] = bid;
		got[n++] = (char)d.data[0];
		cr_assert_leq(n, 2);
	}
	cr_assert_eq(n, 2);
	for (int i = 0; i < n; i++)
		rw_bufring_recycle(&b, bids[i]);
	rw_bufring_publish(&b);
	arm(&r, &rx, s, 1);
	while (n < 5) {
		struct io_uring_cqe cqe = one(&r);
		if (cqe.res == -ENOBUFS) {
			arm(&r, &rx, s, 1);
			continue;
		}
		struct rw_udp_dgram d;
		unsigned bid = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
		cr_assert_eq(rw_udp_parse(&rx, rw_bufring_addr(&b, bid), b.size, cqe.res, &d), 0);
		got[n++] = (char)d.data[0];
		rw_bufring_recycle(&b, bid);
		rw_bufring_publish(&b);
	}
	cr_assert_eq(memcmp(got, "01234", 5), 0, "in order, none lost: %.5s", got);
	close(s);
	close(c);
	rw_bufring_exit(&b, &r);
	rw_ring_exit(&r);
}

Test(udp, batched_sendmsg)
{
	struct rw_ring r;
	cr_assert_eq(rwt_ring_init(&r, 32, 0), 0);
	struct sockaddr_in sa, ca;
	int s = udp_bound(&sa), c = udp_bound(&ca);
	struct { struct rw_udp_tx tx; uint8_t buf[64]; } out[8];
	for (int i = 0; i < 8; i++) {
		out[i].tx.data = out[i].buf;
		out[i].tx.cap = sizeof(out[i].buf);
		out[i].tx.len = (uint32_t)(i + 1);
		memset(out[i].buf, 'A' + i, sizeof(out[i].buf));
		int err = 0;
		struct io_uring_sqe *sqe = rw_ring_sqe(&r, &err);
		rw_udp_prep_send(sqe, s, &out[i].tx, (struct sockaddr *)&ca, sizeof(ca));
		io_uring_sqe_set_data64(sqe, 100 + (unsigned)i);
	}
	cr_assert_eq(rw_ring_sq_ready(&r), 8u, "eight SQEs wait for one submit");
	int done = 0;
	for (int i = 0; i < 8; i++) {
		struct io_uring_cqe cqe = one(&r);
		cr_assert_eq(cqe.res, (int)(cqe.user_data - 100 + 1));
		done++;
	}
	cr_assert_eq(done, 8);
	for (int i = 0; i < 8; i++) {
		uint8_t buf[64];
		struct pollfd p = {.fd = c, .events = POLLIN};
		cr_assert_eq(poll(&p, 1, 2000), 1);
		ssize_t n = recv(c, buf, sizeof(buf), 0);
		cr_assert_eq(n, i + 1, "datagram %d keeps its size and order", i);
		cr_assert_eq(buf[0], 'A' + i);
	}
	close(s);
	close(c);
	rw_ring_exit(&r);
}
