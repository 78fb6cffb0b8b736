/* perf/peers/uv-echo.c: the libuv echo server, written the way libuv's own
 * examples do it, for side-by-side benchmarks.
 *
 * One loop, one uv_tcp_t per connection, reads into a shared 64 KiB buffer
 * (the read callback consumes it at once), uv_try_write first and a copied
 * uv_write for the remainder, reading paused until that write completes.
 *
 *   uv-echo [--host ADDR] [--port PORT] [--backlog N]   (PORT 0 = ephemeral)
 *
 * Prints "listening tcp PORT" once listening; exits 0 on SIGINT or SIGTERM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define READ_BUF 65536

static char g_buf[READ_BUF];
static int g_busy; /* g_buf handed out and not yet consumed */

struct wreq {
	uv_write_t req;
	uv_buf_t buf;
};

static void on_close(uv_handle_t *h)
{
	free(h);
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
	(void)h;
	(void)want;
	if (g_busy) { /* cannot happen on one loop; be safe anyway */
		buf->base = malloc(READ_BUF);
		buf->len = buf->base ? READ_BUF : 0;
		return;
	}
	g_busy = 1;
	*buf = uv_buf_init(g_buf, READ_BUF);
}

static void release(const uv_buf_t *buf)
{
	if (buf->base == g_buf)
		g_busy = 0;
	else
		free(buf->base);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	uv_stream_t *s = req->handle;

	free(w->buf.base);
	free(w);
	if (status < 0) {
		if (!uv_is_closing((uv_handle_t *)s))
			uv_close((uv_handle_t *)s, on_close);
		return;
	}
	uv_read_start(s, on_alloc, on_read); /* resume reading */
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	if (n < 0) {
		release(buf);
		if (!uv_is_closing((uv_handle_t *)s))
			uv_close((uv_handle_t *)s, on_close);
		return;
	}
	if (n == 0) {
		release(buf);
		return;
	}
	uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
	int done = uv_try_write(s, &b, 1);
	if (done == UV_EAGAIN || done == UV_ENOSYS)
		done = 0;
	if (done < 0) {
		release(buf);
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	if (done < n) {
		struct wreq *w = malloc(sizeof *w);
		char *copy = malloc((size_t)n - (size_t)done);
		if (!w || !copy) {
			free(w);
			free(copy);
			release(buf);
			uv_close((uv_handle_t *)s, on_close);
			return;
		}
		memcpy(copy, buf->base + done, (size_t)n - (size_t)done);
		w->buf = uv_buf_init(copy, (unsigned)(n - done));
		uv_read_stop(s);
		if (uv_write(&w->req, s, &w->buf, 1, on_write)) {
			free(copy);
			free(w);
			uv_close((uv_handle_t *)s, on_close);
		}
	}
	release(buf);
}

static void on_connection(uv_stream_t *server, int status)
{
	if (status < 0)
		return;
	uv_tcp_t *c = malloc(sizeof *c);
	if (!c)
		return;
	uv_tcp_init(server->loop, c);
	if (uv_accept(server, (uv_stream_t *)c)) {
		uv_close((uv_handle_t *)c, on_close);
		return;
	}
	uv_tcp_nodelay(c, 1);
	uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

static void on_signal(uv_signal_t *h, int sig)
{
	(void)sig;
	uv_stop(h->loop);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0, backlog = 4096;
	struct sockaddr_storage ss;
	uv_loop_t *loop = uv_default_loop();
	uv_tcp_t server;
	uv_signal_t sint, sterm;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--host") && i + 1 < argc)
			host = argv[++i];
		else if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--backlog") && i + 1 < argc)
			backlog = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: uv-echo [--host ADDR] [--port PORT] [--backlog N]\n");
			return !strcmp(argv[i], "--help") ? 0 : 2;
		}
	}
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)) {
		fprintf(stderr, "uv-echo: bad --host '%s'\n", host);
		return 2;
	}
	uv_tcp_init(loop, &server);
	int err = uv_tcp_bind(&server, (struct sockaddr *)&ss, 0);
	if (!err)
		err = uv_listen((uv_stream_t *)&server, backlog, on_connection);
	if (err) {
		fprintf(stderr, "uv-echo: %s\n", uv_strerror(err));
		return 1;
	}
	int len = sizeof ss;
	uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &len);
	printf("listening tcp %d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	uv_signal_init(loop, &sint);
	uv_signal_start(&sint, on_signal, SIGINT);
	uv_signal_init(loop, &sterm);
	uv_signal_start(&sterm, on_signal, SIGTERM);
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}
