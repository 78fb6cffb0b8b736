/* proto/ws_handshake.h: the WebSocket opening handshake, server side
 * (RFC 6455 §4.2).
 *
 * Request: an incremental HTTP/1.1 head parser. Bytes are fed in any split;
 * the head (request line + headers, up to the blank line) is collected into
 * one buffer of at most `max_head` bytes, then parsed and validated at once:
 *  - "GET <target> HTTP/1.1" (or a later 1.x); a Host header;
 *  - Upgrade holding the token "websocket" and Connection holding "Upgrade"
 *    (comma lists, case-insensitive);
 *  - Sec-WebSocket-Version: 13, else 426 (the response then carries
 *    "Sec-WebSocket-Version: 13");
 *  - Sec-WebSocket-Key decoding to exactly 16 bytes, else 400.
 * A request with no Upgrade at all (plain HTTP) also gets 426. A head larger
 * than max_head gets 431. Header names are case-insensitive; repeated
 * Sec-WebSocket-Protocol / Sec-WebSocket-Extensions headers are joined with
 * ", ". Bytes after the blank line are not consumed (they are frames).
 *
 * Responses: the 101 with Sec-WebSocket-Accept = base64(SHA-1(key + GUID)),
 * and error responses (status line, the caller's headers, Content-Length: 0,
 * Connection: close).
 */
#ifndef RW_PROTO_WS_HANDSHAKE_H
#define RW_PROTO_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RW_WS_HEAD_MAX_DEFAULT 16384
#define RW_WS_ACCEPT_LEN 28

/* The parsed request; every string is NUL-terminated and owned by the
 * handshake (freed by rw_ws_handshake_free). Missing headers are "". */
typedef struct {
	char *request_uri;  /* the raw request-target: "/chat?room=1" */
	char *path;         /* "/chat" */
	char *query;        /* "room=1" (without '?'), or "" */
	char *host;
	char *origin;
	char *headers;      /* the header lines as received, CRLF-separated, no request line */
	char *protocols;    /* offered subprotocols, comma list as sent (joined) */
	char *extensions;   /* offered extensions (joined) */
	char *key;          /* Sec-WebSocket-Key, trimmed */
	int version;        /* Sec-WebSocket-Version, -1 if absent or not a number */
} rw_ws_request;

typedef struct {
	size_t max_head;    /* settable before the first feed; 0 = default */
	/* Result after RW_WS_HS_DONE / RW_WS_HS_ERROR. */
	rw_ws_request req;
	int status;         /* RW_WS_HS_ERROR: 400, 426 or 431 */
	const char *error_text;
	/* Private. */
	char *_buf;
	size_t _len, _cap, _scan;
} rw_ws_handshake;

enum { RW_WS_HS_MORE = 0, RW_WS_HS_DONE = 1, RW_WS_HS_ERROR = -1 };

void rw_ws_handshake_init(rw_ws_handshake *h);
void rw_ws_handshake_free(rw_ws_handshake *h);

/* Feed bytes. Returns RW_WS_HS_MORE (all consumed, *used = n), RW_WS_HS_DONE
 * (*used = bytes up to and including the blank line; the rest belongs to the
 * frames), or RW_WS_HS_ERROR (h->status, h->error_text; also for out of
 * memory, status 500). Once DONE or ERROR, further feeds repeat the result. */
int rw_ws_handshake_feed(rw_ws_handshake *h, const uint8_t *data, size_t n, size_t *used);

/* Whether a comma-separated header value holds `token` (case-insensitive). */
bool rw_ws_list_has(const char *list, const char *token);

/* Sec-WebSocket-Accept for a key: RW_WS_ACCEPT_LEN chars + NUL into out. */
void rw_ws_accept_key(const char *key, char out[RW_WS_ACCEPT_LEN + 1]);

/* Build the 101 response (heap; *len set; NULL when out of memory).
 * protocol and extensions may be NULL or "" (header omitted); extra_headers
 * are the application's lines, CRLF or LF separated (see rw_ws_header_lines). */
char *rw_ws_response_101(const char *key, const char *protocol, const char *extensions,
                         const char *extra_headers, size_t *len);

/* Build an error response for `status` (any code; the reason phrase is the
 * standard one, or "Error"). 426 adds "Sec-WebSocket-Version: 13". */
char *rw_ws_response_error(int status, const char *extra_headers, size_t *len);

/* The standard reason phrase for an HTTP status ("Unauthorized"), or NULL. */
const char *rw_ws_reason_phrase(int status);

/* Normalise application header lines into out (cap bytes): each non-empty
 * "Name: value" line ends in CRLF; lines without a colon, lines with control
 * characters, and Sec-WebSocket-Extensions / -Accept lines (the server owns
 * them) are dropped. Returns the length needed (like snprintf). */
size_t rw_ws_header_lines(const char *in, char *out, size_t cap);

#endif
