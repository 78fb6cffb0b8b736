/* src/dtls_internal.h: DTLSServer's structures and the rw__dtls functions that
 * connect its files:
 *   dtls_server.c  lifecycle, the loop client (timers, deferred events), run
 *   dtls_net.c     the UDP socket, receive CQEs, the send pool, the datagram
 *                  dispatch (known peer -> its session, else the cookie path)
 *   dtls_cookie.c  the stateless cookie exchange (HMAC, secret rotation)
 *   dtls_probe13.c the same for DTLS 1.3 ClientHellos, through wolfSSL
 *   dtls_table.c   the session table (by peer, by id)
 *   dtls_sess.c    sessions: wolfSSL per peer, handshake, records, close
 *   dtls_ssl.c     the wolfSSL context and the client-certificate callback
 *   dtls_api.c     send, disconnect, pause, per-connection properties
 *   dtls_config.c  server properties, settings and Config
 * Nothing here is public. */
#ifndef RW_SRC_DTLS_INTERNAL_H
#define RW_SRC_DTLS_INTERNAL_H

#include "internal.h"
#include "ringworks/dtlsserver.h"
#include "proto/dtls_record.h"
#include "uring/udp.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

union rw_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

enum { RW_DS_HANDSHAKING = 0, RW_DS_OPEN = 1, RW_DS_CLOSING = 2 };

/* A record received while paused. */
struct rw_dtls_qrec {
	struct rw_dtls_qrec *next;
	uint32_t len;
	uint8_t data[];
};

struct rw_dtls_sess {
	struct rw_dtls_sess *hnext;          /* peer hash chain (only while not closing) */
	struct rw_dtls_sess *inext;          /* id hash chain (until freed) */
	struct rw_dtls_sess *prev, *next;    /* the server's list, oldest first */
	struct rw_dtls_sess *defer_next;
	struct rw_dtlsserver *srv;
	rw_connid id;
	WOLFSSL *ssl;
	union rw_sockaddr peer;
	socklen_t peer_len;
	int state;
	bool connected_fired; /* Connected fired (with any status) */
	bool on_defer, paused, close_after_queue, in_hash;
	bool cert_decided, no_cert;
	bool probe; /* DTLS 1.3: not linked until wolfSSL verified the cookie */
	struct rw_dtls_sess *replacing; /* probe: the connection a restart replaces */
	size_t probe_budget; /* probe: bytes it may still send (the hello's size) */
	bool cid;            /* holds cid_value in the server's map (tuned wolfSSL) */
	uint16_t cid_value;
	bool migrating;      /* a CID record from a new address is being fed */
	union rw_sockaddr new_peer; /* ... and that address, taken once a record authenticates */
	socklen_t new_peer_len;
	int chain_error;
	int close_status;
	char close_text[160];
	int64_t last_active, hs_deadline, retx_at;
	uint8_t client_random[32];
	const uint8_t *in;    /* the datagram being fed to wolfSSL */
	size_t in_len;
	struct rw_dtls_qrec *q_head, *q_tail;
	uint32_t q_count;
	char addr_text[RW_MAX_TEXT_ADDR];
	int port;
};

/* One datagram in flight to the kernel; its first member is the CQE handler
 * (loop.c dispatches op tag 0 through it). */
#define RW_DTLS_TX_INLINE 1536u
struct rw_dtls_txop {
	rw_cqe_fn fn;
	struct rw_dtlsserver *srv;
	struct rw_dtls_txop *next_free;
	struct rw_udp_tx tx;
	uint8_t inline_buf[RW_DTLS_TX_INLINE];
};

/* A stateless answer (HelloVerifyRequest, alert) in flight: from a fixed
 * array made at StartListening, so a flood of spoofed hellos allocates
 * nothing; when all are in flight, further answers are dropped. */
#define RW_DTLS_SMALL_TX 1024
struct rw_dtls_smallop {
	rw_cqe_fn fn;
	struct rw_dtlsserver *srv;
	struct rw_dtls_smallop *next_free;
	struct rw_udp_tx tx;
	uint8_t buf[64];
};

struct rw_dtls_rxop {
	rw_cqe_fn fn;
	struct rw_dtlsserver *srv;
};

struct rw_dtls_settings {
	unsigned backend; /* Config Backend: an rw_backend for the loop it creates */
	char *local_host;
	int local_port;
	int idle_timeout;
	int max_connections;
	char *allowed_text, *blocked_text;
	rw_addr_list allowed, blocked;
	int use_ipv6;
	bool share_local_port, dont_fragment;
	int in_buffer_size, out_buffer_size;
	int log_level;
	int do_events_timeout;
	int handshake_timeout, retransmit_max, cookie_lifetime;
	uint32_t paused_queue_limit, send_queue_limit;
	int protocols;
	bool use_cid;
	int mtu;
	int cert_store_type;
	uint8_t *cert_store;
	size_t cert_store_len;
	char *cert_subject, *cert_password;
	bool authenticate_clients;
	char *client_ca_certs, *ca_file;
	char *cipher_suites; /* SSLEnabledCipherSuites as given; NULL = "*" */
};

struct rw_dtlsserver {
	struct rw_loop_client client;
	struct rw_dtls_rxop rxop;
	struct rw_loop *loop;
	bool own_loop;
	rw_dtlsserver_events ev;
	void *user;
	struct rw_dtls_settings set;
	int fd;
	bool listening, recv_armed, freeing, shutting_down;
	struct rw_dtls_sess *disc_firing; /* whose Disconnected is running */
	unsigned recv_inflight; /* recv + its cancel */
	struct rw_udp_rx rx;
	int bound_port;
	char bound_host[RW_MAX_TEXT_ADDR];
	WOLFSSL_CTX *ctx;
	char subject[256];
	/* sessions */
	struct rw_dtls_sess **buckets, **id_buckets;
	uint32_t nbuckets;
	uint64_t hash_key;
	struct rw_dtls_sess *head, *tail;
	struct rw_dtls_sess *defer_head, *defer_tail;
	int sess_count, conn_count;
	int64_t next_seq;
	int64_t next_timer_ms, next_sweep_ms;
	int dispatching; /* > 0 while CQEs or events of this server run */
	/* sends */
	struct rw_dtls_txop *free_tx;
	unsigned tx_inflight, tx_free_n;
	struct rw_dtls_smallop *small, *free_small; /* RW_DTLS_SMALL_TX of them */
	struct rw_dtls_sess **cid_map; /* CID value -> session (UseConnectionID) */
	/* cookies */
	uint8_t secret[2][32]; /* [0] current, [1] previous */
	int64_t secret_rotate_ms;
	/* counters */
	int64_t hvr_count, dropped, rejected;
	char text[256]; /* scratch for event texts */
};

/* dtls_server.c */
void rw__dtls_fire_error(struct rw_dtlsserver *s, rw_connid id, int code, const char *text);
void rw__dtls_log(struct rw_dtlsserver *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void rw__dtls_ssl_status(struct rw_dtls_sess *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rw__dtls_timer_at(struct rw_dtlsserver *s, int64_t when_ms);

/* dtls_net.c */
int rw__dtls_socket_open(struct rw_dtlsserver *s);
void rw__dtls_socket_close(struct rw_dtlsserver *s);
void rw__dtls_arm_recv(struct rw_dtlsserver *s);
/* Queue one datagram to `to` (copied). 0, or -RW_ENOBUFS at SendQueueLimit. */
int rw__dtls_send_to(struct rw_dtlsserver *s, const union rw_sockaddr *to, socklen_t tolen,
                     const uint8_t *data, size_t len);
void rw__dtls_tx_free_all(struct rw_dtlsserver *s);
/* A stateless answer of at most 64 bytes; 0, or -RW_ENOBUFS when every small
 * slot is in flight (the answer is dropped: the client retransmits). */
int rw__dtls_send_small(struct rw_dtlsserver *s, const union rw_sockaddr *to, socklen_t tolen,
                        const uint8_t *data, size_t len);
int rw__dtls_small_init(struct rw_dtlsserver *s);
int rw__dtls_addr_text(const union rw_sockaddr *a, char *buf, size_t len, int *port);
void rw__dtls_rxop_init(struct rw_dtlsserver *s);

/* dtls_cookie.c */
void rw__dtls_cookie_init(struct rw_dtlsserver *s);
void rw__dtls_cookie_rotate(struct rw_dtlsserver *s, int64_t now_ms);
/* The cookie-less or cookie-bearing ClientHello of a peer without state. */
void rw__dtls_stateless(struct rw_dtlsserver *s, const union rw_sockaddr *peer, socklen_t plen,
                        const uint8_t *data, size_t len, const rw_dtls_client_hello *ch,
                        struct rw_dtls_sess *replacing);

/* dtls_table.c */
int rw__dtls_table_init(struct rw_dtlsserver *s);
void rw__dtls_table_free(struct rw_dtlsserver *s);
struct rw_dtls_sess *rw__dtls_lookup(struct rw_dtlsserver *s, const union rw_sockaddr *peer);
struct rw_dtls_sess *rw__dtls_find(const struct rw_dtlsserver *s, rw_connid id);
void rw__dtls_table_insert(struct rw_dtls_sess *x);
void rw__dtls_table_remove_id(struct rw_dtls_sess *x);
void rw__dtls_unhash(struct rw_dtls_sess *x); /* out of the peer table only */

/* dtls_sess.c */
/* A verified, accepted peer: create its session and feed it the ClientHello. */
void rw__dtls_sess_start(struct rw_dtlsserver *s, const union rw_sockaddr *peer, socklen_t plen,
                         const uint8_t *secret, const uint8_t *data, size_t len,
                         const rw_dtls_client_hello *ch);
void rw__dtls_sess_input(struct rw_dtls_sess *x, const uint8_t *data, size_t len);
struct rw_dtls_sess *rw__dtls_sess_new(struct rw_dtlsserver *s, const union rw_sockaddr *peer,
                                       socklen_t plen, const uint8_t *secret,
                                       const rw_dtls_client_hello *ch);
void rw__dtls_sess_link(struct rw_dtls_sess *x);
int rw__dtls_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg);
int rw__dtls_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg);

/* dtls_probe13.c (tuned wolfSSL): a DTLS 1.3 ClientHello from a peer without
 * state goes through wolfSSL's own stateless HelloRetryRequest cookie. */
void rw__dtls_probe13(struct rw_dtlsserver *s, const union rw_sockaddr *peer, socklen_t plen,
                      const uint8_t *data, size_t len, const rw_dtls_client_hello *ch,
                      struct rw_dtls_sess *replacing);
/* dtls_cookie.c: after a verified cookie: listening, MaxConnections, then
 * ConnectionRequest (accept preset by Allowed/BlockedClients). True to go on. */
bool rw__dtls_admit(struct rw_dtlsserver *s, const union rw_sockaddr *peer, struct rw_dtls_sess *replacing);
void rw__dtls_sess_close(struct rw_dtls_sess *x, int status, const char *text, bool notify);
void rw__dtls_sess_timers(struct rw_dtlsserver *s, int64_t now);
void rw__dtls_sess_sweep(struct rw_dtlsserver *s, int64_t now);
void rw__dtls_run_deferred(struct rw_dtlsserver *s);
void rw__dtls_sess_destroy(struct rw_dtls_sess *x);
void rw__dtls_defer(struct rw_dtls_sess *x);

/* dtls_ssl.c */
int rw__dtls_ctx_new(struct rw_dtlsserver *s);
/* dtls_cipher.c: SSLEnabledCipherSuites into wolfSSL's ':' list in out (its
 * length; 0 for "*", wolfSSL's defaults), -RW_EBAD_VALUE for a name wolfSSL
 * does not know; the SSLNegotiated* read-outs of an open session ("" before). */
int rw__dtls_cipher_list(const char *list, char *out, size_t cap);
struct rw_cfg_item;
void rw__dtls_negotiated(struct rw_dtls_sess *x, const struct rw_cfg_item *it, char *v, size_t len);
void rw__dtls_ctx_free(struct rw_dtlsserver *s);
void rw__dtls_verify_setup(WOLFSSL *ssl, struct rw_dtls_sess *x);

/* dtls_cid.c (tuned wolfSSL): connection IDs. Our CID is a 16-bit value from
 * the server's map; a DTLS 1.3 record carrying one from an unknown address
 * goes to its session, which moves to the new address once the record
 * authenticates. */
#define RW_DTLS_CID_LEN 2 /* wolfSSL 5.5's DTLS_CID_MAX_SIZE */
#define RW_DTLS_CID_SPACE 65536
void rw__dtls_cid_release(struct rw_dtls_sess *x);
/* Enable CIDs on the session's wolfSSL with `id`'s CID: before the first
 * datagram (DTLS 1.2 path; the id link() will give it, sessions being made
 * and linked one at a time) and again once wolfSSL's stateless 1.3 path has
 * verified the cookie (it starts that hello afresh). */
void rw__dtls_cid_setup(struct rw_dtls_sess *x, rw_connid id);
/* A datagram from an address without a session: true when it was a CID
 * record and has been handled. */
bool rw__dtls_cid_route(struct rw_dtlsserver *s, const union rw_sockaddr *peer, socklen_t plen,
                        const uint8_t *data, size_t len);
/* Called before the first DataIn of a migrating session: adopt the address. */
void rw__dtls_cid_migrate(struct rw_dtls_sess *x);
void rw__dtls_rehash(struct rw_dtls_sess *x, const union rw_sockaddr *peer, socklen_t plen);

/* dtls_config.c */
void rw__dtls_settings_defaults(struct rw_dtls_settings *st);
void rw__dtls_settings_free(struct rw_dtls_settings *st);

#endif
