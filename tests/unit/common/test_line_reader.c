/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the line reader the policy, inventory and config files share: which lines
 * it returns, with which numbers, and errors that name FILE:LINE. */
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

#include "line_reader.h"

static void test_comments_blanks_and_numbers(void **state)
{
	const char text[] = "# header\n"
			    "\n"
			    "  first  \t\r\n"
			    "\t# only a comment\n"
			    "second # and a comment\n"
			    "   \n"
			    "third"; /* no final newline */
	char buf[64], err[128] = "", *line;
	struct line_reader r;

	(void)state;
	line_reader_init(&r, "f.txt", text, strlen(text), buf, sizeof(buf));
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), 1);
	assert_string_equal(line, "first");
	assert_int_equal(r.lineno, 3);
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), 1);
	assert_string_equal(line, "second");
	assert_int_equal(r.lineno, 5);
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), 1);
	assert_string_equal(line, "third");
	assert_int_equal(r.lineno, 7);
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), 0);
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

/* Where values are paths, '#' inside a line is part of it; a '#' line is still a comment. */
static void test_comment_lines_only(void **state)
{
	const char text[] = "  # note\nca = /etc/tls#1/ca.pem\n";
	char buf[64], err[128] = "", *line;
	struct line_reader r;

	(void)state;
	line_reader_init(&r, "cfg", text, strlen(text), buf, sizeof(buf));
	r.comment_lines_only = true;
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), 1);
	assert_string_equal(line, "ca = /etc/tls#1/ca.pem");
	assert_int_equal(r.lineno, 2);
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), 0);
}

static void test_overlong_and_binary_lines_named(void **state)
{
	const char text[] = "ok\n0123456789abcdef\n";
	const char binary[] = { 'o', 'k', '\n', 'a', '\0', 'b', '\n' };
	char buf[8], err[128] = "", *line;
	struct line_reader r;

	(void)state;
	line_reader_init(&r, "long.txt", text, strlen(text), buf, sizeof(buf));
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), 1);
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "long.txt:2: line longer than 7 bytes or not text");
	/* a line of exactly the buffer's room fits */
	line_reader_init(&r, "fit.txt", "1234567\n", 8, buf, sizeof(buf));
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), 1);
	assert_string_equal(line, "1234567");
	line_reader_init(&r, "bin", binary, sizeof(binary), buf, sizeof(buf));
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), 1);
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "bin:2: line longer than 7 bytes or not text");
}

static void test_error_names_file_and_line(void **state)
{
	const char text[] = "a\n\nb\n";
	char buf[16], err[64], *line;
	struct line_reader r;

	(void)state;
	line_reader_init(&r, "policy.conf", text, strlen(text), buf, sizeof(buf));
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), 1);
	assert_int_equal(line_reader_next(&r, &line, err, sizeof(err)), 1);
	line_reader_error(&r, err, sizeof(err), "unknown '%s' (%d)", line, 7);
	assert_string_equal(err, "policy.conf:3: unknown 'b' (7)");
	/* a short buffer holds a truncated message, never more */
	line_reader_error(&r, err, 10, "unknown '%s'", line);
	assert_string_equal(err, "policy.co");
}

static void test_key_value_and_words(void **state)
{
	char kv[] = "group  web = h1,h2:7000 ", bad[] = "no equals sign", words_line[] = "allow\texec  open\v";
	char *key, *value, *words[2];

	(void)state;
	assert_int_equal(line_split_key_value(kv, &key, &value), 0);
	assert_string_equal(key, "group  web");
	assert_string_equal(value, "h1,h2:7000");
	assert_int_equal(line_split_key_value(bad, &key, &value), -EINVAL);
	/* at most max words: the rest is not looked at */
	assert_int_equal(line_split_words(words_line, words, 2), 2);
	assert_string_equal(words[0], "allow");
	assert_string_equal(words[1], "exec");
}

static void test_file_read_bounded(void **state)
{
	char path[] = "/tmp/tracectl-lines-XXXXXX", *text = NULL;
	int fd = mkstemp(path);
	char big[10000];
	size_t len = 1;

	(void)state;
	assert_true(fd >= 0);
	memset(big, 'x', sizeof(big));
	assert_int_equal(write(fd, big, sizeof(big)), (int)sizeof(big));
	close(fd);
	/* grows past its first 4 KiB read; exactly max bytes is allowed */
	assert_int_equal(line_file_read(path, sizeof(big), &text, &len), 0);
	assert_int_equal(len, sizeof(big));
	assert_int_equal(text[len], '\0');
	assert_memory_equal(text, big, sizeof(big));
	free(text);
	assert_int_equal(line_file_read(path, sizeof(big) - 1, &text, &len), -EFBIG);
	assert_null(text);
	unlink(path);
	assert_int_equal(line_file_read(path, 100, &text, &len), -ENOENT);
	assert_null(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comments_blanks_and_numbers),
		cmocka_unit_test(test_comment_lines_only),
		cmocka_unit_test(test_overlong_and_binary_lines_named),
		cmocka_unit_test(test_error_names_file_and_line),
		cmocka_unit_test(test_key_value_and_words),
		cmocka_unit_test(test_file_read_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
