/* src/ws_internal.h: WSServer's structures. A WSServer owns a TCP server
 * engine (struct rw_tcpserver) and sits where the framer and DataIn sit for
 * TCPServer: the engine hands it every received plaintext byte (after the TLS
 * filter, so wss needs nothing more) through rw_tcpserver.input, and it keeps
 * its per-connection state in the connection's own allocation (rw__ws_state).
 * It frames its sends straight into the engine's send queue, and turns the engine's events into WebSocket
 * events. */
#ifndef RW_SRC_WS_INTERNAL_H
#define RW_SRC_WS_INTERNAL_H

#include "internal.h"
#include "ringworks/wsserver.h"
#include "proto/utf8.h"
#include "proto/ws_deflate.h"
#include "proto/ws_frame.h"
#include "proto/ws_handshake.h"

#define RW_WS_SCRATCH 16384     /* inflate output (on the stack), two halves */
#define RW_WS_INFLATE_POOL 32   /* idle inflate streams kept per server */
#define RW_WS_CLOSE_WAIT_S 5    /* WaitForCloseResponse with Timeout 0 */
#define RW_WS_RX_POOL 64        /* idle receive states kept per server */
#define RW_WS_PRESIZE_MAX (1u << 20) /* a buffered message sized from its frame headers up to this */

/* Deadlines (handshake, close wait) use the engine's idle timeout with
 * input not counted as activity: rw__ws_input puts last_active back to
 * phase_start while one of those phases lasts. */

struct rw_ws_settings {
	bool buffer_message;
	uint64_t max_message;    /* 0 = unlimited */
	uint32_t max_frame;
	int disconnect_code;
	char *disconnect_desc;   /* NULL or "" = the standard text */
	bool wait_close;
	bool pmd_enable, pmd_takeover;
	int pmd_level;
	int max_line;            /* MaxLineLength for new connections */
	int max_head;
	bool keep_headers;       /* KeepRequestHeaders */
	int pmd_window_bits;     /* PermessageDeflateWindowBits (context takeover) */
	int pmd_mem_level;       /* PermessageDeflateMemLevel (0 = follows the window) */
};

/* The receive state of a frame or message in progress. An idle connection
 * (between messages, at a frame boundary) has none: it comes from a small
 * per-server pool when input arrives and goes back when the input leaves the
 * connection idle again, so idle connections cost no parser memory. */
struct rw_ws_rx {
	struct rw_ws_rx *next;   /* in the pool */
	z_stream *inflater;      /* while a compressed message is received (no
	                          * client context takeover: from the server's pool) */
	rw_ws_parser fp;
	uint64_t total;          /* inflated bytes of the current message */
	rw_utf8_state utf8;
	bool started;            /* the message's first DataIn went out */
	uint8_t opcode;
	uint8_t *msg;            /* BufferMessage */
	size_t msg_len, msg_cap;
};

struct rw_wsserver {
	struct rw_tcpserver *tcp;
	rw_wsserver_events ev;
	void *user;
	struct rw_ws_settings set;
	int open_count;          /* Connected fired, Disconnected not yet */
	uint64_t ping_seq;
	bool freeing;
	/* permessage-deflate: shared streams (no context takeover) */
	z_stream *deflaters[16]; /* by window bits, created on first use */
	rw_pmd_buf zbuf;
	z_stream *inflate_pool[RW_WS_INFLATE_POOL];
	int inflate_pool_n;
	struct rw_ws_rx *rx_pool;
	int rx_pool_n;
	struct rw_ws_meta *last_meta; /* the metadata made last (a reference) */
};

/* A connection's request metadata after the handshake (ws_meta.c): a count
 * byte k, then the first k of request URI, Host, Origin, offered
 * subprotocols, the selected one and the request headers
 * (KeepRequestHeaders), each NUL-terminated; the rest are "". Read-only once
 * made, and shared: a connection whose metadata are byte for byte those the
 * server made last takes a reference on them. Most clients of a server send
 * the same URI and Host, so an idle connection usually pays nothing here (a
 * 32 B heap block each otherwise: a fifth of its heap). One server is one
 * loop, one thread: the count needs no atomics. */
struct rw_ws_meta {
	uint32_t refs;
	uint32_t len; /* of bytes[] */
	char bytes[];
};
/* The metadata of request `r` with subprotocol `pick` (NULL: none), shared
 * when equal to the server's last; *out is NULL when every field is empty.
 * false: out of memory. */
bool rw__ws_meta_make(struct rw_wsserver *ws, const rw_ws_request *r, const char *pick,
                      struct rw_ws_meta **out);
/* Drop a reference (NULL: nothing). */
void rw__ws_meta_put(struct rw_ws_meta *m);
/* Field k (0 URI, 1 Host, 2 Origin, 3 offered subprotocols, 4 selected, 5
 * headers); "" when absent. */
const char *rw__ws_meta_field(const struct rw_ws_meta *m, int k);

/* WS_NONE (0, the zeroed layer area): no state yet, or freed. */
enum rw_ws_phase { WS_NONE, WS_HANDSHAKE, WS_OPEN, WS_CLOSING, WS_DONE };

/* What a connection needs only now and then, allocated on demand and freed
 * (rw__ws_cold_trim) once it holds nothing again: the handshake and its
 * deadline, the close (reason, why the connection ended, close-wait start),
 * line mode's buffer, MessageLength, context takeover's zlib streams and a
 * blocking Ping's payload. An open, idle connection with the default settings
 * has none. */
struct rw_ws_cold {
	rw_ws_handshake *hs;     /* during the handshake only */
	int64_t phase_start;     /* handshake / close wait began (loop clock, ms) */
	int64_t message_length;  /* MessageLength (0 = off) */
	z_stream *deflater;      /* server context takeover */
	z_stream *inflater;      /* client context takeover: kept between messages */
	uint8_t *line;           /* line mode: the line so far (max_line bytes) */
	uint32_t line_len;
	uint8_t ping_payload[8]; /* the blocking Ping() waits for this pong */
	/* The close reason Disconnected reports: ours when the server closed
	 * first, else the client's (allocated when a Close is sent/received). */
	char *reason;
	const char *fail_text;   /* why the connection ended (static text) */
};

/* Per connection, what every open idle WebSocket needs and no more (48 B,
 * paid by every connection of the server: in the engine's connection object):
 * no parser, no zlib state, no texts; `rx` only while a frame or message is
 * in progress, `cold` only while something rare is going on. The server and
 * the id are the engine's (c->srv->layer, c->id). */
struct rw_ws_conn {
	uint8_t phase;
	uint8_t busy;            /* inside input processing: free later */
	uint8_t data_format;
	uint8_t tx_opcode;
	bool exposed : 1;        /* an event carried the id: Disconnected is owed */
	bool counted : 1;        /* counted in open_count (Connected fired) */
	bool pmd : 1;
	bool zombie : 1;         /* Disconnected fired while busy */
	bool line_mode : 1;
	bool tx_open : 1;        /* a message is open: next frames continue it */
	bool close_rcvd : 1;
	bool close_sent : 1;
	bool server_closed_first : 1;
	bool ping_waiting : 1;   /* a blocking Ping() waits (payload in cold) */
	bool pong_seen : 1;
	/* permessage-deflate as negotiated (rw_pmd_params, what is used after
	 * the handshake) */
	bool pmd_server_nct : 1; /* server_no_context_takeover */
	bool pmd_client_nct : 1; /* client_no_context_takeover */
	uint8_t pmd_bits;        /* server_max_window_bits */
	int16_t close_code;      /* what Disconnected reports: ours when the server
	                          * closed first, else the client's */
	int32_t max_line;        /* MaxLineLength[id] */
	uint64_t tx_left;        /* the open message's bytes still to come */
	struct rw_ws_cold *cold;
	/* Request metadata (struct rw_ws_meta, shared), NULL when every field
	 * is empty or during the handshake. */
	struct rw_ws_meta *meta;
	struct rw_ws_rx *rx;     /* receive state while a frame/message is open */
};

/* The connection's WebSocket state, in place right after the engine's
 * connection (rw__conn_layer, layer_size = sizeof(struct rw_ws_conn));
 * NULL before the engine's Connected and once rw__ws_conn_free zeroed it. */
static inline struct rw_ws_conn *rw__ws_state(const struct rw_conn *c)
{
	struct rw_ws_conn *wc = rw__conn_layer(c);
	return wc->phase != WS_NONE ? wc : NULL;
}

static inline struct rw_wsserver *rw__ws_of(const struct rw_conn *c)
{
	return c->srv->layer;
}

/* The connection's cold part, made when missing (NULL: out of memory). */
struct rw_ws_cold *rw__ws_cold(struct rw_ws_conn *wc);
/* Free the cold part if it holds nothing any more. */
void rw__ws_cold_trim(struct rw_ws_conn *wc);

/* What the frame callbacks get as their context. */
struct rw_ws_ctx {
	struct rw_wsserver *ws;
	struct rw_ws_conn *wc;
	struct rw_conn *c;
};

/* Workers > 1 (workers.h): `ws` becomes the connection's worker WSServer
 * (its engine's layer) for the rest of the call, with that worker locked. */
#define RW_WS_ROUTE(ws, id)                                                    \
	struct rw_route rw_route_ __attribute__((cleanup(rw__route_end))) = {0}; \
	if ((ws) && (ws)->tcp->workers)                                        \
	(ws) = rw__route_begin(&rw_route_, (ws)->tcp->workers, (id))->layer

/* ws_workers.c: how a WSServer makes its workers, and the object's counts. */
extern const struct rw_worker_kind rw__ws_worker_kind;
int rw__ws_workers_count(const struct rw_wsserver *ws);
int rw__ws_workers_ids(const struct rw_wsserver *ws, rw_connid *ids, size_t max);
int rw__ws_workers_config_all(struct rw_wsserver *ws, const char *setting);
/* wsserver_config.c: Config on one WSServer, without the routing. */
int rw__ws_config_one(struct rw_wsserver *ws, const char *setting, char *out, size_t len);

/* wsserver.c */
struct rw_ws_conn *rw__ws_conn(const struct rw_wsserver *ws, rw_connid id, struct rw_conn **cp);
void rw__ws_log(struct rw_wsserver *ws, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ws_conn.c: handshake, input, close */
ssize_t rw__ws_input(struct rw_conn *c, uint8_t *data, size_t len);
/* Frees what the state points to and zeroes it (WS_NONE). */
void rw__ws_conn_free(struct rw_conn *c, struct rw_ws_conn *wc);
int rw__ws_close(struct rw_ws_conn *wc, struct rw_conn *c, int code, const char *reason, bool wait);
void rw__ws_fail(struct rw_ws_conn *wc, struct rw_conn *c, int code, const char *why);

/* ws_recv.c: messages to DataIn */
extern const rw_ws_parser_cbs rw__ws_frame_cbs;
void rw__ws_rx_reset(struct rw_wsserver *ws, struct rw_ws_conn *wc);
void rw__ws_inflate_put(struct rw_wsserver *ws, z_stream *z);
/* The connection's receive state, made when input arrives (NULL when out of
 * memory); rw__ws_rx_release gives it back once the connection is idle
 * (force: also mid-message, when the connection ends). */
struct rw_ws_rx *rw__ws_rx_get(struct rw_wsserver *ws, struct rw_ws_conn *wc);
void rw__ws_rx_release(struct rw_wsserver *ws, struct rw_ws_conn *wc, bool force);
void rw__ws_rx_pool_free(struct rw_wsserver *ws);

/* ws_send.c */
int rw__ws_out(struct rw_conn *c, const uint8_t *d, size_t n);
int rw__ws_control(struct rw_conn *c, int opcode, const uint8_t *d, size_t n);
uint32_t rw__ws_room(const struct rw_conn *c);

#endif
