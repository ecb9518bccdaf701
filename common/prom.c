/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text exposition of histograms and count tables, shared by the agent's /metrics and the CLI. */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "prom.h"
#include "text_escape.h"

#define PROM_FIRST_POW 10 /* 2^10 ns ~ 1 us */
#define PROM_LAST_POW 36  /* 2^36 ns ~ 69 s */

void prom_name(char *dst, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s && n + 1 < len; s++)
		dst[n++] = isalnum((unsigned char)*s) ? *s : '_';
	if (len)
		dst[n] = '\0';
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
	prom_name(clean, sizeof(clean), name);
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

/* "disk=vda op=read" -> disk="vda",op="read"; a bare word is series="word"; then extra */
static void series_labels(char *buf, size_t len, const char *series, const char *extra)
{
	char copy[HIST_LABEL_LEN], *save = NULL;

	buf[0] = '\0';
	snprintf(copy, sizeof(copy), "%s", series);
	for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (eq) {
			*eq = '\0';
			add_label(buf, len, tok, eq + 1);
		} else {
			add_label(buf, len, "series", tok);
		}
	}
	if (extra && *extra)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? "," : "", extra);
}

void prom_write_hists(FILE *out, const char *probe, const struct hist_set *set, const char *extra)
{
	char name[96], labels[512];

	prom_name(name, sizeof(name), probe);
	fprintf(out, "# HELP tracectl_%s_seconds %s latency histogram (tracectl)\n", name, probe);
	fprintf(out, "# TYPE tracectl_%s_seconds histogram\n", name);
	for (size_t i = 0; i < set->n; i++) {
		const struct hist *h = set->hists[i];
		const char *sep;
		uint64_t cumulative = 0;
		uint32_t b = 0;

		series_labels(labels, sizeof(labels), set->labels[i], extra);
		sep = labels[0] ? "," : "";
		for (int p = PROM_FIRST_POW; p <= PROM_LAST_POW; p++) {
			uint64_t edge = 1ULL << p;

			/* every power of two closes a bucket, as le does: add all buckets up to it */
			for (; b < HIST_BUCKETS && hist_bucket_upper(b) - 1 <= edge; b++)
				cumulative += h->buckets[b];
			fprintf(out, "tracectl_%s_seconds_bucket{%s%sle=\"%.9g\"} %llu\n", name, labels, sep,
				(double)edge / 1e9, (unsigned long long)cumulative);
		}
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
