/* SPDX-License-Identifier: Apache-2.0 */
/* Attach sessions: one probe instance per stream, a snapshot every interval. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "duration.h"
#include "log.h"

uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct session *conn__find_session(struct conn *conn, uint32_t stream_id)
{
	struct session *s;

	LIST_FOREACH(s, &conn->sessions, link)
		if (s->stream_id == stream_id)
			return s;
	return NULL;
}

static struct evbuffer *session_out(struct session *s)
{
	return bufferevent_get_output(s->conn->bev);
}

/* A client that does not keep up loses data, counted, instead of the agent
 * buffering without bound or blocking the kernel side. */
static bool client_is_slow(struct session *s)
{
	return evbuffer_get_length(session_out(s)) > CONN_MAX_PENDING_OUTPUT;
}

/* Makes room to encode n series; false when out of memory. */
static bool reserve_encoded(struct session *s, size_t n)
{
	struct hist_pb *bigger;

	if (n <= s->nencoded)
		return true;
	bigger = realloc(s->encoded, n * sizeof(*bigger));
	if (!bigger)
		return false;
	s->encoded = bigger;
	s->nencoded = n;
	return true;
}

/* Sends one snapshot: the window (summary false) or the whole session. */
static int session_send_snapshot(struct session *s, bool summary, uint64_t start_ns, uint64_t end_ns)
{
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__Snapshot snap = TRACECTL__SNAPSHOT__INIT;
	Tracectl__CountTable counts = TRACECTL__COUNT_TABLE__INIT;
	Tracectl__Series *series = NULL;
	Tracectl__Series **series_ptrs = NULL;
	int err = 0;

	snap.seq = ++s->seq;
	snap.start_unix_ns = start_ns;
	snap.end_unix_ns = end_ns;
	snap.summary = summary;
	snap.dropped_snapshots = s->dropped;
	switch (s->probe->kind) {
	case PROBE_HISTOGRAM: {
		struct hist_set *set = summary ? &s->total_hists : &s->window_hists;

		series = calloc(set->n ? set->n : 1, sizeof(*series));
		series_ptrs = calloc(set->n ? set->n : 1, sizeof(*series_ptrs));
		if (!series || !series_ptrs || !reserve_encoded(s, set->n)) {
			err = -ENOMEM;
			goto cleanup;
		}
		for (size_t i = 0; i < set->n; i++) {
			tracectl__series__init(&series[i]);
			hist_pb_fill(&s->encoded[i], set->hists[i]);
			series[i].label = set->labels[i];
			series[i].hist = &s->encoded[i].msg;
			series_ptrs[i] = &series[i];
		}
		snap.n_series = set->n;
		snap.series = series_ptrs;
		break;
	}
	case PROBE_COUNTS: {
		struct count_table *t = summary ? &s->total_counts : &s->window_counts;

		count_table_sort(t, 0);
		err = count_table_to_pb(t, s->params.top, &counts);
		if (err)
			goto cleanup;
		snap.counts = &counts;
		break;
	}
	case PROBE_EVENTS:
		snap.events = summary ? s->events_total : s->events_window;
		snap.events_dropped = summary ? s->events_dropped_total : s->events_dropped_window;
		break;
	}
	resp.result_case = TRACECTL__RESPONSE__RESULT_SNAPSHOT;
	resp.snapshot = &snap;
	err = rpc_send(session_out(s), s->stream_id, FRAME_DATA, &resp.base, s->conn->agent->cfg.max_message);
cleanup:
	count_table_pb_free(&counts);
	free(series_ptrs);
	free(series);
	return err;
}

/* Sends what the sink holds as one EventBatch (or drops it, counted). */
static void session_flush_events(struct event_sink *sink, void *arg)
{
	struct session *s = arg;
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__EventBatch batch;

	if (!sink->n)
		return;
	if (client_is_slow(s)) {
		s->events_dropped_window += sink->n;
		s->events_dropped_total += sink->n;
		s->events_dropped_unreported += sink->n;
		return;
	}
	event_sink_message(sink, &batch);
	batch.dropped = s->events_dropped_unreported;
	resp.result_case = TRACECTL__RESPONSE__RESULT_EVENTS;
	resp.events = &batch;
	if (rpc_send(session_out(s), s->stream_id, FRAME_DATA, &resp.base, s->conn->agent->cfg.max_message) == 0) {
		s->events_dropped_unreported = 0;
		s->events_window += sink->n;
		s->events_total += sink->n;
	} else {
		s->events_dropped_window += sink->n;
		s->events_dropped_total += sink->n;
		s->events_dropped_unreported += sink->n;
	}
}

static void session_ring_ready(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int n;

	(void)fd;
	(void)what;
	n = s->probe->drain_events(s->probe_state, s->sink);
	if (n < 0)
		log_warn("session %llu: draining %s events: %s", (unsigned long long)s->id, s->probe->name,
			 strerror(-n));
	session_flush_events(s->sink, s);
	event_sink_reset(s->sink);
}

/* Reads the probe and sends the window since the last flush; false when reading failed. */
static bool session_flush(struct session *s)
{
	uint64_t now_unix = clock_ns(CLOCK_REALTIME);
	int err = 0;

	switch (s->probe->kind) {
	case PROBE_HISTOGRAM:
		hist_set_clear(&s->window_hists);
		err = s->probe->read_hist(s->probe_state, &s->window_hists);
		if (!err && hist_set_merge(&s->total_hists, &s->window_hists))
			log_warn("session %llu: more than %d series, the rest are left out", (unsigned long long)s->id,
				 HIST_SET_MAX);
		break;
	case PROBE_COUNTS:
		count_table_clear(&s->window_counts);
		err = s->probe->read_counts(s->probe_state, &s->window_counts);
		if (!err)
			err = count_table_merge(&s->total_counts, &s->window_counts);
		break;
	case PROBE_EVENTS: {
		uint64_t lost = s->probe->events_lost ? s->probe->events_lost(s->probe_state) : 0;

		/* what is still in the ring belongs to this window */
		session_ring_ready(-1, 0, s);
		s->events_dropped_window += lost - s->kernel_lost_seen;
		s->events_dropped_total += lost - s->kernel_lost_seen;
		s->events_dropped_unreported += lost - s->kernel_lost_seen;
		s->kernel_lost_seen = lost;
		break;
	}
	}
	if (err) {
		log_warn("session %llu: reading %s: %s", (unsigned long long)s->id, s->probe->name, strerror(-err));
		return false;
	}
	if (client_is_slow(s))
		s->dropped++;
	else
		session_send_snapshot(s, false, s->window_start_unix_ns, now_unix);
	s->window_start_unix_ns = now_unix;
	s->events_window = 0;
	s->events_dropped_window = 0;
	return true;
}

void session__end(struct session **sp, enum rpc_status code, const char *why, bool send_status)
{
	struct session *s = *sp;
	struct agent *agent;

	if (!s)
		return;
	agent = s->conn->agent;
	if (send_status) {
		/* the last (partial) window, then the summary: the sum of the windows */
		if (s->flushed || session_flush(s))
			session_send_snapshot(s, true, s->start_unix_ns, clock_ns(CLOCK_REALTIME));
		rpc_send_status(session_out(s), s->stream_id, code, why, agent->cfg.max_message);
	}
	log_info("session %llu (%s, %s on %s) ended: %s; %llu snapshots, %llu dropped", (unsigned long long)s->id,
		 s->conn->identity, s->probe->name, s->conn->peer, why, (unsigned long long)s->seq,
		 (unsigned long long)s->dropped);
	if (s->tick)
		event_free(s->tick);
	if (s->ring_ready)
		event_free(s->ring_ready);
	s->probe->close(&s->probe_state);
	LIST_REMOVE(s, link);
	agent->nsessions--;
	hist_set_free(&s->window_hists);
	hist_set_free(&s->total_hists);
	count_table_free(&s->window_counts);
	count_table_free(&s->total_counts);
	free(s->encoded);
	free(s->sink);
	free(s);
	*sp = NULL;
}

/*
 * Windows end on wall-clock multiples of the interval, so that the same window
 * from every host of a fleet covers the same time (clients merge by window end).
 * The first window is the remainder up to the first boundary. Rearmed every tick
 * from the clock, so timer drift never accumulates.
 */
static void session_schedule_tick(struct session *s)
{
	uint64_t now;

	/* libevent measures timeouts from its cached loop time: after a slow BPF load
	 * in this same callback that cache is stale, and the tick would fire early */
	event_base_update_cache_time(s->conn->agent->base);
	now = clock_ns(CLOCK_REALTIME);
	uint64_t next = (now / s->interval_ns + 1) * s->interval_ns;
	uint64_t wait = next - now;

	/* a first window shorter than a tenth of the interval joins the next one */
	if (s->seq == 0 && wait < s->interval_ns / 10)
		wait += s->interval_ns;
	event_add(s->tick, &(struct timeval){ (time_t)(wait / 1000000000ULL), (suseconds_t)(wait % 1000000000ULL / 1000) });
}

static void session_tick(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	uint64_t elapsed = clock_ns(CLOCK_MONOTONIC) - s->start_mono_ns;

	(void)fd;
	(void)what;
	if (!session_flush(s)) {
		session__end(&s, RPC_INTERNAL, "reading the probe's maps failed", true);
		return;
	}
	/* end on the boundary nearest the duration, not one interval late */
	if (s->duration_ns && elapsed + s->interval_ns / 2 >= s->duration_ns) {
		s->flushed = true;
		session__end(&s, RPC_OK, "duration reached", true);
		return;
	}
	session_schedule_tick(s);
}

static int validate(const struct agent_config *cfg, const Tracectl__AttachRequest *req, char *why, size_t len)
{
	char a[32], b[32];

	if (req->interval_ns < cfg->min_interval_ns || req->interval_ns > 3600ULL * 1000000000ULL) {
		snprintf(why, len, "interval %s out of range [%s, 1h]", duration_format(req->interval_ns, a, sizeof(a)),
			 duration_format(cfg->min_interval_ns, b, sizeof(b)));
		return RPC_INVALID_ARGUMENT;
	}
	if (req->duration_ns > cfg->max_duration_ns) {
		snprintf(why, len, "duration %s exceeds this agent's limit of %s",
			 duration_format(req->duration_ns, a, sizeof(a)),
			 duration_format(cfg->max_duration_ns, b, sizeof(b)));
		return RPC_INVALID_ARGUMENT;
	}
	return RPC_OK;
}

static void send_attached(struct session *s, uint64_t load_ns)
{
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__Attached attached = TRACECTL__ATTACHED__INIT;

	attached.session_id = s->id;
	attached.hook = (char *)s->probe->hook;
	attached.load_ns = load_ns;
	resp.result_case = TRACECTL__RESPONSE__RESULT_ATTACHED;
	resp.attached = &attached;
	rpc_send(session_out(s), s->stream_id, FRAME_DATA, &resp.base, s->conn->agent->cfg.max_message);
}

/* Allocates what the probe's kind needs; false when out of memory. */
static bool session_alloc_results(struct session *s)
{
	const struct probe_desc *p = s->probe;

	hist_set_init(&s->window_hists);
	hist_set_init(&s->total_hists);
	memset(&s->window_counts, 0, sizeof(s->window_counts));
	memset(&s->total_counts, 0, sizeof(s->total_counts));
	if (p->kind == PROBE_COUNTS &&
	    (count_table_init(&s->window_counts, p->nkeys, p->key_names, p->nvalues, p->value_names) ||
	     count_table_init(&s->total_counts, p->nkeys, p->key_names, p->nvalues, p->value_names)))
		return false;
	if (p->kind == PROBE_EVENTS) {
		s->sink = event_sink_new(session_flush_events, s);
		if (!s->sink)
			return false;
	}
	return true;
}

void session_start(struct conn *conn, uint32_t stream_id, const Tracectl__AttachRequest *req)
{
	struct agent *agent = conn->agent;
	struct evbuffer *out = bufferevent_get_output(conn->bev);
	const struct probe_desc *probe = catalog_find(req->probe);
	struct session *s = NULL;
	struct probe_params params;
	char why[512];
	uint64_t t0;
	int code, err;

	if (!probe) {
		snprintf(why, sizeof(why), "unknown probe '%.64s' (tracectl probes HOST lists them)", req->probe);
		rpc_send_status(out, stream_id, RPC_NOT_FOUND, why, agent->cfg.max_message);
		return;
	}
	code = validate(&agent->cfg, req, why, sizeof(why));
	if (code == RPC_OK && catalog_parse_params(probe, req->params, req->n_params, &params, why, sizeof(why)))
		code = RPC_INVALID_ARGUMENT;
	if (code != RPC_OK) {
		rpc_send_status(out, stream_id, code, why, agent->cfg.max_message);
		return;
	}
	if (probe->supported(why, sizeof(why))) {
		rpc_send_status(out, stream_id, RPC_FAILED_PRECONDITION, why, agent->cfg.max_message);
		return;
	}
	if (agent->nsessions >= agent->cfg.max_sessions || agent->stopping) {
		snprintf(why, sizeof(why), "agent at its limit of %u sessions", agent->cfg.max_sessions);
		rpc_send_status(out, stream_id, RPC_RESOURCE_EXHAUSTED, why, agent->cfg.max_message);
		return;
	}

	s = calloc(1, sizeof(*s));
	if (!s) {
		rpc_send_status(out, stream_id, RPC_INTERNAL, "agent out of memory", agent->cfg.max_message);
		return;
	}
	s->conn = conn;
	s->stream_id = stream_id;
	s->id = ++agent->next_session_id;
	s->probe = probe;
	s->params = params;
	s->interval_ns = req->interval_ns;
	s->duration_ns = req->duration_ns;
	LIST_INSERT_HEAD(&conn->sessions, s, link);
	agent->nsessions++;
	/* from here on, session__end undoes whatever part was set up */
	s->tick = event_new(agent->base, -1, 0, session_tick, s);
	if (!s->tick || !session_alloc_results(s)) {
		rpc_send_status(out, stream_id, RPC_INTERNAL, "agent out of memory", agent->cfg.max_message);
		session__end(&s, RPC_INTERNAL, "out of memory", false);
		return;
	}

	/* Loading and verifying runs on the loop thread: tens of ms once per attach. */
	t0 = clock_ns(CLOCK_MONOTONIC);
	err = probe->open(&s->params, &s->probe_state, why, sizeof(why));
	if (!err && probe->kind == PROBE_EVENTS) {
		s->ring_ready = event_new(agent->base, probe->event_fd(s->probe_state), EV_READ | EV_PERSIST,
					  session_ring_ready, s);
		/* also on a timer: probes that skip most ring-buffer wakeups rely on it */
		if (!s->ring_ready || event_add(s->ring_ready, &event_drain_interval)) {
			snprintf(why, sizeof(why), "cannot watch the %s ring buffer", probe->name);
			err = -ENOMEM;
		}
	}
	if (err) {
		log_warn("session %llu (%s, %s on %s): %s", (unsigned long long)s->id, conn->identity, probe->name,
			 conn->peer, why);
		rpc_send_status(out, stream_id, RPC_INTERNAL, why, agent->cfg.max_message);
		session__end(&s, RPC_INTERNAL, why, false);
		return;
	}
	s->start_mono_ns = clock_ns(CLOCK_MONOTONIC);
	s->start_unix_ns = s->window_start_unix_ns = clock_ns(CLOCK_REALTIME);
	send_attached(s, s->start_mono_ns - t0);
	session_schedule_tick(s);
	log_info("session %llu (%s, %s on %s) attached: pid=%u comm='%s' port=%u target='%s' interval=%llums "
		 "duration=%llums (loaded in %.1f ms)",
		 (unsigned long long)s->id, conn->identity, probe->name, conn->peer, params.pid, params.comm,
		 params.port, params.target, (unsigned long long)(s->interval_ns / 1000000),
		 (unsigned long long)(s->duration_ns / 1000000), (double)(s->start_mono_ns - t0) / 1e6);
}
