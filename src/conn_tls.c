/* src/conn_tls.c: a connection's TLS layer. Received ciphertext goes through
 * the TLS filter and the plaintext joins the ordinary receive path (framing,
 * pause, held bytes); ciphertext the filter produces goes straight into the
 * send queue. Connected waits for the handshake (implicit mode) or fires again
 * after it (StartSSL); a failed or stalled handshake gives Connected with a
 * non-zero status, then Disconnected. */
#include "internal.h"

#include "proto/tls_hello.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SendFile over TLS: the file's blocks are encrypted as they are read, so
 * while a file streams its FILE chunk stays last in the queue (sends wait,
 * see tcpserver_send.c) and every record made meanwhile, file block or
 * protocol message, goes in front of it in the order it was encrypted. The
 * next block is read only once those records are sent: memory stays at one
 * read buffer of ciphertext. Returns the FILE chunk, taken off the queue. */
static struct rw_chunk *detach_file_tail(struct rw_conn *c)
{
	struct rw_chunk *file = c->sq_tail;
	if (!file || file->kind != RW_CHUNK_FILE)
		return NULL;
	struct rw_chunk *prev = NULL;
	for (struct rw_chunk *ch = c->sq_head; ch != file; ch = ch->next)
		prev = ch;
	if (prev)
		prev->next = NULL;
	else
		c->sq_head = NULL;
	c->sq_tail = prev;
	return file;
}

static void reattach(struct rw_conn *c, struct rw_chunk *file)
{
	if (!file)
		return;
	file->next = NULL;
	if (c->sq_tail)
		c->sq_tail->next = file;
	else
		c->sq_head = file;
	c->sq_tail = file;
}

static void sink(void *ctx, const uint8_t *data, size_t len)
{
	struct rw_conn *c = ctx;
	/* Ciphertext is the protocol's own overhead plus bytes the send path
	 * already admitted against SendQueueLimit: it is never refused here. */
	struct rw_loop *l = c->srv->loop;
	struct rw_chunk *file = c->files_pending ? detach_file_tail(c) : NULL;
	size_t off = 0;
	while (off < len) {
		uint32_t n = rw__sendq_append(l, c, data + off, (uint32_t)(len - off));
		if (!n)
			break; /* out of memory: the connection fails on its next send */
		off += n;
	}
	reattach(c, file);
	rw__flush_later(l, c);
}

void rw__conn_tls_file_block(struct rw_conn *c, struct rw_chunk *file)
{
	int rc = rw__tls_write(c->tls, file->data + file->off, file->len - file->off);
	file->off = file->len = 0; /* the buffer is free for the next read */
	if (rc < 0) {
		file->file_left = 0;
		rw__conn_close(c, -rc, rw__tls_error_text(c->tls), true);
	}
}

/* SSLKeyLogFile: each NSS key log line is appended as it comes (a debugging
 * aid: a plain write on the loop thread, a few per handshake). One write per
 * line with O_APPEND keeps lines whole when several servers share the file. */
static void keylog(void *ctx, const char *line, size_t len)
{
	struct rw_conn *c = ctx;
	const char *path = c->srv->set.ssl_keylog_file;
	char buf[512];
	if (!path || !*path || len + 1 > sizeof(buf))
		return;
	memcpy(buf, line, len);
	buf[len] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, len + 1) != (ssize_t)(len + 1))
		rw__log(c->srv, RW_LOG_WARN, "SSLKeyLogFile %s: cannot append", path);
	if (fd >= 0)
		close(fd);
}

static void opened(void *ctx)
{
	struct rw_conn *c = ctx;
	c->flags |= RW_C_TLS_OPEN;
	rw__fire_ssl_status(c, "TLS handshake completed: %s %s", rw__tls_version(c->tls), rw__tls_cipher(c->tls));
	rw__fire_connected(c, 0, "OK");
	/* Implicit mode owes the first ReadyToSend; a send refused before the
	 * handshake (WOULDBLOCK) is owed one too. */
	if ((c->flags & (RW_C_TLS_IMPLICIT | RW_C_WOULDBLOCK)) && !(c->flags & RW_C_CLOSING)) {
		c->flags &= ~RW_C_WOULDBLOCK;
		rw__fire_ready(c);
	}
}

static int plain(void *ctx, const uint8_t *data, size_t len)
{
	struct rw_conn *c = ctx;
	if (c->flags & RW_C_CLOSING)
		return 1;
	rw__conn_accept_plain(c, data, len);
	return 0;
}

static bool client_cert(void *ctx, const struct rw_tls_peer_cert *pc)
{
	struct rw_conn *c = ctx;
	struct rw_tcpserver *s = c->srv;
	if (!s->ev.ssl_client_authentication || s->freeing)
		return pc->accept;
	rw_tcpserver_ssl_client_authentication e = {
		c->id, pc->der, pc->der_len, pc->subject, pc->issuer, pc->status, pc->accept,
	};
	s->ev.ssl_client_authentication(s, &e, s->user);
	return e.accept;
}

/* Codes as comma-separated names; a code without a name as 0xABCD. */
static char *code_list(const uint16_t *codes, unsigned n, const char *(*name_of)(uint16_t))
{
	size_t cap = (size_t)n * 48 + 1, o = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	out[0] = 0;
	for (unsigned i = 0; i < n; i++) {
		const char *name = name_of(codes[i]);
		int k = name ? snprintf(out + o, cap - o, "%s%s", o ? "," : "", name)
		             : snprintf(out + o, cap - o, "%s0x%04X", o ? "," : "", codes[i]);
		if (k > 0 && (size_t)k < cap - o)
			o += (size_t)k;
	}
	return out;
}

/* SSLConnectionRequest: the client's offer, and the certificate to serve. */
static struct rw_tls_ctx *hello(void *ctx, const struct rw_tls_hello_info *h, bool *reject)
{
	struct rw_conn *c = ctx;
	struct rw_tcpserver *s = c->srv;
	if (!s->ev.ssl_connection_request || s->freeing)
		return NULL;
	char *suites = code_list(h->suites, h->n_suites, rw__tls_suite_name);
	char *sigalgs = code_list(h->sigalgs, h->n_sigalgs, rw_tls_sigscheme_name);
	const struct rw_tcp_settings *st = &s->set;
	rw_tcpserver_ssl_connection_request e = {
		c->id, suites ? suites : "", sigalgs ? sigalgs : "",
		st->ssl_cert_store_type, st->ssl_cert_store, st->ssl_cert_store_len,
		st->ssl_cert_store_password, st->ssl_cert_subject, true,
	};
	s->ev.ssl_connection_request(s, &e, s->user);
	free(suites);
	free(sigalgs);
	*reject = !e.accept || (c->flags & RW_C_CLOSING);
	if (*reject || (e.cert_store_type == st->ssl_cert_store_type && e.cert_store == (const void *)st->ssl_cert_store &&
	                e.cert_store_len == st->ssl_cert_store_len && e.cert_password == st->ssl_cert_store_password &&
	                e.cert_subject == st->ssl_cert_subject))
		return NULL;
	struct rw_tls_ctx *other = NULL;
	struct rw_tls_cert cert;
	int rc = rw__ssl_cert_spec(&cert, e.cert_store_type, e.cert_store, e.cert_store_len, e.cert_password,
	                           e.cert_subject);
	if (rc == 0)
		rc = rw__ssl_alt_ctx(s, &cert, &other);
	if (rc < 0) {
		rw__log(s, RW_LOG_WARN, "SSLConnectionRequest certificate: %s", rw_strerror(-rc));
		*reject = true;
	}
	return other;
}

static const struct rw_tls_cbs cbs = {
	.opened = opened, .plain = plain, .client_cert = client_cert, .hello = hello, .keylog = keylog,
};

int rw__conn_tls_start(struct rw_conn *c, bool implicit)
{
	struct rw_tcpserver *s = c->srv;
	if (!s->tls_ctx || c->tls)
		return -RW_EBAD_STATE;
	int rc = rw__tls_new(&c->tls, s->tls_ctx, sink, c);
	if (rc < 0)
		return rc;
	if (s->ev.ssl_connection_request)
		rw__tls_wait_hello(c->tls);
	if (implicit)
		c->flags |= RW_C_TLS_IMPLICIT;
	c->last_active = s->loop->now_ms;
	rw__fire_ssl_status(c, "TLS handshake started");
	return 0;
}

static void handshake_failed(struct rw_conn *c, int code, const char *text)
{
	rw__fire_ssl_status(c, "TLS handshake failed: %s", text);
	rw__fire_connected(c, code, text);
	rw__conn_close(c, code, text, true);
}

void rw__conn_tls_input(struct rw_conn *c, const uint8_t *data, size_t len)
{
	int rc = rw__tls_feed(c->tls, data, len, &cbs, c);
	if (rc == RW_TLS_PEER_CLOSED) {
		rw__conn_peer_eof(c); /* the peer's close_notify */
	} else if (rc < 0 && !(c->flags & RW_C_CLOSING)) {
		const char *text = rw__tls_error_text(c->tls);
		if (c->flags & RW_C_TLS_OPEN) {
			rw__fire_error(c->srv, c->id, -rc, text);
			rw__conn_close(c, -rc, text, true);
		} else {
			handshake_failed(c, -rc, text);
		}
	}
}

/* StartSSL was called inside DataIn: the framer's kept bytes and the rest of
 * the receive buffer are the client's first TLS bytes, not plaintext. */
void rw__conn_tls_switch(struct rw_conn *c, const uint8_t *rest, size_t len)
{
	c->flags &= ~RW_C_TLS_SWITCH;
	size_t n = 0;
	uint8_t *kept = c->ext ? rw_framer_take_kept(&c->ext->framer, &n) : NULL;
	if (kept) {
		rw__conn_tls_input(c, kept, n);
		free(kept);
	}
	if (len && !(c->flags & RW_C_CLOSING))
		rw__conn_tls_input(c, rest, len);
}

void rw__conn_tls_sweep(struct rw_conn *c, int64_t now)
{
	if (!c->tls || (c->flags & (RW_C_TLS_OPEN | RW_C_CLOSING)))
		return;
	int secs = c->srv->set.default_connection_timeout;
	if (secs <= 0)
		secs = 30;
	if (now - c->last_active >= (int64_t)secs * 1000)
		handshake_failed(c, RW_ETIMEDOUT, "TLS handshake timed out");
}
