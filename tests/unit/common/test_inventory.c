/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of host lists and inventory files: comments, ports, duplicates, bad lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "inventory.h"

#define DEFAULT_PORT 7470

static int parse(struct inventory *inv, const char *text, char *err, size_t errlen)
{
	inventory_init(inv);
	return inventory_parse(inv, "fleet.txt", text, strlen(text), DEFAULT_PORT, err, errlen);
}

static void test_comments_blanks_ports(void **state)
{
	struct inventory inv;
	char err[256] = "";
	const char *text = "# the web tier\n"
			   "\n"
			   "web1\n"
			   "   web2:7000   # canary on another port\n"
			   "\t\n"
			   "10.0.0.7\n"
			   "[::1]:7471\n"
			   "db1";  /* no final newline */

	(void)state;
	assert_int_equal(parse(&inv, text, err, sizeof(err)), 0);
	assert_int_equal(inv.n, 5);
	assert_string_equal(inv.hosts[0].host, "web1");
	assert_int_equal(inv.hosts[0].port, DEFAULT_PORT);
	assert_string_equal(inv.hosts[1].name, "web2:7000");
	assert_string_equal(inv.hosts[1].host, "web2");
	assert_int_equal(inv.hosts[1].port, 7000);
	assert_string_equal(inv.hosts[2].host, "10.0.0.7");
	assert_string_equal(inv.hosts[3].host, "::1");
	assert_int_equal(inv.hosts[3].port, 7471);
	assert_string_equal(inv.hosts[4].host, "db1");
	inventory_free(&inv);
}

static void test_duplicates_dropped(void **state)
{
	struct inventory inv;
	char err[256] = "";

	(void)state;
	/* web1 and web1:7470 are the same agent; web1:7000 is another */
	assert_int_equal(parse(&inv, "web1\nweb1:7470\nweb1:7000\nweb1 # again\n", err, sizeof(err)), 0);
	assert_int_equal(inv.n, 2);
	assert_int_equal(inv.duplicates, 2);
	inventory_free(&inv);
}

static void expect_bad(const char *text, const char *want_in_err)
{
	struct inventory inv;
	char err[256] = "";
	int rc = parse(&inv, text, err, sizeof(err));

	if (rc == 0)
		fail_msg("parsing %s succeeded, want an error", text);
	if (!strstr(err, want_in_err))
		fail_msg("error '%s' does not contain '%s'", err, want_in_err);
	inventory_free(&inv);
}

static void test_bad_lines_named(void **state)
{
	(void)state;
	expect_bad("web1\nweb2\nweb3:99999\n", "fleet.txt:3:");
	expect_bad("web1\n\n# c\nweb2 web3\n", "fleet.txt:4: one host per line");
	expect_bad("web1:\n", "fleet.txt:1:");
	expect_bad("web1:abc\n", "'web1:abc'");
	expect_bad(":7000\n", "fleet.txt:1:");
	expect_bad("[::1\n", "fleet.txt:1:");
}

static void test_binary_garbage(void **state)
{
	struct inventory inv;
	char err[256] = "";
	const char text[] = { 'w', 'e', 'b', '\0', '1', '\n' };

	(void)state;
	inventory_init(&inv);
	assert_int_not_equal(inventory_parse(&inv, "bin", text, sizeof(text), DEFAULT_PORT, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "bin:1:"));
	inventory_free(&inv);
}

static void test_comma_list(void **state)
{
	struct inventory inv;
	char err[256] = "";

	(void)state;
	inventory_init(&inv);
	assert_int_equal(inventory_add_list(&inv, "h1,h2:7000,[::1]:7001,h1", DEFAULT_PORT, err, sizeof(err)), 0);
	assert_int_equal(inv.n, 3);
	assert_int_equal(inv.duplicates, 1);
	assert_int_equal(inv.hosts[2].port, 7001);
	assert_int_not_equal(inventory_add_list(&inv, "h4,,h5", DEFAULT_PORT, err, sizeof(err)), 0);
	assert_int_not_equal(inventory_add_list(&inv, "h6:0", DEFAULT_PORT, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "h6:0"));
	inventory_free(&inv);
}

static void test_load_file(void **state)
{
	struct inventory inv;
	char path[] = "/tmp/tracectl-inventory-XXXXXX", err[256] = "";
	int fd = mkstemp(path);
	const char *text = "a\nb:1\n";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	inventory_init(&inv);
	assert_int_equal(inventory_load(&inv, path, DEFAULT_PORT, err, sizeof(err)), 0);
	assert_int_equal(inv.n, 2);
	inventory_free(&inv);
	unlink(path);
	inventory_init(&inv);
	assert_int_not_equal(inventory_load(&inv, path, DEFAULT_PORT, err, sizeof(err)), 0);
	assert_non_null(strstr(err, path));
	inventory_free(&inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comments_blanks_ports),
		cmocka_unit_test(test_duplicates_dropped),
		cmocka_unit_test(test_bad_lines_named),
		cmocka_unit_test(test_binary_garbage),
		cmocka_unit_test(test_comma_list),
		cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
