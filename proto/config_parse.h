/* proto/config_parse.h: the documents' Config string grammar.
 *
 *   "Name"            read a setting          "Name=Value"        set it
 *   "Name[42]"        read per connection     "Name[42]=Value"    set per connection
 * Names are matched case-insensitively by the components. Booleans accept True,
 * False, Yes, No, 1, 0 in any case. Integers are decimal, optionally signed,
 * with surrounding white space allowed.
 */
#ifndef RW_PROTO_CONFIG_PARSE_H
#define RW_PROTO_CONFIG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rw_cfg_item {
	const char *name;  /* points into the input; not NUL-terminated */
	size_t name_len;
	bool has_index;
	int64_t index;     /* the [N] part, when has_index */
	bool has_value;
	const char *value; /* points into the input after '=', NUL-terminated (end of input) */
} rw_cfg_item;

/* Split a Config string. Returns 0, or -RW_EBAD_VALUE for an empty name, a
 * malformed or non-positive index, or text between ']' and '='. */
int rw_cfg_split(const char *setting, rw_cfg_item *out);

/* Case-insensitive comparison of the item's name with `name`. */
bool rw_cfg_name_is(const rw_cfg_item *item, const char *name);

/* Returns 0 and sets *out, or -RW_EBAD_VALUE. */
int rw_cfg_parse_bool(const char *value, bool *out);
int rw_cfg_parse_int(const char *value, int64_t min, int64_t max, int64_t *out);

#endif
