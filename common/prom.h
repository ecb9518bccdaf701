/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text exposition of histograms and count tables, shared by the agent's /metrics and the CLI. */
#ifndef TRACECTL_PROM_H
#define TRACECTL_PROM_H

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

#endif
