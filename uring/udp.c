/* uring/udp.c: multishot (or single-shot) recvmsg into provided buffers, and
 * sendmsg of caller-owned datagrams. See udp.h. */
#include "udp.h"

#include <errno.h>
#include <string.h>

void rw_udp_rx_init(struct rw_udp_rx *rx, bool multishot)
{
	memset(rx, 0, sizeof(*rx));
	rx->multishot = multishot;
	/* Multishot: only the lengths matter; the kernel writes the name into
	 * each selected buffer. Single-shot: the name goes to rx->name. */
	rx->tmpl.msg_name = multishot ? NULL : &rx->name;
	rx->tmpl.msg_namelen = sizeof(struct sockaddr_storage);
}

void rw_udp_prep_recv(struct io_uring_sqe *sqe, int fd, struct rw_udp_rx *rx, uint16_t bgid)
{
	if (rx->multishot) {
		io_uring_prep_recvmsg_multishot(sqe, fd, &rx->tmpl, 0);
	} else {
		rx->tmpl.msg_namelen = sizeof(rx->name);
		rx->tmpl.msg_iov = NULL;
		rx->tmpl.msg_iovlen = 0;
		io_uring_prep_recvmsg(sqe, fd, &rx->tmpl, 0);
	}
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = bgid;
}

int rw_udp_parse(struct rw_udp_rx *rx, uint8_t *buf, size_t buf_size, int res,
                 struct rw_udp_dgram *out)
{
	memset(out, 0, sizeof(*out));
	if (res < 0 || (size_t)res > buf_size)
		return -EINVAL;
	if (!rx->multishot) {
		out->addr = (const struct sockaddr *)&rx->name;
		out->addrlen = rx->tmpl.msg_namelen;
		out->data = buf;
		out->len = (size_t)res;
		out->truncated = (rx->tmpl.msg_flags & MSG_TRUNC) != 0;
		return 0;
	}
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, res, &rx->tmpl);
	if (!o)
		return -EINVAL;
	out->addr = io_uring_recvmsg_name(o);
	/* namelen is the sender's full address length, which may exceed what
	 * was reserved; only the reserved part is in the buffer. */
	out->addrlen = o->namelen < rx->tmpl.msg_namelen ? o->namelen : rx->tmpl.msg_namelen;
	out->data = io_uring_recvmsg_payload(o, &rx->tmpl);
	out->len = io_uring_recvmsg_payload_length(o, res, &rx->tmpl);
	/* payloadlen is the datagram's real size; the buffer holds less when
	 * MSG_TRUNC is set. */
	out->truncated = (o->flags & MSG_TRUNC) != 0;
	return 0;
}

void rw_udp_prep_send(struct io_uring_sqe *sqe, int fd, struct rw_udp_tx *tx,
                      const struct sockaddr *to, socklen_t tolen)
{
	if (tolen > sizeof(tx->addr))
		tolen = sizeof(tx->addr);
	memcpy(&tx->addr, to, tolen);
	tx->iov.iov_base = tx->data;
	tx->iov.iov_len = tx->len;
	memset(&tx->msg, 0, sizeof(tx->msg));
	tx->msg.msg_name = &tx->addr;
	tx->msg.msg_namelen = tolen;
	tx->msg.msg_iov = &tx->iov;
	tx->msg.msg_iovlen = 1;
	io_uring_prep_sendmsg(sqe, fd, &tx->msg, 0);
}
