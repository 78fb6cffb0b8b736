/* src/conn_slab.h: fixed-size objects carved from 32 KiB slabs, for the
 * connections of a loop (struct rw_conn + its server's layer_size), so that a
 * connection costs its size and no malloc header or rounding.
 *
 * Each slab is one malloc block of 32 KiB aligned to 32 KiB (so the heap's
 * statistics see it), and an object finds its slab header by masking its
 * address. The alignment costs a gap before each slab, which the heap fills
 * with other blocks or leaves untouched but for its header pages (measured on
 * glibc with nothing else allocated: 25 % more RSS than the slabs' size at
 * 32 KiB, 50 % at 16 KiB; 64 KiB would go past malloc's mmap threshold). A slab hands out fresh objects from its end
 * first and reuses freed ones (its own free list) after that, so pages of a
 * slab are touched only when a connection needs them. Objects are 16-byte
 * aligned (CQE user_data tags use the 4 low bits) and not zeroed.
 *
 * Memory stays bounded: a slab whose objects are all free is freed, except
 * one per cache kept against map/unmap churn at a boundary. So a cache holds at
 * most the slabs its live objects sit in, plus one.
 *
 * Under AddressSanitizer a free object, and the not yet used end of a slab,
 * are poisoned: a use after free is reported like one of malloc's.
 *
 * Not thread-safe: a cache belongs to one loop (one thread). */
#ifndef RW_SRC_CONN_SLAB_H
#define RW_SRC_CONN_SLAB_H

#include <stddef.h>
#include <stdint.h>

#define RW_SLAB_BYTES ((size_t)32 * 1024)

struct rw_slab;

struct rw_slab_cache {
	struct rw_slab_cache *next; /* the loop's caches, one per object size */
	uint32_t obj_size;          /* a multiple of 16 */
	uint32_t per_slab;          /* objects in one slab */
	struct rw_slab *partial;    /* slabs with room (a free or a fresh object) */
	struct rw_slab *spare;      /* one wholly free slab, kept */
	uint32_t slabs;             /* allocated, the spare included */
	uint32_t live;              /* objects handed out */
};

/* Set up a cache of objects of `size` bytes (rounded up to 16). Returns 0, or
 * -RW_EINVAL when the size leaves no room for one object in a slab. */
int rw__slab_init(struct rw_slab_cache *sc, size_t size);
/* An object, or NULL when no memory could be mapped. */
void *rw__slab_get(struct rw_slab_cache *sc);
/* Give an object back to the cache it came from. */
void rw__slab_put(void *obj);
/* Free the cache's slabs; every object must have been put back. */
void rw__slab_fini(struct rw_slab_cache *sc);

/* A loop's caches, one per object size (servers of different layer_size
 * share a loop): an object of `size` bytes from the cache of that size,
 * made on first need. NULL: out of memory. */
void *rw__slab_alloc(struct rw_slab_cache **caches, size_t size);
void rw__slab_caches_free(struct rw_slab_cache **caches);

#endif
