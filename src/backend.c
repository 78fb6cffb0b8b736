/* src/backend.c: which backend a loop runs on (io_uring, or its epoll
 * emulation in uring/emu.h), the fallback of Backend=auto, and the Backend
 * setting shared by the components' Config. See ringworks/loop.h. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const names[] = {"auto", "uring", "epoll"};

/* rw_loop_unavailable_reason: one of rw_ring_refusal_reason's static
 * sentences, so a pointer store is all a concurrent reader can see. */
static const char *unavailable;

const char *rw__backend_reason(void)
{
	const char *r = __atomic_load_n(&unavailable, __ATOMIC_ACQUIRE);
	return r ? r : "";
}

static int parse(const char *v, unsigned *out)
{
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -RW_EBAD_VALUE;
}

const char *rw__backend_name(unsigned b)
{
	return b < sizeof(names) / sizeof(names[0]) ? names[b] : "?";
}

/* io_uring_setup refused by policy (EPERM: seccomp, io_uring_disabled),
 * absent (ENOSYS), or a kernel too old for the flags or buffer rings
 * (EINVAL): the cases where epoll can serve instead. */
static bool refused(int rc)
{
	return rc == -EPERM || rc == -ENOSYS || rc == -EINVAL;
}

static int open_uring(struct rw_loop *l)
{
	int rc = rw_ring_init(&l->ring, l->opts.ring_entries, l->opts.max_fixed_files);
	if (rc < 0)
		return rc;
	rc = rw_bufring_init(&l->bufring, &l->ring, 0, l->opts.recv_buffer_count, l->opts.recv_buffer_size);
	if (rc < 0)
		rw_ring_exit(&l->ring);
	else
		rw_bufring_adapt(&l->bufring, RW_RECV_RING_MIN);
	return rc;
}

static int open_epoll(struct rw_loop *l)
{
	int rc = rw_ring_init_epoll(&l->ring, l->opts.ring_entries, l->opts.max_fixed_files);
	if (rc < 0)
		return rw__errno(rc);
	rc = rw_bufring_init(&l->bufring, &l->ring, 0, l->opts.recv_buffer_count, l->opts.recv_buffer_size);
	if (rc < 0) {
		rw_ring_exit(&l->ring);
		return rc == -EINVAL ? -RW_EBAD_VALUE : rw__errno(rc);
	}
	rw_bufring_adapt(&l->bufring, RW_RECV_RING_MIN);
	l->opts.backend = RW_BACKEND_EPOLL;
	return 0;
}

int rw__ring_open(struct rw_loop *l)
{
	unsigned want = l->opts.backend;
	if (want > RW_BACKEND_EPOLL)
		return -RW_EBAD_VALUE;
	const char *env = getenv("RINGWORKS_BACKEND");
	if (want == RW_BACKEND_AUTO && env && *env && parse(env, &want) < 0)
		return -RW_EBAD_VALUE;
	if (want == RW_BACKEND_EPOLL)
		return open_epoll(l);
	/* A buffer count that is not a power of two is the caller's mistake,
	 * not the kernel's: never a reason to fall back. */
	unsigned n = l->opts.recv_buffer_count;
	if (!n || (n & (n - 1)) || n > 32768)
		return -RW_EBAD_VALUE;
	int rc = open_uring(l);
	if (rc == 0) {
		l->opts.backend = RW_BACKEND_URING;
		return 0;
	}
	if (!refused(rc))
		return rw__errno(rc);
	__atomic_store_n(&unavailable, rw_ring_refusal_reason(rc), __ATOMIC_RELEASE);
	if (want == RW_BACKEND_URING)
		return -RW_EURING_UNAVAILABLE;
	l->fallback = rw_ring_refusal_reason(rc);
	return open_epoll(l);
}

const char *rw__loop_take_fallback(struct rw_loop *l)
{
	const char *r = l->fallback;
	l->fallback = NULL;
	return r;
}

int rw__backend_config(unsigned *field, const struct rw_loop *loop, const char *value, char *out,
                       size_t out_len)
{
	if (!value) {
		const char *name = rw__backend_name(loop ? loop->opts.backend : *field);
		if (!out || strlen(name) + 1 > out_len)
			return -RW_EBUFFER_TOO_SMALL;
		memcpy(out, name, strlen(name) + 1);
		return (int)strlen(name);
	}
	if (loop)
		return -RW_EBAD_STATE; /* the loop exists: its backend is fixed */
	return parse(value, field);
}

RW_API int rw_loop_backend(const rw_loop *l)
{
	return l ? (int)l->opts.backend : -RW_EINVAL;
}
