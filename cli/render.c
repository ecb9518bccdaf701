/* SPDX-License-Identifier: Apache-2.0 */
/* Rendering results for people (histograms with bars) and machines (JSON lines). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "count_table.h"
#include "duration.h"
#include "hist_pb.h"
#include "text_escape.h"

#define BAR_WIDTH 40

int render_format_parse(const char *name, enum output_format *out)
{
	if (strcmp(name, "text") == 0)
		*out = OUTPUT_TEXT;
	else if (strcmp(name, "folded") == 0)
		*out = OUTPUT_FOLDED;
	else if (strcmp(name, "svg") == 0)
		*out = OUTPUT_SVG;
	else if (strcmp(name, "prom") == 0)
		*out = OUTPUT_PROM;
	else if (strcmp(name, "json") == 0)
		*out = OUTPUT_JSON;
	else
		return -EINVAL;
	return 0;
}

void render_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

/* Digits only (and short enough): printed as a JSON number, else as a string. */
static void json_value(FILE *out, const char *s)
{
	size_t n = strspn(s, "0123456789");

	if (n && n == strlen(s) && n < 19 && (s[0] != '0' || n == 1))
		fputs(s, out);
	else
		render_json_string(out, s);
}

static void json_head(const struct render *r, const char *type)
{
	fputs("{\"host\":", r->out);
	render_json_string(r->out, r->host);
	fputs(",\"probe\":", r->out);
	render_json_string(r->out, r->probe);
	fprintf(r->out, ",\"type\":\"%s\"", type);
	if (r->hosts_total > 1 && r->merged)
		fprintf(r->out, ",\"hosts\":%zu,\"hosts_total\":%zu", r->hosts, r->hosts_total);
	if (r->late)
		fputs(",\"late\":true", r->out);
	if (r->died)
		fprintf(r->out, ",\"hosts_died\":%zu", r->died);
}

/* Text output shows strings from traced hosts and agents (comms, file names,
 * symbols): escaped, so none can drive the operator's terminal. Truncated to len. */
static const char *safe(char *buf, size_t len, const char *s)
{
	text_escape(buf, len, s);
	return buf;
}

/* "host", or for a fleet's merged view "* (7/8 hosts)"; and what is partial about it */
static const char *host_label_raw(const struct render *r, char *buf, size_t len)
{
	size_t n;

	if (r->merged && r->hosts_total > 1)
		snprintf(buf, len, "%s (%zu/%zu hosts)", r->host, r->hosts, r->hosts_total);
	else
		snprintf(buf, len, "%s", r->host);
	n = strlen(buf);
	if (r->late)
		snprintf(buf + n, len - n, " [late: came after its merged view was printed]");
	else if (r->died && r->merged && r->hosts_total > 1)
		snprintf(buf + n, len - n, " [%zu host(s) died: their data up to then]", r->died);
	else if (r->died)
		snprintf(buf + n, len - n, " [died: its data up to then]");
	return buf;
}

/* The same, escaped for the terminal. */
static const char *host_label(const struct render *r, char *buf, size_t len)
{
	char raw[400];

	return safe(buf, len, host_label_raw(r, raw, sizeof(raw)));
}

static const char *partial_note(const struct render *r, const Tracectl__Snapshot *snap, char *buf, size_t len);

/* ,"partial":true on a window shorter than the interval; ,"cost":{...},"provenance":{...}
 * on windows and summaries that carry them */
static void json_extras(const struct render *r, const Tracectl__Snapshot *snap)
{
	char partial[96];

	if (partial_note(r, snap, partial, sizeof(partial))[0])
		fputs(",\"partial\":true", r->out);
	const Tracectl__Cost *c = snap->cost;
	const Tracectl__Provenance *p = snap->provenance;

	if (c && (c->kernel_stats || c->agent_cpu_ns)) {
		double ns_per_run = c->events ? (double)c->kernel_ns / (double)c->events : 0.0;

		/* "runs": program runs, not an event probe's events; "events" and "ns_per_event"
		 * are the same figures under their first names, kept for existing readers */
		fprintf(r->out,
			",\"cost\":{\"runs\":%llu,\"kernel_ns\":%llu,\"ns_per_run\":%.1f,\"agent_cpu_ns\":%llu,"
			"\"overhead_pct\":%.4f,\"kernel_stats\":%s,\"events\":%llu,\"ns_per_event\":%.1f}",
			(unsigned long long)c->events, (unsigned long long)c->kernel_ns, ns_per_run,
			(unsigned long long)c->agent_cpu_ns,
			c->window_ns ? 100.0 * (double)(c->kernel_ns + c->agent_cpu_ns) / (double)c->window_ns : 0.0,
			c->kernel_stats ? "true" : "false", (unsigned long long)c->events, ns_per_run);
	}
	if (p) {
		fputs(",\"provenance\":{\"hook\":", r->out);
		render_json_string(r->out, p->hook);
		fputs(",\"kernel\":", r->out);
		render_json_string(r->out, p->kernel_release);
		fputs(",\"btf\":", r->out);
		render_json_string(r->out, p->btf_source);
		fputs(",\"agent_version\":", r->out);
		render_json_string(r->out, p->agent_version);
		fprintf(r->out, ",\"sample_one_in\":%u,\"relative_error\":%.4f,\"budget_pct\":%.2f%s}",
			p->sample_one_in ? p->sample_one_in : 1, p->relative_error, p->budget_ppm / 1e4,
			r->provenance_mixed ? ",\"mixed\":true" : "");
	}
}

void render_provenance_change(const struct render *r, const Tracectl__Provenance *p)
{
	Tracectl__Snapshot meta = TRACECTL__SNAPSHOT__INIT;

	meta.provenance = (Tracectl__Provenance *)p;
	json_head(r, "provenance");
	json_extras(r, &meta);
	fputs("}\n", r->out);
	fflush(r->out);
}

void render_footer(const struct render *r, const Tracectl__Snapshot *snap)
{
	const Tracectl__Cost *c = snap->cost;
	const Tracectl__Provenance *p = snap->provenance;
	char cpu[32];

	if (r->format != OUTPUT_TEXT)
		return;
	if (p) {
		char sample[32], hook[512], kernel[128], btf[256], agent[128];

		snprintf(sample, sizeof(sample), "1 in %u events, scaled", p->sample_one_in);
		fprintf(r->out, "  measured with %s on kernel %s (BTF %s), agent %s; %s%s", safe(hook, sizeof(hook), p->hook),
			safe(kernel, sizeof(kernel), p->kernel_release), safe(btf, sizeof(btf), p->btf_source),
			safe(agent, sizeof(agent), p->agent_version), p->sample_one_in > 1 ? sample : "every event",
			r->provenance_mixed ? "; hosts differ (see --output json per host)" : "");
		if (p->relative_error > 0)
			fprintf(r->out, "; percentiles within %.1f%%", 100 * p->relative_error);
		fputc('\n', r->out);
	}
	if (c && (c->kernel_stats || c->agent_cpu_ns)) {
		if (c->kernel_stats)
			fprintf(r->out, "  cost: %llu probe runs, %.0f ns each in the kernel; ",
				(unsigned long long)c->events,
				c->events ? (double)c->kernel_ns / (double)c->events : 0.0);
		else
			fprintf(r->out, "  cost: kernel statistics unavailable; ");
		fprintf(r->out, "agent CPU %s; %.3f%% of one core\n", duration_format(c->agent_cpu_ns, cpu, sizeof(cpu)),
			c->window_ns ? 100.0 * (double)(c->kernel_ns + c->agent_cpu_ns) / (double)c->window_ns : 0.0);
	}
	fflush(r->out);
}

void render_attached(const struct render *r, const Tracectl__Attached *a)
{
	char load[32], host[256], hook[512];

	if (r->format == OUTPUT_JSON) {
		json_head(r, "attached");
		fprintf(r->out, ",\"session_id\":%llu,\"hook\":", (unsigned long long)a->session_id);
		render_json_string(r->out, a->hook);
		fprintf(r->out, ",\"load_ns\":%llu}\n", (unsigned long long)a->load_ns);
	} else {
		/* folded output is data only: the status line goes to stderr */
		fprintf(r->format == OUTPUT_FOLDED || r->format == OUTPUT_SVG || r->format == OUTPUT_PROM ? stderr : r->out,
			"Attached %s on %s (session %llu, %s; loaded in %s). Ctrl-C to stop.\n", r->probe,
			safe(host, sizeof(host), r->host), (unsigned long long)a->session_id, safe(hook, sizeof(hook), a->hook),
			duration_format(a->load_ns, load, sizeof(load)));
	}
	fflush(r->out);
}

static void render_json_hist(const struct render *r, const Tracectl__Snapshot *snap, const char *label,
			     const struct hist *h)
{
	bool first = true;

	json_head(r, snap->summary ? "summary" : "snapshot");
	fputs(",\"series\":", r->out);
	render_json_string(r->out, label);
	fprintf(r->out,
		",\"seq\":%llu,\"start_unix_ns\":%llu,\"end_unix_ns\":%llu,\"count\":%llu,\"sum_ns\":%llu,"
		"\"mean_ns\":%llu,\"p50_ns\":%llu,\"p90_ns\":%llu,\"p99_ns\":%llu,\"p999_ns\":%llu,\"max_ns\":%llu,"
		"\"max_exact\":%s,\"relative_error\":%.4f,\"dropped_snapshots\":%llu",
		(unsigned long long)snap->seq, (unsigned long long)snap->start_unix_ns,
		(unsigned long long)snap->end_unix_ns, (unsigned long long)h->count, (unsigned long long)h->sum,
		(unsigned long long)(h->count ? h->sum / h->count : 0),
		(unsigned long long)hist_percentile(h, 50), (unsigned long long)hist_percentile(h, 90),
		(unsigned long long)hist_percentile(h, 99), (unsigned long long)hist_percentile(h, 99.9),
		(unsigned long long)h->max,
		h->max_exact ? "true" : "false", hist_relative_error(), (unsigned long long)snap->dropped_snapshots);
	json_extras(r, snap);
	fputs(",\"buckets\":[", r->out);
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		fprintf(r->out, "%s{\"lo_ns\":%llu,\"hi_ns\":%llu,\"count\":%llu}", first ? "" : ",",
			(unsigned long long)hist_bucket_lower(i), (unsigned long long)hist_bucket_upper(i),
			(unsigned long long)h->buckets[i]);
		first = false;
	}
	fputs("]}\n", r->out);
}

/*
 * Text rows: one per power of two, as BCC and bpftrace print, from the lowest to the
 * highest non-empty one with the empty ones between drawn too, so the shape shows
 * gaps; the same rows in every window and in the summary. The fine buckets give the
 * percentiles printed above the rows.
 */
static void render_text_rows(const struct render *r, const struct hist *h)
{
	uint32_t lo = HIST_BUCKETS, hi = 0;
	uint64_t top = 0;

	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		if (h->buckets[i]) {
			if (i < lo)
				lo = i;
			hi = i;
		}
	}
	if (lo == HIST_BUCKETS)
		return;
	for (uint32_t g = lo / HIST_SUB_COUNT; g <= hi / HIST_SUB_COUNT; g++) {
		uint64_t sum = 0;

		for (uint32_t i = g * HIST_SUB_COUNT; i < (g + 1) * HIST_SUB_COUNT; i++)
			sum += h->buckets[i];
		if (sum > top)
			top = sum;
	}
	fprintf(r->out, "  %-22s %10s  %s\n", "range", "count", "distribution");
	for (uint32_t g = lo / HIST_SUB_COUNT; g <= hi / HIST_SUB_COUNT; g++) {
		char a[32], b[32], range[48];
		uint64_t sum = 0;
		int bar;

		for (uint32_t i = g * HIST_SUB_COUNT; i < (g + 1) * HIST_SUB_COUNT; i++)
			sum += h->buckets[i];
		bar = top ? (int)((sum * BAR_WIDTH + top - 1) / top) : 0;
		snprintf(range, sizeof(range), "[%s, %s)", duration_format(hist_bucket_lower(g * HIST_SUB_COUNT), a, sizeof(a)),
			 duration_format(hist_bucket_upper((g + 1) * HIST_SUB_COUNT - 1), b, sizeof(b)));
		fprintf(r->out, "  %-22s %10llu |%-*.*s|\n", range, (unsigned long long)sum, BAR_WIDTH, bar,
			"****************************************");
	}
}

/* " (partial window: 420ms of 1.00s)" for a window shorter than the interval (the first
 * starts at the attach), else "" */
static const char *partial_note(const struct render *r, const Tracectl__Snapshot *snap, char *buf, size_t len)
{
	uint64_t span = snap->end_unix_ns > snap->start_unix_ns ? snap->end_unix_ns - snap->start_unix_ns : 0;
	char a[32], b[32];

	buf[0] = '\0';
	if (!snap->summary && snap->end_unix_ns && r->interval_ns && span + r->interval_ns / 20 < r->interval_ns)
		snprintf(buf, len, " (partial window: %s of %s)", duration_format(span, a, sizeof(a)),
			 duration_format(r->interval_ns, b, sizeof(b)));
	return buf;
}

#define CONTAINER_ID_LEN 64
#define CONTAINER_SHORT_LEN 12 /* as docker and crictl show them */

/* value, or where it is a 64-hex container id (the key "container", or a series label
 * "container=ID"), its first 12 digits in buf: the whole id stays in JSON and CSV. */
static const char *text_key(const char *name, const char *value, char *buf, size_t len)
{
	static const char label[] = "container=";
	size_t skip = 0;

	if (!name && strncmp(value, label, sizeof(label) - 1) == 0)
		skip = sizeof(label) - 1;
	else if (!name || strcmp(name, "container") != 0)
		return value;
	if (strlen(value + skip) != CONTAINER_ID_LEN || strspn(value + skip, "0123456789abcdef") != CONTAINER_ID_LEN)
		return value;
	snprintf(buf, len, "%.*s", (int)(skip + CONTAINER_SHORT_LEN), value);
	return buf;
}

void render_hist(const struct render *r, const Tracectl__Snapshot *snap, const char *label, const struct hist *h)
{
	char hl[400], series[HIST_LABEL_LEN * 4], short_label[HIST_LABEL_LEN];
	char p50[32], p90[32], p99[32], max[32], mean[32], when[32], partial[96];
	time_t end = (time_t)(snap->end_unix_ns / 1000000000ULL);
	struct tm tm;

	if (r->format == OUTPUT_JSON) {
		render_json_hist(r, snap, label, h);
		fflush(r->out);
		return;
	}
	safe(series, sizeof(series), text_key(NULL, label, short_label, sizeof(short_label)));
	localtime_r(&end, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (snap->summary) {
		char span[32];

		fprintf(r->out, "\n=== Summary %s %s%s%s over %s ===%s\n", host_label(r, hl, sizeof(hl)), r->probe,
			series[0] ? " " : "", series,
			duration_format(snap->end_unix_ns - snap->start_unix_ns, span, sizeof(span)),
			h->count ? "" : "\n  no samples");
	} else {
		fprintf(r->out, "%s %s %s%s%s%s%s\n", when, host_label(r, hl, sizeof(hl)), r->probe, series[0] ? " " : "",
			series, partial_note(r, snap, partial, sizeof(partial)), h->count ? "" : ": no samples");
	}
	if (!h->count) {
		fflush(r->out);
		return;
	}
	fprintf(r->out, "  count %llu  mean %s  p50 %s  p90 %s  p99 %s  max %s%s\n", (unsigned long long)h->count,
		duration_format(h->sum / h->count, mean, sizeof(mean)),
		duration_format(hist_percentile(h, 50), p50, sizeof(p50)),
		duration_format(hist_percentile(h, 90), p90, sizeof(p90)),
		duration_format(hist_percentile(h, 99), p99, sizeof(p99)), h->max_exact ? "" : "<=",
		duration_format(h->max, max, sizeof(max)));
	/* the kernel keeps the run's maximum only: a window below it knows its top bucket */
	if (!h->max_exact)
		fprintf(r->out, "  max <=: this window's exact maximum is unknown; its bucket's upper bound\n");
	render_text_rows(r, h);
	if (snap->dropped_snapshots)
		fprintf(r->out, "  %llu snapshot(s) dropped by the agent: this client was too slow\n",
			(unsigned long long)snap->dropped_snapshots);
	fflush(r->out);
}

void render_probes(const struct render *r, const Tracectl__ListProbesResponse *list, const struct client_conn *c)
{
	char host[256], version[128], kernel[128], hostname[256];

	if (r->format == OUTPUT_TEXT)
		fprintf(r->out, "%s: agent %s, kernel %s (%s)\n%-16s %-9s %-11s %s\n", safe(host, sizeof(host), r->host),
			safe(version, sizeof(version), c->agent_version), safe(kernel, sizeof(kernel), c->kernel_release),
			safe(hostname, sizeof(hostname), c->agent_hostname), "PROBE", "SUPPORTED", "RESULT", "DESCRIPTION");
	for (size_t i = 0; i < list->n_probes; i++) {
		const Tracectl__ProbeInfo *p = list->probes[i];

		/* tracectl probes HOST PROBE: that one only */
		if (r->probe && r->probe[0] && strcmp(p->name, r->probe) != 0)
			continue;
		if (r->format == OUTPUT_JSON) {
			fputs("{\"host\":", r->out);
			render_json_string(r->out, r->host);
			fputs(",\"type\":\"probe\",\"probe\":", r->out);
			render_json_string(r->out, p->name);
			fprintf(r->out, ",\"supported\":%s,\"unsupported_reason\":", p->supported ? "true" : "false");
			render_json_string(r->out, p->unsupported_reason);
			fputs(",\"result_kind\":", r->out);
			render_json_string(r->out, p->result_kind);
			fputs(",\"hook\":", r->out);
			render_json_string(r->out, p->hook);
			fputs(",\"description\":", r->out);
			render_json_string(r->out, p->description);
			fputs(",\"params\":[", r->out);
			for (size_t k = 0; k < p->n_params; k++) {
				fputs(k ? "," : "", r->out);
				render_json_string(r->out, p->params[k]->name);
			}
			fputs("]}\n", r->out);
			continue;
		}
		text_escape_fpad(r->out, p->name, 16);
		fprintf(r->out, " %-9s ", p->supported ? "yes" : "no");
		text_escape_fpad(r->out, p->result_kind, 11);
		fputc(' ', r->out);
		text_escape_fputs(r->out, p->description);
		fprintf(r->out, "\n%-16s %-9s %-11s hook: ", "", "", "");
		text_escape_fputs(r->out, p->hook);
		fprintf(r->out, "\n%-16s %-9s %-11s parameters:", "", "", "");
		for (size_t k = 0; k < p->n_params; k++) {
			fputs(" --", r->out);
			text_escape_fputs(r->out, p->params[k]->name);
			fputs(" (", r->out);
			text_escape_fputs(r->out, p->params[k]->range);
			fputc(')', r->out);
		}
		if (!p->n_params)
			fputs(" none", r->out);
		fputc('\n', r->out);
		if (!p->supported) {
			fprintf(r->out, "%-16s %-9s %-11s not available: ", "", "", "");
			text_escape_fputs(r->out, p->unsupported_reason);
			fputc('\n', r->out);
		}
	}
	fflush(r->out);
}

bool is_ns_column(const char *name)
{
	size_t n = strlen(name);

	return n > 3 && !strcmp(name + n - 3, "_ns");
}

static const char *column_title(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)(is_ns_column(name) ? strlen(name) - 3 : strlen(name)), name);
	return buf;
}

/* A count cell as people read it: "_ns" columns in time units, the rest as numbers. */
static const char *count_cell(const struct count_table *t, size_t v, uint64_t value, char *buf, size_t len)
{
	if (is_ns_column(t->value_names[v]))
		return duration_format(value, buf, len);
	snprintf(buf, len, "%llu", (unsigned long long)value);
	return buf;
}

/* The column on_cpu_ns (cpu-top) also shows as %CPU of the window: -1 when there is none. */
static int cpu_column(const struct count_table *t)
{
	for (size_t v = 0; v < t->nvalues; v++)
		if (!strcmp(t->value_names[v], "on_cpu_ns"))
			return (int)v;
	return -1;
}

/*
 * The table in columns as wide as their widest cell (keys at most 16 bytes but the
 * last, at most 32, longer ones push the row), so narrow tables fit a terminal;
 * JSON keeps the raw numbers.
 */
static void render_count_rows(const struct render *r, const Tracectl__Snapshot *snap, const struct count_table *t)
{
	uint64_t span = snap->end_unix_ns > snap->start_unix_ns ? snap->end_unix_ns - snap->start_unix_ns : 0;
	int cpu = span ? cpu_column(t) : -1;
	int kw[COUNT_MAX_KEYS], vw[COUNT_MAX_VALUES];
	char cell[64], name[64], key[CONTAINER_SHORT_LEN + 1];

	for (size_t k = 0; k < t->nkeys; k++) {
		int cap = k + 1 < t->nkeys ? 16 : 32;

		kw[k] = (int)strlen(t->key_names[k]);
		for (size_t i = 0; i < t->nrows; i++) {
			int n = (int)text_escape(NULL, 0, text_key(t->key_names[k], t->rows[i].keys[k], key, sizeof(key)));

			if (n > kw[k])
				kw[k] = n > cap ? cap : n;
		}
	}
	for (size_t v = 0; v < t->nvalues; v++) {
		vw[v] = (int)strlen(column_title(t->value_names[v], name, sizeof(name)));
		for (size_t i = 0; i < t->nrows; i++) {
			int n = (int)strlen(count_cell(t, v, t->rows[i].values[v], cell, sizeof(cell)));

			if (n > vw[v])
				vw[v] = n;
		}
	}
	for (size_t k = 0; k < t->nkeys; k++) {
		fputs(k ? " " : "  ", r->out);
		text_escape_fpad(r->out, t->key_names[k], kw[k]);
	}
	if (cpu >= 0)
		fprintf(r->out, " %6s", "%CPU");
	for (size_t v = 0; v < t->nvalues; v++)
		fprintf(r->out, " %*s", vw[v] + 1, column_title(t->value_names[v], name, sizeof(name)));
	fputc('\n', r->out);
	for (size_t i = 0; i < t->nrows; i++) {
		for (size_t k = 0; k < t->nkeys; k++) {
			fputs(k ? " " : "  ", r->out);
			text_escape_fpad(r->out, text_key(t->key_names[k], t->rows[i].keys[k], key, sizeof(key)), kw[k]);
		}
		if (cpu >= 0)
			fprintf(r->out, " %6.1f", 100.0 * (double)t->rows[i].values[cpu] / (double)span);
		for (size_t v = 0; v < t->nvalues; v++)
			fprintf(r->out, " %*s", vw[v] + 1, count_cell(t, v, t->rows[i].values[v], cell, sizeof(cell)));
		fputc('\n', r->out);
	}
}

/* --output svg: the session's flame graph, once, at its summary. */
static void render_counts_svg(const struct render *r, const Tracectl__Snapshot *snap, const struct count_table *t)
{
	char hl[400], title[400];

	if (!snap->summary)
		return;
	/* raw: the flame graph escapes its text itself */
	snprintf(title, sizeof(title), "%s on %s", r->probe, host_label_raw(r, hl, sizeof(hl)));
	if (flamegraph_write(r->out, t, title) == -EINVAL)
		fprintf(stderr, "tracectl: --output svg needs a probe with stacks (profile, offcpu)\n");
}

/* Flame-graph input: "key;key;... count", once, for the whole session. */
static void render_counts_folded(const struct render *r, const Tracectl__Snapshot *snap, const struct count_table *t)
{
	if (!snap->summary)
		return;
	for (size_t i = 0; i < t->nrows; i++) {
		for (size_t k = 0; k < t->nkeys; k++) {
			fputs(k ? ";" : "", r->out);
			text_escape_fputs(r->out, t->rows[i].keys[k]);
		}
		fprintf(r->out, " %llu\n", (unsigned long long)t->rows[i].values[0]);
	}
	fflush(r->out);
}

/* The window's object, then one object per row, largest first, each with its host and window. */
static void render_counts_json(const struct render *r, const Tracectl__Snapshot *snap, const struct count_table *t)
{
	json_head(r, snap->summary ? "summary" : "snapshot");
	fprintf(r->out, ",\"seq\":%llu,\"start_unix_ns\":%llu,\"end_unix_ns\":%llu,\"rows_omitted\":%llu,"
			"\"dropped_snapshots\":%llu",
		(unsigned long long)snap->seq, (unsigned long long)snap->start_unix_ns,
		(unsigned long long)snap->end_unix_ns, (unsigned long long)t->rows_omitted,
		(unsigned long long)snap->dropped_snapshots);
	json_extras(r, snap);
	fprintf(r->out, ",\"nrows\":%zu}\n", t->nrows);
	for (size_t i = 0; i < t->nrows; i++) {
		json_head(r, "row");
		/* the columns in an object of their own: a probe's column may be called "type" */
		fprintf(r->out, ",\"window\":\"%s\",\"seq\":%llu,\"end_unix_ns\":%llu,\"rank\":%zu,\"row\":{",
			snap->summary ? "summary" : "snapshot", (unsigned long long)snap->seq,
			(unsigned long long)snap->end_unix_ns, i + 1);
		for (size_t k = 0; k < t->nkeys; k++) {
			fputs(k ? "," : "", r->out);
			render_json_string(r->out, t->key_names[k]);
			fputc(':', r->out);
			json_value(r->out, t->rows[i].keys[k]);
		}
		for (size_t v = 0; v < t->nvalues; v++) {
			fputc(',', r->out);
			render_json_string(r->out, t->value_names[v]);
			fprintf(r->out, ":%llu", (unsigned long long)t->rows[i].values[v]);
		}
		fputs("}}\n", r->out);
	}
	fflush(r->out);
}

/*
 * A stack probe's summary in text: people read stacks as the functions that burn (or,
 * for offcpu, wait out) the time; the stacks themselves are for --output folded or svg.
 * False when the table has no stacks to read that way.
 */
static bool render_stack_top(const struct render *r, const Tracectl__Snapshot *snap, const struct count_table *t)
{
	struct count_table top;
	char self[32], total[32];
	bool time;

	if (!snap->summary || t->nkeys != 1 || strcmp(t->key_names[0], "stack") != 0 ||
	    stacks_top_functions(t, &top) != 0)
		return false;
	/* time stacks (offcpu) all end in the scheduler: what waits is on the stack */
	time = is_ns_column(t->value_names[0]);
	count_table_sort(&top, time ? 1 : 0);
	fprintf(r->out, "  top functions (self = %s in the function itself, total = on the stack):\n",
		time ? "time" : "samples");
	fprintf(r->out, "  %10s %10s  %s\n", "self", "total", "function");
	for (size_t i = 0; i < top.nrows && i < 25; i++) {
		fprintf(r->out, "  %10s %10s  ", count_cell(t, 0, top.rows[i].values[0], self, sizeof(self)),
			count_cell(t, 0, top.rows[i].values[1], total, sizeof(total)));
		text_escape_fputs(r->out, top.rows[i].keys[0]);
		fputc('\n', r->out);
	}
	count_table_free(&top);
	return true;
}

void render_counts(const struct render *r, const Tracectl__Snapshot *snap, const struct count_table *t)
{
	char hl[400];
	char when[32];
	time_t end = (time_t)(snap->end_unix_ns / 1000000000ULL);
	struct tm tm;

	switch (r->format) {
	case OUTPUT_SVG:
		render_counts_svg(r, snap, t);
		return;
	case OUTPUT_FOLDED:
		render_counts_folded(r, snap, t);
		return;
	case OUTPUT_JSON:
		render_counts_json(r, snap, t);
		return;
	default:
		break;
	}
	localtime_r(&end, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (snap->summary) {
		char span[32];

		fprintf(r->out, "\n=== Summary %s %s over %s ===\n", host_label(r, hl, sizeof(hl)), r->probe,
			duration_format(snap->end_unix_ns - snap->start_unix_ns, span, sizeof(span)));
	} else {
		char partial[96];

		fprintf(r->out, "%s %s %s%s\n", when, host_label(r, hl, sizeof(hl)), r->probe,
			partial_note(r, snap, partial, sizeof(partial)));
	}
	if (!t->nrows) {
		fprintf(r->out, "  nothing counted\n");
	} else if (!render_stack_top(r, snap, t)) {
		render_count_rows(r, snap, t);
		if (t->rows_omitted)
			fprintf(r->out, "  ... %llu more row(s); --top N shows more\n",
				(unsigned long long)t->rows_omitted);
	}
	fflush(r->out);
}

void render_event_stats(const struct render *r, const Tracectl__Snapshot *snap)
{
	char hl[400];
	if (r->format == OUTPUT_JSON) {
		json_head(r, snap->summary ? "summary" : "snapshot");
		fprintf(r->out,
			",\"seq\":%llu,\"start_unix_ns\":%llu,\"end_unix_ns\":%llu,\"events\":%llu,\"events_dropped\":%llu,"
			"\"dropped_snapshots\":%llu",
			(unsigned long long)snap->seq, (unsigned long long)snap->start_unix_ns,
			(unsigned long long)snap->end_unix_ns, (unsigned long long)snap->events,
			(unsigned long long)snap->events_dropped, (unsigned long long)snap->dropped_snapshots);
		json_extras(r, snap);
		fputs("}\n", r->out);
	} else if (snap->summary) {
		fprintf(r->out, "\n=== Summary %s %s: %llu event(s), %llu lost ===\n", host_label(r, hl, sizeof(hl)), r->probe,
			(unsigned long long)snap->events, (unsigned long long)snap->events_dropped);
	} else if (snap->events_dropped) {
		/* never silent: the user learns how many are missing */
		fprintf(r->out, "!! %s %s: %llu event(s) lost in this interval\n", host_label(r, hl, sizeof(hl)), r->probe,
			(unsigned long long)snap->events_dropped);
	}
	fflush(r->out);
}

/* Text event columns: numbers right-aligned, strings left-aligned, at least as wide as
 * their title; the last (argv, a path) as long as it is. */
static int event_column_width(const Tracectl__Field *f)
{
	int n = (int)strlen(f->name);

	if (f->is_num)
		return n > 7 ? n : 7;
	if (!strcmp(f->name, "comm"))
		return 16;
	return n > 8 ? n : 8;
}

/* Flags are not columns: the set ones are named after the others. */
static bool event_column(const Tracectl__Field *f)
{
	return !f->is_flag;
}

static void render_event_header(const struct render *r, const Tracectl__Event *ev)
{
	size_t last = 0;

	for (size_t f = 0; f < ev->n_fields; f++)
		if (event_column(ev->fields[f]))
			last = f;
	fprintf(r->out, "%-12s", "TIME");
	if (r->hosts_total > 1)
		fprintf(r->out, " %-16s", "HOST");
	for (size_t f = 0; f < ev->n_fields; f++) {
		const Tracectl__Field *fd = ev->fields[f];
		char title[64];
		size_t i;

		if (!event_column(fd))
			continue;
		for (i = 0; fd->name[i] && i + 1 < sizeof(title); i++)
			title[i] = (char)(fd->name[i] >= 'a' && fd->name[i] <= 'z' ? fd->name[i] - 'a' + 'A' : fd->name[i]);
		title[i] = '\0';
		fputc(' ', r->out);
		if (f == last)
			text_escape_fputs(r->out, title);
		else if (fd->is_num)
			fprintf(r->out, "%*s", event_column_width(fd), title);
		else
			text_escape_fpad(r->out, title, event_column_width(fd));
	}
	fputc('\n', r->out);
}

void render_result(const struct render *r, const Tracectl__Snapshot *snap, const struct result *res)
{
	Tracectl__Snapshot meta = *snap;
	struct hist none;

	switch (res->kind) {
	case RESULT_KIND_HISTOGRAM:
		for (size_t i = 0; i < res->hists.n; i++)
			render_hist(r, snap, res->hists.labels[i], res->hists.hists[i]);
		if (!res->hists.n) {
			hist_reset(&none);
			render_hist(r, snap, "", &none);
		}
		break;
	case RESULT_KIND_COUNTS:
		if (res->have_counts)
			render_counts(r, snap, &res->counts);
		break;
	case RESULT_KIND_EVENTS:
		meta.events = res->events;
		meta.events_dropped = res->events_dropped;
		render_event_stats(r, &meta);
		break;
	case RESULT_KIND_UNKNOWN:
		break;
	}
}

/* A JSON event's identity: every field, "" for a workload the task is in none of. */
static void render_event_identity_json(FILE *out, const Tracectl__Identity *id)
{
	const char *const names[] = { "cgroup", "container_id", "pod_uid", "qos_class", "service" };
	const char *const values[] = { id->cgroup, id->container_id, id->pod_uid, id->qos_class, id->service };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		fprintf(out, ",\"%s\":", names[i]);
		render_json_string(out, values[i]);
	}
}

/* A text event's workloads, only those it is in: the container as its 12-hex short id. */
static void render_event_identity_text(FILE *out, const Tracectl__Identity *id)
{
	char short_id[13];

	if (id->container_id[0]) {
		snprintf(short_id, sizeof(short_id), "%s", id->container_id);
		fputs(" container=", out);
		text_escape_fputs(out, short_id);
	}
	if (id->pod_uid[0]) {
		fputs(" pod=", out);
		text_escape_fputs(out, id->pod_uid);
	}
	if (id->service[0]) {
		fputs(" service=", out);
		text_escape_fputs(out, id->service);
	}
}

void render_event(const struct render *r, const Tracectl__Event *ev)
{
	if (r->format == OUTPUT_JSON) {
		json_head(r, "event");
		fprintf(r->out, ",\"time_unix_ns\":%llu", (unsigned long long)ev->time_unix_ns);
		for (size_t f = 0; f < ev->n_fields; f++) {
			fputc(',', r->out);
			render_json_string(r->out, ev->fields[f]->name);
			fputc(':', r->out);
			if (ev->fields[f]->is_flag)
				fputs(ev->fields[f]->num ? "true" : "false", r->out);
			else if (ev->fields[f]->is_num)
				fprintf(r->out, "%lld", (long long)ev->fields[f]->num);
			else
				render_json_string(r->out, ev->fields[f]->str);
		}
		if (ev->identity)
			render_event_identity_json(r->out, ev->identity);
		fputs("}\n", r->out);
	} else {
		time_t sec = (time_t)(ev->time_unix_ns / 1000000000ULL);
		struct tm tm;
		char when[32];
		size_t last = 0;

		if (r->events_header_shown && !*r->events_header_shown) {
			render_event_header(r, ev);
			*r->events_header_shown = true;
		}
		for (size_t f = 0; f < ev->n_fields; f++)
			if (event_column(ev->fields[f]))
				last = f;
		localtime_r(&sec, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		fprintf(r->out, "%s.%03llu", when, (unsigned long long)(ev->time_unix_ns / 1000000ULL % 1000));
		if (r->hosts_total > 1) {
			fputc(' ', r->out);
			text_escape_fpad(r->out, r->host, 16);
		}
		for (size_t f = 0; f < ev->n_fields; f++) {
			const Tracectl__Field *fd = ev->fields[f];

			if (!event_column(fd))
				continue;
			fputc(' ', r->out);
			if (fd->is_num)
				fprintf(r->out, "%*lld", f == last ? 0 : event_column_width(fd), (long long)fd->num);
			else if (f == last)
				text_escape_fputs(r->out, fd->str);
			else
				text_escape_fpad(r->out, fd->str[0] ? fd->str : "-", event_column_width(fd));
		}
		/* flags only when set: a row of zeros says nothing */
		for (size_t f = 0; f < ev->n_fields; f++) {
			if (ev->fields[f]->is_flag && ev->fields[f]->num) {
				fputs(" [", r->out);
				text_escape_fputs(r->out, ev->fields[f]->name);
				fputc(']', r->out);
			}
		}
		if (ev->identity)
			render_event_identity_text(r->out, ev->identity);
		fputc('\n', r->out);
	}
}

void render_events_lost(const struct render *r, uint64_t lost)
{
	char host[256];

	if (lost && r->format == OUTPUT_TEXT)
		fprintf(r->out, "!! %s %s: %llu event(s) lost before these\n", safe(host, sizeof(host), r->host), r->probe,
			(unsigned long long)lost);
}
