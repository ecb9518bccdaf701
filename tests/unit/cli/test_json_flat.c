/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the one-object-per-line JSON reader the gate uses for baselines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "json_flat.h"

static void test_top_level_members(void **state)
{
	struct json_flat o;
	char err[128];
	const struct json_member *m;

	(void)state;
	assert_int_equal(json_flat_parse("{\"type\":\"summary\", \"p99_ns\": 20250000, \"max_exact\": true,"
					 " \"ratio\": -1.5e-3}", &o, err, sizeof(err)), 0);
	assert_int_equal(o.n, 4);
	m = json_flat_get(&o, "type");
	assert_non_null(m);
	assert_false(m->is_num);
	assert_string_equal(m->str, "summary");
	m = json_flat_get(&o, "p99_ns");
	assert_true(m->is_num);
	assert_true(m->num == 20250000.0);
	assert_string_equal(json_flat_get(&o, "max_exact")->str, "true");
	assert_true(json_flat_get(&o, "ratio")->num == -1.5e-3);
	assert_null(json_flat_get(&o, "missing"));
}

/* Nested arrays and objects are skipped, not kept, and do not end the object early. */
static void test_nested_values_are_skipped(void **state)
{
	struct json_flat o;
	char err[128];

	(void)state;
	assert_int_equal(json_flat_parse("{\"buckets\":[[1,2],[3,{\"x\":\"]}\"}]],\"host\":\"web1\","
					 "\"cost\":{\"runs\":5},\"count\":7}", &o, err, sizeof(err)), 0);
	assert_int_equal(o.n, 2);
	assert_string_equal(json_flat_get(&o, "host")->str, "web1");
	assert_true(json_flat_get(&o, "count")->num == 7.0);
	assert_null(json_flat_get(&o, "buckets"));
}

static void test_escapes_in_strings(void **state)
{
	struct json_flat o;
	char err[128];

	(void)state;
	assert_int_equal(json_flat_parse("{\"s\":\"a\\\"b\\\\c\\n\\u00e9\"}", &o, err, sizeof(err)), 0);
	assert_string_equal(json_flat_get(&o, "s")->str, "a\"b\\c\n?");
}

/* Damaged lines are refused with a reason, never read past their end. */
static void test_damaged_lines_are_refused(void **state)
{
	static const char *const bad[] = {
		"", "{", "{\"a\":", "{\"a\":1", "{\"a\" 1}", "{\"a\":\"unterminated}", "[1,2]",
		"{\"a\":[1,2}", "{\"a\":\"\\u12\"}", "{\"a\":1,}", "{a:1}",
	};
	struct json_flat o;
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(json_flat_parse(bad[i], &o, err, sizeof(err)), -EINVAL);
		assert_true(err[0] != '\0');
	}
}

/* Nesting deeper than the reader's bound is refused rather than recursed into. */
static void test_deep_nesting_is_bounded(void **state)
{
	char line[256];
	struct json_flat o;
	char err[128];
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(line + n, sizeof(line) - n, "{\"a\":");
	for (int i = 0; i < 100; i++)
		line[n++] = '[';
	line[n] = '\0';
	assert_int_equal(json_flat_parse(line, &o, err, sizeof(err)), -EINVAL);
}

static void test_long_strings_are_truncated(void **state)
{
	char line[1024];
	struct json_flat o;
	char err[128];

	(void)state;
	snprintf(line, sizeof(line), "{\"s\":\"%0600d\"}", 0);
	assert_int_equal(json_flat_parse(line, &o, err, sizeof(err)), 0);
	assert_int_equal(strlen(json_flat_get(&o, "s")->str), JSON_FLAT_STR_LEN - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_level_members),
		cmocka_unit_test(test_nested_values_are_skipped),
		cmocka_unit_test(test_escapes_in_strings),
		cmocka_unit_test(test_damaged_lines_are_refused),
		cmocka_unit_test(test_deep_nesting_is_bounded),
		cmocka_unit_test(test_long_strings_are_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
