/* uring/bufring.h: a provided-buffer ring (IORING_REGISTER_PBUF_RING) mapped by
 * hand, since liburing 2.3 has no io_uring_setup_buf_ring. One ring serves the
 * multishot receives of every connection of a loop: no connection owns a
 * receive buffer. Buffers handed back with rw_bufring_recycle become visible to
 * the kernel at rw_bufring_publish (once per loop turn). With the epoll
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
	unsigned pending;     /* recycled but not yet published */
	uint16_t bgid;
	/* References on buffers the kernel has filled: one while a completion
	 * delivers it, one per queued send that points into it instead of a copy
	 * (rw_bufring_ref); it goes back to the ring when the last one drops. */
	uint16_t *refs;
	unsigned lent; /* references held by queued sends, all buffers together */
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
	io_uring_buf_ring_add(b->br, rw_bufring_addr(b, bid), b->size, (unsigned short)bid,
	                      io_uring_buf_ring_mask(b->count), (int)b->pending);
	b->pending++;
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

/* Make every recycled buffer visible to the kernel. */
static inline void rw_bufring_publish(struct rw_bufring *b)
{
	if (b->pending) {
		io_uring_buf_ring_advance(b->br, (int)b->pending);
		b->pending = 0;
	}
}

#endif
