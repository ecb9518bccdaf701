/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the agent policy: parsing with FILE:LINE errors, identity matching, decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

static const struct probe_desc hist_probe = { .name = "tcp-latency", .kind = PROBE_HISTOGRAM };
static const struct probe_desc exec_probe = { .name = "exec", .kind = PROBE_EVENTS };
static const struct probe_desc func_probe = { .name = "func-count",
					       .kind = PROBE_COUNTS,
					       .target_kind = PROBE_TARGET_BINARY };
static const struct probe_desc profile_probe = { .name = "profile", .kind = PROBE_COUNTS };
static const struct probe_desc tp_probe = { .name = "tp-count",
					     .kind = PROBE_COUNTS,
					     .target_kind = PROBE_TARGET_TRACEPOINT };
static const struct probe_desc kfunc_probe = { .name = "kfunc-count",
					       .kind = PROBE_COUNTS,
					       .target_kind = PROBE_TARGET_KERNEL_FUNCTION };
static const struct probe_desc tcp_top_probe = { .name = "tcp-top", .kind = PROBE_COUNTS };
static const struct probe_desc file_top_probe = { .name = "file-top", .kind = PROBE_COUNTS };
static const struct probe_desc cpu_top_probe = { .name = "cpu-top", .kind = PROBE_COUNTS };

static int parse(struct policy *p, const char *text, char *err, size_t errlen)
{
	policy_init(p);
	return policy_parse(p, "pol", text, strlen(text), err, errlen);
}

static struct policy_decision decide(const struct policy *p, const char *cn, const char *dns,
				     const struct probe_desc *probe, const struct probe_params *params, uint64_t duration,
				     uint32_t sessions)
{
	struct policy_identity id = { 0 };
	struct probe_params none = { 0 };
	struct policy_request req = { .probe = probe, .params = params ? params : &none, .duration_ns = duration,
				      .identity_sessions = sessions };
	struct policy_decision d;

	snprintf(id.cn, sizeof(id.cn), "%s", cn);
	if (dns) {
		snprintf(id.dns[0], sizeof(id.dns[0]), "%s", dns);
		id.ndns = 1;
	}
	policy_check(p, &id, &req, &d);
	return d;
}

static void test_default_policy(void **state)
{
	struct policy p;
	char err[256] = "";
	struct policy_decision d;

	(void)state;
	policy_init(&p);
	assert_int_equal(policy_load_default(&p, err, sizeof(err)), 0);
	d = decide(&p, "anyone", NULL, &hist_probe, NULL, 0, 0);
	assert_true(d.allowed);
	d = decide(&p, "anyone", NULL, &exec_probe, NULL, 0, 0);
	assert_false(d.allowed);
	assert_non_null(strstr(d.message, "does not allow probe exec"));
	d = decide(&p, "anyone", NULL, &func_probe, NULL, 0, 0);
	assert_false(d.allowed);
	assert_non_null(strstr(d.message, "deny func-*"));
	d = decide(&p, "anyone", NULL, &profile_probe, NULL, 0, 0);
	assert_false(d.allowed);
	/* addresses (tcp-top) and file names (file-top) need a grant, as docs/POLICY.md says */
	d = decide(&p, "anyone", NULL, &tcp_top_probe, NULL, 0, 0);
	assert_false(d.allowed);
	assert_non_null(strstr(d.message, "denies probe tcp-top"));
	d = decide(&p, "anyone", NULL, &file_top_probe, NULL, 0, 0);
	assert_false(d.allowed);
	assert_non_null(strstr(d.message, "denies probe file-top"));
	assert_true(decide(&p, "anyone", NULL, &cpu_top_probe, NULL, 0, 0).allowed);
	policy_free(&p);
}

static void test_status_all_grant(void **state)
{
	struct policy p;
	struct policy_identity auditor = { .cn = "auditor" }, other = { .cn = "alice" }, ops = { .cn = "ops-1" };
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(&p, "[cn:auditor]\nallow-kind histogram\nallow status-all\n"
				   "[cn:ops-*]\nallow *\n[*]\nallow-kind histogram\n", err, sizeof(err)), 0);
	assert_true(policy_grants(&p, &auditor, POLICY_GRANT_STATUS_ALL));
	/* a probe glob is no grant of other clients' sessions */
	assert_false(policy_grants(&p, &ops, POLICY_GRANT_STATUS_ALL));
	assert_false(policy_grants(&p, &other, POLICY_GRANT_STATUS_ALL));
	policy_free(&p);
	assert_int_equal(policy_load_default(&p, err, sizeof(err)), 0);
	assert_false(policy_grants(&p, &other, POLICY_GRANT_STATUS_ALL));
	policy_free(&p);
}

static void test_sections_first_match(void **state)
{
	struct policy p;
	char err[256] = "";
	struct policy_decision d;
	struct probe_params params = { 0 };
	const char *text = "# test\n"
			   "[cn:ops-*]\n"
			   "allow *\n"
			   "deny profile\n"
			   "max-duration 1h\n"
			   "max-sessions 2\n"
			   "max-event-rate 100   # per second\n"
			   "[dns:*.ci.example.com]\n"
			   "allow func-count\n"
			   "target-prefix /usr/bin\n"
			   "[*]\n"
			   "allow-kind histogram\n";

	(void)state;
	assert_int_equal(parse(&p, text, err, sizeof(err)), 0);
	assert_int_equal(p.n, 3);

	d = decide(&p, "ops-alice", NULL, &exec_probe, NULL, 60000000000ULL, 0);
	assert_true(d.allowed);
	assert_int_equal(d.max_event_rate, 100);
	assert_string_equal(d.rule, "pol:3");
	/* deny wins over allow *, named by its line */
	d = decide(&p, "ops-alice", NULL, &profile_probe, NULL, 60000000000ULL, 0);
	assert_false(d.allowed);
	assert_string_equal(d.rule, "pol:4");
	/* unlimited and too long durations, session limit */
	d = decide(&p, "ops-alice", NULL, &exec_probe, NULL, 0, 0);
	assert_false(d.allowed);
	assert_string_equal(d.rule, "pol:5");
	d = decide(&p, "ops-alice", NULL, &exec_probe, NULL, 7200000000000ULL, 0);
	assert_false(d.allowed);
	d = decide(&p, "ops-alice", NULL, &exec_probe, NULL, 1000000000ULL, 2);
	assert_false(d.allowed);
	assert_string_equal(d.rule, "pol:6");

	/* SAN DNS section; the target as sent (no file looked at), then the file opened */
	snprintf(params.target, sizeof(params.target), "/usr/bin/true:main");
	d = decide(&p, "runner", "job1.ci.example.com", &func_probe, &params, 0, 0);
	assert_true(d.allowed);
	policy_check_target_file(&p, "/usr/bin/true", 42, &d);
	assert_true(d.allowed);
	/* a symlink under the prefix to a file outside it: denied by what was opened */
	policy_check_target_file(&p, "/usr/lib/x86_64-linux-gnu/libc.so.6", 42, &d);
	assert_false(d.allowed);
	assert_string_equal(d.rule, "pol:10");
	assert_non_null(strstr(d.message, "'/usr/lib/x86_64-linux-gnu/libc.so.6' (inode 42), outside every target-prefix"));
	/* "..", "." and paths outside: denied as sent, whatever the file system holds */
	for (size_t i = 0; i < 4; i++) {
		static const char *const outside[] = { "/usr/bin/../lib/x:main", "/usr/bin/./true:main",
						       "/usr/binary:main", "/nonexistent/x:main" };

		snprintf(params.target, sizeof(params.target), "%s", outside[i]);
		d = decide(&p, "runner", "job1.ci.example.com", &func_probe, &params, 0, 0);
		assert_false(d.allowed);
		assert_non_null(strstr(d.message, "outside every target-prefix"));
		assert_string_equal(d.rule, "pol:10");
	}
	snprintf(params.target, sizeof(params.target), "/usr/bin/..x:main");
	assert_true(decide(&p, "runner", "job1.ci.example.com", &func_probe, &params, 0, 0).allowed);

	/* [*] catches the rest; no match for events */
	d = decide(&p, "someone", NULL, &hist_probe, NULL, 0, 0);
	assert_true(d.allowed);
	d = decide(&p, "someone", NULL, &exec_probe, NULL, 0, 0);
	assert_false(d.allowed);
	assert_string_equal(d.rule, "pol:11");
	policy_free(&p);
}

static void test_no_matching_section(void **state)
{
	struct policy p;
	char err[256] = "";
	struct policy_decision d;

	(void)state;
	assert_int_equal(parse(&p, "[cn:alice]\nallow *\n", err, sizeof(err)), 0);
	d = decide(&p, "bob", NULL, &hist_probe, NULL, 0, 0);
	assert_false(d.allowed);
	assert_non_null(strstr(d.message, "no section matches client CN 'bob'"));
	d = decide(&p, "alice", NULL, &hist_probe, NULL, 0, 0);
	assert_true(d.allowed);
	policy_free(&p);
}

static void test_freq(void **state)
{
	struct policy p;
	char err[256] = "";
	struct policy_decision d;
	struct probe_params params = { .freq_hz = 999 };

	(void)state;
	assert_int_equal(parse(&p, "[*]\nallow profile\nfreq 1..99\n", err, sizeof(err)), 0);
	d = decide(&p, "x", NULL, &profile_probe, &params, 0, 0);
	assert_false(d.allowed);
	assert_string_equal(d.rule, "pol:3");
	params.freq_hz = 49;
	d = decide(&p, "x", NULL, &profile_probe, &params, 0, 0);
	assert_true(d.allowed);
	policy_free(&p);
}

static void test_tracepoint_categories(void **state)
{
	struct policy p;
	char err[256] = "";
	struct policy_decision d;
	struct probe_params params = { 0 };

	(void)state;
	assert_int_equal(parse(&p, "[*]\nallow tp-count\ntracepoint-categories sched net*\n"
				   "target-prefix /usr/bin\n", err, sizeof(err)), 0);
	snprintf(params.target, sizeof(params.target), "sched:sched_process_*");
	d = decide(&p, "x", NULL, &tp_probe, &params, 0, 0);
	assert_true(d.allowed);
	snprintf(params.target, sizeof(params.target), "netfs:*");
	assert_true(decide(&p, "x", NULL, &tp_probe, &params, 0, 0).allowed);
	snprintf(params.target, sizeof(params.target), "syscalls:sys_enter_*");
	d = decide(&p, "x", NULL, &tp_probe, &params, 0, 0);
	assert_false(d.allowed);
	assert_string_equal(d.rule, "pol:3");
	assert_non_null(strstr(d.message, "tracepoint-categories"));
	/* a glob category could reach anything: it must be named */
	snprintf(params.target, sizeof(params.target), "s*:*");
	assert_false(decide(&p, "x", NULL, &tp_probe, &params, 0, 0).allowed);
	policy_free(&p);
	assert_int_not_equal(parse(&p, "[*]\ntracepoint-categories sched:x\n", err, sizeof(err)), 0);
	assert_non_null(strstr(err, "pol:2"));
	policy_free(&p);
}

/* kfunc-*: the glob of a request must lie inside one of kernel-functions' globs, whatever
 * it could match; the other target kinds' restrictions do not apply to it. */
static void test_kernel_functions(void **state)
{
	static const struct {
		const char *target;
		bool allowed;
	} cases[] = {
		{ "tcp_sendmsg", true },
		{ "tcp_send*", true },      /* inside tcp_* */
		{ "tcp_?endmsg", true },
		{ "vfs_read", true },
		{ "vfs_readv", false },     /* vfs_read is a name, not a prefix */
		{ "*", false },
		{ "t*", false },            /* could match tcp_x and also tty_x */
		{ "udp_sendmsg", false },
		{ "tcp_[s]endmsg", false }, /* brackets cannot be judged as text */
		{ "/usr/bin/x:tcp_x", false },
	};
	struct policy p;
	char err[256] = "";
	struct probe_params params = { 0 };
	struct policy_decision d;

	(void)state;
	/* target-prefix and tracepoint-categories are for the other kinds of target */
	assert_int_equal(parse(&p, "[*]\nallow kfunc-count\nkernel-functions tcp_* vfs_read\n"
				   "target-prefix /usr/bin\ntracepoint-categories sched\n", err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(params.target, sizeof(params.target), "%s", cases[i].target);
		d = decide(&p, "x", NULL, &kfunc_probe, &params, 0, 0);
		if (d.allowed != cases[i].allowed)
			fail_msg("target %s: allowed %d, want %d (%s)", cases[i].target, d.allowed, cases[i].allowed,
				 d.message);
		if (!d.allowed) {
			assert_string_equal(d.rule, "pol:3");
			assert_non_null(strstr(d.message, "kernel-functions"));
		}
	}
	/* a func-count binary target is not judged by kernel-functions */
	snprintf(params.target, sizeof(params.target), "/usr/bin/x:main");
	assert_true(decide(&p, "x", NULL, &func_probe, &params, 0, 0).allowed == false);
	policy_free(&p);
	assert_int_equal(parse(&p, "[*]\nallow func-count\nkernel-functions tcp_*\n", err, sizeof(err)), 0);
	assert_true(decide(&p, "x", NULL, &func_probe, &params, 0, 0).allowed);
	policy_free(&p);
	/* policy globs: '*' only */
	assert_int_not_equal(parse(&p, "[*]\nkernel-functions tcp_?\n", err, sizeof(err)), 0);
	assert_non_null(strstr(err, "pol:2"));
	policy_free(&p);
	/* the default grants neither kfunc probe */
	assert_int_equal(policy_load_default(&p, err, sizeof(err)), 0);
	snprintf(params.target, sizeof(params.target), "tcp_sendmsg");
	d = decide(&p, "anyone", NULL, &kfunc_probe, &params, 0, 0);
	assert_false(d.allowed);
	assert_non_null(strstr(d.message, "kfunc-*"));
	policy_free(&p);
}

static void test_errors_name_file_and_line(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "allow x\n", "pol:1: 'allow x' outside a section" },
		{ "[*]\n\nfrobnicate 1\n", "pol:3: unknown directive 'frobnicate'" },
		{ "[*]\nallow-kind spans\n", "pol:2: unknown probe kind 'spans'" },
		{ "[*]\nmax-sessions 0\n", "pol:2: max-sessions wants one number" },
		{ "[*]\nmax-sessions 2\nmax-sessions 3\n", "pol:3: 'max-sessions' given twice in this section (first at line 2)" },
		{ "[*]\nmax-duration forever\n", "pol:2: max-duration wants one duration" },
		{ "[*]\nfreq 99..1\n", "pol:2: freq '99..1' is not MIN..MAX" },
		{ "[*]\ntarget-prefix usr/bin\n", "pol:2: target-prefix 'usr/bin' must be an absolute path" },
		{ "[ldap:x]\n", "pol:1: unknown identity kind" },
		{ "[cn:]\n", "pol:1: identity pattern" },
		{ "[*\n", "pol:1: section header" },
		{ "[*]\nallow\n", "pol:2: 'allow' needs a value" },
		{ "# nothing\n", "pol: no sections" },
	};
	struct policy p;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_not_equal(parse(&p, cases[i].text, err, sizeof(err)), 0);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: error '%s' lacks '%s'", i, err, cases[i].want);
		assert_int_equal(p.n, 0);
	}
	/* a NUL byte in the text */
	policy_init(&p);
	assert_int_not_equal(policy_parse(&p, "pol", "[*]\nallow a\0b\n", 14, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "pol:2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_status_all_grant),
		cmocka_unit_test(test_sections_first_match),
		cmocka_unit_test(test_no_matching_section),
		cmocka_unit_test(test_freq),
		cmocka_unit_test(test_tracepoint_categories),
		cmocka_unit_test(test_kernel_functions),
		cmocka_unit_test(test_errors_name_file_and_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
