/* src/tcpserver_config.c: TCPServer's Config("Name[=Value]") and its
 * settings' defaults. Server-wide settings are one table (name, type, field,
 * range, when they may change); per-connection settings ("Name[id]") are a
 * short switch over the connection's properties. */
#include "internal.h"
#include "proto/config_parse.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum cfg_type { T_BOOL, T_INT, T_U32, T_ADDRS, T_LOOP };
enum { F_NOT_WHILE_LISTENING = 1, F_READONLY = 2 };

struct cfg_entry {
	const char *name;
	enum cfg_type type;
	size_t off;
	int64_t min, max;
	unsigned flags;
};

#define S(field) offsetof(struct rw_tcp_settings, field)
#define L(field) offsetof(rw_loop_options, field)
static const struct cfg_entry entries[] = {
	{"MaxConnections", T_INT, S(max_connections), 1, 1000000, F_NOT_WHILE_LISTENING},
	{"AllowedClients", T_ADDRS, S(allowed_text), 0, 0, 0},
	{"BlockedClients", T_ADDRS, S(blocked_text), 0, 0, 0},
	{"BindExclusively", T_BOOL, S(bind_exclusively), 0, 1, 0},
	{"ReusePort", T_BOOL, S(reuse_port), 0, 1, 0},
	{"TcpNoDelay", T_BOOL, S(tcp_nodelay), 0, 1, 0},
	{"UseIPv6", T_INT, S(use_ipv6), 0, 2, 0},
	{"InBufferSize", T_INT, S(in_buffer_size), 0, 1 << 30, 0},
	{"OutBufferSize", T_INT, S(out_buffer_size), 0, 1 << 30, 0},
	{"KeepAliveTime", T_INT, S(keepalive_time_ms), 0, 1 << 30, 0},
	{"KeepAliveInterval", T_INT, S(keepalive_interval_ms), 0, 1 << 30, 0},
	{"SendQueueLimit", T_U32, S(send_queue_limit), 1, 1 << 30, 0},
	{"LingerTimeout", T_INT, S(linger_timeout), 0, 86400, 0},
	{"ZeroCopyThreshold", T_U32, S(zero_copy_threshold), 0, 1 << 30, 0},
	{"DoEventsTimeout", T_INT, S(do_events_timeout), 0, 3600000, 0},
	{"LogLevel", T_INT, S(log_level), 0, 4, 0},
	{"DefaultConnectionTimeout", T_INT, S(default_connection_timeout), 0, 86400, 0},
	{"SSLEnabledProtocols", T_INT, S(ssl_protocols), 0, 65535, F_NOT_WHILE_LISTENING},
	{"SSLCipherStrength", T_INT, S(ssl_cipher_strength), 0, 512, F_NOT_WHILE_LISTENING},
	{"RingEntries", T_LOOP, L(ring_entries), 8, 32768, 0},
	{"RecvBufferSize", T_LOOP, L(recv_buffer_size), 512, 1 << 24, 0},
	{"RecvBufferCount", T_LOOP, L(recv_buffer_count), 1, 32768, 0},
};
#undef S
#undef L

int rw__strset(char **field, const char *value)
{
	char *copy = strdup(value ? value : "");
	if (!copy)
		return -RW_ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

void rw__settings_defaults(struct rw_tcp_settings *st)
{
	memset(st, 0, sizeof(*st));
	st->backlog = 5;
	st->default_max_line = 2048;
	st->linger = true;
	st->max_connections = 1000;
	st->allowed_text = strdup("*");
	st->blocked_text = strdup("");
	rw_addr_list_parse(&st->allowed, "*");
	st->bind_exclusively = true;
	st->send_queue_limit = 1u << 20;
	st->linger_timeout = 10;
	st->do_events_timeout = 1000;
	st->log_level = RW_LOG_WARN;
	st->ssl_start_mode = RW_SSL_START_NONE;
	st->ssl_cert_store_type = RW_CERT_PEM_KEY_FILE;
	st->ssl_protocols = 3072 | 12288; /* TLS 1.2 + TLS 1.3 */
}

void rw__settings_free(struct rw_tcp_settings *st)
{
	free(st->local_host);
	free(st->allowed_text);
	free(st->blocked_text);
	rw_addr_list_free(&st->allowed);
	rw_addr_list_free(&st->blocked);
	rw__ssl_settings_free(st);
	memset(st, 0, sizeof(*st));
}

static int put(char *out, size_t out_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int put(char *out, size_t out_len, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (!out || (size_t)n + 1 > out_len)
		return -RW_EBUFFER_TOO_SMALL;
	memcpy(out, tmp, (size_t)n + 1);
	return n;
}

static int set_addrs(char **text, rw_addr_list *list, const char *value)
{
	rw_addr_list fresh = {0};
	int rc = rw_addr_list_parse(&fresh, value);
	if (rc < 0)
		return rc;
	if (rw__strset(text, value) < 0) {
		rw_addr_list_free(&fresh);
		return -RW_ENOMEM;
	}
	rw_addr_list_free(list);
	*list = fresh;
	return 0;
}

static int entry_set(struct rw_tcpserver *s, const struct cfg_entry *e, const char *v)
{
	struct rw_tcp_settings *st = &s->set;
	char *base = e->type == T_LOOP ? (char *)&s->loop_opts : (char *)st;
	if ((e->flags & F_NOT_WHILE_LISTENING) && s->listening)
		return e->off == offsetof(struct rw_tcp_settings, max_connections) ? -RW_EMAXCONN_LISTENING
		                                                                    : -RW_EBAD_STATE;
	if (e->type == T_LOOP && s->loop)
		return -RW_EBAD_STATE; /* ring and buffers are fixed once the loop exists */
	if (e->type == T_BOOL) {
		bool b;
		if (rw_cfg_parse_bool(v, &b) < 0)
			return -RW_EBAD_VALUE;
		*(bool *)(base + e->off) = b;
		return 0;
	}
	if (e->type == T_ADDRS) {
		bool allowed = e->off == offsetof(struct rw_tcp_settings, allowed_text);
		return set_addrs(allowed ? &st->allowed_text : &st->blocked_text,
		                 allowed ? &st->allowed : &st->blocked, v);
	}
	int64_t n;
	if (rw_cfg_parse_int(v, e->min, e->max, &n) < 0)
		return -RW_EBAD_VALUE;
	if (e->type == T_LOOP && e->off == offsetof(rw_loop_options, recv_buffer_count) && (n & (n - 1)))
		return -RW_EBAD_VALUE; /* the buffer ring needs a power of two */
	if (e->type == T_INT)
		*(int *)(base + e->off) = (int)n;
	else
		*(unsigned *)(base + e->off) = (unsigned)n;
	return 0;
}

static int entry_get(const struct rw_tcpserver *s, const struct cfg_entry *e, char *out, size_t len)
{
	const char *base = e->type == T_LOOP ? (const char *)(s->loop ? &s->loop->opts : &s->loop_opts)
	                                     : (const char *)&s->set;
	switch (e->type) {
	case T_BOOL:
		return put(out, len, "%s", *(const bool *)(base + e->off) ? "True" : "False");
	case T_ADDRS:
		return put(out, len, "%s", *(char *const *)(base + e->off));
	case T_INT:
		return put(out, len, "%d", *(const int *)(base + e->off));
	default:
		return put(out, len, "%u", *(const unsigned *)(base + e->off));
	}
}

static int conn_config(struct rw_tcpserver *s, const rw_cfg_item *it, char *out, size_t len)
{
	struct rw_conn *c = rw__conn_find(s, it->index);
	if (!c)
		return -RW_EINVALID_CONNID;
	int64_t n = 0;
	if (rw_cfg_name_is(it, "MaxLineLength")) {
		if (!it->has_value)
			return put(out, len, "%d", rw_tcpserver_get_max_line_length(s, c->id));
		return rw_tcpserver_set_max_line_length(s, c->id, rw_cfg_parse_int(it->value, 0, 1 << 30, &n) < 0 ? -1 : (int)n);
	}
	if (rw_cfg_name_is(it, "IdleTimeout") || rw_cfg_name_is(it, "Timeout") || rw_cfg_name_is(it, "RecordLength")) {
		int *field = rw_cfg_name_is(it, "Timeout") ? &c->timeout : &c->idle_timeout;
		if (rw_cfg_name_is(it, "RecordLength")) {
			if (!it->has_value)
				return put(out, len, "%d", rw_tcpserver_get_record_length(s, c->id));
			if (rw_cfg_parse_int(it->value, 0, 1 << 30, &n) < 0)
				return -RW_EBAD_VALUE;
			return rw_tcpserver_change_record_length(s, c->id, (int)n);
		}
		if (!it->has_value)
			return put(out, len, "%d", *field);
		if (rw_cfg_parse_int(it->value, 0, 1 << 30, &n) < 0)
			return -RW_EBAD_VALUE;
		*field = (int)n;
		return 0;
	}
	if (it->has_value)
		return -RW_EUNKNOWN_CONFIG; /* the rest are read-only or unknown */
	if (rw_cfg_name_is(it, "RemoteHost"))
		return rw__addr_text(&c->peer, out, len);
	if (rw_cfg_name_is(it, "LocalAddress"))
		return rw__addr_text(rw__conn_local(c), out, len);
	if (rw_cfg_name_is(it, "RemotePort"))
		return put(out, len, "%u", c->peer.port);
	if (rw_cfg_name_is(it, "BytesSent"))
		return put(out, len, "%" PRId64, c->bytes_sent);
	if (rw_cfg_name_is(it, "SendQueueBytes"))
		return put(out, len, "%u", c->sq_bytes);
	if (rw_cfg_name_is(it, "SSLNegotiatedVersion") || rw_cfg_name_is(it, "SSLNegotiatedCipherSuite") ||
	    rw_cfg_name_is(it, "SSLNegotiatedALPN") || rw_cfg_name_is(it, "SSLServerName") ||
	    rw_cfg_name_is(it, "SSLNegotiatedCipher")) {
		if (!c->tls || !(c->flags & RW_C_TLS_OPEN))
			return put(out, len, "%s", "");
		const char *v = rw_cfg_name_is(it, "SSLNegotiatedVersion") ? rw__tls_version(c->tls)
		              : rw_cfg_name_is(it, "SSLNegotiatedALPN")    ? rw__tls_alpn(c->tls)
		              : rw_cfg_name_is(it, "SSLServerName")        ? rw__tls_server_name(c->tls)
		              : rw_cfg_name_is(it, "SSLNegotiatedCipher")  ? rw__tls_bulk_cipher(c->tls)
		                                                           : rw__tls_cipher(c->tls);
		return put(out, len, "%s", v);
	}
	if (rw_cfg_name_is(it, "SSLNegotiatedCipherStrength") || rw_cfg_name_is(it, "SSLNegotiatedKeyExchange") ||
	    rw_cfg_name_is(it, "SSLNegotiatedKeyExchangeStrength")) {
		if (!c->tls || !(c->flags & RW_C_TLS_OPEN))
			return put(out, len, "%s", "");
		const char *group;
		int bits;
		const char *kx = rw__tls_kx(c->tls, &group, &bits);
		if (rw_cfg_name_is(it, "SSLNegotiatedCipherStrength"))
			return put(out, len, "%d", rw__tls_cipher_bits(c->tls));
		if (rw_cfg_name_is(it, "SSLNegotiatedKeyExchange"))
			return put(out, len, "%s%s%s", kx, *group ? " " : "", group);
		return put(out, len, "%d", bits);
	}
	return -RW_EUNKNOWN_CONFIG;
}

/* The public object of a multi-worker server (workers.h) keeps the settings;
 * a per-connection setting goes to the connection's worker, a server-wide
 * set is made on the object and then on every worker. */
RW_API int rw_tcpserver_config(rw_tcpserver *s, const char *setting, char *out, size_t out_len)
{
	if (!s || !setting)
		return -RW_EINVAL;
	rw_cfg_item it;
	if (rw_cfg_split(setting, &it) < 0)
		return -RW_EBAD_VALUE;
	if (rw_cfg_name_is(&it, "Workers") && !it.has_index)
		return rw__workers_config(s, it.has_value ? it.value : NULL, out, out_len);
	if (!s->workers)
		return rw__tcpserver_config_one(s, setting, out, out_len);
	if (it.has_index) {
		RW_ROUTE(s, it.index);
		return rw__tcpserver_config_one(s, setting, out, out_len);
	}
	if (rw_cfg_name_is(&it, "RejectedConnectionCount") && !it.has_value)
		return put(out, out_len, "%" PRId64, rw__workers_rejected(s));
	if (rw_cfg_name_is(&it, "Backend") && !it.has_value) { /* the workers' loops say which */
		struct rw_route w0 = {0};
		int rc = rw__tcpserver_config_one(rw__worker_lock(s->workers, 0, &w0), setting, out, out_len);
		rw__route_end(&w0);
		return rc;
	}
	struct rw_route r = {0};
	rw__settings_enter(s->workers, &r);
	int rc = rw__tcpserver_config_one(s, setting, out, out_len);
	if (rc >= 0 && it.has_value)
		rc = rw__workers_config_all(s, setting);
	rw__settings_leave(s->workers, &r);
	return rc;
}

int rw__tcpserver_config_one(rw_tcpserver *s, const char *setting, char *out, size_t out_len)
{
	rw_cfg_item it;
	if (rw_cfg_split(setting, &it) < 0)
		return -RW_EBAD_VALUE;
	if (it.has_index)
		return conn_config(s, &it, out, out_len);
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		const struct cfg_entry *e = &entries[i];
		if (!rw_cfg_name_is(&it, e->name))
			continue;
		if (!it.has_value)
			return entry_get(s, e, out, out_len);
		return entry_set(s, e, it.value);
	}
	char **text = rw_cfg_name_is(&it, "SSLALPNProtocols") ? &s->set.ssl_alpn
	            : rw_cfg_name_is(&it, "SSLEnabledCipherSuites") ? &s->set.ssl_cipher_suites
	            : rw_cfg_name_is(&it, "SSLKeyLogFile") ? &s->set.ssl_keylog_file
	            : rw_cfg_name_is(&it, "TLS13SupportedGroups") ? &s->set.ssl_groups13
	            : rw_cfg_name_is(&it, "TLS12SupportedGroups") ? &s->set.ssl_groups12
	            : rw_cfg_name_is(&it, "TLS13SignatureAlgorithms") ? &s->set.ssl_sigalgs13
	            : rw_cfg_name_is(&it, "TLS12SignatureAlgorithms") ? &s->set.ssl_sigalgs12
	            : rw_cfg_name_is(&it, "SSLClientCACerts") ? &s->set.ssl_client_ca_certs
	            : rw_cfg_name_is(&it, "OpenSSLCAFile")    ? &s->set.ssl_ca_file
	                                                      : NULL;
	if (text) { /* text settings the TLS context takes at StartListening */
		if (!it.has_value)
			return put(out, out_len, "%s", *text ? *text : "");
		if (s->listening)
			return -RW_EBAD_STATE;
		return rw__strset(text, it.value);
	}
	if (rw_cfg_name_is(&it, "SSLEnableRenegotiation")) {
		bool on;
		if (!it.has_value)
			return put(out, out_len, "%s", s->set.ssl_renegotiation ? "True" : "False");
		if (rw_cfg_parse_bool(it.value, &on) < 0)
			return -RW_EBAD_VALUE;
		if (s->listening)
			return -RW_EBAD_STATE;
		/* Debian's wolfSSL is built without secure renegotiation. */
		if (on && !rw__tls_renegotiation_supported())
			return -RW_ENOT_SUPPORTED;
		s->set.ssl_renegotiation = on;
		return 0;
	}
	if (rw_cfg_name_is(&it, "Backend"))
		return rw__backend_config(&s->loop_opts.backend, s->loop, it.has_value ? it.value : NULL, out, out_len);
	if (rw_cfg_name_is(&it, "ProxyProtocol"))
		return rw__proxy_config(s, it.has_value ? it.value : NULL, out, out_len);
	if (rw_cfg_name_is(&it, "RejectedConnectionCount") || rw_cfg_name_is(&it, "BuildInfo")) {
		if (it.has_value)
			return -RW_EBAD_STATE; /* read-only */
		if (rw_cfg_name_is(&it, "BuildInfo"))
			return put(out, out_len, "ringworks %s", rw_version());
		return put(out, out_len, "%" PRId64, s->rejected);
	}
	return -RW_EUNKNOWN_CONFIG;
}
