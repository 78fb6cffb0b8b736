/* uring/ring.h: io_uring setup with flag fallbacks, opcode probing, SQE
 * acquisition that never fails while the kernel accepts submissions, and the
 * batched submit-and-wait of one loop turn.
 *
 * This layer knows fds, SQEs and CQEs only; every function returns 0/positive or
 * a negative errno.
 */
#ifndef RW_URING_RING_H
#define RW_URING_RING_H

#include <liburing.h>
#include <stdbool.h>

struct rw_ring {
	struct io_uring uring;
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
void rw_ring_exit(struct rw_ring *r);

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

/* Install an ordinary fd into fixed-file slot `slot` (synchronous register
 * update). Returns 0 or -errno. The caller still owns and closes `fd`. */
int rw_ring_install_fd(struct rw_ring *r, unsigned slot, int fd);

#endif
