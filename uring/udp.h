/* uring/udp.h: datagram I/O on one UDP socket.
 *
 * Receive: one recvmsg request with buffer selection from a provided-buffer
 * ring. Multishot (kernel 6.0+) keeps posting one CQE per datagram, each
 * buffer laid out by the kernel as io_uring_recvmsg_out | name | control |
 * payload; when a CQE comes without IORING_CQE_F_MORE (for instance -ENOBUFS
 * when the ring ran dry) the request has ended and the caller re-arms it. The
 * single-shot fallback (older kernels) puts the payload at the buffer's start
 * and the name into rx->name, so only one may be in flight per rw_udp_rx.
 * rw_udp_parse hides the difference.
 *
 * Send: one sendmsg SQE per datagram from a caller-owned rw_udp_tx that must
 * stay untouched until its CQE. The loop submits all SQEs of a turn with one
 * io_uring_enter, so a flight of datagrams costs one syscall.
 *
 * This layer knows fds, SQEs and CQEs only (no DTLS, no component).
 */
#ifndef RW_URING_UDP_H
#define RW_URING_UDP_H

#include <liburing.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct rw_udp_rx {
	struct msghdr tmpl;              /* the kernel reads namelen/controllen from it */
	struct sockaddr_storage name;    /* single-shot only: the sender */
	bool multishot;
};

struct rw_udp_dgram {
	const struct sockaddr *addr;
	socklen_t addrlen;
	uint8_t *data;
	size_t len;
	bool truncated; /* the payload did not fit the buffer (MSG_TRUNC): drop it */
};

/* Set up rx for a socket; multishot when the ring supports it. */
void rw_udp_rx_init(struct rw_udp_rx *rx, bool multishot);

/* Prepare the receive on `sqe` (fd is an ordinary descriptor) from buffer group
 * bgid. The caller sets the SQE's user_data. */
void rw_udp_prep_recv(struct io_uring_sqe *sqe, int fd, struct rw_udp_rx *rx, uint16_t bgid);

/* Parse the buffer a receive CQE selected (buf of buf_size bytes, res = the
 * CQE's result > 0). Returns 0, or -EINVAL when the layout does not fit. */
int rw_udp_parse(struct rw_udp_rx *rx, uint8_t *buf, size_t buf_size, int res,
                 struct rw_udp_dgram *out);

/* One datagram to send. `data` points at cap bytes (often inline storage that
 * follows the struct); the kernel reads msg, iov, addr and data until the CQE. */
struct rw_udp_tx {
	struct msghdr msg;
	struct iovec iov;
	struct sockaddr_storage addr;
	uint8_t *data;
	uint32_t len, cap;
};

/* Prepare a sendmsg of tx->data[0, tx->len) to `to`. */
void rw_udp_prep_send(struct io_uring_sqe *sqe, int fd, struct rw_udp_tx *tx,
                      const struct sockaddr *to, socklen_t tolen);

#endif
