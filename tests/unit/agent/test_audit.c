/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the audit log's per-source rate limit of refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "audit.h"

struct reports {
	char key[64];
	uint64_t total;
	unsigned calls;
};

static void count_report(const char *key, uint64_t suppressed, void *arg)
{
	struct reports *r = arg;

	snprintf(r->key, sizeof(r->key), "%s", key);
	r->total += suppressed;
	r->calls++;
}

static struct audit_limiter limiter; /* large: not on the stack */

static void test_burst_then_suppressed(void **state)
{
	struct reports r = { 0 };
	uint64_t t = 1000, allowed = 0;
	(void)state;

	memset(&limiter, 0, sizeof(limiter));
	for (int i = 0; i < 300; i++)
		allowed += audit_limiter_allow(&limiter, "10.0.0.1", t + (uint64_t)i * 1000, count_report, &r);
	assert_int_equal(allowed, AUDIT_LIMIT_BURST);
	assert_int_equal(r.calls, 0);
	/* another source has its own burst */
	assert_true(audit_limiter_allow(&limiter, "10.0.0.2", t, count_report, &r));
	/* nothing is reported before the window ends, then the 290 at once */
	assert_true(audit_limiter_flush(&limiter, t + AUDIT_LIMIT_WINDOW_NS - 1, count_report, &r));
	assert_int_equal(r.calls, 0);
	assert_false(audit_limiter_flush(&limiter, t + AUDIT_LIMIT_WINDOW_NS, count_report, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.total, 290);
	assert_string_equal(r.key, "10.0.0.1");
	/* a new window allows a new burst */
	assert_true(audit_limiter_allow(&limiter, "10.0.0.1", t + AUDIT_LIMIT_WINDOW_NS + 1, count_report, &r));
}

static void test_window_end_reports_on_next_line(void **state)
{
	struct reports r = { 0 };
	(void)state;

	memset(&limiter, 0, sizeof(limiter));
	for (int i = 0; i < 15; i++)
		audit_limiter_allow(&limiter, "a", 0, count_report, &r);
	assert_true(audit_limiter_allow(&limiter, "a", AUDIT_LIMIT_WINDOW_NS, count_report, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.total, 5);
	/* at shutdown every pending count is reported */
	for (int i = 0; i < 12; i++)
		audit_limiter_allow(&limiter, "b", 5, count_report, &r);
	assert_false(audit_limiter_flush(&limiter, UINT64_MAX, count_report, &r));
	assert_int_equal(r.total, 7);
}

static void test_sources_beyond_the_table(void **state)
{
	struct reports r = { 0 };
	char key[32];
	(void)state;

	memset(&limiter, 0, sizeof(limiter));
	/* the first source's count is reported when its slot is reused */
	for (int i = 0; i < 11; i++)
		audit_limiter_allow(&limiter, "first", 1, count_report, &r);
	for (unsigned i = 0; i < AUDIT_LIMIT_SOURCES; i++) {
		snprintf(key, sizeof(key), "s%u", i);
		assert_true(audit_limiter_allow(&limiter, key, 2 + i, count_report, &r));
	}
	assert_int_equal(limiter.n, AUDIT_LIMIT_SOURCES);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.total, 1);
	assert_string_equal(r.key, "first");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_suppressed),
		cmocka_unit_test(test_window_end_reports_on_next_line),
		cmocka_unit_test(test_sources_beyond_the_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
