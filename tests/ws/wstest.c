/* tests/ws/wstest.c: see wstest.h. */
#include "wstest.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static wst_event *push(wst_rec *r, int type, rw_connid id)
{
	if (r->n >= WST_MAX_EV)
		return NULL;
	wst_event *e = &r->ev[r->n++];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->id = id;
	return e;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static void ev_request(rw_wsserver *s, rw_wsserver_connection_request *e, void *u)
{
	wst_rec *r = u;
	(void)s;
	r->requests++;
	push(r, WE_REQUEST, 0);
	if (r->refuse_tcp)
		e->accept = false;
}

static void ev_open(rw_wsserver *s, rw_wsserver_websocket_open_request *e, void *u)
{
	wst_rec *r = u;
	(void)s;
	r->opens++;
	wst_event *ev = push(r, WE_OPEN, e->connection_id);
	if (ev)
		copy_text(ev->text, sizeof(ev->text), e->request_uri);
	copy_text(r->open_origin, sizeof(r->open_origin), e->origin_header);
	copy_text(r->open_host, sizeof(r->open_host), e->host_header);
	copy_text(r->open_headers_seen, sizeof(r->open_headers_seen), e->request_headers);
	copy_text(r->open_protocols, sizeof(r->open_protocols), e->subprotocols);
	copy_text(r->open_extensions, sizeof(r->open_extensions), e->extensions);
	if (r->open_status)
		e->status_code = r->open_status;
	if (r->open_headers)
		e->response_headers = r->open_headers;
	if (r->open_pick)
		e->subprotocols = r->open_pick;
}

static void ev_connected(rw_wsserver *s, const rw_wsserver_connected *e, void *u)
{
	wst_rec *r = u;
	(void)s;
	r->connected++;
	r->last_id = e->connection_id;
	push(r, WE_CONNECTED, e->connection_id);
}

/* Echo with the documented WOULDBLOCK protocol: what a send did not take is
 * kept (the message stays open on the server) and sent on ReadyToSend, with
 * reception paused meanwhile. */
struct wst_pending {
	rw_connid id;
	int format;
	uint8_t *d;
	size_t len, off;
};

static int echo_send(wst_rec *r, rw_wsserver *s, rw_connid id, int format, const uint8_t *d, size_t n)
{
	int rc = format == RW_WS_FORMAT_TEXT ? rw_wsserver_send_text_n(s, id, (const char *)d, n)
	                                     : rw_wsserver_send_bytes(s, id, d, n);
	if (rc != -RW_EWOULDBLOCK)
		return rc;
	size_t took = (size_t)rw_wsserver_get_bytes_sent(s, id);
	struct wst_pending *p = NULL;
	for (int i = 0; i < WST_MAX_PENDING && !p; i++)
		if (!r->pending[i])
			p = r->pending[i] = calloc(1, sizeof(*p));
	if (!p)
		return rc;
	p->id = id;
	p->format = format;
	p->len = n - took;
	p->d = malloc(p->len + 1);
	memcpy(p->d, d + took, p->len);
	r->echo_wouldblock++;
	rw_wsserver_set_accept_data(s, id, false);
	return 0;
}

static void echo_resume(wst_rec *r, rw_wsserver *s, rw_connid id)
{
	for (int i = 0; i < WST_MAX_PENDING; i++) {
		struct wst_pending *p = r->pending[i];
		if (!p || p->id != id)
			continue;
		/* The rest continues the open message (send exactly the rest). */
		int rc = p->format == RW_WS_FORMAT_TEXT
		             ? rw_wsserver_send_text_n(s, id, (const char *)p->d + p->off, p->len - p->off)
		             : rw_wsserver_send_bytes(s, id, p->d + p->off, p->len - p->off);
		if (rc == -RW_EWOULDBLOCK) {
			p->off += (size_t)rw_wsserver_get_bytes_sent(s, id);
			return;
		}
		free(p->d);
		free(p);
		r->pending[i] = NULL;
		rw_wsserver_set_accept_data(s, id, true);
	}
}

static void ev_ready(rw_wsserver *s, const rw_wsserver_ready_to_send *e, void *u)
{
	wst_rec *r = u;
	r->ready++;
	push(r, WE_READY, e->connection_id);
	echo_resume(r, s, e->connection_id);
	if (r->on_ready)
		r->on_ready(r, s, e->connection_id);
}

static void ev_data(rw_wsserver *s, const rw_wsserver_data_in *e, void *u)
{
	wst_rec *r = u;
	r->data++;
	wst_event *ev = push(r, WE_DATA, e->connection_id);
	if (ev) {
		ev->code = e->data_format;
		ev->eom = e->eom;
		ev->eol = e->eol;
		ev->len = e->text_len;
		ev->data = malloc(e->text_len + 1);
		memcpy(ev->data, e->text, e->text_len);
		ev->data[e->text_len] = 0;
	}
	if (r->echo) {
		int rc = echo_send(r, s, e->connection_id, e->data_format, e->text, e->text_len);
		if (rc < 0) {
			wst_event *er = push(r, WE_ERROR, e->connection_id);
			r->errors++;
			if (er) {
				er->code = rc;
				copy_text(er->text, sizeof(er->text), "echo send failed");
			}
		}
	}
	if (r->on_data)
		r->on_data(r, s, e);
}

static void ev_ping(rw_wsserver *s, const rw_wsserver_ping_event *e, void *u)
{
	wst_rec *r = u;
	(void)s;
	if (e->response)
		r->pongs++;
	else
		r->pings++;
	wst_event *ev = push(r, e->response ? WE_PONG : WE_PING, e->connection_id);
	if (ev) {
		ev->len = e->payload_len;
		ev->data = malloc(e->payload_len + 1);
		memcpy(ev->data, e->payload, e->payload_len);
		ev->data[e->payload_len] = 0;
	}
}

static void ev_disc(rw_wsserver *s, const rw_wsserver_disconnected *e, void *u)
{
	wst_rec *r = u;
	(void)s;
	r->disc++;
	wst_event *ev = push(r, WE_DISC, e->connection_id);
	if (ev) {
		ev->code = e->status_code;
		copy_text(ev->text, sizeof(ev->text), e->description);
	}
}

static void ev_error(rw_wsserver *s, const rw_wsserver_error *e, void *u)
{
	wst_rec *r = u;
	(void)s;
	r->errors++;
	wst_event *ev = push(r, WE_ERROR, e->connection_id);
	if (ev) {
		ev->code = e->error_code;
		copy_text(ev->text, sizeof(ev->text), e->description);
	}
}

void wst_cfg(rw_wsserver *s, const char *setting)
{
	int rc = rw_wsserver_config(s, setting, NULL, 0);
	cr_assert_eq(rc, 0, "Config %s: %d %s", setting, rc, rw_strerror(rc));
}

rw_wsserver *wst_server(wst_rec *r, const char *const *configs, int *port)
{
	return wst_server_ex(r, configs, NULL, port);
}

rw_wsserver *wst_server_ex(wst_rec *r, const char *const *configs, const char *pem, int *port)
{
	static const rw_wsserver_events ev = {
		.connection_request = ev_request,
		.websocket_open_request = ev_open,
		.connected = ev_connected,
		.ready_to_send = ev_ready,
		.data_in = ev_data,
		.ping = ev_ping,
		.disconnected = ev_disc,
		.error = ev_error,
	};
	rw_wsserver *s = rw_wsserver_new();
	cr_assert_not_null(s);
	rw_wsserver_set_events(s, &ev, r);
	cr_assert_eq(rw_wsserver_set_local_host(s, "127.0.0.1"), 0);
	cr_assert_eq(rw_wsserver_set_local_port(s, 0), 0);
	/* Bursts of connects (1,000 clients) must not wait on SYN retries. */
	cr_assert_eq(rw_wsserver_set_connection_backlog(s, 4096), 0);
	wst_cfg(s, "DoEventsTimeout=20");
	if (pem) {
		rw_tcpserver *t = rw_wsserver_get_tcpserver(s);
		cr_assert_eq(rw_wsserver_set_use_ssl(s, true), 0);
		cr_assert(rw_wsserver_get_use_ssl(s));
		cr_assert_eq(rw_tcpserver_set_ssl_cert_store_type(t, RW_CERT_PEM_KEY_FILE), 0);
		cr_assert_eq(rw_tcpserver_set_ssl_cert_store(t, pem, strlen(pem)), 0);
		cr_assert_eq(rw_tcpserver_set_ssl_cert_subject(t, "*"), 0);
	}
	for (int i = 0; configs && configs[i]; i++)
		wst_cfg(s, configs[i]);
	int rc = rw_wsserver_start_listening(s);
	cr_assert_eq(rc, 0, "start_listening: %s", rw_strerror(rc));
	*port = rw_wsserver_get_local_port(s);
	cr_assert_gt(*port, 0);
	char got[16] = "";
	rw_wsserver_config(s, "Backend", got, sizeof(got));
	rwt_expect_backend(got);
	return s;
}

void wst_end(rw_wsserver *s, wst_rec *r)
{
	rw_wsserver_free(s);
	for (int i = 0; i < WST_MAX_PENDING; i++) {
		if (r->pending[i])
			free(r->pending[i]->d);
		free(r->pending[i]);
		r->pending[i] = NULL;
	}
	for (int i = 0; i < r->n; i++)
		free(r->ev[i].data);
	r->n = 0;
}

bool wst_pump_until(rw_wsserver *s, rwt_pred pred, void *ctx, int ms)
{
	double t0 = rwt_now_ms();
	while (!pred(ctx)) {
		if (rwt_now_ms() - t0 > ms)
			return false;
		cr_assert_geq(rw_wsserver_do_events(s), 0);
	}
	return true;
}

void wst_pump_for(rw_wsserver *s, int ms)
{
	double t0 = rwt_now_ms();
	while (rwt_now_ms() - t0 < ms)
		rw_wsserver_do_events(s);
}

int wst_count(const wst_rec *r, rw_connid id, int type)
{
	int n = 0;
	for (int i = 0; i < r->n; i++)
		n += r->ev[i].type == type && (id <= 0 || r->ev[i].id == id);
	return n;
}

const wst_event *wst_nth(const wst_rec *r, rw_connid id, int type, int n)
{
	for (int i = 0; i < r->n; i++)
		if (r->ev[i].type == type && (id <= 0 || r->ev[i].id == id) && n-- == 0)
			return &r->ev[i];
	return NULL;
}

/* ---- raw client ---------------------------------------------------------- */

/* Read up to n bytes, pumping the server while the socket is empty. */
static ssize_t pump_read(rw_wsserver *s, int fd, void *buf, size_t n, int timeout_ms)
{
	double t0 = rwt_now_ms();
	for (;;) {
		ssize_t k = recv(fd, buf, n, MSG_DONTWAIT);
		if (k >= 0)
			return k;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (rwt_now_ms() - t0 > timeout_ms)
			return -2;
		rw_wsserver_do_events(s);
	}
}

static bool pump_read_n(rw_wsserver *s, int fd, uint8_t *buf, size_t n, int timeout_ms)
{
	size_t got = 0;
	double t0 = rwt_now_ms();
	while (got < n) {
		int left = timeout_ms - (int)(rwt_now_ms() - t0);
		if (left <= 0)
			return false;
		ssize_t k = pump_read(s, fd, buf + got, n - got, left);
		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return true;
}

int wst_raw_open(rw_wsserver *s, int port, const char *path, const char *extra, char *resp, size_t cap)
{
	int fd = rwt_connect("127.0.0.1", port, 5000);
	if (fd < 0)
		return fd; /* -errno of socket() or connect() */
	char req[4096];
	int n = snprintf(req, sizeof(req),
	                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
	                 path, port, extra ? extra : "");
	rwt_send_all(fd, req, (size_t)n);
	/* Read the head byte by byte so that no frame byte is taken with it. */
	size_t len = 0;
	resp[0] = 0;
	while (len + 1 < cap) {
		uint8_t c;
		ssize_t k = pump_read(s, fd, &c, 1, 5000);
		if (k <= 0)
			break;
		resp[len++] = (char)c;
		resp[len] = 0;
		if (len >= 4 && !memcmp(resp + len - 4, "\r\n\r\n", 4))
			break;
	}
	return fd;
}

int wst_raw(rw_wsserver *s, wst_rec *r, int port, const char *extra, rw_connid *id)
{
	char resp[2048];
	int before = r->ready;
	int fd = wst_raw_open(s, port, "/", extra, resp, sizeof(resp));
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	cr_assert(strncmp(resp, "HTTP/1.1 101 ", 13) == 0, "handshake: %s", resp);
	cr_assert(strstr(resp, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "%s", resp);
	wst_wait(s, r->ready > before, 3000);
	if (id)
		*id = r->last_id;
	return fd;
}

void wst_frame(int fd, uint8_t b0, const void *payload, size_t len)
{
	uint8_t *f = malloc(len + 14);
	size_t h = 0;
	f[h++] = b0;
	if (len < 126) {
		f[h++] = 0x80 | (uint8_t)len;
	} else if (len <= 0xffff) {
		f[h++] = 0x80 | 126;
		f[h++] = (uint8_t)(len >> 8);
		f[h++] = (uint8_t)len;
	} else {
		f[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			f[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
	memcpy(f + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < len; i++)
		f[h + i] = ((const uint8_t *)payload)[i] ^ mask[i % 4];
	rwt_send_all(fd, f, h + len);
	free(f);
}

int wst_read_frame(rw_wsserver *s, int fd, uint8_t **out, size_t *n, bool *mask, int timeout_ms)
{
	uint8_t h[14];
	*out = NULL;
	*n = 0;
	if (!pump_read_n(s, fd, h, 2, timeout_ms))
		return -1;
	uint64_t len = h[1] & 0x7f;
	if (mask)
		*mask = h[1] & 0x80;
	if (len == 126) {
		if (!pump_read_n(s, fd, h + 2, 2, timeout_ms))
			return -1;
		len = (uint64_t)h[2] << 8 | h[3];
	} else if (len == 127) {
		if (!pump_read_n(s, fd, h + 2, 8, timeout_ms))
			return -1;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | h[2 + i];
	}
	if (h[1] & 0x80 && !pump_read_n(s, fd, h + 10, 4, timeout_ms))
		return -1;
	*out = malloc(len + 1);
	if (len && !pump_read_n(s, fd, *out, len, timeout_ms)) {
		free(*out);
		*out = NULL;
		return -1;
	}
	(*out)[len] = 0;
	*n = len;
	return h[0];
}

int wst_read_close(rw_wsserver *s, int fd, char *reason, size_t cap, int timeout_ms)
{
	for (int i = 0; i < 10000; i++) {
		uint8_t *p;
		size_t n;
		int b0 = wst_read_frame(s, fd, &p, &n, NULL, timeout_ms);
		if (b0 < 0)
			return -1;
		if ((b0 & 0x0f) == 8) {
			int code = n >= 2 ? (p[0] << 8 | p[1]) : 1005;
			if (reason)
				snprintf(reason, cap, "%.*s", n > 2 ? (int)(n - 2) : 0, n > 2 ? (char *)p + 2 : "");
			free(p);
			return code;
		}
		free(p);
	}
	return -1;
}

bool wst_tcp_closed(rw_wsserver *s, int fd, int timeout_ms)
{
	double t0 = rwt_now_ms();
	uint8_t buf[4096];
	while (rwt_now_ms() - t0 < timeout_ms) {
		ssize_t k = pump_read(s, fd, buf, sizeof(buf), timeout_ms - (int)(rwt_now_ms() - t0));
		if (k == 0 || k == -1)
			return true;
		if (k == -2)
			return false;
	}
	return false;
}

/* ---- external clients ------------------------------------------------------ */

const char *wst_run(rw_wsserver *s, char *const argv[], int timeout_ms, int want_code)
{
	static rwt_proc p;
	static char out[1 << 16];
	memset(&p, 0, sizeof(p));
	cr_assert_eq(rwt_proc_spawn(&p, argv, false), 0, "cannot start %s", argv[0]);
	bool ok = wst_pump_until(s, rwt_proc_done, &p, timeout_ms);
	if (!ok)
		rwt_proc_kill(&p);
	snprintf(out, sizeof(out), "%s", p.out ? p.out : "");
	int code = p.exit_code;
	rwt_proc_free(&p);
	cr_assert(ok, "%s did not finish in %d ms; output:\n%s", argv[0], timeout_ms, out);
	if (want_code >= 0)
		cr_assert_eq(code, want_code, "%s exited with %d; output:\n%s", argv[0], code, out);
	return out;
}

const char *wst_python(rw_wsserver *s, const char *script, int port, const char *arg, int timeout_ms)
{
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	char *argv[] = {"/usr/bin/python3", "-c", (char *)script, ps, (char *)arg, NULL};
	return wst_run(s, argv, timeout_ms, 0);
}

bool wst_have_python_websockets(void)
{
	return system("/usr/bin/python3 -c 'import websockets' 2>/dev/null") == 0;
}

