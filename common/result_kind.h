/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a probe returns (histograms, a count table or events) as a type: the kind on
 * the wire, its inference for agents that do not send it, and one result of any kind
 * with its clear / decode / merge in one table of operations per kind.
 */
#ifndef TRACECTL_RESULT_KIND_H
#define TRACECTL_RESULT_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "count_table.h"
#include "hist_pb.h"
#include "hist_set.h"
#include "tracectl.pb-c.h"

/* The wire's ResultKind, value for value. */
enum result_kind {
	RESULT_KIND_UNKNOWN = TRACECTL__RESULT_KIND__RESULT_KIND_UNSPECIFIED,
	RESULT_KIND_HISTOGRAM = TRACECTL__RESULT_KIND__RESULT_KIND_HISTOGRAM,
	RESULT_KIND_COUNTS = TRACECTL__RESULT_KIND__RESULT_KIND_COUNTS,
	RESULT_KIND_EVENTS = TRACECTL__RESULT_KIND__RESULT_KIND_EVENTS,
};

/* "histogram", "counts", "events" ("unknown"): as `tracectl probes` names them. */
const char *result_kind_name(enum result_kind kind);

/*
 * The kind of a message: what it says (sent), else what is already known of the
 * session (known, e.g. from its Attached), else, for agents before protocol minor 1
 * (kind unset), what the message shows: a provenance with a relative error is a
 * histogram probe's (only those have one), series are histograms, a table is counts.
 * A snapshot (snap not NULL) with none of these is events; an Attached (snap NULL)
 * may stay RESULT_KIND_UNKNOWN. The only place a kind is inferred.
 */
enum result_kind result_kind_resolve(Tracectl__ResultKind sent, enum result_kind known,
				     const Tracectl__Provenance *prov, const Tracectl__Snapshot *snap);

/* A result of one kind, added up from snapshots or other results. */
struct result {
	enum result_kind kind; /* RESULT_KIND_UNKNOWN until the first add */
	struct hist_set hists;
	bool have_counts;
	struct count_table counts;
	uint64_t events, events_dropped;
	size_t series_left_out; /* histograms past HIST_SET_MAX labels, not kept */
};

void result_init(struct result *r);
/* An empty result of kind; a count table gets its schema and holds at most max_rows
 * (the rest folded into the other row by the first value). 0 or -EINVAL / -ENOMEM. */
int result_init_kind(struct result *r, enum result_kind kind, size_t nkeys, const char *const *key_names,
		     size_t nvalues, const char *const *value_names, size_t max_rows);
/* Empties r (its kind and a table's schema stay). */
void result_clear(struct result *r);
void result_free(struct result *r);
/*
 * r += the payload of snap, a snapshot of kind. With key_host set, a table keyed by
 * pid or tid gets key_host as an extra first key (a pid names a process on one host
 * only). 0, or -errno with a reason in err (bad data, or a kind other than r's).
 */
int result_add_snapshot(struct result *r, enum result_kind kind, const Tracectl__Snapshot *snap,
			const char *key_host, char *err, size_t errlen);
/* dst += src (key_host as above). 0, or -errno with a reason in err. */
int result_merge(struct result *dst, const struct result *src, const char *key_host, char *err, size_t errlen);

/* What an encoded result points into, kept for the next window (zero-initialised). */
struct result_pb {
	struct hist_pb *hists; /* one per series of the largest result so far */
	Tracectl__Series *series, **series_ptrs;
	size_t cap;
	Tracectl__CountTable counts;
};

/* Fills snap's kind and payload from r: a table is folded to its top rows (0: all) and
 * one row with the rest first. snap points into pb and r until result_pb_done. 0 or -ENOMEM. */
int result_encode(struct result *r, size_t top, struct result_pb *pb, Tracectl__Snapshot *snap);
/* After the snapshot is sent: releases what result_encode allocated for it. */
void result_pb_done(struct result_pb *pb);
void result_pb_free(struct result_pb *pb);

#endif
