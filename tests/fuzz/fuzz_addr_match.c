/* tests/fuzz/fuzz_addr_match.c: libFuzzer target for AllowedClients /
 * BlockedClients lists.
 *
 * Input: 16 address bytes, then the list text. Checked: parsing either gives
 * a well-formed list or an empty one with -RW_EBAD_VALUE; matching never
 * reads past the rules; an IPv4 address and its IPv4-mapped form always get
 * the same answer.
 */
#include "proto/addr_match.h"

#include "ringworks/common.h"

#include <stdlib.h>
#include <string.h>

static void check_list(const rw_addr_list *l)
{
	if (l->count && !l->rules)
		abort();
	for (size_t i = 0; i < l->count; i++) {
		const rw_addr_rule *r = &l->rules[i];
		if ((r->family != 4 && r->family != 6) || r->prefix > (r->family == 4 ? 32 : 128))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 16)
		return 0;
	char *text = malloc(size - 16 + 1);
	memcpy(text, data + 16, size - 16);
	text[size - 16] = '\0';
	rw_addr_list l;
	int rc = rw_addr_list_parse(&l, text);
	if (rc < 0) {
		if (rc != -RW_EBAD_VALUE || l.rules || l.count || l.any)
			abort();
		free(text);
		return 0;
	}
	check_list(&l);
	uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	memcpy(mapped + 12, data, 4);
	if (rw_addr_list_match(&l, 4, data) != rw_addr_list_match(&l, 6, mapped))
		abort();
	(void)rw_addr_list_match(&l, 6, data);
	if (l.any && !rw_addr_list_match(&l, 6, data))
		abort();
	rw_addr_list_free(&l);
	free(text);
	return 0;
}
