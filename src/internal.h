/* src/internal.h: the engine's shared structures (loop, connection, send queue,
 * server) and the rw__ functions that connect src/ files. Nothing here is
 * public. */
#ifndef RW_SRC_INTERNAL_H
#define RW_SRC_INTERNAL_H

#include "ringworks/ringworks.h"
#include "uring/ring.h"
#include "uring/bufring.h"
#include "proto/framer.h"
#include "proto/addr_match.h"
#include "tls_filter.h"
#include "conn_slab.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define RW_SLOT_BITS 24
#define RW_SLOT_MASK ((1u << RW_SLOT_BITS) - 1)
#define RW_MAX_TEXT_ADDR 64

/* ---- user_data tagging: pointer | op (3 low bits; every target is 16-byte aligned) */
enum rw_op {
	RW_OP_ACCEPT = 1, /* target: struct rw_listener */
	RW_OP_RECV = 2,   /* target: struct rw_conn */
	RW_OP_SEND = 3,   /* target: struct rw_send_op */
	RW_OP_CLOSE = 4,  /* target: struct rw_conn */
	RW_OP_CANCEL = 5, /* target: struct rw_conn (or listener); result ignored */
	RW_OP_READ = 6,   /* target: struct rw_conn (file streaming) */
	RW_OP_LCANCEL = 7 /* target: struct rw_listener */
};
#define RW_UD(ptr, op) ((uint64_t)(uintptr_t)(ptr) | (uint64_t)(op))
#define RW_UD_PTR(ud) ((void *)(uintptr_t)((ud) & ~(uint64_t)7))
#define RW_UD_OP(ud) ((unsigned)((ud) & 7))
/* Op tag 0 with a non-NULL target: a component with its own engine on the
 * loop (DTLSServer). The target is 8-byte aligned and its first member is its
 * CQE handler, so the loop needs no tag per component. */
typedef void (*rw_cqe_fn)(void *target, const struct io_uring_cqe *cqe);

/* Such a component registers with the loop: `turn` runs once per loop turn
 * after the CQEs (its timers and deferred events), and the loop wakes no
 * later than wake_ms (0: no wish) to run it. */
struct rw_loop_client {
	struct rw_loop_client *next;
	void (*turn)(struct rw_loop_client *c, int64_t now_ms);
	int64_t wake_ms;
};

struct rw_tcpserver;
struct rw_conn;

/* A protocol layer over the byte stream (WSServer): when a server has one,
 * received plaintext goes to it instead of the framer and DataIn. It returns
 * the bytes it consumed like rw_framer_feed (fewer when it paused or closed
 * the connection; the engine holds the rest and feeds it again later). It may
 * unmask in place: the bytes are the engine's own buffers. */
typedef ssize_t (*rw_input_fn)(struct rw_conn *c, uint8_t *data, size_t len);

/* ---- send queue ---------------------------------------------------------- */
/* RING: bytes sent from where they were received (a provided buffer the
 * chunk holds a reference on) instead of a copy; HEAP: bytes inside a heap
 * buffer adopted from a layer (rw__lend_begin), freed with the chunk. Both
 * count like COPY. */
enum rw_chunk_kind { RW_CHUNK_COPY, RW_CHUNK_OWNED, RW_CHUNK_FILE, RW_CHUNK_RING, RW_CHUNK_HEAP };

struct rw_chunk {
	struct rw_chunk *next;
	uint8_t *data;     /* COPY: inline storage; OWNED: caller memory; FILE: read buffer;
	                    * RING: inside receive buffer `bid`; HEAP: inside `arg` */
	uint32_t off, len; /* unsent bytes are data[off, len) */
	uint32_t cap;
	uint8_t kind;
	uint16_t bid;     /* RING */
	uint16_t zc_refs; /* zero-copy sends whose notification has not come yet */
	bool consumed;    /* fully sent; released when zc_refs drops to 0 */
	/* OWNED */
	void (*release)(const void *data, void *arg);
	void *arg;
	/* FILE */
	int fd;
	int64_t file_left; /* bytes of the file not yet read */
	uint64_t file_off;
	bool read_inflight;
	_Alignas(16) uint8_t inline_data[];
};

struct rw_chunk_pool {
	struct rw_chunk *tiny_free, *small_free, *large_free;
	unsigned tiny_n, small_n, large_n;
};

/* COPY chunk sizes. TINY holds one small message sent on an idle queue (a
 * ping-pong echo): a burst of thousands of connections each echoing 64 B then
 * costs 352 B of heap per send in flight instead of 2 KiB, and the heap keeps
 * what a burst needed. A queue that already holds bytes grows in SMALL chunks,
 * so a backlog of small messages still goes out in few, large iovecs. */
#define RW_CHUNK_TINY 256u
#define RW_CHUNK_SMALL 2048u
#define RW_CHUNK_LARGE 32768u
/* Receive buffers kept in the ring at least (uring/bufring.h, adaptive): 64
 * x 16 KiB stay in the cache where 1,024 cycling did not (100 connections
 * echoing 16 KiB: 13.6 instead of 14.6 us of server CPU per message). */
#define RW_RECV_RING_MIN 64u
#define RW_FILE_BUF (256u * 1024u)
#define RW_SEND_IOV 16

/* One send in flight for a connection; pooled, so a send costs no allocation. */
struct rw_send_op {
	_Alignas(16) struct rw_conn *conn;
	struct rw_send_op *next_free;
	/* Zero copy: the chunks this send references, each holding a zc_ref
	 * until the notification CQE (which may come after a later send's). */
	struct rw_chunk *zc_chunks[RW_SEND_IOV];
	int nzc;
	bool zc;
	struct msghdr msg;
	struct iovec iov[RW_SEND_IOV];
};

/* ---- connection -------------------------------------------------------- */
enum {
	RW_C_EXPOSED = 1u << 0,      /* Connected fired: Disconnected is owed */
	RW_C_CLOSING = 1u << 1,      /* close requested; no more sends accepted */
	RW_C_PAUSED = 1u << 2,       /* PauseData */
	RW_C_RECV_ARMED = 1u << 3,   /* a multishot recv is in flight */
	RW_C_SEND_INFLIGHT = 1u << 4,
	RW_C_WOULDBLOCK = 1u << 5,   /* ReadyToSend owed once the queue drains */
	RW_C_IN_DATAIN = 1u << 6,    /* a DataIn for this connection is running */
	RW_C_LINGER = 1u << 7,       /* Linger at accept time */
	RW_C_ON_FLUSH = 1u << 8,     /* on the loop's flush list */
	RW_C_ON_DEFER = 1u << 9,     /* on the loop's deferred list */
	RW_C_RESUME = 1u << 10,      /* ProcessData: deliver held data, re-arm */
	RW_C_DISC_OWED = 1u << 11,   /* Disconnected to fire in the deferred phase */
	RW_C_CLOSE_SENT = 1u << 12,  /* the close SQE is submitted */
	RW_C_CLOSED = 1u << 13,      /* the close CQE arrived */
	RW_C_INTERRUPT = 1u << 14,   /* Interrupt() for a blocking send */
	RW_C_EOF = 1u << 15,         /* the peer closed its side */
	RW_C_ABORT = 1u << 16,       /* close abortively (reset, drop the queue) */
	RW_C_GONE = 1u << 17,        /* Disconnected fired: the id is invalid */
	RW_C_TLS_OPEN = 1u << 18,    /* the TLS handshake completed */
	RW_C_TLS_SWITCH = 1u << 19,  /* StartSSL inside DataIn: the rest of the bytes are TLS */
	RW_C_TLS_IMPLICIT = 1u << 20,/* Connected + ReadyToSend wait for the handshake */
};

struct rw_addr {
	uint8_t family; /* AF_INET / AF_INET6 */
	uint16_t port;
	uint8_t bytes[16];
};

/* A connection, as every open one needs it: laid out without holes, 160 B,
 * from the loop's slab (conn_slab.h). What only some connections need at a
 * time lives in the extension below. The slot number is the low RW_SLOT_BITS
 * of the id. */
struct rw_conn {
	_Alignas(16) struct rw_tcpserver *srv;
	rw_connid id;
	uint32_t flags;
	int32_t status;             /* Disconnected status code */
	uint16_t inflight;
	uint16_t files_pending;     /* FILE chunks queued (SendFile) */
	uint32_t sq_bytes;          /* copied bytes queued (counts against SendQueueLimit) */
	struct rw_chunk *sq_head, *sq_tail;
	int64_t bytes_sent;         /* BytesSent of the last send call */
	int64_t last_active;        /* loop clock, ms */
	int32_t idle_timeout;       /* seconds */
	int32_t timeout;            /* seconds; > 0 = blocking sends */
	void *user_data;
	struct rw_send_op *send_op; /* the send in flight, for cancellation */
	struct rw_tls *tls;         /* NULL for plaintext */
	struct rw_conn *live_prev, *live_next; /* the server's live list, oldest first */
	struct rw_conn *flush_next, *defer_next;
	struct rw_conn_ext *ext;    /* NULL while nothing rare is in use */
	struct rw_addr peer;
	uint8_t local;              /* index in the server's local addresses; RW_LOCAL_EXT: ext->local */
	uint16_t slab_tag;          /* for rw__slab_put: where in its slab the object is */
	/* The server's layer_size bytes of protocol-layer state follow (rw__conn_layer). */
};
_Static_assert(sizeof(struct rw_conn) % 16 == 0, "the layer after a connection is 16-byte aligned");
_Static_assert(sizeof(struct rw_conn) <= 160, "every open connection pays for each byte here: put rare state in rw_conn_ext");

/* The protocol layer's per-connection state (WSServer): the server's
 * layer_size bytes right after the connection, in the same allocation,
 * zeroed when the connection is made and valid until it is freed. */
static inline void *rw__conn_layer(const struct rw_conn *c)
{
	return (uint8_t *)(uintptr_t)c + sizeof(struct rw_conn);
}

static inline uint32_t rw__conn_slot(const struct rw_conn *c)
{
	return (uint32_t)(c->id & RW_SLOT_MASK);
}

/* The rare part of a connection (conn_ext.c): allocated when first needed
 * (rw__conn_ext), freed when nothing in it is in use any more
 * (rw__conn_ext_trim), so an idle raw-mode connection has none and raw-mode
 * echo never touches it. Without it a connection is in raw mode with the
 * server's MaxLineLength, holds no bytes and awaits no PROXY header. */
struct rw_conn_ext {
	rw_framer framer;           /* line modes, RecordLength, its own MaxLineLength */
	uint8_t *held;              /* received bytes withheld while paused */
	uint32_t held_len, held_cap;
	int64_t close_deadline;     /* lingering close gives up at this time (ms) */
	const char *status_text;    /* Disconnected's text, when not rw_strerror(status) */
	struct rw_proxy_state *proxy; /* ProxyProtocol: header still awaited (conn_proxy.c) */
	struct rw_addr local;       /* when the server's table of local addresses is full */
};

/* Local addresses: a connection keeps the index of its local address in its
 * server's table (one entry per address the listener was reached at); past
 * RW_LOCAL_MAX distinct addresses it keeps the address in its extension. */
#define RW_LOCAL_MAX 255u
#define RW_LOCAL_EXT 255u

/* ---- listener and loop --------------------------------------------------- */
/* One accept in flight, with room for the peer's address it returns (the
 * CQE's user_data points here). With io_uring the listener keeps
 * RW_ACCEPTS single-shot accepts in flight (their poll wakes one at a
 * time), so that no getpeername is needed; the epoll backend runs one
 * multishot accept (cells[0], without addresses). `fd` holds an accepted
 * socket until its queued install into the fixed-file table is issued. */
#define RW_ACCEPTS 32
struct rw_accept {
	_Alignas(8) struct rw_listener *ls;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} addr;
	socklen_t len;
	int fd;
	unsigned gen;   /* the listener's generation it was armed in */
	bool busy;      /* its SQE is in flight */
	bool has_addr;  /* single-shot: the kernel fills addr */
};

/* The socket options a listening socket passes on to the sockets it accepts
 * (Linux copies them; test_tcp_accept checks it): set once on the listener,
 * and on a connection only where the settings changed since. */
struct rw_sockopts {
	bool nodelay, keep_alive, linger;
	int keepalive_time_ms, keepalive_interval_ms;
	int rcvbuf, sndbuf;
};

struct rw_listener {
	_Alignas(16) struct rw_tcpserver *srv;
	int fd;
	unsigned accepts; /* accepts in flight (a stopped one may end after a restart) */
	bool stopping;
	bool any_addr;      /* bound to a wildcard address: ask each connection's local address */
	bool starved;       /* an accept ran out of descriptors or memory: paused until the sweep */
	struct rw_addr local; /* the bound address and port */
	struct rw_sockopts opts; /* what the listening socket passes on */
	unsigned inflight;
	unsigned gen;       /* listening sockets opened so far */
	struct rw_accept cells[RW_ACCEPTS];
};

/* A heap buffer whose bytes an event is delivering, which one send of those
 * bytes may adopt instead of copying (then `taken`, and the deliverer must
 * not free it). */
struct rw_lend {
	uint8_t *base;
	size_t len;
	bool taken;
};

struct rw_loop {
	struct rw_ring ring;
	struct rw_bufring bufring;
	bool ring_ok;
	bool owned_by_server; /* created implicitly by a server */
	int depth;            /* nested turns (blocking sends inside events) */
	int64_t now_ms;
	int64_t next_sweep_ms;
	struct rw_conn **slots;   /* fixed-file slot -> connection */
	uint32_t *free_slots;     /* stack of free slot numbers */
	uint32_t free_count, slot_count;
	struct rw_conn *flush_head;
	struct rw_conn *defer_head, *defer_tail;
	struct rw_chunk_pool pool;
	struct rw_send_op *free_ops;
	unsigned free_op_count;
	struct rw_slab_cache *conn_caches; /* connection objects (conn_slab.h) */
	unsigned share;               /* see rw__loop_create */
	struct rw_tcpserver *servers; /* servers attached to this loop */
	unsigned server_count;
	struct rw_loop_client *clients; /* other components (DTLSServer) */
	rw_loop_options opts;         /* opts.backend: the backend in use once created */
	const char *fallback;         /* why auto fell back to epoll, until a server logs it */
	/* A worker's loop (workers.c) waits through this hook, which lets go of
	 * the worker's lock while the thread sleeps in the kernel. */
	int (*wait_hook)(struct rw_loop *l, int timeout_ms);
	void *wait_arg;
	struct rw_lend lend; /* a heap buffer a DataIn is delivering (sendq.c) */
};

/* ---- server -------------------------------------------------------------- */
struct rw_tcp_settings {
	int backlog;
	uint8_t default_eol[RW_FRAMER_EOL_MAX];
	uint8_t default_eol_len;
	int default_idle_timeout, default_max_line, default_timeout;
	bool default_single_line, keep_alive, linger;
	char *local_host;
	int local_port;
	/* Config */
	int max_connections;
	char *allowed_text, *blocked_text;
	rw_addr_list allowed, blocked;
	bool bind_exclusively, reuse_port, tcp_nodelay;
	int use_ipv6;
	int in_buffer_size, out_buffer_size;
	int keepalive_time_ms, keepalive_interval_ms;
	uint32_t send_queue_limit;
	int linger_timeout;
	uint32_t zero_copy_threshold;
	int do_events_timeout;
	int log_level;
	int default_connection_timeout;
	int proxy_protocol;         /* ProxyProtocol: 0 off, 1 v1, 2 v2, 3 auto */
	/* TLS */
	int ssl_start_mode;
	int ssl_cert_store_type;
	uint8_t *ssl_cert_store;
	size_t ssl_cert_store_len;
	char *ssl_cert_subject;
	char *ssl_cert_store_password;
	int ssl_protocols;
	char *ssl_alpn;
	char *ssl_cipher_suites;
	char *ssl_keylog_file;
	char *ssl_groups13, *ssl_groups12;
	char *ssl_sigalgs13, *ssl_sigalgs12; /* NULL: wolfSSL's defaults */
	bool ssl_renegotiation;
	int ssl_cipher_strength;   /* SSLCipherStrength: minimum bulk key bits, 0 = any */
	uint8_t *ssl_cert_der;     /* SSLCertEncoded, decoded; NULL = unset */
	size_t ssl_cert_der_len;
	bool ssl_authenticate_clients;
	char *ssl_client_ca_certs, *ssl_ca_file;
};

struct rw_tcpserver {
	struct rw_loop *loop;
	bool own_loop;
	rw_tcpserver_events ev;
	void *user;
	struct rw_tcp_settings set;
	rw_loop_options loop_opts; /* for a loop the server creates */
	struct rw_listener listener;
	bool listening;
	int bound_port;
	int64_t next_seq;
	int conn_count;           /* exposed, not yet Disconnected */
	uint32_t open_count;      /* connection structs alive (incl. closing) */
	int64_t rejected;
	struct rw_conn *live_head, *live_tail;
	struct rw_tcpserver *loop_next;
	bool freeing;             /* suppress events */
	struct rw_conn *disc_firing; /* the connection whose Disconnected is running */
	bool idle_sweep_needed;
	struct rw_tls_ctx *tls_ctx;     /* loaded at start_listening when SSL is on */
	struct rw_tls_alt *tls_alts;    /* certificates chosen in SSLConnectionRequest */
	char ssl_subject[256];          /* the selected certificate's subject */
	int64_t drain_deadline;         /* rw_tcpserver_drain: reset what is left then (ms) */
	rw_input_fn input;              /* a protocol layer (WSServer), or NULL */
	void *layer;                    /* its server object */
	uint32_t layer_size;            /* its state per connection (rw__conn_layer); fixed
	                                 * before the first connection */
	struct rw_addr *locals;         /* local addresses of connections (RW_LOCAL_MAX) */
	uint32_t local_count;
	/* Workers=N (workers.h). The public object: its workers, and how to make
	 * them (NULL: TCPServer's). A worker server: its worker, the object's
	 * live-connection count and MaxConnections (shared by all workers), and
	 * the step of its connection numbering. */
	int workers_wanted;
	struct rw_workers *workers;
	const struct rw_worker_kind *worker_kind;
	struct rw_worker *worker;
	int *shared_live;
	int shared_max;
	int64_t seq_step;
};

/* MaxConnections: this server's count, and across the workers of one object. */
static inline bool rw__conn_limit_reached(const struct rw_tcpserver *s)
{
	return s->conn_count >= s->set.max_connections ||
	       (s->shared_live && __atomic_load_n(s->shared_live, __ATOMIC_RELAXED) >= s->shared_max);
}

static inline void rw__conn_count_add(struct rw_tcpserver *s, int d)
{
	s->conn_count += d;
	if (s->shared_live)
		__atomic_add_fetch(s->shared_live, d, __ATOMIC_RELAXED);
}

/* ---- rw__ functions -------------------------------------------------------- */
/* error.c */
int rw__errno(int err); /* negative errno -> negative documented code */

/* loop.c */
/* `share`: how many rings one server spreads over (its worker count, else
 * 1). The default receive buffer count and the pools a ring keeps are split
 * by it, so that N workers together hold about what one ring does. */
int rw__loop_create(struct rw_loop **out, const rw_loop_options *opts, unsigned share);
void rw__loop_attach(struct rw_loop *loop, struct rw_tcpserver *s);
void rw__loop_detach(struct rw_loop *loop, struct rw_tcpserver *s);
void rw__loop_add_client(struct rw_loop *loop, struct rw_loop_client *c);
void rw__loop_remove_client(struct rw_loop *loop, struct rw_loop_client *c);
int rw__loop_turn(struct rw_loop *loop, int timeout_ms);
struct io_uring_sqe *rw__sqe(struct rw_loop *loop);
void rw__defer(struct rw_loop *loop, struct rw_conn *c);
void rw__flush_later(struct rw_loop *loop, struct rw_conn *c);
int64_t rw__now_ms(void);
int rw__slot_alloc(struct rw_loop *loop, uint32_t *slot);
void rw__slot_free(struct rw_loop *loop, uint32_t slot);

/* backend.c: open the loop's ring and buffer ring on the backend its
 * options (or RINGWORKS_BACKEND) ask for; auto falls back to epoll where
 * io_uring is refused. Returns 0 or a negative documented code. */
int rw__ring_open(struct rw_loop *loop);
const char *rw__backend_reason(void);
const char *rw__backend_name(unsigned backend);
/* The fallback reason once (NULL afterwards, or without a fallback): the
 * first server that starts on the loop logs it. */
const char *rw__loop_take_fallback(struct rw_loop *loop);
/* Config("Backend[=auto|uring|epoll]"): sets *field while there is no loop;
 * reads the loop's backend once there is one (value NULL: a read). */
int rw__backend_config(unsigned *field, const struct rw_loop *loop, const char *value, char *out,
                       size_t out_len);

/* sendq.c */
void rw__pool_free_all(struct rw_chunk_pool *pool);
uint32_t rw__sendq_append(struct rw_loop *loop, struct rw_conn *c, const uint8_t *data, uint32_t len);
int rw__sendq_append_owned(struct rw_conn *c, const void *data, size_t len,
                           void (*release)(const void *, void *), void *arg);
int rw__sendq_append_file(struct rw_conn *c, int fd, int64_t size);
void rw__chunk_release(struct rw_loop *loop, struct rw_chunk *ch);
/* Offer malloc'd `base` to the sends of the event about to fire; returns the
 * previous offer (nested turns), for rw__lend_end, which says whether a send
 * took the buffer (else the caller still owns it). */
struct rw_lend rw__lend_begin(struct rw_loop *loop, uint8_t *base, size_t len);
bool rw__lend_end(struct rw_loop *loop, struct rw_lend prev);
void rw__sendq_clear(struct rw_loop *loop, struct rw_conn *c);
struct rw_send_op *rw__send_op_get(struct rw_loop *loop);
void rw__send_op_put(struct rw_loop *loop, struct rw_send_op *op);

/* conn_io.c */
void rw__conn_arm_recv(struct rw_conn *c);
void rw__conn_on_recv(struct rw_conn *c, const struct io_uring_cqe *cqe);
void rw__conn_flush(struct rw_conn *c);
void rw__conn_on_send(struct rw_send_op *op, const struct io_uring_cqe *cqe);
void rw__conn_on_read(struct rw_conn *c, const struct io_uring_cqe *cqe);
void rw__conn_deliver_held(struct rw_conn *c);

/* conn_life.c */
struct rw_conn *rw__conn_new(struct rw_tcpserver *s, uint32_t slot);
void rw__conn_close(struct rw_conn *c, int status, const char *text, bool abortive);
void rw__conn_start_close(struct rw_conn *c);
void rw__conn_cancel(struct rw_conn *c, uint64_t target);
void rw__conn_on_close(struct rw_conn *c, const struct io_uring_cqe *cqe);
void rw__conn_deferred(struct rw_conn *c);
void rw__conn_maybe_free(struct rw_conn *c);
void rw__conn_pause(struct rw_conn *c);
void rw__conn_sweep(struct rw_tcpserver *s, int64_t now);
struct rw_conn *rw__conn_find(const struct rw_tcpserver *s, rw_connid id);
void rw__conn_destroy_now(struct rw_conn *c);

/* conn_ext.c: the extension. rw__conn_ext returns it, allocating it (raw
 * mode, the server's MaxLineLength) when there is none; NULL: out of memory.
 * rw__conn_ext_trim frees it when nothing in it is in use (never inside the
 * connection's DataIn, nor once it is closing). */
struct rw_conn_ext *rw__conn_ext(struct rw_conn *c);
void rw__conn_ext_trim(struct rw_conn *c);
void rw__conn_ext_free(struct rw_conn *c);
static inline uint32_t rw__conn_held_len(const struct rw_conn *c)
{
	return c->ext ? c->ext->held_len : 0;
}
/* The framer's settings for reading: the extension's, or raw mode's. */
void rw__conn_framer_view(const struct rw_conn *c, rw_framer *out);
/* Disconnected's description; the close's text when it is not the code's own. */
const char *rw__conn_status_text(const struct rw_conn *c);
int rw__conn_set_status_text(struct rw_conn *c, const char *text);
/* A lingering close's deadline (ms); 0 when none. Setting it can fail: -RW_ENOMEM. */
int64_t rw__conn_close_deadline(const struct rw_conn *c);
int rw__conn_set_close_deadline(struct rw_conn *c, int64_t at);
/* The connection's local address: its index in the server's table, or in the
 * extension when the table is full. Setting it can fail: -RW_ENOMEM. */
int rw__conn_set_local(struct rw_conn *c, const struct rw_addr *a);
const struct rw_addr *rw__conn_local(const struct rw_conn *c);

/* conn_tls.c */
int rw__conn_tls_start(struct rw_conn *c, bool implicit);
void rw__conn_tls_input(struct rw_conn *c, const uint8_t *data, size_t len);
void rw__conn_tls_switch(struct rw_conn *c, const uint8_t *rest, size_t len);
void rw__conn_tls_sweep(struct rw_conn *c, int64_t now);
/* SendFile over TLS: encrypt the block just read into the FILE chunk. */
void rw__conn_tls_file_block(struct rw_conn *c, struct rw_chunk *file);
int rw__conn_accept_plain(struct rw_conn *c, const uint8_t *data, size_t len);
void rw__conn_peer_eof(struct rw_conn *c);

/* tcpserver_ssl.c */
int rw__ssl_ctx_load(struct rw_tcpserver *s);
/* tcpserver_ssl.c: a certificate as the SSLCert* settings describe it
 * (-RW_ENOT_SUPPORTED for other store types), the cached context for an
 * alternative one (SSLConnectionRequest), and freeing every context. */
int rw__ssl_cert_spec(struct rw_tls_cert *cert, int type, const void *store, size_t len, const char *password,
                      const char *subject);
int rw__ssl_alt_ctx(struct rw_tcpserver *s, const struct rw_tls_cert *cert, struct rw_tls_ctx **out);
void rw__ssl_ctxs_free(struct rw_tcpserver *s);
void rw__ssl_settings_free(struct rw_tcp_settings *st);

/* listener.c */
int rw__listener_start(struct rw_tcpserver *s);
void rw__listener_stop(struct rw_tcpserver *s);
/* ConnectionBacklog set while listening: the listening socket's accept queue
 * takes the new size at once (0, or -errno of listen()). */
int rw__listener_set_backlog(struct rw_tcpserver *s);
/* Once a second (the loop's sweep): accepting resumes after a pause for lack
 * of descriptors or memory. */
void rw__listener_sweep(struct rw_tcpserver *s);
void rw__listener_on_accept(struct rw_accept *a, const struct io_uring_cqe *cqe);
void rw__listener_on_cancel(struct rw_listener *l, const struct io_uring_cqe *cqe);
int rw__addr_text(const struct rw_addr *a, char *buf, size_t len);
/* Allowed/BlockedClients + ConnectionRequest for `peer`; and exposing an
 * admitted connection (Connected + ReadyToSend, or the implicit TLS start). */
bool rw__listener_request(struct rw_tcpserver *s, const struct rw_addr *peer);
void rw__listener_expose(struct rw_conn *c);

/* conn_proxy.c: ProxyProtocol. The hook: listener.c's admit() calls
 * proxy_begin instead of ConnectionRequest/expose when the setting is on;
 * while c->proxy is set, conn_io.c sends received bytes to proxy_input
 * (before TLS and the framer) and EOF to proxy_eof, and the sweep calls
 * proxy_sweep (header timeout). proxy_input exposes the connection with the
 * header's address and passes on the bytes after the header. */
int rw__proxy_config(struct rw_tcpserver *s, const char *value, char *out, size_t out_len);
int rw__conn_proxy_begin(struct rw_conn *c);
void rw__conn_proxy_input(struct rw_conn *c, const uint8_t *data, size_t len);
void rw__conn_proxy_eof(struct rw_conn *c);
void rw__conn_proxy_sweep(struct rw_conn *c, int64_t now);

/* tcpserver events (tcpserver_events.c) */
void rw__fire_connected(struct rw_conn *c, int status, const char *text);
void rw__fire_ready(struct rw_conn *c);
void rw__fire_disconnected(struct rw_conn *c);
void rw__fire_error(struct rw_tcpserver *s, rw_connid id, int code, const char *text);
void rw__fire_ssl_status(struct rw_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rw__log(struct rw_tcpserver *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* tcpserver_config.c */
int rw__strset(char **field, const char *value); /* replace a heap string; 0 or -RW_ENOMEM */
void rw__settings_defaults(struct rw_tcp_settings *st);
void rw__settings_free(struct rw_tcp_settings *st);

#include "workers.h"

#endif
