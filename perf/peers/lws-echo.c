/* perf/peers/lws-echo.c: a libwebsockets (Debian libwebsockets-dev) WebSocket
 * echo server, the C peer of ringworks-echo --ws/--wss in perf/bench.sh.
 *
 *   lws-echo [--port PORT] [--cert CRT --key KEY] [--deflate]
 *
 * Every message goes back whole with its type (text or binary), at any path,
 * on one thread with lws's default event loop. --cert/--key serve wss (lws's
 * OpenSSL backend); --deflate offers permessage-deflate (lws's built-in
 * extension). Prints "listening ws PORT" (or "wss") once it listens; exits 0
 * on SIGINT or SIGTERM.
 *
 * Echo with flow control: a received message is appended to the connection's
 * queue and sent from the WRITEABLE callback; while more than QUEUE_PAUSE
 * bytes wait, reception is paused (lws_rx_flow_control), so a client that
 * does not read cannot grow the queue without bound.
 */
#include <libwebsockets.h>

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_PAUSE (1u << 20)
#define RX_BUFFER   65536

struct msg {
	struct msg *next;
	size_t len;
	bool text;
	unsigned char data[]; /* LWS_PRE bytes of headroom, then the payload */
};

struct sess {
	struct msg *head, *tail;
	size_t queued;
	bool paused;
	unsigned char *cur; /* the message being received (LWS_PRE headroom) */
	size_t cur_len, cur_cap;
	bool cur_text;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void sess_free(struct sess *s)
{
	while (s->head) {
		struct msg *m = s->head;
		s->head = m->next;
		free(m);
	}
	s->tail = NULL;
	free(s->cur);
	s->cur = NULL;
}

/* Append a fragment of the current message; on its last fragment, queue it. */
static int sess_rx(struct lws *wsi, struct sess *s, const void *in, size_t len)
{
	if (lws_is_first_fragment(wsi)) {
		s->cur_len = 0;
		s->cur_text = !lws_frame_is_binary(wsi);
	}
	if (LWS_PRE + s->cur_len + len > s->cur_cap) {
		size_t cap = s->cur_cap ? s->cur_cap : 256;
		while (cap < LWS_PRE + s->cur_len + len)
			cap *= 2;
		unsigned char *p = realloc(s->cur, cap);
		if (!p)
			return -1;
		s->cur = p;
		s->cur_cap = cap;
	}
	memcpy(s->cur + LWS_PRE + s->cur_len, in, len);
	s->cur_len += len;
	if (!lws_is_final_fragment(wsi))
		return 0;
	struct msg *m = malloc(sizeof *m + LWS_PRE + s->cur_len);
	if (!m)
		return -1;
	m->next = NULL;
	m->len = s->cur_len;
	m->text = s->cur_text;
	memcpy(m->data + LWS_PRE, s->cur + LWS_PRE, s->cur_len);
	if (s->tail)
		s->tail->next = m;
	else
		s->head = m;
	s->tail = m;
	s->queued += m->len;
	if (s->queued > QUEUE_PAUSE && !s->paused) {
		s->paused = true;
		lws_rx_flow_control(wsi, 0);
	}
	lws_callback_on_writable(wsi);
	return 0;
}

/* Send the oldest queued message (lws allows one write per WRITEABLE). */
static int sess_tx(struct lws *wsi, struct sess *s)
{
	struct msg *m = s->head;
	if (!m)
		return 0;
	int n = lws_write(wsi, m->data + LWS_PRE, m->len, m->text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY);
	if (n < (int)m->len)
		return -1;
	s->head = m->next;
	if (!s->head)
		s->tail = NULL;
	s->queued -= m->len;
	free(m);
	if (s->paused && s->queued <= QUEUE_PAUSE / 2) {
		s->paused = false;
		lws_rx_flow_control(wsi, 1);
	}
	if (s->head)
		lws_callback_on_writable(wsi);
	return 0;
}

static int echo_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct sess *s = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(s, 0, sizeof *s);
		break;
	case LWS_CALLBACK_RECEIVE:
		return sess_rx(wsi, s, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return sess_tx(wsi, s);
	case LWS_CALLBACK_CLOSED:
		sess_free(s);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	/* the first protocol is the default: every path, any subprotocol */
	{"echo", echo_cb, sizeof(struct sess), RX_BUFFER, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static const struct lws_extension exts[] = {
	{"permessage-deflate", lws_extension_callback_pm_deflate, "permessage-deflate; client_no_context_takeover"},
	{NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: lws-echo [--port PORT] [--cert CRT --key KEY] [--deflate]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", 1, 0, 'p'}, {"cert", 1, 0, 'c'}, {"key", 1, 0, 'k'}, {"deflate", 0, 0, 'd'},
		{"help", 0, 0, 'h'}, {0, 0, 0, 0},
	};
	int port = 0, ch;
	const char *cert = NULL, *key = NULL;
	bool deflate = false;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'd': deflate = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || port < 0 || port > 65535 || (!cert != !key)) {
		usage(stderr);
		return 2;
	}
	lws_set_log_level(LLL_ERR, NULL);

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.fd_limit_per_thread = 0; /* lws sizes its tables from RLIMIT_NOFILE */
	if (deflate)
		info.extensions = exts;
	if (cert) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = cert;
		info.ssl_private_key_filepath = key;
	}
	struct lws_context *ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "lws-echo: lws_create_context failed\n");
		return 1;
	}
	struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
	int bound = vh ? lws_get_vhost_listen_port(vh) : port;
	printf("listening %s %d\n", cert ? "wss" : "ws", bound);
	fflush(stdout);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!g_stop)
		if (lws_service(ctx, 0) < 0)
			break;
	lws_context_destroy(ctx);
	return 0;
}
