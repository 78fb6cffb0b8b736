/* uring/ring.c: ring setup with fallbacks, probing, SQE acquisition, the turn's
 * single submit-and-wait, and CQE reaping. */
#include "ring.h"
#include "emu.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int try_setup(struct rw_ring *r, unsigned entries, unsigned flags)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = flags | IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 2;
	int rc = io_uring_queue_init_params(entries, &r->uring, &p);
	if (rc == 0)
		r->setup_flags = flags;
	return rc;
}

static void probe(struct rw_ring *r)
{
	struct io_uring_probe *pr = io_uring_get_probe_ring(&r->uring);
	if (pr) {
		r->has_send_zc = io_uring_opcode_supported(pr, IORING_OP_SEND_ZC) &&
		                 io_uring_opcode_supported(pr, IORING_OP_SENDMSG_ZC);
		/* SEND_ZC (6.0) arrived after multishot recv and CANCEL_FD_FIXED
		 * (both 6.0), so its presence tells us the others are there too. */
		r->has_multishot_recv = io_uring_opcode_supported(pr, IORING_OP_SEND_ZC);
		r->has_cancel_fd_fixed = r->has_multishot_recv;
		io_uring_free_probe(pr);
	}
}

int rw_ring_init(struct rw_ring *r, unsigned entries, unsigned fixed_files)
{
	static const unsigned attempts[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		0,
	};
	memset(r, 0, sizeof(*r));
	int rc = -EINVAL;
	for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		rc = try_setup(r, entries, attempts[i]);
		/* EPERM/ENOSYS mean io_uring itself is refused: no flag will help. */
		if (rc == 0 || rc == -EPERM || rc == -ENOSYS || rc == -ENOMEM)
			break;
	}
	if (rc < 0)
		return rc;
	probe(r);
	if (fixed_files) {
		rc = io_uring_register_files_sparse(&r->uring, fixed_files);
		if (rc < 0) {
			io_uring_queue_exit(&r->uring);
			return rc;
		}
		r->fixed_files = fixed_files;
	}
	return 0;
}

int rw_ring_init_epoll(struct rw_ring *r, unsigned entries, unsigned fixed_files)
{
	memset(r, 0, sizeof(*r));
	int rc = rw_emu_init(&r->emu, entries, fixed_files);
	if (rc < 0) {
		r->emu = NULL;
		return rc;
	}
	r->fixed_files = fixed_files;
	r->has_send_zc = true;
	r->has_multishot_recv = true;
	r->has_cancel_fd_fixed = false;
	return 0;
}

void rw_ring_exit(struct rw_ring *r)
{
	if (r->emu) {
		rw_emu_exit(r->emu);
		r->emu = NULL;
		return;
	}
	io_uring_queue_exit(&r->uring);
}

const char *rw_ring_refusal_reason(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case EPERM:
		return "io_uring is not permitted here (io_uring_setup: EPERM): a container "
		       "seccomp profile blocks it (Docker's default does; add io_uring_setup, "
		       "io_uring_enter and io_uring_register) or sysctl kernel.io_uring_disabled "
		       "is set (set it to 0, or 1 and add the process to kernel.io_uring_group)";
	case ENOSYS:
		return "io_uring is not available (io_uring_setup: ENOSYS): the kernel lacks "
		       "CONFIG_IO_URING or a seccomp filter hides it; ringworks needs Linux 6.1+";
	case ENOMEM:
		return "io_uring_setup failed with ENOMEM: the locked-memory limit "
		       "(RLIMIT_MEMLOCK) is too low for the ring";
	case EINVAL:
		return "io_uring_setup rejected the parameters (EINVAL): the kernel is "
		       "older than 6.1 or lacks a needed feature";
	default:
		return "io_uring_setup failed";
	}
}

struct io_uring_sqe *rw_ring_sqe(struct rw_ring *r, int *err)
{
	if (r->emu) {
		struct io_uring_sqe *e = rw_emu_sqe(r->emu);
		if (!e) {
			rw_emu_flush(r->emu);
			e = rw_emu_sqe(r->emu);
		}
		return e;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
	if (sqe)
		return sqe;
	int rc = io_uring_submit(&r->uring);
	if (rc < 0) {
		*err = rc;
		return NULL;
	}
	sqe = io_uring_get_sqe(&r->uring);
	if (!sqe)
		*err = -EBUSY;
	return sqe;
}

int rw_ring_submit_wait(struct rw_ring *r, int timeout_ms)
{
	struct io_uring_cqe *cqe;
	int rc;
	if (r->emu)
		return rw_emu_submit_wait(r->emu, timeout_ms);
	if (timeout_ms == 0) {
		rc = io_uring_submit_and_get_events(&r->uring);
	} else if (timeout_ms < 0) {
		rc = io_uring_submit_and_wait(&r->uring, 1);
	} else {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ms / 1000,
			.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
		};
		rc = io_uring_submit_and_wait_timeout(&r->uring, &cqe, 1, &ts, NULL);
	}
	if (rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY)
		return 0;
	return rc < 0 ? rc : 0;
}

unsigned rw_ring_reap(struct rw_ring *r, struct io_uring_cqe *out, unsigned max)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	if (r->emu)
		return rw_emu_reap(r->emu, out, max);
	io_uring_for_each_cqe(&r->uring, head, cqe) {
		if (n == max)
			break;
		out[n++] = *cqe;
	}
	io_uring_cq_advance(&r->uring, n);
	return n;
}

unsigned rw_ring_sq_ready(struct rw_ring *r)
{
	return r->emu ? rw_emu_sq_ready(r->emu) : io_uring_sq_ready(&r->uring);
}

unsigned rw_ring_sq_entries(struct rw_ring *r)
{
	return r->emu ? rw_emu_sq_entries(r->emu) : r->uring.sq.ring_entries;
}

unsigned rw_ring_sq_space_left(struct rw_ring *r)
{
	return r->emu ? rw_emu_sq_entries(r->emu) - rw_emu_sq_ready(r->emu) : io_uring_sq_space_left(&r->uring);
}

unsigned rw_ring_cq_ready(struct rw_ring *r)
{
	return r->emu ? rw_emu_cq_ready(r->emu) : io_uring_cq_ready(&r->uring);
}

int rw_ring_wait(struct rw_ring *r, int timeout_ms)
{
	int rc;
	if (r->emu) {
		rc = rw_emu_wait(r->emu, timeout_ms);
	} else if (timeout_ms < 0) {
		struct io_uring_cqe *cqe;
		rc = io_uring_wait_cqe(&r->uring, &cqe);
	} else {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {timeout_ms / 1000, (long long)(timeout_ms % 1000) * 1000000};
		/* With IORING_FEAT_EXT_ARG this enters with nothing to submit:
		 * the SQ, which other threads fill under their lock, is not touched. */
		rc = io_uring_wait_cqe_timeout(&r->uring, &cqe, &ts);
	}
	if (rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY)
		return 0;
	return rc < 0 ? rc : 0;
}

int rw_ring_install_fd(struct rw_ring *r, unsigned slot, int fd)
{
	if (r->emu)
		return rw_emu_install_fd(r->emu, slot, fd);
	int rc = io_uring_register_files_update(&r->uring, slot, &fd, 1);
	if (fd >= 0)
		close(fd); /* the table holds its own reference */
	return rc < 0 ? rc : 0;
}

int rw_ring_install_fd_queued(struct rw_ring *r, unsigned slot, const int *fd)
{
	if (r->emu)
		return rw_emu_install_fd(r->emu, slot, *fd);
	/* Both SQEs in one batch, so that the link holds. */
	int rc = io_uring_sq_space_left(&r->uring) < 2 ? io_uring_submit(&r->uring) : 0;
	struct io_uring_sqe *update = rc >= 0 ? io_uring_get_sqe(&r->uring) : NULL;
	struct io_uring_sqe *sqe = update ? io_uring_get_sqe(&r->uring) : NULL;
	if (!sqe) {
		if (update) /* give it back as a no-op */
			io_uring_prep_nop(update);
		close(*fd);
		return rc < 0 ? rc : -EBUSY;
	}
	io_uring_prep_files_update(update, (int *)fd, 1, (int)slot);
	io_uring_sqe_set_data64(update, 0);
	/* Hard link: the close runs after the update, even when it failed. */
	update->flags |= IOSQE_IO_HARDLINK;
	io_uring_prep_close(sqe, *fd);
	io_uring_sqe_set_data64(sqe, 0);
	return 0;
}
