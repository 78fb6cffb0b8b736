/* src/dtls_config.c: DTLSServer's server-wide properties, its settings'
 * defaults and Config("Name[=Value]"). Server-wide settings are one table
 * (name, type, field, range, whether they are fixed while listening);
 * per-connection read-outs are in dtls_api.c. */
#include "dtls_internal.h"
#include "proto/config_parse.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rw__dtls_conn_config(rw_dtlsserver *s, const rw_cfg_item *it, char *out, size_t out_len);

enum cfg_type { T_BOOL, T_INT, T_U32, T_ADDRS, T_STR };
enum { F_FIXED = 1 };

struct cfg_entry {
	const char *name;
	enum cfg_type type;
	size_t off;
	int64_t min, max;
	unsigned flags;
};

#define S(field) offsetof(struct rw_dtls_settings, field)
static const struct cfg_entry entries[] = {
	{"MaxConnections", T_INT, S(max_connections), 1, 100000, F_FIXED},
	{"AllowedClients", T_ADDRS, S(allowed_text), 0, 0, 0},
	{"BlockedClients", T_ADDRS, S(blocked_text), 0, 0, 0},
	{"UseIPv6", T_INT, S(use_ipv6), 0, 2, F_FIXED},
	{"ShareLocalPort", T_BOOL, S(share_local_port), 0, 1, F_FIXED},
	{"DontFragment", T_BOOL, S(dont_fragment), 0, 1, F_FIXED},
	{"InBufferSize", T_INT, S(in_buffer_size), 0, 1 << 30, F_FIXED},
	{"OutBufferSize", T_INT, S(out_buffer_size), 0, 1 << 30, F_FIXED},
	{"LogLevel", T_INT, S(log_level), 0, 4, 0},
	{"DoEventsTimeout", T_INT, S(do_events_timeout), 0, 3600000, 0},
	{"HandshakeTimeout", T_INT, S(handshake_timeout), 1, 86400, 0},
	{"RetransmitTimeoutMax", T_INT, S(retransmit_max), 1, 64, 0},
	{"CookieSecretLifetime", T_INT, S(cookie_lifetime), 1, 86400, 0},
	{"PausedQueueLimit", T_U32, S(paused_queue_limit), 0, 1 << 20, 0},
	{"SendQueueLimit", T_U32, S(send_queue_limit), 1, 1 << 20, 0},
	{"SSLEnabledProtocols", T_INT, S(protocols), 1, 65535, F_FIXED},
	{"UseConnectionID", T_BOOL, S(use_cid), 0, 1, F_FIXED},
	{"MTU", T_INT, S(mtu), 0, 65535, F_FIXED},
	{"DefaultIdleTimeout", T_INT, S(idle_timeout), 0, 1 << 30, 0},
	{"SSLClientCACerts", T_STR, S(client_ca_certs), 0, 0, F_FIXED},
	{"OpenSSLCAFile", T_STR, S(ca_file), 0, 0, F_FIXED},
	{"SSLEnabledCipherSuites", T_STR, S(cipher_suites), 0, 0, F_FIXED},
};

/* The documents' SSL settings this component does not have (dtlsserver.h):
 * reading or setting one gives -RW_ENOT_SUPPORTED, never a silent no-op. */
static const char *const unsupported[] = {
	"SSLCipherStrength", "SSLKeyLogFile", "LogSSLPackets", "SSLCACerts", "TLS12SignatureAlgorithms",
	"TLS12SupportedGroups", "SSLEnableRenegotiation", "SSLCheckCRL", "SSLCheckOCSP", "SSLSecurityFlags",
	"ReuseSSLSession", "SSLServerCACerts", "KeepAliveTime", "KeepAliveInterval", "KeepAliveMode",
	"SSLCertEffectiveDate", "SSLCertExpirationDate", "SSLCertExtendedKeyUsage", "SSLCertFingerprint",
	"SSLCertFingerprintSHA1", "SSLCertFingerprintSHA256", "SSLCertIssuer", "SSLCertPrivateKey",
	"SSLCertPrivateKeyAvailable", "SSLCertPrivateKeyContainer", "SSLCertPublicKey",
	"SSLCertPublicKeyAlgorithm", "SSLCertPublicKeyLength", "SSLCertSerialNumber",
	"SSLCertSignatureAlgorithm", "SSLCertSubjectAltNames", "SSLCertThumbprintMD5",
	"SSLCertThumbprintSHA1", "SSLCertThumbprintSHA256", "SSLCertUsage", "SSLCertUsageFlags",
	"SSLCertVersion", "SSLCertEncoded",
};
#undef S

void rw__dtls_settings_defaults(struct rw_dtls_settings *st)
{
	memset(st, 0, sizeof(*st));
	st->max_connections = 1000;
	st->allowed_text = strdup("*");
	st->blocked_text = strdup("");
	rw_addr_list_parse(&st->allowed, "*");
	st->log_level = RW_LOG_WARN;
	st->do_events_timeout = 1000;
	st->handshake_timeout = 30;
	st->retransmit_max = 64;
	st->cookie_lifetime = 60;
	st->paused_queue_limit = 64;
	st->send_queue_limit = 4096;
	st->protocols = RW_DTLS_PROTO_DTLS12;
	st->cert_store_type = RW_CERT_PEM_KEY_FILE;
}

void rw__dtls_settings_free(struct rw_dtls_settings *st)
{
	free(st->local_host);
	free(st->allowed_text);
	free(st->blocked_text);
	rw_addr_list_free(&st->allowed);
	rw_addr_list_free(&st->blocked);
	free(st->cert_store);
	free(st->cert_subject);
	free(st->cert_password);
	free(st->client_ca_certs);
	free(st->ca_file);
	free(st->cipher_suites);
	memset(st, 0, sizeof(*st));
}

static int put(char *out, size_t out_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put(char *out, size_t out_len, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (!out || n < 0 || (size_t)n + 1 > out_len)
		return -RW_EBUFFER_TOO_SMALL;
	memcpy(out, tmp, (size_t)n + 1);
	return n;
}

static int set_entry(rw_dtlsserver *s, const struct cfg_entry *e, const char *value)
{
	char *base = (char *)&s->set;
	if (e->type == T_BOOL) {
		bool b;
		if (rw_cfg_parse_bool(value, &b) < 0)
			return -RW_EBAD_VALUE;
#if !defined(WOLFSSL_DTLS_CID) || !defined(WOLFSSL_DTLS13)
		if (b && e->off == offsetof(struct rw_dtls_settings, use_cid))
			return -RW_ENOT_SUPPORTED; /* wolfSSL 5.5's connection IDs are DTLS 1.3's */
#endif
		*(bool *)(base + e->off) = b;
		return 0;
	}
	if (e->type == T_INT || e->type == T_U32) {
		int64_t v;
		if (rw_cfg_parse_int(value, e->min, e->max, &v) < 0)
			return -RW_EBAD_VALUE;
		if (e->off == offsetof(struct rw_dtls_settings, protocols)) {
			if (v & ~(int64_t)(RW_DTLS_PROTO_DTLS12 | RW_DTLS_PROTO_DTLS13))
				return -RW_ENOT_SUPPORTED;
#if !defined(WOLFSSL_DTLS13)
			if (v & RW_DTLS_PROTO_DTLS13)
				return -RW_ENOT_SUPPORTED;
#endif
		}
#if !defined(WOLFSSL_DTLS_MTU)
		if (e->off == offsetof(struct rw_dtls_settings, mtu) && v != 0)
			return -RW_ENOT_SUPPORTED;
#endif
		if (e->type == T_INT)
			*(int *)(base + e->off) = (int)v;
		else
			*(uint32_t *)(base + e->off) = (uint32_t)v;
		return 0;
	}
	if (e->type == T_STR) {
		if (e->off == offsetof(struct rw_dtls_settings, cipher_suites)) {
			char list[8192];
			int rc = rw__dtls_cipher_list(value, list, sizeof(list));
			if (rc < 0)
				return rc;
			if (rc == 0) { /* "*": wolfSSL's defaults */
				free(s->set.cipher_suites);
				s->set.cipher_suites = NULL;
				return 0;
			}
		}
		return rw__strset((char **)(base + e->off), value);
	}
	/* T_ADDRS: the text field, then its parsed list right after the texts. */
	bool allowed = e->off == offsetof(struct rw_dtls_settings, allowed_text);
	rw_addr_list fresh = {0};
	int rc = rw_addr_list_parse(&fresh, value);
	if (rc < 0)
		return rc;
	if (rw__strset(allowed ? &s->set.allowed_text : &s->set.blocked_text, value) < 0) {
		rw_addr_list_free(&fresh);
		return -RW_ENOMEM;
	}
	rw_addr_list *list = allowed ? &s->set.allowed : &s->set.blocked;
	rw_addr_list_free(list);
	*list = fresh;
	return 0;
}

static int get_entry(const rw_dtlsserver *s, const struct cfg_entry *e, char *out, size_t out_len)
{
	const char *base = (const char *)&s->set;
	switch (e->type) {
	case T_BOOL: return put(out, out_len, "%s", *(const bool *)(base + e->off) ? "True" : "False");
	case T_INT: return put(out, out_len, "%d", *(const int *)(base + e->off));
	case T_U32: return put(out, out_len, "%u", *(const uint32_t *)(base + e->off));
	default: {
		const char *v = *(char *const *)(base + e->off);
		if (!v && e->off == offsetof(struct rw_dtls_settings, cipher_suites))
			v = "*";
		return put(out, out_len, "%s", v ? v : "");
	}
	}
}

RW_API int rw_dtlsserver_config(rw_dtlsserver *s, const char *setting, char *out, size_t out_len)
{
	if (!s || !setting)
		return -RW_EINVAL;
	rw_cfg_item it;
	int rc = rw_cfg_split(setting, &it);
	if (rc < 0)
		return rc;
	if (it.has_index)
		return rw__dtls_conn_config(s, &it, out, out_len);
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		const struct cfg_entry *e = &entries[i];
		if (!rw_cfg_name_is(&it, e->name))
			continue;
		if (!it.has_value)
			return get_entry(s, e, out, out_len);
		if ((e->flags & F_FIXED) && s->fd >= 0)
			return -RW_EBAD_STATE;
		return set_entry(s, e, it.value);
	}
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (rw_cfg_name_is(&it, unsupported[i]))
			return -RW_ENOT_SUPPORTED;
	if (rw_cfg_name_is(&it, "Backend"))
		return rw__backend_config(&s->set.backend, s->loop, it.has_value ? it.value : NULL, out, out_len);
	if (rw_cfg_name_is(&it, "KeepAlive")) {
		if (!it.has_value)
			return put(out, out_len, "False");
		bool b;
		if (rw_cfg_parse_bool(it.value, &b) < 0)
			return -RW_EBAD_VALUE;
		return b ? -RW_EDTLS_NOT_SUPPORTED : 0;
	}
	if (rw_cfg_name_is(&it, "Workers")) {
		/* One thread and one ring per DTLSServer: a UDP socket's peers are
		 * demultiplexed in one table (dtls_table.c), which workers would
		 * have to split by address with SO_REUSEPORT's hash. Not done. */
		if (!it.has_value)
			return put(out, out_len, "1");
		int64_t n;
		if (rw_cfg_parse_int(it.value, 1, 64, &n) < 0)
			return -RW_EBAD_VALUE;
		return n == 1 ? 0 : -RW_ENOT_SUPPORTED;
	}
	const struct { const char *name; int64_t v; } counters[] = {
		{"SessionCount", s->sess_count}, {"HelloVerifyRequestCount", s->hvr_count},
		{"DroppedDatagramCount", s->dropped}, {"RejectedConnectionCount", s->rejected},
		{"ConnectionCount", s->conn_count},
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		if (!rw_cfg_name_is(&it, counters[i].name))
			continue;
		if (it.has_value)
			return -RW_EBAD_VALUE; /* read-only */
		return put(out, out_len, "%lld", (long long)counters[i].v);
	}
	return -RW_EUNKNOWN_CONFIG;
}

/* ---- server-wide properties --------------------------------------------- */

static int copy_out(const char *v, char *buf, size_t len)
{
	return put(buf, len, "%s", v ? v : "");
}

RW_API int rw_dtlsserver_get_local_host(const rw_dtlsserver *s, char *buf, size_t len)
{
	if (!s)
		return -RW_EINVAL;
	return copy_out(s->fd >= 0 ? s->bound_host : s->set.local_host, buf, len);
}

RW_API int rw_dtlsserver_set_local_host(rw_dtlsserver *s, const char *host)
{
	if (!s)
		return -RW_EINVAL;
	if (s->fd >= 0)
		return -RW_ELOCALHOST_LISTENING;
	return rw__strset(&s->set.local_host, host);
}

RW_API int rw_dtlsserver_get_local_port(const rw_dtlsserver *s)
{
	return !s ? -RW_EINVAL : s->fd >= 0 ? s->bound_port : s->set.local_port;
}

RW_API int rw_dtlsserver_set_local_port(rw_dtlsserver *s, int port)
{
	if (!s)
		return -RW_EINVAL;
	if (s->fd >= 0)
		return -RW_ELOCALPORT_LISTENING;
	if (port < 0 || port > 65535)
		return -RW_EBAD_VALUE;
	s->set.local_port = port;
	return 0;
}

RW_API bool rw_dtlsserver_get_listening(const rw_dtlsserver *s)
{
	return s && s->listening;
}

RW_API int rw_dtlsserver_get_default_idle_timeout(const rw_dtlsserver *s)
{
	return s ? s->set.idle_timeout : -RW_EINVAL;
}

RW_API int rw_dtlsserver_set_default_idle_timeout(rw_dtlsserver *s, int seconds)
{
	if (!s)
		return -RW_EINVAL;
	if (seconds < 0)
		return -RW_EBAD_VALUE;
	s->set.idle_timeout = seconds;
	return 0;
}

RW_API bool rw_dtlsserver_get_keep_alive(const rw_dtlsserver *s)
{
	(void)s;
	return false;
}

RW_API int rw_dtlsserver_set_keep_alive(rw_dtlsserver *s, bool on)
{
	if (!s)
		return -RW_EINVAL;
	/* RFC 6520 heartbeat: wolfSSL (and OpenSSL >= 1.1) have none. */
	return on ? -RW_EDTLS_NOT_SUPPORTED : 0;
}

RW_API int rw_dtlsserver_get_ssl_cert_store_type(const rw_dtlsserver *s)
{
	return s ? s->set.cert_store_type : -RW_EINVAL;
}

RW_API int rw_dtlsserver_set_ssl_cert_store_type(rw_dtlsserver *s, int type)
{
	if (!s)
		return -RW_EINVAL;
	if (s->ctx)
		return -RW_EBAD_STATE;
	if (type != RW_CERT_PEM_KEY_FILE && type != RW_CERT_PEM_KEY_BLOB && type != RW_CERT_PFX_FILE &&
	    type != RW_CERT_PFX_BLOB && type != RW_CERT_AUTO)
		return -RW_ENOT_SUPPORTED;
	s->set.cert_store_type = type;
	return 0;
}

RW_API int rw_dtlsserver_set_ssl_cert_store(rw_dtlsserver *s, const void *store, size_t len)
{
	if (!s)
		return -RW_EINVAL;
	if (s->ctx)
		return -RW_EBAD_STATE;
	/* Kept NUL-terminated, so that a *_FILE store is a usable path. */
	uint8_t *copy = malloc(len + 1);
	if (!copy)
		return -RW_ENOMEM;
	if (len)
		memcpy(copy, store, len);
	copy[len] = 0;
	free(s->set.cert_store);
	s->set.cert_store = copy;
	s->set.cert_store_len = len;
	return 0;
}

RW_API int rw_dtlsserver_set_ssl_cert_store_password(rw_dtlsserver *s, const char *password)
{
	if (!s)
		return -RW_EINVAL;
	return s->ctx ? -RW_EBAD_STATE : rw__strset(&s->set.cert_password, password);
}

RW_API int rw_dtlsserver_set_ssl_cert_subject(rw_dtlsserver *s, const char *subject)
{
	if (!s)
		return -RW_EINVAL;
	return s->ctx ? -RW_EBAD_STATE : rw__strset(&s->set.cert_subject, subject);
}

RW_API int rw_dtlsserver_get_ssl_cert_subject(const rw_dtlsserver *s, char *buf, size_t len)
{
	return s ? copy_out(s->subject, buf, len) : -RW_EINVAL;
}

RW_API bool rw_dtlsserver_get_ssl_authenticate_clients(const rw_dtlsserver *s)
{
	return s && s->set.authenticate_clients;
}

RW_API int rw_dtlsserver_set_ssl_authenticate_clients(rw_dtlsserver *s, bool on)
{
	if (!s)
		return -RW_EINVAL;
	if (s->ctx)
		return -RW_EBAD_STATE;
	s->set.authenticate_clients = on;
	return 0;
}
