/* SPDX-License-Identifier: Apache-2.0 */
/* Attach sessions: one probe instance per stream, a snapshot every interval. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "duration.h"
#include "func_target.h"
#include "kernel_env.h"
#include "log.h"

struct session *conn_find_session(struct conn *conn, uint32_t stream_id)
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

static void fill_provenance(const struct session *s, Tracectl__Provenance *p)
{
	tracectl__provenance__init(p);
	p->hook = (char *)s->hook;
	p->kernel_release = (char *)kernel_env_release();
	p->btf_source = (char *)kernel_env_btf_source();
	p->agent_version = TRACECTL_VERSION;
	p->sample_one_in = s->sample_one_in;
	p->relative_error = s->probe->kind == PROBE_HISTOGRAM ? hist_relative_error() : 0;
	p->budget_ppm = s->budget_ppm;
}

/* Sends one snapshot: the window (summary false) or the whole session. */
static int session_send_snapshot(struct session *s, bool summary, uint64_t start_ns, uint64_t end_ns,
				 const Tracectl__Cost *cost)
{
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__Snapshot snap = TRACECTL__SNAPSHOT__INIT;
	Tracectl__Provenance prov;
	Tracectl__Cost total = TRACECTL__COST__INIT;
	size_t top = s->params.top && s->params.top < COUNT_TABLE_MAX_ROWS ? s->params.top : COUNT_TABLE_MAX_ROWS;
	int err;

	snap.seq = ++s->seq;
	snap.start_unix_ns = start_ns;
	snap.end_unix_ns = end_ns;
	snap.summary = summary;
	snap.dropped_snapshots = s->dropped;
	if (summary || s->provenance_changed) {
		fill_provenance(s, &prov);
		snap.provenance = &prov;
		s->provenance_changed = false;
	}
	if (summary) {
		total.events = s->cost_events_total;
		total.kernel_ns = s->cost_kernel_total;
		total.agent_cpu_ns = s->agent_cpu_total;
		total.window_ns = end_ns - start_ns;
		total.kernel_stats = s->conn->agent->stats_fd >= 0;
		snap.cost = &total;
	} else {
		snap.cost = (Tracectl__Cost *)cost;
	}
	err = result_encode(summary ? &s->total : &s->window, top, &s->pb, &snap);
	if (err)
		goto cleanup;
	resp.result_case = TRACECTL__RESPONSE__RESULT_SNAPSHOT;
	resp.snapshot = &snap;
	err = rpc_send(session_out(s), s->stream_id, FRAME_DATA, &resp.base, s->conn->agent->cfg.max_message);
cleanup:
	result_pb_done(&s->pb);
	return err;
}

/* Sends what the sink holds as one EventBatch (or drops it, counted). */
static void session_flush_events(struct event_sink *sink, void *arg)
{
	struct session *s = arg;
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__EventBatch batch;

	if (sink->rate_dropped) {
		s->window.events_dropped += sink->rate_dropped;
		s->total.events_dropped += sink->rate_dropped;
		s->events_dropped_unreported += sink->rate_dropped;
		sink->rate_dropped = 0;
	}
	if (!sink->n)
		return;
	if (client_is_slow(s)) {
		s->window.events_dropped += sink->n;
		s->total.events_dropped += sink->n;
		s->events_dropped_unreported += sink->n;
		return;
	}
	event_sink_message(sink, &batch);
	batch.dropped = s->events_dropped_unreported;
	resp.result_case = TRACECTL__RESPONSE__RESULT_EVENTS;
	resp.events = &batch;
	if (rpc_send(session_out(s), s->stream_id, FRAME_DATA, &resp.base, s->conn->agent->cfg.max_message) == 0) {
		s->events_dropped_unreported = 0;
		s->window.events += sink->n;
		s->total.events += sink->n;
	} else {
		s->window.events_dropped += sink->n;
		s->total.events_dropped += sink->n;
		s->events_dropped_unreported += sink->n;
	}
}

static void session_ring_ready(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int n;

	uint64_t cpu0 = cost_thread_cpu_ns();

	(void)fd;
	(void)what;
	n = s->probe->drain_events(s->probe_state, s->sink);
	if (n < 0)
		log_warn("session %llu: draining %s events: %s", (unsigned long long)s->id, s->probe->name,
			 strerror(-n));
	session_flush_events(s->sink, s);
	event_sink_reset(s->sink);
	s->agent_cpu_window += cost_thread_cpu_ns() - cpu0;
}

/* Reads the probe and sends the window since the last flush; false when reading failed. */
/* Sampled 1 in N: what was seen stands for N times as much; say so in provenance. */
static void scale_window(struct session *s)
{
	uint32_t n = s->sample_one_in;

	if (n <= 1)
		return;
	for (size_t i = 0; i < s->window.hists.n; i++)
		hist_scale(s->window.hists.hists[i], n);
	for (size_t r = 0; r < s->window.counts.nrows; r++)
		for (size_t v = 0; v < s->window.counts.nvalues; v++)
			s->window.counts.rows[r].values[v] *= n;
}

/* The window's cost from the kernel's accounting of the session's programs. */
static void measure_cost(struct session *s, uint64_t window_ns, Tracectl__Cost *cost)
{
	uint64_t cnt = 0, ns = 0;

	tracectl__cost__init(cost);
	cost->window_ns = window_ns;
	cost->agent_cpu_ns = s->agent_cpu_window;
	cost->kernel_stats = s->conn->agent->stats_fd >= 0 && s->nprogs > 0;
	if (cost->kernel_stats && cost_read(s->prog_fds, s->nprogs, &cnt, &ns) == 0) {
		cost->events = cnt - s->run_cnt_seen;
		cost->kernel_ns = ns - s->run_ns_seen;
		s->run_cnt_seen = cnt;
		s->run_ns_seen = ns;
	}
	s->cost_events_total += cost->events;
	s->cost_kernel_total += cost->kernel_ns;
	s->agent_cpu_total += s->agent_cpu_window;
	s->agent_cpu_window = 0;
	s->last_overhead_ppm = window_ns ? (cost->kernel_ns + cost->agent_cpu_ns) * 1000000ULL / window_ns : 0;
}

/* Reads the probe and sends the window since the last flush; false when reading failed. */
static bool session_flush(struct session *s)
{
	uint64_t now_unix = clock_ns(CLOCK_REALTIME), cpu0 = cost_thread_cpu_ns();
	Tracectl__Cost cost;
	int err = 0;

	if (s->probe->kind != PROBE_EVENTS) {
		size_t left_out = s->total.series_left_out;
		char why[128];

		err = catalog_read_window(s->probe, s->probe_state, &s->window);
		scale_window(s);
		if (!err && result_merge(&s->total, &s->window, NULL, why, sizeof(why)))
			err = -EPROTO;
		if (s->total.series_left_out > left_out && !left_out)
			log_warn("session %llu: more than %d series, the rest are left out", (unsigned long long)s->id,
				 HIST_SET_MAX);
	} else {
		uint64_t lost = s->probe->events_lost ? s->probe->events_lost(s->probe_state) : 0;

		/* what is still in the ring belongs to this window */
		session_ring_ready(-1, 0, s);
		s->window.events_dropped += lost - s->kernel_lost_seen;
		s->total.events_dropped += lost - s->kernel_lost_seen;
		s->events_dropped_unreported += lost - s->kernel_lost_seen;
		s->kernel_lost_seen = lost;
	}
	if (err) {
		log_warn("session %llu: reading %s: %s", (unsigned long long)s->id, s->probe->name, strerror(-err));
		return false;
	}
	s->agent_cpu_window += cost_thread_cpu_ns() - cpu0;
	measure_cost(s, now_unix - s->window_start_unix_ns, &cost);
	if (client_is_slow(s))
		s->dropped++;
	else
		session_send_snapshot(s, false, s->window_start_unix_ns, now_unix, &cost);
	s->window_start_unix_ns = now_unix;
	s->window.events = 0;
	s->window.events_dropped = 0;
	return true;
}

/*
 * Over budget: sample where the probe can (1 in 4, 16, 64), and when it cannot
 * or that was not enough, end the session. Returns false when it ended.
 */
static bool session_check_budget(struct session **sp)
{
	struct session *s = *sp;
	char why[256];

	/* the first window is partial and carries the attach itself: judge full ones */
	if (!s->budget_ppm || s->seq <= 1 || s->last_overhead_ppm <= s->budget_ppm)
		return true;
	if (s->probe->set_sampling && s->sample_one_in < 64 &&
	    s->probe->set_sampling(s->probe_state, s->sample_one_in * 4) == 0) {
		s->sample_one_in *= 4;
		s->provenance_changed = true;
		log_warn("session %llu (%s): overhead %.2f%% of a core over its %.2f%% budget: now sampling 1 in %u",
			 (unsigned long long)s->id, s->probe->name, s->last_overhead_ppm / 1e4, s->budget_ppm / 1e4,
			 s->sample_one_in);
		return true;
	}
	snprintf(why, sizeof(why), "overhead %.2f%% of a core exceeds the session's budget of %.2f%%%s",
		 s->last_overhead_ppm / 1e4, s->budget_ppm / 1e4,
		 s->sample_one_in > 1 ? " even when sampling" : " and the probe cannot sample");
	session_end(sp, RPC_RESOURCE_EXHAUSTED, why, true);
	return false;
}

static const char *status_name(enum rpc_status code)
{
	switch (code) {
	case RPC_OK:
		return "ok";
	case RPC_CANCELLED:
		return "cancelled";
	case RPC_INVALID_ARGUMENT:
		return "invalid_argument";
	case RPC_NOT_FOUND:
		return "not_found";
	case RPC_PERMISSION_DENIED:
		return "permission_denied";
	case RPC_RESOURCE_EXHAUSTED:
		return "resource_exhausted";
	case RPC_FAILED_PRECONDITION:
		return "failed_precondition";
	case RPC_INTERNAL:
		return "internal";
	case RPC_UNAVAILABLE:
		return "unavailable";
	}
	return "unknown";
}

/* Who asked: the fields every audit line of a connection carries. */
static void audit_who(struct audit_line *l, const struct conn *conn, uint32_t stream_id)
{
	audit_line_str(l, "peer", conn->peer);
	audit_line_str(l, "identity", conn->ident.cn);
	for (size_t i = 0; i < conn->ident.ndns; i++)
		audit_line_str(l, "san_dns", conn->ident.dns[i]);
	audit_line_u64(l, "connection", conn->id);
	audit_line_u64(l, "stream", stream_id);
}

/* One line per Attach decision: allowed, denied by the policy, or refused otherwise. */
static void audit_attach(const struct conn *conn, uint32_t stream_id, const Tracectl__AttachRequest *req,
			 const struct probe_params *params, enum rpc_status code, const char *rule, const char *why,
			 uint64_t session_id)
{
	struct audit_line *l;

	if (!conn->agent->audit)
		return;
	l = malloc(sizeof(*l));
	if (!l) {
		log_error("audit: out of memory, attach decision for %s not logged", conn->peer);
		return;
	}
	audit_line_begin(l, "attach");
	audit_who(l, conn, stream_id);
	audit_line_str(l, "probe", req->probe);
	audit_line_open(l, "params");
	for (size_t i = 0; i < req->n_params; i++)
		audit_line_str(l, req->params[i]->name, req->params[i]->value);
	audit_line_close(l);
	if (params->func) {
		/* the file the decision and the uprobes are about, not the name the client sent */
		audit_line_str(l, "target_resolved", params->func->resolved);
		audit_line_u64(l, "target_dev", params->func->dev);
		audit_line_u64(l, "target_inode", params->func->ino);
	}
	audit_line_u64(l, "duration_ns", req->duration_ns);
	audit_line_u64(l, "interval_ns", req->interval_ns);
	audit_line_str(l, "decision", code == RPC_OK ? "allowed" : code == RPC_PERMISSION_DENIED ? "denied" : "refused");
	audit_line_str(l, "code", status_name(code));
	if (rule && *rule)
		audit_line_str(l, "rule", rule);
	if (why && *why)
		audit_line_str(l, "reason", why);
	if (session_id)
		audit_line_u64(l, "session_id", session_id);
	if (audit_write(conn->agent->audit, l))
		log_error("audit: cannot write to the audit log: %s", strerror(errno));
	free(l);
}

static void audit_session_end(const struct session *s, enum rpc_status code, const char *why)
{
	struct audit_line *l;

	if (!s->conn->agent->audit)
		return;
	l = malloc(sizeof(*l));
	if (!l) {
		log_error("audit: out of memory, end of session %llu not logged", (unsigned long long)s->id);
		return;
	}
	audit_line_begin(l, "session_end");
	audit_who(l, s->conn, s->stream_id);
	audit_line_u64(l, "session_id", s->id);
	audit_line_str(l, "probe", s->probe->name);
	audit_line_str(l, "reason", why);
	audit_line_str(l, "code", status_name(code));
	audit_line_u64(l, "elapsed_ns", clock_ns(CLOCK_MONOTONIC) - s->start_mono_ns);
	audit_line_u64(l, "snapshots", s->seq);
	audit_line_u64(l, "snapshots_dropped", s->dropped);
	audit_line_u64(l, "events_sent", s->total.events);
	audit_line_u64(l, "events_dropped", s->total.events_dropped);
	if (audit_write(s->conn->agent->audit, l))
		log_error("audit: cannot write to the audit log: %s", strerror(errno));
	free(l);
}

uint32_t agent_identity_sessions(struct agent *agent, const char *cn)
{
	struct conn *c;
	uint32_t n = 0;

	LIST_FOREACH(c, &agent->conns, link)
		if (strcmp(c->ident.cn, cn) == 0)
			n += c->nsessions;
	return n;
}

void session_end(struct session **sp, enum rpc_status code, const char *why, bool send_status)
{
	struct session *s = *sp;
	struct agent *agent;

	if (!s)
		return;
	agent = s->conn->agent;
	if (send_status) {
		/* the last (partial) window, then the summary: the sum of the windows */
		if (s->flushed || session_flush(s))
			session_send_snapshot(s, true, s->start_unix_ns, clock_ns(CLOCK_REALTIME), NULL);
		rpc_send_status(session_out(s), s->stream_id, code, why, agent->cfg.max_message);
	}
	log_info("session %llu (%s, %s on %s) ended: %s; %llu snapshots, %llu dropped", (unsigned long long)s->id,
		 s->conn->identity, s->probe->name, s->conn->peer, why, (unsigned long long)s->seq,
		 (unsigned long long)s->dropped);
	if (s->start_mono_ns)
		audit_session_end(s, code, why);
	if (s->tick)
		event_free(s->tick);
	if (s->ring_ready)
		event_free(s->ring_ready);
	catalog_close(&s->probe_state);
	catalog_params_release(&s->params);
	LIST_REMOVE(s, link);
	agent->nsessions--;
	s->conn->nsessions--;
	result_free(&s->window);
	result_free(&s->total);
	result_pb_free(&s->pb);
	free(s->sink);
	free(s);
	*sp = NULL;
}

/*
 * Windows end on the wall clock at the client's phase plus multiples of the
 * interval, so that the same window from every host of a fleet covers the same
 * time (clients merge by window end). The first window is the remainder up to
 * the first boundary. Rearmed every tick from the clock, so timer drift never
 * accumulates. Returns when the window ends (wall clock).
 */
static uint64_t session_schedule_tick(struct session *s)
{
	uint64_t now, next, wait;

	/* libevent measures timeouts from its cached loop time: after a slow BPF load
	 * in this same callback that cache is stale, and the tick would fire early */
	event_base_update_cache_time(s->conn->agent->base);
	now = clock_ns(CLOCK_REALTIME);
	next = (now - s->phase_ns) / s->interval_ns * s->interval_ns + s->interval_ns + s->phase_ns;
	wait = next - now;
	/* a first window shorter than a tenth of the interval joins the next one; so does a
	 * window after a tick that fired a little before its boundary (libevent's clock is not
	 * the wall clock): else a window of a few ms follows, in the same bucket for the CLI */
	if (wait < s->interval_ns / 10) {
		wait += s->interval_ns;
		next += s->interval_ns;
	}
	event_add(s->tick, &(struct timeval){ (time_t)(wait / 1000000000ULL), (suseconds_t)(wait % 1000000000ULL / 1000) });
	return next;
}

static void session_tick(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	uint64_t elapsed = clock_ns(CLOCK_MONOTONIC) - s->start_mono_ns;

	(void)fd;
	(void)what;
	if (!session_flush(s)) {
		session_end(&s, RPC_INTERNAL, "reading the probe's maps failed", true);
		return;
	}
	s->flushed = true;
	if (!session_check_budget(&s))
		return;
	/* end on the boundary nearest the duration (the lease), not one interval late */
	if (elapsed + s->interval_ns / 2 >= s->duration_ns) {
		session_end(&s, RPC_OK, s->lease_only ? "lease expired" : "duration reached", true);
		return;
	}
	s->flushed = false;
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

static void send_attached(struct session *s, uint64_t load_ns, uint64_t first_window_end_unix_ns)
{
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__Attached attached = TRACECTL__ATTACHED__INIT;

	Tracectl__Provenance prov;

	fill_provenance(s, &prov);
	attached.session_id = s->id;
	attached.hook = (char *)s->hook;
	attached.load_ns = load_ns;
	attached.provenance = &prov;
	attached.first_window_end_unix_ns = first_window_end_unix_ns;
	attached.kind = (Tracectl__ResultKind)s->probe->kind;
	resp.result_case = TRACECTL__RESPONSE__RESULT_ATTACHED;
	resp.attached = &attached;
	rpc_send(session_out(s), s->stream_id, FRAME_DATA, &resp.base, s->conn->agent->cfg.max_message);
}

/* Allocates what the probe's kind needs; false when out of memory. */
static bool session_alloc_results(struct session *s)
{
	const struct probe_desc *p = s->probe;

	/* a session may last a day while the traced host names new files, flows and
	 * stacks: what it holds stays bounded */
	if (catalog_results_init(p, &s->params, &s->window, &s->total, COUNT_TABLE_MAX_ROWS))
		return false;
	if (p->kind == PROBE_EVENTS) {
		s->sink = event_sink_new(session_flush_events, s);
		if (!s->sink)
			return false;
	}
	return true;
}

/* What an Attach request was admitted with, and why it was not: owned by session_start. */
struct admission {
	const struct probe_desc *probe;
	struct probe_params params; /* the session takes func (the target binary) over */
	struct policy_decision decision;
	char why[800];
};

/* Checks the request against the catalog, the policy and the agent's limits, before
 * anything is loaded. Returns RPC_OK, or the refusal's code with a->why set. */
static int session_admit(struct conn *conn, const Tracectl__AttachRequest *req, struct admission *a)
{
	struct agent *agent = conn->agent;
	struct policy_request preq;
	char reason[512];
	int code;

	a->probe = catalog_find(req->probe);
	if (!a->probe) {
		snprintf(a->why, sizeof(a->why), "unknown probe '%.64s' (tracectl probes HOST lists them)", req->probe);
		return RPC_NOT_FOUND;
	}
	code = validate(&agent->cfg, req, a->why, sizeof(a->why));
	if (code == RPC_OK && catalog_parse_params(a->probe, req->params, req->n_params, &a->params, a->why,
						   sizeof(a->why)))
		code = RPC_INVALID_ARGUMENT;
	if (code != RPC_OK)
		return code;
	preq = (struct policy_request){
		.probe = a->probe,
		.params = &a->params,
		.duration_ns = req->duration_ns,
		.identity_sessions = agent_identity_sessions(agent, conn->ident.cn),
	};
	policy_check(&agent->policy, &conn->ident, &preq, &a->decision);
	/* only an authorized request may make the agent look at the files it names */
	if (a->decision.allowed) {
		if (catalog_validate_params(a->probe, &a->params, a->why, sizeof(a->why)))
			return RPC_INVALID_ARGUMENT;
		if (a->params.func)
			policy_check_target_file(&agent->policy, a->params.func->resolved, a->params.func->ino,
						 &a->decision);
	}
	if (!a->decision.allowed) {
		log_warn("connection %llu from %s (%s): %s", (unsigned long long)conn->id, conn->peer, conn->identity,
			 a->decision.message);
		snprintf(a->why, sizeof(a->why), "%s", a->decision.message);
		return RPC_PERMISSION_DENIED;
	}
	if (catalog_supported(a->probe, reason, sizeof(reason))) {
		snprintf(a->why, sizeof(a->why), "%s is not supported on this kernel (%s): %s", a->probe->name,
			 kernel_env_release(), reason);
		return RPC_FAILED_PRECONDITION;
	}
	if (agent->nsessions >= agent->cfg.max_sessions || agent->stopping) {
		snprintf(a->why, sizeof(a->why), "agent at its limit of %u sessions", agent->cfg.max_sessions);
		return RPC_RESOURCE_EXHAUSTED;
	}
	if (conn->nsessions >= agent->cfg.max_conn_sessions) {
		snprintf(a->why, sizeof(a->why),
			 "connection at its limit of %u concurrent sessions (--max-conn-sessions)",
			 agent->cfg.max_conn_sessions);
		return RPC_RESOURCE_EXHAUSTED;
	}
	return RPC_OK;
}

/* The tighter of the client's budget and the agent's; 0 on either side means none. */
static uint32_t session_budget_ppm(uint32_t requested, uint32_t agent_max)
{
	return requested && (!agent_max || requested < agent_max) ? requested : agent_max;
}

/* Makes the session object of an admitted request, on its connection, with its timer
 * and result buffers; nothing is loaded yet. Returns NULL when out of memory, with
 * nothing left behind. */
static struct session *session_create(struct conn *conn, uint32_t stream_id, const Tracectl__AttachRequest *req,
				      struct admission *a)
{
	struct agent *agent = conn->agent;
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->conn = conn;
	s->stream_id = stream_id;
	s->id = ++agent->next_session_id;
	s->probe = a->probe;
	s->hook = catalog_hook(a->probe, &a->params);
	s->params = a->params;
	a->params.func = NULL; /* the session's now */
	s->interval_ns = req->interval_ns;
	s->phase_ns = req->align_unix_ns % req->interval_ns;
	/* every session is a lease: "until cancelled" still ends at the agent's limit */
	s->duration_ns = req->duration_ns ? req->duration_ns : agent->cfg.max_duration_ns;
	s->lease_only = !req->duration_ns;
	s->budget_ppm = session_budget_ppm(req->max_overhead_ppm, agent->cfg.max_overhead_ppm);
	s->sample_one_in = 1;
	s->max_event_rate = a->decision.max_event_rate;
	snprintf(s->rule, sizeof(s->rule), "%s", a->decision.rule);
	LIST_INSERT_HEAD(&conn->sessions, s, link);
	agent->nsessions++;
	conn->nsessions++;
	/* from here on, session_end undoes whatever part was set up */
	s->tick = event_new(agent->base, -1, 0, session_tick, s);
	if (!s->tick || !session_alloc_results(s)) {
		session_end(&s, RPC_INTERNAL, "out of memory", false);
		return NULL;
	}
	if (s->sink)
		s->sink->rate_limit = s->max_event_rate;
	return s;
}

/* Loads and attaches the session's probe and watches its ring buffer. Returns 0, or
 * -errno with why set; the caller ends the session. Loading and verifying runs on the
 * loop thread: tens of ms once per attach. */
static int session_open(struct session *s, char *why, size_t len)
{
	const struct probe_desc *probe = s->probe;
	int err = catalog_open(probe, &s->params, &s->probe_state, why, len);

	/* the programs of the object it loaded are the session's: their stats are its cost */
	if (!err)
		s->nprogs = cost_object_prog_fds(catalog_object(s->probe_state), s->prog_fds, COST_MAX_PROGS);
	/* where the probe has hook variants, the one that loaded just now */
	s->hook = catalog_hook(probe, &s->params);
	if (err || probe->kind != PROBE_EVENTS)
		return err;
	s->ring_ready = event_new(s->conn->agent->base, probe->event_fd(s->probe_state), EV_READ | EV_PERSIST,
				  session_ring_ready, s);
	/* also on a timer: probes that skip most ring-buffer wakeups rely on it */
	if (!s->ring_ready || event_add(s->ring_ready, &event_drain_interval)) {
		snprintf(why, len, "cannot watch the %s ring buffer", probe->name);
		return -ENOMEM;
	}
	return 0;
}

/* The session's first windows start now: audits, answers Attached and arms the tick. */
static void session_begin(struct session *s, const Tracectl__AttachRequest *req, uint64_t t0)
{
	struct conn *conn = s->conn;

	s->start_mono_ns = clock_ns(CLOCK_MONOTONIC);
	s->start_unix_ns = s->window_start_unix_ns = clock_ns(CLOCK_REALTIME);
	audit_attach(conn, s->stream_id, req, &s->params, RPC_OK, s->rule, "", s->id);
	send_attached(s, s->start_mono_ns - t0, session_schedule_tick(s));
	log_info("session %llu (%s, %s on %s) attached: pid=%u comm='%s' port=%u target='%s' interval=%llums "
		 "duration=%llums (loaded in %.1f ms)",
		 (unsigned long long)s->id, conn->identity, s->probe->name, conn->peer, s->params.pid,
		 s->params.comm, s->params.port, s->params.target, (unsigned long long)(s->interval_ns / 1000000),
		 (unsigned long long)(s->duration_ns / 1000000), (double)(s->start_mono_ns - t0) / 1e6);
}

void session_start(struct conn *conn, uint32_t stream_id, const Tracectl__AttachRequest *req)
{
	struct admission a = { 0 };
	struct session *s;
	uint64_t t0;
	int code;

	code = session_admit(conn, req, &a);
	if (code != RPC_OK)
		goto refuse;
	s = session_create(conn, stream_id, req, &a);
	if (!s) {
		snprintf(a.why, sizeof(a.why), "agent out of memory");
		code = RPC_INTERNAL;
		goto refuse;
	}
	t0 = clock_ns(CLOCK_MONOTONIC);
	if (session_open(s, a.why, sizeof(a.why))) {
		log_warn("session %llu (%s, %s on %s): %s", (unsigned long long)s->id, conn->identity, s->probe->name,
			 conn->peer, a.why);
		session_end(&s, RPC_INTERNAL, a.why, false);
		code = RPC_INTERNAL;
		goto refuse;
	}
	session_begin(s, req, t0);
	return;

refuse:
	audit_attach(conn, stream_id, req, &a.params, code, a.decision.rule, a.why, 0);
	catalog_params_release(&a.params);
	rpc_send_status(bufferevent_get_output(conn->bev), stream_id, code, a.why, conn->agent->cfg.max_message);
}
