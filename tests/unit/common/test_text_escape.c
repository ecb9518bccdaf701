/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of text_escape: what a terminal would act on is escaped, UTF-8 text is not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "text_escape.h"

static void expect_escaped(const char *in, const char *want)
{
	char buf[256];
	size_t n = text_escape(buf, sizeof(buf), in);

	if (strcmp(buf, want) != 0)
		fail_msg("text_escape(\"%s\") = \"%s\", want \"%s\"", in, buf, want);
	assert_int_equal(n, strlen(want));
}

static void test_terminal_escapes(void **state)
{
	(void)state;
	/* the comm and the file name of the issue: OSC title + hidden text, cursor up + erase line */
	expect_escaped("\x1b]0;pwn\x07\x1b[8m", "\\x1b]0;pwn\\x07\\x1b[8m");
	expect_escaped("\x1b[1A\x1b[2Kinnocent", "\\x1b[1A\\x1b[2Kinnocent");
	expect_escaped("\n12:00:00.000 x", "\\x0a12:00:00.000 x");
	expect_escaped("a\rb\tc\x7f", "a\\x0db\\x09c\\x7f");
	/* C1 CSI as UTF-8 (U+009B) and a bare 8-bit CSI byte */
	expect_escaped("x\xc2\x9b" "2J", "x\\xc2\\x9b2J");
	expect_escaped("x\x9b" "2J", "x\\x9b2J");
	/* right-to-left override U+202E */
	expect_escaped("gpj.\xe2\x80\xae" "exe", "gpj.\\xe2\\x80\\xaeexe");
}

static void test_text_passes(void **state)
{
	(void)state;
	expect_escaped("", "");
	expect_escaped("python3 [unnamed] /usr/lib/x.so;main", "python3 [unnamed] /usr/lib/x.so;main");
	/* UTF-8 names are shown as they are: é, €, 😀 */
	expect_escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* a backslash is doubled, so "\x1b" typed as text stays distinguishable */
	expect_escaped("a\\x1b", "a\\\\x1b");
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	/* overlong '/', a surrogate, a truncated sequence at the end, a lone continuation byte */
	expect_escaped("\xc0\xaf", "\\xc0\\xaf");
	expect_escaped("\xed\xa0\x80", "\\xed\\xa0\\x80");
	expect_escaped("ab\xe2\x82", "ab\\xe2\\x82");
	expect_escaped("\x80z", "\\x80z");
}

static void test_truncation(void **state)
{
	char buf[8];
	size_t n;

	(void)state;
	/* "ab\x1b" needs 6 bytes: with room for 5 + NUL it stops before the escape */
	n = text_escape(buf, 5, "ab\x1b" "cd");
	assert_int_equal(n, 8);
	assert_string_equal(buf, "ab");
	n = text_escape(buf, sizeof(buf), "ab\x1b" "cd");
	assert_int_equal(n, 8);
	assert_string_equal(buf, "ab\\x1bc");
	assert_int_equal(text_escape(NULL, 0, "\x01"), 4);
}

static void test_fpad(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	text_escape_fpad(f, "a\x1b", 8);
	fputc('|', f);
	text_escape_fpad(f, "longer than width", 4);
	fclose(f);
	assert_string_equal(text, "a\\x1b   |longer than width");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_terminal_escapes),
		cmocka_unit_test(test_text_passes),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_fpad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
