/* tests/unit/test_slab.c: the slab cache of connection objects
 * (src/conn_slab.c): objects are 16-byte aligned, inside their slab, never
 * overlap; each one's tag leads back to its slab, also when objects are freed
 * in any order; a freed object is reused; the cache grows by slabs and gives
 * wholly free slabs back, keeping at most one spare; sizes are kept apart; a
 * bad tag aborts; under AddressSanitizer a freed object is poisoned. */
#include "src/conn_slab.h"
#include "ringworks/common.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

enum { MANY = 1000 };

Test(slab, init_bounds)
{
	struct rw_slab_cache sc;
	cr_assert_eq(rw__slab_init(&sc, RW_SLAB_BYTES), -RW_EINVAL, "an object larger than a slab is refused");
	cr_assert_eq(rw__slab_init(&sc, 0), -RW_EINVAL);
	cr_assert_eq(rw__slab_init(&sc, 161), 0);
	cr_assert_eq(sc.obj_size, 176, "sizes round up to 16");
	cr_assert_gt(sc.per_slab, 80);
	cr_assert_leq((size_t)sc.per_slab * sc.obj_size, RW_SLAB_BYTES);
	rw__slab_fini(&sc);
}

Test(slab, aligned_disjoint_and_reused)
{
	struct rw_slab_cache sc;
	cr_assert_eq(rw__slab_init(&sc, 160), 0);
	static uint8_t *objs[MANY];
	static uint16_t tags[MANY];
	for (int i = 0; i < MANY; i++) {
		objs[i] = rw__slab_get(&sc, &tags[i]);
		cr_assert_not_null(objs[i]);
		cr_assert_eq((uintptr_t)objs[i] % 16, 0, "object %d is not 16-byte aligned", i);
		memset(objs[i], (uint8_t)i, 160);
	}
	cr_assert_eq(sc.live, MANY);
	unsigned want = (MANY + sc.per_slab - 1) / sc.per_slab;
	cr_assert_eq(sc.slabs, want, "the cache grew to %u slabs, not %u", sc.slabs, want);
	/* Every object still holds its own pattern: none overlaps another. */
	for (int i = 0; i < MANY; i++)
		for (int b = 0; b < 160; b++)
			cr_assert_eq(objs[i][b], (uint8_t)i, "object %d byte %d was overwritten", i, b);
	/* A freed object is the next one handed out. */
	uint8_t *gone = objs[MANY / 2];
	uint16_t gone_tag = tags[MANY / 2];
	rw__slab_put(gone, gone_tag);
	cr_assert_eq(sc.live, MANY - 1);
	objs[MANY / 2] = rw__slab_get(&sc, &tags[MANY / 2]);
	cr_assert_eq(objs[MANY / 2], gone);
	cr_assert_eq(tags[MANY / 2], gone_tag, "the same object, the same tag");
	for (int i = 0; i < MANY; i++)
		rw__slab_put(objs[i], tags[i]);
	cr_assert_eq(sc.live, 0);
	cr_assert_eq(sc.slabs, 1, "wholly free slabs go back, one spare stays (%u kept)", sc.slabs);
	rw__slab_fini(&sc);
	cr_assert_eq(sc.slabs, 0);
}

/* Churn at a slab boundary neither leaks nor grows. */
Test(slab, churn_stays_bounded)
{
	struct rw_slab_cache sc;
	cr_assert_eq(rw__slab_init(&sc, 160), 0);
	static void *objs[MANY];
	static uint16_t tags[MANY];
	int n = (int)sc.per_slab; /* exactly one full slab */
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i <= n; i++)
			objs[i] = rw__slab_get(&sc, &tags[i]);
		cr_assert_leq(sc.slabs, 2);
		for (int i = 0; i <= n; i++)
			rw__slab_put(objs[i], tags[i]);
		cr_assert_eq(sc.slabs, 1);
	}
	rw__slab_fini(&sc);
}

Test(slab, sizes_are_kept_apart)
{
	struct rw_slab_cache *caches = NULL;
	uint16_t ta, tb, ta2;
	uint8_t *a = rw__slab_alloc(&caches, 160, &ta), *b = rw__slab_alloc(&caches, 176, &tb);
	uint8_t *a2 = rw__slab_alloc(&caches, 150, &ta2);
	cr_assert(a && b && a2);
	int count = 0;
	for (struct rw_slab_cache *sc = caches; sc; sc = sc->next) {
		count++;
		cr_assert_eq(sc->live, sc->obj_size == 160 ? 2u : 1u);
	}
	cr_assert_eq(count, 2, "150 and 160 share the 160 B cache, 176 has its own");
	rw__slab_put(a, ta);
	rw__slab_put(b, tb);
	rw__slab_put(a2, ta2);
	rw__slab_caches_free(&caches);
	cr_assert_null(caches);
}

/* Objects of several slabs freed in a shuffled order, with the tags they came
 * with: each goes back to its own slab (the counts per slab come out right,
 * every wholly free slab but one goes back), and a fresh round reuses them. */
Test(slab, tags_find_the_slab_in_any_order)
{
	struct rw_slab_cache sc;
	cr_assert_eq(rw__slab_init(&sc, 208), 0); /* a WebSocket connection */
	static uint8_t *objs[MANY];
	static uint16_t tags[MANY];
	static int order[MANY];
	for (int i = 0; i < MANY; i++) {
		objs[i] = rw__slab_get(&sc, &tags[i]);
		cr_assert_not_null(objs[i]);
		/* The tag is the distance from the slab's start, in 16 B. */
		size_t off = (size_t)tags[i] * 16;
		cr_assert_lt(off, RW_SLAB_BYTES);
		cr_assert_eq(*(struct rw_slab_cache **)(void *)(objs[i] - off), &sc,
		             "object %d: its tag does not lead to its slab's header", i);
		order[i] = i;
	}
	unsigned slabs = sc.slabs;
	cr_assert_gt(slabs, 3);
	srand(7);
	for (int i = MANY - 1; i > 0; i--) {
		int j = rand() % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int k = 0; k < MANY / 2; k++)
		rw__slab_put(objs[order[k]], tags[order[k]]);
	cr_assert_eq(sc.live, MANY - MANY / 2);
	cr_assert_leq(sc.slabs, slabs, "freeing never adds a slab");
	/* As many objects again come from the freed room: no new slab. */
	for (int k = 0; k < MANY / 2; k++)
		objs[order[k]] = rw__slab_get(&sc, &tags[order[k]]);
	cr_assert_leq(sc.slabs, slabs, "freed objects are reused before a slab is added");
	for (int k = 0; k < MANY; k++)
		rw__slab_put(objs[order[k]], tags[order[k]]);
	cr_assert_eq(sc.live, 0);
	cr_assert_eq(sc.slabs, 1, "every slab emptied, one spare kept (%u)", sc.slabs);
	rw__slab_fini(&sc);
}

/* A tag that cannot be an object's (inside the slab header, between two
 * objects, past the slab) stops the process instead of corrupting a free
 * list. */
static struct rw_slab_cache bad_sc;
static uint8_t *bad_obj;
static uint16_t bad_tag;
static void bad_setup(void)
{
	cr_assert_eq(rw__slab_init(&bad_sc, 160), 0);
	bad_obj = rw__slab_get(&bad_sc, &bad_tag);
}
Test(slab, tag_inside_the_header_aborts, .init = bad_setup, .signal = SIGABRT)
{
	rw__slab_put(bad_obj, 0);
}
Test(slab, tag_between_objects_aborts, .init = bad_setup, .signal = SIGABRT)
{
	rw__slab_put(bad_obj + 16, (uint16_t)(bad_tag + 1));
}
Test(slab, tag_past_the_slab_aborts, .init = bad_setup, .signal = SIGABRT)
{
	rw__slab_put(bad_obj, (uint16_t)(RW_SLAB_BYTES / 16));
}

#ifdef TEST_ASAN
Test(slab, freed_object_is_poisoned)
{
	struct rw_slab_cache sc;
	cr_assert_eq(rw__slab_init(&sc, 160), 0);
	uint16_t tk, to, tag;
	uint8_t *keep = rw__slab_get(&sc, &tk), *o = rw__slab_get(&sc, &to);
	cr_assert(!__asan_region_is_poisoned(o, 160), "a live object is usable");
	rw__slab_put(o, to);
	cr_assert(__asan_address_is_poisoned(o), "a freed object is poisoned");
	cr_assert(__asan_address_is_poisoned(o + 159));
	uint8_t *again = rw__slab_get(&sc, &tag);
	cr_assert_eq(again, o);
	cr_assert(!__asan_region_is_poisoned(again, 160), "a reused object is unpoisoned");
	rw__slab_put(again, tag);
	rw__slab_put(keep, tk);
	rw__slab_fini(&sc);
}
#endif
