/* ringworks/tcpserver.h: TCPServer, an event-driven TCP listener on io_uring.
 *
 * Model (the component documents' model, in C):
 *  - Configure the server-wide properties, set the events, call
 *    rw_tcpserver_start_listening(), then call rw_tcpserver_do_events() in a loop
 *    (or rw_tcpserver_run()). Every event fires from inside do_events (or from
 *    inside a blocking send made with Timeout > 0) on the calling thread; never
 *    from inside disconnect, shutdown, stop_listening or a Timeout = 0 send.
 *  - Each accepted connection gets an rw_connid. Per-connection order is:
 *    ConnectionRequest -> Connected(0, "OK") -> ReadyToSend -> DataIn* -> Disconnected.
 *    A refused connection fires no Connected and no Disconnected. Every id that
 *    got Connected gets exactly one Disconnected, which is its last event; after
 *    it the id is invalid (RW_EINVALID_CONNID).
 *  - Every function may be called from inside any event. An id stays valid
 *    inside its own Disconnected (UserData, RemoteHost may be read there) and is
 *    invalid after it.
 *  - Event parameter structs (and the bytes they point to) are valid only during
 *    the callback.
 *  - Threads: with Config Workers=1 (the default) a server and its loop belong
 *    to the thread that drives them; call every function from that thread.
 *    With Workers=N the object runs N threads (one ring each) and may be
 *    called from any thread; its events fire on those threads. workers.h has
 *    the whole contract.
 *
 * Returns: 0 or a count on success, a negative RW_E* code on failure (common.h).
 * Getters of per-connection properties return the value (>= 0) or a negative
 * code (-RW_EINVALID_CONNID for an unknown or closed id). String getters copy a
 * NUL-terminated string into the caller's buffer and return its length, or
 * -RW_EBUFFER_TOO_SMALL.
 *
 * Memory: receive buffers are shared by all connections of a loop (a provided
 * buffer ring); an idle connection costs one small struct. Sends copy into a
 * bounded per-connection queue (Config SendQueueLimit, default 1 MiB).
 */
#ifndef RINGWORKS_TCPSERVER_H
#define RINGWORKS_TCPSERVER_H

#include "common.h"
#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rw_tcpserver rw_tcpserver;

/* TLS: SSLStartMode, certificates, StartSSL, the SSL events' parameters. */
#include "tcpserver_ssl.h"
/* rw_tcpserver_drain: stop accepting, close each connection once its queue is out. */
#include "tcpserver_drain.h"
/* Workers=N: one server object on N threads; the threading contract. */
#include "workers.h"

/* ---- Event parameters ------------------------------------------------- */

/* A client is connecting; no id exists yet. `accept` starts false when
 * AllowedClients does not match or BlockedClients matches; the handler may
 * change it either way. */
typedef struct {
	const char *address;  /* peer IP address, text form */
	int port;             /* peer TCP port */
	bool accept;          /* writable */
} rw_tcpserver_connection_request;

/* Connected and Disconnected share a shape. status_code is 0 with "OK", or a
 * documented error number (10054 for a reset, 10060 for an idle timeout, ...). */
typedef struct {
	rw_connid connection_id;
	int status_code;
	const char *description;
} rw_tcpserver_connected, rw_tcpserver_disconnected;

/* Received data. `eol` tells whether the EOL (or record) boundary ended `text`;
 * it is always true when the connection's EOL is empty, and true for every full
 * record in RecordLength mode. Two terminators in a row deliver an empty line
 * (text_len 0, eol true). When the connection closes, a partial line or record
 * is delivered with eol = false before Disconnected. The bytes are borrowed:
 * copy them if you need them after the callback. */
typedef struct {
	rw_connid connection_id;
	const uint8_t *text;
	size_t text_len;
	bool eol;
} rw_tcpserver_data_in;

typedef struct {
	rw_connid connection_id;
} rw_tcpserver_ready_to_send;

/* An asynchronous error that no call could return (connection_id 0 when it is
 * about the server, e.g. an accept failure). */
typedef struct {
	rw_connid connection_id;
	int error_code;
	const char *description;
} rw_tcpserver_error;

typedef struct {
	void (*connection_request)(rw_tcpserver *s, rw_tcpserver_connection_request *e, void *user);
	void (*connected)(rw_tcpserver *s, const rw_tcpserver_connected *e, void *user);
	void (*data_in)(rw_tcpserver *s, const rw_tcpserver_data_in *e, void *user);
	void (*disconnected)(rw_tcpserver *s, const rw_tcpserver_disconnected *e, void *user);
	void (*ready_to_send)(rw_tcpserver *s, const rw_tcpserver_ready_to_send *e, void *user);
	void (*error)(rw_tcpserver *s, const rw_tcpserver_error *e, void *user);
	void (*ssl_client_authentication)(rw_tcpserver *s, rw_tcpserver_ssl_client_authentication *e, void *user);
	void (*ssl_status)(rw_tcpserver *s, const rw_tcpserver_ssl_status *e, void *user);
	void (*ssl_connection_request)(rw_tcpserver *s, rw_tcpserver_ssl_connection_request *e, void *user);
	/* Optional diagnostics at or below Config LogLevel (default RW_LOG_WARN). */
	void (*log)(rw_tcpserver *s, int level, const char *message, void *user);
} rw_tcpserver_events;

/* ---- Lifecycle -------------------------------------------------------- */

/* A new server with the documented defaults, owning its own loop (created at
 * start_listening). NULL only when out of memory. */
RW_API rw_tcpserver *rw_tcpserver_new(void);

/* A new server that runs on a loop shared with other servers (loop.h); the loop
 * must outlive the server. */
RW_API rw_tcpserver *rw_tcpserver_new_on_loop(rw_loop *loop);

/* Close every connection abortively, stop listening and release everything.
 * Fires no events of this server (it turns the loop until the kernel has let
 * go of every buffer; on a shared loop, other servers' events may fire
 * meanwhile). NULL is ignored. Must not be called from inside an event. */
RW_API void rw_tcpserver_free(rw_tcpserver *s);

/* Set the callbacks (copied) and the user pointer passed to each. Any member
 * may be NULL. */
RW_API void rw_tcpserver_set_events(rw_tcpserver *s, const rw_tcpserver_events *events, void *user);

/* ---- Server-wide properties ------------------------------------------- */

/* ConnectionBacklog: listen() backlog, default 5; set while listening, resizes the queue at once. */
RW_API int rw_tcpserver_get_connection_backlog(const rw_tcpserver *s);
RW_API int rw_tcpserver_set_connection_backlog(rw_tcpserver *s, int backlog);

/* DefaultEOL: copied into each new connection's EOL (bytes, may hold NUL, at
 * most 64 bytes; -RW_EBAD_VALUE beyond). The getter copies up to `len` bytes and
 * returns the EOL's length. */
RW_API int rw_tcpserver_get_default_eol(const rw_tcpserver *s, uint8_t *buf, size_t len);
RW_API int rw_tcpserver_set_default_eol(rw_tcpserver *s, const void *eol, size_t len);

/* DefaultIdleTimeout (seconds, 0 = none), DefaultMaxLineLength (bytes, default
 * 2048, values below 256 are rejected with -RW_EBAD_VALUE), DefaultSingleLineMode,
 * DefaultTimeout (seconds; 0 = asynchronous sends). Each seeds the matching
 * property of connections accepted afterwards. Negative values: -RW_EBAD_VALUE. */
RW_API int rw_tcpserver_get_default_idle_timeout(const rw_tcpserver *s);
RW_API int rw_tcpserver_set_default_idle_timeout(rw_tcpserver *s, int seconds);
RW_API int rw_tcpserver_get_default_max_line_length(const rw_tcpserver *s);
RW_API int rw_tcpserver_set_default_max_line_length(rw_tcpserver *s, int bytes);
RW_API bool rw_tcpserver_get_default_single_line_mode(const rw_tcpserver *s);
RW_API int rw_tcpserver_set_default_single_line_mode(rw_tcpserver *s, bool on);
RW_API int rw_tcpserver_get_default_timeout(const rw_tcpserver *s);
RW_API int rw_tcpserver_set_default_timeout(rw_tcpserver *s, int seconds);

/* KeepAlive (SO_KEEPALIVE, default false) and Linger (default true: a close
 * waits for queued data; false: Disconnect resets the connection and queued
 * data may be lost). Both apply to connections accepted afterwards. */
RW_API bool rw_tcpserver_get_keep_alive(const rw_tcpserver *s);
RW_API int rw_tcpserver_set_keep_alive(rw_tcpserver *s, bool on);
RW_API bool rw_tcpserver_get_linger(const rw_tcpserver *s);
RW_API int rw_tcpserver_set_linger(rw_tcpserver *s, bool on);

/* Listening: read-only; use start_listening / stop_listening. */
RW_API bool rw_tcpserver_get_listening(const rw_tcpserver *s);

/* LocalHost: interface address to bind ("" = all). A host name is resolved once
 * at start_listening. -RW_ELOCALHOST_LISTENING while listening. */
RW_API int rw_tcpserver_get_local_host(const rw_tcpserver *s, char *buf, size_t len);
RW_API int rw_tcpserver_set_local_host(rw_tcpserver *s, const char *host);

/* LocalPort: 0 = ephemeral; after start_listening reads back the bound port.
 * -RW_ELOCALPORT_LISTENING while listening; -RW_EBAD_VALUE outside 0..65535. */
RW_API int rw_tcpserver_get_local_port(const rw_tcpserver *s);
RW_API int rw_tcpserver_set_local_port(rw_tcpserver *s, int port);

/* ConnectionCount: live connections (those that got Connected and not yet
 * Disconnected). */
RW_API int rw_tcpserver_get_connection_count(const rw_tcpserver *s);

/* Copy up to `max` live connection ids into `ids`, oldest first; returns how
 * many live ids exist (may exceed max). */
RW_API int rw_tcpserver_get_connection_ids(const rw_tcpserver *s, rw_connid *ids, size_t max);

/* ---- Per-connection properties ---------------------------------------- */

/* AcceptData: 1 while reception is enabled, 0 while paused. Setting false is
 * PauseData, true is ProcessData. */
RW_API int rw_tcpserver_get_accept_data(const rw_tcpserver *s, rw_connid id);
RW_API int rw_tcpserver_set_accept_data(rw_tcpserver *s, rw_connid id, bool on);

/* BytesSent: bytes taken by the last send call on this connection (0 in
 * Timeout > 0 mode, as documented). */
RW_API int64_t rw_tcpserver_get_bytes_sent(const rw_tcpserver *s, rw_connid id);

/* Connected: 1 for a live connection. Setting false is Disconnect. */
RW_API int rw_tcpserver_get_connected(const rw_tcpserver *s, rw_connid id);
RW_API int rw_tcpserver_set_connected(rw_tcpserver *s, rw_connid id, bool on);

/* EOL: bytes that split the input into lines (empty = deliver as received).
 * At most 64 bytes; may contain NUL. May be changed at any time, also inside
 * DataIn; the change applies to bytes not yet delivered. */
RW_API int rw_tcpserver_get_eol(const rw_tcpserver *s, rw_connid id, uint8_t *buf, size_t len);
RW_API int rw_tcpserver_set_eol(rw_tcpserver *s, rw_connid id, const void *eol, size_t len);

/* IdleTimeout (seconds, 0 = never): a connection with no data sent or received
 * for that long is closed with Disconnected(10060, "Idle timeout"). */
RW_API int rw_tcpserver_get_idle_timeout(const rw_tcpserver *s, rw_connid id);
RW_API int rw_tcpserver_set_idle_timeout(rw_tcpserver *s, rw_connid id, int seconds);

/* LocalAddress: the local IP address of the connection. */
RW_API int rw_tcpserver_get_local_address(const rw_tcpserver *s, rw_connid id, char *buf, size_t len);

/* MaxLineLength: line buffer size (>= 256). A line that reaches it without an
 * EOL is delivered with eol = false. */
RW_API int rw_tcpserver_get_max_line_length(const rw_tcpserver *s, rw_connid id);
RW_API int rw_tcpserver_set_max_line_length(rw_tcpserver *s, rw_connid id, int bytes);

/* ReadyToSend: 1 unless the last async send returned RW_EWOULDBLOCK and the
 * queue has not drained since. */
RW_API int rw_tcpserver_get_ready_to_send(const rw_tcpserver *s, rw_connid id);

/* RecordLength: 0 = off; > 0 delivers fixed-size records (wins over EOL and
 * SingleLineMode). Set with rw_tcpserver_change_record_length. */
RW_API int rw_tcpserver_get_record_length(const rw_tcpserver *s, rw_connid id);

/* RemoteHost / RemotePort of the peer. */
RW_API int rw_tcpserver_get_remote_host(const rw_tcpserver *s, rw_connid id, char *buf, size_t len);
RW_API int rw_tcpserver_get_remote_port(const rw_tcpserver *s, rw_connid id);

/* SingleLineMode: split on CR, LF or CRLF (one terminator even when CR and LF
 * arrive apart); EOL is ignored. */
RW_API int rw_tcpserver_get_single_line_mode(const rw_tcpserver *s, rw_connid id);
RW_API int rw_tcpserver_set_single_line_mode(rw_tcpserver *s, rw_connid id, bool on);

/* Timeout (seconds): 0 = asynchronous sends; > 0 = sends block (processing
 * events) until everything is queued, failing with -RW_ETIMEDOUT after that
 * many seconds without progress, or -RW_EINTERRUPTED after Interrupt. */
RW_API int rw_tcpserver_get_timeout(const rw_tcpserver *s, rw_connid id);
RW_API int rw_tcpserver_set_timeout(rw_tcpserver *s, rw_connid id, int seconds);

/* UserData: an opaque pointer kept with the connection (the library never
 * touches it). The getter returns NULL for an unknown id. */
RW_API void *rw_tcpserver_get_user_data(const rw_tcpserver *s, rw_connid id);
RW_API int rw_tcpserver_set_user_data(rw_tcpserver *s, rw_connid id, void *data);

/* ---- Methods ---------------------------------------------------------- */

/* Bind LocalHost:LocalPort and start accepting. Creates the loop (io_uring, or
 * epoll where io_uring is refused and Backend is auto: logged once at
 * LogLevel 2) if the server owns it. Errors: -RW_EALREADY_LISTENING;
 * -RW_EADDRINUSE; -RW_EURING_UNAVAILABLE with Backend=uring when
 * io_uring_setup is refused (the log and rw_strerror say why: a container's
 * seccomp profile or kernel.io_uring_disabled);
 * -RW_EHOST_NOT_FOUND for an unresolvable LocalHost. Fires no event. */
RW_API int rw_tcpserver_start_listening(rw_tcpserver *s);

/* Stop accepting; existing connections stay. Idempotent. */
RW_API int rw_tcpserver_stop_listening(rw_tcpserver *s);

/* StopListening, then Disconnect every connection. Their Disconnected events
 * fire from the following do_events calls (run() returns once all have). */
RW_API int rw_tcpserver_shutdown(rw_tcpserver *s);

/* Stop listening, close every connection abortively (peers see a reset at
 * once, no events fire), then restore every property and Config setting to
 * its default. */
RW_API int rw_tcpserver_reset(rw_tcpserver *s);

/* Process what has completed, firing events; if nothing is ready, wait up to
 * Config DoEventsTimeout milliseconds (default 1000). Returns the number of
 * completions handled (>= 0) or a negative error (-RW_EBAD_STATE before the
 * loop exists). */
RW_API int rw_tcpserver_do_events(rw_tcpserver *s);

/* Call do_events until the server has stopped listening and every connection
 * has been closed (after shutdown), or until a fatal loop error. */
RW_API int rw_tcpserver_run(rw_tcpserver *s);

/* Queue data for a connection (Send and SendBytes are the same call).
 * Timeout = 0: copies what fits into the connection's send queue and returns at
 * once. Returns 0 when everything was taken; -RW_EWOULDBLOCK when only part (or
 * none) fits, with BytesSent = bytes taken; ReadyToSend then fires once the
 * queue has drained, also after a partial take (the documents say it does not
 * fire after a partial send; with a bounded queue the caller holds the rest and
 * needs to know when to send it, so ringworks always tells). Timeout > 0: blocks, processing events (those of this and
 * other connections may fire), until all is queued; -RW_ETIMEDOUT or
 * -RW_EINTERRUPTED. Other errors: -RW_EINVALID_CONNID; -RW_ENOTCONN when the
 * connection is closing. Ownership: the bytes are copied; `data` is free to
 * reuse on return. A zero-length send returns 0. */
RW_API int rw_tcpserver_send(rw_tcpserver *s, rw_connid id, const void *data, size_t len);
RW_API int rw_tcpserver_send_bytes(rw_tcpserver *s, rw_connid id, const void *data, size_t len);

/* SendText: a NUL-terminated string (UTF-8, no conversion). SendLine: the
 * string followed by CRLF, queued all-or-nothing (-RW_EWOULDBLOCK takes none). */
RW_API int rw_tcpserver_send_text(rw_tcpserver *s, rw_connid id, const char *text);
RW_API int rw_tcpserver_send_line(rw_tcpserver *s, rw_connid id, const char *text);

/* Hand a buffer over without copying: `release(data, arg)` is called (from
 * inside a later do_events or free) once the kernel no longer uses it, whatever
 * happens to the connection. Never refused for queue space; the owned bytes do
 * not count against SendQueueLimit. On error `release` is NOT called. Over TLS
 * the bytes are encrypted into the queue at once and `release` runs before
 * this returns; before the handshake or while a file streams: -RW_EWOULDBLOCK
 * (not taken). */
RW_API int rw_tcpserver_send_owned(rw_tcpserver *s, rw_connid id, const void *data, size_t len,
                                   void (*release)(const void *data, void *arg), void *arg);

/* Stream a file to the connection after what is already queued, without
 * blocking the loop (io_uring reads into a bounded buffer). Timeout = 0: returns
 * 0 once the file is opened and queued; ReadyToSend fires when all of it has
 * been handed to the socket. Timeout > 0: blocks (processing events) until the
 * file has been sent; -RW_ETIMEDOUT / -RW_EINTERRUPTED stop it (the rest of the
 * file is dropped; the connection stays open). Errors opening the file are
 * mapped errno codes (e.g. -(20000 + ENOENT)). Over TLS each block is encrypted
 * as it is read; one file at a time, and sends wait for it: -RW_EWOULDBLOCK
 * until ReadyToSend. */
RW_API int rw_tcpserver_send_file(rw_tcpserver *s, rw_connid id, const char *path);

/* Close a connection. With Linger (at accept time) queued data is sent first
 * (bounded by Config LingerTimeout); without, the peer sees a reset.
 * Disconnected(0, "OK") fires from a later do_events. Idempotent for a closing
 * id; -RW_EINVALID_CONNID for an unknown one. */
RW_API int rw_tcpserver_disconnect(rw_tcpserver *s, rw_connid id);

/* Interrupt a blocking (Timeout > 0) send or send_file in progress on this
 * connection: it returns -RW_EINTERRUPTED; the connection stays open. An
 * Interrupt while nothing is blocked has no effect on later sends. */
RW_API int rw_tcpserver_interrupt(rw_tcpserver *s, rw_connid id);

/* PauseData stops DataIn for the connection at once (even between lines of one
 * received buffer) and stops receiving, so TCP flow control pushes back.
 * ProcessData resumes; withheld data is delivered first, in order, from the
 * next do_events. Both are idempotent. */
RW_API int rw_tcpserver_pause_data(rw_tcpserver *s, rw_connid id);
RW_API int rw_tcpserver_process_data(rw_tcpserver *s, rw_connid id);

/* Set RecordLength (0 = off). May be called inside DataIn; applies from the
 * next record, including bytes already buffered. -RW_EBAD_VALUE if negative. */
RW_API int rw_tcpserver_change_record_length(rw_tcpserver *s, rw_connid id, int length);

/* Config: "Name=Value" sets, "Name" reads into `out` (NUL-terminated; `out` may
 * be NULL when setting). Per-connection settings use "Name[id]" (an index that
 * is not a positive number is -RW_EBAD_VALUE). Booleans take
 * True/False/1/0/Yes/No in any case. Returns the length of the value read (or 0
 * after a set); -RW_EUNKNOWN_CONFIG, -RW_EBAD_VALUE, -RW_EBUFFER_TOO_SMALL,
 * -RW_EINVALID_CONNID, -RW_EMAXCONN_LISTENING.
 *
 * Settings (default):
 *  MaxConnections (1000; 1..1000000; fixed while listening). At the limit a new
 *    connection is accepted and closed at once, with no event; RejectedConnectionCount
 *    counts them. On one loop the limit is further capped by RLIMIT_NOFILE
 *    (the size of io_uring's fixed-file table); start_listening logs the cap.
 *  AllowedClients ("*"), BlockedClients (""): comma lists of IPv4/IPv6 addresses,
 *    CIDR prefixes (10.0.0.0/8, ::1/128) and '*' globs (127.0.0.*).
 *  BindExclusively (true: no SO_REUSEADDR), ReusePort (false: SO_REUSEPORT),
 *  UseIPv6 (0 = IPv4, 1 = IPv6 only, 2 = both), TcpNoDelay (false),
 *  InBufferSize / OutBufferSize (0 = system: SO_RCVBUF / SO_SNDBUF at accept),
 *  KeepAliveTime / KeepAliveInterval (ms; TCP_KEEPIDLE / TCP_KEEPINTVL),
 *  SendQueueLimit (1048576): bytes an async send may have queued per connection,
 *  LingerTimeout (10 s): how long a lingering close waits for the queue,
 *  ZeroCopyThreshold (0 = off): sends of at least this many bytes use SEND_ZC,
 *  RingEntries (4096), RecvBufferSize (32768), RecvBufferCount (1024, power of 2)
 *    (loop settings, fixed once the loop exists; the ring's growth from 64
 *    buffers and sends without a copy from a DataIn's buffer: ringworks/loop.h),
 *  Backend (auto): auto|uring|epoll, the loop's backend (ringworks/loop.h; the
 *    environment variable RINGWORKS_BACKEND replaces auto); a loop setting.
 *    Read once the loop exists, it names the backend in use: uring or epoll.
 *    With epoll every connection holds a descriptor, so RLIMIT_NOFILE bounds
 *    the connections of the whole process, not only those being accepted,
 *  DoEventsTimeout (1000 ms), LogLevel (2), Workers (1; see workers.h),
 *  The SSL* settings are listed in tcpserver_ssl.h.
 *  DefaultConnectionTimeout (0 = 30 s): a TLS handshake that makes no progress
 *    for that long fails (Connected 10060, then Disconnected),
 *  ProxyProtocol (off; v1, v2, auto = either): a PROXY header is required first
 *    (before TLS); RemoteHost/RemotePort and ConnectionRequest, Allowed/
 *    BlockedClients then use the client's address from it; a bad, partial or
 *    late (DefaultConnectionTimeout) header closes the connection with an
 *    Error (ConnectionId 0) and no other event,
 *  RejectedConnectionCount (read-only),
 *  BuildInfo (read-only).
 * Per connection: MaxLineLength[id], IdleTimeout[id], Timeout[id],
 *  RecordLength[id] (read and write); RemoteHost[id], RemotePort[id],
 *  LocalAddress[id], BytesSent[id], SendQueueBytes[id] (bytes queued, read-only),
 *  SSLNegotiatedVersion[id] ("TLSv1.3"), SSLNegotiatedCipherSuite[id] (IANA name),
 *  SSLNegotiatedCipherStrength[id] (bits), SSLNegotiatedKeyExchange[id]
 *  ("ECDHE X25519"), SSLNegotiatedKeyExchangeStrength[id] (bits),
 *  SSLNegotiatedALPN[id], SSLServerName[id] (the client's SNI) (read-only).
 */
RW_API int rw_tcpserver_config(rw_tcpserver *s, const char *setting, char *out, size_t out_len);

/* The loop this server runs on (NULL before start_listening for an own loop). */
RW_API rw_loop *rw_tcpserver_get_loop(rw_tcpserver *s);


#ifdef __cplusplus
}
#endif
#endif
