/* src/conn_io.c: a connection's data path. Receive: multishot recv on the
 * loop's provided-buffer ring, bytes framed into DataIn events, bytes that
 * cannot be delivered yet (paused, or arriving inside this connection's own
 * DataIn) kept in order in `held`. Send: one send (or sendmsg over up to 16
 * chunks) in flight per connection, SEND_ZC above the threshold, file
 * streaming through read + send, ReadyToSend once a WOULDBLOCK'd queue drains. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Past this many held bytes the receive is cancelled, so a peer cannot grow
 * memory while DataIn cannot run (TCP flow control takes over). */
#define RW_HOLD_CAP (256u * 1024u)

void rw__conn_arm_recv(struct rw_conn *c)
{
	if (c->flags & (RW_C_RECV_ARMED | RW_C_CLOSING | RW_C_PAUSED | RW_C_EOF))
		return;
	if (rw__conn_held_len(c) >= RW_HOLD_CAP)
		return;
	struct rw_loop *l = c->srv->loop;
	struct io_uring_sqe *sqe = rw__sqe(l);
	if (!sqe)
		return;
	if (l->ring.has_multishot_recv)
		io_uring_prep_recv_multishot(sqe, (int)rw__conn_slot(c), NULL, 0, 0);
	else
		io_uring_prep_recv(sqe, (int)rw__conn_slot(c), NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = l->bufring.bgid;
	io_uring_sqe_set_data64(sqe, RW_UD(c, RW_OP_RECV));
	c->inflight++;
	c->flags |= RW_C_RECV_ARMED;
}

static int hold(struct rw_conn *c, const uint8_t *data, size_t len, bool front)
{
	struct rw_conn_ext *x = rw__conn_ext(c);
	if (!x)
		return -RW_ENOMEM;
	size_t need = (size_t)x->held_len + len;
	if (need > x->held_cap) {
		size_t cap = x->held_cap ? x->held_cap : 4096;
		while (cap < need)
			cap *= 2;
		uint8_t *p = realloc(x->held, cap);
		if (!p)
			return -RW_ENOMEM;
		x->held = p;
		x->held_cap = (uint32_t)cap;
	}
	if (front) {
		memmove(x->held + len, x->held, x->held_len);
		memcpy(x->held, data, len);
	} else {
		memcpy(x->held + x->held_len, data, len);
	}
	x->held_len += (uint32_t)len;
	if (x->held_len >= RW_HOLD_CAP && (c->flags & RW_C_RECV_ARMED))
		rw__conn_cancel(c, RW_UD(c, RW_OP_RECV));
	return 0;
}

static int emit_data_in(void *ctx, const uint8_t *data, size_t len, bool eol)
{
	struct rw_conn *c = ctx;
	if (c->flags & RW_C_CLOSING)
		return 1;
	struct rw_tcpserver *s = c->srv;
	if (s->ev.data_in && !s->freeing) {
		rw_tcpserver_data_in e = {c->id, data, len, eol};
		c->flags |= RW_C_IN_DATAIN;
		s->ev.data_in(s, &e, s->user);
		c->flags &= ~RW_C_IN_DATAIN;
	}
	return (c->flags & (RW_C_PAUSED | RW_C_CLOSING | RW_C_TLS_SWITCH)) ? 1 : 0;
}

/* The framer's work: without an extension the connection is in raw mode,
 * where every buffer is one unit, delivered as it is. */
static ssize_t frame(struct rw_conn *c, const uint8_t *data, size_t len)
{
	if (c->ext)
		return rw_framer_feed(&c->ext->framer, data, len, emit_data_in, c);
	if (len)
		emit_data_in(c, data, len, true);
	return (ssize_t)len;
}

static void frame_flush(struct rw_conn *c)
{
	if (c->ext)
		rw_framer_flush(&c->ext->framer, emit_data_in, c);
}

/* Frame and deliver; whatever the framer could not deliver goes to the front
 * of `held` (bytes that arrived meanwhile are behind it). */
static void feed(struct rw_conn *c, const uint8_t *data, size_t len)
{
	/* The buffers are ours (ring, TLS plaintext, held): a layer may write. */
	ssize_t n = c->srv->input ? c->srv->input(c, (uint8_t *)data, len) : frame(c, data, len);
	if (n < 0) {
		rw__fire_error(c->srv, c->id, RW_ENOMEM, rw_strerror(RW_ENOMEM));
		rw__conn_close(c, RW_ENOMEM, rw_strerror(RW_ENOMEM), true);
		return;
	}
	if ((c->flags & RW_C_TLS_SWITCH) && !(c->flags & RW_C_CLOSING)) {
		rw__conn_tls_switch(c, data + n, len - (size_t)n);
		return;
	}
	if ((size_t)n < len && !(c->flags & RW_C_CLOSING) && hold(c, data + n, len - (size_t)n, true) < 0) {
		rw__fire_error(c->srv, c->id, RW_ENOMEM, rw_strerror(RW_ENOMEM));
		rw__conn_close(c, RW_ENOMEM, rw_strerror(RW_ENOMEM), true);
		return;
	}
	rw__conn_ext_trim(c); /* a DataIn may have gone back to raw mode */
}

void rw__conn_peer_eof(struct rw_conn *c)
{
	if (c->ext && c->ext->proxy) {
		rw__conn_proxy_eof(c);
		return;
	}
	c->flags |= RW_C_EOF;
	if (rw__conn_held_len(c) || (c->flags & RW_C_PAUSED))
		return; /* closes after ProcessData has delivered what is held */
	frame_flush(c);
	rw__conn_close(c, 0, "OK", false);
}

int rw__conn_accept_plain(struct rw_conn *c, const uint8_t *data, size_t len)
{
	if (c->flags & (RW_C_PAUSED | RW_C_IN_DATAIN) || rw__conn_held_len(c)) {
		if (hold(c, data, len, false) < 0)
			rw__conn_close(c, RW_ENOMEM, rw_strerror(RW_ENOMEM), true);
		return 0;
	}
	feed(c, data, len);
	/* Bytes held by a nested turn during that DataIn come next. */
	if (rw__conn_held_len(c) && !(c->flags & (RW_C_PAUSED | RW_C_CLOSING | RW_C_IN_DATAIN)))
		rw__conn_deliver_held(c);
	return 0;
}

void rw__conn_on_recv(struct rw_conn *c, const struct io_uring_cqe *cqe)
{
	struct rw_loop *l = c->srv->loop;
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (!more) {
		c->flags &= ~RW_C_RECV_ARMED;
		c->inflight--;
	}
	if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		c->last_active = l->now_ms;
		const uint8_t *data = rw_bufring_addr(&l->bufring, bid);
		rw_bufring_filled(&l->bufring);
		/* Held while delivered; a send of these bytes may keep it longer. */
		rw_bufring_hold(&l->bufring, bid);
		if (!(c->flags & RW_C_CLOSING)) {
			if (c->ext && c->ext->proxy)
				rw__conn_proxy_input(c, data, (size_t)cqe->res);
			else if (c->tls)
				rw__conn_tls_input(c, data, (size_t)cqe->res);
			else
				rw__conn_accept_plain(c, data, (size_t)cqe->res);
		}
		rw_bufring_unref(&l->bufring, bid);
	} else if (cqe->res == 0) {
		if (!(c->flags & RW_C_CLOSING))
			rw__conn_peer_eof(c);
	} else if (cqe->res == -ENOBUFS) {
		rw_bufring_starved(&l->bufring);
	} else if (cqe->res != -ECANCELED && cqe->res < 0) {
		if (!(c->flags & RW_C_CLOSING))
			rw__conn_close(c, rw_errno_map(cqe->res), rw_strerror(rw_errno_map(cqe->res)), true);
	}
	/* A multishot that ended (ENOBUFS, or the kernel stopped it) is re-armed;
	 * recycled buffers are published before the next submit. */
	if (!more)
		rw__conn_arm_recv(c);
	rw__conn_maybe_free(c);
}

void rw__conn_deliver_held(struct rw_conn *c)
{
	while (rw__conn_held_len(c) && !(c->flags & (RW_C_PAUSED | RW_C_CLOSING | RW_C_IN_DATAIN))) {
		struct rw_conn_ext *x = c->ext;
		uint8_t *buf = x->held;
		size_t len = x->held_len;
		x->held = NULL;
		x->held_len = x->held_cap = 0;
		feed(c, buf, len);
		free(buf);
	}
	if (c->flags & (RW_C_PAUSED | RW_C_CLOSING | RW_C_IN_DATAIN))
		return;
	rw__conn_ext_trim(c);
	if (c->flags & RW_C_EOF) {
		frame_flush(c);
		rw__conn_close(c, 0, "OK", false);
		return;
	}
	rw__conn_arm_recv(c);
}

/* ---- send path ---------------------------------------------------------- */

static void submit_file_read(struct rw_conn *c, struct rw_chunk *ch)
{
	struct io_uring_sqe *sqe = rw__sqe(c->srv->loop);
	if (!sqe)
		return;
	unsigned n = ch->cap;
	if ((int64_t)n > ch->file_left)
		n = (unsigned)ch->file_left;
	io_uring_prep_read(sqe, ch->fd, ch->data, n, ch->file_off);
	io_uring_sqe_set_data64(sqe, RW_UD(c, RW_OP_READ));
	ch->read_inflight = true;
	c->inflight++;
}

static void queue_drained(struct rw_conn *c)
{
	if ((c->flags & RW_C_CLOSING) && !(c->flags & RW_C_CLOSE_SENT)) {
		rw__conn_start_close(c);
		return;
	}
	if ((c->flags & RW_C_WOULDBLOCK) && !(c->flags & RW_C_CLOSING)) {
		c->flags &= ~RW_C_WOULDBLOCK;
		rw__fire_ready(c);
	}
}

/* Pop finished FILE chunks; returns the head, NULL when the queue is empty,
 * or (void *)1 when a file read is in flight or was just started. */
static struct rw_chunk *ready_head(struct rw_conn *c)
{
	struct rw_loop *l = c->srv->loop;
	while (c->sq_head && c->sq_head->kind == RW_CHUNK_FILE) {
		struct rw_chunk *ch = c->sq_head;
		if (ch->off < ch->len)
			return ch;
		if (ch->read_inflight)
			return (struct rw_chunk *)1;
		if (ch->file_left > 0) {
			submit_file_read(c, ch);
			return (struct rw_chunk *)1;
		}
		c->sq_head = ch->next;
		if (!c->sq_head)
			c->sq_tail = NULL;
		c->files_pending--;
		rw__chunk_release(l, ch);
	}
	return c->sq_head;
}

void rw__conn_flush(struct rw_conn *c)
{
	if (c->flags & (RW_C_SEND_INFLIGHT | RW_C_CLOSE_SENT))
		return;
	struct rw_chunk *head = ready_head(c);
	if (head == (struct rw_chunk *)1)
		return;
	if (!head) {
		queue_drained(c);
		return;
	}
	struct rw_loop *l = c->srv->loop;
	struct rw_send_op *op = rw__send_op_get(l);
	struct io_uring_sqe *sqe = op ? rw__sqe(l) : NULL;
	if (!sqe) {
		if (op)
			rw__send_op_put(l, op);
		rw__flush_later(l, c); /* try again next turn */
		return;
	}
	int niov = 0;
	size_t total = 0;
	bool has_file = false;
	for (struct rw_chunk *ch = head; ch && niov < RW_SEND_IOV; ch = ch->next) {
		if (ch->kind == RW_CHUNK_FILE && ch != head)
			break;
		has_file |= ch->kind == RW_CHUNK_FILE;
		op->iov[niov].iov_base = ch->data + ch->off;
		op->iov[niov].iov_len = ch->len - ch->off;
		total += ch->len - ch->off;
		niov++;
		if (ch->kind == RW_CHUNK_FILE)
			break;
	}
	op->conn = c;
	uint32_t zc_min = c->srv->set.zero_copy_threshold;
	op->zc = zc_min && total >= zc_min && !has_file && l->ring.has_send_zc;
	op->nzc = 0;
	if (op->zc) {
		struct rw_chunk *ch = head;
		for (int i = 0; i < niov; i++, ch = ch->next) {
			ch->zc_refs++;
			op->zc_chunks[op->nzc++] = ch;
		}
	}
	if (niov == 1 && op->zc)
		io_uring_prep_send_zc(sqe, (int)rw__conn_slot(c), op->iov[0].iov_base, total, MSG_NOSIGNAL, 0);
	else if (niov == 1)
		io_uring_prep_send(sqe, (int)rw__conn_slot(c), op->iov[0].iov_base, total, MSG_NOSIGNAL);
	else {
		op->msg.msg_iov = op->iov;
		op->msg.msg_iovlen = (size_t)niov;
		if (op->zc)
			io_uring_prep_sendmsg_zc(sqe, (int)rw__conn_slot(c), &op->msg, MSG_NOSIGNAL);
		else
			io_uring_prep_sendmsg(sqe, (int)rw__conn_slot(c), &op->msg, MSG_NOSIGNAL);
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, RW_UD(op, RW_OP_SEND));
	c->inflight++;
	c->flags |= RW_C_SEND_INFLIGHT;
	c->send_op = op;
}

/* Advance the queue by `n` sent bytes. A chunk that a zero-copy send still
 * references is only marked consumed; its last notification releases it. */
static void consume(struct rw_conn *c, size_t n)
{
	struct rw_loop *l = c->srv->loop;
	while (n && c->sq_head) {
		struct rw_chunk *ch = c->sq_head;
		size_t take = ch->len - ch->off;
		if (take > n)
			take = n;
		ch->off += (uint32_t)take;
		n -= take;
		if (ch->kind == RW_CHUNK_COPY || ch->kind == RW_CHUNK_RING || ch->kind == RW_CHUNK_HEAP)
			c->sq_bytes -= (uint32_t)take;
		if (ch->off < ch->len)
			break;
		if (ch->kind == RW_CHUNK_FILE) {
			ch->off = ch->len = 0; /* buffer free for the next read */
			break;
		}
		c->sq_head = ch->next;
		if (!c->sq_head)
			c->sq_tail = NULL;
		if (ch->zc_refs)
			ch->consumed = true;
		else
			rw__chunk_release(l, ch);
	}
}

static void release_op(struct rw_loop *l, struct rw_send_op *op)
{
	for (int i = 0; i < op->nzc; i++) {
		struct rw_chunk *ch = op->zc_chunks[i];
		if (--ch->zc_refs == 0 && ch->consumed)
			rw__chunk_release(l, ch);
	}
	op->nzc = 0;
	rw__send_op_put(l, op);
}

void rw__conn_on_send(struct rw_send_op *op, const struct io_uring_cqe *cqe)
{
	struct rw_conn *c = op->conn;
	struct rw_loop *l = c->srv->loop;
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		release_op(l, op);
		c->inflight--;
		rw__conn_maybe_free(c);
		return;
	}
	c->inflight--;
	c->flags &= ~RW_C_SEND_INFLIGHT;
	c->send_op = NULL;
	bool notif_follows = op->zc && (cqe->flags & IORING_CQE_F_MORE);
	if (cqe->res > 0) {
		consume(c, (size_t)cqe->res);
		c->last_active = l->now_ms;
	}
	if (notif_follows)
		c->inflight++;
	else
		release_op(l, op);
	if (cqe->res < 0) {
		if (!(c->flags & RW_C_CLOSE_SENT) && cqe->res != -ECANCELED)
			rw__conn_close(c, rw_errno_map(cqe->res), rw_strerror(rw_errno_map(cqe->res)), true);
		rw__conn_maybe_free(c);
		return;
	}
	rw__conn_flush(c);
	rw__conn_maybe_free(c);
}

void rw__conn_on_read(struct rw_conn *c, const struct io_uring_cqe *cqe)
{
	c->inflight--;
	struct rw_chunk *ch = c->sq_head;
	if (ch && ch->kind == RW_CHUNK_FILE && ch->read_inflight) {
		ch->read_inflight = false;
		if (cqe->res > 0) {
			ch->off = 0;
			ch->len = (uint32_t)cqe->res;
			ch->file_off += (uint64_t)cqe->res;
			ch->file_left -= cqe->res;
			if (c->tls)
				rw__conn_tls_file_block(c, ch);
		} else {
			if (cqe->res < 0)
				rw__fire_error(c->srv, c->id, rw_errno_map(cqe->res),
				               rw_strerror(rw_errno_map(cqe->res)));
			ch->file_left = 0; /* the file shrank or failed: stop streaming it */
		}
	}
	if (!(c->flags & RW_C_CLOSE_SENT))
		rw__conn_flush(c);
	rw__conn_maybe_free(c);
}
