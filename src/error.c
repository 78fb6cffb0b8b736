/* src/error.c: error texts (the documents' wording) and the one table that maps
 * Linux errno values to the documents' Winsock-style numbers. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* X(code, errno or 0, text) */
#define RW_ERROR_TABLE(X) \
	X(100, 0, "You cannot change the RemotePort at this time. A connection is in progress.") \
	X(101, 0, "You cannot change the RemoteHost at this time. A connection is in progress.") \
	X(102, 0, "The RemoteHost address is invalid (0.0.0.0).") \
	X(104, 0, "TCPServer is already listening.") \
	X(106, 0, "Cannot change LocalPort when TCPServer is listening.") \
	X(107, 0, "Cannot change LocalHost when TCPServer is listening.") \
	X(108, 0, "Cannot change MaxConnections when TCPServer is listening.") \
	X(112, 0, "You cannot change MaxLineLength at this time. A connection is in progress.") \
	X(116, 0, "RemotePort cannot be zero. Please specify a valid service port number.") \
	X(126, 0, "Invalid ConnectionId.") \
	X(135, 0, "Operation would block.") \
	X(270, 0, "Cannot load specified security library.") \
	X(271, 0, "Cannot open certificate store.") \
	X(272, 0, "Cannot find specified certificate.") \
	X(273, 0, "Cannot acquire security credentials.") \
	X(274, 0, "Cannot find certificate chain.") \
	X(275, 0, "Cannot verify certificate chain.") \
	X(276, 0, "Error during handshake.") \
	X(280, 0, "Error verifying certificate.") \
	X(281, 0, "Could not find client certificate.") \
	X(282, 0, "Could not find server certificate.") \
	X(283, 0, "Error encrypting data.") \
	X(284, 0, "Error decrypting data.") \
	X(400, 0, "Invalid datagram received.") \
	X(401, 0, "Invalid DTLS flow.") \
	X(402, 0, "Not supported.") \
	X(403, 0, "DTLS handshake error.") \
	X(404, 0, "Invalid certificate provided.") \
	X(901, 0, "Unknown configuration setting.") \
	X(902, 0, "Invalid value.") \
	X(903, 0, "The operation is not valid in the current state.") \
	X(904, 0, "Not supported.") \
	X(905, 0, "io_uring is unavailable (see the log for the cause and the fix).") \
	X(906, 0, "Out of memory.") \
	X(907, 0, "Buffer too small.") \
	X(908, 0, "Connection table limit reached (RLIMIT_NOFILE caps the fixed-file table).") \
	X(10004, EINTR, "[10004] Interrupted system call.") \
	X(10009, EBADF, "[10009] Bad file number.") \
	X(10013, EACCES, "[10013] Access denied.") \
	X(10014, EFAULT, "[10014] Bad address.") \
	X(10022, EINVAL, "[10022] Invalid argument.") \
	X(10024, EMFILE, "[10024] Too many open files.") \
	X(10035, EAGAIN, "[10035] Operation would block.") \
	X(10036, EINPROGRESS, "[10036] Operation now in progress.") \
	X(10037, EALREADY, "[10037] Operation already in progress.") \
	X(10038, ENOTSOCK, "[10038] Socket operation on non-socket.") \
	X(10039, EDESTADDRREQ, "[10039] Destination address required.") \
	X(10040, EMSGSIZE, "[10040] Message too long.") \
	X(10041, EPROTOTYPE, "[10041] Protocol wrong type for socket.") \
	X(10042, ENOPROTOOPT, "[10042] Bad protocol option.") \
	X(10043, EPROTONOSUPPORT, "[10043] Protocol not supported.") \
	X(10044, ESOCKTNOSUPPORT, "[10044] Socket type not supported.") \
	X(10045, EOPNOTSUPP, "[10045] Operation not supported on socket.") \
	X(10046, EPFNOSUPPORT, "[10046] Protocol family not supported.") \
	X(10047, EAFNOSUPPORT, "[10047] Address family not supported by protocol family.") \
	X(10048, EADDRINUSE, "[10048] Address already in use.") \
	X(10049, EADDRNOTAVAIL, "[10049] Address not available.") \
	X(10050, ENETDOWN, "[10050] Network is down.") \
	X(10051, ENETUNREACH, "[10051] Network is unreachable.") \
	X(10052, ENETRESET, "[10052] Net dropped connection or reset.") \
	X(10053, ECONNABORTED, "[10053] Software caused connection abort.") \
	X(10054, ECONNRESET, "[10054] Connection reset by peer.") \
	X(10055, ENOBUFS, "[10055] No buffer space available.") \
	X(10056, EISCONN, "[10056] Socket is already connected.") \
	X(10057, ENOTCONN, "[10057] Socket is not connected.") \
	X(10058, EPIPE, "[10058] Can't send after socket shutdown.") \
	X(10059, ETOOMANYREFS, "[10059] Too many references, can't splice.") \
	X(10060, ETIMEDOUT, "[10060] Connection timed out.") \
	X(10061, ECONNREFUSED, "[10061] Connection refused.") \
	X(10062, ELOOP, "[10062] Too many levels of symbolic links.") \
	X(10063, ENAMETOOLONG, "[10063] File name too long.") \
	X(10064, EHOSTDOWN, "[10064] Host is down.") \
	X(10065, EHOSTUNREACH, "[10065] No route to host.") \
	X(10066, ENOTEMPTY, "[10066] Directory not empty") \
	X(10068, EUSERS, "[10068] Too many users.") \
	X(10069, EDQUOT, "[10069] Disc Quota Exceeded.") \
	X(10070, ESTALE, "[10070] Stale NFS file handle.") \
	X(10071, EREMOTE, "[10071] Too many levels of remote in path.") \
	X(11001, 0, "[11001] Host not found.") \
	X(11002, 0, "[11002] Non-authoritative 'Host not found' (try again or check DNS setup).") \
	X(11003, 0, "[11003] Non-recoverable errors: FORMERR, REFUSED, NOTIMP.")

struct rw_error_entry {
	int code;
	int err;
	const char *text;
};

#define RW_ERROR_ENTRY(code, err, text) {code, err, text},
static const struct rw_error_entry rw_errors[] = {RW_ERROR_TABLE(RW_ERROR_ENTRY)};
#define RW_ERROR_COUNT (sizeof(rw_errors) / sizeof(rw_errors[0]))

/* strerror() is not thread-safe; sys_errlist is gone. Unmapped errno values are
 * rare (ENOENT from SendFile is the usual one), so keep a short list of texts. */
static const char *errno_text(int e)
{
	switch (e) {
	case ENOENT: return "No such file or directory.";
	case EISDIR: return "Is a directory.";
	case ENOMEM: return "Out of memory.";
	case EPERM: return "Operation not permitted.";
	case ENOSYS: return "Function not implemented.";
	case EBUSY: return "Device or resource busy.";
	case ECANCELED: return "Operation canceled.";
	case EIO: return "Input/output error.";
	case ENFILE: return "Too many open files in system.";
	default: return "System error.";
	}
}

RW_API const char *rw_strerror(int code)
{
	if (code < 0)
		code = -code;
	if (code == 0)
		return "OK";
	/* The refusal's cause (seccomp, sysctl, kernel) is known only at run time. */
	if (code == RW_EURING_UNAVAILABLE && rw_loop_unavailable_reason()[0])
		return rw_loop_unavailable_reason();
	for (size_t i = 0; i < RW_ERROR_COUNT; i++)
		if (rw_errors[i].code == code)
			return rw_errors[i].text;
	if (code > 20000 && code < 24096)
		return errno_text(code - 20000);
	return "Unknown error";
}

RW_API int rw_errno_map(int err)
{
	if (err < 0)
		err = -err;
	if (err == 0)
		return 0;
	if (err == EWOULDBLOCK)
		return RW_EWOULDBLOCK;
	if (err == ESHUTDOWN)
		return RW_ESHUTDOWN;
	if (err == ENOMEM)
		return RW_ENOMEM;
	for (size_t i = 0; i < RW_ERROR_COUNT; i++)
		if (rw_errors[i].err == err)
			return rw_errors[i].code;
	return 20000 + err;
}

int rw__errno(int err)
{
	return -rw_errno_map(err);
}

RW_API const char *rw_version(void)
{
	return RW_VERSION_STRING " (io_uring)";
}
