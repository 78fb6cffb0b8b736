/* src/sendq.c: the per-connection send queue and the pools behind it.
 *
 * A queue is a list of chunks: COPY chunks hold bytes copied in by send (two
 * size classes from a loop-wide free list, so a steady echo allocates
 * nothing), OWNED chunks point at caller memory released by callback, FILE
 * chunks stream a file through one read buffer, RING chunks send bytes from
 * the receive buffer they arrived in (an echo or a forward of what DataIn is
 * delivering: no copy). Only COPY and RING bytes count against
 * SendQueueLimit. An idle connection holds no chunk. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL_KEEP_TINY 4096u
#define POOL_KEEP_SMALL 4096u
#define POOL_KEEP_LARGE 256u
#define OPS_KEEP 4096u
/* Bytes still inside a receive buffer are queued by reference from this size
 * on (below it a copy costs less than holding a whole receive buffer), while
 * queued sends hold fewer than half of the buffers, so receiving never starves. */
#define RING_SEND_MIN 1024u /* also for an adopted heap buffer */

/* A COPY chunk for `want` bytes: TINY only when `tiny_ok` (an empty queue). */
static struct rw_chunk *chunk_new(struct rw_chunk_pool *pool, uint32_t want, bool tiny_ok)
{
	uint32_t cap = tiny_ok && want <= RW_CHUNK_TINY ? RW_CHUNK_TINY
	             : want <= RW_CHUNK_SMALL          ? RW_CHUNK_SMALL
	                                               : RW_CHUNK_LARGE;
	struct rw_chunk **head = cap == RW_CHUNK_TINY    ? &pool->tiny_free
	                       : cap == RW_CHUNK_SMALL   ? &pool->small_free
	                                                 : &pool->large_free;
	unsigned *n = cap == RW_CHUNK_TINY ? &pool->tiny_n : cap == RW_CHUNK_SMALL ? &pool->small_n
	                                                                           : &pool->large_n;
	struct rw_chunk *ch = *head;
	if (ch) {
		*head = ch->next;
		(*n)--;
	} else {
		ch = malloc(sizeof(*ch) + cap);
		if (!ch)
			return NULL;
		ch->cap = cap;
	}
	ch->next = NULL;
	ch->data = ch->inline_data;
	ch->off = ch->len = 0;
	ch->kind = RW_CHUNK_COPY;
	ch->release = NULL;
	ch->fd = -1;
	ch->zc_refs = 0;
	ch->consumed = false;
	return ch;
}

/* A pool keeps its share (see rw__loop_create) of what one ring would. */
static void chunk_to_pool(struct rw_chunk_pool *pool, unsigned share, struct rw_chunk *ch)
{
	if (ch->cap == RW_CHUNK_TINY && pool->tiny_n < POOL_KEEP_TINY / share) {
		ch->next = pool->tiny_free;
		pool->tiny_free = ch;
		pool->tiny_n++;
	} else if (ch->cap == RW_CHUNK_SMALL && pool->small_n < POOL_KEEP_SMALL / share) {
		ch->next = pool->small_free;
		pool->small_free = ch;
		pool->small_n++;
	} else if (ch->cap == RW_CHUNK_LARGE && pool->large_n < POOL_KEEP_LARGE / share) {
		ch->next = pool->large_free;
		pool->large_free = ch;
		pool->large_n++;
	} else {
		free(ch);
	}
}

void rw__chunk_release(struct rw_loop *l, struct rw_chunk *ch)
{
	switch (ch->kind) {
	case RW_CHUNK_COPY:
		chunk_to_pool(&l->pool, l->share, ch);
		break;
	case RW_CHUNK_HEAP:
		free(ch->arg);
		ch->kind = RW_CHUNK_COPY;
		ch->data = ch->inline_data;
		chunk_to_pool(&l->pool, l->share, ch);
		break;
	case RW_CHUNK_RING:
		l->bufring.lent--;
		rw_bufring_unref(&l->bufring, ch->bid);
		ch->kind = RW_CHUNK_COPY;
		ch->data = ch->inline_data;
		chunk_to_pool(&l->pool, l->share, ch);
		break;
	case RW_CHUNK_OWNED:
		if (ch->release)
			ch->release(ch->data, ch->arg);
		free(ch);
		break;
	case RW_CHUNK_FILE:
		if (ch->fd >= 0)
			close(ch->fd);
		free(ch->data);
		free(ch);
		break;
	}
}

void rw__pool_free_all(struct rw_chunk_pool *pool)
{
	struct rw_chunk *lists[3] = {pool->tiny_free, pool->small_free, pool->large_free};
	for (int i = 0; i < 3; i++) {
		while (lists[i]) {
			struct rw_chunk *n = lists[i]->next;
			free(lists[i]);
			lists[i] = n;
		}
	}
	memset(pool, 0, sizeof(*pool));
}

static void enqueue(struct rw_conn *c, struct rw_chunk *ch)
{
	if (c->sq_tail)
		c->sq_tail->next = ch;
	else
		c->sq_head = ch;
	c->sq_tail = ch;
}

/* `data` lies in a receive buffer that is being delivered (or already sent
 * from): queue a reference to it, no copy. The buffer cannot change until the
 * reference drops (the kernel refills only what is back in the ring). */
static bool append_ring(struct rw_loop *l, struct rw_conn *c, const uint8_t *data, uint32_t len)
{
	struct rw_bufring *b = &l->bufring;
	if (len < RING_SEND_MIN || b->lent >= b->count / 2)
		return false;
	int bid = rw_bufring_find(b, data, len);
	if (bid < 0 || !b->refs[bid])
		return false;
	struct rw_chunk *ch = chunk_new(&l->pool, 0, true);
	if (!ch)
		return false;
	if (!rw_bufring_ref(b, (unsigned)bid)) {
		chunk_to_pool(&l->pool, l->share, ch);
		return false;
	}
	b->lent++;
	ch->kind = RW_CHUNK_RING;
	ch->bid = (uint16_t)bid;
	ch->data = (uint8_t *)data;
	ch->len = len;
	enqueue(c, ch);
	c->sq_bytes += len;
	return true;
}

struct rw_lend rw__lend_begin(struct rw_loop *l, uint8_t *base, size_t len)
{
	struct rw_lend prev = l->lend;
	l->lend = (struct rw_lend){base, len, false};
	return prev;
}

bool rw__lend_end(struct rw_loop *l, struct rw_lend prev)
{
	bool taken = l->lend.taken;
	l->lend = prev;
	return taken;
}

/* `data` lies in the heap buffer on offer (rw__lend_begin): the first such
 * send adopts the buffer, later ones copy. */
static bool append_heap(struct rw_loop *l, struct rw_conn *c, const uint8_t *data, uint32_t len)
{
	struct rw_lend *o = &l->lend;
	if (len < RING_SEND_MIN || !o->base || o->taken || data < o->base || data + len > o->base + o->len)
		return false;
	struct rw_chunk *ch = chunk_new(&l->pool, 0, true);
	if (!ch)
		return false;
	o->taken = true;
	ch->kind = RW_CHUNK_HEAP;
	ch->arg = o->base;
	ch->data = (uint8_t *)data;
	ch->len = len;
	enqueue(c, ch);
	c->sq_bytes += len;
	return true;
}

uint32_t rw__sendq_append(struct rw_loop *l, struct rw_conn *c, const uint8_t *data, uint32_t len)
{
	if (append_ring(l, c, data, len) || append_heap(l, c, data, len))
		return len;
	uint32_t done = 0;
	struct rw_chunk *t = c->sq_tail;
	/* Top up the tail chunk first: small messages share one chunk. A TINY
	 * tail is left as it is (it is usually in flight already): what follows
	 * goes into a SMALL chunk, which the next send then takes whole. */
	if (t && t->kind == RW_CHUNK_COPY && t->len < t->cap && t->cap != RW_CHUNK_TINY) {
		uint32_t n = t->cap - t->len;
		if (n > len)
			n = len;
		memcpy(t->data + t->len, data, n);
		t->len += n;
		done = n;
	}
	while (done < len) {
		struct rw_chunk *ch = chunk_new(&l->pool, len - done, !c->sq_head);
		if (!ch)
			break;
		uint32_t n = ch->cap;
		if (n > len - done)
			n = len - done;
		memcpy(ch->data, data + done, n);
		ch->len = n;
		enqueue(c, ch);
		done += n;
	}
	c->sq_bytes += done;
	return done;
}

int rw__sendq_append_owned(struct rw_conn *c, const void *data, size_t len,
                           void (*release)(const void *, void *), void *arg)
{
	struct rw_chunk *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -RW_ENOMEM;
	ch->kind = RW_CHUNK_OWNED;
	ch->data = (uint8_t *)data;
	ch->len = (uint32_t)len;
	ch->cap = (uint32_t)len;
	ch->release = release;
	ch->arg = arg;
	ch->fd = -1;
	enqueue(c, ch);
	return 0;
}

int rw__sendq_append_file(struct rw_conn *c, int fd, int64_t size)
{
	struct rw_chunk *ch = calloc(1, sizeof(*ch));
	uint8_t *buf = malloc(RW_FILE_BUF);
	if (!ch || !buf) {
		free(ch);
		free(buf);
		return -RW_ENOMEM;
	}
	ch->kind = RW_CHUNK_FILE;
	ch->data = buf;
	ch->cap = RW_FILE_BUF;
	ch->fd = fd;
	ch->file_left = size;
	enqueue(c, ch);
	return 0;
}

void rw__sendq_clear(struct rw_loop *l, struct rw_conn *c)
{
	struct rw_chunk *ch = c->sq_head;
	while (ch) {
		struct rw_chunk *n = ch->next;
		rw__chunk_release(l, ch);
		ch = n;
	}
	c->sq_head = c->sq_tail = NULL;
	c->sq_bytes = 0;
}

struct rw_send_op *rw__send_op_get(struct rw_loop *l)
{
	struct rw_send_op *op = l->free_ops;
	if (op) {
		l->free_ops = op->next_free;
		l->free_op_count--;
	} else {
		op = aligned_alloc(16, sizeof(*op));
		if (!op)
			return NULL;
	}
	memset(op, 0, offsetof(struct rw_send_op, iov));
	return op;
}

void rw__send_op_put(struct rw_loop *l, struct rw_send_op *op)
{
	if (l->free_op_count >= OPS_KEEP / l->share) {
		free(op);
		return;
	}
	op->next_free = l->free_ops;
	l->free_ops = op;
	l->free_op_count++;
}
