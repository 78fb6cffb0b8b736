/* src/dtls_sess.c: one session per verified peer (its table is dtls_table.c):
 * a wolfSSL DTLS object over custom I/O fed one datagram at a time, the handshake with its retransmission timer and
 * deadline, records to DataIn (or to the bounded pause queue), and the close
 * paths. A session is unlinked from the table the moment it starts closing
 * and freed in the deferred phase of a loop turn, after its last event, so
 * an event handler can never free what the caller is still using. */
#include "dtls_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- wolfSSL custom I/O -------------------------------------------------- */

int rw__dtls_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	(void)ssl;
	struct rw_dtls_sess *x = arg;
	if (!x->in)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	/* One datagram per call; a datagram larger than wolfSSL's buffer is cut
	 * (the record layer then discards it, as a kernel recvfrom would). */
	size_t n = x->in_len < (size_t)sz ? x->in_len : (size_t)sz;
	memcpy(buf, x->in, n);
	x->in = NULL;
	return (int)n;
}

int rw__dtls_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	(void)ssl;
	struct rw_dtls_sess *x = arg;
	/* An unverified DTLS 1.3 peer never gets more bytes back than it sent
	 * (no amplification from a spoofed source). */
	if (x->probe) {
		if ((size_t)sz > x->probe_budget) {
			x->srv->dropped++;
			return sz;
		}
		x->probe_budget -= (size_t)sz;
	}
	/* A datagram the kernel cannot take now is lost, as on any UDP path:
	 * the handshake retransmits, and application data is unreliable. */
	rw__dtls_send_to(x->srv, &x->peer, x->peer_len, (const uint8_t *)buf, (size_t)sz);
	return sz;
}

/* ---- lifecycle ----------------------------------------------------------- */

static void set_retx(struct rw_dtls_sess *x, int64_t now)
{
	int t = wolfSSL_dtls_get_current_timeout(x->ssl);
	x->retx_at = now + (int64_t)(t > 0 ? t : 1) * 1000;
	rw__dtls_timer_at(x->srv, x->retx_at < x->hs_deadline ? x->retx_at : x->hs_deadline);
}

/* A session object for a verified peer, with its wolfSSL configured; not yet
 * in the table (rw__dtls_sess_link). NULL when out of memory. */
struct rw_dtls_sess *rw__dtls_sess_new(struct rw_dtlsserver *s, const union rw_sockaddr *peer,
                                       socklen_t plen, const uint8_t *secret,
                                       const rw_dtls_client_hello *ch)
{
	struct rw_dtls_sess *x = calloc(1, sizeof(*x));
	WOLFSSL *ssl = x ? wolfSSL_new(s->ctx) : NULL;
	if (!ssl) {
		free(x);
		rw__dtls_fire_error(s, 0, RW_ENOMEM, "Out of memory for a new DTLS session");
		return NULL;
	}
	x->srv = s;
	x->ssl = ssl;
	x->peer = *peer;
	x->peer_len = plen;
	rw__dtls_addr_text(peer, x->addr_text, sizeof(x->addr_text), &x->port);
	memcpy(x->client_random, ch->random, 32);
	int64_t now = s->loop->now_ms;
	x->last_active = now;
	x->hs_deadline = now + (int64_t)s->set.handshake_timeout * 1000;
	wolfSSL_SSLSetIORecv(ssl, rw__dtls_io_recv);
	wolfSSL_SSLSetIOSend(ssl, rw__dtls_io_send);
	wolfSSL_SetIOReadCtx(ssl, x);
	wolfSSL_SetIOWriteCtx(ssl, x);
	wolfSSL_dtls_set_using_nonblock(ssl, 1);
	wolfSSL_dtls_set_peer(ssl, (void *)peer, plen);
	wolfSSL_DTLS_SetCookieSecret(ssl, secret, 32);
	wolfSSL_dtls_set_timeout_max(ssl, s->set.retransmit_max);
#if defined(WOLFSSL_DTLS_MTU)
	if (s->set.mtu > 0)
		wolfSSL_dtls_set_mtu(ssl, (unsigned short)s->set.mtu);
#endif
	rw__dtls_verify_setup(ssl, x);
	rw__dtls_cid_setup(x, s->next_seq);
	return x;
}

void rw__dtls_sess_start(struct rw_dtlsserver *s, const union rw_sockaddr *peer, socklen_t plen,
                         const uint8_t *secret, const uint8_t *data, size_t len,
                         const rw_dtls_client_hello *ch)
{
	struct rw_dtls_sess *x = rw__dtls_sess_new(s, peer, plen, secret, ch);
	if (!x)
		return;
	rw__dtls_sess_link(x);
	rw__dtls_ssl_status(x, "DTLS handshake started with %s:%d", x->addr_text, x->port);
	rw__dtls_sess_input(x, data, len);
}

/* Give a session its id and put it in the table, the id index and the list. */
void rw__dtls_sess_link(struct rw_dtls_sess *x)
{
	struct rw_dtlsserver *s = x->srv;
	x->id = s->next_seq++;
	rw__dtls_table_insert(x);
	x->prev = s->tail;
	if (s->tail)
		s->tail->next = x;
	else
		s->head = x;
	s->tail = x;
}

void rw__dtls_defer(struct rw_dtls_sess *x)
{
	struct rw_dtlsserver *s = x->srv;
	if (x->on_defer)
		return;
	x->on_defer = true;
	x->defer_next = NULL;
	if (s->defer_tail)
		s->defer_tail->defer_next = x;
	else
		s->defer_head = x;
	s->defer_tail = x;
}

void rw__dtls_sess_close(struct rw_dtls_sess *x, int status, const char *text, bool notify)
{
	if (x->state == RW_DS_CLOSING)
		return;
	/* close_notify only on an open connection, and never from inside a
	 * wolfSSL callback (handshaking sessions are only ever closed there or
	 * between datagrams; they get no alert). */
	if (notify && x->state == RW_DS_OPEN)
		wolfSSL_shutdown(x->ssl);
	if (x->state == RW_DS_OPEN)
		x->srv->conn_count--;
	x->state = RW_DS_CLOSING;
	x->close_status = status;
	snprintf(x->close_text, sizeof(x->close_text), "%s", text);
	rw__dtls_unhash(x);
	rw__dtls_defer(x);
}

void rw__dtls_sess_destroy(struct rw_dtls_sess *x)
{
	struct rw_dtlsserver *s = x->srv;
	rw__dtls_unhash(x);
	if (x->state == RW_DS_OPEN)
		s->conn_count--;
	rw__dtls_table_remove_id(x);
	if (x->prev)
		x->prev->next = x->next;
	else
		s->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		s->tail = x->prev;
	rw__dtls_cid_release(x);
	while (x->q_head) {
		struct rw_dtls_qrec *q = x->q_head;
		x->q_head = q->next;
		free(q);
	}
	wolfSSL_free(x->ssl);
	free(x);
}

/* ---- records ------------------------------------------------------------- */

static void deliver(struct rw_dtls_sess *x, const uint8_t *p, size_t n)
{
	struct rw_dtlsserver *s = x->srv;
	rw_dtlsserver_data_in e = {x->id, p, n};
	if (s->ev.data_in)
		s->ev.data_in(s, &e, s->user);
}

static void queue_record(struct rw_dtls_sess *x, const uint8_t *p, size_t n)
{
	struct rw_dtls_qrec *q;
	if (x->q_count >= x->srv->set.paused_queue_limit || !(q = malloc(sizeof(*q) + n))) {
		x->srv->dropped++;
		rw__dtls_log(x->srv, RW_LOG_INFO, "connection %lld: paused queue full, a datagram was dropped",
		             (long long)x->id);
		return;
	}
	q->next = NULL;
	q->len = (uint32_t)n;
	memcpy(q->data, p, n);
	if (x->q_tail)
		x->q_tail->next = q;
	else
		x->q_head = q;
	x->q_tail = q;
	x->q_count++;
}

/* ProcessData's delivery, from the deferred phase: queued records in order,
 * then a close_notify that arrived while paused. */
static void resume(struct rw_dtls_sess *x)
{
	while (x->q_head && !x->paused && x->state == RW_DS_OPEN) {
		struct rw_dtls_qrec *q = x->q_head;
		x->q_head = q->next;
		if (!x->q_head)
			x->q_tail = NULL;
		x->q_count--;
		deliver(x, q->data, q->len);
		free(q);
	}
	if (!x->q_head && !x->paused && x->close_after_queue)
		rw__dtls_sess_close(x, 0, "OK", false);
}

static const char *wolf_text(WOLFSSL *ssl, int ret, char *buf, size_t len)
{
	int err = wolfSSL_get_error(ssl, ret);
	char t[80];
	wolfSSL_ERR_error_string_n((unsigned long)err, t, sizeof(t));
	snprintf(buf, len, "wolfSSL %d: %s", err, t);
	return buf;
}

static void opened(struct rw_dtls_sess *x)
{
	struct rw_dtlsserver *s = x->srv;
	x->state = RW_DS_OPEN;
	x->last_active = s->loop->now_ms;
	s->conn_count++;
	x->connected_fired = true;
	rw__dtls_ssl_status(x, "DTLS handshake completed: %s %s", wolfSSL_get_version(x->ssl),
	                    wolfSSL_get_cipher_name(x->ssl));
	rw_dtlsserver_connected e = {x->id, x->addr_text, x->port, 0, "OK"};
	if (s->ev.connected)
		s->ev.connected(s, &e, s->user);
}

static void handshake(struct rw_dtls_sess *x, int64_t now)
{
	int ret = wolfSSL_accept(x->ssl);
	if (x->state == RW_DS_CLOSING || x->probe) /* refused inside an event; or a probe (its caller decides) */
		return;
	if (ret != WOLFSSL_SUCCESS) {
		int err = wolfSSL_get_error(x->ssl, ret);
		if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
			set_retx(x, now);
			return;
		}
		char t[128], d[160];
		wolf_text(x->ssl, ret, t, sizeof(t));
		bool cert = x->no_cert || (x->cert_decided && x->chain_error);
		snprintf(d, sizeof(d), "%s (%s)", cert ? "Client certificate refused" : "DTLS handshake error", t);
		rw__dtls_sess_close(x, cert ? RW_EDTLS_INVALID_CERT : RW_EDTLS_HANDSHAKE, d, false);
		return;
	}
	/* Asked for a certificate and got none: the application decides. */
	if (x->srv->set.authenticate_clients && !x->cert_decided) {
		rw_dtlsserver_ssl_client_authentication e = {
			.connection_id = x->id, .cert_subject = "", .cert_issuer = "",
			.status = "No client certificate", .accept = false,
		};
		if (x->srv->ev.ssl_client_authentication)
			x->srv->ev.ssl_client_authentication(x->srv, &e, x->srv->user);
		if (x->state == RW_DS_CLOSING)
			return;
		if (!e.accept) {
			rw__dtls_sess_close(x, RW_EDTLS_INVALID_CERT, "No client certificate", false);
			return;
		}
	}
	opened(x);
}

/* Exactly one DTLS 1.2-style record (13-byte header: type, version, epoch,
 * sequence, length) fills the datagram. DTLS 1.3's unified headers (first
 * byte 001xxxxx) are not counted. */
static bool single_record(const uint8_t *p, size_t len)
{
	return len >= 13 && p[0] >= 20 && p[0] <= 25 && 13u + ((size_t)p[11] << 8 | p[12]) == len;
}

void rw__dtls_sess_input(struct rw_dtls_sess *x, const uint8_t *data, size_t len)
{
	struct rw_dtlsserver *s = x->srv;
	int64_t now = s->loop->now_ms;
	x->in = data;
	x->in_len = len;
	if (x->state == RW_DS_HANDSHAKING)
		handshake(x, now);
	/* wolfSSL_read sizes its receive buffer from the size it is given
	 * (max(sz + 500, MTU)), mallocs it per datagram and zeroes all of it
	 * when the record is done: a 16 KiB buffer here cost a 17 KB memset
	 * per datagram, the largest user-space cost of an echo. A record's
	 * plaintext is shorter than the datagram that carried it, so the
	 * datagram's length is always room enough. */
	uint8_t buf[16384 + 64];
	int cap = len < sizeof(buf) ? (int)len : (int)sizeof(buf);
	bool one_record = single_record(data, len);
	while (x->state == RW_DS_OPEN) {
		int n = wolfSSL_read(x->ssl, buf, cap);
		if (n > 0) {
			if (x->migrating) /* the record authenticated: the peer moved */
				rw__dtls_cid_migrate(x);
			x->last_active = now;
			if (x->paused)
				queue_record(x, buf, (size_t)n);
			else
				deliver(x, buf, (size_t)n);
			/* The datagram's only record is consumed: nothing is left
			 * for wolfSSL, so skip the read that would only say
			 * WANT_READ (an error path with its own logging cost). */
			if (one_record && !x->in)
				break;
			continue;
		}
		int err = wolfSSL_get_error(x->ssl, n);
		if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE)
			break;
		if (err == WOLFSSL_ERROR_ZERO_RETURN) { /* close_notify */
			rw__dtls_ssl_status(x, "close_notify received");
			if (x->paused && x->q_head)
				x->close_after_queue = true;
			else
				rw__dtls_sess_close(x, 0, "OK", false);
			break;
		}
		char t[128], d[160];
		snprintf(d, sizeof(d), "Fatal DTLS error (%s)", wolf_text(x->ssl, n, t, sizeof(t)));
		rw__dtls_sess_close(x, RW_EDTLS_HANDSHAKE, d, false);
		break;
	}
	x->in = NULL;
}

/* ---- timers and the deferred phase -------------------------------------- */

void rw__dtls_sess_timers(struct rw_dtlsserver *s, int64_t now)
{
	int64_t next = 0;
	for (struct rw_dtls_sess *x = s->head; x; x = x->next) {
		if (x->state != RW_DS_HANDSHAKING)
			continue;
		if (now >= x->hs_deadline) {
			rw__dtls_sess_close(x, RW_ETIMEDOUT, "Handshake timeout", false);
			continue;
		}
		if (x->retx_at && now >= x->retx_at) {
			/* wolfSSL resends its last flight, or gives up after the
			 * back-off reached RetransmitTimeoutMax. */
			if (wolfSSL_dtls_got_timeout(x->ssl) != WOLFSSL_SUCCESS) {
				rw__dtls_sess_close(x, RW_EDTLS_HANDSHAKE, "DTLS handshake error (retransmission limit)",
				                    false);
				continue;
			}
			rw__dtls_ssl_status(x, "handshake flight retransmitted");
			int t = wolfSSL_dtls_get_current_timeout(x->ssl);
			x->retx_at = now + (int64_t)(t > 0 ? t : 1) * 1000;
		}
		int64_t due = x->retx_at && x->retx_at < x->hs_deadline ? x->retx_at : x->hs_deadline;
		if (!next || due < next)
			next = due;
	}
	s->next_timer_ms = next;
}

void rw__dtls_sess_sweep(struct rw_dtlsserver *s, int64_t now)
{
	int idle = s->set.idle_timeout;
	if (idle <= 0)
		return;
	for (struct rw_dtls_sess *x = s->head; x; x = x->next)
		if (x->state == RW_DS_OPEN && !x->q_head && now - x->last_active >= (int64_t)idle * 1000)
			rw__dtls_sess_close(x, RW_ETIMEDOUT, "Idle timeout", true);
}

void rw__dtls_run_deferred(struct rw_dtlsserver *s)
{
	while (s->defer_head) {
		struct rw_dtls_sess *x = s->defer_head;
		s->defer_head = x->defer_next;
		if (!s->defer_head)
			s->defer_tail = NULL;
		x->on_defer = false;
		if (x->state != RW_DS_CLOSING) {
			resume(x);
			continue;
		}
		/* Every exposed id ends with Connected (if the handshake never
		 * finished) and one Disconnected. */
		if (!x->connected_fired) {
			x->connected_fired = true;
			rw_dtlsserver_connected c = {x->id, x->addr_text, x->port, x->close_status, x->close_text};
			if (s->ev.connected)
				s->ev.connected(s, &c, s->user);
		}
		rw_dtlsserver_disconnected d = {x->id, x->close_status, x->close_text};
		s->disc_firing = x;
		if (s->ev.disconnected)
			s->ev.disconnected(s, &d, s->user);
		s->disc_firing = NULL;
		rw__dtls_sess_destroy(x);
	}
}
