/* src/dtls_probe13.c: DTLS 1.3 ClientHellos from peers without state (tuned
 * wolfSSL only). DTLS 1.3 replaces HelloVerifyRequest by a HelloRetryRequest
 * whose cookie extension wolfSSL makes and checks itself (its stateless
 * DtlsAcceptStateless, keyed with our rotating secret through
 * wolfSSL_send_hrr_cookie). So each such hello is fed to a throw-away wolfSSL
 * object: when the cookie is missing or wrong, wolfSSL answers with the
 * HelloRetryRequest and the object is freed before the next datagram, so
 * nothing outlives the datagram (unlike DTLS 1.2's path, the object is
 * allocated for the duration of the call). When wolfSSL reports the cookie
 * good (ChGoodCb), the object becomes a session. */
#include "dtls_internal.h"

#if defined(WOLFSSL_DTLS13)

#include <stdlib.h>

static int on_ch_good(WOLFSSL *ssl, void *arg)
{
	(void)ssl;
	struct rw_dtls_sess *x = arg;
	struct rw_dtlsserver *s = x->srv;
	if (!x->probe)
		return 0; /* a retransmitted hello of a session we already have */
	if (!rw__dtls_admit(s, &x->peer, x->replacing))
		return -1; /* wolfSSL aborts the handshake; the client times out */
	if (x->replacing && x->replacing->state != RW_DS_CLOSING)
		rw__dtls_sess_close(x->replacing, RW_EDTLS_HANDSHAKE, "Replaced by a new handshake", false);
	x->replacing = NULL;
	x->probe = false;
	rw__dtls_sess_link(x);
	rw__dtls_cid_setup(x, x->id);
	rw__dtls_ssl_status(x, "DTLS 1.3 handshake started with %s:%d", x->addr_text, x->port);
	return 0;
}

void rw__dtls_probe13(struct rw_dtlsserver *s, const union rw_sockaddr *peer, socklen_t plen,
                      const uint8_t *data, size_t len, const rw_dtls_client_hello *ch,
                      struct rw_dtls_sess *replacing)
{
	if (!s->listening) {
		s->dropped++;
		return;
	}
	struct rw_dtls_sess *x = rw__dtls_sess_new(s, peer, plen, s->secret[0], ch);
	if (!x)
		return;
	x->probe = true;
	x->probe_budget = len;
	x->replacing = replacing;
	if (wolfSSL_send_hrr_cookie(x->ssl, s->secret[0], 32) != WOLFSSL_SUCCESS ||
	    wolfDTLS_SetChGoodCb(x->ssl, on_ch_good, x) != WOLFSSL_SUCCESS) {
		rw__dtls_cid_release(x);
		wolfSSL_free(x->ssl);
		free(x);
		return;
	}
	rw__dtls_sess_input(x, data, len);
	if (x->probe) { /* no valid cookie (HelloRetryRequest sent) or refused */
		s->hvr_count++;
		rw__dtls_cid_release(x);
		wolfSSL_free(x->ssl);
		free(x);
	}
}

#endif
