/* src/ws_meta.c: a WebSocket's request metadata after the handshake, packed
 * and shared between the connections of a server that sent the same
 * (ws_internal.h, struct rw_ws_meta). */
#include "ws_internal.h"

#include <stdlib.h>
#include <string.h>

/* The fields in the packed order; NULL ones read as "". */
static int fields(const rw_ws_request *r, const char *pick, bool keep_headers, const char *f[6],
                  size_t len[6], size_t *total)
{
	const char *src[6] = {r->request_uri, r->host, r->origin, r->protocols, pick, keep_headers ? r->headers : ""};
	int count = 0;
	*total = 1;
	for (int i = 0; i < 6; i++) {
		f[i] = src[i] ? src[i] : "";
		len[i] = strlen(f[i]) + 1;
		if (len[i] > 1)
			count = i + 1;
	}
	for (int i = 0; i < count; i++)
		*total += len[i];
	return count;
}

static bool same(const struct rw_ws_meta *m, int count, const char *f[6], const size_t len[6], size_t total)
{
	if (!m || m->len != total || (uint8_t)m->bytes[0] != count)
		return false;
	const char *p = m->bytes + 1;
	for (int i = 0; i < count; p += len[i], i++)
		if (memcmp(p, f[i], len[i]) != 0)
			return false;
	return true;
}

bool rw__ws_meta_make(struct rw_wsserver *ws, const rw_ws_request *r, const char *pick,
                      struct rw_ws_meta **out)
{
	const char *f[6];
	size_t len[6], total;
	int count = fields(r, pick, ws->set.keep_headers, f, len, &total);
	*out = NULL;
	if (!count)
		return true;
	if (same(ws->last_meta, count, f, len, total)) {
		ws->last_meta->refs++;
		*out = ws->last_meta;
		return true;
	}
	if (total > UINT32_MAX)
		return false;
	struct rw_ws_meta *m = malloc(sizeof(*m) + total);
	if (!m)
		return false;
	m->refs = 2; /* the connection's and the server's */
	m->len = (uint32_t)total;
	char *p = m->bytes;
	*p++ = (char)count;
	for (int i = 0; i < count; p += len[i], i++)
		memcpy(p, f[i], len[i]);
	rw__ws_meta_put(ws->last_meta);
	ws->last_meta = m;
	*out = m;
	return true;
}

void rw__ws_meta_put(struct rw_ws_meta *m)
{
	if (m && --m->refs == 0)
		free(m);
}

const char *rw__ws_meta_field(const struct rw_ws_meta *m, int k)
{
	if (!m || k >= (uint8_t)m->bytes[0])
		return "";
	const char *p = m->bytes + 1;
	while (k--)
		p += strlen(p) + 1;
	return p;
}
