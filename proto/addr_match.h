/* proto/addr_match.h: AllowedClients / BlockedClients lists.
 *
 * A list is a comma-separated text of entries, white space around entries
 * ignored:
 *   *                    every address
 *   192.168.1.7          one IPv4 address          ::1, fe80::1     one IPv6 address
 *   10.0.0.0/8           IPv4 CIDR prefix          2001:db8::/32    IPv6 CIDR prefix
 *   127.0.0.*  10.*      IPv4 with trailing '*' octets (same as /24, /8)
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches the IPv4 entries and
 * vice versa. Host names are refused (no DNS lookups on the accept path).
 * Parsing allocates the rule array once; matching never allocates.
 */
#ifndef RW_PROTO_ADDR_MATCH_H
#define RW_PROTO_ADDR_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rw_addr_rule {
	uint8_t family;     /* 4 or 6 */
	uint8_t prefix;     /* bits that must match: 0..32 or 0..128 */
	uint8_t addr[16];   /* IPv4 in the first 4 bytes */
} rw_addr_rule;

typedef struct rw_addr_list {
	rw_addr_rule *rules;
	size_t count;
	bool any;           /* the list holds '*' */
} rw_addr_list;

/* Parse `text` (NULL or "" gives an empty list). Returns 0, or -RW_EBAD_VALUE
 * for a malformed entry (out is left empty), -RW_ENOMEM. */
int rw_addr_list_parse(rw_addr_list *out, const char *text);

/* Does the address match any entry? family is 4 (addr = 4 bytes) or 6
 * (addr = 16 bytes). An empty list matches nothing. */
bool rw_addr_list_match(const rw_addr_list *list, int family, const uint8_t *addr);

void rw_addr_list_free(rw_addr_list *list);

#endif
