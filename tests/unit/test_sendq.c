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
	static struct rw_loop l;
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
	static struct rw_loop l;
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
	static struct rw_loop l;
	static struct rw_conn c;
	fill();
	cr_assert_eq(rw__sendq_append(&l, &c, pattern, RW_CHUNK_TINY + 1), RW_CHUNK_TINY + 1);
	cr_assert_eq(c.sq_head->cap, RW_CHUNK_SMALL);
	expect_bytes(&c, RW_CHUNK_TINY + 1);
	rw__sendq_clear(&l, &c);
	rw__pool_free_all(&l.pool);
}
