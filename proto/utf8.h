/* proto/utf8.h: incremental UTF-8 validation (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). The state carries a partial code point
 * across calls, so a message may be checked fragment by fragment and fails as
 * soon as a byte makes it invalid (WebSocket close 1007 "fail fast"). */
#ifndef RW_PROTO_UTF8_H
#define RW_PROTO_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0 is the start state (nothing pending); RW_UTF8_BAD is sticky. */
typedef uint32_t rw_utf8_state;
#define RW_UTF8_OK 0u
#define RW_UTF8_BAD 0xffffffffu

/* Feed n bytes; returns the new state (RW_UTF8_BAD once invalid). */
rw_utf8_state rw_utf8_feed(rw_utf8_state st, const uint8_t *p, size_t n);

/* A whole text: valid and not ending inside a code point. */
bool rw_utf8_valid(const uint8_t *p, size_t n);

/* The longest prefix of p[0..n) that ends on a code-point boundary, assuming
 * p starts on one (for cutting outgoing text into valid pieces). */
size_t rw_utf8_boundary(const uint8_t *p, size_t n);

#endif
