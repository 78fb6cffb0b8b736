/* src/conn_ext.c: a connection's rare state (struct rw_conn_ext, internal.h):
 * the framer of a line mode, bytes held while paused, a lingering close's
 * deadline and text, the PROXY header state, a local address that did not fit
 * the server's table. Allocated on first need, freed once none of it is in
 * use, so an idle raw-mode connection is its struct rw_conn alone. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct rw_conn_ext *rw__conn_ext(struct rw_conn *c)
{
	if (c->ext)
		return c->ext;
	struct rw_conn_ext *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	rw_framer_init(&x->framer);
	x->framer.max_line = (uint32_t)c->srv->set.default_max_line;
	c->ext = x;
	return x;
}

/* Nothing in x differs from a connection without one. */
static bool ext_unused(const struct rw_conn *c, const struct rw_conn_ext *x)
{
	const rw_framer *f = &x->framer;
	return !f->eol_len && !f->single_line && !f->record_len &&
	       f->max_line == (uint32_t)c->srv->set.default_max_line && !f->_buf && !f->_skip_lf &&
	       !x->held && !x->proxy && c->local != RW_LOCAL_EXT;
}

void rw__conn_ext_trim(struct rw_conn *c)
{
	/* Inside DataIn the framer may be running; a closing connection keeps
	 * its text and deadline until it is freed. */
	if (!c->ext || (c->flags & (RW_C_IN_DATAIN | RW_C_CLOSING)) || !ext_unused(c, c->ext))
		return;
	free(c->ext);
	c->ext = NULL;
}

void rw__conn_ext_free(struct rw_conn *c)
{
	struct rw_conn_ext *x = c->ext;
	if (!x)
		return;
	rw_framer_free(&x->framer);
	free(x->held);
	free(x->proxy);
	free(x);
	c->ext = NULL;
}

void rw__conn_framer_view(const struct rw_conn *c, rw_framer *out)
{
	if (c->ext) {
		*out = c->ext->framer;
		return;
	}
	rw_framer_init(out);
	out->max_line = (uint32_t)c->srv->set.default_max_line;
}

const char *rw__conn_status_text(const struct rw_conn *c)
{
	if (c->ext && c->ext->status_text)
		return c->ext->status_text;
	return rw_strerror(c->status);
}

int rw__conn_set_status_text(struct rw_conn *c, const char *text)
{
	if (!text)
		text = "";
	/* The usual text is the status code's own: nothing to keep. */
	if (!c->ext && !strcmp(text, rw_strerror(c->status)))
		return 0;
	struct rw_conn_ext *x = rw__conn_ext(c);
	if (!x)
		return -RW_ENOMEM; /* Disconnected says rw_strerror(status) */
	x->status_text = text;
	return 0;
}

int64_t rw__conn_close_deadline(const struct rw_conn *c)
{
	return c->ext ? c->ext->close_deadline : 0;
}

int rw__conn_set_close_deadline(struct rw_conn *c, int64_t at)
{
	struct rw_conn_ext *x = rw__conn_ext(c);
	if (!x)
		return -RW_ENOMEM;
	x->close_deadline = at;
	return 0;
}

static bool addr_eq(const struct rw_addr *a, const struct rw_addr *b)
{
	size_t n = a->family == AF_INET ? 4 : 16;
	return a->family == b->family && a->port == b->port && !memcmp(a->bytes, b->bytes, n);
}

int rw__conn_set_local(struct rw_conn *c, const struct rw_addr *a)
{
	struct rw_tcpserver *s = c->srv;
	for (uint32_t i = 0; i < s->local_count; i++)
		if (addr_eq(&s->locals[i], a)) {
			c->local = (uint8_t)i;
			return 0;
		}
	if (s->local_count < RW_LOCAL_MAX) {
		if (!s->locals && !(s->locals = calloc(RW_LOCAL_MAX, sizeof(*s->locals))))
			return -RW_ENOMEM;
		s->locals[s->local_count] = *a;
		c->local = (uint8_t)s->local_count++;
		return 0;
	}
	struct rw_conn_ext *x = rw__conn_ext(c);
	if (!x)
		return -RW_ENOMEM;
	x->local = *a;
	c->local = RW_LOCAL_EXT;
	return 0;
}

const struct rw_addr *rw__conn_local(const struct rw_conn *c)
{
	static const struct rw_addr none;
	if (c->local == RW_LOCAL_EXT)
		return c->ext ? &c->ext->local : &none;
	return c->local < c->srv->local_count ? &c->srv->locals[c->local] : &none;
}
