/* SPDX-License-Identifier: Apache-2.0 */
/* Fitting text to the terminal: its size, lines cut (live frames) or wrapped at spaces (the rest). */
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

bool term_size(int fd, unsigned *cols, unsigned *rows)
{
	struct winsize ws;

	if (!isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) != 0 || !ws.ws_col || !ws.ws_row)
		return false;
	*cols = ws.ws_col;
	*rows = ws.ws_row;
	return true;
}

/* Escaped text holds no control bytes; wide characters are rare enough to count as one column. */
size_t term_fit(const char *s, size_t n, unsigned cols)
{
	size_t i = 0;
	unsigned used = 0;

	while (i < n) {
		size_t len = 1;

		while (i + len < n && ((unsigned char)s[i + len] & 0xC0) == 0x80)
			len++;
		if (used == cols)
			break;
		used++;
		i += len;
	}
	return i;
}

size_t term_columns(const char *s, size_t n)
{
	size_t cols = 0;

	for (size_t i = 0; i < n; i++)
		cols += ((unsigned char)s[i] & 0xC0) != 0x80;
	return cols;
}

void term_write_cut(FILE *out, const char *text, size_t len, unsigned cols, unsigned max_lines)
{
	size_t nlines = 0, shown = 0;

	for (size_t i = 0; i < len; i++)
		nlines += text[i] == '\n';
	if (len && text[len - 1] != '\n')
		nlines++;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t line = nl ? (size_t)(nl - text) - pos : len - pos;

		/* the last line that fits says how many did not, as top leaves them out */
		if (max_lines && shown + 1 == max_lines && nlines > max_lines) {
			char more[96];
			int n = snprintf(more, sizeof(more), "  ... %zu more line(s): a larger terminal shows them",
					 nlines - shown);

			fwrite(more, 1, term_fit(more, (size_t)n, cols), out);
			fputc('\n', out);
			break;
		}
		fwrite(text + pos, 1, term_fit(text + pos, line, cols), out);
		fputc('\n', out);
		shown++;
		pos += line + 1;
	}
	fflush(out);
}

void term_write_wrapped(FILE *out, const char *text, size_t len, unsigned cols, unsigned indent)
{
	if (indent + 20 > cols)
		indent = cols > 24 ? 4 : 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		unsigned width = cols;
		bool first = true;

		while (pos < end) {
			size_t fit = term_fit(text + pos, end - pos, width), cut = fit;

			if (pos + fit < end) {
				/* break at the last space that fits; a word longer than a line is cut */
				while (cut > 0 && text[pos + cut] != ' ')
					cut--;
				if (cut == 0)
					cut = fit;
			}
			if (!first)
				fprintf(out, "%*s", (int)indent, "");
			fwrite(text + pos, 1, cut, out);
			fputc('\n', out);
			pos += cut;
			while (pos < end && text[pos] == ' ')
				pos++;
			first = false;
			width = cols - indent;
		}
		if (first)
			fputc('\n', out);
		pos = end + 1;
	}
	fflush(out);
}
