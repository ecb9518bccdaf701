/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text exposition of histograms and count tables, shared by the agent's /metrics and the CLI. */
#include <ctype.h>
#include <stdlib.h>
#include <strings.h>
#include <stdint.h>
#include <string.h>

#include "prom.h"
#include "text_escape.h"

void prom_name(char *dst, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s && n + 1 < len; s++)
		dst[n++] = isalnum((unsigned char)*s) ? *s : '_';
	if (len)
		dst[n] = '\0';
}

void prom_label_name(char *dst, size_t len, const char *s)
{
	if (strcmp(s, "container") == 0)
		s = "container_id";
	else if (strcmp(s, "pod") == 0)
		s = "pod_uid";
	prom_name(dst, len, s);
}

/* Appends name="value" (escaped) to buf, comma-separated. The value is first
 * escaped as for a terminal: scrapes are read there too, and a file name's
 * control bytes have no business in a dashboard. */
static void add_label(char *buf, size_t len, const char *name, const char *raw)
{
	size_t n = strlen(buf);
	char clean[64], safe[1024];
	const char *value = safe;

	text_escape(safe, sizeof(safe), raw);
	prom_label_name(clean, sizeof(clean), name);
	n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s=\"", n ? "," : "", clean);
	/* no newline is left to escape */
	for (; *value && n + 3 < len; value++) {
		if (*value == '"' || *value == '\\')
			buf[n++] = '\\';
		buf[n++] = *value;
	}
	if (n + 2 < len) {
		buf[n++] = '"';
		buf[n] = '\0';
	}
}

size_t prom_series_labels(const char *series, struct prom_label *out, size_t max)
{
	char copy[HIST_LABEL_LEN], *save = NULL;
	size_t n = 0;

	snprintf(copy, sizeof(copy), "%s", series);
	for (char *tok = strtok_r(copy, " ", &save); tok && n < max; tok = strtok_r(NULL, " ", &save), n++) {
		char *eq = strchr(tok, '=');

		if (eq)
			*eq = '\0';
		snprintf(out[n].name, sizeof(out[n].name), "%s", eq ? tok : "series");
		snprintf(out[n].value, sizeof(out[n].value), "%s", eq ? eq + 1 : tok);
	}
	return n;
}

/* "disk=vda op=read" -> disk="vda",op="read"; a bare word is series="word"; then extra */
static void series_labels(char *buf, size_t len, const char *series, const char *extra)
{
	struct prom_label pairs[PROM_MAX_LABELS];
	size_t n = prom_series_labels(series, pairs, PROM_MAX_LABELS);

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		add_label(buf, len, pairs[i].name, pairs[i].value);
	if (extra && *extra)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? "," : "", extra);
}

void prom_classic_buckets(const struct hist *h, uint64_t cumulative[PROM_CLASSIC_EDGES])
{
	uint64_t sum = 0;
	uint32_t b = 0;

	for (int i = 0; i < PROM_CLASSIC_EDGES; i++) {
		uint64_t edge = 1ULL << (PROM_CLASSIC_FIRST_POW + i);

		/* every power of two closes a bucket, as le does: add all buckets up to it */
		for (; b < HIST_BUCKETS && hist_bucket_upper(b) - 1 <= edge; b++)
			sum += h->buckets[b];
		cumulative[i] = sum;
	}
}

void prom_write_hists(FILE *out, const char *probe, const struct hist_set *set, const char *extra)
{
	char name[96], labels[512];

	prom_name(name, sizeof(name), probe);
	fprintf(out, "# HELP tracectl_%s_seconds %s latency histogram (tracectl)\n", name, probe);
	fprintf(out, "# TYPE tracectl_%s_seconds histogram\n", name);
	for (size_t i = 0; i < set->n; i++) {
		const struct hist *h = set->hists[i];
		uint64_t cumulative[PROM_CLASSIC_EDGES];
		const char *sep;

		series_labels(labels, sizeof(labels), set->labels[i], extra);
		sep = labels[0] ? "," : "";
		prom_classic_buckets(h, cumulative);
		for (int e = 0; e < PROM_CLASSIC_EDGES; e++)
			fprintf(out, "tracectl_%s_seconds_bucket{%s%sle=\"%.9g\"} %llu\n", name, labels, sep,
				(double)(1ULL << (PROM_CLASSIC_FIRST_POW + e)) / 1e9,
				(unsigned long long)cumulative[e]);
		fprintf(out, "tracectl_%s_seconds_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
			(unsigned long long)h->count);
		fprintf(out, "tracectl_%s_seconds_sum{%s} %.9f\n", name, labels, (double)h->sum / 1e9);
		fprintf(out, "tracectl_%s_seconds_count{%s} %llu\n", name, labels, (unsigned long long)h->count);
	}
}

void prom_write_counts(FILE *out, const char *probe, const struct count_table *t, const char *extra)
{
	char name[96], column[64], labels[1024];

	prom_name(name, sizeof(name), probe);
	for (size_t v = 0; v < t->nvalues; v++) {
		prom_name(column, sizeof(column), t->value_names[v]);
		fprintf(out, "# HELP tracectl_%s_%s_total %s %s (tracectl)\n", name, column, probe, t->value_names[v]);
		fprintf(out, "# TYPE tracectl_%s_%s_total counter\n", name, column);
		for (size_t r = 0; r < t->nrows; r++) {
			labels[0] = '\0';
			for (size_t k = 0; k < t->nkeys; k++)
				add_label(labels, sizeof(labels), t->key_names[k], t->rows[r].keys[k]);
			if (extra && *extra)
				snprintf(labels + strlen(labels), sizeof(labels) - strlen(labels), ",%s", extra);
			fprintf(out, "tracectl_%s_%s_total{%s} %llu\n", name, column, labels,
				(unsigned long long)t->rows[r].values[v]);
		}
	}
}

void prom_write_sample(FILE *out, enum prom_format format, const struct prom_sample *s)
{
	char labels[1024] = "";

	if (format == PROM_PROTOBUF) {
		prom_pb_write_sample(out, s);
		return;
	}
	for (size_t i = 0; i < s->nlabels; i++)
		add_label(labels, sizeof(labels), s->label_names[i], s->label_values[i]);
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s%s%s%s %.17g\n", s->name, s->help, s->name,
		s->counter ? "counter" : "gauge", s->name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "", s->value);
}

/* One media range's quality: its parameter q (params from the first ';'), 1 without. */
static double media_quality(const char *params)
{
	for (const char *p = params; p && *p; p = strchr(p + 1, ';')) {
		const char *v = p + (*p == ';');

		while (*v == ' ' || *v == '\t')
			v++;
		if (v[0] == 'q' && v[1] == '=')
			return strtod(v + 2, NULL);
	}
	return 1.0;
}

enum prom_format prom_negotiate(const char *accept)
{
	double proto_q = 0, text_q = 0;
	char copy[1024], *save = NULL;

	if (!accept)
		return PROM_TEXT;
	snprintf(copy, sizeof(copy), "%s", accept);
	for (char *range = strtok_r(copy, ",", &save); range; range = strtok_r(NULL, ",", &save)) {
		char *params = strchr(range, ';');
		char type[128];
		double q;

		while (*range == ' ' || *range == '\t')
			range++;
		snprintf(type, sizeof(type), "%.*s", (int)(params ? (size_t)(params - range) : strlen(range)), range);
		for (size_t n = strlen(type); n && (type[n - 1] == ' ' || type[n - 1] == '\t'); n--)
			type[n - 1] = '\0';
		q = media_quality(params ? params : "");
		if (strcasecmp(type, "application/vnd.google.protobuf") == 0) {
			/* only the delimited MetricFamily stream is ours to give */
			if (params && strstr(params, "proto=io.prometheus.client.MetricFamily") &&
			    strstr(params, "encoding=delimited") && q > proto_q)
				proto_q = q;
		} else if (strcasecmp(type, "text/plain") == 0 || strcasecmp(type, "text/*") == 0 ||
			   strcmp(type, "*/*") == 0) {
			if (q > text_q)
				text_q = q;
		}
	}
	return proto_q > 0 && proto_q >= text_q ? PROM_PROTOBUF : PROM_TEXT;
}
