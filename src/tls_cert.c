/* src/tls_cert.c: loading the server certificate and key into a wolfSSL
 * context from PEM or PFX (PKCS#12), as a file or bytes, with subject
 * selection; and turning X.509 names into the documents' "CN=..., O=..." form. */
#include "tls_cert.h"

#include "ringworks/common.h"

#include <wolfssl/wolfcrypt/pkcs12.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "/CN=a/O=b" (wolfSSL's one-line form) -> "CN=a, O=b" (the documents' form). */
void rw__tls_name_text(WOLFSSL_X509_NAME *n, char *out, size_t len)
{
	char one[512];
	out[0] = 0;
	if (!n || !wolfSSL_X509_NAME_oneline(n, one, sizeof(one)))
		return;
	size_t o = 0;
	for (const char *p = one[0] == '/' ? one + 1 : one; *p && o + 3 < len; p++) {
		if (*p == '/') {
			out[o++] = ',';
			out[o++] = ' ';
		} else {
			out[o++] = *p;
		}
	}
	out[o] = 0;
}

static void subject_text(WOLFSSL_X509 *x, char *out, size_t len)
{
	rw__tls_name_text(x ? wolfSSL_X509_get_subject_name(x) : NULL, out, len);
}

/* The store's bytes: the file's content, or the blob itself (borrowed). */
static uint8_t *store_bytes(const struct rw_tls_cert *cert, size_t *len, bool *owned)
{
	*owned = false;
	if (!cert->is_file) {
		*len = cert->store_len;
		return (uint8_t *)cert->store;
	}
	FILE *f = fopen(cert->store, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0, r;
	do {
		if (n == cap) {
			uint8_t *p = realloc(buf, cap = cap ? cap * 2 : 16384);
			if (!p || cap > (64u << 20)) { /* a certificate store is never 64 MiB */
				free(p ? p : buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*owned = true;
	*len = n;
	return buf;
}

static bool looks_like_pem(const uint8_t *b, size_t n)
{
	static const char tag[] = "-----BEGIN";
	for (size_t i = 0; i + sizeof(tag) - 1 <= n; i++)
		if (b[i] == '-' && memcmp(b + i, tag, sizeof(tag) - 1) == 0)
			return true;
	return false;
}

/* The PFX's leaf and CA certificates as one PEM chain (leaf first, the CA
 * certificates in the file's order), so that clients get the intermediates
 * as they would from a PEM chain. Returns a malloc'd buffer or NULL. */
static char *pfx_chain_pem(const byte *leaf, word32 leaf_len, const WC_DerCertList *ca, size_t *len)
{
	size_t cap = (leaf_len + 64) * 2;
	for (const WC_DerCertList *c = ca; c; c = c->next)
		cap += (c->bufferSz + 64) * 2;
	char *pem = malloc(cap);
	size_t o = 0;
	if (!pem)
		return NULL;
	int n = wc_DerToPem(leaf, leaf_len, (byte *)pem, (word32)cap, CERT_TYPE);
	for (const WC_DerCertList *c = ca; n > 0 && c; c = c->next) {
		o += (size_t)n;
		n = wc_DerToPem(c->buffer, c->bufferSz, (byte *)pem + o, (word32)(cap - o), CERT_TYPE);
	}
	if (n <= 0) {
		free(pem);
		return NULL;
	}
	*len = o + (size_t)n;
	return pem;
}

/* PKCS#12: the certificate chain and the key. */
static int use_pfx(WOLFSSL_CTX *ctx, const uint8_t *b, size_t n, const char *password, WOLFSSL_X509 **x)
{
	WC_PKCS12 *p12 = wc_PKCS12_new();
	byte *key = NULL, *cert = NULL;
	word32 key_len = 0, cert_len = 0;
	WC_DerCertList *ca = NULL;
	int rc = -RW_ESSL_CERT_STORE;
	if (p12 && wc_d2i_PKCS12(b, (word32)n, p12) == 0 &&
	    wc_PKCS12_parse(p12, password ? password : "", &key, &key_len, &cert, &cert_len, &ca) == 0 &&
	    key && cert) {
		size_t chain_len = 0;
		char *chain = pfx_chain_pem(cert, cert_len, ca, &chain_len);
		if (chain &&
		    wolfSSL_CTX_use_certificate_chain_buffer(ctx, (const unsigned char *)chain, (long)chain_len) ==
		        WOLFSSL_SUCCESS &&
		    wolfSSL_CTX_use_PrivateKey_buffer(ctx, key, key_len, WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS) {
			*x = wolfSSL_X509_load_certificate_buffer(cert, (int)cert_len, WOLFSSL_FILETYPE_ASN1);
			rc = 0;
		}
		free(chain);
	}
	while (ca) { /* wc_FreeCertList is not exported by every build */
		WC_DerCertList *next = ca->next;
		XFREE(ca->buffer, NULL, DYNAMIC_TYPE_PKCS);
		XFREE(ca, NULL, DYNAMIC_TYPE_PKCS);
		ca = next;
	}
	XFREE(key, NULL, DYNAMIC_TYPE_PUBLIC_KEY);
	XFREE(cert, NULL, DYNAMIC_TYPE_PKCS);
	wc_PKCS12_free(p12);
	return rc;
}

int rw__tls_load_cert(WOLFSSL_CTX *ctx, const struct rw_tls_cert *cert, char *subject, size_t subject_len)
{
	size_t n;
	bool owned;
	uint8_t *b = store_bytes(cert, &n, &owned);
	if (!b)
		return -RW_ESSL_CERT_STORE;
	bool pem = cert->format == RW_TLS_CERT_PEM ||
	           (cert->format == RW_TLS_CERT_AUTO && looks_like_pem(b, n));
	WOLFSSL_X509 *x = NULL;
	int rc;
	if (pem) {
		x = wolfSSL_X509_load_certificate_buffer(b, (int)n, WOLFSSL_FILETYPE_PEM);
		rc = x && wolfSSL_CTX_use_certificate_chain_buffer(ctx, b, (long)n) == WOLFSSL_SUCCESS &&
		     wolfSSL_CTX_use_PrivateKey_buffer(ctx, b, (long)n, WOLFSSL_FILETYPE_PEM) == WOLFSSL_SUCCESS
		         ? 0 : -RW_ESSL_CERT_STORE;
	} else {
		rc = use_pfx(ctx, b, n, cert->password, &x);
	}
	if (owned)
		free(b);
	subject_text(x, subject, subject_len);
	wolfSSL_X509_free(x);
	if (rc < 0)
		return rc;
	const char *want = cert->subject;
	if (want && *want && strcmp(want, "*") && strcmp(want, subject) && !strstr(subject, want))
		return -RW_ESSL_CERT_NOT_FOUND;
	if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS)
		return -RW_ESSL_CREDENTIALS;
	return 0;
}

