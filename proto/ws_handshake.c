/* proto/ws_handshake.c: the server side of the WebSocket opening handshake.
 *
 * The head is buffered whole (bounded by max_head) and parsed in one pass once
 * its blank line is seen: the end search resumes where the last feed stopped,
 * so feeding byte by byte costs no rescans, and every split of the input gives
 * the same result. Lines may end in CRLF or a bare LF. */
#include "proto/ws_handshake.h"

#include "proto/base64.h"
#include "proto/sha1.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void rw_ws_handshake_init(rw_ws_handshake *h)
{
	memset(h, 0, sizeof(*h));
}

static void req_free(rw_ws_request *r)
{
	free(r->request_uri);
	free(r->path);
	free(r->query);
	free(r->host);
	free(r->origin);
	free(r->headers);
	free(r->protocols);
	free(r->extensions);
	free(r->key);
	memset(r, 0, sizeof(*r));
}

void rw_ws_handshake_free(rw_ws_handshake *h)
{
	req_free(&h->req);
	free(h->_buf);
	h->_buf = NULL;
	h->_len = h->_cap = h->_scan = 0;
}

/* ---- small string builder (NULL after an allocation failure) ---------- */
struct sb {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sb *b, const char *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static char *sb_take(struct sb *b)
{
	if (b->oom) {
		free(b->s);
		return NULL;
	}
	if (!b->s)
		return strdup("");
	return b->s;
}

/* ---- parsing ----------------------------------------------------------- */

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim [*p, *p + *n) of optional white space. */
static void trim(const char **p, size_t *n)
{
	while (*n && is_ows(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n && is_ows((*p)[*n - 1]))
		(*n)--;
}

bool rw_ws_list_has(const char *list, const char *token)
{
	size_t tl = strlen(token);
	const char *p = list;
	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *t = p;
		trim(&t, &n);
		if (n == tl && strncasecmp(t, token, tl) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static int fail(rw_ws_handshake *h, int status, const char *why)
{
	h->status = status;
	h->error_text = why;
	return RW_WS_HS_ERROR;
}

static char *dupn(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* Join a repeated header's value onto *dst with ", ". */
static void join(struct sb *dst, const char *v, size_t n)
{
	if (dst->len)
		sb_add(dst, ", ", 2);
	sb_add(dst, v, n);
}

static int parse_head(rw_ws_handshake *h, size_t head_len)
{
	const char *buf = h->_buf, *end = buf + head_len;
	rw_ws_request *r = &h->req;
	r->version = -1;
	/* Request line. */
	const char *nl = memchr(buf, '\n', head_len);
	size_t ln = (size_t)(nl - buf);
	if (ln && buf[ln - 1] == '\r')
		ln--;
	const char *sp1 = memchr(buf, ' ', ln);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', ln - (size_t)(sp1 + 1 - buf)) : NULL;
	if (!sp1 || !sp2 || sp2 == sp1 + 1)
		return fail(h, 400, "malformed request line");
	if ((size_t)(sp1 - buf) != 3 || memcmp(buf, "GET", 3) != 0)
		return fail(h, 400, "method is not GET");
	const char *ver = sp2 + 1;
	size_t vn = ln - (size_t)(ver - buf);
	if (vn != 8 || memcmp(ver, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)ver[7]) || ver[7] == '0')
		return fail(h, 400, "HTTP version is not 1.1 or later");
	const char *target = sp1 + 1;
	size_t tn = (size_t)(sp2 - target);
	for (size_t i = 0; i < tn; i++)
		if ((unsigned char)target[i] <= ' ' || target[i] == 0x7f)
			return fail(h, 400, "malformed request target");
	const char *q = memchr(target, '?', tn);
	r->request_uri = dupn(target, tn);
	r->path = dupn(target, q ? (size_t)(q - target) : tn);
	r->query = q ? dupn(q + 1, tn - (size_t)(q + 1 - target)) : dupn("", 0);
	/* Headers. */
	struct sb headers = {0}, protos = {0}, exts = {0}, upgrade = {0}, connection = {0};
	bool have_host = false, have_upgrade = false;
	int rc = 0;
	for (const char *p = nl + 1; p < end && rc == 0;) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)(e - p);
		const char *next = e + 1;
		if (n && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break; /* the blank line */
		const char *colon = memchr(p, ':', n);
		if (is_ows(p[0]) || !colon || colon == p) {
			rc = fail(h, 400, "malformed header line");
			break;
		}
		for (const char *c = p; c < colon; c++)
			if (!isgraph((unsigned char)*c)) {
				rc = fail(h, 400, "malformed header name");
				break;
			}
		if (rc)
			break;
		if (headers.len)
			sb_add(&headers, "\r\n", 2);
		sb_add(&headers, p, n);
		size_t nn = (size_t)(colon - p);
		const char *v = colon + 1;
		size_t vlen = n - nn - 1;
		trim(&v, &vlen);
#define IS(name) (nn == sizeof(name) - 1 && strncasecmp(p, name, nn) == 0)
		if (IS("Host")) {
			if (!have_host)
				r->host = dupn(v, vlen);
			have_host = true;
		} else if (IS("Origin")) {
			if (!r->origin)
				r->origin = dupn(v, vlen);
		} else if (IS("Upgrade")) {
			join(&upgrade, v, vlen);
			have_upgrade = true;
		} else if (IS("Connection")) {
			join(&connection, v, vlen);
		} else if (IS("Sec-WebSocket-Protocol")) {
			join(&protos, v, vlen);
		} else if (IS("Sec-WebSocket-Extensions")) {
			join(&exts, v, vlen);
		} else if (IS("Sec-WebSocket-Key")) {
			if (r->key) {
				rc = fail(h, 400, "repeated Sec-WebSocket-Key");
				break;
			}
			r->key = dupn(v, vlen);
		} else if (IS("Sec-WebSocket-Version")) {
			char tmp[8];
			int ver_n = -1;
			if (vlen && vlen < sizeof(tmp)) {
				memcpy(tmp, v, vlen);
				tmp[vlen] = '\0';
				char *endp;
				long x = strtol(tmp, &endp, 10);
				if (*endp == '\0' && isdigit((unsigned char)tmp[0]) && x < 1000)
					ver_n = (int)x;
			}
			r->version = r->version == -1 || r->version == ver_n ? ver_n : -1;
		}
#undef IS
		p = next;
	}
	r->headers = sb_take(&headers);
	r->protocols = sb_take(&protos);
	r->extensions = sb_take(&exts);
	char *up = sb_take(&upgrade), *conn = sb_take(&connection);
	if (!r->host)
		r->host = dupn("", 0);
	if (!r->origin)
		r->origin = dupn("", 0);
	if (!r->key)
		r->key = dupn("", 0);
	if (!r->request_uri || !r->path || !r->query || !r->headers || !r->protocols ||
	    !r->extensions || !r->host || !r->origin || !r->key || !up || !conn) {
		if (!rc)
			rc = fail(h, 500, "out of memory");
	} else if (rc == 0) {
		uint8_t raw[20];
		if (!have_upgrade || !rw_ws_list_has(up, "websocket"))
			rc = fail(h, 426, "not a WebSocket upgrade request");
		else if (!rw_ws_list_has(conn, "Upgrade"))
			rc = fail(h, 400, "Connection header lacks Upgrade");
		else if (!have_host)
			rc = fail(h, 400, "no Host header");
		else if (r->version != 13)
			rc = fail(h, 426, "Sec-WebSocket-Version is not 13");
		else if (rw_base64_decode(r->key, strlen(r->key), raw, sizeof(raw)) != 16)
			rc = fail(h, 400, "Sec-WebSocket-Key is missing or not 16 bytes of base64");
	}
	free(up);
	free(conn);
	return rc ? rc : RW_WS_HS_DONE;
}

/* Offset just past the blank line that ends the head, searching from _scan;
 * 0 when not found yet. */
static size_t head_end(rw_ws_handshake *h)
{
	const char *b = h->_buf;
	for (size_t i = h->_scan; i < h->_len; i++) {
		if (b[i] != '\n')
			continue;
		if (i + 1 < h->_len && b[i + 1] == '\n')
			return i + 2;
		if (i + 2 < h->_len && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
		if (i + 2 >= h->_len) {
			h->_scan = i; /* may complete with the next bytes */
			return 0;
		}
	}
	h->_scan = h->_len;
	return 0;
}

int rw_ws_handshake_feed(rw_ws_handshake *h, const uint8_t *data, size_t n, size_t *used)
{
	*used = 0;
	if (h->status)
		return h->status == 101 ? RW_WS_HS_DONE : RW_WS_HS_ERROR;
	size_t max = h->max_head ? h->max_head : RW_WS_HEAD_MAX_DEFAULT;
	/* Copy at most what can still belong to the head. */
	size_t take = n < max + 1 - h->_len ? n : max + 1 - h->_len;
	if (h->_len + take + 1 > h->_cap) {
		size_t cap = h->_cap ? h->_cap : 512;
		while (cap < h->_len + take + 1)
			cap *= 2;
		char *b = realloc(h->_buf, cap);
		if (!b)
			return fail(h, 500, "out of memory");
		h->_buf = b;
		h->_cap = cap;
	}
	size_t before = h->_len;
	memcpy(h->_buf + h->_len, data, take);
	h->_len += take;
	size_t end = head_end(h);
	if (!end) {
		if (h->_len > max)
			return fail(h, 431, "request head larger than the limit");
		*used = take;
		return RW_WS_HS_MORE;
	}
	if (end > max)
		return fail(h, 431, "request head larger than the limit");
	*used = end - before;
	int rc = parse_head(h, end);
	if (rc == RW_WS_HS_DONE)
		h->status = 101;
	/* The head is parsed into req; its buffer is not needed any more. */
	free(h->_buf);
	h->_buf = NULL;
	h->_len = h->_cap = h->_scan = 0;
	return rc;
}

/* ---- responses --------------------------------------------------------- */

void rw_ws_accept_key(const char *key, char out[RW_WS_ACCEPT_LEN + 1])
{
	rw_sha1_ctx s;
	uint8_t d[20];
	rw_sha1_init(&s);
	rw_sha1_update(&s, key, strlen(key));
	rw_sha1_update(&s, GUID, sizeof(GUID) - 1);
	rw_sha1_final(&s, d);
	rw_base64_encode(d, 20, out);
}

const char *rw_ws_reason_phrase(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return NULL;
	}
}

static bool owned_header(const char *name, size_t n)
{
	static const char *const owned[] = {"Sec-WebSocket-Extensions", "Sec-WebSocket-Accept",
	                                    "Content-Length", "Connection", "Upgrade"};
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		if (strlen(owned[i]) == n && strncasecmp(name, owned[i], n) == 0)
			return true;
	return false;
}

size_t rw_ws_header_lines(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	const char *p = in ? in : "";
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *next = e ? e + 1 : p + n;
		if (n && p[n - 1] == '\r')
			n--;
		const char *colon = memchr(p, ':', n);
		bool ok = colon && colon > p && !is_ows(p[0]) && !owned_header(p, (size_t)(colon - p));
		for (size_t i = 0; ok && i < n; i++)
			if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
				ok = false;
		if (ok) {
			for (size_t i = 0; i < n; i++, o++)
				if (o < cap)
					out[o] = p[i];
			for (size_t i = 0; i < 2; i++, o++)
				if (o < cap)
					out[o] = "\r\n"[i];
		}
		p = next;
	}
	if (cap)
		out[o < cap ? o : cap - 1] = '\0';
	return o;
}

static void add_extra(struct sb *b, const char *extra)
{
	size_t n = rw_ws_header_lines(extra, NULL, 0);
	if (!n || b->oom)
		return;
	char *tmp = malloc(n + 1);
	if (!tmp) {
		b->oom = true;
		return;
	}
	rw_ws_header_lines(extra, tmp, n + 1);
	sb_add(b, tmp, n);
	free(tmp);
}

char *rw_ws_response_101(const char *key, const char *protocol, const char *extensions,
                         const char *extra_headers, size_t *len)
{
	char accept[RW_WS_ACCEPT_LEN + 1];
	rw_ws_accept_key(key, accept);
	struct sb b = {0};
	sb_str(&b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	           "Connection: Upgrade\r\nSec-WebSocket-Accept: ");
	sb_str(&b, accept);
	sb_str(&b, "\r\n");
	if (protocol && *protocol) {
		sb_str(&b, "Sec-WebSocket-Protocol: ");
		sb_str(&b, protocol);
		sb_str(&b, "\r\n");
	}
	if (extensions && *extensions) {
		sb_str(&b, "Sec-WebSocket-Extensions: ");
		sb_str(&b, extensions);
		sb_str(&b, "\r\n");
	}
	add_extra(&b, extra_headers);
	sb_str(&b, "\r\n");
	char *s = b.oom ? NULL : b.s;
	if (!s)
		free(b.s);
	*len = s ? b.len : 0;
	return s;
}

char *rw_ws_response_error(int status, const char *extra_headers, size_t *len)
{
	char line[64];
	const char *reason = rw_ws_reason_phrase(status);
	if (status < 100 || status > 999)
		status = 500;
	snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, reason ? reason : "Error");
	struct sb b = {0};
	sb_str(&b, line);
	if (status == 426)
		sb_str(&b, "Sec-WebSocket-Version: 13\r\n");
	add_extra(&b, extra_headers);
	sb_str(&b, "Content-Length: 0\r\nConnection: close\r\n\r\n");
	char *s = b.oom ? NULL : b.s;
	if (!s)
		free(b.s);
	*len = s ? b.len : 0;
	return s;
}
