/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the Prometheus text exposition: names, labels, cumulative buckets, counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prom.h"

/* Runs write into a memory stream and returns its text (caller frees). */
static char *capture_hists(const char *probe, const struct hist_set *set, const char *extra)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	prom_write_hists(f, probe, set, extra);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static unsigned long long value_of(const char *text, const char *prefix)
{
	const char *p = strstr(text, prefix);

	assert_non_null(p);
	return strtoull(p + strlen(prefix), NULL, 10);
}

static void test_name_is_metric_safe(void **state)
{
	char name[32];

	(void)state;
	prom_name(name, sizeof(name), "tcp-latency");
	assert_string_equal(name, "tcp_latency");
	prom_name(name, sizeof(name), "a.b/c d");
	assert_string_equal(name, "a_b_c_d");
	prom_name(name, 4, "abcdef");
	assert_string_equal(name, "abc");
}

/* 10 samples of 20 ms, 5 of 30 us: buckets are cumulative, +Inf equals _count, _sum exact. */
static void test_histogram_buckets_are_cumulative(void **state)
{
	struct hist_set set;
	char *text;

	(void)state;
	hist_set_init(&set);
	for (int i = 0; i < 10; i++)
		hist_add(hist_set_get(&set, "role=client"), 20000000);
	for (int i = 0; i < 5; i++)
		hist_add(hist_set_get(&set, "role=client"), 30000);
	text = capture_hists("tcp-latency", &set, "host=\"web1\"");
	assert_non_null(strstr(text, "# TYPE tracectl_tcp_latency_seconds histogram\n"));
	/* 30 us < 2^15 ns = 32.768 us; 20 ms < 2^25 ns = 33.5 ms but > 2^24 ns = 16.8 ms */
	assert_int_equal(value_of(text, "tracectl_tcp_latency_seconds_bucket{role=\"client\",host=\"web1\",le=\"1.6384e-05\"} "), 0);
	assert_int_equal(value_of(text, "tracectl_tcp_latency_seconds_bucket{role=\"client\",host=\"web1\",le=\"3.2768e-05\"} "), 5);
	assert_int_equal(value_of(text, "tracectl_tcp_latency_seconds_bucket{role=\"client\",host=\"web1\",le=\"0.016777216\"} "), 5);
	assert_int_equal(value_of(text, "tracectl_tcp_latency_seconds_bucket{role=\"client\",host=\"web1\",le=\"0.033554432\"} "), 15);
	assert_int_equal(value_of(text, "tracectl_tcp_latency_seconds_bucket{role=\"client\",host=\"web1\",le=\"+Inf\"} "), 15);
	assert_int_equal(value_of(text, "tracectl_tcp_latency_seconds_count{role=\"client\",host=\"web1\"} "), 15);
	assert_non_null(strstr(text, "tracectl_tcp_latency_seconds_sum{role=\"client\",host=\"web1\"} 0.200150000\n"));
	free(text);
	hist_set_free(&set);
}

/* A label value with quotes, backslashes and a newline cannot break the exposition line. */
/* A power of two of nanoseconds is counted in le equal to it (le is inclusive). */
static void test_power_of_two_is_within_its_le(void **state)
{
	struct hist_set set;
	char *text;

	(void)state;
	hist_set_init(&set);
	hist_add(hist_set_get(&set, "role=client"), 1ULL << 20);
	hist_add(hist_set_get(&set, "role=client"), (1ULL << 20) + 1);
	text = capture_hists("tcp-latency", &set, NULL);
	assert_int_equal(value_of(text, "tracectl_tcp_latency_seconds_bucket{role=\"client\",le=\"0.000524288\"} "), 0);
	assert_int_equal(value_of(text, "tracectl_tcp_latency_seconds_bucket{role=\"client\",le=\"0.001048576\"} "), 1);
	assert_int_equal(value_of(text, "tracectl_tcp_latency_seconds_bucket{role=\"client\",le=\"0.002097152\"} "), 2);
	free(text);
	hist_set_free(&set);
}

/* Protobuf only to a scraper that names the delimited MetricFamily and prefers it. */
static void test_negotiate(void **state)
{
	(void)state;
	assert_int_equal(prom_negotiate(NULL), PROM_TEXT);
	assert_int_equal(prom_negotiate("*/*"), PROM_TEXT);
	assert_int_equal(prom_negotiate("text/plain;version=0.0.4"), PROM_TEXT);
	/* Prometheus 2.42 with native histograms enabled */
	assert_int_equal(prom_negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
					"encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"),
			 PROM_PROTOBUF);
	assert_int_equal(prom_negotiate("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
					"encoding=delimited"),
			 PROM_PROTOBUF);
	/* the text form of protobuf, or another message, is not ours */
	assert_int_equal(prom_negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
					"encoding=text"),
			 PROM_TEXT);
	assert_int_equal(prom_negotiate("application/vnd.google.protobuf;proto=other.Message;encoding=delimited"),
			 PROM_TEXT);
	/* text preferred */
	assert_int_equal(prom_negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
					"encoding=delimited;q=0.2,text/plain;q=0.9"),
			 PROM_TEXT);
	assert_int_equal(prom_negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
					"encoding=delimited;q=0"),
			 PROM_TEXT);
}

static void test_label_values_are_escaped(void **state)
{
	struct hist_set set;
	char *text;

	(void)state;
	hist_set_init(&set);
	hist_add(hist_set_get(&set, "comm=a\"b\\c\nd"), 1000);
	text = capture_hists("open", &set, NULL);
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');

		assert_non_null(nl);
		/* every line is a comment or starts with the metric name */
		assert_true(line[0] == '#' || strncmp(line, "tracectl_open_seconds", 21) == 0);
		line = nl + 1;
	}
	/* the value is first escaped as for a terminal (\\ and \\x0a), then for the exposition */
	assert_non_null(strstr(text, "{comm=\"a\\\"b\\\\\\\\c\\\\x0ad\",le="));
	free(text);
	hist_set_free(&set);
}

static void test_counts_are_counters_per_column(void **state)
{
	static const char *const keys[] = { "pid", "comm" };
	static const char *const values[] = { "sends", "bytes" };
	struct count_table t;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(count_table_init(&t, 2, keys, 2, values), 0);
	assert_int_equal(count_table_add(&t, (const char *[]){ "42", "nginx" }, (uint64_t[]){ 500, 64000 }), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	prom_write_counts(f, "tcp-send", &t, "host=\"h\"");
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(buf, "# TYPE tracectl_tcp_send_sends_total counter\n"));
	assert_non_null(strstr(buf, "tracectl_tcp_send_sends_total{pid=\"42\",comm=\"nginx\",host=\"h\"} 500\n"));
	assert_non_null(strstr(buf, "tracectl_tcp_send_bytes_total{pid=\"42\",comm=\"nginx\",host=\"h\"} 64000\n"));
	free(buf);
	count_table_free(&t);
}

/* Rows and series keyed by workload are labelled as kube-state-metrics joins them. */
static void test_workload_labels_join_kube_state_metrics(void **state)
{
	static const char *const keys[] = { "container" };
	static const char *const values[] = { "sends" };
	struct count_table t;
	struct hist_set set;
	char *buf = NULL, *text;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(count_table_init(&t, 1, keys, 1, values), 0);
	assert_int_equal(count_table_add(&t, (const char *[]){ "abc" }, (uint64_t[]){ 7 }), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	prom_write_counts(f, "tcp-send", &t, NULL);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(buf, "tracectl_tcp_send_sends_total{container_id=\"abc\"} 7\n"));
	hist_set_init(&set);
	hist_add(hist_set_get(&set, "pod=6f9c1c3e-2b1a"), 1000);
	text = capture_hists("runq-latency", &set, NULL);
	assert_non_null(strstr(text, "_count{pod_uid=\"6f9c1c3e-2b1a\"} 1\n"));
	/* service stays service */
	hist_set_free(&set);
	hist_set_init(&set);
	hist_add(hist_set_get(&set, "service=a.service"), 1000);
	free(text);
	text = capture_hists("runq-latency", &set, NULL);
	assert_non_null(strstr(text, "_count{service=\"a.service\"} 1\n"));
	free(text);
	free(buf);
	hist_set_free(&set);
	count_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_is_metric_safe),
		cmocka_unit_test(test_histogram_buckets_are_cumulative),
		cmocka_unit_test(test_label_values_are_escaped),
		cmocka_unit_test(test_power_of_two_is_within_its_le),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_counts_are_counters_per_column),
		cmocka_unit_test(test_workload_labels_join_kube_state_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
