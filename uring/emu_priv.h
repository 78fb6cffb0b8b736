/* uring/emu_priv.h: the epoll emulation's structures, shared by emu.c (queues,
 * files, epoll, cancel) and emu_ops.c (running one request). */
#ifndef RW_URING_EMU_PRIV_H
#define RW_URING_EMU_PRIV_H

#include "emu.h"

#include <stdbool.h>
#include <stddef.h>

/* One request that waits for readiness. */
struct emu_op {
	struct emu_op *next;  /* in its file's rx or tx FIFO */
	struct emu_op *hnext; /* in the user_data hash chain */
	struct emu_file *file; /* NULL while it is tried before it waits */
	int fd;                /* what an attempt uses: the file's fd, or the caller's */
	uint64_t user_data;
	uint64_t addr;
	uint64_t off; /* read: the file offset ((u64)-1: the current one) */
	uint32_t len;
	uint32_t msg_flags; /* send/recv flags; accept: the SOCK_* flags */
	uint16_t bgid;
	uint8_t opcode;
	bool multishot, bufsel, is_tx;
	bool stream; /* read: not seekable (ESPIPE), so read() once readable */
};

/* A socket with waiting requests: a fixed-file slot, or a dup of an ordinary
 * fd that belongs to the one request it serves (`plain`). */
struct emu_file {
	int fd;
	bool plain;
	uint32_t want; /* events registered with epoll (0: not registered) */
	struct emu_op *rx_head, *rx_tail; /* wait for EPOLLIN, in order */
	struct emu_op *tx_head, *tx_tail; /* wait for EPOLLOUT, in order */
};

struct emu_bufgroup {
	struct io_uring_buf_ring *br;
	unsigned mask;
	uint16_t head; /* next entry to take; the producer moves br->tail */
	uint16_t bgid;
	bool used;
};

#define EMU_BUFGROUPS 4
#define EMU_HASH 4096

struct rw_emu {
	int epfd;
	struct io_uring_sqe *sq;
	unsigned sq_cap, sq_count;
	struct io_uring_cqe *cq;
	unsigned cq_cap, cq_head, cq_tail;
	struct emu_file **slots;
	unsigned slot_count;
	struct emu_op *hash[EMU_HASH];
	struct emu_op *free_ops;
	struct emu_bufgroup groups[EMU_BUFGROUPS];
	unsigned plain_files; /* live dups (requests on ordinary fds) */
	unsigned lost;        /* CQEs dropped for want of memory */
};

/* emu.c */
void rw__emu_post(struct rw_emu *e, uint64_t user_data, int res, uint32_t flags);
void rw__emu_op_done(struct rw_emu *e, struct emu_op *op); /* unlink and free */
struct emu_bufgroup *rw__emu_group(struct rw_emu *e, uint16_t bgid);

/* emu_ops.c: what one attempt of a request did. */
enum emu_step {
	EMU_AGAIN, /* not ready: keep waiting */
	EMU_MORE,  /* posted a CQE; a multishot request goes on */
	EMU_DRAINED, /* posted a CQE; goes on, but the socket looks empty now */
	EMU_DONE   /* posted its last CQE: the caller frees it */
};
enum emu_step rw__emu_try(struct rw_emu *e, struct emu_op *op);

#endif
