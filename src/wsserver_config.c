/* src/wsserver_config.c: WSServer's Config settings. The WebSocket settings
 * are handled here; every other name goes to the TCP engine, so the TCP, TLS
 * and per-connection settings (RemoteHost[id], SSLNegotiatedVersion[id], ...)
 * read and behave exactly as in TCPServer. */
#include "ws_internal.h"

#include "proto/config_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put(char *out, size_t out_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put(char *out, size_t out_len, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (!out || (size_t)n + 1 > out_len)
		return -RW_EBUFFER_TOO_SMALL;
	memcpy(out, tmp, (size_t)n + 1);
	return n;
}

static int conn_setting(struct rw_wsserver *ws, const rw_cfg_item *it, char *out, size_t len, bool *mine)
{
	*mine = rw_cfg_name_is(it, "MaxLineLength") || rw_cfg_name_is(it, "MessageLength");
	if (!*mine)
		return 0;
	struct rw_ws_conn *wc = rw__ws_conn(ws, it->index, NULL);
	if (!wc)
		return -RW_EINVALID_CONNID;
	int64_t n;
	if (rw_cfg_name_is(it, "MaxLineLength")) {
		if (!it->has_value)
			return put(out, len, "%d", wc->max_line);
		if (rw_cfg_parse_int(it->value, 256, 1 << 24, &n) < 0)
			return -RW_EBAD_VALUE;
		/* The line buffer has the old size: it is made again on next use. */
		if (wc->cold) {
			free(wc->cold->line);
			wc->cold->line = NULL;
			wc->cold->line_len = 0;
		}
		wc->max_line = (int32_t)n;
		return 0;
	}
	if (!it->has_value)
		return put(out, len, "%lld",
		           (long long)(wc->tx_open ? (int64_t)wc->tx_left : wc->cold ? wc->cold->message_length : 0));
	if (rw_cfg_parse_int(it->value, 0, INT64_MAX / 2, &n) < 0)
		return -RW_EBAD_VALUE;
	if (n == 0) {
		if (wc->cold) {
			wc->cold->message_length = 0;
			rw__ws_cold_trim(wc);
		}
		return 0;
	}
	if (!rw__ws_cold(wc))
		return -RW_ENOMEM;
	wc->cold->message_length = n;
	return 0;
}

static int config_one(rw_wsserver *ws, const char *setting, char *out, size_t len);

/* With Workers > 1 (workers.h) the object keeps the settings: a per-connection
 * setting goes to the connection's worker, a server-wide set is made on the
 * object and then on every worker. */
RW_API int rw_wsserver_config(rw_wsserver *ws, const char *setting, char *out, size_t len)
{
	if (!ws || !setting)
		return -RW_EINVAL;
	if (!ws->tcp->workers)
		return config_one(ws, setting, out, len);
	rw_cfg_item it;
	int rc = rw_cfg_split(setting, &it);
	if (rc < 0)
		return rc;
	if (it.has_index) {
		RW_WS_ROUTE(ws, it.index);
		return config_one(ws, setting, out, len);
	}
	struct rw_route r = {0};
	rw__settings_enter(ws->tcp->workers, &r);
	rc = config_one(ws, setting, out, len);
	if (rc >= 0 && it.has_value && !rw_cfg_name_is(&it, "Workers"))
		rc = rw__ws_workers_config_all(ws, setting);
	rw__settings_leave(ws->tcp->workers, &r);
	return rc;
}

int rw__ws_config_one(rw_wsserver *ws, const char *setting, char *out, size_t len)
{
	return config_one(ws, setting, out, len);
}

static int config_one(rw_wsserver *ws, const char *setting, char *out, size_t len)
{
	rw_cfg_item it;
	int rc = rw_cfg_split(setting, &it);
	if (rc < 0)
		return rc;
	if (it.has_index) {
		bool mine;
		rc = conn_setting(ws, &it, out, len, &mine);
		return mine ? rc : rw_tcpserver_config(ws->tcp, setting, out, len);
	}
	struct rw_ws_settings *st = &ws->set;
	const char *v = it.value;
	int64_t n;
	bool b;
#define NAME(x) rw_cfg_name_is(&it, x)
#define BOOL(field)                                                   \
	do {                                                              \
		if (!it.has_value)                                            \
			return put(out, len, "%s", (field) ? "True" : "False");   \
		if (rw_cfg_parse_bool(v, &b) < 0)                             \
			return -RW_EBAD_VALUE;                                    \
		(field) = b;                                                  \
		return 0;                                                     \
	} while (0)
#define INT(field, lo, hi)                                            \
	do {                                                              \
		if (!it.has_value)                                            \
			return put(out, len, "%lld", (long long)(field));         \
		if (rw_cfg_parse_int(v, lo, hi, &n) < 0)                      \
			return -RW_EBAD_VALUE;                                    \
		(field) = n;                                                  \
		return 0;                                                     \
	} while (0)
	if (NAME("BufferMessage"))
		BOOL(st->buffer_message);
	if (NAME("WaitForCloseResponse"))
		BOOL(st->wait_close);
	if (NAME("EnablePermessageDeflate"))
		BOOL(st->pmd_enable);
	if (NAME("PermessageDeflateContextTakeover"))
		BOOL(st->pmd_takeover);
	if (NAME("PermessageDeflateLevel"))
		INT(st->pmd_level, 0, 9);
	if (NAME("PermessageDeflateWindowBits"))
		INT(st->pmd_window_bits, 9, 15);
	if (NAME("PermessageDeflateMemLevel"))
		INT(st->pmd_mem_level, 0, 9);
	if (NAME("KeepRequestHeaders"))
		BOOL(st->keep_headers);
	if (NAME("MaxMessageSize"))
		INT(st->max_message, 0, INT64_MAX / 2);
	if (NAME("MaxFrameSize"))
		INT(st->max_frame, 1, UINT32_MAX / 2);
	if (NAME("MaxHandshakeSize"))
		INT(st->max_head, 512, 1 << 20);
	if (NAME("MaxLineLength"))
		INT(st->max_line, 256, 1 << 24);
	if (NAME("DisconnectStatusCode")) {
		if (!it.has_value)
			return put(out, len, "%d", st->disconnect_code);
		if (rw_cfg_parse_int(v, 0, 65535, &n) < 0 || !rw_ws_close_code_sendable((int)n))
			return -RW_EBAD_VALUE;
		st->disconnect_code = (int)n;
		return 0;
	}
	if (NAME("DisconnectStatusDescription")) {
		if (!it.has_value)
			return put(out, len, "%s", st->disconnect_desc ? st->disconnect_desc : "");
		if (!rw_utf8_valid((const uint8_t *)v, strlen(v)))
			return -RW_EBAD_VALUE;
		return rw__strset(&st->disconnect_desc, v);
	}
#undef NAME
#undef BOOL
#undef INT
	return rw_tcpserver_config(ws->tcp, setting, out, len);
}
