/* proto/addr_match.c: parses AllowedClients / BlockedClients lists and
 * matches peer addresses against them.
 *
 * Rules are stored canonically: an IPv4-mapped IPv6 entry whose prefix covers
 * the whole ::ffff:0:0/96 part becomes an IPv4 rule. A peer address is
 * canonicalised the same way; IPv4 rules compare the 4 IPv4 bytes, IPv6 rules
 * compare the 16-byte form (an IPv4 peer as ::ffff:a.b.c.d).
 */
#include "proto/addr_match.h"

#include "ringworks/common.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_MAX 64 /* longer entries cannot be addresses */

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Decimal 0..max from s[0..n), digits only, at most 3 digits. */
static int parse_small(const char *s, size_t n, unsigned max, unsigned *out)
{
	unsigned v = 0;
	if (n == 0 || n > 3)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* "10.*", "127.0.0.*", "10.*.*.*": numeric octets, then only '*' octets. */
static int parse_glob(const char *s, rw_addr_rule *r)
{
	unsigned octets = 0, fixed = 0;
	memset(r, 0, sizeof(*r));
	r->family = 4;
	for (;;) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		unsigned v;
		if (octets == 4)
			return -1;
		if (n == 1 && s[0] == '*') {
			octets++;
		} else {
			if (octets != fixed || parse_small(s, n, 255, &v) < 0)
				return -1;
			r->addr[fixed++] = (uint8_t)v;
			octets++;
		}
		if (!dot)
			break;
		s = dot + 1;
	}
	if (fixed == octets)
		return -1; /* no '*' at all: not a glob */
	r->prefix = (uint8_t)(fixed * 8);
	return 0;
}

/* Clear the bits after the prefix. */
static void mask_rule(rw_addr_rule *r)
{
	unsigned bytes = r->family == 4 ? 4 : 16;
	for (unsigned i = 0; i < bytes; i++) {
		unsigned lo = i * 8;
		if (r->prefix <= lo)
			r->addr[i] = 0;
		else if (r->prefix < lo + 8)
			r->addr[i] &= (uint8_t)(0xff << (lo + 8 - r->prefix));
	}
}

/* A literal address with an optional "/prefix". */
static int parse_cidr(char *s, rw_addr_rule *r)
{
	char *slash = strchr(s, '/');
	unsigned prefix = 0;
	memset(r, 0, sizeof(*r));
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, s, r->addr) == 1)
		r->family = 4;
	else if (inet_pton(AF_INET6, s, r->addr) == 1)
		r->family = 6;
	else
		return -1;
	unsigned max = r->family == 4 ? 32 : 128;
	if (slash && parse_small(slash + 1, strlen(slash + 1), max, &prefix) < 0)
		return -1;
	r->prefix = (uint8_t)(slash ? prefix : max);
	if (r->family == 6 && r->prefix >= 96 && !memcmp(r->addr, mapped_prefix, 12)) {
		memmove(r->addr, r->addr + 12, 4);
		memset(r->addr + 4, 0, 12);
		r->family = 4;
		r->prefix = (uint8_t)(r->prefix - 96);
	}
	mask_rule(r);
	return 0;
}

/* One trimmed, non-empty entry. Returns 1 for '*', 0 for a rule, -1 if bad. */
static int parse_entry(const char *s, size_t n, rw_addr_rule *r)
{
	char tmp[ENTRY_MAX + 1];
	if (n == 1 && s[0] == '*')
		return 1;
	if (n > ENTRY_MAX || memchr(s, '\0', n))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (strchr(tmp, '*'))
		return strchr(tmp, '/') || strchr(tmp, ':') ? -1 : parse_glob(tmp, r);
	return parse_cidr(tmp, r);
}

static int parse_all(rw_addr_list *out, const char *text)
{
	const char *p = text;
	for (;;) {
		const char *end = strchr(p, ',');
		const char *stop = end ? end : p + strlen(p);
		while (p < stop && is_space(*p))
			p++;
		size_t n = (size_t)(stop - p);
		while (n && is_space(p[n - 1]))
			n--;
		if (n) {
			int rc = parse_entry(p, n, &out->rules[out->count]);
			if (rc < 0)
				return -RW_EBAD_VALUE;
			if (rc == 1)
				out->any = true;
			else
				out->count++;
		}
		if (!end)
			return 0;
		p = end + 1;
	}
}

int rw_addr_list_parse(rw_addr_list *out, const char *text)
{
	size_t slots = 1;
	if (!out)
		return -RW_EBAD_VALUE;
	memset(out, 0, sizeof(*out));
	if (!text || !*text)
		return 0;
	for (const char *p = text; *p; p++)
		slots += *p == ',';
	out->rules = calloc(slots, sizeof(*out->rules));
	if (!out->rules)
		return -RW_ENOMEM;
	int rc = parse_all(out, text);
	if (rc < 0 || (out->count == 0 && !out->any)) {
		rw_addr_list_free(out);
		return rc;
	}
	if (out->count == 0) {
		free(out->rules);
		out->rules = NULL;
	}
	return 0;
}

/* Do the first `bits` bits of a and b agree? */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

bool rw_addr_list_match(const rw_addr_list *list, int family, const uint8_t *addr)
{
	uint8_t v6[16];
	const uint8_t *v4 = NULL;
	if (!list || !addr || (family != 4 && family != 6))
		return false;
	if (list->any)
		return true;
	if (family == 4) {
		memcpy(v6, mapped_prefix, 12);
		memcpy(v6 + 12, addr, 4);
		v4 = addr;
	} else {
		memcpy(v6, addr, 16);
		if (!memcmp(addr, mapped_prefix, 12))
			v4 = addr + 12;
	}
	for (size_t i = 0; i < list->count; i++) {
		const rw_addr_rule *r = &list->rules[i];
		if (r->family == 4 ? v4 && prefix_eq(v4, r->addr, r->prefix)
		                   : prefix_eq(v6, r->addr, r->prefix))
			return true;
	}
	return false;
}

void rw_addr_list_free(rw_addr_list *list)
{
	if (!list)
		return;
	free(list->rules);
	memset(list, 0, sizeof(*list));
}
