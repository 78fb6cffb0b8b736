/* tests/ws/test_ws_conformance.c: a raw-socket conformance suite in the
 * spirit of the Autobahn|Testsuite case groups: opening handshake (1.x in
 * spirit), framing (1-2), ping/pong (2), reserved bits (3), opcodes (4),
 * fragmentation (5), UTF-8 (6), close handling (7), limits (9) and
 * compression (12-13). The client is written here byte by byte, so that
 * every malformed input can be sent; the server is the public API. */
#include "wstest.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#define GO(...)                                                         \
	wst_rec *r = calloc(1, sizeof(wst_rec));                            \
	int port;                                                           \
	const char *cfg__[] = {__VA_ARGS__, NULL};                          \
	rw_wsserver *s = wst_server(r, cfg__[0] ? cfg__ : NULL, &port)
#define END()              \
	do {                   \
		wst_end(s, r); \
		free(r);       \
	} while (0)

/* Expect the server to close with `code` and fire Disconnected(code). */
static void expect_close(rw_wsserver *s, wst_rec *r, int fd, rw_connid id, int code)
{
	int got = wst_read_close(s, fd, NULL, 0, 3000);
	cr_assert_eq(got, code, "close code %d, want %d", got, code);
	cr_assert(wst_tcp_closed(s, fd, 3000), "TCP not closed after the close frame");
	wst_wait(s, wst_count(r, id, WE_DISC) == 1, 3000);
	cr_assert_eq(wst_nth(r, id, WE_DISC, 0)->code, code);
	close(fd);
}

/* ---- opening handshake ------------------------------------------------------ */

Test(ws_handshake, accept_and_event_order)
{
	GO(NULL);
	char resp[2048];
	int fd = wst_raw_open(s, port, "/chat/room1?x=1",
	                      "Origin: http://example.test\r\nX-Test: abc\r\nSec-WebSocket-Protocol: chat, superchat\r\n",
	                      resp, sizeof(resp));
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	cr_assert(strncmp(resp, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0, "%s", resp);
	cr_assert(strstr(resp, "Upgrade: websocket\r\n"));
	cr_assert(strstr(resp, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	/* No selection by the handler: no subprotocol (D-04, a list of two). */
	cr_assert_null(strstr(resp, "Sec-WebSocket-Protocol"));
	wst_wait(s, r->ready == 1, 2000);
	/* ConnectionRequest, WebSocketOpenRequest, Connected, ReadyToSend. */
	cr_assert_eq(r->ev[0].type, WE_REQUEST);
	cr_assert_eq(r->ev[1].type, WE_OPEN);
	cr_assert_eq(r->ev[2].type, WE_CONNECTED);
	cr_assert_eq(r->ev[3].type, WE_READY);
	rw_connid id = r->ev[1].id;
	cr_assert(id > 0 && r->ev[2].id == id && r->ev[3].id == id);
	cr_assert_str_eq(r->ev[1].text, "/chat/room1?x=1");
	cr_assert_str_eq(r->open_origin, "http://example.test");
	cr_assert(strstr(r->open_headers_seen, "X-Test: abc"));
	cr_assert_str_eq(r->open_protocols, "chat, superchat");
	char buf[256];
	cr_assert_gt(rw_wsserver_get_request_uri(s, id, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/chat/room1?x=1");
	rw_wsserver_get_origin(s, id, buf, sizeof(buf));
	cr_assert_str_eq(buf, "http://example.test");
	rw_wsserver_get_host(s, id, buf, sizeof(buf));
	cr_assert(strncmp(buf, "127.0.0.1:", 10) == 0);
	rw_wsserver_get_remote_host(s, id, buf, sizeof(buf));
	cr_assert_str_eq(buf, "127.0.0.1");
	cr_assert_gt(rw_wsserver_get_remote_port(s, id), 0);
	cr_assert_eq(rw_wsserver_get_connected(s, id), 1);
	cr_assert_eq(rw_wsserver_get_connection_count(s), 1);
	rw_connid ids[4];
	cr_assert_eq(rw_wsserver_get_connection_ids(s, ids, 4), 1);
	cr_assert_eq(ids[0], id);
	close(fd);
	END();
}

Test(ws_handshake, subprotocol_pick)
{
	GO(NULL);
	r->open_pick = "superchat";
	char resp[2048];
	int fd = wst_raw_open(s, port, "/", "Sec-WebSocket-Protocol: chat, superchat\r\n", resp, sizeof(resp));
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	cr_assert(strstr(resp, "\r\nSec-WebSocket-Protocol: superchat\r\n"), "%s", resp);
	wst_wait(s, r->ready == 1, 2000);
	char buf[64];
	rw_wsserver_get_subprotocols(s, r->last_id, buf, sizeof(buf));
	cr_assert_str_eq(buf, "chat, superchat");
	rw_wsserver_get_selected_subprotocol(s, r->last_id, buf, sizeof(buf));
	cr_assert_str_eq(buf, "superchat");
	close(fd);
	/* A token the client did not offer is never answered. */
	r->open_pick = "other";
	fd = wst_raw_open(s, port, "/", "Sec-WebSocket-Protocol: chat\r\n", resp, sizeof(resp));
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	cr_assert(strncmp(resp, "HTTP/1.1 101", 12) == 0);
	cr_assert_null(strstr(resp, "Sec-WebSocket-Protocol"));
	close(fd);
	END();
}

Test(ws_handshake, reject_401_with_headers)
{
	GO(NULL);
	r->open_status = 401;
	r->open_headers = "WWW-Authenticate: Basic realm=\"Secure Realm\"";
	char resp[2048];
	int fd = wst_raw_open(s, port, "/", NULL, resp, sizeof(resp));
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	cr_assert(strncmp(resp, "HTTP/1.1 401 Unauthorized\r\n", 27) == 0, "%s", resp);
	cr_assert(strstr(resp, "WWW-Authenticate: Basic realm=\"Secure Realm\"\r\n"));
	cr_assert(strstr(resp, "Content-Length: 0\r\n"));
	cr_assert(wst_tcp_closed(s, fd, 3000));
	wst_wait(s, r->disc == 1, 3000);
	cr_assert_eq(r->connected, 0);
	cr_assert_eq(wst_nth(r, -1, WE_DISC, 0)->code, 1006);
	close(fd);
	END();
}

static void bad_request(const char *req, const char *want_status, const char *want_header)
{
	GO(NULL);
	int fd = rwt_connect("127.0.0.1", port, 5000);
	rwt_send_all(fd, req, strlen(req));
	char resp[4096] = "";
	size_t n = 0;
	double t0 = rwt_now_ms();
	while (n + 1 < sizeof(resp) && rwt_now_ms() - t0 < 3000) {
		ssize_t k = recv(fd, resp + n, sizeof(resp) - 1 - n, MSG_DONTWAIT);
		if (k == 0)
			break;
		if (k > 0)
			n += (size_t)k;
		resp[n] = 0;
		rw_wsserver_do_events(s);
	}
	cr_assert(strncmp(resp, want_status, strlen(want_status)) == 0, "got: %s", resp);
	if (want_header)
		cr_assert(strstr(resp, want_header), "%s", resp);
	cr_assert(strstr(resp, "Connection: close\r\n"));
	/* Closed, no WebSocket events, and the server still serves others. */
	cr_assert_eq(r->opens, 0);
	cr_assert_eq(r->connected, 0);
	close(fd);
	rw_connid id;
	fd = wst_raw(s, r, port, NULL, &id);
	wst_frame(fd, 0x81, "ok", 2);
	wst_wait(s, r->data == 1, 2000);
	close(fd);
	END();
}

Test(ws_handshake, plain_http_426)
{
	bad_request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 426 Upgrade Required\r\n", "Sec-WebSocket-Version: 13\r\n");
}

Test(ws_handshake, version_8_426)
{
	bad_request("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
	            "HTTP/1.1 426 ", "Sec-WebSocket-Version: 13\r\n");
}

Test(ws_handshake, missing_key_400)
{
	bad_request("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	            "Sec-WebSocket-Version: 13\r\n\r\n",
	            "HTTP/1.1 400 Bad Request\r\n", NULL);
}

Test(ws_handshake, head_too_large_431)
{
	static char req[40000];
	int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\n");
	while (n < 20000)
		n += snprintf(req + n, sizeof(req) - (size_t)n, "X-Filler: %050d\r\n", n);
	snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
	bad_request(req, "HTTP/1.1 431 ", NULL);
}

Test(ws_handshake, connection_request_refused)
{
	GO(NULL);
	r->refuse_tcp = true;
	char resp[256];
	int fd = wst_raw_open(s, port, "/", NULL, resp, sizeof(resp));
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	cr_assert_eq(resp[0], 0, "a refused client got: %s", resp);
	cr_assert(wst_tcp_closed(s, fd, 2000));
	wst_pump_for(s, 100);
	cr_assert_eq(r->requests, 1);
	cr_assert_eq(r->opens + r->connected + r->disc, 0);
	close(fd);
	END();
}

Test(ws_handshake, timeout_bounds_a_slow_client)
{
	GO("DefaultConnectionTimeout=1");
	int fd = rwt_connect("127.0.0.1", port, 5000);
	double t0 = rwt_now_ms();
	/* A byte now and then does not extend the deadline. */
	for (int i = 0; i < 8 && !wst_tcp_closed(s, fd, 300); i++)
		send(fd, "G", 1, MSG_NOSIGNAL);
	double dt = rwt_now_ms() - t0;
	cr_assert(wst_tcp_closed(s, fd, 3000), "the slow client is still connected");
	cr_assert_lt(dt, 3500, "closed after %.0f ms", dt);
	cr_assert_eq(r->opens + r->disc, 0);
	close(fd);
	END();
}

/* ---- framing, opcodes, reserved bits ------------------------------------- */

Test(ws_framing, echo_lengths_and_unmasked_server_frames)
{
	GO("BufferMessage=True"); /* each message echoed whole */
	r->echo = true;
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 200000};
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint8_t *msg = rwt_random(lens[k] ? lens[k] : 1, k + 1);
		wst_frame(fd, 0x82, msg, lens[k]);
		/* Above MaxFrameSize (131072) the echo comes in fragments. */
		size_t got = 0;
		for (int f = 0;; f++) {
			uint8_t *p;
			size_t n;
			bool masked;
			int b0 = wst_read_frame(s, fd, &p, &n, &masked, 5000);
			bool fin = b0 & 0x80;
			cr_assert_eq(b0 & 0x7f, f == 0 ? 0x02 : 0x00, "len %zu: b0 %#x", lens[k], b0);
			cr_assert_not(masked, "server frames must not be masked");
			cr_assert_leq(n, 131072);
			cr_assert_leq(got + n, lens[k]);
			cr_assert_eq(memcmp(p, msg + got, n), 0);
			got += n;
			free(p);
			if (fin)
				break;
		}
		cr_assert_eq(got, lens[k]);
		free(msg);
	}
	wst_frame(fd, 0x81, "h\xc3\xa9llo \xe2\x9c\x93", 10);
	uint8_t *p;
	size_t n;
	cr_assert_eq(wst_read_frame(s, fd, &p, &n, NULL, 3000), 0x81);
	cr_assert_eq(n, 10);
	cr_assert_eq(memcmp(p, "h\xc3\xa9llo \xe2\x9c\x93", 10), 0);
	free(p);
	const wst_event *e = wst_nth(r, id, WE_DATA, 8);
	cr_assert_eq(r->data, 9);
	cr_assert_eq(e->code, RW_WS_FORMAT_TEXT);
	cr_assert(e->eom && !e->eol);
	cr_assert_eq(wst_nth(r, id, WE_DATA, 0)->code, RW_WS_FORMAT_BINARY);
	cr_assert_eq(wst_nth(r, id, WE_DATA, 0)->len, 0);
	close(fd);
	END();
}

static void violation(uint8_t b0, const void *payload, size_t len, int code)
{
	GO(NULL);
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	wst_frame(fd, b0, payload, len);
	expect_close(s, r, fd, id, code);
	cr_assert_eq(r->data, 0);
	END();
}

Test(ws_reserved, rsv1_without_extension) { violation(0xc1, "x", 1, 1002); }
Test(ws_reserved, rsv2) { violation(0xa1, "x", 1, 1002); }
Test(ws_reserved, rsv3_on_ping) { violation(0x99, "x", 1, 1002); }
Test(ws_opcodes, reserved_3) { violation(0x83, "", 0, 1002); }
Test(ws_opcodes, reserved_7) { violation(0x87, "x", 1, 1002); }
Test(ws_opcodes, reserved_b) { violation(0x8b, "", 0, 1002); }
Test(ws_opcodes, reserved_f) { violation(0x8f, "x", 1, 1002); }
Test(ws_framing, continuation_without_start) { violation(0x80, "x", 1, 1002); }

Test(ws_framing, unmasked_client_frame)
{
	GO(NULL);
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	rwt_send_all(fd, "\x81\x02hi", 4);
	expect_close(s, r, fd, id, 1002);
	END();
}

Test(ws_pingpong, ping_answered_with_same_payload)
{
	GO(NULL);
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	uint8_t big[125];
	memset(big, 'p', sizeof(big));
	wst_frame(fd, 0x89, big, sizeof(big));
	wst_frame(fd, 0x89, "", 0);
	uint8_t *p;
	size_t n;
	cr_assert_eq(wst_read_frame(s, fd, &p, &n, NULL, 3000), 0x8a);
	cr_assert_eq(n, 125);
	cr_assert_eq(memcmp(p, big, 125), 0);
	free(p);
	cr_assert_eq(wst_read_frame(s, fd, &p, &n, NULL, 3000), 0x8a);
	cr_assert_eq(n, 0);
	free(p);
	wst_wait(s, r->pings == 2, 2000);
	cr_assert_eq(wst_nth(r, id, WE_PING, 0)->len, 125);
	/* An unsolicited pong is reported and not answered. */
	wst_frame(fd, 0x8a, "u", 1);
	wst_wait(s, r->pongs == 1, 2000);
	cr_assert_str_eq((char *)wst_nth(r, id, WE_PONG, 0)->data, "u");
	close(fd);
	END();
}

Test(ws_pingpong, oversized_and_fragmented_pings)
{
	uint8_t big[126];
	memset(big, 'p', sizeof(big));
	violation(0x89, big, sizeof(big), 1002);
	violation(0x09, "p", 1, 1002);
}

Test(ws_pingpong, ping_method_and_data_format)
{
	GO(NULL);
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	cr_assert_eq(rw_wsserver_ping(s, id), 0);
	uint8_t *p;
	size_t n;
	cr_assert_eq(wst_read_frame(s, fd, &p, &n, NULL, 3000), 0x89);
	cr_assert_eq(n, 8);
	wst_frame(fd, 0x8a, p, n); /* the client's pong */
	free(p);
	wst_wait(s, r->pongs == 1, 2000);
	/* DataFormat 9 and 10: send() sends a ping / an unsolicited pong. */
	cr_assert_eq(rw_wsserver_set_data_format(s, id, RW_WS_FORMAT_PING), 0);
	cr_assert_eq(rw_wsserver_send(s, id, "abc", 3), 0);
	cr_assert_eq(wst_read_frame(s, fd, &p, &n, NULL, 3000), 0x89);
	cr_assert(n == 3 && !memcmp(p, "abc", 3));
	free(p);
	rw_wsserver_set_data_format(s, id, RW_WS_FORMAT_PONG);
	cr_assert_eq(rw_wsserver_send(s, id, "def", 3), 0);
	cr_assert_eq(wst_read_frame(s, fd, &p, &n, NULL, 3000), 0x8a);
	free(p);
	uint8_t big[126] = {0};
	cr_assert_eq(rw_wsserver_send(s, id, big, sizeof(big)), -RW_EBAD_VALUE);
	rw_wsserver_set_data_format(s, id, RW_WS_FORMAT_TEXT);
	cr_assert_eq(rw_wsserver_send(s, id, "t", 1), 0);
	cr_assert_eq(wst_read_frame(s, fd, &p, &n, NULL, 3000), 0x81);
	free(p);
	cr_assert_eq(rw_wsserver_set_data_format(s, id, 5), -RW_EBAD_VALUE);
	/* Blocking Ping with a client that never answers: 10060 after Timeout. */
	rw_wsserver_set_timeout(s, id, 1);
	double t0 = rwt_now_ms();
	cr_assert_eq(rw_wsserver_ping(s, id), -RW_ETIMEDOUT);
	cr_assert_geq(rwt_now_ms() - t0, 900);
	close(fd);
	END();
}

/* ---- fragmentation ------------------------------------------------------ */

Test(ws_fragmentation, pieces_formats_and_eom)
{
	GO(NULL);
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	wst_frame(fd, 0x01, "ab", 2);
	wst_frame(fd, 0x00, "cd", 2);
	wst_frame(fd, 0x80, "ef", 2);
	wst_wait(s, r->data == 3, 2000);
	const char *want[] = {"ab", "cd", "ef"};
	for (int i = 0; i < 3; i++) {
		const wst_event *e = wst_nth(r, id, WE_DATA, i);
		cr_assert_str_eq((char *)e->data, want[i]);
		cr_assert_eq(e->code, i == 0 ? 1 : 0);
		cr_assert_eq(e->eom, i == 2);
	}
	close(fd);
	END();
}

Test(ws_fragmentation, buffer_message_and_ping_inside)
{
	GO("BufferMessage=True");
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	wst_frame(fd, 0x01, "ab", 2);
	wst_frame(fd, 0x89, "p", 1);
	/* The pong comes before the message completes. */
	uint8_t *p;
	size_t n;
	cr_assert_eq(wst_read_frame(s, fd, &p, &n, NULL, 3000), 0x8a);
	cr_assert(n == 1 && p[0] == 'p');
	free(p);
	cr_assert_eq(r->data, 0);
	cr_assert_eq(r->pings, 1);
	wst_frame(fd, 0x00, "cd", 2);
	wst_frame(fd, 0x80, "ef", 2);
	wst_wait(s, r->data == 1, 2000);
	const wst_event *e = wst_nth(r, id, WE_DATA, 0);
	cr_assert_str_eq((char *)e->data, "abcdef");
	cr_assert(e->eom && e->code == 1);
	/* Empty fragments, and many of them. */
	wst_frame(fd, 0x02, "", 0);
	for (int i = 0; i < 100; i++)
		wst_frame(fd, 0x00, "x", 1);
	wst_frame(fd, 0x80, "", 0);
	wst_wait(s, r->data == 2, 2000);
	cr_assert_eq(wst_nth(r, id, WE_DATA, 1)->len, 100);
	cr_assert_eq(wst_nth(r, id, WE_DATA, 1)->code, 2);
	close(fd);
	END();
}

Test(ws_fragmentation, new_message_inside_a_message)
{
	GO(NULL);
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	wst_frame(fd, 0x01, "ab", 2);
	wst_frame(fd, 0x81, "cd", 2);
	expect_close(s, r, fd, id, 1002);
	END();
}

/* ---- UTF-8 ----------------------------------------------------------- */

Test(ws_utf8, invalid_text_1007)
{
	violation(0x81, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", 14, 1007);
	violation(0x81, "\xc0\x80", 2, 1007);
	violation(0x81, "abc\xe2\x82", 5, 1007); /* ends inside a code point */
}

Test(ws_utf8, split_code_point_is_fine_and_fail_fast)
{
	GO(NULL);
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	/* ✓ = e2 9c 93 split over three fragments. */
	wst_frame(fd, 0x01, "a\xe2", 2);
	wst_frame(fd, 0x00, "\x9c", 1);
	wst_frame(fd, 0x80, "\x93z", 2);
	wst_wait(s, r->data == 3, 2000);
	/* Fail fast: the first fragment is already impossible; the close
	 * comes without waiting for the message's end. */
	wst_frame(fd, 0x01, "ok\xf4\x90", 4);
	expect_close(s, r, fd, id, 1007);
	cr_assert_eq(r->data, 3, "the invalid piece was not delivered");
	END();
}

/* ---- close handling ---------------------------------------------------- */

Test(ws_close, client_close_echoed)
{
	GO(NULL);
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	wst_frame(fd, 0x88, "\x03\xe9" "bye", 5);
	char reason[64];
	cr_assert_eq(wst_read_close(s, fd, reason, sizeof(reason), 3000), 1001);
	cr_assert(wst_tcp_closed(s, fd, 3000));
	wst_wait(s, r->disc == 1, 2000);
	const wst_event *d = wst_nth(r, id, WE_DISC, 0);
	cr_assert_eq(d->code, 1001);
	cr_assert_str_eq(d->text, "bye");
	/* The id is gone afterwards. */
	cr_assert_eq(rw_wsserver_send_text(s, id, "x"), -RW_EINVALID_CONNID);
	cr_assert_eq(rw_wsserver_get_connection_count(s), 0);
	close(fd);
	END();
}

Test(ws_close, close_without_code_1005)
{
	GO(NULL);
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	wst_frame(fd, 0x88, "", 0);
	cr_assert_eq(wst_read_close(s, fd, NULL, 0, 3000), 1005);
	wst_wait(s, r->disc == 1, 2000);
	cr_assert_eq(wst_nth(r, id, WE_DISC, 0)->code, 1005);
	close(fd);
	END();
}

Test(ws_close, invalid_close_payloads)
{
	violation(0x88, "\x03", 1, 1002);              /* 1-byte body */
	violation(0x88, "\x03\xed", 2, 1002);          /* 1005 */
	violation(0x88, "\x03\xe7", 2, 1002);          /* 999 */
	violation(0x88, "\x03\xec", 2, 1002);          /* 1004 */
	violation(0x88, "\x13\x88", 2, 1002);          /* 5000 */
	violation(0x88, "\x03\xe8\xce\x28", 4, 1007);  /* bad UTF-8 reason */
}

Test(ws_close, disconnect_default_and_custom)
{
	GO(NULL);
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	cr_assert_eq(rw_wsserver_disconnect(s, id), 0);
	cr_assert_eq(rw_wsserver_disconnect(s, id), 0); /* idempotent */
	cr_assert_eq(rw_wsserver_send_text(s, id, "late"), -RW_EWS_SEND);
	char reason[128];
	cr_assert_eq(wst_read_close(s, fd, reason, sizeof(reason), 3000), 1000);
	cr_assert_str_eq(reason, "Normal closure.");
	wst_frame(fd, 0x88, "\x03\xe8", 2); /* the client answers */
	cr_assert(wst_tcp_closed(s, fd, 3000));
	wst_wait(s, r->disc == 1, 2000);
	cr_assert_eq(wst_nth(r, id, WE_DISC, 0)->code, 1000);
	close(fd);
	wst_cfg(s, "DisconnectStatusCode=4001");
	wst_cfg(s, "DisconnectStatusDescription=custom");
	fd = wst_raw(s, r, port, NULL, &id);
	rw_wsserver_disconnect(s, id);
	cr_assert_eq(wst_read_close(s, fd, reason, sizeof(reason), 3000), 4001);
	cr_assert_str_eq(reason, "custom");
	close(fd);
	wst_cfg(s, "DisconnectStatusCode=4002");
	wst_cfg(s, "DisconnectStatusDescription=");
	fd = wst_raw(s, r, port, NULL, &id);
	rw_wsserver_disconnect(s, id);
	cr_assert_eq(wst_read_close(s, fd, reason, sizeof(reason), 3000), 4002);
	cr_assert_str_eq(reason, "");
	close(fd);
	fd = wst_raw(s, r, port, NULL, &id);
	cr_assert_eq(rw_wsserver_disconnect_with(s, id, 1000, "\xc0\x80"), -RW_EBAD_VALUE);
	cr_assert_eq(rw_wsserver_disconnect_with(s, id, 1006, NULL), -RW_EBAD_VALUE);
	/* A long reason is cut to 123 bytes at a code-point boundary. */
	char longr[200];
	for (int i = 0; i < 66; i++)
		memcpy(longr + 2 * i, "\xc3\xa9", 2);
	longr[132] = 0;
	cr_assert_eq(rw_wsserver_disconnect_with(s, id, 3000, longr), 0);
	cr_assert_eq(wst_read_close(s, fd, reason, sizeof(reason), 3000), 3000);
	cr_assert_eq(strlen(reason), 122);
	close(fd);
	cr_assert_eq(rw_wsserver_config(s, "DisconnectStatusCode=1005", NULL, 0), -RW_EBAD_VALUE);
	cr_assert_eq(rw_wsserver_config(s, "DisconnectStatusCode=1006", NULL, 0), -RW_EBAD_VALUE);
	END();
}

Test(ws_close, wait_for_close_response)
{
	GO("WaitForCloseResponse=False");
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	double t0 = rwt_now_ms();
	rw_wsserver_disconnect(s, id);
	cr_assert_eq(wst_read_close(s, fd, NULL, 0, 3000), 1000);
	cr_assert(wst_tcp_closed(s, fd, 3000));
	cr_assert_lt(rwt_now_ms() - t0, 500, "no wait without WaitForCloseResponse");
	close(fd);
	/* With it (and Timeout 2): TCP stays open for the answer, then closes. */
	wst_cfg(s, "WaitForCloseResponse=True");
	fd = wst_raw(s, r, port, NULL, &id);
	rw_wsserver_set_timeout(s, id, 2);
	t0 = rwt_now_ms();
	rw_wsserver_disconnect(s, id);
	cr_assert_eq(wst_read_close(s, fd, NULL, 0, 3000), 1000);
	cr_assert_not(wst_tcp_closed(s, fd, 1000), "closed before the client could answer");
	/* Data after our Close is read and dropped. */
	wst_frame(fd, 0x81, "ignored", 7);
	cr_assert(wst_tcp_closed(s, fd, 4000));
	double dt = rwt_now_ms() - t0;
	cr_assert(dt >= 1500 && dt < 4500, "closed after %.0f ms", dt);
	wst_wait(s, r->disc == 2, 2000);
	cr_assert_eq(wst_nth(r, id, WE_DISC, 0)->code, 1000);
	cr_assert_eq(wst_count(r, id, WE_DATA), 0);
	close(fd);
	END();
}

Test(ws_close, abrupt_drop_mid_frame_1006)
{
	GO(NULL);
	rw_connid id, id2;
	int fd = wst_raw(s, r, port, NULL, &id);
	int fd2 = wst_raw(s, r, port, NULL, &id2);
	/* Half a frame, then a reset. */
	rwt_send_all(fd, "\x82\xfe\x03\xe8\x01\x02\x03\x04partial", 15);
	wst_pump_for(s, 50);
	rwt_close_rst(fd);
	wst_wait(s, r->disc == 1, 3000);
	const wst_event *d = wst_nth(r, id, WE_DISC, 0);
	cr_assert_eq(d->code, 1006);
	cr_assert_neq(d->text[0], 0);
	cr_assert_eq(rw_wsserver_send_text(s, id, "x"), -RW_EINVALID_CONNID);
	wst_pump_for(s, 100);
	cr_assert_eq(wst_count(r, id, WE_DISC), 1);
	/* The other client is still served. */
	r->echo = true;
	wst_frame(fd2, 0x81, "still", 5);
	uint8_t *p;
	size_t n;
	cr_assert_eq(wst_read_frame(s, fd2, &p, &n, NULL, 3000), 0x81);
	free(p);
	close(fd2);
	END();
}

Test(ws_close, shutdown_closes_everyone)
{
	GO(NULL);
	int fds[3];
	for (int i = 0; i < 3; i++)
		fds[i] = wst_raw(s, r, port, NULL, NULL);
	rw_wsserver_shutdown(s);
	cr_assert_not(rw_wsserver_get_listening(s));
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(wst_read_close(s, fds[i], NULL, 0, 3000), 1000);
		wst_frame(fds[i], 0x88, "\x03\xe8", 2);
	}
	wst_wait(s, r->disc == 3, 3000);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	END();
}

/* ---- limits -------------------------------------------------------------- */

Test(ws_limits, max_message_size_1009)
{
	GO("MaxMessageSize=1000");
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	uint8_t buf[1001] = {0};
	wst_frame(fd, 0x82, buf, 1000);
	wst_wait(s, r->data == 1, 2000);
	wst_frame(fd, 0x02, buf, 600);
	wst_frame(fd, 0x80, buf, 401);
	expect_close(s, r, fd, id, 1009);
	END();
}

Test(ws_limits, send_splits_at_max_frame_size_and_message_length)
{
	GO("MaxFrameSize=1000");
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	uint8_t *msg = rwt_random(2500, 7);
	cr_assert_eq(rw_wsserver_send_bytes(s, id, msg, 2500), 0);
	static const int want_b0[] = {0x02, 0x00, 0x80};
	static const size_t want_n[] = {1000, 1000, 500};
	for (int i = 0; i < 3; i++) {
		uint8_t *p;
		size_t n;
		cr_assert_eq(wst_read_frame(s, fd, &p, &n, NULL, 3000), want_b0[i], "frame %d", i);
		cr_assert_eq(n, want_n[i]);
		cr_assert_eq(memcmp(p, msg + 1000 * i, n), 0);
		free(p);
	}
	/* MessageLength: three calls, one message. */
	wst_cfg(s, "MaxFrameSize=131072");
	char set[64];
	snprintf(set, sizeof(set), "MessageLength[%lld]=2500", (long long)id);
	wst_cfg(s, set);
	cr_assert_eq(rw_wsserver_send_bytes(s, id, msg, 1000), 0);
	char out[32];
	snprintf(set, sizeof(set), "MessageLength[%lld]", (long long)id);
	cr_assert_gt(rw_wsserver_config(s, set, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "1500");
	cr_assert_eq(rw_wsserver_send_bytes(s, id, msg + 1000, 1000), 0);
	cr_assert_eq(rw_wsserver_send_bytes(s, id, msg + 2000, 500), 0);
	static const int want2[] = {0x02, 0x00, 0x80};
	for (int i = 0; i < 3; i++) {
		uint8_t *p;
		size_t n;
		cr_assert_eq(wst_read_frame(s, fd, &p, &n, NULL, 3000), want2[i], "frame %d", i);
		free(p);
	}
	free(msg);
	close(fd);
	END();
}

Test(ws_limits, line_mode)
{
	GO(NULL);
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	cr_assert_eq(rw_wsserver_change_line_mode(s, id, true), 0);
	cr_assert_eq(rw_wsserver_get_line_mode(s, id), 1);
	wst_frame(fd, 0x81, "one\r\ntwo\nthr", 12);
	wst_wait(s, r->data == 2, 2000);
	wst_pump_for(s, 50);
	cr_assert_eq(r->data, 2);
	cr_assert_str_eq((char *)wst_nth(r, id, WE_DATA, 0)->data, "one");
	cr_assert_str_eq((char *)wst_nth(r, id, WE_DATA, 1)->data, "two");
	cr_assert(wst_nth(r, id, WE_DATA, 1)->eol && wst_nth(r, id, WE_DATA, 1)->code == 0);
	wst_frame(fd, 0x81, "ee\n", 3);
	wst_wait(s, r->data == 3, 2000);
	cr_assert_str_eq((char *)wst_nth(r, id, WE_DATA, 2)->data, "three");
	cr_assert(wst_nth(r, id, WE_DATA, 2)->eom, "the line ended at the message end");
	char set[64];
	snprintf(set, sizeof(set), "MaxLineLength[%lld]=256", (long long)id);
	wst_cfg(s, set);
	char long_line[600];
	memset(long_line, 'a', 520);
	memcpy(long_line + 520, "bc\n", 3);
	wst_frame(fd, 0x81, long_line, 523);
	wst_wait(s, r->data == 6, 2000);
	cr_assert_eq(wst_nth(r, id, WE_DATA, 3)->len, 256);
	cr_assert_not(wst_nth(r, id, WE_DATA, 3)->eol);
	cr_assert_eq(wst_nth(r, id, WE_DATA, 5)->len, 10);
	cr_assert(wst_nth(r, id, WE_DATA, 5)->eol);
	close(fd);
	END();
}

/* ---- compression ------------------------------------------------------- */

static int raw_deflate(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream z = {0};
	deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_SYNC_FLUSH);
	size_t len = cap - z.avail_out;
	deflateEnd(&z);
	return (int)len - 4; /* strip 00 00 ff ff */
}

Test(ws_compression, negotiated_both_ways)
{
	GO(NULL);
	r->echo = true;
	rw_connid id;
	char resp[2048];
	int fd = wst_raw_open(s, port, "/", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", resp,
	                      sizeof(resp));
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	cr_assert(strstr(resp, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
	                       "client_no_context_takeover\r\n"), "%s", resp);
	wst_wait(s, r->ready == 1, 2000);
	id = r->last_id;
	cr_assert_eq(rw_wsserver_get_compressed(s, id), 1);
	cr_assert_str_eq(r->open_extensions, "permessage-deflate; client_max_window_bits");
	/* RFC 7692 §7.2.3.1 "Hello", compressed by hand. Its echo is sent
	 * uncompressed: deflate would make it longer (7 bytes). */
	wst_frame(fd, 0xc1, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
	uint8_t *p;
	size_t n;
	int b0 = wst_read_frame(s, fd, &p, &n, NULL, 3000);
	cr_assert_eq(b0, 0x81, "%#x", b0);
	cr_assert(n == 5 && !memcmp(p, "Hello", 5));
	free(p);
	cr_assert_str_eq((char *)wst_nth(r, id, WE_DATA, 0)->data, "Hello");
	/* A compressible message comes back compressed (RSV1) and inflates. */
	char big[2000];
	for (int i = 0; i < 2000; i++)
		big[i] = "hello world "[i % 12];
	cr_assert_eq(rw_wsserver_send_text_n(s, id, big, sizeof(big)), 0);
	b0 = wst_read_frame(s, fd, &p, &n, NULL, 3000);
	cr_assert_eq(b0, 0xc1, "the message is compressed (RSV1): %#x", b0);
	cr_assert_lt(n, 200);
	z_stream z = {0};
	inflateInit2(&z, -15);
	uint8_t in[256], out[4096];
	memcpy(in, p, n);
	memcpy(in + n, "\x00\x00\xff\xff", 4);
	z.next_in = in;
	z.avail_in = (uInt)n + 4;
	z.next_out = out;
	z.avail_out = sizeof(out);
	inflate(&z, Z_SYNC_FLUSH);
	cr_assert_eq(sizeof(out) - z.avail_out, 2000);
	cr_assert_eq(memcmp(out, big, 2000), 0);
	inflateEnd(&z);
	free(p);
	/* The echo of a second (compressed) message is readable without the
	 * first one's window: no context takeover. */
	/* A compressed message in fragments (RSV1 on the first only). */
	uint8_t text[3000], comp[4000];
	for (int i = 0; i < 3000; i++)
		text[i] = (uint8_t)("abcdefgh"[i % 8]);
	int cn = raw_deflate(text, sizeof(text), comp, sizeof(comp));
	wst_frame(fd, 0x42, comp, 3);
	wst_frame(fd, 0x00, comp + 3, 5);
	wst_frame(fd, 0x80, comp + 8, (size_t)cn - 8);
	wst_wait(s, r->data >= 2 && wst_nth(r, id, WE_DATA, r->data - 1)->eom, 2000);
	size_t total = 0;
	for (int i = 1; i < r->data; i++)
		total += wst_nth(r, id, WE_DATA, i)->len;
	cr_assert_eq(total, 3000);
	close(fd);
	END();
}

Test(ws_compression, bomb_stopped_at_max_message_size)
{
	GO("MaxMessageSize=65536");
	char resp[2048];
	int fd = wst_raw_open(s, port, "/", "Sec-WebSocket-Extensions: permessage-deflate\r\n", resp, sizeof(resp));
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	wst_wait(s, r->ready == 1, 2000);
	rw_connid id = r->last_id;
	size_t n = 16u << 20;
	uint8_t *zeros = calloc(1, n), *comp = malloc(1 << 20);
	int cn = raw_deflate(zeros, n, comp, 1 << 20);
	cr_assert_lt(cn, 100000);
	wst_frame(fd, 0xc2, comp, (size_t)cn);
	expect_close(s, r, fd, id, 1009);
	/* Pieces went out as they inflated, but never past the limit. */
	size_t total = 0;
	for (int i = 0; i < r->data; i++)
		total += wst_nth(r, id, WE_DATA, i)->len;
	cr_assert_leq(total, 65536);
	free(zeros);
	free(comp);
	END();
}

Test(ws_compression, disabled_means_rsv1_is_an_error)
{
	GO("EnablePermessageDeflate=False");
	char resp[2048];
	int fd = wst_raw_open(s, port, "/", "Sec-WebSocket-Extensions: permessage-deflate\r\n", resp, sizeof(resp));
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	cr_assert_null(strstr(resp, "Sec-WebSocket-Extensions"), "%s", resp);
	wst_wait(s, r->ready == 1, 2000);
	wst_frame(fd, 0xc1, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
	expect_close(s, r, fd, r->last_id, 1002);
	END();
}

Test(ws_compression, corrupt_deflate_1007)
{
	GO(NULL);
	char resp[2048];
	int fd = wst_raw_open(s, port, "/", "Sec-WebSocket-Extensions: permessage-deflate\r\n", resp, sizeof(resp));
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	wst_wait(s, r->ready == 1, 2000);
	wst_frame(fd, 0xc1, "\xff\xff\xff\xff", 4);
	expect_close(s, r, fd, r->last_id, 1007);
	END();
}
