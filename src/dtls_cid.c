/* src/dtls_cid.c: DTLS connection IDs (RFC 9146 / RFC 9147 section 9), with
 * the tuned wolfSSL, whose 5.5 connection IDs are DTLS 1.3's. A peer behind a
 * NAT that rebinds arrives from a new address with records that carry our
 * CID in the unified header (first byte 001C.... with C set, then the CID).
 * wolfSSL 5.5 caps a CID at 2 bytes (DTLS_CID_MAX_SIZE), so CIDs are 16-bit
 * values handed out from a 65,536-entry map (made when the first session
 * asks for one), starting at the masked connection id. The
 * session moves to the new address only once a record from it decrypted and
 * authenticated (before its DataIn), so a forged CID record can neither
 * steal nor divert a connection. Without WOLFSSL_DTLS_CID everything here is
 * a no-op and Config UseConnectionID=True is refused. */
#include "dtls_internal.h"

#include <string.h>

#if defined(WOLFSSL_DTLS_CID)

#include <stdlib.h>

void rw__dtls_cid_setup(struct rw_dtls_sess *x, rw_connid id)
{
	struct rw_dtlsserver *s = x->srv;
	if (!s->set.use_cid)
		return;
	if (!s->cid_map && !(s->cid_map = calloc(RW_DTLS_CID_SPACE, sizeof(*s->cid_map))))
		return; /* no memory: this session simply gets no CID */
	/* Start from the masked id, probe for a free value: at most
	 * RW_DTLS_CID_SPACE sessions can hold one; later ones go without. */
	uint32_t v = (uint32_t)(((uint64_t)id ^ s->hash_key) & (RW_DTLS_CID_SPACE - 1));
	if (x->cid) { /* again after the stateless 1.3 path: keep the value */
		v = x->cid_value;
	} else {
		uint32_t n = 0;
		while (s->cid_map[v] && n++ < RW_DTLS_CID_SPACE)
			v = (v + 1) & (RW_DTLS_CID_SPACE - 1);
		if (s->cid_map[v])
			return;
	}
	uint8_t cid[RW_DTLS_CID_LEN] = {(uint8_t)(v >> 8), (uint8_t)v};
	if (wolfSSL_dtls_cid_use(x->ssl) != WOLFSSL_SUCCESS ||
	    wolfSSL_dtls_cid_set(x->ssl, cid, sizeof(cid)) != WOLFSSL_SUCCESS)
		return;
	if (!x->cid) {
		x->cid = true;
		x->cid_value = (uint16_t)v;
		s->cid_map[v] = x;
	}
}

void rw__dtls_cid_release(struct rw_dtls_sess *x)
{
	if (x->cid && x->srv->cid_map && x->srv->cid_map[x->cid_value] == x)
		x->srv->cid_map[x->cid_value] = NULL;
	x->cid = false;
}

bool rw__dtls_cid_route(struct rw_dtlsserver *s, const union rw_sockaddr *peer, socklen_t plen,
                        const uint8_t *data, size_t len)
{
	/* Unified header with the C bit, then our CID. */
	if (!s->set.use_cid || !s->cid_map || len < 1 + RW_DTLS_CID_LEN + 2 || (data[0] & 0xf0) != 0x30)
		return false;
	struct rw_dtls_sess *x = s->cid_map[(uint32_t)data[1] << 8 | data[2]];
	if (!x || x->state != RW_DS_OPEN) {
		s->dropped++;
		return true;
	}
	x->migrating = true;
	x->new_peer = *peer;
	x->new_peer_len = plen;
	rw__dtls_sess_input(x, data, len);
	x->migrating = false;
	return true;
}

void rw__dtls_cid_migrate(struct rw_dtls_sess *x)
{
	x->migrating = false;
	char old[RW_MAX_TEXT_ADDR];
	int old_port = x->port;
	memcpy(old, x->addr_text, sizeof(old));
	rw__dtls_rehash(x, &x->new_peer, x->new_peer_len);
	wolfSSL_dtls_set_peer(x->ssl, &x->peer, x->peer_len);
	rw__dtls_ssl_status(x, "connection ID: peer moved from %s:%d to %s:%d", old, old_port, x->addr_text,
	                    x->port);
}

#else

void rw__dtls_cid_release(struct rw_dtls_sess *x)
{
	(void)x;
}

void rw__dtls_cid_setup(struct rw_dtls_sess *x, rw_connid id)
{
	(void)x;
	(void)id;
}

bool rw__dtls_cid_route(struct rw_dtlsserver *s, const union rw_sockaddr *peer, socklen_t plen,
                        const uint8_t *data, size_t len)
{
	(void)s;
	(void)peer;
	(void)plen;
	(void)data;
	(void)len;
	return false;
}

void rw__dtls_cid_migrate(struct rw_dtls_sess *x)
{
	x->migrating = false;
}

#endif
