/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the SVG flame graph's units: samples (profile), or time (offcpu's off_cpu_ns). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

/* The SVG of two stacks under root "w" (values 1 and 2 s, or samples), in a string the caller frees. */
static char *graph_of(const char *value_name)
{
	static const char *const key_names[] = { "stack" };
	const char *value_names[] = { value_name };
	const char *a[] = { "w;main;wait_here" }, *b[] = { "w;main;read" };
	uint64_t one = 1000000000ull, two = 2000000000ull;
	struct count_table t;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	assert_int_equal(count_table_init(&t, 1, key_names, 1, value_names), 0);
	assert_int_equal(count_table_add(&t, a, &one), 0);
	assert_int_equal(count_table_add(&t, b, &two), 0);
	assert_int_equal(flamegraph_write(out, &t, "offcpu on host"), 0);
	fclose(out);
	count_table_free(&t);
	return text;
}

static void test_time_values_read_as_time(void **state)
{
	char *svg = graph_of("off_cpu_ns");

	(void)state;
	assert_non_null(strstr(svg, ">offcpu on host: 3.00s off CPU</text>"));
	assert_non_null(strstr(svg, "<title>wait_here (1.00s off CPU, 33.33%)</title>"));
	assert_non_null(strstr(svg, "<title>main (3.00s off CPU, 100.00%)</title>"));
	assert_null(strstr(svg, "samples"));
	free(svg);
}

static void test_counts_read_as_samples(void **state)
{
	char *svg = graph_of("samples");

	(void)state;
	assert_non_null(strstr(svg, ">offcpu on host</text>"));
	assert_non_null(strstr(svg, "<title>read (2000000000 samples, 66.67%)</title>"));
	free(svg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_values_read_as_time),
		cmocka_unit_test(test_counts_read_as_samples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
