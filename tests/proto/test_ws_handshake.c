/* tests/proto/test_ws_handshake.c: the opening handshake parser (fed whole,
 * at every split point and byte by byte), its validation, the accept key
 * (RFC 6455 §1.3 example), SHA-1 and base64 vectors, and the responses. */
#include "proto/base64.h"
#include "proto/sha1.h"
#include "proto/ws_handshake.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQ(extra)                                             \
	"GET /chat/room1?x=1 HTTP/1.1\r\n"                         \
	"Host: server.example.com\r\n"                             \
	"Upgrade: websocket\r\n"                                   \
	"Connection: Upgrade\r\n"                                  \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"          \
	extra                                                      \
	"Sec-WebSocket-Version: 13\r\n\r\n"

/* Feed `s` cut at `cut` (0 = whole) and then byte by byte; both must agree.
 * Returns the result of the whole feed in *h (caller frees). */
static int feed_all(const char *s, size_t n, size_t cut, rw_ws_handshake *h, size_t *consumed)
{
	rw_ws_handshake_init(h);
	size_t used, at = 0;
	int rc = RW_WS_HS_MORE;
	size_t parts[2] = {cut ? cut : n, n};
	for (int k = 0; k < 2 && rc == RW_WS_HS_MORE && at < n; k++) {
		size_t end = parts[k];
		if (end <= at)
			continue;
		rc = rw_ws_handshake_feed(h, (const uint8_t *)s + at, end - at, &used);
		at += used;
	}
	*consumed = at;
	return rc;
}

static void check_status(const char *s, int want_rc, int want_status)
{
	size_t n = strlen(s);
	for (size_t cut = 0; cut < n; cut++) {
		rw_ws_handshake h;
		size_t used;
		int rc = feed_all(s, n, cut, &h, &used);
		cr_assert_eq(rc, want_rc, "cut %zu: rc %d (%s)", cut, rc, h.error_text ? h.error_text : "");
		if (rc == RW_WS_HS_ERROR)
			cr_assert_eq(h.status, want_status, "cut %zu: status %d", cut, h.status);
		rw_ws_handshake_free(&h);
	}
	/* Byte by byte. */
	rw_ws_handshake h;
	rw_ws_handshake_init(&h);
	int rc = RW_WS_HS_MORE;
	for (size_t i = 0; i < n && rc == RW_WS_HS_MORE; i++) {
		size_t used;
		rc = rw_ws_handshake_feed(&h, (const uint8_t *)s + i, 1, &used);
	}
	cr_assert_eq(rc, want_rc, "byte by byte");
	if (rc == RW_WS_HS_ERROR)
		cr_assert_eq(h.status, want_status);
	rw_ws_handshake_free(&h);
}

Test(ws_handshake, sha1_and_base64_vectors)
{
	uint8_t d[20];
	char hex[41];
	rw_sha1("abc", 3, d);
	for (int i = 0; i < 20; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	cr_assert_str_eq(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	rw_sha1("", 0, d);
	for (int i = 0; i < 20; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	cr_assert_str_eq(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	/* 56 bytes: the padding spills into a second block. */
	rw_sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
	for (int i = 0; i < 20; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	cr_assert_str_eq(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	char b64[16];
	rw_base64_encode((const uint8_t *)"foob", 4, b64);
	cr_assert_str_eq(b64, "Zm9vYg==");
	rw_base64_encode((const uint8_t *)"fooba", 5, b64);
	cr_assert_str_eq(b64, "Zm9vYmE=");
	uint8_t out[16];
	cr_assert_eq(rw_base64_decode("Zm9vYmFy", 8, out, sizeof(out)), 6);
	cr_assert_eq(memcmp(out, "foobar", 6), 0);
	cr_assert_eq(rw_base64_decode("Zm9vYg==", 8, out, sizeof(out)), 4);
	cr_assert_eq(rw_base64_decode("Zm9vYg=", 7, out, sizeof(out)), -1);
	cr_assert_eq(rw_base64_decode("Zm=vYg==", 8, out, sizeof(out)), -1);
	cr_assert_eq(rw_base64_decode("Zm9v*g==", 8, out, sizeof(out)), -1);
	cr_assert_eq(rw_base64_decode("Zg==Zg==", 8, out, sizeof(out)), -1);
	cr_assert_eq(rw_base64_decode("Zm9vYmFy", 8, out, 5), -1);
}

Test(ws_handshake, rfc6455_accept_key)
{
	char acc[RW_WS_ACCEPT_LEN + 1];
	rw_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc);
	cr_assert_str_eq(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

Test(ws_handshake, request_fields_at_every_split)
{
	const char *s = REQ("Origin: http://example.test\r\n"
	                    "sec-websocket-protocol: chat, superchat\r\n"
	                    "X-Test: abc\r\n"
	                    "SEC-WEBSOCKET-PROTOCOL: third\r\n"
	                    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
	                "\x81\x85 frame bytes";
	size_t n = strlen(s);
	size_t head = (size_t)(strstr(s, "\r\n\r\n") - s) + 4;
	for (size_t cut = 0; cut < n; cut++) {
		rw_ws_handshake h;
		size_t used;
		int rc = feed_all(s, n, cut, &h, &used);
		cr_assert_eq(rc, RW_WS_HS_DONE, "cut %zu: %s", cut, h.error_text ? h.error_text : "");
		/* Frame bytes after the head are left for the frame parser. */
		cr_assert_eq(used, head, "cut %zu: used %zu", cut, used);
		cr_assert_str_eq(h.req.request_uri, "/chat/room1?x=1");
		cr_assert_str_eq(h.req.path, "/chat/room1");
		cr_assert_str_eq(h.req.query, "x=1");
		cr_assert_str_eq(h.req.host, "server.example.com");
		cr_assert_str_eq(h.req.origin, "http://example.test");
		cr_assert_str_eq(h.req.protocols, "chat, superchat, third");
		cr_assert_str_eq(h.req.extensions, "permessage-deflate; client_max_window_bits");
		cr_assert_str_eq(h.req.key, "dGhlIHNhbXBsZSBub25jZQ==");
		cr_assert_eq(h.req.version, 13);
		cr_assert(strstr(h.req.headers, "X-Test: abc\r\n"));
		cr_assert(strncmp(h.req.headers, "Host: server.example.com\r\n", 26) == 0);
		cr_assert_null(strstr(h.req.headers, "GET "));
		cr_assert_neq(h.req.headers[strlen(h.req.headers) - 1], '\n');
		rw_ws_handshake_free(&h);
	}
	check_status(s, RW_WS_HS_DONE, 0);
}

Test(ws_handshake, tolerant_forms)
{
	/* Bare LF line ends, token lists, case, extra white space. */
	check_status("GET / HTTP/1.1\nHost: h\nUpgrade: foo, WebSocket\n"
	             "Connection: keep-alive, upgrade\nSec-WebSocket-Key:   dGhlIHNhbXBsZSBub25jZQ==  \n"
	             "Sec-WebSocket-Version: 13\n\n",
	             RW_WS_HS_DONE, 0);
	rw_ws_handshake h;
	size_t used;
	const char *s = "GET /only-path HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
	cr_assert_eq(feed_all(s, strlen(s), 0, &h, &used), RW_WS_HS_DONE);
	cr_assert_str_eq(h.req.query, "");
	cr_assert_str_eq(h.req.origin, "");
	cr_assert_str_eq(h.req.protocols, "");
	rw_ws_handshake_free(&h);
}

Test(ws_handshake, errors)
{
	/* Plain HTTP: 426. */
	check_status("GET / HTTP/1.1\r\nHost: h\r\n\r\n", RW_WS_HS_ERROR, 426);
	check_status("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	             RW_WS_HS_ERROR, 426);
	/* Wrong or missing version: 426. */
	check_status("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
	             RW_WS_HS_ERROR, 426);
	check_status("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	             RW_WS_HS_ERROR, 426);
	/* Key missing, short, not base64: 400. */
	check_status("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Version: 13\r\n\r\n",
	             RW_WS_HS_ERROR, 400);
	check_status("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\nSec-WebSocket-Version: 13\r\n\r\n",
	             RW_WS_HS_ERROR, 400);
	check_status("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\nSec-WebSocket-Version: 13\r\n\r\n",
	             RW_WS_HS_ERROR, 400);
	/* Method, version, Host, Connection, malformed lines: 400. */
	check_status("POST / HTTP/1.1\r\nHost: h\r\n\r\n", RW_WS_HS_ERROR, 400);
	check_status("GET / HTTP/1.0\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", RW_WS_HS_ERROR, 400);
	check_status("GET /\r\n\r\n", RW_WS_HS_ERROR, 400);
	check_status("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	             RW_WS_HS_ERROR, 400);
	check_status("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
	             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	             RW_WS_HS_ERROR, 400);
	check_status("GET / HTTP/1.1\r\nHost: h\r\nno colon here\r\n\r\n", RW_WS_HS_ERROR, 400);
	check_status("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", RW_WS_HS_ERROR, 400);
}

Test(ws_handshake, head_limit_431)
{
	rw_ws_handshake h;
	rw_ws_handshake_init(&h);
	h.max_head = 1024;
	char line[64];
	size_t used;
	int rc = rw_ws_handshake_feed(&h, (const uint8_t *)"GET / HTTP/1.1\r\n", 16, &used);
	cr_assert_eq(rc, RW_WS_HS_MORE);
	for (int i = 0; i < 1000 && rc == RW_WS_HS_MORE; i++) {
		snprintf(line, sizeof(line), "X-Filler-%04d: abcdefghij\r\n", i);
		rc = rw_ws_handshake_feed(&h, (const uint8_t *)line, strlen(line), &used);
	}
	cr_assert_eq(rc, RW_WS_HS_ERROR);
	cr_assert_eq(h.status, 431);
	/* The buffer never grew much beyond the limit. */
	cr_assert_leq(h._cap, 4096);
	rw_ws_handshake_free(&h);
	/* A head exactly at the limit passes. */
	const char *s = REQ("");
	rw_ws_handshake_init(&h);
	h.max_head = strlen(s);
	cr_assert_eq(rw_ws_handshake_feed(&h, (const uint8_t *)s, strlen(s), &used), RW_WS_HS_DONE);
	rw_ws_handshake_free(&h);
	rw_ws_handshake_init(&h);
	h.max_head = strlen(s) - 1;
	cr_assert_eq(rw_ws_handshake_feed(&h, (const uint8_t *)s, strlen(s), &used), RW_WS_HS_ERROR);
	cr_assert_eq(h.status, 431);
	rw_ws_handshake_free(&h);
}

Test(ws_handshake, list_tokens)
{
	cr_assert(rw_ws_list_has("keep-alive, Upgrade", "upgrade"));
	cr_assert(rw_ws_list_has(" upgrade ", "Upgrade"));
	cr_assert_not(rw_ws_list_has("upgraded", "upgrade"));
	cr_assert_not(rw_ws_list_has("", "upgrade"));
}

Test(ws_handshake, responses)
{
	size_t n;
	char *r = rw_ws_response_101("dGhlIHNhbXBsZSBub25jZQ==", "chat", "permessage-deflate; server_no_context_takeover",
	                             "X-One: 1\nSec-WebSocket-Extensions: evil\r\nbad line\r\nX-Two: 2\n", &n);
	cr_assert_not_null(r);
	cr_assert_eq(strlen(r), n);
	cr_assert_str_eq(r, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	                    "Sec-WebSocket-Protocol: chat\r\n"
	                    "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
	                    "X-One: 1\r\nX-Two: 2\r\n\r\n");
	free(r);
	r = rw_ws_response_101("dGhlIHNhbXBsZSBub25jZQ==", NULL, "", NULL, &n);
	cr_assert_null(strstr(r, "Sec-WebSocket-Protocol"));
	cr_assert_null(strstr(r, "Sec-WebSocket-Extensions"));
	free(r);
	r = rw_ws_response_error(401, "WWW-Authenticate: Basic realm=\"Secure Realm\"", &n);
	cr_assert_str_eq(r, "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Secure Realm\"\r\n"
	                    "Content-Length: 0\r\nConnection: close\r\n\r\n");
	free(r);
	r = rw_ws_response_error(426, NULL, &n);
	cr_assert(strstr(r, "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"));
	free(r);
	r = rw_ws_response_error(599, NULL, &n);
	cr_assert(strncmp(r, "HTTP/1.1 599 Error\r\n", 20) == 0);
	free(r);
}
