/* src/dtls_cipher.c: DTLSServer's cipher suites: Config SSLEnabledCipherSuites
 * (the documents' ';'-separated IANA names, or wolfSSL's own names, into
 * wolfSSL's ':' list) and the per-connection read-outs of what a handshake
 * negotiated (SSLNegotiatedCipher, -CipherStrength, -KeyExchange,
 * -KeyExchangeStrength), with the same texts as TCPServer's TLS. */
#include "dtls_internal.h"
#include "proto/config_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rw__dtls_cipher_list(const char *list, char *out, size_t cap)
{
	char name[128], all[8192];
	size_t o = 0;
	if (cap)
		out[0] = 0;
	if (!list || !*list || strcmp(list, "*") == 0)
		return 0;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ";,:");
		size_t b = 0, e = n;
		while (b < e && (p[b] == ' ' || p[b] == '\t'))
			b++;
		while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t'))
			e--;
		if (e > b) {
			if (e - b >= sizeof(name))
				return -RW_EBAD_VALUE;
			memcpy(name, p + b, e - b);
			name[e - b] = 0;
			const char *w = rw__tls_wolf_cipher_name(name, all, sizeof(all));
			if (!w)
				return -RW_EBAD_VALUE; /* not a suite this wolfSSL knows */
			int k = snprintf(out + o, cap - o, "%s%s", o ? ":" : "", w);
			if (k < 0 || (size_t)k >= cap - o)
				return -RW_EBAD_VALUE;
			o += (size_t)k;
		}
		p += n;
		if (*p)
			p++;
	}
	return o ? (int)o : -RW_EBAD_VALUE; /* separators only */
}

void rw__dtls_negotiated(struct rw_dtls_sess *x, const rw_cfg_item *it, char *v, size_t len)
{
	v[0] = 0;
	if (x->state != RW_DS_OPEN) /* nothing is negotiated before Connected */
		return;
	WOLFSSL *ssl = x->ssl;
	if (rw_cfg_name_is(it, "SSLNegotiatedCipher")) {
		/* The bulk cipher of the IANA name: TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
		 * gives AES_256_GCM (TLS 1.3's TLS_AES_128_GCM_SHA256: AES_128_GCM). */
		int cs = wolfSSL_get_current_cipher_suite(ssl);
		const char *iana = cs >= 0 ? wolfSSL_get_cipher_name_iana_from_suite((unsigned char)(cs >> 8),
		                                                                     (unsigned char)cs)
		                           : NULL;
		if (!iana)
			return;
		const char *w = strstr(iana, "_WITH_");
		w = w ? w + 6 : strncmp(iana, "TLS_", 4) == 0 ? iana + 4 : iana;
		snprintf(v, len, "%s", w);
		char *mac = strrchr(v, '_');
		if (mac && strncmp(mac, "_SHA", 4) == 0)
			*mac = 0;
		return;
	}
	if (rw_cfg_name_is(it, "SSLNegotiatedCipherStrength")) {
		WOLFSSL_CIPHER *c = wolfSSL_get_current_cipher(ssl);
		snprintf(v, len, "%d", c ? wolfSSL_CIPHER_get_bits(c, NULL) : 0);
		return;
	}
	const char *group;
	int bits;
	const char *k = rw__tls_ssl_kx(ssl, &group, &bits);
	if (rw_cfg_name_is(it, "SSLNegotiatedKeyExchange"))
		snprintf(v, len, "%s%s%s", k, *group ? " " : "", group);
	else
		snprintf(v, len, "%d", bits);
}
