/* tools/ringworks-echo.c: the ringworks demo server; echoes every byte back.
 *
 *   ringworks-echo [--tcp PORT] [--tls PORT] [--dtls PORT] [--cert FILE] [--host ADDR]
 *                  [--max-connections N] [--backlog N] [--workers N] [--config NAME=VALUE]...
 *
 * Uses only the public API. Each listener prints "listening KIND PORT" (the
 * bound port) on stdout once it listens. Echo with flow control: when a send
 * returns -RW_EWOULDBLOCK, the bytes not taken are kept with the connection
 * (UserData) and its reception is paused; ReadyToSend resends them and resumes
 * reception once all is taken. SIGINT/SIGTERM shut down gracefully: stop
 * listening, close every connection (TCP/TLS: rw_tcpserver_drain, so queued
 * echo bytes go out first), wait (at most SHUTDOWN_WAIT_MS) for them to
 * close, free, exit 0.
 *
 * Listeners come from a table of kinds ("tcp", "tls"); --ws, --wss and --dtls
 * become rows of listener_kinds[] when those components exist. All listeners
 * share one rw_loop, so one thread and one ring serve them all; with
 * --workers N > 1 each TCP/TLS/WS/WSS listener is a server object with Config
 * Workers=N instead (N threads, one ring each, on the same port), whose events
 * run on its worker threads: the TCP echo keeps its state per connection, the
 * WS echo's list of pending sends is locked.
 */
#include <ringworks/ringworks.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "selfsigned.h"

#define MAX_LISTENERS    8
#define SHUTDOWN_WAIT_MS 5000
#define DEFAULT_BACKLOG  1024

static volatile sig_atomic_t g_stop; /* set by SIGINT/SIGTERM */
static rw_loop *g_loop;              /* shared by every listener */
static int g_workers = 1;            /* --workers: Config Workers for TCP/TLS/WS/WSS */
static const char *g_cert;           /* --cert: PEM or PFX file with certificate and key */
static const char *g_cert_password;  /* --cert-password: for a PFX file */
static const char *g_client_ca;      /* --client-ca: ask clients for certificates */
static char g_selfsigned[600];       /* the generated certificate when no --cert */

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

/* ---- echo over TCPServer ------------------------------------------------ */

/* Bytes a send did not take, kept until ReadyToSend. */
struct pending {
	size_t len, off;
	uint8_t bytes[];
};

/* Keep data[0..len) after whatever is already pending. */
static int keep(rw_tcpserver *s, rw_connid id, const uint8_t *data, size_t len)
{
	struct pending *old = rw_tcpserver_get_user_data(s, id);
	size_t have = old ? old->len - old->off : 0;
	struct pending *p = malloc(sizeof *p + have + len);

	if (!p)
		return -1;
	if (old)
		memcpy(p->bytes, old->bytes + old->off, have);
	memcpy(p->bytes + have, data, len);
	p->len = have + len;
	p->off = 0;
	free(old);
	rw_tcpserver_set_user_data(s, id, p);
	return 0;
}

static void drop_pending(rw_tcpserver *s, rw_connid id)
{
	free(rw_tcpserver_get_user_data(s, id));
	rw_tcpserver_set_user_data(s, id, NULL);
}

static void echo_data_in(rw_tcpserver *s, const rw_tcpserver_data_in *e, void *user)
{
	rw_connid id = e->connection_id;
	int rc;

	(void)user;
	if (rw_tcpserver_get_user_data(s, id)) {
		/* Already backed up (PauseData makes this rare): queue behind. */
		if (keep(s, id, e->text, e->text_len))
			rw_tcpserver_disconnect(s, id);
		return;
	}
	rc = rw_tcpserver_send(s, id, e->text, e->text_len);
	if (rc != -RW_EWOULDBLOCK)
		return; /* 0: all taken; anything else: the connection is closing */
	int64_t taken = rw_tcpserver_get_bytes_sent(s, id);
	if (taken < 0 || (size_t)taken > e->text_len)
		taken = 0;
	if (keep(s, id, e->text + taken, e->text_len - (size_t)taken)) {
		rw_tcpserver_disconnect(s, id);
		return;
	}
	rw_tcpserver_pause_data(s, id);
}

static void echo_ready_to_send(rw_tcpserver *s, const rw_tcpserver_ready_to_send *e, void *user)
{
	struct pending *p = rw_tcpserver_get_user_data(s, e->connection_id);
	int rc;

	(void)user;
	if (!p)
		return;
	rc = rw_tcpserver_send(s, e->connection_id, p->bytes + p->off, p->len - p->off);
	if (rc == -RW_EWOULDBLOCK) {
		int64_t taken = rw_tcpserver_get_bytes_sent(s, e->connection_id);
		if (taken > 0 && (size_t)taken <= p->len - p->off)
			p->off += (size_t)taken;
		return; /* still paused; the next ReadyToSend continues */
	}
	drop_pending(s, e->connection_id);
	if (rc == 0)
		rw_tcpserver_process_data(s, e->connection_id);
}

static void echo_disconnected(rw_tcpserver *s, const rw_tcpserver_disconnected *e, void *user)
{
	(void)user;
	drop_pending(s, e->connection_id);
}

static void echo_error(rw_tcpserver *s, const rw_tcpserver_error *e, void *user)
{
	(void)s;
	(void)user;
	if (e->connection_id == 0) /* server-wide (e.g. accept); per-connection ones end in Disconnected */
		fprintf(stderr, "ringworks-echo: error %d: %s\n", e->error_code, e->description);
}

static void echo_log(rw_tcpserver *s, int level, const char *message, void *user)
{
	static const char *names[] = {"?", "error", "warning", "info", "debug"};

	(void)s;
	(void)user;
	fprintf(stderr, "ringworks-echo: %s: %s\n", names[level >= 1 && level <= 4 ? level : 0], message);
}

/* ---- listener kinds ------------------------------------------------------ */

/* One row per protocol the program can listen on. */
struct listener_kind {
	const char *name; /* the flag (--NAME PORT) and the word in "listening NAME PORT" */
	void *(*create)(void);
	int (*config)(void *srv, const char *setting);
	int (*start)(void *srv, const char *host, int port, int backlog); /* bound port or < 0 */
	int (*shutdown)(void *srv);
	int (*count)(void *srv);
	void (*destroy)(void *srv);
};

static void *tcp_create(void)
{
	static const rw_tcpserver_events ev = {
		.data_in = echo_data_in,
		.ready_to_send = echo_ready_to_send,
		.disconnected = echo_disconnected,
		.error = echo_error,
		.log = echo_log,
	};
	rw_tcpserver *s = g_workers > 1 ? rw_tcpserver_new() : rw_tcpserver_new_on_loop(g_loop);
	char workers[32];

	snprintf(workers, sizeof workers, "Workers=%d", g_workers);
	if (s && g_workers > 1 && rw_tcpserver_config(s, workers, NULL, 0) < 0) {
		rw_tcpserver_free(s);
		return NULL;
	}
	if (s)
		rw_tcpserver_set_events(s, &ev, NULL);
	return s;
}

/* The certificate flags on a TCPServer (tls, and wss underneath): the store
 * type is Auto, so --cert may be PEM or PFX; --client-ca asks every client
 * for a certificate verified against that PEM file. */
static int tcp_tls_setup(rw_tcpserver *t)
{
	char ca[600];
	if (rw_tcpserver_set_ssl_cert_store_type(t, RW_CERT_AUTO) < 0 ||
	    rw_tcpserver_set_ssl_cert_store(t, g_cert, strlen(g_cert)) < 0 ||
	    rw_tcpserver_set_ssl_cert_store_password(t, g_cert_password) < 0 ||
	    rw_tcpserver_set_ssl_cert_subject(t, "*") < 0)
		return -1;
	if (!g_client_ca)
		return 0;
	snprintf(ca, sizeof ca, "OpenSSLCAFile=%s", g_client_ca);
	return rw_tcpserver_set_ssl_authenticate_clients(t, true) < 0 || rw_tcpserver_config(t, ca, NULL, 0) < 0 ? -1 : 0;
}

/* TLS: the same echo server with SSLStartMode Implicit. */
static void *tls_create(void)
{
	rw_tcpserver *s = tcp_create();

	if (s && (rw_tcpserver_set_ssl_start_mode(s, RW_SSL_START_IMPLICIT) < 0 || tcp_tls_setup(s) < 0)) {
		rw_tcpserver_free(s);
		return NULL;
	}
	return s;
}

static int tcp_config(void *srv, const char *setting)
{
	return rw_tcpserver_config(srv, setting, NULL, 0);
}

static int tcp_start(void *srv, const char *host, int port, int backlog)
{
	int rc = rw_tcpserver_set_local_host(srv, host);

	if (!rc)
		rc = rw_tcpserver_set_local_port(srv, port);
	if (!rc)
		rc = rw_tcpserver_set_connection_backlog(srv, backlog);
	if (!rc)
		rc = rw_tcpserver_start_listening(srv);
	return rc < 0 ? rc : rw_tcpserver_get_local_port(srv);
}

/* SIGTERM drains: queued echo bytes go out (for up to 1 s less than the
 * shutdown wait), then each connection closes; count is the open sockets. */
static int tcp_shutdown(void *srv) { return rw_tcpserver_drain(srv, SHUTDOWN_WAIT_MS - 1000); }
static int tcp_count(void *srv) { return rw_tcpserver_drain(srv, -1); }

/* free fires no Disconnected: release what connections still hold first. */
static void tcp_destroy(void *srv)
{
	int n = rw_tcpserver_get_connection_count(srv);
	rw_connid *ids = n > 0 ? calloc((size_t)n, sizeof *ids) : NULL;

	if (ids) {
		int live = rw_tcpserver_get_connection_ids(srv, ids, (size_t)n);
		for (int i = 0; i < live && i < n; i++)
			drop_pending(srv, ids[i]);
		free(ids);
	}
	rw_tcpserver_free(srv);
}

/* ---- echo over WSServer -------------------------------------------------- */

/* Each message comes back whole with its type (BufferMessage=True), at any
 * path, with the first offered subprotocol selected. A send that does not fit
 * is kept until ReadyToSend, with reception paused meanwhile. */
struct ws_pending {
	rw_connid id;
	int format;
	size_t len, off;
	uint8_t *bytes;
	struct ws_pending *next;
};
static struct ws_pending *g_ws_pending; /* few at a time: a list is enough */
/* With --workers the handlers run on several threads: each touches the list
 * (ws_find, ws_drop and the insert) only while holding this lock. */
static pthread_mutex_t g_ws_mu = PTHREAD_MUTEX_INITIALIZER;

static struct ws_pending **ws_find(rw_connid id)
{
	struct ws_pending **p = &g_ws_pending;
	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

static void ws_drop(rw_connid id)
{
	pthread_mutex_lock(&g_ws_mu);
	struct ws_pending **p = ws_find(id), *q = *p;
	if (q)
		*p = q->next;
	pthread_mutex_unlock(&g_ws_mu);
	if (q) {
		free(q->bytes);
		free(q);
	}
}

static int ws_send_fmt(rw_wsserver *s, rw_connid id, int format, const uint8_t *d, size_t n)
{
	return format == RW_WS_FORMAT_TEXT ? rw_wsserver_send_text_n(s, id, (const char *)d, n)
	                                   : rw_wsserver_send_bytes(s, id, d, n);
}

static void ws_echo_open(rw_wsserver *s, rw_wsserver_websocket_open_request *e, void *user)
{
	static __thread char pick[128]; /* read by the library after the handler */
	const char *p = e->subprotocols;
	size_t n = strcspn(p, ", ");
	(void)s;
	(void)user;
	if (n && n < sizeof pick) {
		memcpy(pick, p, n);
		pick[n] = '\0';
		e->subprotocols = pick;
	}
}

static void ws_echo_data(rw_wsserver *s, const rw_wsserver_data_in *e, void *user)
{
	(void)user;
	int rc = ws_send_fmt(s, e->connection_id, e->data_format, e->text, e->text_len);
	if (rc != -RW_EWOULDBLOCK)
		return;
	/* The message stays open on the server side: the rest must follow. */
	size_t took = (size_t)rw_wsserver_get_bytes_sent(s, e->connection_id);
	struct ws_pending *q = calloc(1, sizeof *q);
	if (q && (q->bytes = malloc(e->text_len - took + 1))) {
		q->id = e->connection_id;
		q->format = e->data_format;
		q->len = e->text_len - took;
		memcpy(q->bytes, e->text + took, q->len);
		pthread_mutex_lock(&g_ws_mu);
		q->next = g_ws_pending;
		g_ws_pending = q;
		pthread_mutex_unlock(&g_ws_mu);
		rw_wsserver_set_accept_data(s, e->connection_id, false);
	} else {
		free(q);
		rw_wsserver_disconnect(s, e->connection_id);
	}
}

static void ws_echo_ready(rw_wsserver *s, const rw_wsserver_ready_to_send *e, void *user)
{
	pthread_mutex_lock(&g_ws_mu);
	struct ws_pending *q = *ws_find(e->connection_id);
	pthread_mutex_unlock(&g_ws_mu);
	(void)user;
	if (!q)
		return; /* only this connection's own events (one thread) touch q */
	int rc = ws_send_fmt(s, q->id, q->format, q->bytes + q->off, q->len - q->off);
	if (rc == -RW_EWOULDBLOCK) {
		q->off += (size_t)rw_wsserver_get_bytes_sent(s, q->id);
		return;
	}
	ws_drop(e->connection_id);
	rw_wsserver_set_accept_data(s, e->connection_id, true);
}

static void ws_echo_disconnected(rw_wsserver *s, const rw_wsserver_disconnected *e, void *user)
{
	(void)s;
	(void)user;
	ws_drop(e->connection_id);
}

static void *ws_create(void)
{
	static const rw_wsserver_events ev = {
		.websocket_open_request = ws_echo_open,
		.data_in = ws_echo_data,
		.ready_to_send = ws_echo_ready,
		.disconnected = ws_echo_disconnected,
	};
	rw_wsserver *s = g_workers > 1 ? rw_wsserver_new() : rw_wsserver_new_on_loop(g_loop);
	char workers[32];
	snprintf(workers, sizeof workers, "Workers=%d", g_workers);
	if (s && g_workers > 1 && rw_wsserver_config(s, workers, NULL, 0) < 0) {
		rw_wsserver_free(s);
		return NULL;
	}
	if (s) {
		rw_wsserver_set_events(s, &ev, NULL);
		rw_wsserver_config(s, "BufferMessage=True", NULL, 0);
	}
	return s;
}

static void *wss_create(void)
{
	rw_wsserver *s = ws_create();
	rw_tcpserver *t = s ? rw_wsserver_get_tcpserver(s) : NULL;
	if (s && (rw_wsserver_set_use_ssl(s, true) < 0 || tcp_tls_setup(t) < 0)) {
		rw_wsserver_free(s);
		return NULL;
	}
	return s;
}

static int ws_config(void *srv, const char *setting) { return rw_wsserver_config(srv, setting, NULL, 0); }

static int ws_start(void *srv, const char *host, int port, int backlog)
{
	int rc = rw_wsserver_set_local_host(srv, host);
	if (!rc)
		rc = rw_wsserver_set_local_port(srv, port);
	if (!rc)
		rc = rw_wsserver_set_connection_backlog(srv, backlog);
	if (!rc)
		rc = rw_wsserver_start_listening(srv);
	return rc < 0 ? rc : rw_wsserver_get_local_port(srv);
}

static int ws_shutdown(void *srv) { return rw_wsserver_shutdown(srv); }
static int ws_count(void *srv) { return rw_wsserver_get_connection_count(srv); }

/* free fires no event and, with --workers, joins the worker threads: what
 * is still pending is released after it. */
static void ws_destroy(void *srv)
{
	rw_wsserver_free(srv);
	while (g_ws_pending)
		ws_drop(g_ws_pending->id);
}

/* DTLS: each datagram back as one datagram (a record in, a record out). */
static void dtls_echo(rw_dtlsserver *s, const rw_dtlsserver_data_in *e, void *user)
{
	(void)user;
	int rc = rw_dtlsserver_send(s, e->connection_id, e->datagram, e->datagram_len);
	if (rc < 0) /* datagrams are unreliable: a full send queue drops this one */
		fprintf(stderr, "ringworks-echo: dtls %lld: %s\n", (long long)e->connection_id, rw_strerror(rc));
}

static void *dtls_create(void)
{
	static const rw_dtlsserver_events ev = {.data_in = dtls_echo};
	rw_dtlsserver *s = rw_dtlsserver_new_on_loop(g_loop);

	if (s) {
		rw_dtlsserver_set_events(s, &ev, NULL);
		if (rw_dtlsserver_set_ssl_cert_store_type(s, RW_CERT_AUTO) < 0 ||
		    rw_dtlsserver_set_ssl_cert_store(s, g_cert, strlen(g_cert)) < 0 ||
		    rw_dtlsserver_set_ssl_cert_store_password(s, g_cert_password) < 0 ||
		    rw_dtlsserver_set_ssl_cert_subject(s, "*") < 0 ||
		    (g_client_ca && rw_dtlsserver_set_ssl_authenticate_clients(s, true) < 0)) {
			rw_dtlsserver_free(s);
			return NULL;
		}
	}
	return s;
}

static int dtls_config(void *srv, const char *setting) { return rw_dtlsserver_config(srv, setting, NULL, 0); }

static int dtls_start(void *srv, const char *host, int port, int backlog)
{
	(void)backlog; /* UDP has no listen queue */
	int rc = rw_dtlsserver_set_local_host(srv, host);

	if (!rc)
		rc = rw_dtlsserver_set_local_port(srv, port);
	if (!rc)
		rc = rw_dtlsserver_start_listening(srv);
	return rc < 0 ? rc : rw_dtlsserver_get_local_port(srv);
}

static int dtls_shutdown(void *srv) { return rw_dtlsserver_shutdown(srv); }
static int dtls_count(void *srv) { return rw_dtlsserver_get_connection_count(srv); }
static void dtls_destroy(void *srv) { rw_dtlsserver_free(srv); }

static const struct listener_kind listener_kinds[] = {
	{"tcp", tcp_create, tcp_config, tcp_start, tcp_shutdown, tcp_count, tcp_destroy},
	{"tls", tls_create, tcp_config, tcp_start, tcp_shutdown, tcp_count, tcp_destroy},
	{"ws", ws_create, ws_config, ws_start, ws_shutdown, ws_count, ws_destroy},
	{"wss", wss_create, ws_config, ws_start, ws_shutdown, ws_count, ws_destroy},
	{"dtls", dtls_create, dtls_config, dtls_start, dtls_shutdown, dtls_count, dtls_destroy},
};

/* ---- program ------------------------------------------------------------- */

struct listener {
	const struct listener_kind *kind;
	int port;
	void *srv;
};

struct app {
	struct listener ls[MAX_LISTENERS];
	int nls;
	const char *host;
	const char **configs;
	int nconfigs;
	long max_conns; /* 0 = the component default */
	int backlog;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringworks-echo [--tcp PORT] [--tls PORT --cert FILE] [options]\n"
		"  --tcp PORT             echo over TCP on PORT (0 = ephemeral); prints\n"
		"                         \"listening tcp PORT\" with the bound port\n"
		"  --tls PORT             echo over TLS 1.2/1.3 on PORT (\"listening tls PORT\")\n"
		"  --ws PORT              WebSocket echo (each message back with its type, any path,\n"
		"                         the first offered subprotocol selected): \"listening ws PORT\"\n"
		"  --wss PORT             the same over TLS (certificate as for --tls)\n"
		"  --dtls PORT            DTLS 1.2 over UDP, each datagram echoed (certificate as --tls)\n"
		"  --cert FILE            PEM or PFX file with the server certificate and its key\n"
		"                         (none: a self-signed one, made on first use and kept in\n"
		"                         ~/.cache/ringworks/echo-selfsigned.pem)\n"
		"  --cert-password PW     password of a PFX --cert\n"
		"  --client-ca FILE       ask TLS clients for a certificate, verified against the\n"
		"                         CA certificates in this PEM file\n"
		"  --host ADDR            address to bind, default 127.0.0.1\n"
		"  --max-connections N    Config MaxConnections (default 1000)\n"
		"  --backlog N            listen() backlog, default %d\n"
		"  --workers N            TCP/TLS/WS/WSS: Config Workers=N, N threads with a ring\n"
		"                         each on the same port (SO_REUSEPORT); default 1\n"
		"  --config NAME=VALUE    any Config setting (repeatable), e.g. DoEventsTimeout=200\n"
		"  --help                 this text\n"
		"SIGINT/SIGTERM: stop listening, close every connection, exit 0.\n"
		"%s\n", DEFAULT_BACKLOG, rw_version());
}

static long int_arg(const char *flag, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = s ? strtol(s, &end, 10) : 0;
	if (!s || errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "ringworks-echo: %s needs a number in %ld..%ld\n", flag, lo, hi);
		exit(2);
	}
	return v;
}

static const struct listener_kind *kind_of(const char *flag)
{
	for (size_t i = 0; i < sizeof listener_kinds / sizeof listener_kinds[0]; i++)
		if (flag[0] == '-' && flag[1] == '-' && !strcmp(flag + 2, listener_kinds[i].name))
			return &listener_kinds[i];
	return NULL;
}

static void parse_args(struct app *a, int argc, char **argv)
{
	a->host = "127.0.0.1";
	a->backlog = DEFAULT_BACKLOG;
	a->configs = calloc((size_t)argc, sizeof *a->configs);
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const struct listener_kind *k = kind_of(f);
		if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
			usage(stdout);
			exit(0);
		} else if (k && a->nls < MAX_LISTENERS) {
			a->ls[a->nls++] = (struct listener){k, (int)int_arg(f, v, 0, 65535), NULL};
		} else if (!strcmp(f, "--cert") && v) {
			g_cert = v;
		} else if (!strcmp(f, "--cert-password") && v) {
			g_cert_password = v;
		} else if (!strcmp(f, "--client-ca") && v) {
			g_client_ca = v;
		} else if (!strcmp(f, "--host") && v) {
			a->host = v;
		} else if (!strcmp(f, "--max-connections")) {
			a->max_conns = int_arg(f, v, 1, 1000000);
		} else if (!strcmp(f, "--workers")) {
			g_workers = (int)int_arg(f, v, 1, 64);
		} else if (!strcmp(f, "--backlog")) {
			a->backlog = (int)int_arg(f, v, 1, 1 << 20);
		} else if (!strcmp(f, "--config") && v && a->configs) {
			a->configs[a->nconfigs++] = v;
		} else {
			fprintf(stderr, "ringworks-echo: unknown or incomplete option '%s'\n", f);
			usage(stderr);
			exit(2);
		}
		i++; /* every option but --help takes a value */
	}
	if (!a->nls) {
		fprintf(stderr, "ringworks-echo: nothing to listen on (use --tcp PORT or --tls PORT)\n");
		exit(2);
	}
	for (int i = 0; i < a->nls; i++) {
		if ((!strcmp(a->ls[i].kind->name, "tls") || !strcmp(a->ls[i].kind->name, "wss") ||
		     !strcmp(a->ls[i].kind->name, "dtls")) && !g_cert) {
			if (selfsigned_pem(g_selfsigned, sizeof g_selfsigned) < 0) {
				fprintf(stderr, "ringworks-echo: no --cert, and %s\n", g_selfsigned);
				exit(1);
			}
			fprintf(stderr, "ringworks-echo: no --cert: using the self-signed %s\n", g_selfsigned);
			g_cert = g_selfsigned;
		}
	}
}

/* Apply the program's defaults, then the user's settings, to one listener. */
static void configure(const struct app *a, const struct listener *l)
{
	char buf[64];
	int rc = l->kind->config(l->srv, "DoEventsTimeout=200"); /* wake for signals */

	if (!rc && a->max_conns) {
		snprintf(buf, sizeof buf, "MaxConnections=%ld", a->max_conns);
		rc = l->kind->config(l->srv, buf);
		if (rc)
			fprintf(stderr, "ringworks-echo: --max-connections: %s\n", rw_strerror(rc));
	}
	for (int i = 0; !rc && i < a->nconfigs; i++) {
		rc = l->kind->config(l->srv, a->configs[i]);
		if (rc < 0)
			fprintf(stderr, "ringworks-echo: --config %s: %s\n", a->configs[i], rw_strerror(rc));
	}
	if (rc < 0)
		exit(2);
}

static void start_all(struct app *a)
{
	for (int i = 0; i < a->nls; i++) {
		struct listener *l = &a->ls[i];
		l->srv = l->kind->create();
		if (!l->srv) {
			fprintf(stderr, "ringworks-echo: cannot create the %s listener\n", l->kind->name);
			exit(1);
		}
		configure(a, l);
		int port = l->kind->start(l->srv, a->host, l->port, a->backlog);
		if (port < 0) {
			fprintf(stderr, "ringworks-echo: listen: %s\n", rw_strerror(port));
			exit(1);
		}
		printf("listening %s %d\n", l->kind->name, port);
		fflush(stdout);
	}
}

static long long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000LL + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int live_connections(const struct app *a)
{
	int n = 0;
	for (int i = 0; i < a->nls; i++)
		n += a->ls[i].kind->count(a->ls[i].srv);
	return n;
}

/* One turn of the shared loop serves every listener; it wakes at least every
 * 200 ms so that a signal is noticed. */
static int turn(struct app *a)
{
	(void)a;
	int rc = rw_loop_do_events(g_loop, 200);
	if (rc < 0 && rc != -RW_EINTERRUPTED) {
		fprintf(stderr, "ringworks-echo: do_events: %s\n", rw_strerror(rc));
		return rc;
	}
	return 0;
}

static int serve(struct app *a)
{
	struct timespec t0;

	while (!g_stop)
		if (turn(a))
			return 1;
	for (int i = 0; i < a->nls; i++)
		a->ls[i].kind->shutdown(a->ls[i].srv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (live_connections(a) > 0 && elapsed_ms(&t0) < SHUTDOWN_WAIT_MS)
		if (turn(a))
			return 1;
	if (live_connections(a) > 0)
		fprintf(stderr, "ringworks-echo: %d connections still open after %d ms; closing them\n",
			live_connections(a), SHUTDOWN_WAIT_MS);
	return 0;
}

int main(int argc, char **argv)
{
	struct app a = {0};
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */
	int rc;

	parse_args(&a, argc, argv);
	/* The shared loop's fixed-file table must hold every listener's
	 * connections: size it from --max-connections (or the default 1000). */
	rw_loop_options lo = {.max_fixed_files = (unsigned)(a.max_conns ? a.max_conns : 1000) * (unsigned)a.nls + 64};
	if (g_workers > 1) /* TCP/TLS listeners have their own rings */
		lo.max_fixed_files = 64;
	rc = rw_loop_new(&g_loop, &lo);
	if (rc < 0) {
		fprintf(stderr, "ringworks-echo: %s\n", rw_strerror(rc));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	start_all(&a);
	rc = serve(&a);
	for (int i = 0; i < a.nls; i++)
		a.ls[i].kind->destroy(a.ls[i].srv);
	rw_loop_free(g_loop);
	free(a.configs);
	return rc;
}
