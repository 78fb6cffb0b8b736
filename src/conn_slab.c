/* src/conn_slab.c: the slab cache of connection objects (conn_slab.h). */
#include "conn_slab.h"

#include "ringworks/common.h"

#include <stdbool.h>
#include <stdlib.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RW_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define RW_ASAN 1
#endif
#ifdef RW_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct rw_free_obj {
	struct rw_free_obj *next;
};

struct rw_slab {
	_Alignas(16) struct rw_slab_cache *cache;
	struct rw_slab *prev, *next; /* on the cache's partial list */
	struct rw_free_obj *free;    /* freed objects */
	uint32_t used;               /* objects handed out */
	uint32_t fresh;              /* objects never handed out start at this index */
	bool on_partial;
};

#define HEAD (((sizeof(struct rw_slab)) + 15) & ~(size_t)15)

static uint8_t *obj_at(struct rw_slab *sl, uint32_t i)
{
	return (uint8_t *)sl + HEAD + (size_t)i * sl->cache->obj_size;
}

int rw__slab_init(struct rw_slab_cache *sc, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (size < sizeof(struct rw_free_obj) || size > RW_SLAB_BYTES - HEAD)
		return -RW_EINVAL;
	*sc = (struct rw_slab_cache){.obj_size = (uint32_t)size,
	                             .per_slab = (uint32_t)((RW_SLAB_BYTES - HEAD) / size)};
	return 0;
}

static void partial_add(struct rw_slab_cache *sc, struct rw_slab *sl)
{
	sl->prev = NULL;
	sl->next = sc->partial;
	if (sc->partial)
		sc->partial->prev = sl;
	sc->partial = sl;
	sl->on_partial = true;
}

static void partial_remove(struct rw_slab_cache *sc, struct rw_slab *sl)
{
	if (sl->prev)
		sl->prev->next = sl->next;
	else
		sc->partial = sl->next;
	if (sl->next)
		sl->next->prev = sl->prev;
	sl->prev = sl->next = NULL;
	sl->on_partial = false;
}

/* A plain heap block: the heap statistics (mallinfo, the sanitizers'
 * allocated bytes) count connections like any other memory, and, unlike a
 * block aligned to its size, it leaves no gap before it (conn_slab.h). The
 * objects need 16 bytes: glibc's malloc alignment, for which aligned_alloc is
 * malloc; asked for all the same, as a sanitizer's malloc promises only 8. */
static struct rw_slab *slab_new(struct rw_slab_cache *sc)
{
	struct rw_slab *sl = aligned_alloc(16, RW_SLAB_BYTES);
	if (!sl)
		return NULL;
	*sl = (struct rw_slab){.cache = sc};
	POISON((uint8_t *)sl + HEAD, RW_SLAB_BYTES - HEAD);
	sc->slabs++;
	return sl;
}

static void slab_free(struct rw_slab_cache *sc, struct rw_slab *sl)
{
	UNPOISON(sl, RW_SLAB_BYTES);
	free(sl);
	sc->slabs--;
}

void *rw__slab_get(struct rw_slab_cache *sc, uint16_t *tag)
{
	struct rw_slab *sl = sc->partial;
	if (!sl) {
		sl = sc->spare ? sc->spare : slab_new(sc);
		if (!sl)
			return NULL;
		sc->spare = NULL;
		partial_add(sc, sl);
	}
	uint8_t *obj;
	if (sl->free) {
		obj = (uint8_t *)sl->free;
		UNPOISON(obj, sc->obj_size);
		sl->free = sl->free->next;
	} else {
		obj = obj_at(sl, sl->fresh++);
		UNPOISON(obj, sc->obj_size);
	}
	sl->used++;
	sc->live++;
	if (!sl->free && sl->fresh == sc->per_slab)
		partial_remove(sc, sl); /* full */
	*tag = (uint16_t)((size_t)(obj - (uint8_t *)sl) / 16);
	return obj;
}

void rw__slab_put(void *obj, uint16_t tag)
{
	/* The tag is the object's distance from its slab's start, in 16 B:
	 * HEAD plus a whole number of objects. Anything else is a corrupted tag
	 * or a foreign pointer, which would wreck the free lists: stop here. */
	size_t off = (size_t)tag * 16;
	if (off < HEAD || off >= RW_SLAB_BYTES)
		abort();
	struct rw_slab *sl = (struct rw_slab *)((uint8_t *)obj - off);
	struct rw_slab_cache *sc = sl->cache;
	if ((off - HEAD) % sc->obj_size != 0 || (off - HEAD) / sc->obj_size >= sc->per_slab)
		abort();
	struct rw_free_obj *f = obj;
	f->next = sl->free;
	sl->free = f;
	POISON(obj, sc->obj_size);
	sl->used--;
	sc->live--;
	if (sl->used == 0) {
		/* Wholly free: keep one such slab, unmap the others. */
		if (sl->on_partial)
			partial_remove(sc, sl);
		if (sc->spare) {
			slab_free(sc, sl);
		} else {
			/* Reused from a clean state: fresh objects, no free list. */
			POISON((uint8_t *)sl + HEAD, RW_SLAB_BYTES - HEAD);
			sl->free = NULL;
			sl->fresh = 0;
			sc->spare = sl;
		}
	} else if (!sl->on_partial) {
		partial_add(sc, sl);
	}
}

void rw__slab_fini(struct rw_slab_cache *sc)
{
	/* With every object back, only the spare is left; a partial slab means
	 * live objects (a bug of the owner), freed all the same. */
	while (sc->partial) {
		struct rw_slab *sl = sc->partial;
		partial_remove(sc, sl);
		slab_free(sc, sl);
	}
	if (sc->spare)
		slab_free(sc, sc->spare);
	sc->spare = NULL;
}

void *rw__slab_alloc(struct rw_slab_cache **caches, size_t size, uint16_t *tag)
{
	size = (size + 15) & ~(size_t)15;
	struct rw_slab_cache *sc = *caches;
	while (sc && sc->obj_size != size)
		sc = sc->next;
	if (!sc) {
		sc = malloc(sizeof(*sc));
		if (!sc)
			return NULL;
		if (rw__slab_init(sc, size) < 0) {
			free(sc);
			return NULL;
		}
		sc->next = *caches;
		*caches = sc;
	}
	return rw__slab_get(sc, tag);
}

void rw__slab_caches_free(struct rw_slab_cache **caches)
{
	while (*caches) {
		struct rw_slab_cache *sc = *caches;
		*caches = sc->next;
		rw__slab_fini(sc);
		free(sc);
	}
}
