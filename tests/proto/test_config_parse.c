/* tests/proto/test_config_parse.c: Config string splitting, booleans and
 * integers. */
#include "proto/config_parse.h"

#include "ringworks/common.h"

#include <criterion/criterion.h>
#include <string.h>

static void split_ok(const char *s, const char *name, bool has_index, int64_t index, const char *value)
{
	rw_cfg_item it;
	cr_assert_eq(rw_cfg_split(s, &it), 0, "\"%s\" refused", s);
	cr_assert_eq(it.name_len, strlen(name), "\"%s\"", s);
	cr_assert(!memcmp(it.name, name, it.name_len), "\"%s\"", s);
	cr_assert_eq(it.has_index, has_index, "\"%s\"", s);
	if (has_index)
		cr_assert_eq(it.index, index, "\"%s\"", s);
	cr_assert_eq(it.has_value, value != NULL, "\"%s\"", s);
	if (value)
		cr_assert_str_eq(it.value, value, "\"%s\"", s);
}

static void split_bad(const char *s)
{
	rw_cfg_item it;
	cr_assert_eq(rw_cfg_split(s, &it), -RW_EBAD_VALUE, "\"%s\" accepted", s);
}

Test(config_parse, split_forms)
{
	split_ok("MaxLineLength", "MaxLineLength", false, 0, NULL);
	split_ok("MaxLineLength=4096", "MaxLineLength", false, 0, "4096");
	split_ok("MaxLineLength[42]", "MaxLineLength", true, 42, NULL);
	split_ok("MaxLineLength[42]=4096", "MaxLineLength", true, 42, "4096");
	split_ok("  Name  =  v ", "Name", false, 0, "  v ");
	split_ok("Name[ 7 ] = x", "Name", true, 7, " x");
	split_ok("Name=", "Name", false, 0, "");
	split_ok("Name=a=b[1]", "Name", false, 0, "a=b[1]");
	split_ok("Name[9223372036854775807]", "Name", true, INT64_MAX, NULL);
	split_ok("Name[+3]=1", "Name", true, 3, "1");
}

Test(config_parse, value_points_into_input)
{
	const char *s = "Name[1]=value";
	rw_cfg_item it;
	cr_assert_eq(rw_cfg_split(s, &it), 0);
	cr_assert_eq(it.name, s);
	cr_assert_eq(it.value, s + 8);
}

Test(config_parse, split_refusals)
{
	split_bad("");
	split_bad("   ");
	split_bad("=5");
	split_bad("[1]=5");
	split_bad("Name[0]");
	split_bad("Name[-1]=2");
	split_bad("Name[]");
	split_bad("Name[x]");
	split_bad("Name[1");
	split_bad("Name[1 2]");
	split_bad("Name[1]x=3");
	split_bad("Name[1][2]");
	split_bad("Name]=3");
	split_bad("Name[99999999999999999999]");
	split_bad("Name[0x10]");
	split_bad(NULL);
	cr_assert_eq(rw_cfg_split("Name", NULL), -RW_EBAD_VALUE);
}

Test(config_parse, name_is_case_insensitive)
{
	rw_cfg_item it;
	cr_assert_eq(rw_cfg_split("maxlinelength[3]=1", &it), 0);
	cr_assert(rw_cfg_name_is(&it, "MaxLineLength"));
	cr_assert(rw_cfg_name_is(&it, "MAXLINELENGTH"));
	cr_assert(!rw_cfg_name_is(&it, "MaxLine"));
	cr_assert(!rw_cfg_name_is(&it, "MaxLineLengthX"));
	cr_assert(!rw_cfg_name_is(&it, NULL));
	cr_assert(!rw_cfg_name_is(NULL, "x"));
}

Test(config_parse, booleans)
{
	static const char *yes[] = {"True", "true", "TRUE", "Yes", "yES", "1", " true ", "\tYes\n"};
	static const char *no[] = {"False", "false", "FALSE", "No", "nO", "0", " 0 "};
	static const char *bad[] = {"", " ", "2", "t", "tru", "truee", "on", "off", "yes no", "01", NULL};
	bool b;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		cr_assert_eq(rw_cfg_parse_bool(yes[i], &b), 0, "\"%s\"", yes[i]);
		cr_assert(b, "\"%s\"", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		cr_assert_eq(rw_cfg_parse_bool(no[i], &b), 0, "\"%s\"", no[i]);
		cr_assert(!b, "\"%s\"", no[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(rw_cfg_parse_bool(bad[i], &b), -RW_EBAD_VALUE, "\"%s\"", bad[i] ? bad[i] : "(null)");
}

Test(config_parse, integers)
{
	int64_t v = 0;
	cr_assert_eq(rw_cfg_parse_int("42", 0, 100, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(rw_cfg_parse_int("  -7 \t", -10, 10, &v), 0);
	cr_assert_eq(v, -7);
	cr_assert_eq(rw_cfg_parse_int("+0", 0, 0, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(rw_cfg_parse_int("007", 0, 10, &v), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(rw_cfg_parse_int("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	cr_assert_eq(v, INT64_MAX);
	cr_assert_eq(rw_cfg_parse_int("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	cr_assert_eq(v, INT64_MIN);
	v = 5;
	static const char *bad[] = {"", " ", "-", "+", "1.5", "0x10", "1e3", "12a", "1 2", "--1",
	                            "9223372036854775808", "-9223372036854775809", "99999999999999999999", NULL};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(rw_cfg_parse_int(bad[i], INT64_MIN, INT64_MAX, &v), -RW_EBAD_VALUE, "\"%s\"",
		             bad[i] ? bad[i] : "(null)");
	cr_assert_eq(v, 5, "a refused value leaves *out alone");
	cr_assert_eq(rw_cfg_parse_int("101", 0, 100, &v), -RW_EBAD_VALUE);
	cr_assert_eq(rw_cfg_parse_int("-1", 0, 100, &v), -RW_EBAD_VALUE);
	cr_assert_eq(rw_cfg_parse_int("100", 0, 100, &v), 0);
}
