/* src/ws_workers.c: WSServer with Config Workers=N (workers.h). Each worker
 * is a complete WSServer (its own engine, deflate streams and inflate pool:
 * the "one deflate stream per worker" that needs no lock) whose events are
 * passed to the object's events with the object as the server argument; the
 * object's settings are copied into each worker before every start. */
#include "ws_internal.h"

#include <stdlib.h>
#include <string.h>

#define OBJ(u) ((struct rw_wsserver *)rw__worker_group(u)->master->layer)

static void w_request(rw_wsserver *w, rw_wsserver_connection_request *e, void *u)
{
	struct rw_wsserver *m = OBJ(u);
	(void)w;
	if (m->ev.connection_request)
		m->ev.connection_request(m, e, m->user);
}

static void w_ssl_auth(rw_wsserver *w, rw_wsserver_ssl_client_authentication *e, void *u)
{
	struct rw_wsserver *m = OBJ(u);
	(void)w;
	if (m->ev.ssl_client_authentication)
		m->ev.ssl_client_authentication(m, e, m->user);
}

static void w_ssl_status(rw_wsserver *w, const rw_wsserver_ssl_status *e, void *u)
{
	struct rw_wsserver *m = OBJ(u);
	(void)w;
	if (m->ev.ssl_status)
		m->ev.ssl_status(m, e, m->user);
}

static void w_open(rw_wsserver *w, rw_wsserver_websocket_open_request *e, void *u)
{
	struct rw_wsserver *m = OBJ(u);
	(void)w;
	if (m->ev.websocket_open_request)
		m->ev.websocket_open_request(m, e, m->user);
}

static void w_connected(rw_wsserver *w, const rw_wsserver_connected *e, void *u)
{
	struct rw_wsserver *m = OBJ(u);
	(void)w;
	if (m->ev.connected)
		m->ev.connected(m, e, m->user);
}

static void w_ready(rw_wsserver *w, const rw_wsserver_ready_to_send *e, void *u)
{
	struct rw_wsserver *m = OBJ(u);
	(void)w;
	if (m->ev.ready_to_send)
		m->ev.ready_to_send(m, e, m->user);
}

static void w_data(rw_wsserver *w, const rw_wsserver_data_in *e, void *u)
{
	struct rw_wsserver *m = OBJ(u);
	(void)w;
	if (m->ev.data_in)
		m->ev.data_in(m, e, m->user);
}

static void w_ping(rw_wsserver *w, const rw_wsserver_ping_event *e, void *u)
{
	struct rw_wsserver *m = OBJ(u);
	(void)w;
	if (m->ev.ping)
		m->ev.ping(m, e, m->user);
}

static void w_disconnected(rw_wsserver *w, const rw_wsserver_disconnected *e, void *u)
{
	struct rw_wsserver *m = OBJ(u);
	(void)w;
	if (m->ev.disconnected)
		m->ev.disconnected(m, e, m->user);
}

static void w_error(rw_wsserver *w, const rw_wsserver_error *e, void *u)
{
	struct rw_wsserver *m = OBJ(u);
	(void)w;
	if (m->ev.error)
		m->ev.error(m, e, m->user);
}

static void w_log(rw_wsserver *w, int level, const char *message, void *u)
{
	struct rw_wsserver *m = OBJ(u);
	(void)w;
	if (m->ev.log)
		m->ev.log(m, level, message, m->user);
}

static const rw_wsserver_events pass = {
	.connection_request = w_request, .ssl_client_authentication = w_ssl_auth,
	.ssl_status = w_ssl_status, .websocket_open_request = w_open, .connected = w_connected,
	.ready_to_send = w_ready, .data_in = w_data, .ping = w_ping,
	.disconnected = w_disconnected, .error = w_error, .log = w_log,
};

static void *ws_make(struct rw_tcpserver *master, void *wref, struct rw_tcpserver **tcp)
{
	(void)master;
	rw_wsserver *w = rw_wsserver_new();
	if (w)
		rw_wsserver_set_events(w, &pass, wref);
	*tcp = w ? w->tcp : NULL;
	return w;
}

static int ws_copy(void *obj, struct rw_tcpserver *master)
{
	struct rw_wsserver *w = obj, *m = master->layer;
	struct rw_tcp_settings fresh;
	char *desc = m->set.disconnect_desc ? strdup(m->set.disconnect_desc) : NULL;
	if (m->set.disconnect_desc && !desc)
		return -RW_ENOMEM;
	int rc = rw__settings_copy(&fresh, &master->set);
	if (rc < 0) {
		free(desc);
		return rc;
	}
	rw__settings_free(&w->tcp->set);
	w->tcp->set = fresh;
	w->tcp->loop_opts = master->loop_opts;
	free(w->set.disconnect_desc);
	w->set = m->set;
	w->set.disconnect_desc = desc;
	return 0;
}

static void ws_destroy(void *obj) { rw_wsserver_free(obj); }
static int ws_shutdown(void *obj) { return rw_wsserver_shutdown(obj); }

const struct rw_worker_kind rw__ws_worker_kind = {ws_make, ws_copy, ws_destroy, ws_shutdown};

int rw__ws_workers_count(const struct rw_wsserver *ws)
{
	struct rw_workers *g = ws->tcp->workers;
	int n = 0;
	for (unsigned i = 0; i < rw__workers_count(g); i++) {
		struct rw_route r = {0};
		n += ((struct rw_wsserver *)rw__worker_lock(g, i, &r)->layer)->open_count;
		rw__route_end(&r);
	}
	return n;
}

int rw__ws_workers_ids(const struct rw_wsserver *ws, rw_connid *ids, size_t max)
{
	struct rw_workers *g = ws->tcp->workers;
	int total = 0;
	for (unsigned i = 0; i < rw__workers_count(g); i++) {
		struct rw_route r = {0};
		struct rw_wsserver *w = rw__worker_lock(g, i, &r)->layer;
		size_t got = (size_t)total < max ? (size_t)total : max;
		int n = rw_wsserver_get_connection_ids(w, ids ? ids + got : NULL, ids ? max - got : 0);
		rw__route_end(&r);
		total += n > 0 ? n : 0;
	}
	return total;
}

int rw__ws_workers_config_all(struct rw_wsserver *ws, const char *setting)
{
	struct rw_workers *g = ws->tcp->workers;
	for (unsigned i = 0; i < rw__workers_count(g); i++) {
		struct rw_route r = {0};
		int rc = rw__ws_config_one(rw__worker_lock(g, i, &r)->layer, setting, NULL, 0);
		rw__route_end(&r);
		if (rc < 0)
			return rc;
	}
	return 0;
}
