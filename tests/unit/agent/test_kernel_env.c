/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the kernel checks every probe starts from: the oldest supported release and
 * the operator's --btf file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel_env.h"

static void test_release_comparison(void **state)
{
	(void)state;
	assert_int_equal(kernel_env_release_at_least("5.10.0-46-amd64", 5, 10), 1);
	assert_int_equal(kernel_env_release_at_least("5.9.16", 5, 10), 0);
	assert_int_equal(kernel_env_release_at_least("4.19.0-27-amd64", 5, 10), 0);
	assert_int_equal(kernel_env_release_at_least("6.1.0-57-amd64", 5, 10), 1);
	/* minor 10 vs 9: numbers, not strings */
	assert_int_equal(kernel_env_release_at_least("5.15.0", 5, 10), 1);
	assert_int_equal(kernel_env_release_at_least("7.0", 5, 10), 1);
	assert_int_equal(kernel_env_release_at_least("unknown", 5, 10), -EINVAL);
	assert_int_equal(kernel_env_release_at_least("6", 5, 10), -EINVAL);
}

/* A file that is not a kernel's BTF is refused with its name, and changes nothing. */
static void test_btf_file_refusals(void **state)
{
	char err[512];

	(void)state;
	assert_true(kernel_env_use_btf("/nonexistent/vmlinux.btf", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "--btf '/nonexistent/vmlinux.btf'"));
	assert_true(kernel_env_use_btf("/etc/hostname", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/etc/hostname"));
	assert_null(kernel_env_btf_custom_path());
	assert_string_equal(kernel_env_btf_source(), "/sys/kernel/btf/vmlinux");
}

/* The kernel's own BTF given as a file is accepted and becomes the source. */
static void test_btf_file_accepted(void **state)
{
	char err[512];

	(void)state;
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		print_message("skipped: no /sys/kernel/btf/vmlinux to use as a --btf file here\n");
		skip();
	}
	assert_int_equal(kernel_env_use_btf("/sys/kernel/btf/vmlinux", err, sizeof(err)), 0);
	assert_string_equal(kernel_env_btf_custom_path(), "/sys/kernel/btf/vmlinux");
	assert_non_null(kernel_env_vmlinux_btf());
	/* this machine's kernel is newer than the oldest supported one and has BTF */
	assert_int_equal(kernel_env_baseline(err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release_comparison),
		cmocka_unit_test(test_btf_file_refusals),
		cmocka_unit_test(test_btf_file_accepted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
