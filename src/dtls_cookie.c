/* src/dtls_cookie.c: the stateless cookie exchange (RFC 6347 4.2.1).
 *
 * A ClientHello from a peer without state is answered here and nothing is
 * kept: no session, no wolfSSL object, no allocation. The cookie is
 * HMAC-SHA256(secret, peer sockaddr | client_version | random | session_id |
 * cipher_suites | compression), exactly what wolfSSL 5.5's own stateless
 * check computes (dtls.c CreateDtlsCookie), so that when the hello comes back
 * with it, the fresh wolfSSL object given the same secret and the same peer
 * bytes accepts it without a second round trip. The secret rotates every
 * CookieSecretLifetime seconds; a cookie made under the previous secret is
 * still honoured (the new session is then given that secret).
 *
 * Amplification: the HelloVerifyRequest is 60 bytes and is only sent for a
 * well-formed, unfragmented ClientHello, which is at least 67 bytes. */
#include "dtls_internal.h"

#include <wolfssl/wolfcrypt/hmac.h>

#include <string.h>
#include <sys/random.h>

#define COOKIE_LEN 32

static void fill_random(uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	/* getrandom cannot fail on Linux >= 3.17 once the pool is up; should it,
	 * wolfSSL's RNG is the fallback. */
	if (got < n)
		wolfSSL_RAND_bytes(p + got, (int)(n - got));
}

void rw__dtls_cookie_init(struct rw_dtlsserver *s)
{
	fill_random(s->secret[0], sizeof(s->secret[0]));
	fill_random(s->secret[1], sizeof(s->secret[1]));
	s->secret_rotate_ms = s->loop->now_ms + (int64_t)s->set.cookie_lifetime * 1000;
}

void rw__dtls_cookie_rotate(struct rw_dtlsserver *s, int64_t now_ms)
{
	if (now_ms < s->secret_rotate_ms)
		return;
	memcpy(s->secret[1], s->secret[0], sizeof(s->secret[0]));
	fill_random(s->secret[0], sizeof(s->secret[0]));
	s->secret_rotate_ms = now_ms + (int64_t)s->set.cookie_lifetime * 1000;
}

static int make_cookie(const uint8_t *secret, const union rw_sockaddr *peer, socklen_t plen,
                       const rw_dtls_client_hello *ch, uint8_t out[COOKIE_LEN])
{
	Hmac h;
	int rc = wc_HmacInit(&h, NULL, INVALID_DEVID);
	if (rc != 0)
		return rc;
	if ((rc = wc_HmacSetKey(&h, WC_SHA256, secret, 32)) == 0 &&
	    (rc = wc_HmacUpdate(&h, (const byte *)peer, plen)) == 0 &&
	    (rc = wc_HmacUpdate(&h, ch->version_bytes, 2)) == 0 &&
	    (rc = wc_HmacUpdate(&h, ch->random, 32)) == 0 &&
	    (rc = wc_HmacUpdate(&h, ch->session_id, ch->session_id_len)) == 0 &&
	    (rc = wc_HmacUpdate(&h, ch->suites, ch->suites_len)) == 0 &&
	    (rc = wc_HmacUpdate(&h, ch->compression, ch->compression_len)) == 0)
		rc = wc_HmacFinal(&h, out);
	wc_HmacFree(&h);
	return rc;
}

/* Constant time: the comparison must not tell an attacker how many bytes of
 * a forged cookie were right. */
static bool same(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static void send_alert(struct rw_dtlsserver *s, const union rw_sockaddr *peer, socklen_t plen,
                       const rw_dtls_client_hello *ch, uint8_t description)
{
	uint8_t out[16];
	size_t n = rw_dtls_write_alert(out, sizeof(out), &ch->rec, description);
	if (n)
		rw__dtls_send_small(s, peer, plen, out, n);
}

void rw__dtls_stateless(struct rw_dtlsserver *s, const union rw_sockaddr *peer, socklen_t plen,
                        const uint8_t *data, size_t len, const rw_dtls_client_hello *ch,
                        struct rw_dtls_sess *replacing)
{
#if defined(WOLFSSL_DTLS13)
	/* DTLS 1.3 has no HelloVerifyRequest (and a 1.3 server must refuse a
	 * non-empty legacy cookie): wolfSSL's stateless HelloRetryRequest. */
	if ((s->set.protocols & RW_DTLS_PROTO_DTLS13) && rw_dtls_ch_offers_version(ch, 0xfefc)) {
		rw__dtls_probe13(s, peer, plen, data, len, ch, replacing);
		return;
	}
#endif
	uint8_t cookie[COOKIE_LEN];
	const uint8_t *secret = NULL;
	if (ch->cookie_len == COOKIE_LEN) {
		for (int i = 0; i < 2 && !secret; i++)
			if (make_cookie(s->secret[i], peer, plen, ch, cookie) == 0 &&
			    same(cookie, ch->cookie, COOKIE_LEN))
				secret = s->secret[i];
	}
	if (!secret) {
		/* New (or spoofed) peer, or a stale cookie: answer, keep nothing. */
		uint8_t out[64];
		size_t n;
		if (len < rw_dtls_hvr_len(COOKIE_LEN) ||
		    make_cookie(s->secret[0], peer, plen, ch, cookie) != 0 ||
		    !(n = rw_dtls_write_hvr(out, sizeof(out), ch, cookie, COOKIE_LEN))) {
			s->dropped++;
			return;
		}
		if (rw__dtls_send_small(s, peer, plen, out, n) == 0)
			s->hvr_count++;
		else
			s->dropped++;
		return;
	}
	/* The peer has shown it receives at its address. */
	if (!rw__dtls_admit(s, peer, replacing)) {
		if (s->listening && s->fd >= 0 && s->sess_count < s->set.max_connections + (replacing ? 1 : 0))
			send_alert(s, peer, plen, ch, 49 /* access_denied */);
		return;
	}
	if (replacing && replacing->state != RW_DS_CLOSING)
		rw__dtls_sess_close(replacing, RW_EDTLS_HANDSHAKE, "Replaced by a new handshake", false);
	rw__dtls_sess_start(s, peer, plen, secret, data, len, ch);
}

bool rw__dtls_admit(struct rw_dtlsserver *s, const union rw_sockaddr *peer, struct rw_dtls_sess *replacing)
{
	if (!s->listening) {
		s->dropped++;
		return false;
	}
	if (s->sess_count - (replacing ? 1 : 0) >= s->set.max_connections) {
		s->rejected++;
		rw__dtls_log(s, RW_LOG_INFO, "MaxConnections (%d) reached: a verified ClientHello was dropped",
		             s->set.max_connections);
		return false;
	}
	char addr[RW_MAX_TEXT_ADDR];
	int port = 0;
	rw__dtls_addr_text(peer, addr, sizeof(addr), &port);
	uint8_t fam = peer->sa.sa_family == AF_INET ? 4 : 6;
	const uint8_t *ab = fam == 4 ? (const uint8_t *)&peer->v4.sin_addr : peer->v6.sin6_addr.s6_addr;
	rw_dtlsserver_connection_request e = {
		.address = addr, .port = port,
		.accept = (s->set.allowed.any || rw_addr_list_match(&s->set.allowed, fam, ab)) &&
		          !rw_addr_list_match(&s->set.blocked, fam, ab),
	};
	if (s->ev.connection_request)
		s->ev.connection_request(s, &e, s->user);
	/* The handler may have called shutdown or stop_listening. */
	return e.accept && s->listening && s->fd >= 0;
}
