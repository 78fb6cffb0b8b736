/* perf/load_tls.c: rw-load --mode tls: a wolfSSL client per connection over
 * the same ring (custom I/O callbacks: ciphertext in and out of per-connection
 * buffers), the decrypted echo verified. */
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

static int tls_send_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct tls *t = ctx;
	(void)ssl;
	if (grow(&t->out[t->cur], &t->out_cap[t->cur], t->out_len[t->cur] + (size_t)sz))
		return WOLFSSL_CBIO_ERR_GENERAL;
	memcpy(t->out[t->cur] + t->out_len[t->cur], buf, (size_t)sz);
	t->out_len[t->cur] += (size_t)sz;
	return sz;
}

static int tls_recv_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct tls *t = ctx;
	(void)ssl;
	if (t->in_off == t->in_len)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	size_t n = t->in_len - t->in_off;
	if (n > (size_t)sz)
		n = (size_t)sz;
	memcpy(buf, t->in + t->in_off, n);
	t->in_off += n;
	if (t->in_off == t->in_len)
		t->in_off = t->in_len = 0;
	return (int)n;
}

void setup_tls(struct load *L)
{
	if (wolfSSL_Init() != WOLFSSL_SUCCESS)
		die("wolfSSL_Init failed");
	L->tls_ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (!L->tls_ctx)
		die("wolfSSL_CTX_new failed");
	wolfSSL_CTX_set_verify(L->tls_ctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_SetIORecv(L->tls_ctx, tls_recv_cb);
	wolfSSL_CTX_SetIOSend(L->tls_ctx, tls_send_cb);
	L->tls_scratch = malloc(TLS_READ_BUF);
	if (!L->tls_scratch)
		die("out of memory");
}

/* A fresh session for a new connection (each one a full handshake). */
int tls_begin(struct load *L, struct conn *c)
{
	if (!c->t && !(c->t = calloc(1, sizeof *c->t)))
		return -1;
	struct tls *t = c->t;
	if (t->ssl)
		wolfSSL_free(t->ssl);
	t->in_len = t->in_off = t->sent = 0;
	t->out_len[0] = t->out_len[1] = 0;
	t->cur = 0;
	t->fl = -1;
	t->hs_done = false;
	t->ssl = wolfSSL_new(L->tls_ctx);
	if (!t->ssl)
		return -1;
	wolfSSL_SetIOReadCtx(t->ssl, t);
	wolfSSL_SetIOWriteCtx(t->ssl, t);
	return 0;
}

void tls_end(struct conn *c)
{
	if (c->t && c->t->ssl) {
		wolfSSL_free(c->t->ssl);
		c->t->ssl = NULL;
	}
}

void tls_fail(struct load *L, unsigned idx, int ret, const char *where)
{
	struct tls *t = L->c[idx].t;
	int err = wolfSSL_get_error(t->ssl, ret);
	char msg[WOLFSSL_MAX_ERROR_SZ];

	if (!L->s.tls_err)
		fprintf(stderr, "rw-load: connection %u: TLS %s failed: %d %s\n", idx, where, err,
			wolfSSL_ERR_error_string((unsigned long)err, msg));
	L->s.tls_err++;
}

/* Send the accumulated output (one send in flight per socket). */
void tls_flush(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];
	struct tls *t = c->t;

	if (c->sending || c->state != C_OPEN)
		return;
	if (t->fl < 0) {
		if (!t->out_len[t->cur])
			return;
		t->fl = t->cur;
		t->cur = !t->cur;
		t->sent = 0;
	}
	struct io_uring_sqe *sqe = get_sqe(L);
	io_uring_prep_send(sqe, (int)idx, t->out[t->fl] + t->sent, t->out_len[t->fl] - t->sent, MSG_NOSIGNAL);
	set_ud(sqe, idx, OP_SEND);
	c->sending = true;
}

/* --mode tls: feed received ciphertext to wolfSSL, finish the handshake,
 * verify the decrypted echo. */
void tls_input(struct load *L, unsigned idx, const uint8_t *p, unsigned n)
{
	struct conn *c = &L->c[idx];
	struct tls *t = c->t;
	int r;

	if (t->in_off && t->in_off == t->in_len)
		t->in_off = t->in_len = 0;
	if (grow(&t->in, &t->in_cap, t->in_len + n))
		die("out of memory");
	memcpy(t->in + t->in_len, p, n);
	t->in_len += n;
	if (!t->hs_done) {
		r = wolfSSL_connect(t->ssl);
		if (r != WOLFSSL_SUCCESS) {
			if (wolfSSL_get_error(t->ssl, r) == WOLFSSL_ERROR_WANT_READ) {
				tls_flush(L, idx);
				return;
			}
			tls_fail(L, idx, r, "handshake");
			conn_lost(L, idx, -EPROTO);
			return;
		}
		t->hs_done = true;
		if (!L->tls_info[0]) {
			const char *grp = wolfSSL_get_curve_name(t->ssl);
			snprintf(L->tls_info, sizeof L->tls_info, "%s %s %s", wolfSSL_get_version(t->ssl),
			         wolfSSL_get_cipher_name(t->ssl), grp ? grp : "");
		}
		if (L->o.ws) { /* wss: the upgrade request goes with the Finished */
			ws_reset(t);
			size_t rn;
			const char *req = ws_request(L, &rn);
			if (tls_write_all(L, idx, (const uint8_t *)req, rn))
				return;
		} else {
			L->s.handshakes++;
			conn_ready(L, idx, now_ns()); /* the Finished and the first messages in one send */
		}
	}
	while (c->state == C_OPEN) {
		r = wolfSSL_read(t->ssl, L->tls_scratch, TLS_READ_BUF);
		if (r > 0) {
			if (L->o.ws) /* wss: the upgrade response, then frames */
				ws_input(L, idx, L->tls_scratch, (unsigned)r);
			else
				verify(L, idx, L->tls_scratch, (unsigned)r);
			continue;
		}
		int err = wolfSSL_get_error(t->ssl, r);
		if (err != WOLFSSL_ERROR_WANT_READ) {
			if (err != WOLFSSL_ERROR_ZERO_RETURN)
				tls_fail(L, idx, r, "read");
			conn_lost(L, idx, -EPROTO);
		}
		break;
	}
	tls_flush(L, idx); /* wolfSSL may have answered (key update, tickets) */
}

/* Encrypt len bytes into the connection's outgoing ciphertext (the write
 * callback never blocks). -1 when wolfSSL failed (the connection is lost). */
int tls_write_all(struct load *L, unsigned idx, const uint8_t *p, size_t len)
{
	struct conn *c = &L->c[idx];
	for (size_t off = 0; off < len;) {
		size_t n = len - off > TLS_READ_BUF ? TLS_READ_BUF : len - off;
		int r = wolfSSL_write(c->t->ssl, p + off, (int)n);
		if (r <= 0) {
			tls_fail(L, idx, r, "write");
			conn_lost(L, idx, -EPROTO);
			return -1;
		}
		off += (size_t)r;
	}
	return 0;
}

/* Encrypt the queued plaintext (the write callback never blocks), and send. */
void tls_queue(struct load *L, unsigned idx)
{
	struct conn *c = &L->c[idx];

	while (c->state == C_OPEN && c->t->hs_done && c->tx_off < c->tx_queued) {
		size_t n = c->tx_queued - c->tx_off > TLS_READ_BUF ? TLS_READ_BUF
		                                                  : (size_t)(c->tx_queued - c->tx_off);
		int r = wolfSSL_write(c->t->ssl, L->pattern + (c->base + c->tx_off) % PAT_PERIOD, (int)n);
		if (r <= 0) {
			tls_fail(L, idx, r, "write");
			conn_lost(L, idx, -EPROTO);
			return;
		}
		c->tx_off += (unsigned)r;
	}
	tls_flush(L, idx);
}
