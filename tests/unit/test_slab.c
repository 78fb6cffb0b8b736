/* tests/unit/test_slab.c: the slab cache of connection objects
 * (src/conn_slab.c): objects are 16-byte aligned, inside their slab, never
 * overlap; a freed object is reused; the cache grows by slabs and gives wholly
 * free slabs back, keeping at most one spare; sizes are kept apart; under
 * AddressSanitizer a freed object is poisoned. */
#include "src/conn_slab.h"
#include "ringworks/common.h"

#include <criterion/criterion.h>
#include <stdint.h>
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
	for (int i = 0; i < MANY; i++) {
		objs[i] = rw__slab_get(&sc);
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
	rw__slab_put(gone);
	cr_assert_eq(sc.live, MANY - 1);
	objs[MANY / 2] = rw__slab_get(&sc);
	cr_assert_eq(objs[MANY / 2], gone);
	for (int i = 0; i < MANY; i++)
		rw__slab_put(objs[i]);
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
	int n = (int)sc.per_slab; /* exactly one full slab */
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i <= n; i++)
			objs[i] = rw__slab_get(&sc);
		cr_assert_leq(sc.slabs, 2);
		for (int i = 0; i <= n; i++)
			rw__slab_put(objs[i]);
		cr_assert_eq(sc.slabs, 1);
	}
	rw__slab_fini(&sc);
}

Test(slab, sizes_are_kept_apart)
{
	struct rw_slab_cache *caches = NULL;
	uint8_t *a = rw__slab_alloc(&caches, 160), *b = rw__slab_alloc(&caches, 176);
	uint8_t *a2 = rw__slab_alloc(&caches, 150);
	cr_assert(a && b && a2);
	int count = 0;
	for (struct rw_slab_cache *sc = caches; sc; sc = sc->next) {
		count++;
		cr_assert_eq(sc->live, sc->obj_size == 160 ? 2u : 1u);
	}
	cr_assert_eq(count, 2, "150 and 160 share the 160 B cache, 176 has its own");
	rw__slab_put(a);
	rw__slab_put(b);
	rw__slab_put(a2);
	rw__slab_caches_free(&caches);
	cr_assert_null(caches);
}

#ifdef TEST_ASAN
Test(slab, freed_object_is_poisoned)
{
	struct rw_slab_cache sc;
	cr_assert_eq(rw__slab_init(&sc, 160), 0);
	uint8_t *keep = rw__slab_get(&sc), *o = rw__slab_get(&sc);
	cr_assert(!__asan_region_is_poisoned(o, 160), "a live object is usable");
	rw__slab_put(o);
	cr_assert(__asan_address_is_poisoned(o), "a freed object is poisoned");
	cr_assert(__asan_address_is_poisoned(o + 159));
	uint8_t *again = rw__slab_get(&sc);
	cr_assert_eq(again, o);
	cr_assert(!__asan_region_is_poisoned(again, 160), "a reused object is unpoisoned");
	rw__slab_put(again);
	rw__slab_put(keep);
	rw__slab_fini(&sc);
}
#endif
