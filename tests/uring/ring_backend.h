/* tests/uring/ring_backend.h: the uring/ tests run once on io_uring (suite
 * uring) and once on its epoll emulation (suite epoll, RW_TEST_RING=epoll):
 * the same assertions hold for both backends. */
#ifndef RW_TESTS_RING_BACKEND_H
#define RW_TESTS_RING_BACKEND_H

#include "uring/ring.h"

#include <stdlib.h>
#include <string.h>

static inline int rwt_ring_init(struct rw_ring *r, unsigned entries, unsigned fixed_files)
{
	const char *b = getenv("RW_TEST_RING");
	if (b && strcmp(b, "epoll") == 0)
		return rw_ring_init_epoll(r, entries, fixed_files);
	return rw_ring_init(r, entries, fixed_files);
}

#endif
