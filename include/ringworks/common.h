/* ringworks/common.h: what every ringworks component shares.
 *
 * Error model: functions return 0 (or a count) on success and a NEGATIVE error
 * code on failure. The magnitude is the number the component documents use:
 *   1xx      component errors       (RW_EALREADY_LISTENING = 104, ...)
 *   2xx-3xx  TLS errors             (arrive with the TLS component)
 *   100xx    system errors, Winsock numbering (RW_EWOULDBLOCK = 10035, ...);
 *            Linux errno values are mapped through one table, see rw_errno_map().
 *   9xx      ringworks' own conditions the documents do not number
 *            (unknown Config name, io_uring unavailable, ...).
 * rw_strerror(code) accepts the negative or the positive form.
 *
 * The library never prints, aborts or exits. Nothing here is thread-safe unless
 * a function says so; see each component header for its threading contract.
 */
#ifndef RINGWORKS_COMMON_H
#define RINGWORKS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RW_BUILDING_LIBRARY)
#define RW_API __attribute__((visibility("default")))
#else
#define RW_API
#endif

#define RW_VERSION_MAJOR 0
#define RW_VERSION_MINOR 1
#define RW_VERSION_PATCH 0
#define RW_VERSION_STRING "0.1.0"

/* A connection identifier: positive, unique for the life of the server object,
 * never reused. Printed in decimal inside Config keys ("Name[42]"). */
typedef int64_t rw_connid;

/* Error codes (positive values; functions return their negation). */
enum {
	/* Component errors (documented numbers). */
	RW_EREMOTEPORT_BUSY     = 100, /* client-side leftover, never returned by a server */
	RW_EREMOTEHOST_BUSY     = 101, /* client-side leftover, never returned by a server */
	RW_EINVALID_REMOTEHOST  = 102, /* client-side leftover, never returned by a server */
	RW_EALREADY_LISTENING   = 104, /* "TCPServer is already listening." */
	RW_ELOCALPORT_LISTENING = 106, /* "Cannot change LocalPort when TCPServer is listening." */
	RW_ELOCALHOST_LISTENING = 107, /* "Cannot change LocalHost when TCPServer is listening." */
	RW_EMAXCONN_LISTENING   = 108, /* "Cannot change MaxConnections when TCPServer is listening." */
	RW_EMAXLINE_BUSY        = 112, /* "You cannot change MaxLineLength at this time. ..." */
	RW_EREMOTEPORT_ZERO     = 116, /* client-side leftover, never returned by a server */
	RW_EINVALID_CONNID      = 126, /* "Invalid ConnectionId." */
	RW_EWOULDBLOCK_135      = 135, /* documented alias; sends return RW_EWOULDBLOCK */

	/* TLS errors (documented numbers). */
	RW_ESSL_LIBRARY         = 270, /* Cannot load specified security library. */
	RW_ESSL_CERT_STORE      = 271, /* Cannot open certificate store. */
	RW_ESSL_CERT_NOT_FOUND  = 272, /* Cannot find specified certificate. */
	RW_ESSL_CREDENTIALS     = 273, /* Cannot acquire security credentials. */
	RW_ESSL_NO_CHAIN        = 274, /* Cannot find certificate chain. */
	RW_ESSL_CHAIN_VERIFY    = 275, /* Cannot verify certificate chain. */
	RW_ESSL_HANDSHAKE       = 276, /* Error during handshake. */
	RW_ESSL_CERT_VERIFY     = 280, /* Error verifying certificate. */
	RW_ESSL_NO_CLIENT_CERT  = 281, /* Could not find client certificate. */
	RW_ESSL_NO_SERVER_CERT  = 282, /* Could not find server certificate. */
	RW_ESSL_ENCRYPT         = 283, /* Error encrypting data. */
	RW_ESSL_DECRYPT         = 284, /* Error decrypting data. */

	/* ringworks' own conditions, numbered where the documents are silent. */
	RW_EUNKNOWN_CONFIG      = 901, /* Config name not known to this component */
	RW_EBAD_VALUE           = 902, /* a value out of range or malformed */
	RW_EBAD_STATE           = 903, /* the call is not valid in the object's current state */
	RW_ENOT_SUPPORTED       = 904, /* a documented feature that this build or platform lacks */
	RW_EURING_UNAVAILABLE   = 905, /* io_uring_setup refused (seccomp, sysctl, old kernel) */
	RW_ENOMEM               = 906, /* out of memory */
	RW_EBUFFER_TOO_SMALL    = 907, /* a caller's output buffer cannot hold the answer */
	RW_ECONN_LIMIT          = 908, /* a per-process limit (RLIMIT_NOFILE) caps the connection table */

	/* System errors, Winsock numbering (the documents' table). */
	RW_EINTERRUPTED         = 10004, /* Interrupted system call (also: Interrupt()) */
	RW_EBADF                = 10009,
	RW_EACCES               = 10013,
	RW_EFAULT               = 10014,
	RW_EINVAL               = 10022,
	RW_EMFILE               = 10024,
	RW_EWOULDBLOCK          = 10035, /* Operation would block (async send queue full) */
	RW_EINPROGRESS          = 10036,
	RW_EALREADY             = 10037,
	RW_ENOTSOCK             = 10038,
	RW_EDESTADDRREQ         = 10039,
	RW_EMSGSIZE             = 10040,
	RW_EPROTOTYPE           = 10041,
	RW_ENOPROTOOPT          = 10042,
	RW_EPROTONOSUPPORT      = 10043,
	RW_ESOCKTNOSUPPORT      = 10044,
	RW_EOPNOTSUPP           = 10045,
	RW_EPFNOSUPPORT         = 10046,
	RW_EAFNOSUPPORT         = 10047,
	RW_EADDRINUSE           = 10048,
	RW_EADDRNOTAVAIL        = 10049,
	RW_ENETDOWN             = 10050,
	RW_ENETUNREACH          = 10051,
	RW_ENETRESET            = 10052,
	RW_ECONNABORTED         = 10053,
	RW_ECONNRESET           = 10054,
	RW_ENOBUFS              = 10055,
	RW_EISCONN              = 10056,
	RW_ENOTCONN             = 10057,
	RW_ESHUTDOWN            = 10058,
	RW_ETOOMANYREFS         = 10059,
	RW_ETIMEDOUT            = 10060, /* also: a Timeout > 0 send that made no progress */
	RW_ECONNREFUSED         = 10061,
	RW_ELOOP                = 10062,
	RW_ENAMETOOLONG         = 10063,
	RW_EHOSTDOWN            = 10064,
	RW_EHOSTUNREACH         = 10065,
	RW_ENOTEMPTY            = 10066,
	RW_EUSERS               = 10068,
	RW_EDQUOT               = 10069,
	RW_ESTALE               = 10070,
	RW_EREMOTE              = 10071,
	RW_EHOST_NOT_FOUND      = 11001,
	RW_ETRY_AGAIN           = 11002,
	RW_ENO_RECOVERY         = 11003,
};

/* The text for an error code (negative or positive). Never NULL: unknown codes
 * give "Unknown error". The string is static. Thread-safe. */
RW_API const char *rw_strerror(int code);

/* Map a Linux errno (positive or negative) to the documents' number (positive),
 * for example ECONNRESET -> 10054. An errno with no entry in the documents'
 * table maps to 20000 + errno, so that it stays distinct; rw_strerror() gives
 * the system's text for those. Thread-safe. */
RW_API int rw_errno_map(int err);

/* Log levels for the Log callback of every component. */
enum { RW_LOG_ERROR = 1, RW_LOG_WARN = 2, RW_LOG_INFO = 3, RW_LOG_DEBUG = 4 };

/* The library version string, e.g. "0.1.0 (io_uring, wolfSSL 5.5.4)". Static. */
RW_API const char *rw_version(void);

#ifdef __cplusplus
}
#endif
#endif
