/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line options as one table: each row is an option's names, argument, help
 * text and the handler that parses and stores it, so getopt's arrays and the help
 * text cannot disagree. Each binary keeps its own handlers (their messages differ).
 */
#ifndef TRACECTL_OPT_TABLE_H
#define TRACECTL_OPT_TABLE_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct opt_row;

/* Parses ARG (NULL for an option without one) for ROW into CTX; nonzero refuses it. */
typedef int (*opt_handler)(const struct opt_row *row, char *arg, void *ctx);

struct opt_row {
	const char *name;   /* long name without "--"; NULL with short_name 0: a heading line */
	char short_name;    /* 0: long only */
	const char *arg;    /* the argument's name in the help; NULL: takes none */
	const char *help;   /* '\n' starts a continuation line; a heading's text */
	opt_handler parse;
	size_t offset;      /* field of CTX the typed handlers store into */
	uint64_t min, max;  /* bounds of a number, duration or length (0, 0: none) */
	const char *param;  /* the probe parameter the value becomes, if any */
	const char *hint;   /* handler-specific wording of a refusal */
};

/* getopt's arrays for ROWS: long options (n + 1 entries, zero-terminated) and the short
 * option string behind PREFIX (":" to have getopt report a missing value as ':'). */
int opt_table_getopt(const struct opt_row *rows, size_t n, const char *prefix, struct option *longopts,
		     char *shortopts, size_t shortlen);
/* The row getopt_long's return value VAL stands for; NULL for '?' and ':'. */
const struct opt_row *opt_table_find(const struct opt_row *rows, size_t n, int val);
/* The row whose long name is NAME exactly; NULL if none. */
const struct opt_row *opt_table_lookup(const struct opt_row *rows, size_t n, const char *name);
/* Prints the rows as help: names and argument, the help text from column COLUMN. */
void opt_table_usage(FILE *out, const struct opt_row *rows, size_t n, int column);
/* A shell variable for completion: VAR="--a --b ..." of the rows after the heading line
 * HEADING up to the next heading (NULL: every row); VALUED: only the rows that take a
 * value, with their short names. */
void opt_table_print_words(FILE *out, const char *var, const struct opt_row *rows, size_t n, const char *heading,
			   bool valued);
/* The field a typed handler stores into. */
static inline void *opt_field(const struct opt_row *row, void *ctx)
{
	return (char *)ctx + row->offset;
}

#endif
