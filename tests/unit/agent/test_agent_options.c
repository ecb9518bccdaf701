/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of tracectl-agent's option table: fields, bounds and the combinations refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

static int parse(struct agent_config *cfg, bool *check_policy, const char *const *words)
{
	static char text[32][128];
	static char *argv[33];
	int argc = 0;

	memset(cfg, 0, sizeof(*cfg));
	*check_policy = false;
	argv[argc] = strcpy(text[argc], "tracectl-agent");
	argc++;
	for (; *words; words++, argc++)
		argv[argc] = strcpy(text[argc], *words);
	argv[argc] = NULL;
	optind = 0; /* glibc: start over */
	opterr = 0;
	return agent_parse_args(argc, argv, cfg, check_policy);
}

#define PKI "--cert", "c.pem", "--key", "k.pem", "--ca", "ca.pem"

static void test_rows_store_their_fields(void **state)
{
	struct agent_config cfg;
	bool check;

	(void)state;
	assert_int_equal(parse(&cfg, &check, (const char *[]){ PKI, "-l", "127.0.0.1:9", "--max-sessions", "7",
							       "--max-handshakes-per-source", "3", "--max-duration", "1h",
							       "--handshake-timeout", "2s", "--max-overhead", "off",
							       "--metrics", "127.0.0.1:10", "--export", "syscalls", NULL }),
			 0);
	assert_string_equal(cfg.listen, "127.0.0.1:9");
	assert_string_equal(cfg.cert, "c.pem");
	assert_int_equal(cfg.max_sessions, 7);
	assert_int_equal(cfg.max_unauth_per_source, 3);
	assert_true(cfg.max_duration_ns == 3600ULL * 1000000000ULL);
	assert_true(cfg.handshake_timeout_ns == 2000000000ULL);
	assert_int_equal(cfg.max_overhead_ppm, 0);
	assert_string_equal(cfg.export_probes, "syscalls");
	assert_false(check);
}

/* The counts' bounds and the handshake timeout's are the rows' own */
static void test_bounds(void **state)
{
	struct agent_config cfg;
	bool check;

	(void)state;
	for (size_t i = 0; i < agent_option_count; i++) {
		const struct opt_row *row = &agent_option_rows[i];
		char opt[64], hi[32], above[32];

		if (!row->max || row->max > 100000)
			continue;
		snprintf(opt, sizeof(opt), "--%s", row->name);
		snprintf(hi, sizeof(hi), "%llu", (unsigned long long)row->max);
		snprintf(above, sizeof(above), "%llu", (unsigned long long)row->max + 1);
		assert_int_equal(parse(&cfg, &check, (const char *[]){ PKI, opt, hi, NULL }), 0);
		assert_int_equal(parse(&cfg, &check, (const char *[]){ PKI, opt, above, NULL }), 2);
		assert_int_equal(parse(&cfg, &check, (const char *[]){ PKI, opt, "0", NULL }), 2);
	}
	assert_int_equal(parse(&cfg, &check, (const char *[]){ PKI, "--handshake-timeout", "99ms", NULL }), 2);
	assert_int_equal(parse(&cfg, &check, (const char *[]){ PKI, "--handshake-timeout", "61m", NULL }), 2);
	assert_int_equal(parse(&cfg, &check, (const char *[]){ PKI, "--handshake-timeout", "1h", NULL }), 0);
	assert_int_equal(parse(&cfg, &check, (const char *[]){ PKI, "--max-overhead", "101%", NULL }), 2);
}

static void test_combinations(void **state)
{
	struct agent_config cfg;
	bool check;

	(void)state;
	assert_int_equal(parse(&cfg, &check, (const char *[]){ "--cert", "c.pem", NULL }), 2); /* no key, no CA */
	assert_int_equal(parse(&cfg, &check, (const char *[]){ "--check-policy", "--policy", "p", NULL }), 0);
	assert_true(check);
	assert_string_equal(cfg.policy_path, "p");
	assert_int_equal(parse(&cfg, &check, (const char *[]){ PKI, "--export", "syscalls", NULL }), 2);
	assert_int_equal(parse(&cfg, &check, (const char *[]){ PKI, "stray", NULL }), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_store_their_fields),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_combinations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
