/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of labelled histogram sets: find-or-add by label, bounded size, merge by label. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "hist_set.h"

static void test_get_adds_once_and_find_sees_it(void **state)
{
	struct hist_set s;
	struct hist *a, *again;

	(void)state;
	hist_set_init(&s);
	assert_null(hist_set_find(&s, "disk=vda op=read"));
	a = hist_set_get(&s, "disk=vda op=read");
	assert_non_null(a);
	hist_add(a, 1000);
	again = hist_set_get(&s, "disk=vda op=read");
	assert_ptr_equal(a, again);
	assert_int_equal(s.n, 1);
	assert_ptr_equal(hist_set_find(&s, "disk=vda op=read"), a);
	assert_null(hist_set_find(&s, "disk=vda op=write"));
	hist_set_free(&s);
}

/* Labels are kept by value: a caller's buffer may change after the call. */
static void test_label_is_copied(void **state)
{
	struct hist_set s;
	char label[32] = "role=client";

	(void)state;
	hist_set_init(&s);
	assert_non_null(hist_set_get(&s, label));
	strcpy(label, "role=server");
	assert_non_null(hist_set_find(&s, "role=client"));
	assert_null(hist_set_find(&s, "role=server"));
	hist_set_free(&s);
}

static void test_full_set_returns_null(void **state)
{
	struct hist_set s;
	char label[32];

	(void)state;
	hist_set_init(&s);
	for (int i = 0; i < HIST_SET_MAX; i++) {
		snprintf(label, sizeof(label), "pid=%d", i);
		assert_non_null(hist_set_get(&s, label));
	}
	assert_int_equal(s.n, HIST_SET_MAX);
	assert_null(hist_set_get(&s, "pid=one-too-many"));
	/* an existing label is still found when the set is full */
	assert_non_null(hist_set_get(&s, "pid=7"));
	hist_set_free(&s);
}

/* Merge adds counts label by label and adds labels dst lacks; sums stay exact. */
static void test_merge_by_label(void **state)
{
	struct hist_set dst, src;

	(void)state;
	hist_set_init(&dst);
	hist_set_init(&src);
	for (int i = 0; i < 10; i++)
		hist_add(hist_set_get(&dst, "role=client"), 20000000);
	for (int i = 0; i < 5; i++)
		hist_add(hist_set_get(&src, "role=client"), 30000000);
	for (int i = 0; i < 3; i++)
		hist_add(hist_set_get(&src, "role=server"), 1000);
	assert_int_equal(hist_set_merge(&dst, &src), 0);
	assert_int_equal(dst.n, 2);
	assert_int_equal(hist_set_find(&dst, "role=client")->count, 15);
	assert_int_equal(hist_set_find(&dst, "role=client")->sum, 10ULL * 20000000 + 5ULL * 30000000);
	assert_int_equal(hist_set_find(&dst, "role=server")->count, 3);
	/* src is unchanged */
	assert_int_equal(hist_set_find(&src, "role=client")->count, 5);
	hist_set_free(&dst);
	hist_set_free(&src);
}

static void test_merge_into_full_set_is_enospc(void **state)
{
	struct hist_set dst, src;
	char label[32];

	(void)state;
	hist_set_init(&dst);
	hist_set_init(&src);
	for (int i = 0; i < HIST_SET_MAX; i++) {
		snprintf(label, sizeof(label), "pid=%d", i);
		hist_add(hist_set_get(&dst, label), 1);
	}
	hist_add(hist_set_get(&src, "pid=new"), 1);
	assert_int_equal(hist_set_merge(&dst, &src), -ENOSPC);
	hist_set_free(&dst);
	hist_set_free(&src);
}

/* Clear forgets the labels; the set is usable again, with empty histograms. */
static void test_clear_then_reuse(void **state)
{
	struct hist_set s;

	(void)state;
	hist_set_init(&s);
	hist_add(hist_set_get(&s, "a"), 5);
	hist_add(hist_set_get(&s, "b"), 5);
	hist_set_clear(&s);
	assert_int_equal(s.n, 0);
	assert_null(hist_set_find(&s, "a"));
	assert_int_equal(hist_set_get(&s, "b")->count, 0);
	hist_set_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_adds_once_and_find_sees_it),
		cmocka_unit_test(test_label_is_copied),
		cmocka_unit_test(test_full_set_returns_null),
		cmocka_unit_test(test_merge_by_label),
		cmocka_unit_test(test_merge_into_full_set_is_enospc),
		cmocka_unit_test(test_clear_then_reuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
