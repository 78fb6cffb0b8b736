/* src/dtls_table.c: DTLSServer's session table: peers by address and port
 * (a keyed hash, O(1) per datagram) and sessions by connection id (ids are
 * sequential, so their low bits index the buckets). Only verified peers are
 * ever inserted, and at most MaxConnections of them. */
#include "dtls_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- table --------------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* Keyed with a random value per server: only verified peers ever get in, but
 * a client that picks its ports should still not be able to pile them up in
 * one chain. */
static uint32_t bucket(const struct rw_dtlsserver *s, const union rw_sockaddr *a)
{
	uint64_t h = s->hash_key;
	if (a->sa.sa_family == AF_INET) {
		h = mix(h ^ ((uint64_t)a->v4.sin_addr.s_addr << 16 | a->v4.sin_port));
	} else {
		uint64_t w[2];
		memcpy(w, a->v6.sin6_addr.s6_addr, 16);
		h = mix(mix(h ^ w[0]) ^ w[1] ^ ((uint64_t)a->v6.sin6_port << 48));
	}
	return (uint32_t)h & (s->nbuckets - 1);
}

static bool same_peer(const union rw_sockaddr *a, const union rw_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->v4.sin_port == b->v4.sin_port && a->v4.sin_addr.s_addr == b->v4.sin_addr.s_addr;
	return a->v6.sin6_port == b->v6.sin6_port &&
	       memcmp(&a->v6.sin6_addr, &b->v6.sin6_addr, 16) == 0;
}

int rw__dtls_table_init(struct rw_dtlsserver *s)
{
	uint32_t n = 16;
	while (n < (uint32_t)s->set.max_connections * 2u && n < (1u << 20))
		n <<= 1;
	s->buckets = calloc(n, sizeof(*s->buckets));
	s->id_buckets = calloc(n, sizeof(*s->id_buckets));
	if (!s->buckets || !s->id_buckets) {
		free(s->buckets);
		free(s->id_buckets);
		s->buckets = s->id_buckets = NULL;
		return -RW_ENOMEM;
	}
	s->nbuckets = n;
	uint8_t k[8];
	wolfSSL_RAND_bytes(k, sizeof(k));
	memcpy(&s->hash_key, k, sizeof(k));
	return 0;
}

void rw__dtls_table_free(struct rw_dtlsserver *s)
{
	free(s->buckets);
	free(s->id_buckets);
	s->buckets = s->id_buckets = NULL;
	s->nbuckets = 0;
}

struct rw_dtls_sess *rw__dtls_lookup(struct rw_dtlsserver *s, const union rw_sockaddr *peer)
{
	if (!s->buckets)
		return NULL;
	for (struct rw_dtls_sess *x = s->buckets[bucket(s, peer)]; x; x = x->hnext)
		if (same_peer(&x->peer, peer))
			return x;
	return NULL;
}

void rw__dtls_unhash(struct rw_dtls_sess *x)
{
	struct rw_dtlsserver *s = x->srv;
	if (!x->in_hash)
		return;
	for (struct rw_dtls_sess **p = &s->buckets[bucket(s, &x->peer)]; *p; p = &(*p)->hnext) {
		if (*p == x) {
			*p = x->hnext;
			break;
		}
	}
	x->in_hash = false;
	s->sess_count--;
}

/* The peer's address changed (connection ID): move it in the table. */
void rw__dtls_rehash(struct rw_dtls_sess *x, const union rw_sockaddr *peer, socklen_t plen)
{
	struct rw_dtlsserver *s = x->srv;
	rw__dtls_unhash(x);
	x->peer = *peer;
	x->peer_len = plen;
	rw__dtls_addr_text(peer, x->addr_text, sizeof(x->addr_text), &x->port);
	uint32_t b = bucket(s, peer);
	x->hnext = s->buckets[b];
	s->buckets[b] = x;
	x->in_hash = true;
	s->sess_count++;
}

struct rw_dtls_sess *rw__dtls_find(const struct rw_dtlsserver *s, rw_connid id)
{
	/* Ids are sequential, so the low bits spread them evenly. */
	if (!s->id_buckets || id <= 0)
		return NULL;
	for (struct rw_dtls_sess *x = s->id_buckets[(uint64_t)id & (s->nbuckets - 1)]; x; x = x->inext)
		if (x->id == id)
			return x;
	return NULL;
}

/* Into the peer table and the id index (rw__dtls_sess_link). */
void rw__dtls_table_insert(struct rw_dtls_sess *x)
{
	struct rw_dtlsserver *s = x->srv;
	uint32_t b = bucket(s, &x->peer);
	x->hnext = s->buckets[b];
	s->buckets[b] = x;
	x->in_hash = true;
	s->sess_count++;
	uint32_t ib = (uint32_t)((uint64_t)x->id & (s->nbuckets - 1));
	x->inext = s->id_buckets[ib];
	s->id_buckets[ib] = x;
}

void rw__dtls_table_remove_id(struct rw_dtls_sess *x)
{
	struct rw_dtlsserver *s = x->srv;
	for (struct rw_dtls_sess **p = &s->id_buckets[(uint64_t)x->id & (s->nbuckets - 1)]; *p; p = &(*p)->inext) {
		if (*p == x) {
			*p = x->inext;
			break;
		}
	}
}
