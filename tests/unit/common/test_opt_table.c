/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the option table: getopt's arrays and the help text from the same rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "opt_table.h"

static const struct opt_row rows[] = {
	{ .help = "Options:" },
	{ .name = "duration", .short_name = 'd', .arg = "DUR", .help = "stop after DUR" },
	{ .name = "per-host", .short_name = 0, .arg = NULL, .help = "each host too" },
	{ .name = NULL, .short_name = 'o', .arg = "FILE", .help = "write to FILE" },
	{ .name = "quiet", .short_name = 'q', .arg = NULL, .help = "less" },
	{ .name = "a-rather-long-name", .short_name = 0, .arg = "VALUE", .help = "first line\nsecond line" },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static void test_getopt_arrays(void **state)
{
	struct option longopts[NROWS + 1];
	char shortopts[16];

	(void)state;
	assert_int_equal(opt_table_getopt(rows, NROWS, ":", longopts, shortopts, sizeof(shortopts)), 0);
	assert_string_equal(shortopts, ":d:o:q");
	assert_string_equal(longopts[0].name, "duration");
	assert_int_equal(longopts[0].has_arg, required_argument);
	assert_int_equal(longopts[0].val, 'd');
	assert_string_equal(longopts[1].name, "per-host");
	assert_int_equal(longopts[1].has_arg, no_argument);
	assert_true(longopts[1].val > 255); /* long only: past any letter */
	assert_ptr_equal(opt_table_find(rows, NROWS, longopts[1].val), &rows[2]);
	assert_ptr_equal(opt_table_find(rows, NROWS, 'o'), &rows[3]);
	assert_null(opt_table_find(rows, NROWS, '?'));
	assert_string_equal(longopts[2].name, "quiet");
	assert_string_equal(longopts[3].name, "a-rather-long-name");
	assert_null(longopts[4].name);
	assert_ptr_equal(opt_table_lookup(rows, NROWS, "quiet"), &rows[4]);
	assert_null(opt_table_lookup(rows, NROWS, "qui"));
	/* too small a buffer is said, not overrun */
	assert_int_equal(opt_table_getopt(rows, NROWS, ":", longopts, shortopts, 4), -ENOSPC);
}

static void test_usage_layout(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	opt_table_usage(out, rows, NROWS, 24);
	fclose(out);
	assert_string_equal(text, "Options:\n"
				  "  -d, --duration DUR    stop after DUR\n"
				  "      --per-host        each host too\n"
				  "  -o FILE               write to FILE\n"
				  "  -q, --quiet           less\n"
				  "      --a-rather-long-name VALUE  first line\n"
				  "                        second line\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_getopt_arrays),
		cmocka_unit_test(test_usage_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
