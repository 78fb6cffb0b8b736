/* src/dtls_api.c: DTLSServer's per-connection methods and properties: send,
 * disconnect, PauseData/ProcessData, and the Connection* read-outs. None of
 * them fires an event: closes and deliveries happen in the next deferred
 * phase of the loop. */
#include "dtls_internal.h"
#include "proto/config_parse.h"

#include <stdio.h>
#include <string.h>

/* A connection that may be used: found and not closing (or the one whose
 * Disconnected is running, for its read-outs). */
static struct rw_dtls_sess *live(const rw_dtlsserver *s, rw_connid id)
{
	if (!s)
		return NULL;
	struct rw_dtls_sess *x = rw__dtls_find(s, id);
	if (!x || (x->state == RW_DS_CLOSING && x != s->disc_firing))
		return NULL;
	return x;
}

RW_API int rw_dtlsserver_send(rw_dtlsserver *s, rw_connid id, const void *data, size_t len)
{
	struct rw_dtls_sess *x = live(s, id);
	if (!x)
		return -RW_EINVALID_CONNID;
	if (x->state != RW_DS_OPEN)
		return -RW_EDTLS_INVALID_FLOW;
	if (!len)
		return 0;
	if (!data)
		return -RW_EINVAL;
	int max = wolfSSL_GetMaxOutputSize(x->ssl);
	if (max > 0 && len > (size_t)max)
		return -RW_EMSGSIZE;
	if (s->tx_inflight >= s->set.send_queue_limit)
		return -RW_ENOBUFS;
	int n = wolfSSL_write(x->ssl, data, (int)len);
	if (n != (int)len) {
		int err = wolfSSL_get_error(x->ssl, n);
		return err == -439 /* DTLS_SIZE_ERROR */ ? -RW_EMSGSIZE : -RW_ESSL_ENCRYPT;
	}
	x->last_active = s->loop->now_ms;
	return 0;
}

RW_API int rw_dtlsserver_send_bytes(rw_dtlsserver *s, rw_connid id, const void *data, size_t len)
{
	return rw_dtlsserver_send(s, id, data, len);
}

RW_API int rw_dtlsserver_send_text(rw_dtlsserver *s, rw_connid id, const char *text)
{
	return rw_dtlsserver_send(s, id, text, text ? strlen(text) : 0);
}

RW_API int rw_dtlsserver_disconnect(rw_dtlsserver *s, rw_connid id)
{
	if (!s)
		return -RW_EINVAL;
	struct rw_dtls_sess *x = rw__dtls_find(s, id);
	if (!x)
		return -RW_EINVALID_CONNID;
	if (x->state == RW_DS_CLOSING)
		return 0;
	if (x->state == RW_DS_HANDSHAKING)
		rw__dtls_sess_close(x, RW_EDTLS_HANDSHAKE, "Disconnected during the handshake", false);
	else
		rw__dtls_sess_close(x, 0, "OK", true);
	return 0;
}

RW_API int rw_dtlsserver_pause_data(rw_dtlsserver *s, rw_connid id)
{
	struct rw_dtls_sess *x = live(s, id);
	if (!x)
		return -RW_EINVALID_CONNID;
	x->paused = true;
	return 0;
}

RW_API int rw_dtlsserver_process_data(rw_dtlsserver *s, rw_connid id)
{
	struct rw_dtls_sess *x = live(s, id);
	if (!x)
		return -RW_EINVALID_CONNID;
	if (!x->paused)
		return 0;
	x->paused = false;
	if (x->q_head || x->close_after_queue) {
		rw__dtls_defer(x);
		/* Outside do_events the loop must not sleep on it. */
		s->client.wake_ms = s->loop ? s->loop->now_ms : 0;
	}
	return 0;
}

static int copy_out(const char *v, char *buf, size_t len)
{
	size_t n = strlen(v);
	if (!buf || n + 1 > len)
		return -RW_EBUFFER_TOO_SMALL;
	memcpy(buf, v, n + 1);
	return (int)n;
}

RW_API int rw_dtlsserver_get_remote_host(const rw_dtlsserver *s, rw_connid id, char *buf, size_t len)
{
	struct rw_dtls_sess *x = live(s, id);
	return x ? copy_out(x->addr_text, buf, len) : -RW_EINVALID_CONNID;
}

RW_API int rw_dtlsserver_get_remote_port(const rw_dtlsserver *s, rw_connid id)
{
	struct rw_dtls_sess *x = live(s, id);
	return x ? x->port : -RW_EINVALID_CONNID;
}

RW_API int rw_dtlsserver_get_connection_local_host(const rw_dtlsserver *s, rw_connid id, char *buf, size_t len)
{
	struct rw_dtls_sess *x = live(s, id);
	return x ? copy_out(s->bound_host, buf, len) : -RW_EINVALID_CONNID;
}

RW_API int rw_dtlsserver_get_connection_local_port(const rw_dtlsserver *s, rw_connid id)
{
	struct rw_dtls_sess *x = live(s, id);
	return x ? s->bound_port : -RW_EINVALID_CONNID;
}

RW_API int rw_dtlsserver_get_connection_count(const rw_dtlsserver *s)
{
	return s ? s->conn_count : 0;
}

RW_API int rw_dtlsserver_get_connection_ids(const rw_dtlsserver *s, rw_connid *ids, size_t max)
{
	if (!s)
		return 0;
	int n = 0;
	for (struct rw_dtls_sess *x = s->head; x; x = x->next) {
		if (x->state != RW_DS_OPEN)
			continue;
		if ((size_t)n < max && ids)
			ids[n] = x->id;
		n++;
	}
	return n;
}

/* Per-connection Config read-outs; -RW_EUNKNOWN_CONFIG when `name` is not one. */
int rw__dtls_conn_config(rw_dtlsserver *s, const rw_cfg_item *it, char *out, size_t out_len)
{
	struct rw_dtls_sess *x = live(s, (rw_connid)it->index);
	char v[128];
	if (rw_cfg_name_is(it, "RemoteHost") || rw_cfg_name_is(it, "ConnectionRemoteHost")) {
		if (!x)
			return -RW_EINVALID_CONNID;
		snprintf(v, sizeof(v), "%s", x->addr_text);
	} else if (rw_cfg_name_is(it, "RemotePort") || rw_cfg_name_is(it, "ConnectionRemotePort")) {
		if (!x)
			return -RW_EINVALID_CONNID;
		snprintf(v, sizeof(v), "%d", x->port);
	} else if (rw_cfg_name_is(it, "SSLNegotiatedVersion")) {
		if (!x)
			return -RW_EINVALID_CONNID;
		snprintf(v, sizeof(v), "%s", x->state == RW_DS_OPEN ? wolfSSL_get_version(x->ssl) : "");
	} else if (rw_cfg_name_is(it, "SSLNegotiatedCipherSuite")) {
		if (!x)
			return -RW_EINVALID_CONNID;
		const char *iana = NULL;
		int cs = x->state == RW_DS_OPEN ? wolfSSL_get_current_cipher_suite(x->ssl) : -1;
		if (cs >= 0)
			iana = wolfSSL_get_cipher_name_iana_from_suite((unsigned char)(cs >> 8), (unsigned char)cs);
		snprintf(v, sizeof(v), "%s", iana && *iana ? iana : cs >= 0 ? wolfSSL_get_cipher_name(x->ssl) : "");
	} else if (rw_cfg_name_is(it, "MaxSendSize")) {
		if (!x)
			return -RW_EINVALID_CONNID;
		snprintf(v, sizeof(v), "%d", x->state == RW_DS_OPEN ? wolfSSL_GetMaxOutputSize(x->ssl) : 0);
	} else if (rw_cfg_name_is(it, "SSLNegotiatedCipher") || rw_cfg_name_is(it, "SSLNegotiatedCipherStrength") ||
	           rw_cfg_name_is(it, "SSLNegotiatedKeyExchange") ||
	           rw_cfg_name_is(it, "SSLNegotiatedKeyExchangeStrength")) {
		if (!x)
			return -RW_EINVALID_CONNID;
		rw__dtls_negotiated(x, it, v, sizeof(v));
	} else {
		return -RW_EUNKNOWN_CONFIG;
	}
	if (it->has_value)
		return -RW_EBAD_VALUE; /* all read-only */
	return copy_out(v, out, out_len);
}
