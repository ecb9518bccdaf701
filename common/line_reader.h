/* SPDX-License-Identifier: Apache-2.0 */
/* Line-oriented text files (the agent's policy, inventories, the CLI's config): one
 * reader for comments, blank lines and errors that name "FILE:LINE". */
#ifndef TRACECTL_LINE_READER_H
#define TRACECTL_LINE_READER_H

#include <stdbool.h>
#include <stddef.h>

struct line_reader {
	const char *name; /* the file, as errors name it */
	const char *text;
	size_t len, pos;
	unsigned lineno; /* of the line last returned */
	char *buf;       /* the caller's: holds the line last returned */
	size_t bufsize;
	/* '#' starts a comment only as a line's first non-blank: where values are paths,
	 * which may hold a '#' (otherwise '#' starts a comment anywhere) */
	bool comment_lines_only;
};

/* Reads text (len bytes) named name, each line copied into buf (bufsize bytes). */
void line_reader_init(struct line_reader *r, const char *name, const char *text, size_t len, char *buf,
		      size_t bufsize);
/*
 * The next line that holds anything but blanks and a comment, the comment and the
 * surrounding blanks stripped, in r->buf. Returns 1 with *line set, 0 at the end, or
 * -EINVAL with err "NAME:LINE: line longer than N bytes or not text".
 */
int line_reader_next(struct line_reader *r, char **line, char *err, size_t errlen);
/* Writes "NAME:LINE: " and the message to err, for the line last returned. */
void line_reader_error(const struct line_reader *r, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Splits "KEY = VALUE" at the first '=' (modifying line), both sides trimmed; -EINVAL without one. */
int line_split_key_value(char *line, char **key, char **value);
/* Splits line (modified in place) into at most max words separated by blanks; returns how many. */
size_t line_split_words(char *line, char **words, size_t max);

/* Reads the whole file at path, NUL-terminated, into *text (the caller frees it).
 * Returns 0, -errno, or -EFBIG when it is larger than max bytes. */
int line_file_read(const char *path, size_t max, char **text, size_t *len);

#endif
