/* SPDX-License-Identifier: Apache-2.0 */
#include "opt_table.h"

#include <errno.h>
#include <string.h>

/* getopt's value for a row: its short letter, or past the character range */
static int row_val(const struct opt_row *rows, const struct opt_row *row)
{
	return row->short_name ? row->short_name : 256 + (int)(row - rows);
}

int opt_table_getopt(const struct opt_row *rows, size_t n, const char *prefix, struct option *longopts,
		     char *shortopts, size_t shortlen)
{
	size_t nlong = 0, used = strlen(prefix);

	if (used >= shortlen)
		return -ENOSPC;
	memcpy(shortopts, prefix, used + 1);
	for (size_t i = 0; i < n; i++) {
		const struct opt_row *row = &rows[i];

		if (row->name)
			longopts[nlong++] = (struct option){ row->name, row->arg ? required_argument : no_argument, NULL,
							     row_val(rows, row) };
		if (!row->short_name)
			continue;
		if (used + 3 > shortlen)
			return -ENOSPC;
		shortopts[used++] = row->short_name;
		if (row->arg)
			shortopts[used++] = ':';
		shortopts[used] = '\0';
	}
	longopts[nlong] = (struct option){ 0 };
	return 0;
}

const struct opt_row *opt_table_find(const struct opt_row *rows, size_t n, int val)
{
	for (size_t i = 0; i < n; i++)
		if ((rows[i].name || rows[i].short_name) && row_val(rows, &rows[i]) == val)
			return &rows[i];
	return NULL;
}

const struct opt_row *opt_table_lookup(const struct opt_row *rows, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].name && strcmp(rows[i].name, name) == 0)
			return &rows[i];
	return NULL;
}

void opt_table_usage(FILE *out, const struct opt_row *rows, size_t n, int column)
{
	for (size_t i = 0; i < n; i++) {
		const struct opt_row *row = &rows[i];
		const char *line = row->help, *nl;
		int width;

		if (!row->name && !row->short_name) {
			fprintf(out, "%s\n", row->help);
			continue;
		}
		if (row->short_name && row->name)
			width = fprintf(out, "  -%c, --%s", row->short_name, row->name);
		else if (row->short_name)
			width = fprintf(out, "  -%c", row->short_name);
		else
			width = fprintf(out, "      --%s", row->name);
		if (row->arg)
			width += fprintf(out, " %s", row->arg);
		/* a long left part pushes the text right by two spaces, as a hand-made list would */
		fprintf(out, "%*s", width + 2 > column ? 2 : column - width, "");
		while ((nl = strchr(line, '\n'))) {
			fprintf(out, "%.*s\n%*s", (int)(nl - line), line, column, "");
			line = nl + 1;
		}
		fprintf(out, "%s\n", line);
	}
}

void opt_table_print_words(FILE *out, const char *var, const struct opt_row *rows, size_t n, const char *heading,
			   bool valued)
{
	bool inside = !heading;
	const char *sep = "";

	fprintf(out, "%s=\"", var);
	for (size_t i = 0; i < n; i++) {
		const struct opt_row *row = &rows[i];

		if (!row->name && !row->short_name) {
			inside = !heading || strcmp(row->help, heading) == 0;
			continue;
		}
		if (!inside || (valued && !row->arg))
			continue;
		if (row->name) {
			fprintf(out, "%s--%s", sep, row->name);
			sep = " ";
		}
		/* the short name too where it is the only one, or where its value must be skipped */
		if (row->short_name && (valued || !row->name)) {
			fprintf(out, "%s-%c", sep, row->short_name);
			sep = " ";
		}
	}
	fputs("\"\n", out);
}
