/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of tracectl's option table: what each row stores, the bounds it checks,
 * --NAME VALUE for catalog parameters, and the help text made from the same rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "options.h"

#define MAX_ARGS 32

/* argv as a shell would hand it over: writable strings (getopt permutes, --NAME=V is split) */
struct args {
	char text[MAX_ARGS][128];
	char *argv[MAX_ARGS + 1];
	int argc;
};

static int parse(struct cli_options *o, const char *const *words)
{
	static struct args a;

	memset(&a, 0, sizeof(a));
	memset(o, 0, sizeof(*o));
	inventory_init(&o->targets);
	a.argv[a.argc] = strcpy(a.text[a.argc], "tracectl");
	a.argc++;
	for (; *words; words++, a.argc++)
		a.argv[a.argc] = strcpy(a.text[a.argc], *words);
	optind = 0; /* glibc: start over, as for a new program */
	return cli_parse_args(a.argc, a.argv, o);
}

static const char *param(const struct cli_options *o, const char *name)
{
	for (size_t i = 0; i < o->nparams; i++)
		if (strcmp(o->params[i].name, name) == 0)
			return o->params[i].value;
	return NULL;
}

static void test_typed_rows_store_their_fields(void **state)
{
	struct cli_options o;

	(void)state;
	assert_int_equal(parse(&o, (const char *[]){ "attach", "h1,h2", "tcp-latency", "-d", "2s", "--interval=500ms",
						     "--pid", "42", "-c", "bash", "--top", "5", "--sort", "bytes",
						     "--per-host", "--output", "json", "--connect-timeout", "250us",
						     "--max-overhead", "2.5%", "-P", "by=remote", NULL }),
			 0);
	assert_string_equal(o.command, "attach");
	assert_string_equal(o.probe, "tcp-latency");
	assert_int_equal(o.nspecs, 1);
	assert_string_equal(o.specs[0], "h1,h2");
	assert_true(o.duration_ns == 2000000000ULL);
	assert_true(o.interval_ns == 500000000ULL);
	assert_string_equal(param(&o, "pid"), "42");
	assert_string_equal(param(&o, "comm"), "bash");
	assert_string_equal(param(&o, "top"), "5");
	assert_string_equal(param(&o, "by"), "remote");
	assert_int_equal(o.nparams, 4);
	assert_int_equal(o.ngeneric, 0);
	assert_string_equal(o.sort, "bytes");
	assert_true(o.per_host);
	assert_int_equal(o.format, OUTPUT_JSON);
	assert_true(o.connect_timeout_ms == 1); /* rounded up: never "no timeout" */
	assert_int_equal(o.max_overhead_ppm, 25000);
}

/* Every bounded row refuses one past each bound and takes the bounds themselves. */
static void test_bounds_come_from_the_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < cli_option_count; i++) {
		const struct opt_row *row = &cli_option_rows[i];
		char opt[64], lo[32], hi[32], below[32], above[32];
		struct cli_options o;
		bool is_length = row->param && strcmp(row->param, "comm") == 0;

		if (!row->name || !row->max || row->max > 1000000)
			continue;
		snprintf(opt, sizeof(opt), "--%s", row->name);
		if (is_length) { /* a string's length */
			memset(lo, 'a', row->min), lo[row->min] = '\0';
			memset(hi, 'a', row->max), hi[row->max] = '\0';
			memset(above, 'a', row->max + 1), above[row->max + 1] = '\0';
			snprintf(below, sizeof(below), "%s", "");
		} else {
			snprintf(lo, sizeof(lo), "%llu", (unsigned long long)row->min);
			snprintf(hi, sizeof(hi), "%llu", (unsigned long long)row->max);
			snprintf(above, sizeof(above), "%llu", (unsigned long long)row->max + 1);
			snprintf(below, sizeof(below), "%s", row->min ? "0" : "-1");
		}
		assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", opt, lo, NULL }), 0);
		assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", opt, hi, NULL }), 0);
		assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", opt, above, NULL }), -EINVAL);
		if (row->min || !is_length)
			assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", opt, below, NULL }), -EINVAL);
	}
}

static void test_durations_checked_against_their_minimum(void **state)
{
	struct cli_options o;

	(void)state;
	assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", "-i", "99ms", NULL }), -EINVAL);
	assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", "-i", "100ms", NULL }), 0);
	assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", "-d", "0s", NULL }), -EINVAL);
	assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", "-d", "soon", NULL }), -EINVAL);
}

/* --NAME VALUE for a name no row has: a probe parameter the catalog is asked about */
static void test_unknown_name_with_a_value_is_a_probe_parameter(void **state)
{
	struct cli_options o;

	(void)state;
	assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "--widget", "3", "p", "--gizmo=x=y", NULL }), 0);
	assert_string_equal(o.probe, "p"); /* the value was not taken for the probe */
	assert_string_equal(param(&o, "widget"), "3");
	assert_string_equal(param(&o, "gizmo"), "x=y");
	assert_int_equal(o.ngeneric, 2);
	assert_string_equal(o.generic[0], "widget");
	/* no value, a value that is an option, an abbreviation of two options, a command
	 * that attaches nothing: still an unknown option */
	assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", "--widget", NULL }), -EINVAL);
	assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", "--widget", "-d", "1s", NULL }), -EINVAL);
	assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", "--ma", "3", NULL }), -EINVAL);
	assert_int_equal(parse(&o, (const char *[]){ "status", "h", "--widget", "3", NULL }), -EINVAL);
	assert_int_equal(parse(&o, (const char *[]){ "gate", "--from", "f", "--max", "count=1", "--widget", "3", NULL }),
			 -EINVAL);
	/* the same parameter twice, whichever way it is written */
	assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", "--pid", "1", "-P", "pid=2", NULL }), -EINVAL);
	assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", "--widget", "1", "-P", "widget=2", NULL }),
			 -EINVAL);
}

static void test_commands_and_operands(void **state)
{
	struct cli_options o;

	(void)state;
	assert_int_equal(parse(&o, (const char *[]){ "gate", "h", "p", NULL }), -EINVAL); /* no threshold */
	assert_int_equal(parse(&o, (const char *[]){ "gate", "h", "p", "--max", "p99=5ms", "--gate-on", "each-host",
						     "--allow-missing", "2", NULL }),
			 0);
	assert_int_equal(o.gate.n, 1);
	assert_true(o.gate.each_host);
	assert_int_equal(o.gate.allow_missing, 2);
	assert_int_equal(parse(&o, (const char *[]){ "record", "h", "p", NULL }), -EINVAL); /* no -o */
	assert_int_equal(parse(&o, (const char *[]){ "record", "-o", "f", "-H", "h", "p", NULL }), 0);
	assert_string_equal(o.out_file, "f");
	assert_string_equal(o.probe, "p");
	assert_int_equal(parse(&o, (const char *[]){ "status", "a", "b", "c", NULL }), 0);
	assert_int_equal(o.nspecs, 3);
	assert_int_equal(parse(&o, (const char *[]){ "probes", "h", "tcp-latency", NULL }), 0);
	assert_string_equal(o.probe, "tcp-latency");
	assert_int_equal(parse(&o, (const char *[]){ "report", "run.trace", NULL }), 0);
	assert_string_equal(o.from_file, "run.trace");
	assert_int_equal(parse(&o, (const char *[]){ "frobnicate", "h", NULL }), -EINVAL);
	assert_int_equal(parse(&o, (const char *[]){ "attach", "h", "p", "extra", NULL }), -EINVAL);
}

/* The help lists every row, and every --option it shows is a row. */
static void test_help_and_table_agree(void **state)
{
	char *text = NULL, *at;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	assert_non_null(out);
	cli_usage(out);
	fclose(out);
	for (size_t i = 0; i < cli_option_count; i++) {
		char needle[64];

		if (!cli_option_rows[i].name)
			continue;
		snprintf(needle, sizeof(needle), "--%s ", cli_option_rows[i].name);
		assert_non_null(strstr(text, needle));
	}
	/* an option line: "  -x, --name" or "      --name" at the start of a line */
	for (at = text; (at = strstr(at, "\n      --")) != NULL; at++) {
		char name[64];

		assert_int_equal(sscanf(at + 9, "%63[a-z-]", name), 1);
		assert_non_null(opt_table_lookup(cli_option_rows, cli_option_count, name));
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typed_rows_store_their_fields),
		cmocka_unit_test(test_bounds_come_from_the_rows),
		cmocka_unit_test(test_durations_checked_against_their_minimum),
		cmocka_unit_test(test_unknown_name_with_a_value_is_a_probe_parameter),
		cmocka_unit_test(test_commands_and_operands),
		cmocka_unit_test(test_help_and_table_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
