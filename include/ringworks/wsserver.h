/* ringworks/wsserver.h: WSServer, an event-driven WebSocket server (RFC 6455,
 * permessage-deflate RFC 7692) on io_uring.
 *
 * Model: the TCPServer model (tcpserver.h) with WebSocket events. Configure,
 * set the events, rw_wsserver_start_listening(), then rw_wsserver_do_events()
 * in a loop (or rw_wsserver_run()). Events fire only from inside do_events (or
 * a blocking call made with Timeout > 0) on the calling thread; never from
 * inside disconnect, shutdown or a Timeout = 0 send.
 *
 * Per-connection order:
 *   ConnectionRequest (no id yet; accept may be set false: closed, nothing else)
 *   [SSLClientAuthentication, SSLStatus...  when UseSSL]
 *   WebSocketOpenRequest (status_code 101 accepts; anything else rejects)
 *   Connected -> ReadyToSend -> (DataIn | Ping | ReadyToSend | Error)* -> Disconnected
 * Every id that was exposed (SSL events or WebSocketOpenRequest) gets exactly
 * one Disconnected, also after a rejected or failed handshake (status 1006).
 * The id stays valid inside its own Disconnected and is invalid after it.
 *
 * Protocol: the opening handshake is validated (RFC 6455 §4.2: 426 with
 * "Sec-WebSocket-Version: 13" for a non-WebSocket request or another version,
 * 400 for a malformed one, 431 for a head over 16 KiB) before the event fires.
 * Client frames must be masked; reserved opcodes or RSV bits, oversized or
 * fragmented control frames, bad continuation, bad close codes close the
 * connection with 1002; invalid UTF-8 in a text message (checked as it
 * arrives) with 1007; a message above MaxMessageSize with 1009. Pings are
 * answered automatically. The handshake must complete within
 * DefaultConnectionTimeout seconds (30 when 0) of the connection being ready.
 *
 * Memory: no receive buffer per connection (the loop's provided buffers are
 * shared, payloads are unmasked in place); sends copy into a bounded queue
 * (SendQueueLimit, default 1 MiB); BufferMessage holds at most MaxMessageSize.
 * An idle WebSocket (between messages) keeps 48 bytes of state inside the
 * engine's connection object and its request metadata (one small allocation,
 * none when every field is empty, shared by the connections that sent the
 * same): measured (tests/ws/test_ws_memory.c, glibc, 64-bit, every client
 * sending the same request) 219 bytes of heap in all per connection
 * (asserted at most 256), 66 of them the WebSocket's (153 is the TCP engine's
 * connection), with or without permessage-deflate. What is needed only now
 * and then (the handshake, the close, line mode's buffer, MessageLength,
 * context takeover's streams, a blocking Ping) is allocated when needed and
 * given back when no longer used; when that allocation fails, the connection
 * closes with 1011 (a Close still goes out) or the call (Config MessageLength,
 * a blocking Ping) returns RW_ENOMEM.
 * The frame parser and message state exist only
 * while a frame or message is open (from a per-server pool); the request
 * headers are kept after the handshake only with KeepRequestHeaders=True.
 * permessage-deflate by default negotiates no context takeover both ways: one
 * deflate stream per server and window size (about 256 KiB at 15 window bits
 * and memLevel 8) is reset per message, and an inflate stream (about 40 KiB)
 * exists only while a compressed message is being received, from a per-server
 * pool of at most 32. With Config PermessageDeflateContextTakeover=True each
 * connection keeps its own deflate and inflate streams for its whole life:
 * measured 309 KB per idle connection at window 15 / memLevel 8, 52 KB with
 * PermessageDeflateWindowBits=10 and PermessageDeflateMemLevel=1 (the
 * inflate stream, 32 KiB window, is most of that).
 *
 * Returns: 0 or a count on success, a negative RW_E* code (common.h). Getters
 * of per-connection properties return -RW_EINVALID_CONNID for an unknown id.
 * String getters copy a NUL-terminated string and return its length, or
 * -RW_EBUFFER_TOO_SMALL. Threads: with Config Workers=1 (the default) one
 * thread drives a server; with Workers=N the object runs N threads (one ring
 * and one deflate stream each), may be called from any thread, and fires its
 * events on those threads, never two at once for one connection (workers.h).
 */
#ifndef RINGWORKS_WSSERVER_H
#define RINGWORKS_WSSERVER_H

#include "common.h"
#include "loop.h"
#include "tcpserver.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rw_wsserver rw_wsserver;

/* 4202 "Error sending data to the connected client.": a send on a connection
 * that is not open (still in the handshake, or closing). */
#define RW_EWS_SEND 4202

/* DataIn data_format and the per-connection DataFormat property. */
enum {
	RW_WS_FORMAT_AUTO = 0,   /* outgoing: binary. DataIn: a continuation piece */
	RW_WS_FORMAT_TEXT = 1,
	RW_WS_FORMAT_BINARY = 2,
	RW_WS_FORMAT_PING = 9,   /* outgoing only: send() sends a ping */
	RW_WS_FORMAT_PONG = 10   /* outgoing only: send() sends an unsolicited pong */
};

/* ---- Event parameters --------------------------------------------------- */

typedef rw_tcpserver_connection_request rw_wsserver_connection_request;
typedef rw_tcpserver_ssl_client_authentication rw_wsserver_ssl_client_authentication;
typedef rw_tcpserver_ssl_status rw_wsserver_ssl_status;
typedef rw_tcpserver_error rw_wsserver_error;

/* The client's opening handshake. Leave status_code at 101 to accept. To pick
 * a subprotocol set `subprotocols` to one of the offered tokens (only a single
 * offered token is ever answered; anything else sends no
 * Sec-WebSocket-Protocol). Set status_code to any other HTTP status to reject
 * (e.g. 401 with response_headers "WWW-Authenticate: Basic realm=\"x\""): the
 * response is sent with Content-Length: 0 and the connection closed.
 * response_headers ("Name: value" lines, CRLF or LF) are added in both cases;
 * Sec-WebSocket-Extensions/-Accept, Upgrade, Connection and Content-Length
 * lines are the server's own and are dropped. Strings the handler assigns must
 * stay valid until the handler returns. */
typedef struct {
	rw_connid connection_id;
	const char *request_uri;     /* "/chat?room=1" */
	const char *path;            /* "/chat" */
	const char *query;           /* "room=1" or "" */
	const char *host_header;
	const char *origin_header;   /* "" when absent */
	const char *subprotocols;    /* writable: offered list in, selection out */
	const char *extensions;      /* offered extensions (comma list) */
	const char *request_headers; /* header lines, CRLF-separated */
	int status_code;             /* writable, 101 */
	const char *response_headers;/* writable, "" */
} rw_wsserver_websocket_open_request;

typedef struct {
	rw_connid connection_id;
} rw_wsserver_connected, rw_wsserver_ready_to_send;

/* Received data. data_format: 1 text / 2 binary on the first piece of a
 * message, 0 on later pieces and always 0 in line mode. eom: this piece ends
 * the message. eol: line mode only, true when a line terminator ended `text`
 * (false when MaxLineLength did). Pieces arrive as frames do (at least one per
 * frame, a frame possibly in several); BufferMessage=True delivers each
 * message whole. Text is validated UTF-8 (a piece may end inside a code point
 * that the next completes). The bytes are borrowed. Sending them during the
 * event (an echo, a broadcast) costs no copy when they are 1 KiB or more:
 * the first send of a buffered message takes its buffer (later ones copy),
 * a piece goes out from the receive buffer (tcpserver.h, RecvBufferCount). */
typedef struct {
	rw_connid connection_id;
	int data_format;
	const uint8_t *text;
	size_t text_len;
	bool eom;
	bool eol;
} rw_wsserver_data_in;

/* A ping (response = false; it has been answered already) or a pong
 * (response = true) from the client. */
typedef struct {
	rw_connid connection_id;
	const uint8_t *payload;
	size_t payload_len;
	bool response;
} rw_wsserver_ping_event; /* ("rw_wsserver_ping" is the Ping method) */

/* status_code: the close code the client sent (1005 when its Close had none),
 * the code the server sent when it closed first (Disconnect, a protocol error:
 * 1002, 1007, 1009), or 1006 when the connection ended without a close
 * handshake (reset, timeout, rejected or failed handshake). */
typedef struct {
	rw_connid connection_id;
	int status_code;
	const char *description;
} rw_wsserver_disconnected;

typedef struct {
	void (*connection_request)(rw_wsserver *s, rw_wsserver_connection_request *e, void *user);
	void (*ssl_client_authentication)(rw_wsserver *s, rw_wsserver_ssl_client_authentication *e, void *user);
	void (*ssl_status)(rw_wsserver *s, const rw_wsserver_ssl_status *e, void *user);
	void (*websocket_open_request)(rw_wsserver *s, rw_wsserver_websocket_open_request *e, void *user);
	void (*connected)(rw_wsserver *s, const rw_wsserver_connected *e, void *user);
	void (*ready_to_send)(rw_wsserver *s, const rw_wsserver_ready_to_send *e, void *user);
	void (*data_in)(rw_wsserver *s, const rw_wsserver_data_in *e, void *user);
	void (*ping)(rw_wsserver *s, const rw_wsserver_ping_event *e, void *user);
	void (*disconnected)(rw_wsserver *s, const rw_wsserver_disconnected *e, void *user);
	void (*error)(rw_wsserver *s, const rw_wsserver_error *e, void *user);
	void (*log)(rw_wsserver *s, int level, const char *message, void *user);
} rw_wsserver_events;

/* ---- Lifecycle ------------------------------------------------------------ */

/* A new server (own loop, created at start_listening); NULL when out of memory. */
RW_API rw_wsserver *rw_wsserver_new(void);
/* A new server on a shared loop (loop.h), which must outlive it. */
RW_API rw_wsserver *rw_wsserver_new_on_loop(rw_loop *loop);
/* Close everything abortively, release all; fires no events. NULL is ignored.
 * Not from inside an event. */
RW_API void rw_wsserver_free(rw_wsserver *s);
RW_API void rw_wsserver_set_events(rw_wsserver *s, const rw_wsserver_events *events, void *user);

/* The TCP engine underneath, for the TLS settings of tcpserver_ssl.h
 * (SSLCertStore, SSLCertStoreType, SSLAuthenticateClients, ...). Do not set
 * its events or send through it. */
RW_API rw_tcpserver *rw_wsserver_get_tcpserver(rw_wsserver *s);

/* ---- Server properties (same rules and errors as TCPServer's) ------------ */

RW_API int rw_wsserver_get_connection_backlog(const rw_wsserver *s);
RW_API int rw_wsserver_set_connection_backlog(rw_wsserver *s, int backlog);
/* DefaultTimeout (s): seeds each connection's Timeout (0 = asynchronous sends). */
RW_API int rw_wsserver_get_default_timeout(const rw_wsserver *s);
RW_API int rw_wsserver_set_default_timeout(rw_wsserver *s, int seconds);
RW_API bool rw_wsserver_get_listening(const rw_wsserver *s);
RW_API int rw_wsserver_get_local_host(const rw_wsserver *s, char *buf, size_t len);
RW_API int rw_wsserver_set_local_host(rw_wsserver *s, const char *host);
RW_API int rw_wsserver_get_local_port(const rw_wsserver *s);
RW_API int rw_wsserver_set_local_port(rw_wsserver *s, int port);
/* UseSSL: implicit TLS (wss://) on every connection; the certificate comes
 * from the TCP engine's SSLCert* settings (rw_wsserver_get_tcpserver). */
RW_API bool rw_wsserver_get_use_ssl(const rw_wsserver *s);
RW_API int rw_wsserver_set_use_ssl(rw_wsserver *s, bool on);
/* Open WebSocket connections (Connected fired, Disconnected not yet). */
RW_API int rw_wsserver_get_connection_count(const rw_wsserver *s);
/* Connections: copy up to `max` ids of open WebSockets, oldest first; returns
 * how many there are (may exceed max). */
RW_API int rw_wsserver_get_connection_ids(const rw_wsserver *s, rw_connid *ids, size_t max);

/* ---- Connection properties (Connections[id]) ------------------------------ */

/* AcceptData: 0 pauses reception (no DataIn, no control frames; TCP pushes
 * back), 1 resumes. */
RW_API int rw_wsserver_get_accept_data(const rw_wsserver *s, rw_connid id);
RW_API int rw_wsserver_set_accept_data(rw_wsserver *s, rw_connid id, bool on);
/* BytesSent: payload bytes taken by the last send (0 in Timeout > 0 mode). */
RW_API int64_t rw_wsserver_get_bytes_sent(const rw_wsserver *s, rw_connid id);
/* Connected: 1 while the WebSocket is open. Setting false is Disconnect. */
RW_API int rw_wsserver_get_connected(const rw_wsserver *s, rw_connid id);
RW_API int rw_wsserver_set_connected(rw_wsserver *s, rw_connid id, bool on);
/* DataFormat for send(): RW_WS_FORMAT_*. */
RW_API int rw_wsserver_get_data_format(const rw_wsserver *s, rw_connid id);
RW_API int rw_wsserver_set_data_format(rw_wsserver *s, rw_connid id, int format);
/* Request metadata: Host and Origin headers, RequestURI, RequestHeaders, the
 * offered SubProtocols and the selected one. RequestHeaders reads "" after
 * the handshake unless Config KeepRequestHeaders=True (it is always in
 * WebSocketOpenRequest). */
RW_API int rw_wsserver_get_host(const rw_wsserver *s, rw_connid id, char *buf, size_t len);
RW_API int rw_wsserver_get_origin(const rw_wsserver *s, rw_connid id, char *buf, size_t len);
RW_API int rw_wsserver_get_request_uri(const rw_wsserver *s, rw_connid id, char *buf, size_t len);
RW_API int rw_wsserver_get_request_headers(const rw_wsserver *s, rw_connid id, char *buf, size_t len);
RW_API int rw_wsserver_get_subprotocols(const rw_wsserver *s, rw_connid id, char *buf, size_t len);
RW_API int rw_wsserver_get_selected_subprotocol(const rw_wsserver *s, rw_connid id, char *buf, size_t len);
/* Whether permessage-deflate was negotiated (1/0). */
RW_API int rw_wsserver_get_compressed(const rw_wsserver *s, rw_connid id);
/* LineMode (set with rw_wsserver_change_line_mode). */
RW_API int rw_wsserver_get_line_mode(const rw_wsserver *s, rw_connid id);
RW_API int rw_wsserver_get_local_address(const rw_wsserver *s, rw_connid id, char *buf, size_t len);
/* ReadyToSend: 1 unless the last async send returned RW_EWOULDBLOCK and the
 * queue has not drained since. */
RW_API int rw_wsserver_get_ready_to_send(const rw_wsserver *s, rw_connid id);
RW_API int rw_wsserver_get_remote_host(const rw_wsserver *s, rw_connid id, char *buf, size_t len);
RW_API int rw_wsserver_get_remote_port(const rw_wsserver *s, rw_connid id);
/* Timeout (s): 0 = asynchronous sends; > 0 = send and ping block (events keep
 * firing) and fail with -RW_ETIMEDOUT after that long without progress. */
RW_API int rw_wsserver_get_timeout(const rw_wsserver *s, rw_connid id);
RW_API int rw_wsserver_set_timeout(rw_wsserver *s, rw_connid id, int seconds);

/* ---- Methods ---------------------------------------------------------- */

RW_API int rw_wsserver_start_listening(rw_wsserver *s);
RW_API int rw_wsserver_stop_listening(rw_wsserver *s);
/* StopListening, then Disconnect (close handshake) every connection. */
RW_API int rw_wsserver_shutdown(rw_wsserver *s);
RW_API int rw_wsserver_do_events(rw_wsserver *s);
/* do_events until shut down and every connection has closed. */
RW_API int rw_wsserver_run(rw_wsserver *s);

/* Send a message. send(): per DataFormat (auto/binary: binary, text, ping,
 * pong; a ping/pong payload is at most 125 bytes, else -RW_EBAD_VALUE);
 * send_bytes(): binary; send_text(): text (must be valid UTF-8 when sent in
 * one call, else -RW_EBAD_VALUE). Payloads larger than MaxFrameSize go out
 * as several frames of one message; with permessage-deflate, messages that fit
 * the queue are compressed.
 * Every call is one message, unless MessageLength[id] is set: then the next
 * MessageLength bytes, over any number of calls, form one message.
 * Timeout = 0: returns at once. -RW_EWOULDBLOCK when the queue could take only
 * part: BytesSent says how much; the message then stays open, and the next
 * send on this connection continues it with the remaining bytes (send exactly
 * the rest, as the documents prescribe); ReadyToSend fires once the queue
 * drains. Timeout > 0: blocks (events fire) until all is queued;
 * -RW_ETIMEDOUT / -RW_EINTERRUPTED. -RW_EWS_SEND when the connection is not
 * open, -RW_EINVALID_CONNID for an unknown id. The bytes are copied. */
RW_API int rw_wsserver_send(rw_wsserver *s, rw_connid id, const void *data, size_t len);
RW_API int rw_wsserver_send_bytes(rw_wsserver *s, rw_connid id, const void *data, size_t len);
RW_API int rw_wsserver_send_text(rw_wsserver *s, rw_connid id, const char *text);
RW_API int rw_wsserver_send_text_n(rw_wsserver *s, rw_connid id, const char *text, size_t len);

/* SendFile: the file as one binary message (fragmented by MaxFrameSize),
 * read in 64 KiB pieces as the queue takes them. Blocks (events keep firing)
 * until all is queued; -RW_ETIMEDOUT after Timeout seconds without progress
 * (60 when Timeout is 0); Interrupt ends the message early with an empty
 * final frame and gives -RW_EINTERRUPTED. Errors opening the file are mapped
 * errno codes; -RW_EBAD_STATE while another message is open. */
RW_API int rw_wsserver_send_file(rw_wsserver *ws, rw_connid id, const char *path);

/* Ping: send a ping with a unique 8-byte payload. Timeout = 0: returns at once
 * (the pong fires the Ping event with response = true). Timeout > 0: waits
 * for that pong (events fire); -RW_ETIMEDOUT without one. */
RW_API int rw_wsserver_ping(rw_wsserver *s, rw_connid id);

/* Start the close handshake: a Close frame with DisconnectStatusCode and
 * DisconnectStatusDescription (or the code's standard text); with
 * WaitForCloseResponse the TCP connection closes when the client answers (or
 * after Timeout seconds, 5 when 0), otherwise at once after the frame is sent.
 * Disconnected fires from a later do_events. Idempotent for a closing id. */
RW_API int rw_wsserver_disconnect(rw_wsserver *s, rw_connid id);
/* Disconnect with an explicit code (1000-1003, 1007-1014, 3000-4999, else
 * -RW_EBAD_VALUE) and reason (NULL: the standard text; cut to 123 bytes at a
 * UTF-8 boundary). */
RW_API int rw_wsserver_disconnect_with(rw_wsserver *s, rw_connid id, int code, const char *reason);

/* Interrupt a blocking send or ping on this connection (-RW_EINTERRUPTED). */
RW_API int rw_wsserver_interrupt(rw_wsserver *s, rw_connid id);

/* LineMode: DataIn per line of received data (LF, with a CR before it removed;
 * lines span messages; MaxLineLength cuts long lines with eol = false). */
RW_API int rw_wsserver_change_line_mode(rw_wsserver *s, rw_connid id, bool on);

/* Config "Name=Value" / "Name" / "Name[id]" (see tcpserver.h for the grammar).
 * WebSocket settings (default):
 *  BufferMessage (False), MaxMessageSize (16777216; 0 = unlimited; close 1009
 *  above it, counted after decompression), MaxFrameSize (131072, >= 1),
 *  DisconnectStatusCode (1000), DisconnectStatusDescription (""),
 *  WaitForCloseResponse (True), EnablePermessageDeflate (True),
 *  PermessageDeflateContextTakeover (False), PermessageDeflateLevel (1; 0-9),
 *  PermessageDeflateWindowBits (15; 9-15: the server's deflate window, at
 *  most the negotiated server_max_window_bits), PermessageDeflateMemLevel
 *  (0 = follows the window: 8 at 15 bits; 1-9; both apply to deflate streams
 *  made after the change, so set them before listening),
 *  KeepRequestHeaders (False: RequestHeaders reads "" once the handshake is
 *  done, saving their size per connection; True keeps them),
 *  DefaultConnectionTimeout (0 = 30 s handshake limit), MaxHandshakeSize (16384),
 *  per connection: MaxLineLength[id] (2048, >= 256), MessageLength[id] (0 =
 *  off; reads back the bytes still outstanding in the open message).
 * Every other setting (MaxConnections, AllowedClients, TcpNoDelay, Backend,
 * SendQueueLimit, LogLevel, the SSL* settings, RemoteHost[id], ...) is the
 * TCP engine's (tcpserver.h). */
RW_API int rw_wsserver_config(rw_wsserver *s, const char *setting, char *out, size_t out_len);

RW_API rw_loop *rw_wsserver_get_loop(rw_wsserver *s);

#ifdef __cplusplus
}
#endif
#endif
