/* uring/ring.h: io_uring setup with flag fallbacks, opcode probing, SQE
 * acquisition that never fails while the kernel accepts submissions, and the
 * batched submit-and-wait of one loop turn.
 *
 * Two backends behind this one interface: the kernel's io_uring, or (where
 * io_uring is refused) its emulation over epoll (uring/emu.h), chosen at
 * init. The engine prepares SQEs and reads CQEs the same way with both; it
 * never calls liburing's queue functions on `uring` itself, only the rw_ring_*
 * functions below.
 *
 * This layer knows fds, SQEs and CQEs only; every function returns 0/positive or
 * a negative errno.
 */
#ifndef RW_URING_RING_H
#define RW_URING_RING_H

#include <liburing.h>
#include <stdbool.h>

struct rw_emu;

struct rw_ring {
	struct io_uring uring;    /* unused with the epoll backend */
	struct rw_emu *emu;       /* the epoll backend; NULL with io_uring */
	unsigned setup_flags;     /* the IORING_SETUP_* flags the kernel accepted */
	unsigned fixed_files;     /* size of the registered sparse file table (0 = none) */
	bool has_send_zc;         /* IORING_OP_SEND_ZC / SENDMSG_ZC */
	bool has_multishot_recv;  /* recv multishot with buffer select (6.0+) */
	bool has_cancel_fd_fixed; /* IORING_ASYNC_CANCEL_FD_FIXED (6.0+) */
};

/* Create a ring with `entries` SQEs (CQ twice as large), trying
 * SINGLE_ISSUER|DEFER_TASKRUN, then COOP_TASKRUN, then no flags; probe the
 * opcodes; register a sparse fixed-file table of `fixed_files` entries (capped
 * by the caller to RLIMIT_NOFILE). Returns 0 or -errno (-EPERM / -ENOSYS when
 * io_uring is refused: see rw_ring_refusal_reason). */
int rw_ring_init(struct rw_ring *r, unsigned entries, unsigned fixed_files);

/* The same ring emulated over epoll (see uring/emu.h): needs no io_uring at
 * all. It reports multishot recv and SEND_ZC as present (both emulated). */
int rw_ring_init_epoll(struct rw_ring *r, unsigned entries, unsigned fixed_files);
void rw_ring_exit(struct rw_ring *r);

static inline bool rw_ring_is_epoll(const struct rw_ring *r)
{
	return r->emu != NULL;
}

/* A human sentence for an io_uring_setup failure errno (EPERM, ENOSYS, ...). */
const char *rw_ring_refusal_reason(int err);

/* An SQE; when the SQ is full it submits what is queued first. NULL only when
 * the kernel refuses the submission (the error is in *err). */
struct io_uring_sqe *rw_ring_sqe(struct rw_ring *r, int *err);

/* Submit what is queued and wait until at least one CQE is ready or timeout_ms
 * passes (timeout_ms 0: do not wait; < 0: wait without limit). Returns 0,
 * or -errno other than ETIME/EINTR. */
int rw_ring_submit_wait(struct rw_ring *r, int timeout_ms);

/* Copy up to `max` ready CQEs into `out` and mark them seen, so that a nested
 * loop turn (a blocking send inside an event) never sees them again. */
unsigned rw_ring_reap(struct rw_ring *r, struct io_uring_cqe *out, unsigned max);

/* SQEs prepared and not yet submitted; CQEs ready to reap. */
unsigned rw_ring_sq_ready(struct rw_ring *r);
unsigned rw_ring_cq_ready(struct rw_ring *r);
/* The SQ's size and its free entries. */
unsigned rw_ring_sq_entries(struct rw_ring *r);
unsigned rw_ring_sq_space_left(struct rw_ring *r);

/* Sleep until a completion may be ready or timeout_ms passes (< 0: no
 * limit), submitting nothing and touching neither queue: another thread may
 * prepare SQEs meanwhile (Workers). With io_uring it waits for a CQE; with
 * epoll for readiness only, so the caller then runs rw_ring_submit_wait(r, 0)
 * under its lock to turn readiness into CQEs. Returns 0 or -errno. */
int rw_ring_wait(struct rw_ring *r, int timeout_ms);

/* Install an ordinary fd into fixed-file slot `slot` (synchronous register
 * update); fd -1 empties the slot. The table takes `fd` in every case: the
 * caller must not use or close it afterwards (the io_uring backend closes
 * its copy once registered, the epoll backend keeps it as the slot).
 * Returns 0 or -errno. */
int rw_ring_install_fd(struct rw_ring *r, unsigned slot, int fd);

/* The same without a syscall of its own: with io_uring it queues a
 * FILES_UPDATE SQE hard-linked to a CLOSE of the fd, which the next submit
 * issues before any later SQE (so a receive or send queued after it finds
 * the slot filled). `*fd` is read when the SQE is issued: it must stay
 * unchanged until the next submit. The epoll backend installs at once. The
 * table takes the fd in every case, as with rw_ring_install_fd; the two
 * SQEs complete with user_data 0. Returns 0 or -errno (no SQE: the fd is
 * closed and the slot left empty). */
int rw_ring_install_fd_queued(struct rw_ring *r, unsigned slot, const int *fd);

#endif
