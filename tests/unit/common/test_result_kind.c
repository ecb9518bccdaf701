/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of result kinds: inference for kind-less messages, and merging each kind. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hist_pb.h"
#include "result_kind.h"

/* ---- inference ---- */

static void test_sent_kind_wins(void **state)
{
	Tracectl__Snapshot snap = TRACECTL__SNAPSHOT__INIT;
	Tracectl__Provenance prov = TRACECTL__PROVENANCE__INIT;

	(void)state;
	/* an idle histogram window: no series, no table; the kind says what it is */
	snap.kind = TRACECTL__RESULT_KIND__RESULT_KIND_HISTOGRAM;
	assert_int_equal(result_kind_resolve(snap.kind, RESULT_KIND_UNKNOWN, NULL, &snap), RESULT_KIND_HISTOGRAM);
	/* ... even against what the session was believed to be */
	assert_int_equal(result_kind_resolve(snap.kind, RESULT_KIND_EVENTS, NULL, &snap), RESULT_KIND_HISTOGRAM);
	prov.relative_error = 0.0156;
	assert_int_equal(result_kind_resolve(TRACECTL__RESULT_KIND__RESULT_KIND_EVENTS, RESULT_KIND_UNKNOWN, &prov, NULL),
			 RESULT_KIND_EVENTS);
}

static void test_kindless_inference(void **state)
{
	Tracectl__Snapshot snap = TRACECTL__SNAPSHOT__INIT;
	Tracectl__Provenance prov = TRACECTL__PROVENANCE__INIT;
	Tracectl__CountTable table = TRACECTL__COUNT_TABLE__INIT;
	Tracectl__Series series = TRACECTL__SERIES__INIT, *series_ptr = &series;
	const Tracectl__ResultKind none = TRACECTL__RESULT_KIND__RESULT_KIND_UNSPECIFIED;

	(void)state;
	/* an old agent's Attached: only a histogram probe's provenance has a relative error */
	prov.relative_error = 0.0156;
	assert_int_equal(result_kind_resolve(none, RESULT_KIND_UNKNOWN, &prov, NULL), RESULT_KIND_HISTOGRAM);
	prov.relative_error = 0;
	assert_int_equal(result_kind_resolve(none, RESULT_KIND_UNKNOWN, &prov, NULL), RESULT_KIND_UNKNOWN);
	assert_int_equal(result_kind_resolve(none, RESULT_KIND_UNKNOWN, NULL, NULL), RESULT_KIND_UNKNOWN);
	/* an old agent's idle histogram window, once its Attached told the kind */
	assert_int_equal(result_kind_resolve(none, RESULT_KIND_HISTOGRAM, NULL, &snap), RESULT_KIND_HISTOGRAM);
	/* ... or its summary, by its provenance */
	prov.relative_error = 0.0156;
	assert_int_equal(result_kind_resolve(none, RESULT_KIND_UNKNOWN, &prov, &snap), RESULT_KIND_HISTOGRAM);
	/* nothing known: what the snapshot holds, as before the kind was on the wire */
	snap.n_series = 1;
	snap.series = &series_ptr;
	assert_int_equal(result_kind_resolve(none, RESULT_KIND_UNKNOWN, NULL, &snap), RESULT_KIND_HISTOGRAM);
	snap.n_series = 0;
	snap.counts = &table;
	assert_int_equal(result_kind_resolve(none, RESULT_KIND_UNKNOWN, NULL, &snap), RESULT_KIND_COUNTS);
	snap.counts = NULL;
	assert_int_equal(result_kind_resolve(none, RESULT_KIND_UNKNOWN, NULL, &snap), RESULT_KIND_EVENTS);
	/* a kind this CLI does not know (a newer agent) is inferred like a missing one */
	assert_int_equal(result_kind_resolve((Tracectl__ResultKind)9, RESULT_KIND_UNKNOWN, NULL, &snap),
			 RESULT_KIND_EVENTS);
	assert_string_equal(result_kind_name(RESULT_KIND_COUNTS), "counts");
	assert_string_equal(result_kind_name(RESULT_KIND_UNKNOWN), "unknown");
}

/* ---- merging ---- */

/* A snapshot of one series label holding the values. */
static void hist_snapshot(Tracectl__Snapshot *snap, Tracectl__Series *series, Tracectl__Series **ptr,
			  struct hist_pb *pb, const char *label, const uint64_t *values, size_t n)
{
	struct hist h;

	hist_reset(&h);
	for (size_t i = 0; i < n; i++)
		hist_add(&h, values[i]);
	hist_pb_fill(pb, &h);
	tracectl__snapshot__init(snap);
	tracectl__series__init(series);
	series->label = (char *)label;
	series->hist = &pb->msg;
	*ptr = series;
	snap->series = ptr;
	snap->n_series = 1;
}

static void test_merge_histograms(void **state)
{
	static struct hist_pb pb; /* large: not on the stack */
	Tracectl__Snapshot snap;
	Tracectl__Series series, *ptr;
	const uint64_t a[] = { 10, 20, 30 }, b[] = { 1000 };
	struct result window, total;
	char err[128];

	(void)state;
	result_init(&window);
	result_init(&total);
	hist_snapshot(&snap, &series, &ptr, &pb, "disk=vda", a, 3);
	assert_int_equal(result_add_snapshot(&window, RESULT_KIND_HISTOGRAM, &snap, NULL, err, sizeof(err)), 0);
	hist_snapshot(&snap, &series, &ptr, &pb, "disk=vdb", b, 1);
	assert_int_equal(result_add_snapshot(&window, RESULT_KIND_HISTOGRAM, &snap, NULL, err, sizeof(err)), 0);
	assert_int_equal(result_merge(&total, &window, "h1", err, sizeof(err)), 0);
	assert_int_equal(result_merge(&total, &window, "h2", err, sizeof(err)), 0);
	assert_int_equal(total.kind, RESULT_KIND_HISTOGRAM);
	assert_int_equal(total.hists.n, 2);
	assert_int_equal(hist_set_find(&total.hists, "disk=vda")->count, 6);
	assert_int_equal(hist_set_find(&total.hists, "disk=vda")->sum, 120);
	assert_int_equal(hist_set_find(&total.hists, "disk=vdb")->max, 1000);
	/* a window with no samples stays a histogram result, empty */
	result_clear(&window);
	assert_int_equal(window.kind, RESULT_KIND_HISTOGRAM);
	assert_int_equal(window.hists.n, 0);
	tracectl__snapshot__init(&snap);
	assert_int_equal(result_add_snapshot(&window, RESULT_KIND_HISTOGRAM, &snap, NULL, err, sizeof(err)), 0);
	assert_int_equal(window.hists.n, 0);
	/* a histogram is not added to event counts */
	assert_int_equal(result_add_snapshot(&window, RESULT_KIND_EVENTS, &snap, NULL, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "do not add up"));
	result_free(&window);
	result_free(&total);
}

/* A result holding a table of the given key names with one row per (key, value). */
static void table_result(struct result *r, const char *key_name, const char *const *keys, const uint64_t *values,
			 size_t n)
{
	const char *const value_names[] = { "bytes" };

	result_init(r);
	r->kind = RESULT_KIND_COUNTS;
	assert_int_equal(count_table_init(&r->counts, 1, &key_name, 1, value_names), 0);
	r->have_counts = true;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(count_table_add(&r->counts, &keys[i], &values[i]), 0);
}

static void test_merge_counts(void **state)
{
	const char *const comms[] = { "nginx", "curl" }, *const pids[] = { "7" };
	const uint64_t v1[] = { 100, 5 }, v2[] = { 50 };
	struct result a, b, total, by_pid;
	Tracectl__Snapshot snap = TRACECTL__SNAPSHOT__INIT;
	Tracectl__CountTable pb = TRACECTL__COUNT_TABLE__INIT;
	char err[128];

	(void)state;
	table_result(&a, "comm", comms, v1, 2);
	table_result(&b, "comm", comms, v2, 1);
	result_init(&total);
	/* comm tables merge by comm, whatever host they come from */
	assert_int_equal(result_merge(&total, &a, "h1", err, sizeof(err)), 0);
	assert_int_equal(result_merge(&total, &b, "h2", err, sizeof(err)), 0);
	assert_int_equal(total.counts.nkeys, 1);
	assert_int_equal(total.counts.nrows, 2);
	assert_int_equal(count_table_find(&total.counts, (const char *const[]){ "nginx" })->values[0], 150);
	/* decoded from the wire the same way */
	assert_int_equal(count_table_to_pb(&b.counts, 0, &pb), 0);
	snap.counts = &pb;
	assert_int_equal(result_add_snapshot(&total, RESULT_KIND_COUNTS, &snap, NULL, err, sizeof(err)), 0);
	count_table_pb_free(&pb);
	assert_int_equal(count_table_find(&total.counts, (const char *const[]){ "nginx" })->values[0], 200);
	/* a pid names a process on one host: merged with the host as first key */
	table_result(&by_pid, "pid", pids, v2, 1);
	result_free(&b);
	result_init(&b);
	assert_int_equal(result_merge(&b, &by_pid, "h1", err, sizeof(err)), 0);
	assert_int_equal(result_merge(&b, &by_pid, "h2", err, sizeof(err)), 0);
	assert_int_equal(b.counts.nkeys, 2);
	assert_string_equal(b.counts.key_names[0], "host");
	assert_int_equal(b.counts.nrows, 2);
	assert_int_equal(count_table_find(&b.counts, (const char *const[]){ "h2", "7" })->values[0], 50);
	/* tables of different shapes do not merge, and say so (fleet.c ignored this once) */
	assert_int_equal(result_merge(&total, &b, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "different shapes"));
	result_free(&a);
	result_free(&b);
	result_free(&by_pid);
	result_free(&total);
}

static void test_merge_events(void **state)
{
	Tracectl__Snapshot snap = TRACECTL__SNAPSHOT__INIT;
	struct result window, total;
	char err[128];

	(void)state;
	result_init(&window);
	result_init(&total);
	snap.events = 7;
	snap.events_dropped = 1;
	assert_int_equal(result_add_snapshot(&window, RESULT_KIND_EVENTS, &snap, NULL, err, sizeof(err)), 0);
	assert_int_equal(result_add_snapshot(&window, RESULT_KIND_EVENTS, &snap, NULL, err, sizeof(err)), 0);
	assert_int_equal(result_merge(&total, &window, "h1", err, sizeof(err)), 0);
	assert_int_equal(result_merge(&total, &window, "h2", err, sizeof(err)), 0);
	assert_int_equal(total.kind, RESULT_KIND_EVENTS);
	assert_int_equal(total.events, 28);
	assert_int_equal(total.events_dropped, 4);
	result_clear(&window);
	assert_int_equal(window.events, 0);
	/* an empty result adds nothing and takes no kind */
	result_free(&window);
	result_init(&window);
	assert_int_equal(result_merge(&total, &window, NULL, err, sizeof(err)), 0);
	assert_int_equal(total.events, 28);
	/* a kind out of range is refused */
	assert_int_equal(result_add_snapshot(&window, (enum result_kind)9, &snap, NULL, err, sizeof(err)), -EPROTO);
	result_free(&window);
	result_free(&total);
}

/* What the agent encodes, the CLI decodes to the same result, for every kind. */
static void test_encode_decode(void **state)
{
	const char *const comms[] = { "nginx", "curl", "sh" };
	const uint64_t bytes[] = { 100, 5, 1 };
	struct result sent, got;
	struct result_pb pb = { 0 };
	Tracectl__Snapshot snap = TRACECTL__SNAPSHOT__INIT;
	char err[128];

	(void)state;
	/* histograms, including none at all (an idle window) */
	assert_int_equal(result_init_kind(&sent, RESULT_KIND_HISTOGRAM, 0, NULL, 0, NULL, 0), 0);
	assert_int_equal(result_encode(&sent, 0, &pb, &snap), 0);
	assert_int_equal(snap.kind, TRACECTL__RESULT_KIND__RESULT_KIND_HISTOGRAM);
	assert_int_equal(snap.n_series, 0);
	for (int i = 1; i <= 3; i++)
		hist_add(hist_set_get(&sent.hists, i == 3 ? "b" : "a"), (uint64_t)i * 1000);
	tracectl__snapshot__init(&snap);
	assert_int_equal(result_encode(&sent, 0, &pb, &snap), 0);
	result_init(&got);
	assert_int_equal(result_add_snapshot(&got, result_kind_resolve(snap.kind, RESULT_KIND_UNKNOWN, NULL, &snap),
					     &snap, NULL, err, sizeof(err)),
			 0);
	result_pb_done(&pb);
	assert_int_equal(got.hists.n, 2);
	assert_int_equal(hist_set_find(&got.hists, "a")->sum, 3000);
	assert_int_equal(hist_set_find(&got.hists, "b")->max, 3000);
	result_free(&got);
	result_free(&sent);

	/* a table, folded to its top 2 rows and the rest */
	assert_int_equal(result_init_kind(&sent, RESULT_KIND_COUNTS, 1, (const char *const[]){ "comm" }, 1,
					  (const char *const[]){ "bytes" }, 100),
			 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(count_table_add(&sent.counts, &comms[i], &bytes[i]), 0);
	tracectl__snapshot__init(&snap);
	assert_int_equal(result_encode(&sent, 2, &pb, &snap), 0);
	assert_int_equal(snap.kind, TRACECTL__RESULT_KIND__RESULT_KIND_COUNTS);
	result_init(&got);
	assert_int_equal(result_add_snapshot(&got, RESULT_KIND_COUNTS, &snap, NULL, err, sizeof(err)), 0);
	result_pb_done(&pb);
	assert_int_equal(got.counts.nrows, 3); /* nginx, curl, and [other] holding sh */
	assert_int_equal(count_table_find(&got.counts, (const char *const[]){ "nginx" })->values[0], 100);
	assert_int_equal(count_table_find(&got.counts, (const char *const[]){ COUNT_OTHER_KEY })->values[0], 1);
	result_free(&got);
	result_free(&sent);

	/* event counts */
	result_init_kind(&sent, RESULT_KIND_EVENTS, 0, NULL, 0, NULL, 0);
	sent.events = 12;
	sent.events_dropped = 3;
	tracectl__snapshot__init(&snap);
	assert_int_equal(result_encode(&sent, 0, &pb, &snap), 0);
	assert_int_equal(snap.kind, TRACECTL__RESULT_KIND__RESULT_KIND_EVENTS);
	assert_int_equal(snap.events, 12);
	assert_int_equal(snap.events_dropped, 3);
	result_free(&sent);
	result_pb_free(&pb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sent_kind_wins),
		cmocka_unit_test(test_kindless_inference),
		cmocka_unit_test(test_merge_histograms),
		cmocka_unit_test(test_merge_counts),
		cmocka_unit_test(test_merge_events),
		cmocka_unit_test(test_encode_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
