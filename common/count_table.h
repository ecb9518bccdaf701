/* SPDX-License-Identifier: Apache-2.0 */
/* Keyed counter tables (pid+comm -> sends, bytes): merge by key, sort, top N, protobuf. */
#ifndef TRACECTL_COUNT_TABLE_H
#define TRACECTL_COUNT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tracectl.pb-c.h"

/* One more than any probe's keys: a merged view of several hosts adds the host. */
#define COUNT_MAX_KEYS 5
#define COUNT_MAX_VALUES 4
#define COUNT_NAME_LEN 32
/* The most rows a table of the agent or the CLI holds by default: the rest are
 * folded into one "other" row, so memory stays bounded and totals exact. */
#define COUNT_TABLE_MAX_ROWS 10000
/* The other row's first key; its other keys are "-". */
#define COUNT_OTHER_KEY "[other]"

struct count_row {
	char *keys[COUNT_MAX_KEYS]; /* owned */
	uint64_t values[COUNT_MAX_VALUES];
};

struct count_table {
	size_t nkeys, nvalues;
	char key_names[COUNT_MAX_KEYS][COUNT_NAME_LEN];
	char value_names[COUNT_MAX_VALUES][COUNT_NAME_LEN];
	struct count_row *rows;
	size_t nrows, cap;
	size_t *index; /* open addressing: row number + 1, 0 = empty */
	size_t nindex;
	uint64_t rows_omitted; /* rows cut or folded into the other row */
	size_t max_rows;       /* 0: unbounded; else folded back to this many when half as many more came */
	size_t fold_by;        /* ... keeping the largest of this value column */
};

/* Names are copied. Returns 0 or -EINVAL (too many keys or values). */
int count_table_init(struct count_table *t, size_t nkeys, const char *const *key_names, size_t nvalues,
		     const char *const *value_names);
/* Adds values to the row with these keys, creating it. 0 or -ENOMEM. */
int count_table_add(struct count_table *t, const char *const *keys, const uint64_t *values);
/* dst += src; the schemas must match (-EINVAL otherwise). */
int count_table_merge(struct count_table *dst, const struct count_table *src);
/* Sorts rows by value column `by`, descending, ties by keys; the other row last. */
void count_table_sort(struct count_table *t, size_t by);
/*
 * Bounds the table: once it holds max_rows / 2 rows more than max_rows, adding
 * a new key first folds it back to the max_rows largest by column `by`. A key
 * folded away that comes back starts again from zero: kept rows are exact or
 * lower bounds, the other row holds the rest, and every column's sum is exact.
 */
void count_table_set_max_rows(struct count_table *t, size_t max_rows, size_t by);
/* Sorts by column `by` and keeps the n largest rows, adding the rest into the
 * other row (created if needed, kept last). 0 or -ENOMEM (table unchanged). */
int count_table_fold(struct count_table *t, size_t by, size_t n);
/* True for the row that holds what was folded. */
bool count_table_row_is_other(const struct count_table *t, const struct count_row *row);
/* The index of the value column called name, or -1. */
int count_table_column(const struct count_table *t, const char *name);
/* Finds a row (NULL when absent). */
const struct count_row *count_table_find(const struct count_table *t, const char *const *keys);
/* Drops every row, keeps the schema. */
void count_table_clear(struct count_table *t);
void count_table_free(struct count_table *t);

/*
 * Fills out with the first `top` rows (0 = all) of a sorted table; the
 * message points into t and into storage allocated here, released with
 * count_table_pb_free(). Returns 0 or -ENOMEM.
 */
int count_table_to_pb(const struct count_table *t, size_t top, Tracectl__CountTable *out);
void count_table_pb_free(Tracectl__CountTable *out);
/* Validates and copies a received table into t (initialised here, bounded to
 * COUNT_TABLE_MAX_ROWS by column 0). -EPROTO with a reason. */
int count_table_from_pb(struct count_table *t, const Tracectl__CountTable *m, char *err, size_t errlen);

#endif
