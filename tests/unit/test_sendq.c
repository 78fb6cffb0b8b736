/* tests/unit/test_sendq.c: the send queue's chunk classes (src/sendq.c).
 * A small message on an empty queue takes a TINY chunk (what a ping-pong echo
 * holds per send in flight); bytes appended to a queue that already holds
 * some go into SMALL or LARGE chunks, never TINY ones, and a TINY tail is not
 * topped up (it is usually in flight), so a backlog is sent in few iovecs;
 * SMALL tails are topped up; every byte comes out in order; released chunks
 * go back to their own pool. */
#include "src/internal.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static uint8_t pattern[40000];

static void fill(void)
{
	for (size_t i = 0; i < sizeof pattern; i++)
		pattern[i] = (uint8_t)(i * 131u + 7u);
}

/* The queued bytes, concatenated, equal pattern[0, n). */
static void expect_bytes(const struct rw_conn *c, size_t n)
{
	size_t at = 0;
	for (const struct rw_chunk *ch = c->sq_head; ch; ch = ch->next) {
		if (ch->kind == RW_CHUNK_COPY)
			cr_assert_leq(ch->len, ch->cap);
		cr_assert_leq(at + ch->len, n);
		cr_assert(!memcmp(ch->data + ch->off, pattern + at, ch->len), "bytes at %zu differ", at);
		at += ch->len;
	}
	cr_assert_eq(at, n);
	cr_assert_eq(c->sq_bytes, n);
}

Test(sendq, small_message_on_empty_queue_is_tiny)
{
	static struct rw_loop l = {.share = 1};
	static struct rw_conn c;
	fill();
	cr_assert_eq(rw__sendq_append(&l, &c, pattern, 64), 64);
	cr_assert_not_null(c.sq_head);
	cr_assert_eq(c.sq_head->cap, RW_CHUNK_TINY);
	cr_assert_eq(c.sq_head, c.sq_tail);
	expect_bytes(&c, 64);
	rw__sendq_clear(&l, &c);
	cr_assert_eq(l.pool.tiny_n, 1);
	/* the pooled chunk is reused for the next small message */
	cr_assert_eq(rw__sendq_append(&l, &c, pattern, 200), 200);
	cr_assert_eq(l.pool.tiny_n, 0);
	cr_assert_eq(c.sq_head->cap, RW_CHUNK_TINY);
	rw__sendq_clear(&l, &c);
	rw__pool_free_all(&l.pool);
}

Test(sendq, backlog_grows_in_small_and_large_chunks)
{
	static struct rw_loop l = {.share = 1};
	static struct rw_conn c;
	fill();
	size_t n = 0;
	cr_assert_eq(rw__sendq_append(&l, &c, pattern, 100), 100); /* TINY */
	n += 100;
	cr_assert_eq(rw__sendq_append(&l, &c, pattern + n, 100), 100); /* not into the TINY tail */
	n += 100;
	const struct rw_chunk *first = c.sq_head;
	cr_assert_eq(first->cap, RW_CHUNK_TINY);
	cr_assert_eq(first->len, 100, "a TINY tail is not topped up");
	cr_assert_eq(first->next->cap, RW_CHUNK_SMALL, "a non-empty queue takes no TINY chunk");
	cr_assert_eq(first->next->len, 100);
	cr_assert_eq(rw__sendq_append(&l, &c, pattern + n, 300), 300); /* tops up the SMALL tail */
	n += 300;
	cr_assert_eq(first->next->len, 400);
	cr_assert_null(first->next->next);
	for (int i = 0; i < 30; i++) { /* many small messages share SMALL chunks */
		cr_assert_eq(rw__sendq_append(&l, &c, pattern + n, 64), 64);
		n += 64;
	}
	cr_assert_eq(rw__sendq_append(&l, &c, pattern + n, 20000), 20000); /* LARGE */
	n += 20000;
	unsigned tiny = 0, small = 0, large = 0;
	for (const struct rw_chunk *ch = c.sq_head; ch; ch = ch->next) {
		tiny += ch->cap == RW_CHUNK_TINY;
		small += ch->cap == RW_CHUNK_SMALL;
		large += ch->cap == RW_CHUNK_LARGE;
	}
	cr_assert_eq(tiny, 1);
	cr_assert_geq(small, 1);
	cr_assert_eq(large, 1);
	expect_bytes(&c, n);
	rw__sendq_clear(&l, &c);
	cr_assert_eq(l.pool.tiny_n, 1);
	cr_assert_eq(l.pool.small_n, small);
	cr_assert_eq(l.pool.large_n, 1);
	rw__pool_free_all(&l.pool);
	cr_assert_eq(l.pool.tiny_n + l.pool.small_n + l.pool.large_n, 0);
}

Test(sendq, larger_message_on_empty_queue_is_not_tiny)
{
	static struct rw_loop l = {.share = 1};
	static struct rw_conn c;
	fill();
	cr_assert_eq(rw__sendq_append(&l, &c, pattern, RW_CHUNK_TINY + 1), RW_CHUNK_TINY + 1);
	cr_assert_eq(c.sq_head->cap, RW_CHUNK_SMALL);
	expect_bytes(&c, RW_CHUNK_TINY + 1);
	rw__sendq_clear(&l, &c);
	rw__pool_free_all(&l.pool);
}

/* A loop whose buffer ring is plain memory (never registered): enough for
 * the send queue, which only reads the buffers and hands them back. */
static void fake_bufring(struct rw_loop *l, unsigned count, unsigned size)
{
	struct rw_bufring *b = &l->bufring;
	b->br = calloc(count, sizeof(struct io_uring_buf));
	b->base = calloc(count, size);
	b->refs = calloc(count, sizeof(*b->refs));
	b->stack = calloc(count, sizeof(*b->stack));
	b->count = count;
	b->size = size;
	cr_assert(b->br && b->base && b->refs && b->stack);
}

static void fake_bufring_free(struct rw_loop *l)
{
	free(l->bufring.br);
	free(l->bufring.base);
	free(l->bufring.refs);
	free(l->bufring.stack);
	memset(&l->bufring, 0, sizeof(l->bufring));
}

/* Bytes of a buffer being delivered are queued by reference; the buffer goes
 * back to the ring only when both the delivery and the queue are done. */
Test(sendq, delivered_buffer_is_sent_by_reference)
{
	static struct rw_loop l = {.share = 1};
	static struct rw_conn c;
	fake_bufring(&l, 8, 4096);
	uint8_t *buf = rw_bufring_addr(&l.bufring, 3);
	for (int i = 0; i < 4096; i++)
		buf[i] = (uint8_t)(i * 7);
	rw_bufring_hold(&l.bufring, 3);
	cr_assert_eq(rw__sendq_append(&l, &c, buf + 100, 3000), 3000);
	cr_assert_eq(c.sq_head->kind, RW_CHUNK_RING);
	cr_assert_eq(c.sq_head->data, buf + 100, "the bytes were copied");
	cr_assert_eq(c.sq_bytes, 3000, "RING bytes count against SendQueueLimit");
	cr_assert_eq(l.bufring.refs[3], 2);
	cr_assert_eq(l.bufring.lent, 1);
	rw_bufring_unref(&l.bufring, 3); /* the delivery ends */
	cr_assert_eq(l.bufring.stack_n, 0, "recycled while a send still points into it");
	rw__sendq_clear(&l, &c);
	cr_assert_eq(l.bufring.refs[3], 0);
	cr_assert_eq(l.bufring.lent, 0);
	cr_assert_eq(l.bufring.stack_n, 1, "not given back to the ring");
	cr_assert_eq(l.bufring.stack[0], 3);
	cr_assert_eq(l.pool.tiny_n, 1, "the chunk header goes back to the pool");
	rw__pool_free_all(&l.pool);
	fake_bufring_free(&l);
}

/* Copied instead: a buffer that is back in the ring (the kernel may refill
 * it), a small send, bytes that run past the buffer's end, and any send once
 * queued sends hold half of the buffers. */
Test(sendq, ring_reference_only_when_safe)
{
	static struct rw_loop l = {.share = 1};
	static struct rw_conn c;
	fake_bufring(&l, 4, 4096);
	struct rw_bufring *b = &l.bufring;
	cr_assert_eq(rw__sendq_append(&l, &c, rw_bufring_addr(b, 0), 2000), 2000);
	cr_assert_eq(c.sq_tail->kind, RW_CHUNK_COPY, "a buffer not held was referenced");
	rw_bufring_hold(b, 1);
	cr_assert_eq(rw__sendq_append(&l, &c, rw_bufring_addr(b, 1), 1023), 1023);
	cr_assert_eq(c.sq_tail->kind, RW_CHUNK_COPY, "a small send was referenced");
	cr_assert_eq(rw__sendq_append(&l, &c, rw_bufring_addr(b, 1) + 3000, 2000), 2000);
	cr_assert_eq(c.sq_tail->kind, RW_CHUNK_COPY, "bytes past the buffer were referenced");
	cr_assert_eq(rw__sendq_append(&l, &c, rw_bufring_addr(b, 1), 4096), 4096);
	cr_assert_eq(c.sq_tail->kind, RW_CHUNK_RING);
	rw_bufring_hold(b, 2);
	cr_assert_eq(rw__sendq_append(&l, &c, rw_bufring_addr(b, 2), 4096), 4096);
	cr_assert_eq(c.sq_tail->kind, RW_CHUNK_RING);
	cr_assert_eq(b->lent, 2);
	cr_assert_eq(rw__sendq_append(&l, &c, rw_bufring_addr(b, 2), 4096), 4096);
	cr_assert_eq(c.sq_tail->kind, RW_CHUNK_COPY, "queued sends took more than half of the buffers");
	cr_assert_eq(c.sq_bytes, 2000 + 1023 + 2000 + 3 * 4096);
	rw_bufring_unref(b, 1);
	rw_bufring_unref(b, 2);
	cr_assert_eq(b->stack_n, 0);
	rw__sendq_clear(&l, &c);
	cr_assert_eq(b->stack_n, 2);
	cr_assert_eq(b->lent, 0);
	rw__pool_free_all(&l.pool);
	fake_bufring_free(&l);
}

/* A heap buffer on offer is adopted by the first send of its bytes (freed
 * with the chunk: ASan sees a leak or a double free), later sends copy, and
 * an offer nobody took stays the caller's. */
Test(sendq, offered_heap_buffer_is_adopted_once)
{
	static struct rw_loop l = {.share = 1};
	static struct rw_conn c1, c2;
	fill();
	uint8_t *m = malloc(20000);
	memcpy(m, pattern, 20000);
	struct rw_lend prev = rw__lend_begin(&l, m, 20000);
	cr_assert_eq(rw__sendq_append(&l, &c1, m, 20000), 20000);
	cr_assert_eq(c1.sq_head->kind, RW_CHUNK_HEAP);
	cr_assert_eq(c1.sq_head->data, m);
	cr_assert_eq(rw__sendq_append(&l, &c2, m, 20000), 20000);
	cr_assert_eq(c2.sq_head->kind, RW_CHUNK_COPY, "adopted twice");
	expect_bytes(&c1, 20000);
	expect_bytes(&c2, 20000);
	cr_assert(rw__lend_end(&l, prev));
	cr_assert_null(l.lend.base, "the previous offer is not back");
	rw__sendq_clear(&l, &c1);
	rw__sendq_clear(&l, &c2);

	uint8_t *k = malloc(4096);
	prev = rw__lend_begin(&l, k, 4096);
	cr_assert_eq(rw__sendq_append(&l, &c1, pattern, 4000), 4000);
	cr_assert_eq(c1.sq_head->kind, RW_CHUNK_COPY, "bytes outside the offer were adopted");
	cr_assert_not(rw__lend_end(&l, prev));
	free(k);
	rw__sendq_clear(&l, &c1);
	rw__pool_free_all(&l.pool);
}
