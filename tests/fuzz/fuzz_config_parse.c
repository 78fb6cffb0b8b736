/* tests/fuzz/fuzz_config_parse.c: libFuzzer target for Config strings.
 *
 * The input, NUL-terminated, goes through rw_cfg_split, and its value (or the
 * whole input) through the boolean and integer parsers. Checked: pointers stay
 * inside the input, a split name is non-empty and holds no '[', ']' or '=', an
 * index is positive, and an accepted integer lies in the asked range.
 */
#include "proto/config_parse.h"

#include "ringworks/common.h"

#include <stdlib.h>
#include <string.h>

static void check_item(const char *s, size_t n, const rw_cfg_item *it)
{
	if (!it->name || it->name < s || it->name + it->name_len > s + n || it->name_len == 0)
		abort();
	if (memchr(it->name, '[', it->name_len) || memchr(it->name, ']', it->name_len) ||
	    memchr(it->name, '=', it->name_len))
		abort();
	if (it->has_index && it->index <= 0)
		abort();
	if (it->has_value && (it->value <= s || it->value > s + n || it->value[-1] != '='))
		abort();
	(void)rw_cfg_name_is(it, "MaxLineLength");
}

static void check_values(const char *v, int64_t lo, int64_t hi)
{
	bool b;
	int64_t x = 0;
	int rc = rw_cfg_parse_bool(v, &b);
	if (rc != 0 && rc != -RW_EBAD_VALUE)
		abort();
	rc = rw_cfg_parse_int(v, lo, hi, &x);
	if (rc == 0 && (x < lo || x > hi))
		abort();
	if (rc != 0 && rc != -RW_EBAD_VALUE)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	size_t n = strlen(s);
	rw_cfg_item it;
	int rc = rw_cfg_split(s, &it);
	if (rc == 0)
		check_item(s, n, &it);
	else if (rc != -RW_EBAD_VALUE)
		abort();
	const char *v = rc == 0 && it.has_value ? it.value : s;
	check_values(v, INT64_MIN, INT64_MAX);
	check_values(v, -5, 1 << 20);
	free(s);
	return 0;
}
