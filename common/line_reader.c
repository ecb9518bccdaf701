/* SPDX-License-Identifier: Apache-2.0 */
/* Line-oriented text files: comments, blank lines, key = value, words, "FILE:LINE" errors. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "line_reader.h"

#define BLANKS " \t\r\f\v"

void line_reader_init(struct line_reader *r, const char *name, const char *text, size_t len, char *buf,
		      size_t bufsize)
{
	*r = (struct line_reader){ .name = name, .text = text, .len = len, .buf = buf, .bufsize = bufsize };
}

void line_reader_error(const struct line_reader *r, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s:%u: ", r->name, r->lineno);

	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Where the line's content ends: before a comment, then before trailing blanks. */
static size_t content_end(const struct line_reader *r, const char *line, size_t a, size_t n)
{
	const char *hash = r->comment_lines_only ? (line[a] == '#' ? line + a : NULL) : memchr(line, '#', n);
	size_t b = hash ? (size_t)(hash - line) : n;

	while (b > a && isspace((unsigned char)line[b - 1]))
		b--;
	return b;
}

int line_reader_next(struct line_reader *r, char **out, char *err, size_t errlen)
{
	while (r->pos < r->len) {
		const char *line = r->text + r->pos, *nl = memchr(line, '\n', r->len - r->pos);
		size_t n = nl ? (size_t)(nl - line) : r->len - r->pos, a = 0, b;

		r->pos += n + (nl ? 1 : 0);
		r->lineno++;
		while (a < n && isspace((unsigned char)line[a]))
			a++;
		b = a < n ? content_end(r, line, a, n) : a;
		if (a == b)
			continue;
		if (b - a >= r->bufsize || memchr(line + a, '\0', b - a)) {
			line_reader_error(r, err, errlen, "line longer than %zu bytes or not text", r->bufsize - 1);
			return -EINVAL;
		}
		memcpy(r->buf, line + a, b - a);
		r->buf[b - a] = '\0';
		*out = r->buf;
		return 1;
	}
	return 0;
}

static char *trim(char *s)
{
	char *end;

	s += strspn(s, BLANKS);
	end = s + strlen(s);
	while (end > s && strchr(BLANKS, end[-1]))
		*--end = '\0';
	return s;
}

int line_split_key_value(char *line, char **key, char **value)
{
	char *eq = strchr(line, '=');

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	*key = trim(line);
	*value = trim(eq + 1);
	return 0;
}

size_t line_split_words(char *line, char **words, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *w = strtok_r(line, BLANKS, &save); w && n < max; w = strtok_r(NULL, BLANKS, &save))
		words[n++] = w;
	return n;
}

int line_file_read(const char *path, size_t max, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	int ret = 0;

	*text = NULL;
	*len = 0;
	if (!f)
		return -errno;
	/* reads up to one byte more than allowed: that byte tells a file that is too large */
	do {
		char *bigger;

		if (n == cap) {
			cap = cap ? (cap * 2 > max + 1 ? max + 1 : cap * 2) : (max + 1 < 4096 ? max + 1 : 4096);
			bigger = realloc(buf, cap + 1);
			if (!bigger) {
				ret = -ENOMEM;
				goto cleanup;
			}
			buf = bigger;
		}
		n += fread(buf + n, 1, cap - n, f);
	} while (n == cap && n <= max && !feof(f) && !ferror(f));
	if (ferror(f)) {
		ret = errno ? -errno : -EIO;
		goto cleanup;
	}
	if (n > max) {
		ret = -EFBIG;
		goto cleanup;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	buf = NULL;
cleanup:
	free(buf);
	fclose(f);
	return ret;
}
