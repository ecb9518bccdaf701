/* SPDX-License-Identifier: Apache-2.0 */
/* One command on many hosts from one event loop: fan-out, interval alignment, merging, partial failure. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"
#include "duration.h"
#include "hist_pb.h"
#include "log.h"
#include "prom.h"
#include "recording.h"
#include "result_kind.h"
#include "text_escape.h"

/* Windows held at once while waiting for slower hosts (normally one or two). */
#define FLEET_WINDOWS 8
/*
 * Connections in their TCP and TLS handshake at once. Every host at once made a handshake
 * storm: at 1,000 hosts on 2 busy CPUs each waited on all the others, and the last ones
 * ran past the connect timeout (5 s) before any had finished (docs/BENCHMARKS.md, fan-out).
 */
#define FLEET_HANDSHAKES 128
/* Events held for time-ordering across hosts before a window is printed early. */
#define FLEET_MAX_HELD_EVENTS 100000

struct fleet;

struct fleet_host {
	struct fleet *fleet;
	size_t index;
	const struct inventory_host *target;
	struct client_conn *conn;
	struct client_call *call;
	bool done;     /* the call ended, one way or the other */
	bool answered; /* ... with a result (status OK, or cancelled by us) */
	enum cli_exit code;
	int64_t last_bucket; /* newest window this host reported, -1 before the first */
	/* event batches that belong to this host's next window, held until its snapshot */
	Tracectl__Response **pending;
	size_t npending, cap_pending;
	/* the agent's summary of this host's session */
	bool has_summary;
	Tracectl__Response *summary;
	/* every window that came from this host, added up: what it shown (merged or late),
	 * and its summary when it dies before sending one */
	struct fleet_result_host received;
	bool attached;
	bool connecting; /* holds one of the FLEET_HANDSHAKES slots */
	/* what the host's probe returns, from its Attached (or its first snapshot) */
	enum result_kind kind;
	/* the only host's mid-run failure is told after the summary of what came before */
	bool error_deferred;
	char error[600];
	struct render render;
};

/* One interval, aligned by its end on the wall clock, across hosts. */
struct fleet_window {
	bool used;
	int64_t bucket;
	size_t nhosts;
	uint8_t *reported; /* per host */
	struct fleet_result_host sum; /* the hosts' windows added up (as summaries are) */
	uint64_t dropped_snapshots;
	/* event batches of this window from every host, printed in time order */
	Tracectl__Response **batches;
	size_t *batch_host;
	size_t nbatches, cap_batches, nevents_held;
};

struct fleet {
	const struct fleet_options *o;
	struct event_base *base;
	struct fleet_host *hosts;
	size_t n, nactive;
	struct fleet_window windows[FLEET_WINDOWS];
	int64_t flushed_bucket; /* windows up to here are printed */
	uint64_t seq;
	struct event *grace, *sigint, *sigterm;
	bool interrupted;
	bool replay_damaged;
	bool live; /* redraw in place: text on a terminal */
	/* the terminals' sizes (0 when not one: nothing is cut or wrapped), kept by SIGWINCH */
	unsigned cols, rows, err_cols;
	struct event *sigwinch;
	bool events_header_shown;
	bool sort_warned;
	bool sort_refused; /* --sort names no column of the probe's table: the run stops */
	bool status_shown; /* a status line is on stderr, to be ended with a newline */
	/* windows end at phase_ns + k * interval (the attach's alignment; every host the same) */
	uint64_t phase_ns;
	uint64_t start_ns;
	uint64_t attached_ns; /* when the first host attached */
	struct render merged;
	/* hosts are connected in order, at most FLEET_HANDSHAKES at a time */
	SSL_CTX *tls;
	size_t next_connect, nconnecting;
};

static void window_reset(struct fleet_window *w)
{
	for (size_t i = 0; i < w->nbatches; i++)
		protobuf_c_message_free_unpacked(&w->batches[i]->base, NULL);
	w->nbatches = 0;
	w->nevents_held = 0;
	struct result res = w->sum.res; /* its memory is kept for the next window */

	result_clear(&res);
	memset(&w->sum, 0, sizeof(w->sum));
	w->sum.res = res;
	w->used = false;
	w->dropped_snapshots = 0;
	if (w->reported)
		memset(w->reported, 0, w->nhosts);
}

static void window_free(struct fleet_window *w)
{
	window_reset(w);
	result_free(&w->sum.res);
	free(w->reported);
	free(w->batches);
	free(w->batch_host);
}

struct held_event {
	const Tracectl__Event *ev;
	size_t host;
};

static int held_event_cmp(const void *a, const void *b)
{
	const struct held_event *x = a, *y = b;

	if (x->ev->time_unix_ns != y->ev->time_unix_ns)
		return x->ev->time_unix_ns < y->ev->time_unix_ns ? -1 : 1;
	return x->host < y->host ? -1 : x->host > y->host;
}

/* Prints one batch of a host's events as they came, and its count of lost ones. */
static void print_batch(struct fleet_host *h, const Tracectl__EventBatch *batch)
{
	render_events_lost(&h->render, batch->dropped);
	for (size_t i = 0; i < batch->n_events; i++)
		render_event(&h->render, batch->events[i]);
}

/* Prints the held events of w in time order, each with its host, and lets them go. */
static void window_print_events(struct fleet *f, struct fleet_window *w)
{
	struct held_event *all = NULL;
	size_t n = 0;

	if (!w->nevents_held)
		goto done;
	all = malloc(w->nevents_held * sizeof(*all));
	if (!all) {
		log_error("out of memory ordering %zu events; printing them by host", w->nevents_held);
		for (size_t b = 0; b < w->nbatches; b++)
			print_batch(&f->hosts[w->batch_host[b]], w->batches[b]->events);
		goto done;
	}
	for (size_t b = 0; b < w->nbatches; b++) {
		const Tracectl__EventBatch *batch = w->batches[b]->events;

		render_events_lost(&f->hosts[w->batch_host[b]].render, batch->dropped);
		for (size_t i = 0; i < batch->n_events; i++)
			all[n++] = (struct held_event){ batch->events[i], w->batch_host[b] };
	}
	qsort(all, n, sizeof(*all), held_event_cmp);
	for (size_t i = 0; i < n; i++)
		render_event(&f->hosts[all[i].host].render, all[i].ev);
done:
	free(all);
	for (size_t i = 0; i < w->nbatches; i++)
		protobuf_c_message_free_unpacked(&w->batches[i]->base, NULL);
	w->nbatches = 0;
	w->nevents_held = 0;
}

static size_t window_host_count(const struct fleet *f, const struct fleet_window *w)
{
	size_t k = 0;

	for (size_t i = 0; i < f->n; i++)
		k += w->reported[i] != 0;
	return k;
}

/* Count tables sort by --sort's column, else the probe's first (its natural order);
 * with --top, the merged set keeps its top N and one row with the rest. */
static void sort_counts(struct fleet *f, struct count_table *t)
{
	int col = f->o->sort ? count_table_column(t, f->o->sort) : 0;

	if (col < 0) {
		if (!f->sort_warned)
			fprintf(stderr, "tracectl: no column '%s' to sort by; sorting by '%s'\n", f->o->sort,
				t->value_names[0]);
		f->sort_warned = true;
		col = 0;
	}
	if (!f->o->top || count_table_fold(t, (size_t)col, f->o->top))
		count_table_sort(t, (size_t)col);
}

/* The probe's columns are known once its first table arrives: a --sort that names
 * none of them stops the run there, before anything is shown, listing them. */
static bool sort_column_known(struct fleet *f, const Tracectl__CountTable *t)
{
	if (!f->o->sort)
		return true;
	for (size_t v = 0; v < t->n_value_names; v++)
		if (strcmp(t->value_names[v], f->o->sort) == 0)
			return true;
	fprintf(stderr, "tracectl: --sort: %s has no column '%s'; its columns:", f->o->probe ? f->o->probe : "the probe",
		f->o->sort);
	for (size_t v = 0; v < t->n_value_names; v++) {
		fputc(' ', stderr);
		text_escape_fputs(stderr, t->value_names[v]);
	}
	fputc('\n', stderr);
	f->sort_refused = true;
	if (f->base)
		event_base_loopbreak(f->base);
	return false;
}

/* "tracectl PROBE: 1/2 hosts answering, 3.00s of 10.0s elapsed, 0 dropped  (Ctrl-C ends)", on a
 * terminal of cols columns (0: any width) as many of its parts as fit: never a word cut */
static void print_status_line(struct fleet *f, const struct fleet_window *w, FILE *out, unsigned cols,
			      const char *end)
{
	/* up to the window's end, from the first attach, as --duration counts (connecting and
	 * loading came before; the window is printed a little after its end) */
	uint64_t from = f->attached_ns ? f->attached_ns : f->start_ns;
	uint64_t to = w->sum.end_ns ? w->sum.end_ns : clock_ns(CLOCK_REALTIME);
	uint64_t elapsed = to > from ? to - from : 0;
	char el[32], du[32], parts[5][160], line[800] = "";
	size_t len = 0;

	snprintf(parts[0], sizeof(parts[0]), "tracectl %s:", f->o->probe);
	snprintf(parts[1], sizeof(parts[1]), " %zu/%zu hosts answering,", window_host_count(f, w), f->n);
	snprintf(parts[2], sizeof(parts[2]), " %s%s%s elapsed,", duration_format(elapsed, el, sizeof(el)),
		 f->o->duration_ns ? " of " : "",
		 f->o->duration_ns ? duration_format(f->o->duration_ns, du, sizeof(du)) : "");
	snprintf(parts[3], sizeof(parts[3]), " %llu dropped", (unsigned long long)(w->dropped_snapshots + w->sum.res.events_dropped));
	snprintf(parts[4], sizeof(parts[4]), "  (Ctrl-C ends)");
	for (size_t i = 0; i < 5; i++) {
		size_t n = strlen(parts[i]);

		if (cols && i > 0 && term_columns(line, len) + term_columns(parts[i], n) > cols)
			break;
		memcpy(line + len, parts[i], n + 1);
		len += n;
	}
	/* a terminal narrower than the probe's name: cut, as the frame's lines are */
	fwrite(line, 1, cols ? term_fit(line, len, cols) : len, out);
	fputs(end, out);
	fflush(out);
}

/* Text through rd, on a terminal wrapped to its width (indent: the continuation lines'). */
typedef void (*fitted_cb)(const struct render *rd, const void *arg);

static void print_fitted(struct fleet *f, const struct render *rd, fitted_cb print, const void *arg, unsigned indent)
{
	struct render mem_rd = *rd;
	char *text = NULL;
	size_t len = 0;
	FILE *mem;

	if (!f->cols || rd->format != OUTPUT_TEXT || rd->out != stdout || !(mem = open_memstream(&text, &len))) {
		print(rd, arg);
		return;
	}
	mem_rd.out = mem;
	print(&mem_rd, arg);
	if (fclose(mem) == 0)
		term_write_wrapped(stdout, text, len, f->cols, indent);
	free(text);
}

/* A window's histograms, table or event counts, through f->merged. */
static void window_render(struct fleet *f, struct fleet_window *w, const Tracectl__Snapshot *meta)
{
	if (w->sum.res.have_counts)
		sort_counts(f, &w->sum.res.counts);
	render_result(&f->merged, meta, &w->sum.res);
}

/*
 * Top-like: the newest window replaces the previous one, under a status line, cut to
 * the terminal: each line to its width, the frame to its height (the status line and
 * the table's header first, so they always show).
 */
static void window_print_live(struct fleet *f, struct fleet_window *w, const Tracectl__Snapshot *meta)
{
	char *frame = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&frame, &len);

	fputs("\033[H\033[2J", stdout);
	print_status_line(f, w, stdout, f->cols, "\n\n");
	if (!mem) {
		window_render(f, w, meta);
		return;
	}
	f->merged.out = mem;
	window_render(f, w, meta);
	f->merged.out = stdout;
	if (fclose(mem) == 0)
		/* the status line and the blank under it take two rows; the cursor one more */
		term_write_cut(stdout, frame, len, f->cols, f->rows > 4 ? f->rows - 3 : 1);
	free(frame);
}

/* rh's cost as the message render takes; returns out. */
static Tracectl__Cost *cost_of(const struct fleet_result_host *rh, Tracectl__Cost *out)
{
	out->events = rh->cost_events;
	out->kernel_ns = rh->cost_kernel_ns;
	out->agent_cpu_ns = rh->cost_agent_ns;
	out->window_ns = rh->cost_window_ns;
	out->kernel_stats = rh->cost_kernel_stats;
	return out;
}

static void window_print(struct fleet *f, struct fleet_window *w)
{
	Tracectl__Snapshot meta = TRACECTL__SNAPSHOT__INIT;
	Tracectl__Cost cost = TRACECTL__COST__INIT;

	/* output to a file (-o): the terminal keeps a status line, redrawn in place */
	if (f->o->status_on_stderr && !f->o->quiet) {
		fputs("\r\033[K", stderr);
		print_status_line(f, w, stderr, f->err_cols, "");
		f->status_shown = true;
	}

	/* prom output is one snapshot of the whole run, printed at the end */
	if (f->o->quiet || f->o->format == OUTPUT_PROM) {
		for (size_t i = 0; i < w->nbatches; i++)
			protobuf_c_message_free_unpacked(&w->batches[i]->base, NULL);
		w->nbatches = 0;
		w->nevents_held = 0;
		return;
	}
	meta.seq = ++f->seq;
	meta.start_unix_ns = w->sum.start_ns;
	meta.end_unix_ns = w->sum.end_ns;
	meta.dropped_snapshots = w->dropped_snapshots;
	if (w->sum.cost_window_ns)
		meta.cost = cost_of(&w->sum, &cost);
	f->merged.hosts = window_host_count(f, w);
	if (f->live && w->sum.res.kind != RESULT_KIND_EVENTS) {
		window_print_live(f, w, &meta);
		return;
	}
	window_print_events(f, w);
	window_render(f, w, &meta);
}
/* Prints, in order, every window that all live hosts reported or whose grace ran out. */
static void fleet_flush_windows(struct fleet *f, bool force_all)
{
	uint64_t grace = f->o->interval_ns / 2 > 2000000000ULL ? 2000000000ULL : f->o->interval_ns / 2;
	uint64_t now = clock_ns(CLOCK_REALTIME);

	for (;;) {
		struct fleet_window *next = NULL;
		bool ready = true;

		for (size_t i = 0; i < FLEET_WINDOWS; i++)
			if (f->windows[i].used && (!next || f->windows[i].bucket < next->bucket))
				next = &f->windows[i];
		if (!next)
			return;
		for (size_t h = 0; h < f->n && ready; h++) {
			const struct fleet_host *host = &f->hosts[h];

			if (!next->reported[h] && !host->done && host->last_bucket < next->bucket)
				ready = false;
		}
		/* a replay has no clock to wait on: only complete windows, or the end */
		if (!ready && !force_all && (f->o->replay || now < next->sum.end_ns + grace))
			return;
		window_print(f, next);
		f->flushed_bucket = next->bucket;
		window_reset(next);
	}
}

/*
 * The window k a host's window ending at end_ns belongs to. Rounded from the phase, not
 * from multiples of the interval: ends come a few ms after (or before) a boundary, and
 * a boundary half an interval off a multiple would put two windows of one host in one
 * bucket, the second "late" after its merged view was printed, even with one host.
 */
static int64_t window_bucket(const struct fleet *f, uint64_t end_ns)
{
	uint64_t since = end_ns > f->phase_ns ? end_ns - f->phase_ns : 0;

	return (int64_t)((since + f->o->interval_ns / 2) / f->o->interval_ns);
}

static struct fleet_window *fleet_window_for(struct fleet *f, int64_t bucket)
{
	struct fleet_window *free_slot = NULL, *oldest = NULL;

	for (size_t i = 0; i < FLEET_WINDOWS; i++) {
		struct fleet_window *w = &f->windows[i];

		if (w->used && w->bucket == bucket)
			return w;
		if (!w->used && !free_slot)
			free_slot = w;
		if (w->used && (!oldest || w->bucket < oldest->bucket))
			oldest = w;
	}
	if (!free_slot) {
		/* too many windows waiting on a slow host: print the oldest as it is */
		window_print(f, oldest);
		f->flushed_bucket = oldest->bucket;
		window_reset(oldest);
		free_slot = oldest;
	}
	free_slot->used = true;
	free_slot->bucket = bucket;
	return free_slot;
}

/* The host a merged view keys pid tables by: none when there is one host (its own view). */
static const char *merged_key_host(const struct fleet_host *h)
{
	return h->fleet->n > 1 ? h->target->name : NULL;
}

static void provenance_copy(struct provenance_copy *dst, const Tracectl__Provenance *p)
{
	dst->set = true;
	snprintf(dst->hook, sizeof(dst->hook), "%s", p->hook);
	snprintf(dst->kernel, sizeof(dst->kernel), "%s", p->kernel_release);
	snprintf(dst->btf, sizeof(dst->btf), "%s", p->btf_source);
	snprintf(dst->agent, sizeof(dst->agent), "%s", p->agent_version);
	dst->sample_one_in = p->sample_one_in;
	dst->budget_ppm = p->budget_ppm;
	dst->relative_error = p->relative_error;
}

static bool provenance_same(const struct provenance_copy *a, const struct provenance_copy *b)
{
	return !strcmp(a->hook, b->hook) && !strcmp(a->kernel, b->kernel) && !strcmp(a->agent, b->agent) &&
	       a->sample_one_in == b->sample_one_in;
}

/* dst += the decoded snapshot s of kind (pid tables keyed by merged_host too, when set); false on bad
 * data. The one way a snapshot is added: to a merged window, to what came from a host, to a summary. */
static bool host_result_add(struct fleet_result_host *dst, enum result_kind kind, const Tracectl__Snapshot *s,
		       const char *merged_host, char *err, size_t errlen)
{
	if (s->provenance) {
		struct provenance_copy p = { 0 };

		provenance_copy(&p, s->provenance);
		if (!dst->prov.set)
			dst->prov = p;
		else if (!provenance_same(&dst->prov, &p))
			dst->prov_mixed = true;
	}
	if (s->cost) {
		dst->cost_events += s->cost->events;
		dst->cost_kernel_ns += s->cost->kernel_ns;
		dst->cost_agent_ns += s->cost->agent_cpu_ns;
		if (s->cost->window_ns > dst->cost_window_ns)
			dst->cost_window_ns = s->cost->window_ns;
		dst->cost_kernel_stats = dst->cost_kernel_stats || s->cost->kernel_stats;
	}
	if (!dst->start_ns || s->start_unix_ns < dst->start_ns)
		dst->start_ns = s->start_unix_ns;
	if (s->end_unix_ns > dst->end_ns)
		dst->end_ns = s->end_unix_ns;
	dst->has_summary = true;
	return result_add_snapshot(&dst->res, kind, s, merged_host, err, errlen) == 0;
}

/* Adds one host's window (of kind) to the merged window; false on bad data. */
static bool merge_snapshot(struct fleet_host *h, struct fleet_window *w, enum result_kind kind,
			   const Tracectl__Snapshot *snap, char *err, size_t errlen)
{
	w->reported[h->index] = 1;
	w->dropped_snapshots += snap->dropped_snapshots;
	if (!host_result_add(&w->sum, kind, snap, merged_key_host(h), err, errlen))
		return false;
	/* this host's held events belong to this window */
	for (size_t i = 0; i < h->npending; i++) {
		if (w->nbatches == w->cap_batches) {
			size_t cap = w->cap_batches ? w->cap_batches * 2 : 16;
			Tracectl__Response **b = realloc(w->batches, cap * sizeof(*b));
			size_t *bh;

			if (!b)
				return false;
			w->batches = b;
			bh = realloc(w->batch_host, cap * sizeof(*bh));
			if (!bh)
				return false;
			w->batch_host = bh;
			w->cap_batches = cap;
		}
		w->batches[w->nbatches] = h->pending[i];
		w->batch_host[w->nbatches++] = h->index;
		w->nevents_held += h->pending[i]->events->n_events;
	}
	h->npending = 0;
	return true;
}

static void print_host_error(const struct fleet_host *h)
{
	const struct fleet *f = h->fleet;

	if (f->o->format == OUTPUT_JSON) {
		fputs("{\"host\":", stdout);
		render_json_string(stdout, h->target->name);
		fputs(",\"probe\":", stdout);
		render_json_string(stdout, f->o->probe ? f->o->probe : "");
		fprintf(stdout, ",\"type\":\"error\",\"exit_code\":%d,\"error\":", h->code);
		render_json_string(stdout, h->error);
		fputs("}\n", stdout);
		fflush(stdout);
	}
	/* the agent's message may quote what a traced host named (a target, a comm) */
	fputs("tracectl: ", stderr);
	text_escape_fputs(stderr, h->error);
	fputc('\n', stderr);
}

static void host_fail(struct fleet_host *h, enum cli_exit code, const char *why)
{
	struct fleet *f = h->fleet;

	if (h->done)
		return;
	h->done = true;
	h->code = code;
	f->nactive--;
	snprintf(h->error, sizeof(h->error), "%s", why);
	/* alone, a host that dies mid-run has its summary printed first, then why it ended;
	 * in a fleet the others carry on, so the failure is told at once */
	h->error_deferred = f->n == 1 && f->o->command == FLEET_ATTACH && h->attached;
	if (!h->error_deferred)
		print_host_error(h);
	for (size_t i = 0; i < h->npending; i++)
		protobuf_c_message_free_unpacked(&h->pending[i]->base, NULL);
	h->npending = 0;
	if (!f->nactive && f->base)
		event_base_loopbreak(f->base);
}

static void host_done(struct fleet_host *h, const Tracectl__Status *st)
{
	struct fleet *f = h->fleet;
	char why[600];

	if (h->done)
		return;
	/* a failure on the client side, as a recording keeps it */
	if (st->code >= RECORDING_CLIENT_FAILURE && st->code <= RECORDING_CLIENT_FAILURE + CLI_EXIT_PARTIAL) {
		host_fail(h, (enum cli_exit)(st->code - RECORDING_CLIENT_FAILURE), st->message);
		return;
	}
	if (st->code == RPC_OK || (st->code == RPC_CANCELLED && f->interrupted)) {
		h->done = true;
		h->answered = true;
		h->code = CLI_EXIT_OK;
		f->nactive--;
		if (!f->nactive)
			event_base_loopbreak(f->base);
		return;
	}
	snprintf(why, sizeof(why), "%s: %s", h->target->name, st->message);
	host_fail(h, st->code == RPC_NOT_FOUND || st->code == RPC_INVALID_ARGUMENT || st->code == RPC_PERMISSION_DENIED ||
				     st->code == RPC_FAILED_PRECONDITION || st->code == RPC_RESOURCE_EXHAUSTED
			     ? CLI_EXIT_REJECTED
		     : st->code == RPC_UNAVAILABLE ? CLI_EXIT_UNREACHABLE
						   : CLI_EXIT_FAILURE,
		  why);
}

static void fleet_connect_more(struct fleet *f);

/* The host's handshake is over, one way or the other: the next host may start its own. */
static void handshake_over(struct fleet_host *h)
{
	if (!h->connecting)
		return;
	h->connecting = false;
	h->fleet->nconnecting--;
	fleet_connect_more(h->fleet);
}

static void on_ready(struct client_conn *conn, void *arg)
{
	(void)conn;
	handshake_over(arg);
}

static void on_failure(struct client_conn *conn, enum cli_exit code, const char *why, void *arg)
{
	struct fleet_host *h = arg;

	(void)conn;
	handshake_over(h);
	if (h->fleet->o->record) {
		Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
		Tracectl__Status st = TRACECTL__STATUS__INIT;

		st.code = RECORDING_CLIENT_FAILURE + (int32_t)code;
		st.message = (char *)why;
		resp.result_case = TRACECTL__RESPONSE__RESULT_STATUS;
		resp.status = &st;
		recording_write(h->fleet->o->record, (uint32_t)h->index, &resp);
	}
	host_fail(h, code, why);
	fleet_flush_windows(h->fleet, false);
}

/* The host's window, added to what came from it; false on bad data. */
static bool received_add(struct fleet_host *h, enum result_kind kind, const Tracectl__Snapshot *snap, char *err,
			 size_t errlen)
{
	uint64_t window_ns = h->received.cost_window_ns;

	if (!host_result_add(&h->received, kind, snap, NULL, err, errlen))
		return false;
	/* windows follow each other: the host's cost is over their sum */
	if (snap->cost)
		h->received.cost_window_ns = window_ns + snap->cost->window_ns;
	return true;
}

/* One host's window that came after its merged view was printed, and its held events. */
static void print_late_window(struct fleet *f, struct fleet_host *h, enum result_kind kind,
			      const Tracectl__Snapshot *snap, char *err, size_t errlen)
{
	struct render late = h->render;
	struct result res;

	late.late = true;
	result_init(&res);
	if (f->o->quiet || f->o->format == OUTPUT_PROM)
		goto cleanup;
	for (size_t i = 0; i < h->npending; i++) {
		const Tracectl__EventBatch *batch = h->pending[i]->events;

		render_events_lost(&late, batch->dropped);
		for (size_t k = 0; k < batch->n_events; k++)
			render_event(&late, batch->events[k]);
	}
	if (result_add_snapshot(&res, kind, snap, NULL, err, errlen))
		goto cleanup;
	if (res.have_counts)
		sort_counts(f, &res.counts);
	render_result(&late, snap, &res);
cleanup:
	for (size_t i = 0; i < h->npending; i++)
		protobuf_c_message_free_unpacked(&h->pending[i]->base, NULL);
	h->npending = 0;
	result_free(&res);
}

static void print_attached(const struct render *rd, const void *arg)
{
	render_attached(rd, arg);
}

/* Attached: the host's kind and first window; said per host where people asked for it. */
static void on_host_attached(struct fleet_host *h, const Tracectl__Attached *att)
{
	struct fleet *f = h->fleet;

	h->attached = true;
	if (!f->attached_ns)
		f->attached_ns = clock_ns(CLOCK_REALTIME);
	h->kind = result_kind_resolve(att->kind, RESULT_KIND_UNKNOWN, att->provenance, NULL);
	/* windows that ended before this host's first are not waited for */
	if (att->first_window_end_unix_ns) {
		int64_t first;

		/* a boundary, as the agent computed it from the request (a replay learns it here) */
		f->phase_ns = att->first_window_end_unix_ns % f->o->interval_ns;
		first = window_bucket(f, att->first_window_end_unix_ns);
		if (first - 1 > h->last_bucket)
			h->last_bucket = first - 1;
	}
	/* machines always learn which hosts attached; people see it per host on request */
	if (!f->o->quiet && (f->n == 1 || f->o->per_host || f->o->format == OUTPUT_JSON))
		print_fitted(f, &h->render, print_attached, att, 4);
	else
		log_info("%s: attached (session %llu)", h->target->name, (unsigned long long)att->session_id);
}

/* Event batches are held (the response kept: true) until the snapshot that closes their window
 * names the window they belong to (merge_snapshot). */
static bool hold_events(struct fleet_host *h, Tracectl__Response *resp)
{
	if (h->npending == h->cap_pending) {
		size_t cap = h->cap_pending ? h->cap_pending * 2 : 8;
		Tracectl__Response **p = realloc(h->pending, cap * sizeof(*p));

		if (!p) {
			host_fail(h, CLI_EXIT_FAILURE, "out of memory holding events");
			return false;
		}
		h->pending = p;
		h->cap_pending = cap;
	}
	h->pending[h->npending++] = resp;
	return true;
}

static void fail_bad_snapshot(struct fleet_host *h, const char *err)
{
	char why[INVENTORY_HOST_LEN + 300];

	snprintf(why, sizeof(why), "%s: bad snapshot: %s", h->target->name, err[0] ? err : "out of memory");
	host_fail(h, CLI_EXIT_FAILURE, why);
}

/* A window (merged into its fleet window, or shown alone when late) or the summary (kept: true). */
static bool on_host_snapshot(struct fleet_host *h, Tracectl__Response *resp)
{
	struct fleet *f = h->fleet;
	const Tracectl__Snapshot *snap = resp->snapshot;
	int64_t bucket = window_bucket(f, snap->end_unix_ns);
	struct fleet_window *w;
	char err[256] = "";

	h->kind = result_kind_resolve(snap->kind, h->kind, snap->provenance, snap);
	if (snap->counts && !sort_column_known(f, snap->counts))
		return false;
	if (snap->summary) {
		h->summary = resp;
		h->has_summary = true;
		return true;
	}
	if (snap->provenance && !f->o->quiet) {
		/* the agent changed how it measures (over budget: sampling) */
		if (f->o->format == OUTPUT_JSON)
			render_provenance_change(&h->render, snap->provenance);
		else
			fprintf(stderr, "tracectl: %s: over its overhead budget, the agent now samples 1 in %u events "
					"(counts are scaled)\n",
				h->target->name, snap->provenance->sample_one_in);
	}
	h->last_bucket = bucket;
	if (!received_add(h, h->kind, snap, err, sizeof(err))) {
		fail_bad_snapshot(h, err);
		return false;
	}
	if (bucket <= f->flushed_bucket) {
		/* printed without this host already: shown on its own, so that what is shown
		 * adds up to the summary */
		log_warn("%s: a window arrived after its merged view was printed; shown on its own, marked late",
			 h->target->name);
		print_late_window(f, h, h->kind, snap, err, sizeof(err));
		return false;
	}
	w = fleet_window_for(f, bucket);
	if (!merge_snapshot(h, w, h->kind, snap, err, sizeof(err)))
		fail_bad_snapshot(h, err);
	if (w->nevents_held > FLEET_MAX_HELD_EVENTS)
		window_print_events(f, w);
	fleet_flush_windows(f, false);
	return false;
}

/* One response of an Attach stream; true when the response is kept (freed later). */
static bool on_attach_response(struct client_call *call, Tracectl__Response *resp, void *arg)
{
	struct fleet_host *h = arg;
	struct fleet *f = h->fleet;

	(void)call;
	if (f->sort_refused)
		return false;
	if (f->o->record)
		recording_write(f->o->record, (uint32_t)h->index, resp);
	switch (resp->result_case) {
	case TRACECTL__RESPONSE__RESULT_ATTACHED:
		on_host_attached(h, resp->attached);
		return false;
	case TRACECTL__RESPONSE__RESULT_EVENTS:
		return hold_events(h, resp);
	case TRACECTL__RESPONSE__RESULT_SNAPSHOT:
		return on_host_snapshot(h, resp);
	case TRACECTL__RESPONSE__RESULT_STATUS:
		host_done(h, resp->status);
		fleet_flush_windows(f, false);
		return false;
	default:
		return false;
	}
}

static void render_status(const struct fleet_host *h, const Tracectl__AgentStatus *st, enum output_format format)
{
	char uptime[32], age[32], left[32];

	if (format == OUTPUT_JSON) {
		printf("{\"host\":");
		render_json_string(stdout, h->target->name);
		printf(",\"type\":\"status\",\"agent_version\":");
		render_json_string(stdout, st->agent_version);
		printf(",\"kernel\":");
		render_json_string(stdout, st->kernel_release);
		printf(",\"hostname\":");
		render_json_string(stdout, st->hostname);
		printf(",\"uptime_ns\":%llu,\"active_sessions\":%u,\"connections\":%u,\"probes_total\":%u,"
		       "\"probes_available\":[",
		       (unsigned long long)st->uptime_ns, st->active_sessions, st->connections, st->probes_total);
		for (size_t i = 0; i < st->n_probes_available; i++) {
			printf(i ? "," : "");
			render_json_string(stdout, st->probes_available[i]);
		}
		printf("],\"symbol_tables_parsed\":%llu,\"symbol_tables_shared\":%llu,\"sessions\":[",
		       (unsigned long long)st->symbol_tables_parsed, (unsigned long long)st->symbol_tables_shared);
		for (size_t i = 0; i < st->n_sessions; i++) {
			const Tracectl__SessionInfo *s = st->sessions[i];

			printf("%s{\"id\":%llu,\"identity\":", i ? "," : "", (unsigned long long)s->id);
			render_json_string(stdout, s->identity);
			printf(",\"peer\":");
			render_json_string(stdout, s->peer);
			printf(",\"probe\":");
			render_json_string(stdout, s->probe);
			printf(",\"age_ns\":%llu,\"remaining_ns\":%llu}", (unsigned long long)s->age_ns,
			       (unsigned long long)s->remaining_ns);
		}
		printf("]}\n");
		fflush(stdout);
		return;
	}
	/* what the agent reports is escaped: identities and probe names come from its clients */
	printf("%s: tracectl-agent ", h->target->name);
	text_escape_fputs(stdout, st->agent_version);
	fputs(" on ", stdout);
	text_escape_fputs(stdout, st->hostname);
	fputs(", kernel ", stdout);
	text_escape_fputs(stdout, st->kernel_release);
	printf(", up %s\n", duration_format_long(st->uptime_ns, uptime, sizeof(uptime)));
	printf("  %u active session(s), %u connection(s); %zu of %u probes available:", st->active_sessions,
	       st->connections, st->n_probes_available, st->probes_total);
	for (size_t i = 0; i < st->n_probes_available; i++) {
		fputc(' ', stdout);
		text_escape_fputs(stdout, st->probes_available[i]);
	}
	printf("\n");
	if (st->symbol_tables_parsed || st->symbol_tables_shared)
		printf("  symbols: %llu symbol table(s) parsed, %llu file(s) shared one by build-id\n",
		       (unsigned long long)st->symbol_tables_parsed, (unsigned long long)st->symbol_tables_shared);
	for (size_t i = 0; i < st->n_sessions; i++) {
		const Tracectl__SessionInfo *s = st->sessions[i];

		printf("  session %llu: ", (unsigned long long)s->id);
		text_escape_fputs(stdout, s->probe);
		fputs(" by ", stdout);
		text_escape_fputs(stdout, s->identity);
		fputs(" from ", stdout);
		text_escape_fputs(stdout, s->peer);
		printf(", running for %s, %s%s\n", duration_format_long(s->age_ns, age, sizeof(age)),
		       s->remaining_ns ? duration_format_long(s->remaining_ns, left, sizeof(left)) : "until cancelled",
		       s->remaining_ns ? " left" : "");
	}
	fflush(stdout);
}

struct probes_print {
	const Tracectl__ListProbesResponse *list;
	const struct client_conn *conn;
};

static void print_probes(const struct render *rd, const void *arg)
{
	const struct probes_print *pp = arg;

	render_probes(rd, pp->list, pp->conn);
}

static bool on_unary_response(struct client_call *call, Tracectl__Response *resp, void *arg)
{
	struct fleet_host *h = arg;

	if (resp->result_case == TRACECTL__RESPONSE__RESULT_PROBES) {
		const char *want = h->fleet->o->probe;

		struct probes_print pp = { resp->probes, call->conn };

		/* descriptions wrap under their column, or under a short indent on narrow terminals */
		print_fitted(h->fleet, &h->render, print_probes, &pp, 39);
		if (want && !catalog_find(resp->probes, want)) {
			const char *near = catalog_nearest(resp->probes, want);
			char why[INVENTORY_HOST_LEN + 200];

			snprintf(why, sizeof(why), "%s: no probe '%.64s'%s%s%s", h->target->name, want,
				 near ? "; did you mean " : "", near ? near : "", near ? "?" : "");
			host_fail(h, CLI_EXIT_REJECTED, why);
		}
	}
	else if (resp->result_case == TRACECTL__RESPONSE__RESULT_AGENT_STATUS)
		render_status(h, resp->agent_status, h->fleet->o->format);
	else if (resp->result_case == TRACECTL__RESPONSE__RESULT_STATUS)
		host_done(h, resp->status);
	return false;
}

static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fleet_flush_windows(arg, false);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct fleet *f = arg;

	(void)sig;
	(void)what;
	if (f->interrupted || f->o->command != FLEET_ATTACH) {
		/* second Ctrl-C: do not wait for the agents' summaries */
		event_base_loopbreak(f->base);
		return;
	}
	f->interrupted = true;
	/* every attached agent answers with its last window, its summary and CANCELLED; a host
	 * still connecting (or waiting for its turn to) has nothing to answer with: it ends here */
	for (size_t i = 0; i < f->n; i++) {
		struct fleet_host *h = &f->hosts[i];
		char why[INVENTORY_HOST_LEN + 64];

		if (h->done)
			continue;
		if (h->call && h->call->sent) {
			client_call_cancel(h->call);
			continue;
		}
		if (h->call)
			client_call_cancel(h->call);
		snprintf(why, sizeof(why), "%s: interrupted before attaching", h->target->name);
		host_fail(h, CLI_EXIT_FAILURE, why);
	}
	f->next_connect = f->n;
}

/* The terminal was resized: the next frame fits the new size. */
static void on_sigwinch(evutil_socket_t sig, short what, void *arg)
{
	struct fleet *f = arg;

	(void)sig;
	(void)what;
	if (!term_size(STDOUT_FILENO, &f->cols, &f->rows))
		f->cols = f->rows = 0;
	if (!term_size(STDERR_FILENO, &f->err_cols, &(unsigned){ 0 }))
		f->err_cols = 0;
}

void fleet_result_free(struct fleet_result *r)
{
	for (size_t i = 0; r->hosts && i < r->nhosts; i++)
		result_free(&r->hosts[i].res);
	free(r->hosts);
	result_free(&r->merged.res);
	memset(r, 0, sizeof(*r));
}

/* dst += src (pid tables keyed by merged_host too, when set); false on bad data. */
static bool host_result_merge(struct fleet_result_host *dst, const struct fleet_result_host *src, const char *merged_host,
			 char *err, size_t errlen)
{
	if (src->prov.set) {
		if (!dst->prov.set)
			dst->prov = src->prov;
		else if (!provenance_same(&dst->prov, &src->prov))
			dst->prov_mixed = true;
	}
	dst->prov_mixed = dst->prov_mixed || src->prov_mixed;
	dst->cost_events += src->cost_events;
	dst->cost_kernel_ns += src->cost_kernel_ns;
	dst->cost_agent_ns += src->cost_agent_ns;
	if (src->cost_window_ns > dst->cost_window_ns)
		dst->cost_window_ns = src->cost_window_ns;
	dst->cost_kernel_stats = dst->cost_kernel_stats || src->cost_kernel_stats;
	if (!dst->start_ns || (src->start_ns && src->start_ns < dst->start_ns))
		dst->start_ns = src->start_ns;
	if (src->end_ns > dst->end_ns)
		dst->end_ns = src->end_ns;
	dst->has_summary = dst->has_summary || src->has_summary;
	return result_merge(&dst->res, &src->res, merged_host, err, errlen) == 0;
}

/* Each host's session summary, and every answering host's added up. */
static void build_result(struct fleet *f, struct fleet_result *r)
{
	/* each host's own summary: printed with --per-host, judged by gate */
	bool keep_hosts = (f->o->per_host && f->n > 1) || f->o->result;
	char err[256];

	memset(r, 0, sizeof(*r));
	r->nhosts = f->n;
	r->hosts = calloc(f->n, sizeof(*r->hosts));
	r->merged.name = f->merged.host;
	result_init(&r->merged.res);
	for (size_t i = 0; r->hosts && i < f->n; i++) {
		struct fleet_host *h = &f->hosts[i];
		struct fleet_result_host *rh = &r->hosts[i];
		enum result_kind kind;

		if (i > 0 && r->hosts[i - 1].res.have_counts)
			sort_counts(f, &r->hosts[i - 1].res.counts);

		rh->name = h->target->name;
		rh->answered = h->answered;
		rh->code = h->code;
		result_init(&rh->res);
		r->answered += h->answered;
		if (!h->has_summary) {
			/* died (or cut off) before its summary: what it sent up to then, said so */
			if (!h->received.has_summary)
				continue;
			rh->died = 1;
			r->merged.died++;
			if (!host_result_merge(rh, &h->received, NULL, err, sizeof(err)) ||
			    !host_result_merge(&r->merged, &h->received, merged_key_host(h), err, sizeof(err)))
				log_error("%s: adding up what it sent: %s", h->target->name, err);
			continue;
		}
		kind = result_kind_resolve(h->summary->snapshot->kind, h->kind, h->summary->snapshot->provenance,
					   h->summary->snapshot);
		if (!host_result_add(rh, kind, h->summary->snapshot, NULL, err, sizeof(err)) ||
		    !host_result_add(&r->merged, kind, h->summary->snapshot, merged_key_host(h), err, sizeof(err)))
			log_error("%s: bad summary: %s", h->target->name, err);
		if (!keep_hosts) {
			/* only the merged summary is shown: a histogram each is 16 KB a host (30% of a
			 * 1,000-host controller's peak memory, docs/BENCHMARKS.md, fan-out) */
			result_free(&rh->res);
			result_init(&rh->res);
		}
	}
	r->merged.answered = r->answered > 0;
	r->interrupted = f->interrupted && f->o->duration_ns;
	r->elapsed_ns = clock_ns(CLOCK_REALTIME) - f->start_ns;
	r->duration_ns = f->o->duration_ns;
	if (r->hosts && f->n && r->hosts[f->n - 1].res.have_counts)
		sort_counts(f, &r->hosts[f->n - 1].res.counts);
	if (r->merged.res.have_counts)
		sort_counts(f, &r->merged.res.counts);
}

static void render_result_host(const struct render *rd_in, const struct fleet_result_host *rh)
{
	Tracectl__Snapshot meta = TRACECTL__SNAPSHOT__INIT;
	Tracectl__Provenance prov = TRACECTL__PROVENANCE__INIT;
	Tracectl__Cost cost = TRACECTL__COST__INIT;
	struct render rdv = *rd_in, *rd = &rdv;

	if (!rh->has_summary)
		return;
	if (rd_in->format == OUTPUT_PROM) {
		/* one scrape-compatible snapshot of the summary; a single host is not labelled */
		char extra[INVENTORY_HOST_LEN + 16] = "";

		if (rd_in->hosts_total > 1 && !rd_in->merged)
			snprintf(extra, sizeof(extra), "host=\"%s\"", rh->name);
		if (rh->res.hists.n)
			prom_write_hists(rd_in->out, rd_in->probe, &rh->res.hists, extra);
		if (rh->res.have_counts)
			prom_write_counts(rd_in->out, rd_in->probe, &rh->res.counts, extra);
		if (rh->res.kind == RESULT_KIND_EVENTS)
			fprintf(stderr, "tracectl: --output prom shows histogram and count probes; %s streams events\n",
				rd_in->probe);
		fflush(rd_in->out);
		return;
	}
	rdv.provenance_mixed = rh->prov_mixed;
	rdv.died = rh->died;
	if (rh->prov.set) {
		prov.hook = (char *)rh->prov.hook;
		prov.kernel_release = (char *)rh->prov.kernel;
		prov.btf_source = (char *)rh->prov.btf;
		prov.agent_version = (char *)rh->prov.agent;
		prov.sample_one_in = rh->prov.sample_one_in;
		prov.budget_ppm = rh->prov.budget_ppm;
		prov.relative_error = rh->prov.relative_error;
		meta.provenance = &prov;
	}
	meta.cost = cost_of(rh, &cost);
	meta.summary = true;
	meta.start_unix_ns = rh->start_ns;
	meta.end_unix_ns = rh->end_ns;
	render_result(rd, &meta, &rh->res);
	render_footer(rd, &meta);
}

static void print_result_host(const struct render *rd, const void *arg)
{
	render_result_host(rd, arg);
}

static void print_summaries(struct fleet *f, const struct fleet_result *r)
{
	if (f->o->quiet)
		return;
	if (f->o->per_host && f->n > 1)
		for (size_t i = 0; i < f->n; i++)
			print_fitted(f, &f->hosts[i].render, print_result_host, &r->hosts[i], 4);
	f->merged.hosts = 0;
	for (size_t i = 0; i < f->n; i++)
		f->merged.hosts += r->hosts[i].has_summary;
	print_fitted(f, &f->merged, print_result_host, &r->merged, 4);
}

/* Feeds a recording through the same path live responses take. */
static void fleet_replay(struct fleet *f)
{
	uint32_t host;
	Tracectl__Response *resp;
	char err[512];
	int ret = 0;

	while (!f->sort_refused && (ret = recording_next(f->o->replay, &host, &resp, err, sizeof(err))) == 1) {
		struct fleet_host *h = &f->hosts[host];

		if (h->done || !on_attach_response(NULL, resp, h))
			protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	if (f->sort_refused)
		return;
	if (ret < 0)
		fprintf(stderr, "tracectl: %s; reporting what came before\n", err);
	for (size_t i = 0; i < f->n; i++) {
		if (!f->hosts[i].done) {
			snprintf(err, sizeof(err), "%s: the recording ends before this host finished",
				 f->hosts[i].target->name);
			host_fail(&f->hosts[i], CLI_EXIT_FAILURE, err);
		}
	}
	f->replay_damaged = ret < 0;
}

static void print_fleet_footer(struct fleet *f, size_t answered)
{
	if (f->n < 2)
		return;
	if (f->o->format == OUTPUT_JSON) {
		bool first = true;

		printf("{\"host\":\"*\",\"probe\":");
		render_json_string(stdout, f->o->probe ? f->o->probe : "");
		printf(",\"type\":\"fleet\",\"hosts_total\":%zu,\"hosts_answered\":%zu,\"failed\":[", f->n, answered);
		for (size_t i = 0; i < f->n; i++) {
			if (f->hosts[i].answered)
				continue;
			printf(first ? "" : ",");
			render_json_string(stdout, f->hosts[i].target->name);
			first = false;
		}
		printf("]}\n");
		fflush(stdout);
	} else {
		fprintf(stderr, "tracectl: %zu of %zu hosts answered", answered, f->n);
		for (size_t i = 0, k = 0; i < f->n; i++)
			if (!f->hosts[i].answered)
				fprintf(stderr, "%s%s", k++ ? ", " : "; failed: ", f->hosts[i].target->name);
		fputc('\n', stderr);
	}
}

/* Connections are events in this one loop, not threads; hosts start in inventory order. */
static void fleet_connect_more(struct fleet *f)
{
	const struct fleet_options *o = f->o;
	char err[512];

	while (f->nconnecting < FLEET_HANDSHAKES && f->next_connect < f->n) {
		struct fleet_host *h = &f->hosts[f->next_connect++];

		if (h->done) /* interrupted before its turn */
			continue;
		h->conn = client_conn_new(f->base, f->tls, h->target, o->connect_timeout_ms, on_failure, h, err,
					   sizeof(err));
		if (!h->conn) {
			on_failure(NULL, errno == EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_UNREACHABLE, err, h);
			continue;
		}
		h->conn->on_ready = on_ready;
		h->connecting = true;
		f->nconnecting++;
		h->call = client_conn_call(h->conn, o->request,
					    o->command == FLEET_ATTACH ? on_attach_response : on_unary_response, h);
		if (!h->call)
			host_fail(h, CLI_EXIT_FAILURE, "out of memory");
	}
}

/* The fleet's memory, events and hosts before the loop runs; 0, or -1 said on stderr. */
static int fleet_init(struct fleet *f, const struct fleet_options *o, SSL_CTX *tls)
{
	f->n = o->targets->n;
	f->tls = tls;
	f->base = event_base_new();
	f->hosts = calloc(f->n, sizeof(*f->hosts));
	if (!f->base || !f->hosts) {
		fprintf(stderr, "tracectl: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < FLEET_WINDOWS; i++) {
		result_init(&f->windows[i].sum.res);
		f->windows[i].nhosts = f->n;
		f->windows[i].reported = calloc(f->n, 1);
		if (!f->windows[i].reported) {
			fprintf(stderr, "tracectl: out of memory\n");
			return -1;
		}
	}
	f->merged = (struct render){ .format = o->format, .out = stdout, .probe = o->probe ? o->probe : "",
				     .host = f->n == 1 ? o->targets->hosts[0].name : "*", .merged = f->n > 1,
				     .hosts_total = f->n, .interval_ns = o->interval_ns,
				     .events_header_shown = &f->events_header_shown };
	f->start_ns = clock_ns(CLOCK_REALTIME);
	if (o->command == FLEET_ATTACH && !o->replay && o->request &&
	    o->request->call_case == TRACECTL__REQUEST__CALL_ATTACH &&
	    o->interval_ns)
		f->phase_ns = o->request->attach->align_unix_ns % o->interval_ns;
	/* the merged windows redraw (--per-host adds each host's summary at the end); events scroll */
	f->live = o->command == FLEET_ATTACH && o->format == OUTPUT_TEXT && !o->quiet && !o->replay &&
		  isatty(fileno(stdout));
	if (!term_size(STDOUT_FILENO, &f->cols, &f->rows))
		f->cols = f->rows = 0;
	if (!term_size(STDERR_FILENO, &f->err_cols, &(unsigned){ 0 }))
		f->err_cols = 0;
	f->sigwinch = evsignal_new(f->base, SIGWINCH, on_sigwinch, f);
	f->grace = event_new(f->base, -1, EV_PERSIST, grace_cb, f);
	f->sigint = evsignal_new(f->base, SIGINT, on_signal, f);
	f->sigterm = evsignal_new(f->base, SIGTERM, on_signal, f);
	if (!f->grace || !f->sigint || !f->sigterm || !f->sigwinch || evsignal_add(f->sigint, NULL) ||
	    evsignal_add(f->sigterm, NULL) || evsignal_add(f->sigwinch, NULL) ||
	    event_add(f->grace, &(struct timeval){ 0, 250000 })) {
		fprintf(stderr, "tracectl: cannot set up the event loop\n");
		return -1;
	}
	f->nactive = f->n;
	for (size_t i = 0; i < f->n; i++) {
		struct fleet_host *h = &f->hosts[i];

		h->fleet = f;
		h->index = i;
		h->target = &o->targets->hosts[i];
		h->last_bucket = -1;
		result_init(&h->received.res);
		h->render = (struct render){ .format = o->format, .out = stdout, .host = h->target->name,
					     .probe = o->probe ? o->probe : "", .hosts_total = f->n,
					     .interval_ns = o->interval_ns, .events_header_shown = &f->events_header_shown };
	}
	return 0;
}

/* After the loop: the last windows, summaries, deferred errors and footer; the exit code. */
static enum cli_exit fleet_report(struct fleet *f)
{
	const struct fleet_options *o = f->o;
	size_t answered = 0;
	enum cli_exit code;

	fleet_flush_windows(f, true);
	if (f->status_shown)
		fputc('\n', stderr);
	if (o->command == FLEET_ATTACH) {
		struct fleet_result local, *r = o->result ? o->result : &local;

		build_result(f, r);
		print_summaries(f, r);
		if (r == &local)
			fleet_result_free(&local);
	}
	for (size_t i = 0; i < f->n; i++)
		if (f->hosts[i].error_deferred)
			print_host_error(&f->hosts[i]);
	for (size_t i = 0; i < f->n; i++)
		answered += f->hosts[i].answered;
	print_fleet_footer(f, answered);
	if (f->replay_damaged)
		return CLI_EXIT_FAILURE;
	if (answered == f->n)
		return CLI_EXIT_OK;
	if (answered > 0)
		return CLI_EXIT_PARTIAL;
	/* nobody answered: the first host's reason (all the same in the common case) */
	code = f->hosts[0].done ? f->hosts[0].code : CLI_EXIT_FAILURE;
	for (size_t i = 0; i < f->n; i++)
		if (!f->hosts[i].done) /* interrupted before an answer */
			fprintf(stderr, "tracectl: %s: no answer\n", f->hosts[i].target->name);
	return code;
}

static void fleet_free(struct fleet *f)
{
	for (size_t i = 0; f->hosts && i < f->n; i++) {
		struct fleet_host *h = &f->hosts[i];

		for (size_t k = 0; k < h->npending; k++)
			protobuf_c_message_free_unpacked(&h->pending[k]->base, NULL);
		free(h->pending);
		if (h->has_summary)
			protobuf_c_message_free_unpacked(&h->summary->base, NULL);
		result_free(&h->received.res);
		client_conn_free(&h->conn);
	}
	for (size_t i = 0; i < FLEET_WINDOWS; i++)
		window_free(&f->windows[i]);
	free(f->hosts);
	if (f->grace)
		event_free(f->grace);
	if (f->sigint)
		event_free(f->sigint);
	if (f->sigterm)
		event_free(f->sigterm);
	if (f->sigwinch)
		event_free(f->sigwinch);
	if (f->base)
		event_base_free(f->base);
}

enum cli_exit fleet_run(const struct fleet_options *o, SSL_CTX *tls)
{
	struct fleet f = { .o = o, .flushed_bucket = -1 };
	enum cli_exit code = CLI_EXIT_FAILURE;

	if (fleet_init(&f, o, tls))
		goto cleanup;
	if (!o->replay)
		fleet_connect_more(&f);
	if (o->format == OUTPUT_TEXT && o->command == FLEET_ATTACH && f.n > 1 && !o->replay && !o->quiet)
		fprintf(stderr, "Attaching %s on %zu hosts...\n", o->probe, f.n);
	if (o->replay)
		fleet_replay(&f);
	else if (f.nactive)
		event_base_dispatch(f.base);
	code = f.sort_refused ? CLI_EXIT_USAGE : fleet_report(&f);
cleanup:
	fleet_free(&f);
	return code;
}
