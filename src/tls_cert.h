/* src/tls_cert.h: certificate loading for the TLS filter (wolfSSL types). */
#ifndef RW_SRC_TLS_CERT_H
#define RW_SRC_TLS_CERT_H

#include "tls_filter.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

/* Load `cert` into ctx; the selected certificate's subject goes to subject.
 * 0, -RW_ESSL_CERT_STORE, -RW_ESSL_CERT_NOT_FOUND or -RW_ESSL_CREDENTIALS. */
int rw__tls_load_cert(WOLFSSL_CTX *ctx, const struct rw_tls_cert *cert, char *subject, size_t subject_len);

/* "/CN=a/O=b" (wolfSSL's one-line form) -> "CN=a, O=b"; "" for NULL. */
void rw__tls_name_text(WOLFSSL_X509_NAME *n, char *out, size_t len);

#endif
