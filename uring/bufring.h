/* uring/bufring.h: a provided-buffer ring (IORING_REGISTER_PBUF_RING) mapped by
 * hand, since liburing 2.3 has no io_uring_setup_buf_ring. One ring serves the
 * multishot receives of every connection of a loop: no connection owns a
 * receive buffer. Buffers handed back with rw_bufring_recycle become visible to
 * the kernel at rw_bufring_publish (once per loop turn), the most recently
 * used first. With the epoll
 * backend the same ring memory is consumed by the emulation (uring/emu.h),
 * exactly as the kernel would: only the registration differs. */
#ifndef RW_URING_BUFRING_H
#define RW_URING_BUFRING_H

#include "ring.h"

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rw_bufring {
	struct io_uring_buf_ring *br;
	uint8_t *base;        /* count * size bytes of buffers */
	size_t map_len;
	unsigned count, size; /* count is a power of two */
	uint16_t bgid;
	/* References on buffers the kernel has filled: one while a completion
	 * delivers it, one per queued send that points into it instead of a copy
	 * (rw_bufring_ref); it goes back to the ring when the last one drops. */
	uint16_t *refs;
	unsigned lent; /* references held by queued sends, all buffers together */
	/* Buffers not in the ring wait on a stack, the last one handed back on
	 * top, and rw_bufring_publish moves them to the ring from the top. */
	uint16_t *stack;
	unsigned stack_n;
	/* Adaptive (rw_bufring_adapt): only `target` buffers are in the ring at
	 * a time. The kernel takes the ring's entries in order, so it cycles
	 * through all the ring holds: the fewer, the more of them are still in
	 * the cache when they are filled again. The target doubles when the ring
	 * runs dry (ENOBUFS), up to count, and shrinks by 1/16 for each second
	 * without that, down to its minimum. */
	bool adaptive, starved, starved_turn;
	unsigned target, min_target;
	unsigned in_ring; /* published and not yet seen filled */
	/* Per buffer: published since its memory was last given back to the
	 * kernel (rw_bufring_release), so possibly resident. */
	uint8_t *dirty;
};

/* Map, fill and register. Returns 0 or -errno. */
int rw_bufring_init(struct rw_bufring *b, struct rw_ring *ring, uint16_t bgid,
                    unsigned count, unsigned size);
void rw_bufring_exit(struct rw_bufring *b, struct rw_ring *ring);

static inline uint8_t *rw_bufring_addr(const struct rw_bufring *b, unsigned bid)
{
	return b->base + (size_t)bid * b->size;
}

/* Give buffer `bid` back (the caller has copied or consumed its bytes). */
static inline void rw_bufring_recycle(struct rw_bufring *b, unsigned bid)
{
	b->stack[b->stack_n++] = (uint16_t)bid;
}

/* Adaptive mode from now on, starting with (and never going below) `min`
 * buffers in the ring. */
void rw_bufring_adapt(struct rw_bufring *b, unsigned min);

/* A completion carried a buffer: one fewer in the ring. */
static inline void rw_bufring_filled(struct rw_bufring *b)
{
	if (b->in_ring)
		b->in_ring--;
}

/* A receive found the ring empty (-ENOBUFS): it holds nothing now, and the
 * target doubles (once per publish, however many receives ran dry). */
static inline void rw_bufring_starved(struct rw_bufring *b)
{
	b->in_ring = 0;
	b->starved = true;
	if (b->adaptive && !b->starved_turn) {
		b->starved_turn = true;
		b->target = b->target * 2 > b->count ? b->count : b->target * 2;
	}
}

/* Adaptive: the memory of the buffers the ring does not hold and will not
 * take at the next publish, filled since it was last given back, goes back
 * to the kernel (MADV_DONTNEED: the pages are no longer resident, and read
 * as zeros when the kernel fills the buffer again). A burst that grew the
 * ring leaves its buffers resident until then. */
void rw_bufring_release(struct rw_bufring *b);

/* Once a second: a ring that did not run dry meanwhile shrinks a little, and
 * what it no longer holds is given back (rw_bufring_release). */
static inline void rw_bufring_decay(struct rw_bufring *b)
{
	if (b->adaptive && !b->starved && b->target > b->min_target) {
		unsigned cut = b->target / 16 ? b->target / 16 : 1;
		b->target = b->target - cut < b->min_target ? b->min_target : b->target - cut;
	}
	b->starved = false;
	if (b->adaptive)
		rw_bufring_release(b);
}

/* A filled buffer is being delivered: it is held until rw_bufring_unref. */
static inline void rw_bufring_hold(struct rw_bufring *b, unsigned bid)
{
	b->refs[bid] = 1;
}

/* One more reference on a held buffer; false when its counter is full. */
static inline bool rw_bufring_ref(struct rw_bufring *b, unsigned bid)
{
	if (b->refs[bid] == UINT16_MAX)
		return false;
	b->refs[bid]++;
	return true;
}

/* Drop a reference; the last one gives the buffer back to the ring. */
static inline void rw_bufring_unref(struct rw_bufring *b, unsigned bid)
{
	if (--b->refs[bid] == 0)
		rw_bufring_recycle(b, bid);
}

/* The buffer that holds [p, p + len), or -1. */
static inline int rw_bufring_find(const struct rw_bufring *b, const void *p, size_t len)
{
	const uint8_t *u = p;
	if (!b->base || u < b->base || u >= b->base + (size_t)b->count * b->size)
		return -1;
	size_t bid = (size_t)(u - b->base) / b->size;
	if ((size_t)(u - b->base) + len > (bid + 1) * b->size)
		return -1;
	return (int)bid;
}

/* Move buffers from the stack to the ring (all of them, or up to the target
 * when adaptive) and make them visible to the kernel. */
static inline void rw_bufring_publish(struct rw_bufring *b)
{
	int n = 0;
	while (b->stack_n && (!b->adaptive || b->in_ring < b->target)) {
		unsigned bid = b->stack[--b->stack_n];
		b->dirty[bid] = 1;
		io_uring_buf_ring_add(b->br, rw_bufring_addr(b, bid), b->size, (unsigned short)bid,
		                      io_uring_buf_ring_mask(b->count), n++);
		b->in_ring++;
	}
	if (n)
		io_uring_buf_ring_advance(b->br, n);
	b->starved_turn = false;
}

#endif
