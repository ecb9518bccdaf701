/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of count tables bounded by an "other" row: rows stay few, sums stay exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "count_table.h"

static const char *const key_names[] = { "pid", "file" };
static const char *const value_names[] = { "writes", "bytes" };

static void init(struct count_table *t)
{
	assert_int_equal(count_table_init(t, 2, key_names, 2, value_names), 0);
}

static void column_sums(const struct count_table *t, uint64_t sums[2])
{
	sums[0] = sums[1] = 0;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t v = 0; v < 2; v++)
			sums[v] += t->rows[r].values[v];
}

/* Key i is written (i % 97) + 1 times, 10 bytes each, as the agent reads a file-top window. */
static void add_files(struct count_table *t, size_t first, size_t n, uint64_t want[2])
{
	char name[32];

	for (size_t i = first; i < first + n; i++) {
		const char *keys[2] = { "42", name };
		uint64_t values[2] = { i % 97 + 1, (i % 97 + 1) * 10 };

		snprintf(name, sizeof(name), "f%zu", i);
		assert_int_equal(count_table_add(t, keys, values), 0);
		want[0] += values[0];
		want[1] += values[1];
	}
}

static void test_bounded_adds_keep_sums(void **state)
{
	struct count_table t;
	uint64_t want[2] = { 0, 0 }, got[2];
	size_t peak = 0;

	(void)state;
	init(&t);
	count_table_set_max_rows(&t, 100, 0);
	for (size_t chunk = 0; chunk < 500; chunk++) {
		add_files(&t, chunk * 100, 100, want);
		if (t.nrows > peak)
			peak = t.nrows;
	}
	/* 50000 distinct keys, never more than max + max/2 + 1 rows held */
	assert_true(peak <= 151);
	column_sums(&t, got);
	assert_int_equal(got[0], want[0]);
	assert_int_equal(got[1], want[1]);

	assert_int_equal(count_table_fold(&t, 0, 20), 0);
	assert_int_equal(t.nrows, 21);
	assert_true(count_table_row_is_other(&t, &t.rows[20]));
	assert_string_equal(t.rows[20].keys[0], COUNT_OTHER_KEY);
	assert_string_equal(t.rows[20].keys[1], "-");
	for (size_t r = 0; r < 20; r++)
		assert_false(count_table_row_is_other(&t, &t.rows[r]));
	/* every key folded counts once per fold that took it */
	assert_true(t.rows_omitted >= 50000 - 20);
	column_sums(&t, got);
	assert_int_equal(got[0], want[0]);
	assert_int_equal(got[1], want[1]);
	/* the largest row by writes is a key written 97 times */
	assert_int_equal(t.rows[0].values[0], 97);
	count_table_free(&t);
}

static void test_fold_small_table_is_unchanged(void **state)
{
	struct count_table t;
	uint64_t want[2] = { 0, 0 };

	(void)state;
	init(&t);
	add_files(&t, 0, 5, want);
	assert_int_equal(count_table_fold(&t, 1, 5), 0);
	assert_int_equal(t.nrows, 5);
	assert_int_equal(t.rows_omitted, 0);
	/* sorted by bytes, largest first */
	assert_int_equal(t.rows[0].values[1], 50);
	count_table_free(&t);
}

static void test_other_rows_merge_and_sort_last(void **state)
{
	struct count_table a, b;
	uint64_t want[2] = { 0, 0 }, got[2];

	(void)state;
	init(&a);
	init(&b);
	add_files(&a, 0, 300, want);
	add_files(&b, 1000, 300, want);
	assert_int_equal(count_table_fold(&a, 0, 10), 0);
	assert_int_equal(count_table_fold(&b, 0, 10), 0);
	assert_int_equal(count_table_merge(&a, &b), 0);
	/* 20 keys and one other row holding both tables' rest */
	assert_int_equal(a.nrows, 21);
	count_table_sort(&a, 0);
	assert_true(count_table_row_is_other(&a, &a.rows[20]));
	/* the other row holds more than any key, still last */
	assert_true(a.rows[20].values[0] > a.rows[0].values[0]);
	column_sums(&a, got);
	assert_int_equal(got[0], want[0]);
	assert_int_equal(got[1], want[1]);
	assert_int_equal(a.rows_omitted, 580);
	count_table_free(&a);
	count_table_free(&b);
}

static void test_from_pb_is_bounded(void **state)
{
	struct count_table big, copy;
	Tracectl__CountTable msg;
	uint64_t want[2] = { 0, 0 }, got[2];
	char err[128];

	(void)state;
	init(&big);
	add_files(&big, 0, COUNT_TABLE_MAX_ROWS * 2, want);
	assert_int_equal(count_table_to_pb(&big, 0, &msg), 0);
	assert_int_equal(count_table_from_pb(&copy, &msg, err, sizeof(err)), 0);
	assert_true(copy.nrows <= COUNT_TABLE_MAX_ROWS + COUNT_TABLE_MAX_ROWS / 2 + 1);
	column_sums(&copy, got);
	assert_int_equal(got[0], want[0]);
	assert_int_equal(got[1], want[1]);
	count_table_pb_free(&msg);
	count_table_free(&copy);
	count_table_free(&big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded_adds_keep_sums),
		cmocka_unit_test(test_fold_small_table_is_unchanged),
		cmocka_unit_test(test_other_rows_merge_and_sort_last),
		cmocka_unit_test(test_from_pb_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
