/* uring/emu.c: the epoll emulation's queues (SQ array, growing CQ), the
 * fixed-file table, issuing SQEs, readiness (level-triggered epoll) and
 * cancellation. The requests themselves run in emu_ops.c. See emu.h. */
#include "emu_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EMU_EVENTS 256
/* Per readiness report: attempts before the next file gets its turn (level
 * triggering brings the rest back at the next wait). */
#define EMU_RX_BUDGET 16
#define EMU_TX_BUDGET 64

int rw_emu_init(struct rw_emu **out, unsigned entries, unsigned fixed_files)
{
	struct rw_emu *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0) {
		int err = -errno;
		free(e);
		return err;
	}
	e->sq_cap = entries ? entries : 1;
	e->cq_cap = e->sq_cap * 2;
	e->slot_count = fixed_files;
	e->sq = calloc(e->sq_cap, sizeof(*e->sq));
	e->cq = malloc(e->cq_cap * sizeof(*e->cq));
	e->slots = fixed_files ? calloc(fixed_files, sizeof(*e->slots)) : NULL;
	if (!e->sq || !e->cq || (fixed_files && !e->slots)) {
		rw_emu_exit(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

/* ---- completions ----------------------------------------------------------- */

void rw__emu_post(struct rw_emu *e, uint64_t user_data, int res, uint32_t flags)
{
	if (e->cq_tail == e->cq_cap) {
		if (e->cq_head) {
			memmove(e->cq, e->cq + e->cq_head, (e->cq_tail - e->cq_head) * sizeof(*e->cq));
			e->cq_tail -= e->cq_head;
			e->cq_head = 0;
		} else {
			struct io_uring_cqe *cq = realloc(e->cq, 2 * e->cq_cap * sizeof(*cq));
			if (!cq) {
				e->lost++; /* reported by rw_emu_submit_wait */
				return;
			}
			e->cq = cq;
			e->cq_cap *= 2;
		}
	}
	struct io_uring_cqe *c = &e->cq[e->cq_tail++];
	c->user_data = user_data;
	c->res = res;
	c->flags = flags;
}

unsigned rw_emu_reap(struct rw_emu *e, struct io_uring_cqe *out, unsigned max)
{
	unsigned n = 0;
	while (n < max && e->cq_head != e->cq_tail)
		out[n++] = e->cq[e->cq_head++];
	if (e->cq_head == e->cq_tail)
		e->cq_head = e->cq_tail = 0;
	return n;
}

/* ---- buffer groups ------------------------------------------------------------ */

struct emu_bufgroup *rw__emu_group(struct rw_emu *e, uint16_t bgid)
{
	for (unsigned i = 0; i < EMU_BUFGROUPS; i++)
		if (e->groups[i].used && e->groups[i].bgid == bgid)
			return &e->groups[i];
	return NULL;
}

int rw_emu_register_bufring(struct rw_emu *e, uint16_t bgid, struct io_uring_buf_ring *br,
                            unsigned count)
{
	if (!count || (count & (count - 1)) || rw__emu_group(e, bgid))
		return -EINVAL;
	for (unsigned i = 0; i < EMU_BUFGROUPS; i++) {
		struct emu_bufgroup *g = &e->groups[i];
		if (!g->used) {
			*g = (struct emu_bufgroup){.br = br, .mask = count - 1, .head = 0, .bgid = bgid, .used = true};
			return 0;
		}
	}
	return -ENOSPC;
}

void rw_emu_unregister_bufring(struct rw_emu *e, uint16_t bgid)
{
	struct emu_bufgroup *g = rw__emu_group(e, bgid);
	if (g)
		memset(g, 0, sizeof(*g));
}

/* ---- requests and files ------------------------------------------------------ */

static unsigned hash_of(uint64_t ud)
{
	return (unsigned)((ud >> 4) ^ (ud >> 17) ^ (ud >> 32)) & (EMU_HASH - 1);
}

static struct emu_op *op_new(struct rw_emu *e)
{
	struct emu_op *op = e->free_ops;
	if (op)
		e->free_ops = op->next;
	else if (!(op = malloc(sizeof(*op))))
		return NULL;
	memset(op, 0, sizeof(*op));
	return op;
}

static void op_free(struct rw_emu *e, struct emu_op *op)
{
	op->next = e->free_ops;
	e->free_ops = op;
}

static void fifo_remove(struct emu_op **head, struct emu_op **tail, struct emu_op *op)
{
	struct emu_op *prev = NULL;
	for (struct emu_op *p = *head; p; prev = p, p = p->next) {
		if (p != op)
			continue;
		if (prev)
			prev->next = p->next;
		else
			*head = p->next;
		if (*tail == p)
			*tail = prev;
		return;
	}
}

/* Take a waiting request off its file and the hash, and free it. */
void rw__emu_op_done(struct rw_emu *e, struct emu_op *op)
{
	struct emu_file *f = op->file;
	if (op->is_tx)
		fifo_remove(&f->tx_head, &f->tx_tail, op);
	else
		fifo_remove(&f->rx_head, &f->rx_tail, op);
	for (struct emu_op **pp = &e->hash[hash_of(op->user_data)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == op) {
			*pp = op->hnext;
			break;
		}
	}
	op_free(e, op);
}

static void attach(struct rw_emu *e, struct emu_file *f, struct emu_op *op)
{
	op->file = f;
	op->fd = f->fd;
	op->next = NULL;
	struct emu_op **head = op->is_tx ? &f->tx_head : &f->rx_head;
	struct emu_op **tail = op->is_tx ? &f->tx_tail : &f->rx_tail;
	if (*tail)
		(*tail)->next = op;
	else
		*head = op;
	*tail = op;
	unsigned h = hash_of(op->user_data);
	op->hnext = e->hash[h];
	e->hash[h] = op;
}

static void file_close(struct rw_emu *e, struct emu_file *f)
{
	/* Explicitly: epoll forgets a registration only when every fd of the
	 * open file is closed, and a dup shares it with the caller's fd. */
	if (f->want)
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, f->fd, NULL);
	close(f->fd);
	if (f->plain)
		e->plain_files--;
	free(f);
}

/* End every waiting request of `f` with -err. */
static void fail_all(struct rw_emu *e, struct emu_file *f, int err)
{
	while (f->rx_head || f->tx_head) {
		struct emu_op *op = f->rx_head ? f->rx_head : f->tx_head;
		rw__emu_post(e, op->user_data, -err, 0);
		rw__emu_op_done(e, op);
	}
}

/* Register what the waiting requests need. A readable interest nobody needs
 * any more is kept while `keep` has EPOLLIN (a multishot receive that ended
 * is usually re-armed at once): it is dropped when it fires for nobody. */
static void interest(struct rw_emu *e, struct emu_file *f, uint32_t keep)
{
	uint32_t want = (f->rx_head ? EPOLLIN : 0u) | (f->tx_head ? EPOLLOUT : 0u);
	want |= f->want & keep;
	if (want == f->want)
		return;
	struct epoll_event ev = {.events = want, .data.ptr = f};
	int op = !f->want ? EPOLL_CTL_ADD : want ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
	if (epoll_ctl(e->epfd, op, f->fd, &ev) == 0) {
		f->want = want;
		return;
	}
	/* Not pollable (or out of memory): nothing would ever wake these. */
	int err = errno;
	fail_all(e, f, err);
	if (f->want && epoll_ctl(e->epfd, EPOLL_CTL_DEL, f->fd, NULL) == 0)
		f->want = 0;
}

/* After requests of `f` ended: a dup that serves nobody goes, others update
 * their interest. */
static void settle(struct rw_emu *e, struct emu_file *f, uint32_t keep)
{
	if (f->plain && !f->rx_head && !f->tx_head)
		file_close(e, f);
	else
		interest(e, f, keep);
}

static struct emu_file *plain_file(struct rw_emu *e, int fd)
{
	struct emu_file *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (f->fd < 0) {
		free(f);
		return NULL;
	}
	f->plain = true;
	e->plain_files++;
	return f;
}

static int close_slot(struct rw_emu *e, unsigned slot)
{
	if (slot >= e->slot_count || !e->slots[slot])
		return -EBADF;
	struct emu_file *f = e->slots[slot];
	e->slots[slot] = NULL;
	/* The engine cancels a slot's requests before it closes the slot; any
	 * left would wait for a socket that is gone, so they end here. */
	fail_all(e, f, ECANCELED);
	file_close(e, f);
	return 0;
}

int rw_emu_install_fd(struct rw_emu *e, unsigned slot, int fd)
{
	if (slot >= e->slot_count) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	if (e->slots[slot])
		close_slot(e, slot);
	if (fd < 0)
		return 0;
	struct emu_file *f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	e->slots[slot] = f;
	return 0;
}

/* ---- issuing --------------------------------------------------------------- */

/* The cancel's own CQE comes first, then each target's -ECANCELED: the
 * kernel's order (it completes the targets through task work). */
static void cancel(struct rw_emu *e, uint64_t target, uint32_t flags, uint64_t user_data)
{
	bool all = (flags & IORING_ASYNC_CANCEL_ALL) != 0;
	int found = 0;
	for (struct emu_op *op = e->hash[hash_of(target)]; op; op = op->hnext)
		found += op->user_data == target;
	if (found > 1 && !all)
		found = 1;
	rw__emu_post(e, user_data, !found ? -ENOENT : all ? found : 0, 0);
	for (int left = found; left > 0; left--) {
		struct emu_op *op = e->hash[hash_of(target)];
		while (op->user_data != target)
			op = op->hnext;
		struct emu_file *f = op->file;
		rw__emu_post(e, target, -ECANCELED, 0);
		rw__emu_op_done(e, op);
		settle(e, f, EPOLLIN);
	}
}

static void files_update(struct rw_emu *e, const struct io_uring_sqe *s)
{
	const int *fds = (const int *)(uintptr_t)s->addr;
	int done = 0;
	for (unsigned i = 0; i < s->len; i++, done++) {
		/* The kernel takes its own reference: the caller keeps its fd. */
		int fd = fds[i] >= 0 ? fcntl(fds[i], F_DUPFD_CLOEXEC, 0) : -1;
		if (fds[i] >= 0 && fd < 0)
			break;
		if (rw_emu_install_fd(e, (unsigned)s->off + i, fd) < 0)
			break;
	}
	rw__emu_post(e, s->user_data, done ? done : -EINVAL, 0);
}

static void fill(struct emu_op *op, const struct io_uring_sqe *s)
{
	op->opcode = s->opcode;
	op->user_data = s->user_data;
	op->addr = s->addr;
	op->off = s->off;
	op->len = s->len;
	op->bgid = s->buf_group;
	op->bufsel = (s->flags & IOSQE_BUFFER_SELECT) != 0;
	switch (s->opcode) {
	case IORING_OP_ACCEPT:
		op->msg_flags = s->accept_flags;
		op->multishot = (s->ioprio & IORING_ACCEPT_MULTISHOT) != 0;
		break;
	case IORING_OP_RECV:
	case IORING_OP_RECVMSG:
		op->msg_flags = s->msg_flags;
		op->multishot = (s->ioprio & IORING_RECV_MULTISHOT) != 0;
		break;
	case IORING_OP_READ:
		break;
	default:
		op->msg_flags = s->msg_flags;
		op->is_tx = true;
		break;
	}
}

static void issue(struct rw_emu *e, const struct io_uring_sqe *s)
{
	switch (s->opcode) {
	case IORING_OP_NOP:
		rw__emu_post(e, s->user_data, 0, 0);
		return;
	case IORING_OP_ASYNC_CANCEL:
		cancel(e, s->addr, s->cancel_flags, s->user_data);
		return;
	case IORING_OP_CLOSE:
		if (s->file_index)
			rw__emu_post(e, s->user_data, close_slot(e, s->file_index - 1), 0);
		else
			rw__emu_post(e, s->user_data, close(s->fd) < 0 ? -errno : 0, 0);
		return;
	case IORING_OP_FILES_UPDATE:
		files_update(e, s);
		return;
	case IORING_OP_ACCEPT: case IORING_OP_RECV: case IORING_OP_RECVMSG:
	case IORING_OP_SEND: case IORING_OP_SENDMSG: case IORING_OP_SEND_ZC:
	case IORING_OP_SENDMSG_ZC: case IORING_OP_READ:
		break;
	default:
		rw__emu_post(e, s->user_data, -EINVAL, 0);
		return;
	}
	struct emu_file *f = NULL;
	if (s->flags & IOSQE_FIXED_FILE) {
		if (s->fd < 0 || (unsigned)s->fd >= e->slot_count || !(f = e->slots[s->fd])) {
			rw__emu_post(e, s->user_data, -EBADF, 0);
			return;
		}
	}
	struct emu_op *op = op_new(e);
	if (!op) {
		rw__emu_post(e, s->user_data, -ENOMEM, 0);
		return;
	}
	fill(op, s);
	op->fd = f ? f->fd : s->fd;
	/* Sends and reads are tried at once (the socket usually has room, a
	 * regular file is always ready), unless earlier sends on the socket
	 * still wait: order is kept. Receives and accepts, and reads of a
	 * stream (an eventfd, a pipe), wait for epoll, which this very turn
	 * asks. */
	bool now = op->opcode == IORING_OP_READ || (op->is_tx && !(f && f->tx_head));
	if (now && rw__emu_try(e, op) != EMU_AGAIN) {
		op_free(e, op);
		return;
	}
	if (!f) {
		f = plain_file(e, s->fd);
		if (!f) {
			rw__emu_post(e, s->user_data, -errno, 0);
			op_free(e, op);
			return;
		}
		/* accept4 runs until EAGAIN: the listener must not block. The flag
		 * is the open file's, shared with the caller's fd, which only
		 * this ring accepts on. */
		if (op->opcode == IORING_OP_ACCEPT)
			fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) | O_NONBLOCK);
	}
	attach(e, f, op);
	interest(e, f, EPOLLIN);
}

struct io_uring_sqe *rw_emu_sqe(struct rw_emu *e)
{
	if (e->sq_count == e->sq_cap)
		return NULL;
	struct io_uring_sqe *sqe = &e->sq[e->sq_count++];
	memset(sqe, 0, sizeof(*sqe));
	return sqe;
}

unsigned rw_emu_sq_ready(const struct rw_emu *e)
{
	return e->sq_count;
}

unsigned rw_emu_sq_entries(const struct rw_emu *e)
{
	return e->sq_cap;
}

void rw_emu_flush(struct rw_emu *e)
{
	/* Issuing never queues SQEs, so the array is stable while it runs. */
	for (unsigned i = 0; i < e->sq_count; i++)
		issue(e, &e->sq[i]);
	e->sq_count = 0;
}

/* ---- readiness ----------------------------------------------------------------- */

static void run_fifo(struct rw_emu *e, struct emu_file *f, bool tx)
{
	int budget = tx ? EMU_TX_BUDGET : EMU_RX_BUDGET;
	while (budget-- > 0) {
		struct emu_op *op = tx ? f->tx_head : f->rx_head;
		if (!op)
			return;
		enum emu_step st = rw__emu_try(e, op);
		if (st == EMU_DONE)
			rw__emu_op_done(e, op);
		else if (st != EMU_MORE)
			return;
	}
}

static void on_ready(struct rw_emu *e, struct emu_file *f, uint32_t ev)
{
	/* Errors and hang-ups wake both sides: a receive reads what is left,
	 * then EOF or the error; a send gets the error. */
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
		run_fifo(e, f, false);
	if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		run_fifo(e, f, true);
	settle(e, f, (ev & EPOLLIN) ? 0 : EPOLLIN);
}

int rw_emu_submit_wait(struct rw_emu *e, int timeout_ms)
{
	rw_emu_flush(e);
	/* Always ask epoll, even with CQEs ready (then without waiting): sends
	 * that complete at once every turn must not starve the receives. */
	if (e->cq_head != e->cq_tail)
		timeout_ms = 0;
	struct epoll_event evs[EMU_EVENTS];
	int n = epoll_wait(e->epfd, evs, EMU_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++)
		on_ready(e, evs[i].data.ptr, evs[i].events);
	if (e->lost) {
		e->lost = 0;
		return -ENOMEM;
	}
	return 0;
}

unsigned rw_emu_cq_ready(const struct rw_emu *e)
{
	return e->cq_tail - e->cq_head;
}

int rw_emu_wait(struct rw_emu *e, int timeout_ms)
{
	struct epoll_event ev;
	int n = epoll_wait(e->epfd, &ev, 1, timeout_ms);
	return n < 0 && errno != EINTR ? -errno : 0;
}

void rw_emu_exit(struct rw_emu *e)
{
	if (!e)
		return;
	for (unsigned i = 0; i < EMU_HASH; i++) {
		while (e->hash[i]) {
			struct emu_op *op = e->hash[i];
			struct emu_file *f = op->file;
			rw__emu_op_done(e, op);
			if (f->plain && !f->rx_head && !f->tx_head)
				file_close(e, f);
		}
	}
	for (unsigned i = 0; e->slots && i < e->slot_count; i++)
		if (e->slots[i])
			file_close(e, e->slots[i]);
	while (e->free_ops) {
		struct emu_op *op = e->free_ops;
		e->free_ops = op->next;
		free(op);
	}
	if (e->epfd >= 0)
		close(e->epfd);
	free(e->sq);
	free(e->cq);
	free(e->slots);
	free(e);
}
