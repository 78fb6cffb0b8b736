/* proto/sha1.h: SHA-1 (FIPS 180-4), only for the WebSocket accept key (RFC
 * 6455 §4.2.2). proto/ may not use wolfSSL, and the accept key is no security
 * boundary, so a small local implementation is enough. */
#ifndef RW_PROTO_SHA1_H
#define RW_PROTO_SHA1_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t h[5];
	uint64_t total;   /* bytes hashed */
	uint8_t block[64];
	uint32_t used;    /* bytes in block */
} rw_sha1_ctx;

void rw_sha1_init(rw_sha1_ctx *s);
void rw_sha1_update(rw_sha1_ctx *s, const void *data, size_t len);
void rw_sha1_final(rw_sha1_ctx *s, uint8_t out[20]);
/* One call: out = SHA-1(data). */
void rw_sha1(const void *data, size_t len, uint8_t out[20]);

#endif
