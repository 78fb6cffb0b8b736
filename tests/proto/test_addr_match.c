/* tests/proto/test_addr_match.c: AllowedClients / BlockedClients parsing and
 * matching, including IPv4-mapped IPv6 in both directions. */
#include "proto/addr_match.h"

#include "ringworks/common.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

/* Does `addr` (IPv4 or IPv6 text) match the list text? */
static bool matches(const char *list_text, const char *addr)
{
	rw_addr_list l;
	uint8_t a[16];
	int fam = strchr(addr, ':') ? 6 : 4;
	cr_assert_eq(inet_pton(fam == 4 ? AF_INET : AF_INET6, addr, a), 1, "bad test address %s", addr);
	cr_assert_eq(rw_addr_list_parse(&l, list_text), 0, "list \"%s\" refused", list_text);
	bool m = rw_addr_list_match(&l, fam, a);
	rw_addr_list_free(&l);
	return m;
}

static void refused(const char *list_text)
{
	rw_addr_list l;
	cr_assert_eq(rw_addr_list_parse(&l, list_text), -RW_EBAD_VALUE, "\"%s\" accepted", list_text);
	cr_assert_null(l.rules);
	cr_assert_eq(l.count, 0);
	cr_assert(!l.any);
}

Test(addr_match, empty_list_matches_nothing)
{
	rw_addr_list l;
	uint8_t a[4] = {127, 0, 0, 1};
	cr_assert_eq(rw_addr_list_parse(&l, NULL), 0);
	cr_assert(!rw_addr_list_match(&l, 4, a));
	cr_assert_eq(rw_addr_list_parse(&l, ""), 0);
	cr_assert(!rw_addr_list_match(&l, 4, a));
	cr_assert_eq(rw_addr_list_parse(&l, " , ,"), 0);
	cr_assert(!rw_addr_list_match(&l, 4, a));
	rw_addr_list_free(&l);
	rw_addr_list_free(&l);
}

Test(addr_match, star_matches_everything)
{
	cr_assert(matches("*", "10.1.2.3"));
	cr_assert(matches(" * ", "2001:db8::1"));
	cr_assert(matches("10.0.0.1, *", "::1"));
	rw_addr_list l;
	cr_assert_eq(rw_addr_list_parse(&l, "*"), 0);
	cr_assert(l.any);
	rw_addr_list_free(&l);
}

Test(addr_match, single_addresses)
{
	cr_assert(matches("192.168.1.7", "192.168.1.7"));
	cr_assert(!matches("192.168.1.7", "192.168.1.8"));
	cr_assert(matches("10.0.0.1,  192.168.1.7\t", "192.168.1.7"));
	cr_assert(matches("::1", "::1"));
	cr_assert(!matches("::1", "::2"));
	cr_assert(matches("fe80::1", "fe80:0:0::1"));
	cr_assert(!matches("::1", "127.0.0.1"));
	cr_assert(!matches("127.0.0.1", "::1"));
}

Test(addr_match, cidr_prefixes)
{
	cr_assert(matches("10.0.0.0/8", "10.255.1.2"));
	cr_assert(!matches("10.0.0.0/8", "11.0.0.0"));
	cr_assert(matches("192.168.4.0/22", "192.168.7.255"));
	cr_assert(!matches("192.168.4.0/22", "192.168.8.0"));
	cr_assert(matches("10.1.2.3/8", "10.9.9.9"), "host bits past the prefix are ignored");
	cr_assert(matches("0.0.0.0/0", "1.2.3.4"));
	cr_assert(matches("1.2.3.4/32", "1.2.3.4"));
	cr_assert(matches("2001:db8::/32", "2001:db8:ffff::1"));
	cr_assert(!matches("2001:db8::/32", "2001:db9::1"));
	cr_assert(matches("2001:db8::/33", "2001:db8:7fff::1"));
	cr_assert(!matches("2001:db8::/33", "2001:db8:8000::1"));
	cr_assert(matches("::/0", "2001:db8::1"));
	cr_assert(matches("::1/128", "::1"));
}

Test(addr_match, trailing_star_globs)
{
	cr_assert(matches("127.0.0.*", "127.0.0.200"));
	cr_assert(!matches("127.0.0.*", "127.0.1.1"));
	cr_assert(matches("10.*", "10.200.3.4"));
	cr_assert(!matches("10.*", "11.0.0.1"));
	cr_assert(matches("10.*.*.*", "10.1.2.3"));
	cr_assert(matches("192.168.*", "192.168.50.1"));
	cr_assert(matches("*.*.*.*", "8.8.8.8"));
	cr_assert(matches("127.0.0.*", "::ffff:127.0.0.9"));
}

Test(addr_match, ipv4_mapped_both_ways)
{
	/* A mapped peer matches IPv4 entries... */
	cr_assert(matches("127.0.0.1", "::ffff:127.0.0.1"));
	cr_assert(matches("10.0.0.0/8", "::ffff:10.2.3.4"));
	cr_assert(!matches("10.0.0.0/8", "::ffff:11.2.3.4"));
	/* ...and an IPv4 peer matches mapped entries. */
	cr_assert(matches("::ffff:127.0.0.1", "127.0.0.1"));
	cr_assert(matches("::ffff:10.0.0.0/104", "10.1.1.1"));
	cr_assert(!matches("::ffff:10.0.0.0/104", "11.1.1.1"));
	cr_assert(matches("::ffff:0:0/96", "1.2.3.4"));
	cr_assert(matches("::ffff:7f00:1", "::ffff:127.0.0.1"));
	/* IPv6 rules shorter than /96 see an IPv4 peer in its mapped form. */
	cr_assert(matches("::/0", "1.2.3.4"));
	cr_assert(!matches("2001:db8::/32", "1.2.3.4"));
	cr_assert(!matches("::1", "0.0.0.1"), "::1 is not IPv4-mapped");
}

Test(addr_match, host_names_and_garbage_refused)
{
	refused("localhost");
	refused("example.com");
	refused("10.0.0.1, host");
	refused("10.0.0");
	refused("256.1.1.1");
	refused("1.2.3.4.5");
	refused("10.0.0.1 10.0.0.2");
	refused("[::1]");
	refused("fe80::1%eth0");
	refused("**");
	refused("10.*.1.*");
	refused("*.1");
	refused("10.*.*.*.*");
	refused("10*");
	refused("1::*");
	refused("10.*/8");
}

Test(addr_match, bad_prefixes_refused)
{
	refused("10.0.0.0/33");
	refused("10.0.0.0/");
	refused("10.0.0.0/-1");
	refused("10.0.0.0/+8");
	refused("10.0.0.0/8/8");
	refused("10.0.0.0/ 8");
	refused("10.0.0.0/0x8");
	refused("::/129");
	refused("::/1000");
	refused("/8");
}

Test(addr_match, bad_family_or_null)
{
	rw_addr_list l;
	uint8_t a[16] = {0};
	cr_assert_eq(rw_addr_list_parse(&l, "*"), 0);
	cr_assert(!rw_addr_list_match(&l, 5, a));
	cr_assert(!rw_addr_list_match(NULL, 4, a));
	rw_addr_list_free(&l);
	rw_addr_list_free(NULL);
	cr_assert_eq(rw_addr_list_parse(NULL, "*"), -RW_EBAD_VALUE);
}
