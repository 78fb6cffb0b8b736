/* ringworks/dtlsserver.h: DTLSServer, DTLS 1.2 over one UDP socket on io_uring
 * (wolfSSL underneath).
 *
 * Model (the component document's model, in C; same shape as tcpserver.h):
 *  - Select a certificate with a private key, set the events, call
 *    rw_dtlsserver_start_listening(), then call rw_dtlsserver_do_events() in a
 *    loop (or rw_dtlsserver_run()). Every event fires from inside do_events on
 *    the calling thread; never from inside disconnect, shutdown, stop_listening
 *    or send.
 *  - A new peer (address and port) first gets a stateless HelloVerifyRequest
 *    carrying a cookie (an HMAC over its address, port and ClientHello under a
 *    secret that rotates; the previous secret stays valid for one period). The
 *    server keeps nothing and fires nothing for it, so a spoofed source costs
 *    one HMAC and one 60-byte answer that is never larger than what it sent.
 *    With the tuned wolfSSL and SSLEnabledProtocols including DTLS 1.3, a
 *    1.3 ClientHello gets wolfSSL's stateless HelloRetryRequest cookie instead
 *    (a wolfSSL object lives for the length of that call only; the answer is
 *    never larger than the hello).
 *  - When the ClientHello comes back with a valid cookie: ConnectionRequest
 *    (the handler may refuse; the peer then gets an access_denied alert), then
 *    the handshake with SSLStatus and, with SSLAuthenticateClients,
 *    SSLClientAuthentication; it ends in exactly one Connected. status_code 0
 *    ("OK") gives a live connection; a failure (403 handshake error, 404
 *    certificate refused, 10060 handshake deadline) is followed by its
 *    Disconnected. Every id that got Connected gets exactly one Disconnected,
 *    its last event.
 *  - DataIn fires once per received application record (one peer send), with
 *    its exact bytes. send() makes one record in one datagram.
 *  - A connection ends by the peer's close_notify (Disconnected 0 "OK"),
 *    rw_dtlsserver_disconnect or shutdown (0 "OK", a close_notify is sent),
 *    DefaultIdleTimeout (10060 "Idle timeout"), a fatal alert or error (403),
 *    or a new handshake from the same address and port (the client restarted:
 *    403 "Replaced by a new handshake").
 *  - Not thread-safe: a server and its loop belong to one thread.
 *
 * Returns: 0 or a count on success, a negative RW_E* code on failure (common.h
 * and the RW_EDTLS_* codes below). String getters copy a NUL-terminated string
 * and return its length, or -RW_EBUFFER_TOO_SMALL.
 *
 * Memory: receive buffers are the loop's provided-buffer ring (no per-peer
 * buffer); a connection costs one struct plus wolfSSL's state; nothing exists
 * for a peer before its cookie verifies; MaxConnections bounds the table
 * (handshaking ones included); a paused connection holds at most Config
 * PausedQueueLimit records.
 */
#ifndef RINGWORKS_DTLSSERVER_H
#define RINGWORKS_DTLSSERVER_H

#include "common.h"
#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rw_dtlsserver rw_dtlsserver;

/* The DTLSServer document's errors (positive values; functions return their
 * negation). */
enum {
	RW_EDTLS_INVALID_DATAGRAM = 400, /* malformed, undecryptable or oversized datagram */
	RW_EDTLS_INVALID_FLOW     = 401, /* operation in the wrong state (e.g. send while handshaking) */
	RW_EDTLS_NOT_SUPPORTED    = 402, /* KeepAlive (RFC 6520 heartbeat): wolfSSL has none */
	RW_EDTLS_HANDSHAKE        = 403, /* DTLS handshake error; a fatal alert afterwards */
	RW_EDTLS_INVALID_CERT     = 404  /* no usable server certificate; client certificate refused */
};

/* SSLEnabledProtocols bits (the documents' values). */
#define RW_DTLS_PROTO_DTLS12 3072
#define RW_DTLS_PROTO_DTLS13 12288 /* needs the tuned wolfSSL (WOLFSSL_DTLS13) */

/* ---- Event parameters ------------------------------------------------- */

/* A peer proved it owns its address (the cookie verified); no id exists yet.
 * `accept` starts false when AllowedClients does not match or BlockedClients
 * matches; the handler may change it either way. */
typedef struct {
	const char *address;
	int port;
	bool accept; /* writable */
} rw_dtlsserver_connection_request;

typedef struct {
	rw_connid connection_id;
	const char *source_addr;
	int source_port;
	int status_code;
	const char *description;
} rw_dtlsserver_connected;

typedef struct {
	rw_connid connection_id;
	int status_code;
	const char *description;
} rw_dtlsserver_disconnected;

/* One decrypted record; the bytes are borrowed for the callback's duration. */
typedef struct {
	rw_connid connection_id;
	const uint8_t *datagram;
	size_t datagram_len;
} rw_dtlsserver_data_in;

/* connection_id 0 when the error is about the server. */
typedef struct {
	rw_connid connection_id;
	int error_code;
	const char *description;
} rw_dtlsserver_error;

typedef struct {
	rw_connid connection_id;
	const char *message;
} rw_dtlsserver_ssl_status;

/* With SSLAuthenticateClients, once per handshake: the client's certificate
 * (DER; NULL and 0 when it sent none), and `accept` preset to whether it
 * verified against SSLClientCACerts / OpenSSLCAFile ("OK" or the reason).
 * The handler may change it; false fails the handshake (Connected 404). */
typedef struct {
	rw_connid connection_id;
	const uint8_t *cert_encoded;
	size_t cert_encoded_len;
	const char *cert_subject;
	const char *cert_issuer;
	const char *status;
	bool accept; /* writable */
} rw_dtlsserver_ssl_client_authentication;

typedef struct {
	void (*connection_request)(rw_dtlsserver *s, rw_dtlsserver_connection_request *e, void *user);
	void (*connected)(rw_dtlsserver *s, const rw_dtlsserver_connected *e, void *user);
	void (*data_in)(rw_dtlsserver *s, const rw_dtlsserver_data_in *e, void *user);
	void (*disconnected)(rw_dtlsserver *s, const rw_dtlsserver_disconnected *e, void *user);
	void (*error)(rw_dtlsserver *s, const rw_dtlsserver_error *e, void *user);
	void (*ssl_client_authentication)(rw_dtlsserver *s, rw_dtlsserver_ssl_client_authentication *e, void *user);
	void (*ssl_status)(rw_dtlsserver *s, const rw_dtlsserver_ssl_status *e, void *user);
	/* Diagnostics at or below Config LogLevel (default RW_LOG_WARN). */
	void (*log)(rw_dtlsserver *s, int level, const char *message, void *user);
} rw_dtlsserver_events;

/* ---- Lifecycle -------------------------------------------------------- */

/* A server with the documented defaults, owning its loop (created at
 * start_listening). NULL only when out of memory. */
RW_API rw_dtlsserver *rw_dtlsserver_new(void);

/* A server on a loop shared with other servers (loop.h); the loop must outlive
 * the server, and one rw_loop_do_events serves them all. */
RW_API rw_dtlsserver *rw_dtlsserver_new_on_loop(rw_loop *loop);

/* Drop every connection (no events fire), close the socket, release
 * everything. NULL is ignored. Not from inside an event. */
RW_API void rw_dtlsserver_free(rw_dtlsserver *s);

/* Set the callbacks (copied) and the user pointer. Any member may be NULL. */
RW_API void rw_dtlsserver_set_events(rw_dtlsserver *s, const rw_dtlsserver_events *events, void *user);

/* The loop the server runs on (NULL before start_listening for an own loop). */
RW_API rw_loop *rw_dtlsserver_get_loop(rw_dtlsserver *s);

/* ---- Server-wide properties ------------------------------------------- */

/* LocalHost ("" = all interfaces; "::" or an IPv6 address needs UseIPv6) and
 * LocalPort (0 = ephemeral; reads back the bound port once listening). Both
 * fixed while the socket is open: -RW_ELOCALHOST_LISTENING / -RW_ELOCALPORT_LISTENING. */
RW_API int rw_dtlsserver_get_local_host(const rw_dtlsserver *s, char *buf, size_t len);
RW_API int rw_dtlsserver_set_local_host(rw_dtlsserver *s, const char *host);
RW_API int rw_dtlsserver_get_local_port(const rw_dtlsserver *s);
RW_API int rw_dtlsserver_set_local_port(rw_dtlsserver *s, int port);

/* Listening: read-only; true between start_listening and stop_listening. */
RW_API bool rw_dtlsserver_get_listening(const rw_dtlsserver *s);

/* DefaultIdleTimeout (seconds, 0 = none; negative: -RW_EBAD_VALUE): a
 * connection with no record received or sent for that long is closed with
 * Disconnected(10060, "Idle timeout"). Checked about once a second; a change
 * applies to existing connections. */
RW_API int rw_dtlsserver_get_default_idle_timeout(const rw_dtlsserver *s);
RW_API int rw_dtlsserver_set_default_idle_timeout(rw_dtlsserver *s, int seconds);

/* KeepAlive (RFC 6520 heartbeat): wolfSSL has no heartbeat, so setting true
 * returns -RW_EDTLS_NOT_SUPPORTED (402); false is accepted; the getter is false. */
RW_API bool rw_dtlsserver_get_keep_alive(const rw_dtlsserver *s);
RW_API int rw_dtlsserver_set_keep_alive(rw_dtlsserver *s, bool on);

/* ConnectionCount: established connections (Connected 0 and no Disconnected
 * yet). Handshaking peers are counted by Config "SessionCount". */
RW_API int rw_dtlsserver_get_connection_count(const rw_dtlsserver *s);

/* Copy up to `max` live connection ids, oldest first; returns how many exist. */
RW_API int rw_dtlsserver_get_connection_ids(const rw_dtlsserver *s, rw_connid *ids, size_t max);

/* Certificates, exactly as TCPServer's (tcpserver_ssl.h): SSLCertStoreType
 * (RW_CERT_PEM_KEY_FILE default, _BLOB, PFX_FILE/_BLOB, AUTO), SSLCertStore,
 * SSLCertStorePassword, SSLCertSubject. Loaded at start_listening: no store ->
 * -RW_EDTLS_INVALID_CERT; unreadable, wrong password, no match or no key: the
 * RW_ESSL_* code of the loader. Fixed while listening (-RW_EBAD_STATE). */
RW_API int rw_dtlsserver_get_ssl_cert_store_type(const rw_dtlsserver *s);
RW_API int rw_dtlsserver_set_ssl_cert_store_type(rw_dtlsserver *s, int type);
RW_API int rw_dtlsserver_set_ssl_cert_store(rw_dtlsserver *s, const void *store, size_t len);
RW_API int rw_dtlsserver_set_ssl_cert_store_password(rw_dtlsserver *s, const char *password);
RW_API int rw_dtlsserver_set_ssl_cert_subject(rw_dtlsserver *s, const char *subject);
/* The selected certificate's subject after start_listening (or ""). */
RW_API int rw_dtlsserver_get_ssl_cert_subject(const rw_dtlsserver *s, char *buf, size_t len);

/* SSLAuthenticateClients (default false): ask each client for a certificate
 * and fire SSLClientAuthentication. Fixed while listening. */
RW_API bool rw_dtlsserver_get_ssl_authenticate_clients(const rw_dtlsserver *s);
RW_API int rw_dtlsserver_set_ssl_authenticate_clients(rw_dtlsserver *s, bool on);

/* ---- Per-connection properties ---------------------------------------- */

/* ConnectionRemoteHost / ConnectionRemotePort (an IPv4 peer of a dual-stack
 * socket prints as dotted IPv4), ConnectionLocalHost (the bound address) and
 * ConnectionLocalPort (LocalPort). -RW_EINVALID_CONNID for an unknown id. */
RW_API int rw_dtlsserver_get_remote_host(const rw_dtlsserver *s, rw_connid id, char *buf, size_t len);
RW_API int rw_dtlsserver_get_remote_port(const rw_dtlsserver *s, rw_connid id);
RW_API int rw_dtlsserver_get_connection_local_host(const rw_dtlsserver *s, rw_connid id, char *buf, size_t len);
RW_API int rw_dtlsserver_get_connection_local_port(const rw_dtlsserver *s, rw_connid id);

/* ---- Methods ---------------------------------------------------------- */

/* Load the certificate, create the wolfSSL DTLS context, bind the UDP socket
 * (IPv4, IPv6 or both: Config UseIPv6) and start receiving. Fires no event.
 * -RW_EALREADY_LISTENING; -RW_EADDRINUSE; -RW_EURING_UNAVAILABLE; certificate
 * errors as above; -RW_ENOT_SUPPORTED for DTLS 1.3 without the tuned wolfSSL.
 * After stop_listening it resumes on the open socket. */
RW_API int rw_dtlsserver_start_listening(rw_dtlsserver *s);

/* Refuse new peers (their ClientHellos are dropped unanswered); existing
 * connections share the socket and keep working. Idempotent. */
RW_API int rw_dtlsserver_stop_listening(rw_dtlsserver *s);

/* StopListening, then Disconnect every connection (handshaking ones get
 * Connected(403) then Disconnected). The events fire from the next do_events;
 * the socket closes once no connection is left, so the port can be bound
 * again (run() returns then). */
RW_API int rw_dtlsserver_shutdown(rw_dtlsserver *s);

/* Process what has completed and the timers (retransmissions, the handshake
 * deadline, idle timeouts), firing events; wait up to Config DoEventsTimeout
 * ms (default 1000) when nothing is ready, never past the next timer.
 * Returns the completions handled or a negative error (-RW_EBAD_STATE before
 * the loop exists). */
RW_API int rw_dtlsserver_do_events(rw_dtlsserver *s);

/* Call do_events until the server has stopped listening and has no
 * connection left (after shutdown), or until a loop error. */
RW_API int rw_dtlsserver_run(rw_dtlsserver *s);

/* Send one datagram: `len` bytes become one DTLS record in one UDP datagram,
 * encrypted at once and handed to the kernel with the loop's next submit (the
 * end of the current turn inside an event, else the next do_events).
 * Returns 0; -RW_EINVALID_CONNID (unknown, or closed by disconnect, shutdown
 * or the peer); -RW_EDTLS_INVALID_FLOW while the handshake runs;
 * -RW_EMSGSIZE above the record limit of the
 * negotiated cipher (about 1350 bytes with wolfSSL's 1400-byte MTU; see Config
 * MaxSendSize[id]): nothing is sent, a datagram is never split; -RW_ENOBUFS
 * when Config SendQueueLimit datagrams already wait for the kernel. A
 * zero-length send returns 0 and sends nothing. */
RW_API int rw_dtlsserver_send(rw_dtlsserver *s, rw_connid id, const void *data, size_t len);
RW_API int rw_dtlsserver_send_bytes(rw_dtlsserver *s, rw_connid id, const void *data, size_t len);
RW_API int rw_dtlsserver_send_text(rw_dtlsserver *s, rw_connid id, const char *text);

/* Send close_notify and end the connection; Disconnected(0, "OK") fires from
 * the next do_events (for a handshaking id: Connected(403) then Disconnected).
 * Idempotent for a closing id; -RW_EINVALID_CONNID for an unknown one. */
RW_API int rw_dtlsserver_disconnect(rw_dtlsserver *s, rw_connid id);

/* PauseData: no DataIn for the connection; its records are decrypted and kept
 * in a bounded queue (Config PausedQueueLimit records, default 64; the oldest
 * are kept, later ones are dropped with a Log line: UDP has no back-pressure).
 * A close_notify received while paused takes effect after the queue drains.
 * ProcessData: the queued records are delivered, in order, from the next
 * do_events. Both idempotent; -RW_EINVALID_CONNID for an unknown id. */
RW_API int rw_dtlsserver_pause_data(rw_dtlsserver *s, rw_connid id);
RW_API int rw_dtlsserver_process_data(rw_dtlsserver *s, rw_connid id);

/* Config: "Name=Value" sets, "Name" reads into `out`; "Name[id]" per
 * connection. Same grammar and return values as rw_tcpserver_config.
 * Settings (default):
 *  MaxConnections (1000; 1..100000): peers with state, handshaking ones
 *    included; a verified ClientHello beyond it is dropped and counted in
 *    RejectedConnectionCount (read-only). Fixed while listening.
 *  AllowedClients ("*"), BlockedClients (""): as TCPServer; they preset
 *    ConnectionRequest's accept.
 *  UseIPv6 (0 = IPv4, 1 = IPv6 only, 2 = both on one socket), ShareLocalPort
 *    (false; SO_REUSEADDR + SO_REUSEPORT), DontFragment (false), InBufferSize /
 *    OutBufferSize (0 = system; SO_RCVBUF / SO_SNDBUF), LogLevel (2),
 *  DoEventsTimeout (1000 ms), Backend (auto; auto|uring|epoll, as TCPServer's:
 *    the backend of the loop the server creates; reads uring or epoll once
 *    it exists),
 *  HandshakeTimeout (30 s): a handshake not finished by then fails with
 *    Connected(10060, "Handshake timeout"),
 *  RetransmitTimeoutMax (64 s; wolfSSL's retransmission back-off 1, 2, 4 ...
 *    stops there), CookieSecretLifetime (60 s; the cookie secret rotates),
 *  PausedQueueLimit (64 records), SendQueueLimit (4096 datagrams in flight),
 *  SSLEnabledProtocols (3072 = DTLS 1.2; 12288 = DTLS 1.3 with the tuned
 *    wolfSSL, else -RW_ENOT_SUPPORTED), UseConnectionID (false; true needs
 *    the tuned wolfSSL, else -RW_ENOT_SUPPORTED; wolfSSL 5.5's connection IDs
 *    are DTLS 1.3's, 2 bytes: a DTLS 1.3 peer that moves to a new address
 *    keeps its connection once a record from there authenticates; at most
 *    65,536 sessions hold a CID at a time), MTU (0 = wolfSSL's 1400; other
 *    values need the tuned wolfSSL, else -RW_ENOT_SUPPORTED),
 *  SSLClientCACerts (PEM text), OpenSSLCAFile (a PEM file): client CAs,
 *  SSLEnabledCipherSuites ("*" = wolfSSL's defaults; else suites separated by
 *    ';' (or ','), IANA names such as TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
 *    or wolfSSL's own; a name wolfSSL does not know: -RW_EBAD_VALUE at once;
 *    a list wolfSSL refuses as a whole: -RW_ENOT_SUPPORTED from
 *    start_listening; a client offering none of them fails its handshake),
 *  KeepAlive (False; True: -RW_EDTLS_NOT_SUPPORTED), Workers (1; above 1:
 *    -RW_ENOT_SUPPORTED: a DTLSServer runs on one thread, see workers.h),
 *  Counters (read-only): SessionCount (peers with state: handshaking and
 *    established), HelloVerifyRequestCount, DroppedDatagramCount,
 *    RejectedConnectionCount.
 * Per connection (read-only): RemoteHost[id], RemotePort[id],
 *  SSLNegotiatedVersion[id] ("DTLSv1.2"), SSLNegotiatedCipherSuite[id] (IANA
 *  name), SSLNegotiatedCipher[id] (its bulk cipher, "AES_128_GCM"),
 *  SSLNegotiatedCipherStrength[id] (its key bits), SSLNegotiatedKeyExchange[id]
 *  ("ECDHE SECP256R1"), SSLNegotiatedKeyExchangeStrength[id] (the group's
 *  bits), MaxSendSize[id] (the largest send, bytes); "" or 0 while the
 *  handshake runs.
 * Not supported (reading or setting: -RW_ENOT_SUPPORTED): SSLCipherStrength,
 *  SSLKeyLogFile, LogSSLPackets, SSLCACerts, TLS12SignatureAlgorithms,
 *  TLS12SupportedGroups, SSLEnableRenegotiation, SSLCheckCRL, SSLCheckOCSP,
 *  SSLSecurityFlags, ReuseSSLSession, SSLServerCACerts, KeepAliveTime /
 *  Interval / Mode, and the certificate read-outs SSLCert* other than
 *  SSLCertSubject (EffectiveDate, ExpirationDate, Fingerprint*, Issuer,
 *  PublicKey*, SerialNumber, Thumbprint*, Usage*, ...).
 */
RW_API int rw_dtlsserver_config(rw_dtlsserver *s, const char *setting, char *out, size_t out_len);

#ifdef __cplusplus
}
#endif
#endif
