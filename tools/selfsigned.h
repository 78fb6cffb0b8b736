/* tools/selfsigned.h: the demo server's certificate when none is given. */
#ifndef RW_TOOLS_SELFSIGNED_H
#define RW_TOOLS_SELFSIGNED_H

#include <stddef.h>

/* The path of a PEM file (certificate + key, ECDSA P-256, CN=localhost,
 * subjectAltName localhost and 127.0.0.1, valid 365 days), made on first use
 * in $XDG_CACHE_HOME/ringworks (else ~/.cache/ringworks, else $TMPDIR) and
 * reused after. Returns 0 and the path in out; -1 with a reason in out. */
int selfsigned_pem(char *out, size_t len);

#endif
