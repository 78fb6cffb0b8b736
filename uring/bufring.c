/* uring/bufring.c: map and register a provided-buffer ring (liburing 2.3 has
 * no helper for it). The ring header and the buffers are separate mappings so
 * that the buffers can be large without alignment games; the buffers' mapping
 * is page-aligned, so a buffer whose size is a multiple of the page size can
 * give its memory back on its own (rw_bufring_release). */
#include "bufring.h"
#include "emu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int rw_bufring_init(struct rw_bufring *b, struct rw_ring *ring, uint16_t bgid,
                    unsigned count, unsigned size)
{
	memset(b, 0, sizeof(*b));
	if (count == 0 || (count & (count - 1)) || count > 32768 || size == 0)
		return -EINVAL;
	size_t ring_len = (size_t)count * sizeof(struct io_uring_buf);
	void *rmem = mmap(NULL, ring_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rmem == MAP_FAILED)
		return -errno;
	size_t data_len = (size_t)count * size;
	void *dmem = mmap(NULL, data_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dmem == MAP_FAILED) {
		int err = -errno;
		munmap(rmem, ring_len);
		return err;
	}
	uint16_t *refs = calloc(count, sizeof(*refs));
	uint16_t *stack = malloc(count * sizeof(*stack));
	uint8_t *dirty = calloc(count, 1);
	if (!refs || !stack || !dirty) {
		free(refs);
		free(stack);
		free(dirty);
		munmap(rmem, ring_len);
		munmap(dmem, data_len);
		return -ENOMEM;
	}
	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)rmem;
	reg.ring_entries = count;
	reg.bgid = bgid;
	int rc = ring->emu ? rw_emu_register_bufring(ring->emu, bgid, rmem, count)
	                   : io_uring_register_buf_ring(&ring->uring, &reg, 0);
	if (rc < 0) {
		munmap(rmem, ring_len);
		munmap(dmem, data_len);
		free(refs);
		free(stack);
		free(dirty);
		return rc;
	}
	b->br = rmem;
	b->base = dmem;
	b->map_len = ring_len;
	b->count = count;
	b->size = size;
	b->bgid = bgid;
	b->refs = refs;
	b->stack = stack;
	b->dirty = dirty;
	b->target = b->min_target = count;
	io_uring_buf_ring_init(b->br);
	for (unsigned i = count; i-- > 0;)
		rw_bufring_recycle(b, i);
	rw_bufring_publish(b);
	return 0;
}

void rw_bufring_adapt(struct rw_bufring *b, unsigned min)
{
	b->adaptive = true;
	b->min_target = min < b->count ? min : b->count;
	b->target = b->min_target;
	/* Right after init (nothing received yet, so the kernel has not looked
	 * at the ring) the initial fill is taken back down to the target: the
	 * entries past it are unpublished by moving the tail back. Later, the
	 * buffers beyond the target are simply not republished. */
	if (b->stack_n || b->in_ring != b->count)
		return;
	unsigned back = b->count - b->target;
	uint16_t tail = __atomic_load_n(&b->br->tail, __ATOMIC_RELAXED);
	__atomic_store_n(&b->br->tail, (uint16_t)(tail - back), __ATOMIC_RELEASE);
	for (unsigned bid = b->count; bid-- > b->target;) {
		rw_bufring_recycle(b, bid);
		b->dirty[bid] = 0; /* never seen by a receive */
	}
	b->in_ring = b->target;
}

void rw_bufring_release(struct rw_bufring *b)
{
	/* The next publish moves up to target - in_ring buffers from the top of
	 * the stack to the ring: those stay. The rest of the stack is not in
	 * the ring, so the kernel cannot be writing into it. */
	unsigned keep = b->target > b->in_ring ? b->target - b->in_ring : 0;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	for (unsigned i = 0; i + keep < b->stack_n; i++) {
		unsigned bid = b->stack[i];
		if (!b->dirty[bid])
			continue;
		b->dirty[bid] = 0;
		/* Only the pages wholly inside the buffer: a page it shares with
		 * a neighbour may be in the ring (buffers of any size). */
		uintptr_t start = ((uintptr_t)rw_bufring_addr(b, bid) + page - 1) & ~(page - 1);
		uintptr_t end = ((uintptr_t)rw_bufring_addr(b, bid) + b->size) & ~(page - 1);
		if (end > start)
			madvise((void *)start, end - start, MADV_DONTNEED);
	}
}

void rw_bufring_exit(struct rw_bufring *b, struct rw_ring *ring)
{
	if (!b->br)
		return;
	if (ring->emu)
		rw_emu_unregister_bufring(ring->emu, b->bgid);
	else
		io_uring_unregister_buf_ring(&ring->uring, b->bgid);
	munmap(b->br, b->map_len);
	munmap(b->base, (size_t)b->count * b->size);
	free(b->refs);
	free(b->stack);
	free(b->dirty);
	memset(b, 0, sizeof(*b));
}
