/* uring/emu.h: the epoll backend, an emulation of the io_uring subset the
 * engine uses, for machines where io_uring_setup is refused (a container's
 * seccomp profile, kernel.io_uring_disabled, an old kernel).
 *
 * Design: rw_ring keeps one interface. With the emulation, SQEs come from a
 * user-space array; "submitting" issues each one in order (a send or a file
 * read is tried at once with a non-blocking syscall; accept and receives
 * wait), epoll_wait (level-triggered) reports readiness, the waiting requests
 * run, and every result becomes a CQE in a user-space completion queue that
 * rw_ring_reap drains. The engine above cannot tell the difference:
 *   - multishot accept and recv/recvmsg post CQEs with IORING_CQE_F_MORE and
 *     end like the kernel's (-ENOBUFS when the provided-buffer ring is dry,
 *     res 0 at EOF, an error, or -ECANCELED);
 *   - buffers are taken from the very io_uring_buf_ring memory uring/bufring.h
 *     fills (head kept here, as the kernel keeps it), so only the kernel
 *     registration is skipped;
 *   - the fixed-file table is a slot -> fd array owned by the emulation;
 *   - a send posts what the socket took (a partial count, as the kernel's
 *     non-MSG_WAITALL send does); SEND_ZC / SENDMSG_ZC are plain sends whose
 *     result carries F_MORE, followed by the F_NOTIF CQE;
 *   - a cancel by user_data completes the target with -ECANCELED, then itself
 *     with 0 (or -ENOENT when nothing matched);
 *   - a request on an ordinary fd that must wait (accept, a UDP receive, a
 *     send the socket cannot take yet) holds its own dup of the fd, as the
 *     kernel holds a file reference: the caller may close its fd meanwhile.
 * Requests on one socket keep their order (receives in arrival order; sends
 * FIFO); data is always reported before EOF.
 *
 * Nothing here calls back into the caller; everything happens inside
 * rw_emu_flush / rw_emu_submit_wait. Functions return 0/positive or -errno.
 */
#ifndef RW_URING_EMU_H
#define RW_URING_EMU_H

#include <liburing.h>
#include <stdint.h>

struct rw_emu;

int rw_emu_init(struct rw_emu **out, unsigned entries, unsigned fixed_files);
void rw_emu_exit(struct rw_emu *e);

/* The next free SQE, or NULL when the SQ array is full (rw_emu_flush it). */
struct io_uring_sqe *rw_emu_sqe(struct rw_emu *e);
unsigned rw_emu_sq_ready(const struct rw_emu *e);
unsigned rw_emu_sq_entries(const struct rw_emu *e);

/* Issue the queued SQEs (no waiting). */
void rw_emu_flush(struct rw_emu *e);

/* Issue the queued SQEs, then wait for readiness up to timeout_ms (not at
 * all when CQEs are ready; < 0 without limit) and run the requests it
 * concerns. Returns 0 or -errno. */
int rw_emu_submit_wait(struct rw_emu *e, int timeout_ms);

unsigned rw_emu_reap(struct rw_emu *e, struct io_uring_cqe *out, unsigned max);
unsigned rw_emu_cq_ready(const struct rw_emu *e);

/* Block in epoll_wait until something is ready or timeout_ms passes, and
 * nothing else: it reads only the epoll fd, so another thread may prepare
 * SQEs meanwhile. The readiness is not consumed (level-triggered): the next
 * rw_emu_submit_wait finds it again. */
int rw_emu_wait(struct rw_emu *e, int timeout_ms);

/* Put `fd` into fixed-file slot `slot` (fd -1: empty the slot). The table
 * owns the fd from then on (closed by close_direct, replacement or exit). */
int rw_emu_install_fd(struct rw_emu *e, unsigned slot, int fd);

/* Buffer group `bgid` is the ring `br` of `count` entries (a power of two). */
int rw_emu_register_bufring(struct rw_emu *e, uint16_t bgid, struct io_uring_buf_ring *br,
                            unsigned count);
void rw_emu_unregister_bufring(struct rw_emu *e, uint16_t bgid);

#endif
