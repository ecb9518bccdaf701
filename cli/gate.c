/* SPDX-License-Identifier: Apache-2.0 */
/* Performance gates: thresholds and baselines checked against a run's summaries; verdicts for people, scripts and CI. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "duration.h"
#include "json_flat.h"
#include "text_escape.h"

enum verdict_state { VERDICT_PASS, VERDICT_FAIL, VERDICT_NO_DATA };

struct verdict {
	const struct gate_threshold *t;
	char scope[300];  /* host ("*" merged) */
	char series[HIST_LABEL_LEN];
	double measured, limit;
	double seconds; /* the run the scope measured, for JUnit's time */
	bool have_measured;
	enum verdict_state state;
	char note[200];
};

static const char *const time_metrics[] = { "p50", "p90", "p99", "p999", "max", "mean" };

/* "p95", "p75": a percentile the gate does not compute */
static bool looks_like_percentile(const char *m)
{
	return m[0] == 'p' && m[1] && strspn(m + 1, "0123456789") == strlen(m + 1);
}

static bool is_time_metric(const char *m)
{
	for (size_t i = 0; i < sizeof(time_metrics) / sizeof(time_metrics[0]); i++)
		if (strcmp(m, time_metrics[i]) == 0)
			return true;
	return false;
}

int gate_add_threshold(struct gate_options *g, enum gate_kind kind, const char *text, char *err, size_t errlen)
{
	struct gate_threshold *t;
	const char *eq = strchr(text, '='), *brace;
	const char *flag = kind == GATE_MAX ? "--max" : kind == GATE_MIN ? "--min" : "--max-regression";
	size_t mlen;

	if (g->n == GATE_MAX_THRESHOLDS) {
		snprintf(err, errlen, "more than %d thresholds", GATE_MAX_THRESHOLDS);
		return -EINVAL;
	}
	t = &g->t[g->n];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	snprintf(t->text, sizeof(t->text), "%s", text);
	/* "p99=5ms", "count=1000", "sends{comm=nginx}=500": the metric ends at the '=' after any {...} */
	brace = strchr(text, '{');
	if (brace && (!eq || brace < eq)) {
		const char *close = strchr(brace, '}');

		if (!close || close[1] != '=') {
			snprintf(err, errlen, "bad %s '%s' (write COLUMN{KEY=VALUE}=LIMIT)", flag, text);
			return -EINVAL;
		}
		snprintf(t->filter, sizeof(t->filter), "%.*s", (int)(close - brace - 1), brace + 1);
		mlen = (size_t)(brace - text);
		eq = close + 1;
	} else if (eq) {
		mlen = (size_t)(eq - text);
	} else {
		snprintf(err, errlen, "bad %s '%s' (write METRIC=LIMIT, e.g. p99=5ms)", flag, text);
		return -EINVAL;
	}
	if (!mlen || mlen >= sizeof(t->metric)) {
		snprintf(err, errlen, "bad %s '%s': no metric before '='", flag, text);
		return -EINVAL;
	}
	memcpy(t->metric, text, mlen);
	t->metric[mlen] = '\0';
	eq++;
	if (kind == GATE_REGRESSION) {
		char *end;
		size_t vlen = strlen(eq);

		t->value = strtod(eq, &end);
		if (!vlen || eq[vlen - 1] != '%' || end != eq + vlen - 1 || t->value < 0) {
			snprintf(err, errlen, "bad --max-regression '%s' (write METRIC=PERCENT%%, e.g. p99=10%%)", text);
			return -EINVAL;
		}
		t->value /= 100.0;
		t->is_time = is_time_metric(t->metric);
	} else if (is_time_metric(t->metric)) {
		uint64_t ns;

		if (duration_parse(eq, &ns)) {
			snprintf(err, errlen, "bad %s '%s': '%s' is not a duration (write 500us, 5ms, 1s)", flag, text, eq);
			return -EINVAL;
		}
		t->value = (double)ns;
		t->is_time = true;
	} else if (looks_like_percentile(t->metric)) {
		/* not a count column: a percentile the gate does not compute */
		snprintf(err, errlen, "bad %s '%s': unknown metric '%s' (time metrics: p50 p90 p99 p999 max mean; "
				      "also count, rate; count probes: a column; event probes: dropped)",
			 flag, text, t->metric);
		return -EINVAL;
	} else {
		char *end;

		t->value = strtod(eq, &end);
		if (end == eq || *end || t->value < 0 || !isfinite(t->value)) {
			snprintf(err, errlen, "bad %s '%s': '%s' is not a number", flag, text, eq);
			return -EINVAL;
		}
	}
	g->n++;
	return 0;
}

/* The value of metric in one histogram; false when it has no samples. */
static bool hist_metric(const struct hist *h, const char *metric, double seconds, double *out)
{
	if (strcmp(metric, "count") == 0) {
		*out = (double)h->count;
		return true;
	}
	if (strcmp(metric, "rate") == 0) {
		*out = seconds > 0 ? (double)h->count / seconds : 0;
		return true;
	}
	if (!h->count)
		return false;
	if (strcmp(metric, "mean") == 0)
		*out = (double)h->sum / (double)h->count;
	else if (strcmp(metric, "max") == 0)
		*out = (double)h->max;
	else if (strcmp(metric, "p999") == 0)
		*out = (double)hist_percentile(h, 99.9);
	else
		*out = (double)hist_percentile(h, atof(metric + 1));
	return true;
}

/* True when row matches "k=v,k2=v2" on the table's key names. */
static bool row_matches(const struct count_table *t, const struct count_row *row, const char *filter)
{
	char buf[128], *save = NULL;

	if (!filter[0])
		return true;
	snprintf(buf, sizeof(buf), "%s", filter);
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		bool ok = false;

		if (!eq)
			return false;
		*eq = '\0';
		for (size_t k = 0; k < t->nkeys; k++)
			if (strcmp(t->key_names[k], kv) == 0 && strcmp(row->keys[k], eq + 1) == 0)
				ok = true;
		if (!ok)
			return false;
	}
	return true;
}

/* Sum of a value column over the matching rows ("rows": how many match). */
static bool counts_metric(const struct count_table *t, const char *metric, const char *filter, double seconds,
			  double *out, char *note, size_t notelen)
{
	bool rate = false;
	char column[COUNT_NAME_LEN];
	ssize_t col = -1;
	double sum = 0;
	size_t rows = 0;

	snprintf(column, sizeof(column), "%s", metric);
	/* "sends_rate": the column per second */
	if (strlen(column) > 5 && strcmp(column + strlen(column) - 5, "_rate") == 0) {
		column[strlen(column) - 5] = '\0';
		rate = true;
	}
	for (size_t v = 0; v < t->nvalues; v++)
		if (strcmp(t->value_names[v], column) == 0)
			col = (ssize_t)v;
	if (col < 0 && strcmp(column, "rows") != 0) {
		size_t len = 0;

		len += (size_t)snprintf(note, notelen, "no column '%s' (columns: rows", column);
		for (size_t v = 0; v < t->nvalues && len < notelen; v++)
			len += (size_t)snprintf(note + len, notelen - len, ", %s", t->value_names[v]);
		if (len < notelen)
			snprintf(note + len, notelen - len, ")");
		return false;
	}
	for (size_t r = 0; r < t->nrows; r++) {
		if (!row_matches(t, &t->rows[r], filter))
			continue;
		rows++;
		if (col >= 0)
			sum += (double)t->rows[r].values[col];
	}
	*out = col < 0 ? (double)rows : sum;
	if (rate)
		*out = seconds > 0 ? *out / seconds : 0;
	return true;
}

/* Finds the baseline's value for scope/series/metric. */
static bool baseline_value(const struct json_flat *lines, size_t n, const char *scope, const char *series,
			   const struct gate_threshold *t, double *out)
{
	char field[64];

	snprintf(field, sizeof(field), t->is_time ? "%s_ns" : "%s", t->metric);
	for (size_t i = 0; i < n; i++) {
		const struct json_member *h = json_flat_get(&lines[i], "host");
		const struct json_member *s = json_flat_get(&lines[i], "series");
		const struct json_member *v = json_flat_get(&lines[i], field);

		if (h && strcmp(h->str, scope) == 0 && (!series[0] || (s && strcmp(s->str, series) == 0)) && v &&
		    v->is_num) {
			*out = v->num;
			return true;
		}
	}
	return false;
}

static int load_baseline(const char *path, struct json_flat **out, size_t *n, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[65536];
	size_t cap = 0, lineno = 0;
	struct json_flat *lines = NULL;

	*out = NULL;
	*n = 0;
	if (!f) {
		snprintf(err, errlen, "cannot read baseline '%s': %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		const struct json_member *type;
		struct json_flat one;
		char why[128];

		lineno++;
		if (line[0] == '\n' || line[0] == '\0')
			continue;
		if (json_flat_parse(line, &one, why, sizeof(why))) {
			snprintf(err, errlen, "%s:%zu: %s", path, lineno, why);
			fclose(f);
			free(lines);
			return -EINVAL;
		}
		type = json_flat_get(&one, "type");
		/* a saved baseline, or the summary lines of any earlier run's --output json */
		if (!type || (strcmp(type->str, "baseline") != 0 && strcmp(type->str, "summary") != 0))
			continue;
		if (*n == cap) {
			struct json_flat *bigger = realloc(lines, (cap ? cap * 2 : 8) * sizeof(*lines));

			if (!bigger) {
				fclose(f);
				free(lines);
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
			lines = bigger;
			cap = cap ? cap * 2 : 8;
		}
		lines[(*n)++] = one;
	}
	fclose(f);
	if (!*n) {
		free(lines);
		snprintf(err, errlen, "baseline '%s' holds no baseline or summary lines", path);
		return -EINVAL;
	}
	*out = lines;
	return 0;
}

static void judge(struct verdict *v)
{
	if (!v->have_measured) {
		v->state = VERDICT_NO_DATA;
		return;
	}
	switch (v->t->kind) {
	case GATE_MAX:
	case GATE_REGRESSION:
		v->state = v->measured <= v->limit ? VERDICT_PASS : VERDICT_FAIL;
		break;
	case GATE_MIN:
		v->state = v->measured >= v->limit ? VERDICT_PASS : VERDICT_FAIL;
		break;
	}
}

static const char *fmt_value(const struct gate_threshold *t, double v, char *buf, size_t len)
{
	if (t->is_time)
		return duration_format((uint64_t)llround(v), buf, len);
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.3f", v);
	return buf;
}

/* how measured stands to the limit: "<=" when it passed a maximum, ">" when it failed one */
static const char *op_text(const struct verdict *v)
{
	if (v->state == VERDICT_FAIL)
		return v->t->kind == GATE_MIN ? "<" : ">";
	return v->t->kind == GATE_MIN ? ">=" : "<=";
}

/* How long the run a scope measured lasted, in seconds. */
static double run_seconds(const struct fleet_result_host *rh)
{
	return rh->end_ns > rh->start_ns ? (double)(rh->end_ns - rh->start_ns) / 1e9 : 0;
}

static void verdict_init(struct verdict *v, const struct gate_threshold *t, const char *scope, const char *series)
{
	memset(v, 0, sizeof(*v));
	v->t = t;
	snprintf(v->scope, sizeof(v->scope), "%s", scope);
	snprintf(v->series, sizeof(v->series), "%s", series);
}

/* A histogram probe's measurements: one per series asked for (--series), else per series with samples. */
static size_t measure_hists(const struct gate_options *g, const struct gate_threshold *t, const struct result *res,
			    const char *scope, double seconds, struct verdict *out, size_t room)
{
	size_t n = 0;

	for (size_t i = 0; i < res->hists.n && n < room; i++) {
		const struct hist *h = res->hists.hists[i];
		struct verdict *v = &out[n];

		if (g->series ? strcmp(g->series, res->hists.labels[i]) != 0 : !h->count)
			continue;
		verdict_init(v, t, scope, res->hists.labels[i]);
		v->have_measured = hist_metric(h, t->metric, seconds, &v->measured);
		if (!v->have_measured)
			snprintf(v->note, sizeof(v->note), "no samples");
		n++;
	}
	if (!n && room) {
		verdict_init(&out[0], t, scope, g->series ? g->series : "");
		snprintf(out[0].note, sizeof(out[0].note), g->series ? "no such series" : "no samples in any series");
		n = 1;
	}
	return n;
}

/* A count or event probe's one measurement of the scope. */
static void measure_whole(const struct gate_threshold *t, const struct result *res, const char *scope,
			  double seconds, struct verdict *v)
{
	verdict_init(v, t, scope, "");
	if (res->kind == RESULT_KIND_COUNTS && res->have_counts) {
		v->have_measured = counts_metric(&res->counts, t->metric, t->filter, seconds, &v->measured, v->note,
						 sizeof(v->note));
	} else if (res->kind == RESULT_KIND_EVENTS) {
		v->have_measured = true;
		if (strcmp(t->metric, "count") == 0)
			v->measured = (double)res->events;
		else if (strcmp(t->metric, "rate") == 0)
			v->measured = seconds > 0 ? (double)res->events / seconds : 0;
		else if (strcmp(t->metric, "dropped") == 0)
			v->measured = (double)res->events_dropped;
		else {
			v->have_measured = false;
			snprintf(v->note, sizeof(v->note), "event probes offer count, rate, dropped");
		}
	} else {
		snprintf(v->note, sizeof(v->note), "no summary");
	}
}

/* The limit a measurement is held to (a regression's from the baseline), and the verdict. */
static void judge_against_limit(struct verdict *v, const char *scope, const struct json_flat *base, size_t nbase)
{
	const struct gate_threshold *t = v->t;
	double b;

	if (t->kind == GATE_REGRESSION && v->have_measured) {
		if (!baseline_value(base, nbase, scope, v->series, t, &b)) {
			v->have_measured = false;
			snprintf(v->note, sizeof(v->note), "not in the baseline");
		} else {
			v->limit = b * (1 + t->value);
			snprintf(v->note, sizeof(v->note), "baseline %.6g", b);
		}
	} else {
		v->limit = t->value;
	}
	judge(v);
}

/* Appends verdicts of threshold t on one scope of the result. */
static size_t evaluate_scope(const struct gate_options *g, const struct gate_threshold *t,
			     const struct fleet_result_host *rh, const char *scope, const struct json_flat *base,
			     size_t nbase, struct verdict *out, size_t room)
{
	double seconds = run_seconds(rh);
	size_t n = 0;

	if (rh->res.kind == RESULT_KIND_HISTOGRAM) {
		n = measure_hists(g, t, &rh->res, scope, seconds, out, room);
	} else if (room) {
		measure_whole(t, &rh->res, scope, seconds, &out[0]);
		n = 1;
	}
	for (size_t i = 0; i < n; i++) {
		out[i].seconds = seconds;
		judge_against_limit(&out[i], scope, base, nbase);
	}
	return n;
}

static void xml_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
				fputc(*s, f);
		}
	}
}

static const char *verdict_name(enum verdict_state s)
{
	return s == VERDICT_PASS ? "pass" : s == VERDICT_FAIL ? "FAIL" : "no data";
}

static void describe(const struct verdict *v, char *buf, size_t len)
{
	char m[32], l[32];

	if (!v->have_measured)
		snprintf(buf, len, "%s: could not measure (%s)", v->t->text, v->note);
	else
		snprintf(buf, len, "%s%s%s: measured %s %s limit %s%s%s", v->t->metric, v->t->filter[0] ? "{" : "",
			 v->t->filter[0] ? v->t->filter : "", fmt_value(v->t, v->measured, m, sizeof(m)),
			 v->state == VERDICT_PASS ? "within" : "beyond", fmt_value(v->t, v->limit, l, sizeof(l)),
			 v->note[0] ? "; " : "", v->note);
}

/* JUnit readers split class names at dots into packages: a host "10.0.0.7:7470" or a
 * series "p=1.5" is one part, so its dots become underscores */
static void junit_class_part(char *dst, size_t len, const char *s)
{
	size_t i = 0;

	for (; *s && i + 1 < len; s++)
		dst[i++] = *s == '.' ? '_' : *s;
	dst[i] = '\0';
}

static int write_junit(const char *path, const struct verdict *v, size_t n, const char *probe, double seconds,
		       char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	size_t failures = 0, errors = 0;
	char text[512];

	if (!f) {
		snprintf(err, errlen, "cannot write JUnit file '%s': %s", path, strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < n; i++) {
		failures += v[i].state == VERDICT_FAIL;
		errors += v[i].state == VERDICT_NO_DATA;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
		   "  <testsuite name=\"tracectl gate ");
	xml_escaped(f, probe);
	fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n", n, failures, errors,
		seconds);
	for (size_t i = 0; i < n; i++) {
		char name[400], scope[sizeof(v[i].scope)], series[sizeof(v[i].series)], probe_part[128];
		char cls[sizeof(scope) + sizeof(series) + sizeof(probe_part) + 16];

		junit_class_part(probe_part, sizeof(probe_part), probe);
		junit_class_part(scope, sizeof(scope), v[i].scope);
		junit_class_part(series, sizeof(series), v[i].series);
		snprintf(cls, sizeof(cls), "tracectl.%s.%s%s%s", probe_part, scope, series[0] ? "." : "", series);
		snprintf(name, sizeof(name), "%s %s %s", v[i].t->kind == GATE_REGRESSION ? "regression" : "",
			 v[i].t->text, v[i].t->kind == GATE_MIN ? "(min)" : "(max)");
		fputs("    <testcase classname=\"", f);
		xml_escaped(f, cls);
		fputs("\" name=\"", f);
		xml_escaped(f, name[0] == ' ' ? name + 1 : name);
		fprintf(f, "\" time=\"%.3f\"", v[i].seconds);
		describe(&v[i], text, sizeof(text));
		if (v[i].state == VERDICT_PASS) {
			fputs("/>\n", f);
			continue;
		}
		fputs(">\n      <", f);
		fputs(v[i].state == VERDICT_FAIL ? "failure" : "error", f);
		fputs(" message=\"", f);
		xml_escaped(f, text);
		fputs("\"/>\n    </testcase>\n", f);
	}
	fputs("  </testsuite>\n</testsuites>\n", f);
	if (fclose(f)) {
		snprintf(err, errlen, "writing JUnit file '%s': %s", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

static void write_baseline_scope(FILE *f, const struct fleet_result_host *rh, const char *scope, const char *probe)
{
	double seconds = run_seconds(rh);

	for (size_t i = 0; i < rh->res.hists.n; i++) {
		const struct hist *h = rh->res.hists.hists[i];

		fputs("{\"host\":", f);
		render_json_string(f, scope);
		fputs(",\"probe\":", f);
		render_json_string(f, probe);
		fputs(",\"type\":\"baseline\",\"series\":", f);
		render_json_string(f, rh->res.hists.labels[i]);
		fprintf(f, ",\"count\":%llu,\"rate\":%.3f", (unsigned long long)h->count,
			seconds > 0 ? (double)h->count / seconds : 0);
		if (h->count)
			fprintf(f, ",\"mean_ns\":%llu,\"p50_ns\":%llu,\"p90_ns\":%llu,\"p99_ns\":%llu,\"p999_ns\":%llu,\"max_ns\":%llu",
				(unsigned long long)(h->sum / h->count), (unsigned long long)hist_percentile(h, 50),
				(unsigned long long)hist_percentile(h, 90), (unsigned long long)hist_percentile(h, 99),
				(unsigned long long)hist_percentile(h, 99.9), (unsigned long long)h->max);
		fputs("}\n", f);
	}
	if (rh->res.have_counts || rh->res.kind == RESULT_KIND_EVENTS) {
		fputs("{\"host\":", f);
		render_json_string(f, scope);
		fputs(",\"probe\":", f);
		render_json_string(f, probe);
		fputs(",\"type\":\"baseline\",\"series\":\"\"", f);
		if (rh->res.have_counts) {
			const struct count_table *t = &rh->res.counts;

			fprintf(f, ",\"rows\":%zu", t->nrows);
			for (size_t v = 0; v < t->nvalues; v++) {
				uint64_t sum = 0;

				for (size_t r = 0; r < t->nrows; r++)
					sum += t->rows[r].values[v];
				fputc(',', f);
				render_json_string(f, t->value_names[v]);
				fprintf(f, ":%llu", (unsigned long long)sum);
			}
		} else {
			fprintf(f, ",\"count\":%llu,\"dropped\":%llu,\"rate\":%.3f", (unsigned long long)rh->res.events,
				(unsigned long long)rh->res.events_dropped,
				seconds > 0 ? (double)rh->res.events / seconds : 0);
		}
		fputs("}\n", f);
	}
}

static int save_baseline(const char *path, const struct fleet_result *r, const char *probe, char *err,
			 size_t errlen)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		snprintf(err, errlen, "cannot write baseline '%s': %s", path, strerror(errno));
		return -errno;
	}
	write_baseline_scope(f, &r->merged, r->nhosts > 1 ? "*" : r->merged.name, probe);
	/* a host that died mid-run has only part of a run: no baseline of its own */
	for (size_t i = 0; r->nhosts > 1 && i < r->nhosts; i++)
		if (r->hosts[i].has_summary && !r->hosts[i].died)
			write_baseline_scope(f, &r->hosts[i], r->hosts[i].name, probe);
	if (fclose(f)) {
		snprintf(err, errlen, "writing baseline '%s': %s", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

/* A run's verdicts: one per threshold per scope and series, plus the hosts rule; what
 * every rendering prints. */
struct gate_report {
	struct verdict *v;
	size_t n, failed, nodata;
	enum cli_exit code;
	struct gate_threshold hosts_rule; /* the hosts verdict's threshold points here */
};

/* The thresholds' verdicts on each scope the options ask for. */
static void evaluate_thresholds(const struct gate_options *g, const struct fleet_result *r,
				const struct json_flat *base, size_t nbase, struct gate_report *rep, size_t room)
{
	for (size_t i = 0; i < g->n; i++) {
		if (!g->each_host) {
			rep->n += evaluate_scope(g, &g->t[i], &r->merged, r->nhosts > 1 ? "*" : r->merged.name, base,
						 nbase, rep->v + rep->n, room - rep->n);
			continue;
		}
		/* a host that died mid-run is judged by the hosts rule, not on its part */
		for (size_t h = 0; h < r->nhosts && rep->n < room; h++)
			if (r->hosts[h].has_summary && !r->hosts[h].died)
				rep->n += evaluate_scope(g, &g->t[i], &r->hosts[h], r->hosts[h].name, base, nbase,
							 rep->v + rep->n, room - rep->n);
	}
}

/* A host that did not answer fails the gate, beyond --allow-missing. */
static void evaluate_hosts(const struct gate_options *g, const struct fleet_result *r, struct gate_report *rep)
{
	struct verdict *v = &rep->v[rep->n++];

	snprintf(rep->hosts_rule.metric, sizeof(rep->hosts_rule.metric), "hosts");
	snprintf(rep->hosts_rule.text, sizeof(rep->hosts_rule.text), "hosts>=%zu", r->nhosts - g->allow_missing);
	*v = (struct verdict){ .t = &rep->hosts_rule, .measured = (double)r->answered,
			       .limit = (double)(r->nhosts > g->allow_missing ? r->nhosts - g->allow_missing : 0),
			       .have_measured = true };
	snprintf(v->scope, sizeof(v->scope), "*");
	snprintf(v->note, sizeof(v->note), "%zu host(s) did not answer", r->nhosts - r->answered);
	judge(v);
}

/* Evaluates every threshold on the run into rep (rep->v the caller frees). */
static int gate_evaluate(const struct gate_options *g, const struct fleet_result *r, const struct json_flat *base,
			 size_t nbase, struct gate_report *rep)
{
	size_t max_series = r->merged.res.hists.n, room;

	*rep = (struct gate_report){ .hosts_rule = { .kind = GATE_MIN } };
	for (size_t h = 0; h < r->nhosts; h++)
		if (r->hosts[h].res.hists.n > max_series)
			max_series = r->hosts[h].res.hists.n;
	room = g->n * (r->nhosts + 1) * (max_series ? max_series : 1) + 1;
	rep->v = calloc(room, sizeof(*rep->v));
	if (!rep->v)
		return -ENOMEM;
	if (r->answered)
		evaluate_thresholds(g, r, base, nbase, rep, room);
	if (r->nhosts > 1 && rep->n < room)
		evaluate_hosts(g, r, rep);
	for (size_t i = 0; i < rep->n; i++) {
		rep->failed += rep->v[i].state == VERDICT_FAIL;
		rep->nodata += rep->v[i].state == VERDICT_NO_DATA;
	}
	if (!r->answered)
		rep->code = CLI_EXIT_NO_DATA;
	else if (rep->failed)
		rep->code = CLI_EXIT_GATE_FAILED;
	else if (rep->nodata)
		rep->code = CLI_EXIT_NO_DATA;
	else
		rep->code = CLI_EXIT_OK;
	return 0;
}

static void render_gate_json(const struct gate_report *rep, const char *probe)
{
	const struct verdict *v = rep->v;

	for (size_t i = 0; i < rep->n; i++) {
		fputs("{\"host\":", stdout);
		render_json_string(stdout, v[i].scope);
		fputs(",\"probe\":", stdout);
		render_json_string(stdout, probe);
		fputs(",\"type\":\"verdict\",\"series\":", stdout);
		render_json_string(stdout, v[i].series);
		fputs(",\"threshold\":", stdout);
		render_json_string(stdout, v[i].t->text);
		fprintf(stdout, ",\"kind\":\"%s\",\"limit\":%.17g,\"measured\":",
			v[i].t->kind == GATE_MIN ? "min" : v[i].t->kind == GATE_MAX ? "max" : "regression", v[i].limit);
		if (v[i].have_measured)
			fprintf(stdout, "%.17g", v[i].measured);
		else
			fputs("null", stdout);
		fprintf(stdout, ",\"result\":\"%s\",\"note\":",
			v[i].state == VERDICT_PASS ? "pass" : v[i].state == VERDICT_FAIL ? "fail" : "no-data");
		render_json_string(stdout, v[i].note);
		fputs("}\n", stdout);
	}
	fprintf(stdout, "{\"host\":\"*\",\"probe\":");
	render_json_string(stdout, probe);
	fprintf(stdout, ",\"type\":\"gate\",\"result\":\"%s\",\"failed\":%zu,\"no_data\":%zu,\"checks\":%zu,"
			"\"exit_code\":%d}\n",
		rep->code == CLI_EXIT_OK ? "pass" : rep->code == CLI_EXIT_GATE_FAILED ? "fail" : "no-data", rep->failed,
		rep->nodata, rep->n, rep->code);
}

static void render_gate_text(const struct gate_report *rep, const char *probe)
{
	const struct verdict *v = rep->v;

	printf("\nGate %s: %zu check(s), %zu failed, %zu could not be measured\n", probe, rep->n, rep->failed,
	       rep->nodata);
	printf("  %-7s %-24s %-14s %-22s %12s %12s\n", "result", "host", "series", "threshold", "measured", "limit");
	for (size_t i = 0; i < rep->n; i++) {
		char m[32] = "-", l[32];

		if (v[i].have_measured)
			fmt_value(v[i].t, v[i].measured, m, sizeof(m));
		fmt_value(v[i].t, v[i].limit, l, sizeof(l));
		/* series and notes carry names the agent reported: escaped */
		printf("  %-7s %-24s ", verdict_name(v[i].state), v[i].scope);
		text_escape_fpad(stdout, v[i].series[0] ? v[i].series : "-", 14);
		printf(" %-22s %12s %2s %9s%s", v[i].t->text, m, op_text(&v[i]), l, v[i].note[0] ? "  " : "");
		text_escape_fputs(stdout, v[i].note);
		fputc('\n', stdout);
	}
	printf("Gate %s\n", rep->code == CLI_EXIT_OK ? "PASSED" :
			    rep->code == CLI_EXIT_GATE_FAILED ? "FAILED" : "could not measure");
}

/* Part of the run is not the run the thresholds are about: no verdict. */
static enum cli_exit gate_interrupted(const struct fleet_result *r, const char *probe, enum output_format format)
{
	char el[32], du[32];

	duration_format(r->elapsed_ns, el, sizeof(el));
	duration_format(r->duration_ns, du, sizeof(du));
	if (format == OUTPUT_JSON) {
		fputs("{\"host\":\"*\",\"probe\":", stdout);
		render_json_string(stdout, probe);
		printf(",\"type\":\"gate\",\"result\":\"interrupted\",\"elapsed_ns\":%llu,\"duration_ns\":%llu,"
		       "\"exit_code\":%d}\n",
		       (unsigned long long)r->elapsed_ns, (unsigned long long)r->duration_ns, CLI_EXIT_NO_DATA);
		fflush(stdout);
	}
	fprintf(stderr, "tracectl: gate %s interrupted after %s of %s: no verdict on part of a run\n", probe, el, du);
	return CLI_EXIT_NO_DATA;
}

/* The baseline the thresholds need, if any: usage errors are reported here. */
static enum cli_exit gate_baseline(const struct gate_options *g, struct json_flat **base, size_t *nbase)
{
	bool need_base = false;
	char err[512];

	for (size_t i = 0; i < g->n; i++)
		need_base |= g->t[i].kind == GATE_REGRESSION;
	if (need_base && !g->baseline) {
		fprintf(stderr, "tracectl: --max-regression needs --baseline FILE\n");
		return CLI_EXIT_USAGE;
	}
	if (g->baseline && load_baseline(g->baseline, base, nbase, err, sizeof(err))) {
		fprintf(stderr, "tracectl: %s\n", err);
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

enum cli_exit gate_run(const struct gate_options *g, const struct fleet_result *r, const char *probe,
		       enum output_format format)
{
	struct json_flat *base = NULL;
	struct gate_report rep;
	size_t nbase = 0;
	enum cli_exit code;
	char err[512];

	if (r->interrupted)
		return gate_interrupted(r, probe, format);
	code = gate_baseline(g, &base, &nbase);
	if (code != CLI_EXIT_OK)
		return code;
	if (gate_evaluate(g, r, base, nbase, &rep)) {
		free(base);
		fprintf(stderr, "tracectl: out of memory\n");
		return CLI_EXIT_FAILURE;
	}
	code = rep.code;
	if (format == OUTPUT_JSON)
		render_gate_json(&rep, probe);
	else
		render_gate_text(&rep, probe);
	fflush(stdout);
	if (g->junit && write_junit(g->junit, rep.v, rep.n, probe, run_seconds(&r->merged), err, sizeof(err))) {
		fprintf(stderr, "tracectl: %s\n", err);
		code = CLI_EXIT_FAILURE;
	}
	if (g->save_baseline && r->answered && save_baseline(g->save_baseline, r, probe, err, sizeof(err))) {
		fprintf(stderr, "tracectl: %s\n", err);
		code = CLI_EXIT_FAILURE;
	}
	free(rep.v);
	free(base);
	return code;
}
