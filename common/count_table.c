/* SPDX-License-Identifier: Apache-2.0 */
/* Keyed counter tables (pid+comm -> sends, bytes): merge by key, sort, top N, protobuf. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "count_table.h"

int count_table_init(struct count_table *t, size_t nkeys, const char *const *key_names, size_t nvalues,
		     const char *const *value_names)
{
	memset(t, 0, sizeof(*t));
	if (nkeys == 0 || nkeys > COUNT_MAX_KEYS || nvalues == 0 || nvalues > COUNT_MAX_VALUES)
		return -EINVAL;
	t->nkeys = nkeys;
	t->nvalues = nvalues;
	for (size_t i = 0; i < nkeys; i++)
		snprintf(t->key_names[i], COUNT_NAME_LEN, "%s", key_names[i]);
	for (size_t i = 0; i < nvalues; i++)
		snprintf(t->value_names[i], COUNT_NAME_LEN, "%s", value_names[i]);
	return 0;
}

/* FNV-1a over every key, with a separator so ("ab","c") != ("a","bc") */
static size_t key_hash(const struct count_table *t, const char *const *keys)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < t->nkeys; i++) {
		for (const char *p = keys[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		h = (h ^ 0x1f) * 1099511628211ULL;
	}
	return (size_t)h;
}

static int keys_equal(const struct count_table *t, const struct count_row *r, const char *const *keys)
{
	for (size_t i = 0; i < t->nkeys; i++)
		if (strcmp(r->keys[i], keys[i]) != 0)
			return 0;
	return 1;
}

/* The index slot holding keys, or the empty slot where they would go. */
static size_t *slot_for(const struct count_table *t, const char *const *keys)
{
	size_t mask = t->nindex - 1, i = key_hash(t, keys) & mask;

	while (t->index[i] && !keys_equal(t, &t->rows[t->index[i] - 1], keys))
		i = (i + 1) & mask;
	return &t->index[i];
}

static int reindex(struct count_table *t, size_t nindex)
{
	size_t *index = calloc(nindex, sizeof(*index));

	if (!index)
		return -ENOMEM;
	free(t->index);
	t->index = index;
	t->nindex = nindex;
	for (size_t r = 0; r < t->nrows; r++)
		*slot_for(t, (const char *const *)t->rows[r].keys) = r + 1;
	return 0;
}

/* After rows moved: the same size, or none if that allocation fails (the next
 * add rebuilds it at the size it needs). */
static void rebuild_index(struct count_table *t)
{
	if (reindex(t, t->nindex)) {
		free(t->index);
		t->index = NULL;
		t->nindex = 0;
	}
}

const struct count_row *count_table_find(const struct count_table *t, const char *const *keys)
{
	size_t *slot;

	if (!t->nindex)
		return NULL;
	slot = slot_for(t, keys);
	return *slot ? &t->rows[*slot - 1] : NULL;
}

/* Keeps the index at most half full with one more row. 0 or -ENOMEM. */
static int index_room_for_one_more(struct count_table *t)
{
	size_t nindex = t->nindex ? t->nindex : 64;

	if ((t->nrows + 1) * 2 <= t->nindex)
		return 0;
	while ((t->nrows + 1) * 2 > nindex)
		nindex *= 2;
	return reindex(t, nindex) ? -ENOMEM : 0;
}

int count_table_add(struct count_table *t, const char *const *keys, const uint64_t *values)
{
	struct count_row *row;
	size_t *slot;
	int err;

	if (index_room_for_one_more(t))
		return -ENOMEM;
	slot = slot_for(t, keys);
	if (!*slot && t->max_rows && t->nrows >= t->max_rows + t->max_rows / 2 + 1) {
		/* a new key past the bound: fold first (the slot moves) */
		err = count_table_fold(t, t->fold_by, t->max_rows);
		if (err || (err = index_room_for_one_more(t)))
			return err;
		slot = slot_for(t, keys);
	}
	if (!*slot) {
		if (t->nrows == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 32;
			struct count_row *rows = realloc(t->rows, cap * sizeof(*rows));

			if (!rows)
				return -ENOMEM;
			t->rows = rows;
			t->cap = cap;
		}
		row = &t->rows[t->nrows];
		memset(row, 0, sizeof(*row));
		for (size_t i = 0; i < t->nkeys; i++) {
			row->keys[i] = strdup(keys[i]);
			if (!row->keys[i]) {
				for (size_t k = 0; k < i; k++)
					free(row->keys[k]);
				return -ENOMEM;
			}
		}
		*slot = ++t->nrows;
	}
	row = &t->rows[*slot - 1];
	for (size_t i = 0; i < t->nvalues; i++)
		row->values[i] += values[i];
	return 0;
}

int count_table_merge(struct count_table *dst, const struct count_table *src)
{
	int err;

	if (dst->nkeys != src->nkeys || dst->nvalues != src->nvalues)
		return -EINVAL;
	for (size_t r = 0; r < src->nrows; r++) {
		err = count_table_add(dst, (const char *const *)src->rows[r].keys, src->rows[r].values);
		if (err)
			return err;
	}
	dst->rows_omitted += src->rows_omitted;
	return 0;
}

bool count_table_row_is_other(const struct count_table *t, const struct count_row *row)
{
	if (strcmp(row->keys[0], COUNT_OTHER_KEY) != 0)
		return false;
	for (size_t i = 1; i < t->nkeys; i++)
		if (strcmp(row->keys[i], "-") != 0)
			return false;
	return true;
}

static size_t sort_by;
static size_t sort_nkeys;

static int row_cmp(const void *a, const void *b)
{
	const struct count_row *x = a, *y = b;

	if (x->values[sort_by] != y->values[sort_by])
		return x->values[sort_by] > y->values[sort_by] ? -1 : 1;
	for (size_t i = 0; i < sort_nkeys; i++) {
		int c = strcmp(x->keys[i], y->keys[i]);

		if (c)
			return c;
	}
	return 0;
}

/* Sorts the rows by column by, largest first; the [other] row (at most one: what was
 * folded is not a key) goes last whatever it holds. Leaves the index stale. */
static void sort_rows(struct count_table *t, size_t by)
{
	size_t n = t->nrows;

	for (size_t r = 0; r < n; r++) {
		if (count_table_row_is_other(t, &t->rows[r])) {
			struct count_row other = t->rows[r];

			t->rows[r] = t->rows[n - 1];
			t->rows[n - 1] = other;
			n--;
			break;
		}
	}
	sort_by = by;
	sort_nkeys = t->nkeys;
	qsort(t->rows, n, sizeof(*t->rows), row_cmp);
}

void count_table_sort(struct count_table *t, size_t by)
{
	if (by >= t->nvalues || t->nrows < 2)
		return;
	sort_rows(t, by);
	rebuild_index(t);
}

void count_table_set_max_rows(struct count_table *t, size_t max_rows, size_t by)
{
	t->max_rows = max_rows;
	t->fold_by = by < t->nvalues ? by : 0;
}

int count_table_fold(struct count_table *t, size_t by, size_t n)
{
	char *other_keys[COUNT_MAX_KEYS] = { 0 };
	uint64_t folded[COUNT_MAX_VALUES] = { 0 };
	struct count_row *other = NULL;
	size_t real;

	if (by < t->nvalues && t->nrows >= 2)
		sort_rows(t, by);
	if (t->nrows && count_table_row_is_other(t, &t->rows[t->nrows - 1]))
		other = &t->rows[t->nrows - 1];
	real = t->nrows - (other != NULL);
	if (real <= n) {
		rebuild_index(t);
		return 0;
	}
	/* the only allocation comes first: on failure nothing has changed */
	if (!other) {
		for (size_t i = 0; i < t->nkeys; i++) {
			other_keys[i] = strdup(i ? "-" : COUNT_OTHER_KEY);
			if (!other_keys[i]) {
				for (size_t k = 0; k < i; k++)
					free(other_keys[k]);
				rebuild_index(t);
				return -ENOMEM;
			}
		}
	}
	for (size_t r = n; r < real; r++) {
		for (size_t v = 0; v < t->nvalues; v++)
			folded[v] += t->rows[r].values[v];
		for (size_t i = 0; i < t->nkeys; i++)
			free(t->rows[r].keys[i]);
	}
	if (other) {
		for (size_t v = 0; v < t->nvalues; v++)
			folded[v] += other->values[v];
		t->rows[n] = *other;
	} else {
		memcpy(t->rows[n].keys, other_keys, sizeof(other_keys));
	}
	memcpy(t->rows[n].values, folded, sizeof(folded));
	t->rows_omitted += real - n;
	t->nrows = n + 1;
	rebuild_index(t);
	return 0;
}

int count_table_column(const struct count_table *t, const char *name)
{
	for (size_t v = 0; v < t->nvalues; v++)
		if (strcmp(t->value_names[v], name) == 0)
			return (int)v;
	return -1;
}

void count_table_clear(struct count_table *t)
{
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->nkeys; i++)
			free(t->rows[r].keys[i]);
	t->nrows = 0;
	t->rows_omitted = 0;
	if (t->index)
		memset(t->index, 0, t->nindex * sizeof(*t->index));
}

void count_table_free(struct count_table *t)
{
	count_table_clear(t);
	free(t->rows);
	free(t->index);
	t->rows = NULL;
	t->index = NULL;
	t->cap = t->nindex = 0;
}

int count_table_to_pb(const struct count_table *t, size_t top, Tracectl__CountTable *out)
{
	size_t n = top && top < t->nrows ? top : t->nrows;
	/* one block, row pointers first so that out->rows is what to free:
	 * [row pointers][key name pointers][value name pointers][rows] */
	size_t nptrs = n + t->nkeys + t->nvalues;
	void **block = calloc(1, nptrs * sizeof(void *) + n * sizeof(Tracectl__CountRow));
	Tracectl__CountRow *rows;

	tracectl__count_table__init(out);
	if (!block)
		return -ENOMEM;
	rows = (Tracectl__CountRow *)(block + nptrs);
	out->rows = (Tracectl__CountRow **)block;
	out->key_names = (char **)(block + n);
	out->value_names = (char **)(block + n + t->nkeys);
	for (size_t i = 0; i < t->nkeys; i++)
		out->key_names[i] = (char *)t->key_names[i];
	for (size_t i = 0; i < t->nvalues; i++)
		out->value_names[i] = (char *)t->value_names[i];
	for (size_t r = 0; r < n; r++) {
		tracectl__count_row__init(&rows[r]);
		rows[r].n_keys = t->nkeys;
		rows[r].keys = t->rows[r].keys;
		rows[r].n_values = t->nvalues;
		rows[r].values = (uint64_t *)t->rows[r].values;
		out->rows[r] = &rows[r];
	}
	out->n_key_names = t->nkeys;
	out->n_value_names = t->nvalues;
	out->n_rows = n;
	out->rows_omitted = t->rows_omitted + (t->nrows - n);
	return 0;
}

void count_table_pb_free(Tracectl__CountTable *out)
{
	free(out->rows);
	tracectl__count_table__init(out);
}

int count_table_from_pb(struct count_table *t, const Tracectl__CountTable *m, char *err, size_t errlen)
{
	const char *key_names[COUNT_MAX_KEYS], *value_names[COUNT_MAX_VALUES];

	if (m->n_key_names == 0 || m->n_key_names > COUNT_MAX_KEYS || m->n_value_names == 0 ||
	    m->n_value_names > COUNT_MAX_VALUES) {
		snprintf(err, errlen, "count table with %zu keys and %zu values (limits %d and %d)", m->n_key_names,
			 m->n_value_names, COUNT_MAX_KEYS, COUNT_MAX_VALUES);
		return -EPROTO;
	}
	for (size_t i = 0; i < m->n_key_names; i++)
		key_names[i] = m->key_names[i];
	for (size_t i = 0; i < m->n_value_names; i++)
		value_names[i] = m->value_names[i];
	count_table_init(t, m->n_key_names, key_names, m->n_value_names, value_names);
	/* what an agent sends is bounded here too, whatever it sends */
	count_table_set_max_rows(t, COUNT_TABLE_MAX_ROWS, 0);
	for (size_t r = 0; r < m->n_rows; r++) {
		const Tracectl__CountRow *row = m->rows[r];

		if (row->n_keys != m->n_key_names || row->n_values != m->n_value_names) {
			snprintf(err, errlen, "count row %zu has %zu keys and %zu values, the table %zu and %zu", r,
				 row->n_keys, row->n_values, m->n_key_names, m->n_value_names);
			count_table_free(t);
			return -EPROTO;
		}
		if (count_table_add(t, (const char *const *)row->keys, row->values)) {
			snprintf(err, errlen, "out of memory");
			count_table_free(t);
			return -ENOMEM;
		}
	}
	t->rows_omitted = m->rows_omitted;
	return 0;
}
