/* src/conn_slab.h: fixed-size objects carved from 32 KiB slabs, for the
 * connections of a loop (struct rw_conn + its server's layer_size), so that a
 * connection costs its size and no malloc header or rounding.
 *
 * Each slab is one plain malloc block of 32 KiB (so the heap's statistics
 * see it; 64 KiB would go past malloc's mmap threshold). A slab hands out
 * fresh objects from its start first and reuses freed ones (its own free
 * list) after that, so pages of a slab are touched only when a connection
 * needs them. Objects are 16-byte aligned (CQE user_data tags use the 4 low
 * bits) and not zeroed.
 *
 * An object does not find its slab from its address alone: each comes with a
 * 16-bit tag (its distance from its slab's start, in 16 B) that the owner
 * keeps (struct rw_conn has room for it) and hands back with the object. The
 * slabs used to be aligned to their size so that masking the address found
 * the slab, but glibc leaves a gap before each aligned block, and its pages
 * were resident: measured with 50,000 idle WebSocket connections, the heap
 * took about 20 % more RSS than the bytes it held. A bad tag aborts.
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
/* An object, or NULL when no memory could be had; *tag is set for
 * rw__slab_put. */
void *rw__slab_get(struct rw_slab_cache *sc, uint16_t *tag);
/* Give an object back to the cache it came from, with the tag it came with. */
void rw__slab_put(void *obj, uint16_t tag);
/* Free the cache's slabs; every object must have been put back. */
void rw__slab_fini(struct rw_slab_cache *sc);

/* A loop's caches, one per object size (servers of different layer_size
 * share a loop): an object of `size` bytes from the cache of that size,
 * made on first need. NULL: out of memory. */
void *rw__slab_alloc(struct rw_slab_cache **caches, size_t size, uint16_t *tag);
void rw__slab_caches_free(struct rw_slab_cache **caches);

#endif
