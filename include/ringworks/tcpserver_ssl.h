/* ringworks/tcpserver_ssl.h: TCPServer's TLS (SSL*) properties and StartSSL.
 * Included by tcpserver.h; not meant to be included on its own. Same return
 * conventions as tcpserver.h; the TLS errors are RW_ESSL_* in common.h. */
#ifndef RINGWORKS_TCPSERVER_SSL_H
#define RINGWORKS_TCPSERVER_SSL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rw_tcpserver rw_tcpserver;

/* SSLClientAuthentication: with SSLAuthenticateClients, once per handshake,
 * with the client's certificate (DER; NULL and 0 when it sent none), its
 * subject and issuer, and `accept` preset to whether it verified against the
 * CA certificates (status "OK" or the reason). The handler may change accept;
 * false fails the handshake (Connected with 280/281, then Disconnected). */
typedef struct {
	rw_connid connection_id;
	const uint8_t *cert_encoded;
	size_t cert_encoded_len;
	const char *cert_subject;
	const char *cert_issuer;
	const char *status;
	bool accept; /* writable */
} rw_tcpserver_ssl_client_authentication;

/* SSLStatus: informational progress of a TLS connection ("TLS handshake
 * started", "TLS handshake completed: TLSv1.3 TLS_AES_128_GCM_SHA256", ...). */
typedef struct {
	rw_connid connection_id;
	const char *message;
} rw_tcpserver_ssl_status;

/* SSLConnectionRequest: once per TLS connection, when the client's
 * ClientHello has arrived and before the server's certificate is chosen (so
 * only when the handler is set does ringworks wait for the whole hello). The
 * lists are what the client offers, comma-separated: IANA cipher suite names
 * ("TLS_AES_128_GCM_SHA256,...", "0xC0FF" for an unnamed code) and TLS
 * signature schemes ("ecdsa_secp256r1_sha256,rsa_pss_rsae_sha256,...").
 * The cert_* fields start as the server's SSLCert* settings; point them at
 * another certificate (same meaning as the SSLCert* setters: a path, its
 * length without the NUL, for the file types; bytes for the blob types) to
 * serve that one to this client,
 * e.g. RSA for a client without ECDSA. Each different certificate is loaded
 * once and kept until StopListening (at most 16). Accept false, or a
 * certificate that cannot be loaded, fails the handshake: Connected with
 * status 276 (RW_ESSL_HANDSHAKE), then Disconnected. */
typedef struct {
	rw_connid connection_id;
	const char *supported_cipher_suites;
	const char *supported_signature_algs;
	int cert_store_type;       /* writable, RW_CERT_* */
	const void *cert_store;    /* writable */
	size_t cert_store_len;     /* writable */
	const char *cert_password; /* writable, may be NULL */
	const char *cert_subject;  /* writable, may be NULL: the first certificate */
	bool accept;               /* writable, preset true */
} rw_tcpserver_ssl_connection_request;

/* SSL Config settings (rw_tcpserver_config):
 *  TLS13SupportedGroups, TLS12SupportedGroups (wolfSSL's defaults when unset;
 *    else e.g. "ecdhe_x25519,ecdhe_secp256r1"): wolfSSL keeps one list, so
 *    ringworks offers the TLS 1.3 list first, then the TLS 1.2 names not in it;
 *    a group this wolfSSL build lacks fails StartListening, -RW_ENOT_SUPPORTED,
 *  SSLKeyLogFile ("": off): appends NSS key log lines: CLIENT_RANDOM for a
 *    TLS 1.2 handshake, the traffic secrets of a TLS 1.3 one (TLS 1.3 needs
 *    the tuned wolfSSL, meson -Dwolfssl=tuned, the default; with Debian's
 *    libwolfssl-dev nothing is written for TLS 1.3),
 *  SSLEnableRenegotiation (False: a TLS 1.2 client that asks to renegotiate
 *    is disconnected with RW_ESSL_HANDSHAKE and an Error event; True: secure
 *    renegotiation (RFC 5746) is answered; -RW_ENOT_SUPPORTED with Debian's
 *    wolfSSL, -RW_EBAD_STATE while listening),
 *  TLS13SignatureAlgorithms, TLS12SignatureAlgorithms (wolfSSL's defaults
 *    when unset; e.g. "rsa_pss_sha256,ecdsa_secp256r1_sha256,ed25519" and
 *    "sha256-rsa,sha384-ecdsa"; DSA names are ignored; an unknown name fails
 *    StartListening with -RW_EBAD_VALUE): the algorithms a client certificate
 *    is asked to be signed with. wolfSSL keeps one list for both versions, and
 *    5.5.4 asks for all it has in a TLS 1.3 CertificateRequest and signs with
 *    the server key's own algorithm, so the lists shape TLS 1.2 handshakes,
 *  SSLClientCACerts (PEM text) and OpenSSLCAFile (a PEM file): the CA
 *    certificates client certificates are verified against,
 *  SSLEnabledProtocols (15360 = TLS 1.2 | TLS 1.3; TLS 1.0/1.1 bits ->
 *    -RW_ENOT_SUPPORTED), SSLALPNProtocols ("" = off; "h2,http/1.1": the first
 *    one the client also offers is selected),
 *  SSLEnabledCipherSuites ("*"; else IANA names separated by ';', e.g.
 *    "TLS_AES_128_GCM_SHA256;TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256";
 *    an unknown name fails StartListening with -RW_EBAD_VALUE)
 */


/* ---- TLS (SSL*) ------------------------------------------------------------
 * Implicit/Automatic and Explicit start modes; PEM and PFX certificates. Store
 * types of other platforms (Windows, Java, SSH, XML, PKCS#11) return
 * -RW_ENOT_SUPPORTED. */
enum {
	RW_SSL_START_AUTOMATIC = 0, /* same as Implicit for a TCP server */
	RW_SSL_START_IMPLICIT = 1,  /* handshake as soon as a connection is accepted */
	RW_SSL_START_EXPLICIT = 2,  /* plaintext until rw_tcpserver_start_ssl(id) */
	RW_SSL_START_NONE = 3       /* plaintext (default) */
};
enum {
	RW_CERT_PFX_FILE = 2, RW_CERT_PFX_BLOB = 3,           /* PKCS#12, with SSLCertStorePassword */
	RW_CERT_PEM_KEY_FILE = 6, RW_CERT_PEM_KEY_BLOB = 7,   /* certificate(s) + key, PEM */
	RW_CERT_AUTO = 99                                    /* PEM or PFX, told apart by content;
	                                                        a readable path or the bytes */
};

/* SSLStartMode (default 3). Setting it updates SSLEnabled (0-2: true, 3: false).
 * Changing it while listening: -RW_EBAD_STATE. */
RW_API int rw_tcpserver_get_ssl_start_mode(const rw_tcpserver *s);
RW_API int rw_tcpserver_set_ssl_start_mode(rw_tcpserver *s, int mode);
/* SSLEnabled: true sets SSLStartMode Implicit when it was None; false sets None. */
RW_API bool rw_tcpserver_get_ssl_enabled(const rw_tcpserver *s);
RW_API int rw_tcpserver_set_ssl_enabled(rw_tcpserver *s, bool on);

/* The server certificate: SSLCertStoreType (default RW_CERT_PEM_KEY_FILE),
 * SSLCertStore (a file path for *_FILE types, the bytes for *_BLOB types) and
 * SSLCertSubject ("*" = the first certificate; otherwise it must match the
 * certificate's subject exactly or as a substring, else start_listening fails
 * with -RW_ESSL_CERT_NOT_FOUND). The certificate is loaded at start_listening:
 * no store -> -RW_ESSL_NO_SERVER_CERT, unreadable -> -RW_ESSL_CERT_STORE, key
 * not matching -> -RW_ESSL_CREDENTIALS. Changing these while listening:
 * -RW_EBAD_STATE. */
RW_API int rw_tcpserver_get_ssl_cert_store_type(const rw_tcpserver *s);
RW_API int rw_tcpserver_set_ssl_cert_store_type(rw_tcpserver *s, int type);
RW_API int rw_tcpserver_set_ssl_cert_store(rw_tcpserver *s, const void *store, size_t len);
RW_API int rw_tcpserver_set_ssl_cert_subject(rw_tcpserver *s, const char *subject);
/* SSLCertStorePassword: the PFX password (a wrong one: -RW_ESSL_CERT_STORE). */
RW_API int rw_tcpserver_set_ssl_cert_store_password(rw_tcpserver *s, const char *password);
/* The selected certificate's subject after start_listening (or ""). */
RW_API int rw_tcpserver_get_ssl_cert_subject(const rw_tcpserver *s, char *buf, size_t len);
/* SSLCertEncoded: the certificate as base64 DER (PEM armour and line breaks
 * are accepted on set). Set: start_listening then requires the store's
 * certificate to be this one (else -RW_ESSL_CERT_NOT_FOUND; bad base64:
 * -RW_EBAD_VALUE at once). Get: the selected certificate after
 * start_listening, else what was set (or ""); the length, or
 * -RW_EBUFFER_TOO_SMALL. */
RW_API int rw_tcpserver_set_ssl_cert_encoded(rw_tcpserver *s, const char *encoded);
RW_API int rw_tcpserver_get_ssl_cert_encoded(const rw_tcpserver *s, char *buf, size_t len);

/* SSLAuthenticateClients (default false): ask each client for a certificate
 * and fire SSLClientAuthentication (see the event). Fixed while listening. */
RW_API bool rw_tcpserver_get_ssl_authenticate_clients(const rw_tcpserver *s);
RW_API int rw_tcpserver_set_ssl_authenticate_clients(rw_tcpserver *s, bool on);

/* Explicit mode: start the TLS handshake on a plaintext connection (the
 * client sends its ClientHello after whatever STARTTLS exchange the protocol
 * has). Connected fires again, with the handshake's result. -RW_EBAD_STATE if
 * TLS is already on or SSL is not enabled. */
RW_API int rw_tcpserver_start_ssl(rw_tcpserver *s, rw_connid id);

#ifdef __cplusplus
}
#endif
#endif
