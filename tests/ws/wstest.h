/* tests/ws/wstest.h: helpers for the WSServer tests: an event recorder, a
 * server on an ephemeral loopback port, a raw WebSocket client (handshake,
 * masked frames out, server frames in) that turns the server while it waits,
 * and external clients (python3 websockets, node ws) run as child processes.
 * Loopback only; every wait is bounded. */
#ifndef WSTEST_H
#define WSTEST_H

#include "helpers/rwtest.h"

#include <ringworks/wsserver.h>

#define WST_MAX_EV 4096
#define WST_MAX_PENDING 64

enum { WE_REQUEST = 1, WE_OPEN, WE_CONNECTED, WE_READY, WE_DATA, WE_PING, WE_PONG, WE_DISC, WE_ERROR };

typedef struct {
	int type;
	rw_connid id;
	int code;          /* DataIn format, Disconnected status, Error code */
	bool eom, eol;
	uint8_t *data;     /* DataIn / Ping payload copy */
	size_t len;
	char text[256];    /* Disconnected / Error description; open: request_uri */
} wst_event;

typedef struct wst_rec {
	wst_event ev[WST_MAX_EV];
	int n;
	int requests, opens, connected, ready, data, pings, pongs, disc, errors;
	rw_connid last_id;
	bool echo;          /* echo each DataIn back (same format), WOULDBLOCK handled */
	struct wst_pending *pending[WST_MAX_PENDING];
	int echo_wouldblock;
	/* WebSocketOpenRequest decisions */
	int open_status;    /* 0 = leave 101 */
	const char *open_headers;
	const char *open_pick;  /* subprotocol to select */
	bool refuse_tcp;    /* ConnectionRequest accept = false */
	char open_origin[128], open_host[128], open_headers_seen[1024], open_protocols[128], open_extensions[256];
	void (*on_data)(struct wst_rec *r, rw_wsserver *s, const rw_wsserver_data_in *e);
	void (*on_ready)(struct wst_rec *r, rw_wsserver *s, rw_connid id);
	void *ctx;
} wst_rec;

/* A started server (127.0.0.1, ephemeral port, DoEventsTimeout=20); the
 * configs (NULL-terminated, may be NULL) are applied before listening. */
rw_wsserver *wst_server(wst_rec *r, const char *const *configs, int *port);
/* The same with UseSSL and the PEM file (certificate + key) when pem is set. */
rw_wsserver *wst_server_ex(wst_rec *r, const char *const *configs, const char *pem, int *port);
void wst_end(rw_wsserver *s, wst_rec *r);
void wst_cfg(rw_wsserver *s, const char *setting);

bool wst_pump_until(rw_wsserver *s, rwt_pred pred, void *ctx, int ms);
void wst_pump_for(rw_wsserver *s, int ms);
#define wst_wait(s, cond, ms)                                                         \
	do {                                                                             \
		double t0__ = rwt_now_ms();                                               \
		while (!(cond) && rwt_now_ms() - t0__ < (ms))                             \
			rw_wsserver_do_events(s);                                         \
		cr_assert((cond), "timed out after %d ms waiting for %s", (int)(ms), #cond); \
	} while (0)

int wst_count(const wst_rec *r, rw_connid id, int type);
const wst_event *wst_nth(const wst_rec *r, rw_connid id, int type, int n);

/* ---- raw client ---------------------------------------------------------- */

/* Connect, send an upgrade request for `path` with extra header lines (CRLF
 * terminated, may be NULL), read the response head into resp (NUL-terminated).
 * Returns the fd (the response status is in resp) or -errno when the
 * connection could not be made. */
int wst_raw_open(rw_wsserver *s, int port, const char *path, const char *extra, char *resp, size_t cap);
/* Connect and complete a handshake that must give 101; the new id in *id. */
int wst_raw(rw_wsserver *s, wst_rec *r, int port, const char *extra, rw_connid *id);
/* A masked client frame; b0 = FIN/RSV/opcode byte. */
void wst_frame(int fd, uint8_t b0, const void *payload, size_t len);
/* Read one server frame (pumping): returns the b0 byte, or -1 on EOF/timeout;
 * *mask set when the server masked it (it must not). Payload in a malloc'd
 * *out (len in *n). */
int wst_read_frame(rw_wsserver *s, int fd, uint8_t **out, size_t *n, bool *mask, int timeout_ms);
/* Read frames until a Close: returns its code (1005 for none, -1 on EOF
 * without Close); reason copied. Other frames are skipped. */
int wst_read_close(rw_wsserver *s, int fd, char *reason, size_t cap, int timeout_ms);
/* Whether the server closed the TCP connection (EOF or reset) within ms. */
bool wst_tcp_closed(rw_wsserver *s, int fd, int timeout_ms);

/* ---- external clients ------------------------------------------------------ */

/* Run a command to the end while turning the server; asserts exit code 0
 * unless want_fail; returns the output (static until the next call). */
const char *wst_run(rw_wsserver *s, char *const argv[], int timeout_ms, int want_code);
/* /usr/bin/python3 -c script port [arg] */
const char *wst_python(rw_wsserver *s, const char *script, int port, const char *arg, int timeout_ms);
bool wst_have_python_websockets(void);

#endif
