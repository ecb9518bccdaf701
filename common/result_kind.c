/* SPDX-License-Identifier: Apache-2.0 */
/* Result kinds: inference for kind-less messages and per-kind clear / decode / merge. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result_kind.h"

struct result_ops {
	const char *name;
	void (*clear)(struct result *r);
	int (*encode)(struct result *r, size_t top, struct result_pb *pb, Tracectl__Snapshot *snap);
	/* r += snap's payload of this kind */
	int (*decode)(struct result *r, const Tracectl__Snapshot *snap, const char *key_host, char *err,
		      size_t errlen);
	int (*merge)(struct result *dst, const struct result *src, const char *key_host, char *err, size_t errlen);
};


enum result_kind result_kind_resolve(Tracectl__ResultKind sent, enum result_kind known,
				     const Tracectl__Provenance *prov, const Tracectl__Snapshot *snap)
{
	if (sent >= TRACECTL__RESULT_KIND__RESULT_KIND_HISTOGRAM && sent <= TRACECTL__RESULT_KIND__RESULT_KIND_EVENTS)
		return (enum result_kind)sent;
	if (known != RESULT_KIND_UNKNOWN)
		return known;
	if (prov && prov->relative_error > 0)
		return RESULT_KIND_HISTOGRAM;
	if (!snap)
		return RESULT_KIND_UNKNOWN;
	if (snap->n_series)
		return RESULT_KIND_HISTOGRAM;
	if (snap->counts)
		return RESULT_KIND_COUNTS;
	return RESULT_KIND_EVENTS;
}

/* ---- histograms ---- */

static void hists_clear(struct result *r)
{
	hist_set_clear(&r->hists);
}

/* r's histogram labelled label, or NULL (counted) when the set is full. */
static struct hist *hists_slot(struct result *r, const char *label)
{
	struct hist *into = hist_set_get(&r->hists, label);

	if (!into)
		r->series_left_out++;
	return into;
}

static int hists_decode(struct result *r, const Tracectl__Snapshot *snap, const char *key_host, char *err,
			size_t errlen)
{
	(void)key_host;
	for (size_t i = 0; i < snap->n_series; i++) {
		struct hist decoded, *into;

		if (!snap->series[i]->hist) {
			snprintf(err, errlen, "series '%s' without a histogram", snap->series[i]->label);
			return -EPROTO;
		}
		if (hist_from_pb(&decoded, snap->series[i]->hist, err, errlen))
			return -EPROTO;
		into = hists_slot(r, snap->series[i]->label);
		if (into)
			hist_merge(into, &decoded);
	}
	return 0;
}

/* Makes room in pb for n series; false when out of memory. */
static bool pb_reserve(struct result_pb *pb, size_t n)
{
	struct hist_pb *hists;
	Tracectl__Series *series, **ptrs;

	if (n <= pb->cap)
		return true;
	hists = realloc(pb->hists, n * sizeof(*hists));
	if (hists)
		pb->hists = hists;
	series = realloc(pb->series, n * sizeof(*series));
	if (series)
		pb->series = series;
	ptrs = realloc(pb->series_ptrs, n * sizeof(*ptrs));
	if (ptrs)
		pb->series_ptrs = ptrs;
	if (!hists || !series || !ptrs)
		return false;
	pb->cap = n;
	return true;
}

static int hists_encode(struct result *r, size_t top, struct result_pb *pb, Tracectl__Snapshot *snap)
{
	(void)top;
	if (!pb_reserve(pb, r->hists.n))
		return -ENOMEM;
	for (size_t i = 0; i < r->hists.n; i++) {
		tracectl__series__init(&pb->series[i]);
		hist_pb_fill(&pb->hists[i], r->hists.hists[i]);
		pb->series[i].label = r->hists.labels[i];
		pb->series[i].hist = &pb->hists[i].msg;
		pb->series_ptrs[i] = &pb->series[i];
	}
	snap->n_series = r->hists.n;
	snap->series = pb->series_ptrs;
	return 0;
}

static int hists_merge(struct result *dst, const struct result *src, const char *key_host, char *err, size_t errlen)
{
	(void)key_host;
	(void)err;
	(void)errlen;
	for (size_t i = 0; i < src->hists.n; i++) {
		struct hist *into = hists_slot(dst, src->hists.labels[i]);

		if (into)
			hist_merge(into, src->hists.hists[i]);
	}
	dst->series_left_out += src->series_left_out;
	return 0;
}

/* ---- count tables ---- */

/* Rows go, the schema stays (the agent's tables are set up once per session). */
static void counts_clear(struct result *r)
{
	if (r->have_counts)
		count_table_clear(&r->counts);
}

/* The table's key and value names as the pointer arrays count_table_init takes. */
static void names_of(const struct count_table *t, const char **keys, const char **values)
{
	for (size_t k = 0; k < t->nkeys; k++)
		keys[k] = t->key_names[k];
	for (size_t v = 0; v < t->nvalues; v++)
		values[v] = t->value_names[v];
}

static bool keyed_by_process(const struct count_table *t)
{
	for (size_t k = 0; k < t->nkeys; k++)
		if (!strcmp(t->key_names[k], "pid") || !strcmp(t->key_names[k], "tid"))
			return true;
	return false;
}

/* out = t with host as an extra first key. 0, or -errno with a reason in err. */
static int counts_with_host(const struct count_table *t, const char *host, struct count_table *out, char *err,
			    size_t errlen)
{
	const char *key_names[COUNT_MAX_KEYS], *value_names[COUNT_MAX_VALUES], *keys[COUNT_MAX_KEYS];
	int ret;

	if (t->nkeys >= COUNT_MAX_KEYS) {
		snprintf(err, errlen, "a table of %zu keys has no room for the host", t->nkeys);
		return -EPROTO;
	}
	names_of(t, key_names + 1, value_names);
	key_names[0] = "host";
	ret = count_table_init(out, t->nkeys + 1, key_names, t->nvalues, value_names);
	if (ret) {
		snprintf(err, errlen, "count table: %s", strerror(-ret));
		return ret;
	}
	count_table_set_max_rows(out, t->max_rows, t->fold_by);
	for (size_t i = 0; i < t->nrows && !ret; i++) {
		/* what a host folded is no process of its own: the merged other row holds it */
		bool other = count_table_row_is_other(t, &t->rows[i]);

		keys[0] = other ? COUNT_OTHER_KEY : host;
		for (size_t k = 0; k < t->nkeys; k++)
			keys[k + 1] = other ? "-" : t->rows[i].keys[k];
		ret = count_table_add(out, keys, t->rows[i].values);
	}
	if (ret) {
		snprintf(err, errlen, "count table: %s", strerror(-ret));
		count_table_free(out);
		return ret;
	}
	out->rows_omitted = t->rows_omitted;
	return 0;
}

static int counts_merge(struct result *dst, const struct result *src, const char *key_host, char *err, size_t errlen)
{
	struct count_table keyed;
	const struct count_table *from = &src->counts;
	int ret = 0;

	if (!src->have_counts)
		return 0;
	if (key_host && keyed_by_process(from)) {
		ret = counts_with_host(from, key_host, &keyed, err, errlen);
		if (ret)
			return ret;
		from = &keyed;
	}
	if (!dst->have_counts) {
		const char *key_names[COUNT_MAX_KEYS], *value_names[COUNT_MAX_VALUES];

		names_of(from, key_names, value_names);
		ret = count_table_init(&dst->counts, from->nkeys, key_names, from->nvalues, value_names);
		dst->have_counts = ret == 0;
		if (dst->have_counts)
			count_table_set_max_rows(&dst->counts, from->max_rows, from->fold_by);
	}
	if (!ret)
		ret = count_table_merge(&dst->counts, from);
	if (ret)
		snprintf(err, errlen, "count tables of different shapes");
	if (from == &keyed)
		count_table_free(&keyed);
	return ret;
}

static int counts_encode(struct result *r, size_t top, struct result_pb *pb, Tracectl__Snapshot *snap)
{
	int err;

	if (!r->have_counts)
		return 0;
	/* the top N and one row with the rest: the columns' sums stay exact */
	err = count_table_fold(&r->counts, 0, top);
	if (!err)
		err = count_table_to_pb(&r->counts, 0, &pb->counts);
	if (!err)
		snap->counts = &pb->counts;
	return err;
}

static int counts_decode(struct result *r, const Tracectl__Snapshot *snap, const char *key_host, char *err,
			 size_t errlen)
{
	struct result decoded;
	int ret;

	if (!snap->counts)
		return 0;
	result_init(&decoded);
	ret = count_table_from_pb(&decoded.counts, snap->counts, err, errlen);
	if (ret)
		return ret;
	decoded.have_counts = true;
	ret = counts_merge(r, &decoded, key_host, err, errlen);
	result_free(&decoded);
	return ret;
}

/* ---- events ---- */

static void events_clear(struct result *r)
{
	r->events = r->events_dropped = 0;
}

static int events_encode(struct result *r, size_t top, struct result_pb *pb, Tracectl__Snapshot *snap)
{
	(void)top;
	(void)pb;
	snap->events = r->events;
	snap->events_dropped = r->events_dropped;
	return 0;
}

static int events_merge(struct result *dst, const struct result *src, const char *key_host, char *err,
			size_t errlen)
{
	(void)key_host;
	(void)err;
	(void)errlen;
	dst->events += src->events;
	dst->events_dropped += src->events_dropped;
	return 0;
}

static int events_decode(struct result *r, const Tracectl__Snapshot *snap, const char *key_host, char *err,
			 size_t errlen)
{
	const struct result got = { .events = snap->events, .events_dropped = snap->events_dropped };

	return events_merge(r, &got, key_host, err, errlen);
}

static const struct result_ops ops[] = {
	[RESULT_KIND_HISTOGRAM] = { "histogram", hists_clear, hists_encode, hists_decode, hists_merge },
	[RESULT_KIND_COUNTS] = { "counts", counts_clear, counts_encode, counts_decode, counts_merge },
	[RESULT_KIND_EVENTS] = { "events", events_clear, events_encode, events_decode, events_merge },
};

static const struct result_ops *ops_of(enum result_kind kind)
{
	return kind > RESULT_KIND_UNKNOWN && kind <= RESULT_KIND_EVENTS ? &ops[kind] : NULL;
}

const char *result_kind_name(enum result_kind kind)
{
	return ops_of(kind) ? ops_of(kind)->name : "unknown";
}

void result_init(struct result *r)
{
	memset(r, 0, sizeof(*r));
	hist_set_init(&r->hists);
}

void result_clear(struct result *r)
{
	for (enum result_kind k = RESULT_KIND_HISTOGRAM; k <= RESULT_KIND_EVENTS; k++)
		ops[k].clear(r);
	r->series_left_out = 0;
}

int result_init_kind(struct result *r, enum result_kind kind, size_t nkeys, const char *const *key_names,
		     size_t nvalues, const char *const *value_names, size_t max_rows)
{
	int ret = 0;

	result_init(r);
	r->kind = kind;
	if (kind == RESULT_KIND_COUNTS) {
		ret = count_table_init(&r->counts, nkeys, key_names, nvalues, value_names);
		r->have_counts = ret == 0;
		if (!ret)
			count_table_set_max_rows(&r->counts, max_rows, 0);
	}
	return ret;
}

void result_free(struct result *r)
{
	if (r->have_counts)
		count_table_free(&r->counts);
	r->have_counts = false;
	result_clear(r);
	hist_set_free(&r->hists);
	r->kind = RESULT_KIND_UNKNOWN;
}

/* r takes kind, or keeps its own when it is the same; -EPROTO when they differ. */
static int result_adopt_kind(struct result *r, enum result_kind kind, char *err, size_t errlen)
{
	if (!ops_of(kind)) {
		snprintf(err, errlen, "a result of unknown kind %d", (int)kind);
		return -EPROTO;
	}
	if (r->kind != RESULT_KIND_UNKNOWN && r->kind != kind) {
		snprintf(err, errlen, "%s results and %s results do not add up", result_kind_name(r->kind),
			 result_kind_name(kind));
		return -EPROTO;
	}
	r->kind = kind;
	return 0;
}

int result_add_snapshot(struct result *r, enum result_kind kind, const Tracectl__Snapshot *snap,
			const char *key_host, char *err, size_t errlen)
{
	int ret = result_adopt_kind(r, kind, err, errlen);

	return ret ? ret : ops[kind].decode(r, snap, key_host, err, errlen);
}

int result_merge(struct result *dst, const struct result *src, const char *key_host, char *err, size_t errlen)
{
	int ret;

	if (src->kind == RESULT_KIND_UNKNOWN)
		return 0; /* nothing was added to it */
	ret = result_adopt_kind(dst, src->kind, err, errlen);
	return ret ? ret : ops[src->kind].merge(dst, src, key_host, err, errlen);
}

int result_encode(struct result *r, size_t top, struct result_pb *pb, Tracectl__Snapshot *snap)
{
	if (!ops_of(r->kind))
		return -EINVAL;
	snap->kind = (Tracectl__ResultKind)r->kind;
	return ops[r->kind].encode(r, top, pb, snap);
}

void result_pb_done(struct result_pb *pb)
{
	count_table_pb_free(&pb->counts);
}

void result_pb_free(struct result_pb *pb)
{
	result_pb_done(pb);
	free(pb->hists);
	free(pb->series);
	free(pb->series_ptrs);
	memset(pb, 0, sizeof(*pb));
}
