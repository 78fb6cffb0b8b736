/* proto/base64.h: standard base64 (RFC 4648 §4, with padding), for the
 * WebSocket key and accept values. */
#ifndef RW_PROTO_BASE64_H
#define RW_PROTO_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Output length for n input bytes, without the NUL. */
#define RW_BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode n bytes into out (RW_BASE64_LEN(n) + 1 bytes, NUL-terminated).
 * Returns the length written (without the NUL). */
size_t rw_base64_encode(const uint8_t *in, size_t n, char *out);

/* Decode strict, padded base64 of `n` characters into out (at most `cap`
 * bytes). Returns the decoded length, or -1 for bad characters, bad padding,
 * a length that is not a multiple of 4, or output that does not fit. */
long rw_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif
