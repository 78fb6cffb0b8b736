/* proto/config_parse.c: splits Config strings ("Name[42]=Value") and parses
 * their boolean and integer values. Nothing here allocates.
 */
#include "proto/config_parse.h"

#include "ringworks/common.h"

#include <string.h>
#include <strings.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static const char *skip_space(const char *s)
{
	while (is_space(*s))
		s++;
	return s;
}

/* Optional sign and at least one decimal digit; no white space handling.
 * Returns the end of the number, or NULL on a malformed or overflowing one. */
static const char *parse_dec(const char *s, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0, lim;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (*s < '0' || *s > '9')
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (lim - d) / 10)
			return NULL;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return s;
}

/* The "[N]" part; s points at '['. Returns the text after ']' or NULL. */
static const char *parse_index(const char *s, int64_t *out)
{
	s = skip_space(s + 1);
	s = parse_dec(s, out);
	if (!s || *out <= 0)
		return NULL;
	s = skip_space(s);
	return *s == ']' ? s + 1 : NULL;
}

int rw_cfg_split(const char *setting, rw_cfg_item *out)
{
	if (!setting || !out)
		return -RW_EBAD_VALUE;
	memset(out, 0, sizeof(*out));
	const char *name = skip_space(setting);
	size_t n = strcspn(name, "[]=");
	const char *p = name + n;
	while (n && is_space(name[n - 1]))
		n--;
	if (n == 0 || *p == ']')
		return -RW_EBAD_VALUE;
	out->name = name;
	out->name_len = n;
	if (*p == '[') {
		p = parse_index(p, &out->index);
		if (!p)
			return -RW_EBAD_VALUE;
		out->has_index = true;
		p = skip_space(p);
	}
	if (*p == '=') {
		out->has_value = true;
		out->value = p + 1;
	} else if (*p) {
		return -RW_EBAD_VALUE;
	}
	return 0;
}

bool rw_cfg_name_is(const rw_cfg_item *item, const char *name)
{
	if (!item || !item->name || !name)
		return false;
	return strlen(name) == item->name_len && strncasecmp(item->name, name, item->name_len) == 0;
}

int rw_cfg_parse_bool(const char *value, bool *out)
{
	static const struct {
		const char *text;
		bool v;
	} words[] = {{"true", true}, {"yes", true}, {"1", true},
	             {"false", false}, {"no", false}, {"0", false}};
	if (!value || !out)
		return -RW_EBAD_VALUE;
	const char *s = skip_space(value);
	size_t n = strlen(s);
	while (n && is_space(s[n - 1]))
		n--;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].text) == n && strncasecmp(s, words[i].text, n) == 0) {
			*out = words[i].v;
			return 0;
		}
	}
	return -RW_EBAD_VALUE;
}

int rw_cfg_parse_int(const char *value, int64_t min, int64_t max, int64_t *out)
{
	int64_t v;
	if (!value || !out)
		return -RW_EBAD_VALUE;
	const char *s = parse_dec(skip_space(value), &v);
	if (!s || *skip_space(s) != '\0' || v < min || v > max)
		return -RW_EBAD_VALUE;
	*out = v;
	return 0;
}
