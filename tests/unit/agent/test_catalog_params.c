/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of Attach parameter parsing against the catalog: types, bounds, the probe's own
 * parameter set, and refusals that name the parameter and the value. No file is touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "catalog.h"
#include "result_kind.h"
#include "runtime.h"

#define MAX_GIVEN 8

/* parse(PROBE, "name", "value", ..., NULL) into out; returns catalog_parse_params' result. */
static int parse(const char *probe_name, struct probe_params *out, char *err, size_t errlen, ...)
{
	Tracectl__Param storage[MAX_GIVEN], *given[MAX_GIVEN];
	const struct probe_desc *probe = catalog_find(probe_name);
	size_t n = 0;
	va_list ap;

	assert_non_null(probe);
	va_start(ap, errlen);
	for (const char *name; (name = va_arg(ap, const char *)) != NULL && n < MAX_GIVEN; n++) {
		tracectl__param__init(&storage[n]);
		storage[n].name = (char *)name;
		storage[n].value = va_arg(ap, char *);
		given[n] = &storage[n];
	}
	va_end(ap);
	err[0] = '\0';
	return catalog_parse_params(probe, given, n, out, err, errlen);
}

static void test_typed_values(void **state)
{
	struct probe_params p;
	char err[256];

	(void)state;
	assert_int_equal(parse("tcp-latency", &p, err, sizeof(err), "pid", "4242", "port", "8080", "comm", "nginx",
			       NULL), 0);
	assert_int_equal(p.pid, 4242);
	assert_int_equal(p.port, 8080);
	assert_string_equal(p.comm, "nginx");
}

/* top takes the probe's default when not given */
static void test_default_top(void **state)
{
	const struct probe_desc *probe = catalog_find("tcp-top");
	struct probe_params p;
	char err[256];

	(void)state;
	assert_non_null(probe);
	assert_int_equal(parse("tcp-top", &p, err, sizeof(err), NULL), 0);
	assert_int_equal(p.top, probe->default_top);
	assert_int_equal(parse("tcp-top", &p, err, sizeof(err), "top", "3", NULL), 0);
	assert_int_equal(p.top, 3);
}

static void test_bounds_name_parameter_and_value(void **state)
{
	static const struct {
		const char *probe, *name, *value, *want;
	} cases[] = {
		{ "tcp-latency", "pid", "0", "parameter 'pid' value '0' is not a number in 1..4194304" },
		{ "tcp-latency", "pid", "-1", "'pid' value '-1'" },
		{ "tcp-latency", "pid", "8589934592", "'pid' value '8589934592'" },
		{ "tcp-latency", "pid", "12x", "'pid' value '12x'" },
		{ "tcp-latency", "port", "65536", "'port' value '65536' is not a number in 1..65535" },
		{ "tcp-latency", "comm", "", "parameter 'comm' value '' must be 1..15 bytes" },
		{ "tcp-latency", "comm", "sixteen-bytes-xx", "must be 1..15 bytes" },
		{ "runq-latency", "cgroup", "/../../etc", "'cgroup' value '/../../etc' is not a cgroup" },
		{ "runq-latency", "cgroup", "relative", "is not a cgroup" },
		{ "profile", "freq", "10001", "'freq' value '10001' is not a number in 1..10000" },
		/* names compared with directory names, never paths to open */
		{ "tcp-send", "container", "../etc", "'container' value '../etc' is not a container name" },
		{ "tcp-send", "pod", "a/b", "'pod' value 'a/b' is not a pod name" },
		{ "tcp-send", "service", ".hidden", "'service' value '.hidden' is not a service name" },
		{ "tcp-send", "container", "", "is not a container name" },
	};
	struct probe_params p;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].probe, &p, err, sizeof(err), cases[i].name, cases[i].value, NULL),
				 -EINVAL);
		if (!strstr(err, cases[i].want))
			fail_msg("%s %s=%s: '%s' does not say '%s'", cases[i].probe, cases[i].name, cases[i].value,
				 err, cases[i].want);
	}
}

/* A parameter another probe takes is "unsupported" here; one no probe takes is "unknown";
 * both list what this probe takes. */
static void test_probe_parameter_set(void **state)
{
	struct probe_params p;
	char err[256];

	(void)state;
	assert_int_equal(parse("tcp-latency", &p, err, sizeof(err), "target", "/bin/sh:main", NULL), -EINVAL);
	assert_non_null(strstr(err, "unsupported parameter 'target' for probe tcp-latency (it takes: "));
	assert_non_null(strstr(err, "pid"));
	assert_int_equal(parse("tcp-latency", &p, err, sizeof(err), "bytecode", "x", NULL), -EINVAL);
	assert_non_null(strstr(err, "unknown parameter 'bytecode'"));
	assert_int_equal(parse("tcp-latency", &p, err, sizeof(err), "pid", "1", "pid", "2", NULL), -EINVAL);
	assert_non_null(strstr(err, "parameter 'pid' given twice"));
	/* the cgroup filters share a bit but are each their own parameter: all may be given */
	assert_int_equal(parse("tcp-send", &p, err, sizeof(err), "container", "abc", "pod", "u-i-d", "service", "x",
			       "cgroup", "/", NULL),
			 0);
	assert_string_equal(p.container, "abc");
	assert_string_equal(p.pod, "u-i-d");
	assert_string_equal(p.service, "x");
	assert_int_equal(parse("tcp-send", &p, err, sizeof(err), "pod", "a", "pod", "b", NULL), -EINVAL);
	assert_non_null(strstr(err, "parameter 'pod' given twice"));
}

/* --by and --measure take one of the probe's own words */
static void test_choices(void **state)
{
	const struct probe_desc *probe = catalog_find("syscalls");
	struct probe_params p;
	char err[256], first[PROBE_BY_LEN];

	(void)state;
	assert_non_null(probe);
	assert_non_null(probe->by_choices);
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(probe->by_choices, "|"), probe->by_choices);
	assert_int_equal(parse("syscalls", &p, err, sizeof(err), "by", first, NULL), 0);
	assert_string_equal(p.by, first);
	assert_int_equal(parse("syscalls", &p, err, sizeof(err), "by", "planet", NULL), -EINVAL);
	assert_non_null(strstr(err, "parameter 'by' value 'planet' is not one of "));
	assert_non_null(strstr(err, probe->by_choices));
}

/* The table ListProbes ships: every parameter has a name, a type, a range and help. */
static void test_param_specs_complete(void **state)
{
	(void)state;
	assert_true(catalog_param_count() >= 9);
	for (size_t i = 0; i < catalog_param_count(); i++) {
		const struct param_spec *s = catalog_param_at(i);

		assert_non_null(s->name);
		assert_non_null(s->type);
		assert_non_null(s->description);
		assert_true(s->name[0] && s->description[0]);
	}
}

/* --by container: the workload where the probe's pid and comm were, first where it has no
 * pid, none for a stack probe (its stacks' root frame); a row's keys follow the columns. */
static void test_workload_columns(void **state)
{
	static const struct {
		const char *probe, *columns, *row;
	} cases[] = {
		{ "file-top", "container,file,type", "-,f,R" },     { "func-count", "container,function", "-,fn" },
		{ "kfunc-count", "function,container", "fn,-" },    { "tcp-top", "container,laddr,raddr", "-,l,r" },
		{ "profile", "stack", "s" },                        { "tcp-send", "container", "-" },
	};
	/* the probes' own keys, in their key_names' order */
	static const struct {
		const char *probe;
		const char *keys[4];
	} rows[] = {
		{ "file-top", { "42", "comm", "f", "R" } }, { "func-count", { "fn" } },
		{ "kfunc-count", { "fn", "42", "comm" } }, { "tcp-top", { "42", "comm", "l", "r" } },
		{ "profile", { "s" } },                    { "tcp-send", { "42", "comm" } },
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct probe_desc *probe = catalog_find(cases[c].probe);
		struct probe_params p = { 0 };
		struct result window, total;
		const char *out[COUNT_MAX_KEYS];
		char columns[128] = "", row[128] = "", workload[64];

		assert_non_null(probe);
		snprintf(p.by, sizeof(p.by), "container");
		assert_int_equal(catalog_results_init(probe, &p, &window, &total, 10), 0);
		/* id 0 is no cgroup's: "-", without a look at the cgroup2 mount */
		probe_row_keys(probe, &window.counts, 0, rows[c].keys, out, workload, sizeof(workload));
		for (size_t k = 0; k < window.counts.nkeys; k++) {
			snprintf(columns + strlen(columns), sizeof(columns) - strlen(columns), "%s%s", k ? "," : "",
				 window.counts.key_names[k]);
			snprintf(row + strlen(row), sizeof(row) - strlen(row), "%s%s", k ? "," : "", out[k]);
		}
		assert_string_equal(columns, cases[c].columns);
		assert_string_equal(row, cases[c].row);
		result_free(&window);
		result_free(&total);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typed_values),
		cmocka_unit_test(test_default_top),
		cmocka_unit_test(test_bounds_name_parameter_and_value),
		cmocka_unit_test(test_probe_parameter_set),
		cmocka_unit_test(test_choices),
		cmocka_unit_test(test_param_specs_complete),
		cmocka_unit_test(test_workload_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
