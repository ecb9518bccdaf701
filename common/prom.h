/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text exposition of histograms and count tables, shared by the agent's /metrics and the CLI. */
#ifndef TRACECTL_PROM_H
#define TRACECTL_PROM_H

#include <stdbool.h>
#include <stdio.h>

#include "count_table.h"
#include "hist_set.h"

/*
 * Writes the histograms of set as one metric family tracectl_<probe>_seconds
 * (probe with '-' as '_'): _bucket{le} on fixed power-of-two boundaries from 1 us
 * to ~69 s (exact: every power of two is a
 * bucket bound of the exponential layout), _sum, _count.
 * A series label "disk=vda op=read" becomes the labels disk="vda",op="read";
 * extra (may be NULL) is added to every line, e.g. "host=\"web1\"".
 */
void prom_write_hists(FILE *out, const char *probe, const struct hist_set *set, const char *extra);
/* Every value column as a counter tracectl_<probe>_<column>_total, keys as labels. */
void prom_write_counts(FILE *out, const char *probe, const struct count_table *t, const char *extra);
/* Metric-name-safe copy of s: [a-zA-Z0-9_], others as '_'. */
void prom_name(char *dst, size_t len, const char *s);
/* A label's name: prom_name, but results keyed by workload (--by container|pod) as
 * container_id and pod_uid, the names kube-state-metrics joins on (deploy/README.md). */
void prom_label_name(char *dst, size_t len, const char *s);

/*
 * The classic buckets: powers of two from 2^10 ns (~1 us) to 2^36 ns (~69 s), each
 * inclusive as Prometheus' le, and exact (every power of two closes a bucket).
 */
#define PROM_CLASSIC_FIRST_POW 10
#define PROM_CLASSIC_LAST_POW 36
#define PROM_CLASSIC_EDGES (PROM_CLASSIC_LAST_POW - PROM_CLASSIC_FIRST_POW + 1)
/* cumulative[i]: samples <= 2^(PROM_CLASSIC_FIRST_POW + i) ns */
void prom_classic_buckets(const struct hist *h, uint64_t cumulative[PROM_CLASSIC_EDGES]);

/* A series label "disk=vda op=read" split into raw names and values (a bare word is
 * series=word); the writers make names safe and escape values. Returns the count. */
#define PROM_MAX_LABELS 8
struct prom_label {
	char name[HIST_LABEL_LEN];
	char value[HIST_LABEL_LEN];
};
size_t prom_series_labels(const char *series, struct prom_label *out, size_t max);

/* The two exposition formats /metrics negotiates. */
enum prom_format { PROM_TEXT, PROM_PROTOBUF };
#define PROM_TEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROM_PROTOBUF_CONTENT_TYPE \
	"application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
/* PROM_PROTOBUF when the Accept header names the delimited MetricFamily format with a
 * quality at least that of every text type it accepts; else (or NULL) PROM_TEXT. */
enum prom_format prom_negotiate(const char *accept);

/* One gauge or counter with at most two labels, in either format. */
struct prom_sample {
	const char *name, *help;
	bool counter;
	size_t nlabels;
	const char *label_names[2], *label_values[2];
	double value;
};
void prom_write_sample(FILE *out, enum prom_format format, const struct prom_sample *s);

/*
 * The protobuf format (one length-delimited MetricFamily each). Histograms go out twice:
 * tracectl_<probe>_seconds with the classic buckets, as in the text format, and
 * tracectl_<probe>_nanoseconds as a native histogram (schema 5, tracectl's own buckets,
 * exact: in seconds they would not fall on powers of 2^(1/32)). 0 or -ENOMEM.
 */
int prom_pb_write_hists(FILE *out, const char *probe, const struct hist_set *set);
int prom_pb_write_counts(FILE *out, const char *probe, const struct count_table *t);
/* prom_write_sample's protobuf half. */
int prom_pb_write_sample(FILE *out, const struct prom_sample *s);

#endif
