/* uring/emu_ops.c: one attempt of one emulated request with a non-blocking
 * syscall, and the CQEs the kernel would post for its outcome. See emu.h. */
#include "emu_priv.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static enum emu_step failed(struct rw_emu *e, struct emu_op *op, int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK)
		return EMU_AGAIN;
	rw__emu_post(e, op->user_data, -err, 0);
	return EMU_DONE;
}

static enum emu_step try_accept(struct rw_emu *e, struct emu_op *op)
{
	for (;;) {
		/* Flags as asked (the kernel's accepted sockets are blocking too);
		 * every emulated receive and send passes MSG_DONTWAIT instead. */
		int fd = accept4(op->fd, NULL, NULL, (int)op->msg_flags & (SOCK_CLOEXEC | SOCK_NONBLOCK));
		if (fd >= 0) {
			rw__emu_post(e, op->user_data, fd, op->multishot ? IORING_CQE_F_MORE : 0);
			return op->multishot ? EMU_MORE : EMU_DONE;
		}
		/* A connection reset while queued is skipped, as the kernel does. */
		if (errno != EINTR && errno != ECONNABORTED)
			return failed(e, op, errno);
	}
}

/* The next provided buffer of the request's group, as the kernel picks it:
 * bufs[head & mask] while head != tail. Returns false (and posts -ENOBUFS,
 * which ends the request) when the ring is dry. */
static bool pick_buffer(struct rw_emu *e, struct emu_op *op, struct emu_bufgroup **gout,
                        void **buf, size_t *len, uint16_t *bid)
{
	struct emu_bufgroup *g = rw__emu_group(e, op->bgid);
	uint16_t tail = g ? __atomic_load_n(&g->br->tail, __ATOMIC_ACQUIRE) : 0;
	if (!g || g->head == tail) {
		rw__emu_post(e, op->user_data, -ENOBUFS, 0);
		return false;
	}
	const struct io_uring_buf *b = &g->br->bufs[g->head & g->mask];
	*gout = g;
	*buf = (void *)(uintptr_t)b->addr;
	/* recv's len caps the buffer; recvmsg's len is not a length. */
	bool cap = op->opcode == IORING_OP_RECV && op->len && op->len < b->len;
	*len = cap ? op->len : b->len;
	*bid = b->bid;
	return true;
}

static uint32_t buffer_flags(uint16_t bid)
{
	return IORING_CQE_F_BUFFER | ((uint32_t)bid << IORING_CQE_BUFFER_SHIFT);
}

static enum emu_step try_recv(struct rw_emu *e, struct emu_op *op)
{
	void *buf = (void *)(uintptr_t)op->addr;
	size_t len = op->len;
	uint16_t bid = 0;
	struct emu_bufgroup *g = NULL;
	if (op->bufsel && !pick_buffer(e, op, &g, &buf, &len, &bid))
		return EMU_DONE;
	ssize_t n;
	do
		n = recv(op->fd, buf, len, (int)op->msg_flags | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return failed(e, op, errno);
	if (n == 0) { /* EOF ends the request and takes no buffer */
		rw__emu_post(e, op->user_data, 0, 0);
		return EMU_DONE;
	}
	uint32_t flags = 0;
	if (g) {
		g->head++;
		flags = buffer_flags(bid);
	}
	if (!op->multishot) {
		rw__emu_post(e, op->user_data, (int)n, flags);
		return EMU_DONE;
	}
	rw__emu_post(e, op->user_data, (int)n, flags | IORING_CQE_F_MORE);
	/* A short read emptied the socket: trying again now would only cost an
	 * EAGAIN; level-triggered epoll reports whatever comes next (EOF too). */
	return (size_t)n < len ? EMU_DRAINED : EMU_MORE;
}

/* Multishot recvmsg lays each buffer out as io_uring_recvmsg_out | name |
 * control | payload, with the lengths the request's msghdr reserves. */
static enum emu_step try_recvmsg(struct rw_emu *e, struct emu_op *op)
{
	struct msghdr *t = (struct msghdr *)(uintptr_t)op->addr;
	void *buf = NULL;
	size_t len = 0;
	uint16_t bid = 0;
	struct emu_bufgroup *g = NULL;
	if (!op->bufsel) {
		ssize_t n;
		do
			n = recvmsg(op->fd, t, (int)op->msg_flags | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return failed(e, op, errno);
		rw__emu_post(e, op->user_data, (int)n, 0);
		return EMU_DONE;
	}
	if (!pick_buffer(e, op, &g, &buf, &len, &bid))
		return EMU_DONE;
	struct msghdr m;
	struct iovec iov;
	memset(&m, 0, sizeof(m));
	size_t hdr = 0;
	struct io_uring_recvmsg_out *o = buf;
	if (op->multishot) {
		hdr = sizeof(*o) + t->msg_namelen + t->msg_controllen;
		if (len < hdr) {
			rw__emu_post(e, op->user_data, -EFAULT, 0);
			return EMU_DONE;
		}
		m.msg_name = t->msg_namelen ? (void *)(o + 1) : NULL;
		m.msg_namelen = t->msg_namelen;
		m.msg_control = t->msg_controllen ? (uint8_t *)(o + 1) + t->msg_namelen : NULL;
		m.msg_controllen = t->msg_controllen;
	} else {
		m = *t;
	}
	iov.iov_base = (uint8_t *)buf + hdr;
	iov.iov_len = len - hdr;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	ssize_t n;
	do
		n = recvmsg(op->fd, &m, (int)op->msg_flags | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return failed(e, op, errno);
	g->head++;
	if (!op->multishot) {
		t->msg_namelen = m.msg_namelen;
		t->msg_controllen = m.msg_controllen;
		t->msg_flags = m.msg_flags;
		rw__emu_post(e, op->user_data, (int)n, buffer_flags(bid));
		return EMU_DONE;
	}
	o->namelen = m.msg_namelen;
	o->controllen = (uint32_t)m.msg_controllen;
	o->payloadlen = (uint32_t)n;
	o->flags = (uint32_t)m.msg_flags;
	rw__emu_post(e, op->user_data, (int)(hdr + (size_t)n), buffer_flags(bid) | IORING_CQE_F_MORE);
	return EMU_MORE;
}

/* A send posts what the socket took, partial or not, as the kernel's send
 * without MSG_WAITALL does; a zero-copy one then posts its notification. */
static enum emu_step try_send(struct rw_emu *e, struct emu_op *op)
{
	int flags = (int)op->msg_flags | MSG_DONTWAIT | MSG_NOSIGNAL;
	bool vec = op->opcode == IORING_OP_SENDMSG || op->opcode == IORING_OP_SENDMSG_ZC;
	ssize_t n;
	do
		n = vec ? sendmsg(op->fd, (const struct msghdr *)(uintptr_t)op->addr, flags)
		        : send(op->fd, (const void *)(uintptr_t)op->addr, op->len, flags);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return EMU_AGAIN;
	bool zc = op->opcode == IORING_OP_SEND_ZC || op->opcode == IORING_OP_SENDMSG_ZC;
	rw__emu_post(e, op->user_data, n < 0 ? -errno : (int)n, zc ? IORING_CQE_F_MORE : 0);
	if (zc)
		rw__emu_post(e, op->user_data, 0, IORING_CQE_F_NOTIF);
	return EMU_DONE;
}

/* A read of a regular file never waits for readiness. A stream (pread says
 * ESPIPE: an eventfd, a pipe) is read once epoll reports it readable: the
 * kernel ignores the offset there, and a blocking read must not stall the
 * loop. */
static enum emu_step try_read(struct rw_emu *e, struct emu_op *op)
{
	void *buf = (void *)(uintptr_t)op->addr;
	if (!op->file && op->off != (uint64_t)-1) {
		ssize_t n;
		do
			n = pread(op->fd, buf, op->len, (off_t)op->off);
		while (n < 0 && errno == EINTR);
		if (n >= 0 || errno != ESPIPE) {
			rw__emu_post(e, op->user_data, n < 0 ? -errno : (int)n, 0);
			return EMU_DONE;
		}
		op->stream = true;
	}
	if (!op->file)
		return EMU_AGAIN; /* attached to a dup of the fd; epoll says when */
	ssize_t n;
	do
		n = read(op->fd, buf, op->len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return EMU_AGAIN;
	rw__emu_post(e, op->user_data, n < 0 ? -errno : (int)n, 0);
	return EMU_DONE;
}

enum emu_step rw__emu_try(struct rw_emu *e, struct emu_op *op)
{
	switch (op->opcode) {
	case IORING_OP_ACCEPT:
		return try_accept(e, op);
	case IORING_OP_RECV:
		return try_recv(e, op);
	case IORING_OP_RECVMSG:
		return try_recvmsg(e, op);
	case IORING_OP_SEND:
	case IORING_OP_SENDMSG:
	case IORING_OP_SEND_ZC:
	case IORING_OP_SENDMSG_ZC:
		return try_send(e, op);
	case IORING_OP_READ:
		return try_read(e, op);
	default:
		rw__emu_post(e, op->user_data, -EINVAL, 0);
		return EMU_DONE;
	}
}
