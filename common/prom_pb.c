/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus' protobuf exposition (delimited io.prometheus.client.MetricFamily), with native histograms. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.pb-c.h"
#include "prom.h"
#include "text_escape.h"

/* Below 1 ns: the zero bucket holds exactly the samples of 0 ns, and being non-zero it
 * marks the histogram as native even when empty (as client_golang's default does). */
#define NATIVE_ZERO_THRESHOLD 0x1p-128

typedef Io__Prometheus__Client__MetricFamily Family;
typedef Io__Prometheus__Client__Metric Metric;

static void put_varint(FILE *out, uint64_t v)
{
	do {
		fputc((int)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)), out);
		v >>= 7;
	} while (v);
}

/*
 * A family is written as its header fields followed by one field 4 per metric: the
 * wire format allows a message to be concatenated from its fields, so only one metric
 * is held in memory at a time. The body is buffered for the leading length.
 */
struct family_writer {
	FILE *body;
	char *buf;
	size_t len;
};

static int family_begin(struct family_writer *w, const char *name, const char *help,
			Io__Prometheus__Client__MetricType type)
{
	Family fam = IO__PROMETHEUS__CLIENT__METRIC_FAMILY__INIT;
	uint8_t *packed;
	size_t len;

	w->buf = NULL;
	w->len = 0;
	w->body = open_memstream(&w->buf, &w->len);
	if (!w->body)
		return -ENOMEM;
	fam.name = (char *)name;
	fam.help = (char *)help;
	fam.has_type = true;
	fam.type = type;
	len = io__prometheus__client__metric_family__get_packed_size(&fam);
	packed = malloc(len);
	if (!packed)
		return -ENOMEM;
	io__prometheus__client__metric_family__pack(&fam, packed);
	fwrite(packed, 1, len, w->body);
	free(packed);
	return 0;
}

static int family_add(struct family_writer *w, const Metric *m)
{
	size_t len = io__prometheus__client__metric__get_packed_size(m);
	uint8_t *packed = malloc(len ? len : 1);

	if (!packed)
		return -ENOMEM;
	io__prometheus__client__metric__pack(m, packed);
	fputc(4 << 3 | 2, w->body); /* field 4, length-delimited */
	put_varint(w->body, len);
	fwrite(packed, 1, len, w->body);
	free(packed);
	return 0;
}

/* Writes the family to out, delimited, and frees what family_begin took (also on error). */
static int family_end(FILE *out, struct family_writer *w, int err)
{
	if (w->body && fclose(w->body) && !err)
		err = -ENOMEM;
	if (!err) {
		put_varint(out, w->len);
		fwrite(w->buf, 1, w->len, out);
	}
	free(w->buf);
	return err;
}

/* One metric's labels, names made safe and values escaped as in the text format. */
struct labels {
	size_t n;
	Io__Prometheus__Client__LabelPair pairs[PROM_MAX_LABELS + 1], *ptrs[PROM_MAX_LABELS + 1];
	char names[PROM_MAX_LABELS + 1][HIST_LABEL_LEN];
	char values[PROM_MAX_LABELS + 1][1024];
};

static void labels_add(struct labels *l, const char *name, const char *raw)
{
	if (l->n == PROM_MAX_LABELS + 1)
		return;
	prom_label_name(l->names[l->n], sizeof(l->names[l->n]), name);
	text_escape(l->values[l->n], sizeof(l->values[l->n]), raw);
	io__prometheus__client__label_pair__init(&l->pairs[l->n]);
	l->pairs[l->n].name = l->names[l->n];
	l->pairs[l->n].value = l->values[l->n];
	l->ptrs[l->n] = &l->pairs[l->n];
	l->n++;
}

static void labels_attach(Metric *m, struct labels *l)
{
	m->n_label = l->n;
	m->label = l->ptrs;
}

int prom_pb_write_sample(FILE *out, const struct prom_sample *s)
{
	struct family_writer w = { 0 };
	Metric m = IO__PROMETHEUS__CLIENT__METRIC__INIT;
	Io__Prometheus__Client__Gauge gauge = IO__PROMETHEUS__CLIENT__GAUGE__INIT;
	Io__Prometheus__Client__Counter counter = IO__PROMETHEUS__CLIENT__COUNTER__INIT;
	struct labels *l = calloc(1, sizeof(*l));
	int err = l ? 0 : -ENOMEM;

	if (!err)
		err = family_begin(&w, s->name, s->help,
				   s->counter ? IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER
					      : IO__PROMETHEUS__CLIENT__METRIC_TYPE__GAUGE);
	if (!err) {
		for (size_t i = 0; i < s->nlabels && i < 2; i++)
			labels_add(l, s->label_names[i], s->label_values[i]);
		labels_attach(&m, l);
		if (s->counter) {
			counter.has_value = true;
			counter.value = s->value;
			m.counter = &counter;
		} else {
			gauge.has_value = true;
			gauge.value = s->value;
			m.gauge = &gauge;
		}
		err = family_add(&w, &m);
	}
	err = family_end(out, &w, err);
	free(l);
	return err;
}

/* Storage for one histogram metric, classic or native, reused across the series. */
struct hist_metric {
	Metric metric;
	Io__Prometheus__Client__Histogram hist;
	struct labels labels;
	Io__Prometheus__Client__Bucket classic[PROM_CLASSIC_EDGES], *classic_ptrs[PROM_CLASSIC_EDGES];
	Io__Prometheus__Client__BucketSpan spans[HIST_BUCKETS], *span_ptrs[HIST_BUCKETS];
	int64_t deltas[HIST_BUCKETS];
};

static void fill_classic(struct hist_metric *hm, const struct hist *h)
{
	uint64_t cumulative[PROM_CLASSIC_EDGES];

	prom_classic_buckets(h, cumulative);
	for (int e = 0; e < PROM_CLASSIC_EDGES; e++) {
		io__prometheus__client__bucket__init(&hm->classic[e]);
		hm->classic[e].has_cumulative_count = true;
		hm->classic[e].cumulative_count = cumulative[e];
		hm->classic[e].has_upper_bound = true;
		hm->classic[e].upper_bound = (double)(1ULL << (PROM_CLASSIC_FIRST_POW + e)) / 1e9;
		hm->classic_ptrs[e] = &hm->classic[e];
	}
	hm->hist.n_bucket = PROM_CLASSIC_EDGES;
	hm->hist.bucket = hm->classic_ptrs;
	hm->hist.sample_sum = (double)h->sum / 1e9;
}

/* Spans of consecutive non-empty buckets, counts as deltas from the previous bucket. */
static void fill_native(struct hist_metric *hm, const struct hist *h)
{
	size_t nspans = 0, ndeltas = 0;
	int64_t prev_index = 0, prev_count = 0;

	for (uint32_t idx = HIST_PROM_INDEX_OFFSET; idx < HIST_BUCKETS; idx++) {
		int64_t index = (int64_t)idx - HIST_PROM_INDEX_OFFSET;

		if (!h->buckets[idx])
			continue;
		if (!nspans || index != prev_index + 1) {
			io__prometheus__client__bucket_span__init(&hm->spans[nspans]);
			hm->spans[nspans].has_offset = hm->spans[nspans].has_length = true;
			hm->spans[nspans].offset = (int32_t)(nspans ? index - prev_index - 1 : index);
			hm->span_ptrs[nspans] = &hm->spans[nspans];
			nspans++;
		}
		hm->spans[nspans - 1].length++;
		hm->deltas[ndeltas++] = (int64_t)h->buckets[idx] - prev_count;
		prev_count = (int64_t)h->buckets[idx];
		prev_index = index;
	}
	if (!nspans) {
		/* an empty native histogram: one span of no buckets, as the format asks */
		io__prometheus__client__bucket_span__init(&hm->spans[0]);
		hm->spans[0].has_offset = hm->spans[0].has_length = true;
		hm->span_ptrs[0] = &hm->spans[0];
		nspans = 1;
	}
	hm->hist.has_schema = true;
	hm->hist.schema = HIST_SCALE;
	hm->hist.has_zero_threshold = true;
	hm->hist.zero_threshold = NATIVE_ZERO_THRESHOLD;
	hm->hist.has_zero_count = true;
	hm->hist.zero_count = h->buckets[0];
	hm->hist.n_positive_span = nspans;
	hm->hist.positive_span = hm->span_ptrs;
	hm->hist.n_positive_delta = ndeltas;
	hm->hist.positive_delta = hm->deltas;
	hm->hist.sample_sum = (double)h->sum;
}

static int write_hist_family(FILE *out, const char *name, const char *help, const struct hist_set *set,
			     bool native, struct hist_metric *hm)
{
	struct family_writer w;
	int err = family_begin(&w, name, help, IO__PROMETHEUS__CLIENT__METRIC_TYPE__HISTOGRAM);

	for (size_t i = 0; i < set->n && !err; i++) {
		const struct hist *h = set->hists[i];
		struct prom_label pairs[PROM_MAX_LABELS];
		size_t n = prom_series_labels(set->labels[i], pairs, PROM_MAX_LABELS);

		io__prometheus__client__metric__init(&hm->metric);
		io__prometheus__client__histogram__init(&hm->hist);
		hm->labels.n = 0;
		for (size_t p = 0; p < n; p++)
			labels_add(&hm->labels, pairs[p].name, pairs[p].value);
		labels_attach(&hm->metric, &hm->labels);
		hm->hist.has_sample_count = hm->hist.has_sample_sum = true;
		hm->hist.sample_count = h->count;
		if (native)
			fill_native(hm, h);
		else
			fill_classic(hm, h);
		hm->metric.histogram = &hm->hist;
		err = family_add(&w, &hm->metric);
	}
	return family_end(out, &w, err);
}

int prom_pb_write_hists(FILE *out, const char *probe, const struct hist_set *set)
{
	struct hist_metric *hm = malloc(sizeof(*hm));
	char name[128], metric[160], help[160];
	int err;

	if (!hm)
		return -ENOMEM;
	prom_name(name, sizeof(name), probe);
	snprintf(metric, sizeof(metric), "tracectl_%s_seconds", name);
	snprintf(help, sizeof(help), "%s latency histogram (tracectl)", probe);
	err = write_hist_family(out, metric, help, set, false, hm);
	snprintf(metric, sizeof(metric), "tracectl_%s_nanoseconds", name);
	snprintf(help, sizeof(help), "%s latency, native histogram in tracectl's exact buckets (tracectl)", probe);
	if (!err)
		err = write_hist_family(out, metric, help, set, true, hm);
	free(hm);
	return err;
}

int prom_pb_write_counts(FILE *out, const char *probe, const struct count_table *t)
{
	Io__Prometheus__Client__Counter counter = IO__PROMETHEUS__CLIENT__COUNTER__INIT;
	Metric m = IO__PROMETHEUS__CLIENT__METRIC__INIT;
	struct labels *l = malloc(sizeof(*l));
	char name[96], column[64], metric[192], help[192];
	int err = l ? 0 : -ENOMEM;

	prom_name(name, sizeof(name), probe);
	for (size_t v = 0; v < t->nvalues && !err; v++) {
		struct family_writer w;

		prom_name(column, sizeof(column), t->value_names[v]);
		snprintf(metric, sizeof(metric), "tracectl_%s_%s_total", name, column);
		snprintf(help, sizeof(help), "%s %s (tracectl)", probe, t->value_names[v]);
		err = family_begin(&w, metric, help, IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER);
		for (size_t r = 0; r < t->nrows && !err; r++) {
			l->n = 0;
			for (size_t k = 0; k < t->nkeys; k++)
				labels_add(l, t->key_names[k], t->rows[r].keys[k]);
			labels_attach(&m, l);
			counter.has_value = true;
			counter.value = (double)t->rows[r].values[v];
			m.counter = &counter;
			err = family_add(&w, &m);
		}
		err = family_end(out, &w, err);
	}
	free(l);
	return err;
}
