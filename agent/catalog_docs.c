/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Build-time generator: prints the catalog as the docs show it, so the bash completion,
 * the man page's probe list and README's probe table cannot fall behind a new probe.
 *   catalog_docs completion TEMPLATE  the completion script with its probe list filled in
 *   catalog_docs man TEMPLATE          the man page with its probe list (roff) filled in
 *   catalog_docs readme TEMPLATE       README with its probe table (markdown) filled in
 * In a template, the generated part replaces the lines between two marker lines.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "catalog.h"

/* A parameter's choices where the probe names them ("remote|none"), else the catalog's range. */
static const char *param_range(const struct probe_desc *probe, const struct param_spec *spec)
{
	if (spec->bit == PROBE_PARAM_BY && probe->by_choices)
		return probe->by_choices;
	if (spec->bit == PROBE_PARAM_MEASURE && probe->measure_choices)
		return probe->measure_choices;
	return spec->range;
}

/* Markdown table cells must not end early at a '|' of the text. */
static void print_cell(FILE *out, const char *text)
{
	for (; *text; text++)
		fprintf(out, *text == '|' ? "\\|" : "%c", *text);
}

/* "--pid, --by remote|none": the options a probe takes, as the CLI spells them. */
static void print_params(FILE *out, const struct probe_desc *probe, const char *code)
{
	const char *sep = "";

	for (size_t i = 0; i < catalog_param_count(); i++) {
		const struct param_spec *spec = catalog_param_at(i);

		if (!(probe->params & spec->bit))
			continue;
		fprintf(out, "%s%s--%s", sep, code, spec->name);
		if (spec->bit == PROBE_PARAM_BY || spec->bit == PROBE_PARAM_MEASURE) {
			fputc(' ', out);
			print_cell(out, param_range(probe, spec));
		}
		fprintf(out, "%s", code);
		sep = ", ";
	}
}

static void print_readme(FILE *out)
{
	fprintf(out, "| probe | result | measures | parameters | hook |\n|---|---|---|---|---|\n");
	for (size_t i = 0; i < catalog_size(); i++) {
		const struct probe_desc *p = catalog_at(i);

		fprintf(out, "| `%s` | %s | ", p->name, catalog_kind_name(p->kind));
		print_cell(out, p->description);
		fprintf(out, " | ");
		print_params(out, p, "`");
		fprintf(out, " | ");
		print_cell(out, p->hook);
		fprintf(out, " |\n");
	}
}

/* roff: '-' alone is a hyphen, '\' an escape (no description starts with a request's '.') */
static void print_roff(FILE *out, const char *text)
{
	for (const char *c = text; *c; c++) {
		if (*c == '-' || *c == '\\')
			fputc('\\', out);
		fputc(*c, out);
	}
}

static void print_man(FILE *out)
{
	for (size_t i = 0; i < catalog_size(); i++) {
		const struct probe_desc *p = catalog_at(i);

		fprintf(out, ".TP\n.B ");
		print_roff(out, p->name);
		fprintf(out, "\n(%s) ", catalog_kind_name(p->kind));
		print_roff(out, p->description);
		fprintf(out, "\n");
	}
}

/* TEMPLATE with the lines after the one starting with BEGIN and up to the one starting
 * with END replaced by what PRINT writes; both markers are kept. */
static int print_template(FILE *out, const char *template_path, const char *begin, const char *end,
			  void (*print)(FILE *out))
{
	FILE *in = fopen(template_path, "r");
	bool inside = false, found = false;
	char line[8192];

	if (!in) {
		perror(template_path);
		return 1;
	}
	while (fgets(line, sizeof(line), in)) {
		if (inside && strncmp(line, end, strlen(end)) == 0)
			inside = false;
		if (inside)
			continue;
		fputs(line, out);
		if (strncmp(line, begin, strlen(begin)) == 0) {
			print(out);
			inside = found = true;
		}
	}
	fclose(in);
	if (!found || inside) {
		fprintf(stderr, "%s: no '%s' ... '%s' lines\n", template_path, begin, end);
		return 1;
	}
	return 0;
}

static void print_probe_names(FILE *out)
{
	fputs("_tracectl_probes=\"", out);
	for (size_t i = 0; i < catalog_size(); i++)
		fprintf(out, "%s%s", i ? " " : "", catalog_at(i)->name);
	fputs("\"\n", out);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "completion") == 0)
		return print_template(stdout, argv[2], "# The catalog's probe names", "# end of the catalog's",
				      print_probe_names);
	if (argc == 3 && strcmp(argv[1], "man") == 0)
		return print_template(stdout, argv[2], ".\\\" catalog: generated", ".\\\" catalog: end", print_man);
	if (argc == 3 && strcmp(argv[1], "readme") == 0)
		return print_template(stdout, argv[2], "<!-- catalog: generated", "<!-- catalog: end", print_readme);
	fprintf(stderr, "usage: catalog_docs completion|man|readme TEMPLATE\n");
	return 2;
}
