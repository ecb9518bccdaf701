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

/* Sends one snapshot of hists[0..nseries); summary marks the cumulative one. */
static int session_send_snapshot(struct session *s, const struct hist *hists, bool summary, uint64_t start_ns,
				 uint64_t end_ns)
{
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__Snapshot snap = TRACECTL__SNAPSHOT__INIT;
	Tracectl__Series series[PROBE_MAX_SERIES];
	Tracectl__Series *series_ptrs[PROBE_MAX_SERIES];

	for (size_t i = 0; i < s->probe->nseries; i++) {
		tracectl__series__init(&series[i]);
		hist_pb_fill(&s->encoded[i], &hists[i]);
		series[i].label = (char *)s->probe->series_labels[i];
		series[i].hist = &s->encoded[i].msg;
		series_ptrs[i] = &series[i];
	}
	snap.seq = ++s->seq;
	snap.start_unix_ns = start_ns;
	snap.end_unix_ns = end_ns;
	snap.summary = summary;
	snap.n_series = s->probe->nseries;
	snap.series = series_ptrs;
	snap.dropped_snapshots = s->dropped;
	resp.result_case = TRACECTL__RESPONSE__RESULT_SNAPSHOT;
	resp.snapshot = &snap;
	return rpc_send(session_out(s), s->stream_id, FRAME_DATA, &resp.base, s->conn->agent->cfg.max_message);
}

static bool session_flush(struct session *s);

void session__end(struct session **sp, enum rpc_status code, const char *why, bool send_status)
{
	struct session *s = *sp;
	struct agent *agent;

	if (!s)
		return;
	agent = s->conn->agent;
	if (send_status) {
		/* the last (partial) window, then the summary: cumulative since attach,
		 * equal to the sum of the windows, with the kernel's exact max */
		if (s->flushed || session_flush(s))
			session_send_snapshot(s, s->before, true, s->start_unix_ns, clock_ns(CLOCK_REALTIME));
		rpc_send_status(session_out(s), s->stream_id, code, why, agent->cfg.max_message);
	}
	log_info("session %llu (%s, %s on %s) ended: %s; %llu snapshots, %llu dropped", (unsigned long long)s->id,
		 s->conn->identity, s->probe->name, s->conn->peer, why, (unsigned long long)s->seq,
		 (unsigned long long)s->dropped);
	if (s->tick)
		event_free(s->tick);
	s->probe->close(&s->probe_state);
	LIST_REMOVE(s, link);
	agent->nsessions--;
	free(s->before);
	free(s->now);
	free(s->window);
	free(s->encoded);
	free(s);
	*sp = NULL;
}

/* Reads the probe and sends the window since the last flush; false when reading failed. */
static bool session_flush(struct session *s)
{
	uint64_t now_unix = clock_ns(CLOCK_REALTIME);
	size_t n = s->probe->nseries;
	int err;

	err = s->probe->read(s->probe_state, s->now);
	if (err) {
		log_warn("session %llu: reading %s maps failed: %s", (unsigned long long)s->id, s->probe->name,
			 strerror(-err));
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (hist_delta(&s->window[i], &s->now[i], &s->before[i]))
			hist_reset(&s->window[i]);
	memcpy(s->before, s->now, n * sizeof(*s->now));
	/* a client that does not keep up loses snapshots, counted, instead of the
	 * agent buffering without bound */
	if (evbuffer_get_length(session_out(s)) > CONN_MAX_PENDING_OUTPUT)
		s->dropped++;
	else
		session_send_snapshot(s, s->window, false, s->window_start_unix_ns, now_unix);
	s->window_start_unix_ns = now_unix;
	return true;
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
	/* end on the tick nearest the duration, not one interval late */
	if (s->duration_ns && elapsed + s->interval_ns / 2 >= s->duration_ns) {
		s->flushed = true;
		session__end(&s, RPC_OK, "duration reached", true);
	}
}

static int validate(const struct agent_config *cfg, const struct probe_desc *probe,
		    const Tracectl__AttachRequest *req, struct probe_params *params, char *why, size_t len)
{
	const Tracectl__Filters *f = req->filters;
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
	memset(params, 0, sizeof(*params));
	if (!f)
		return RPC_OK;
	if ((f->pid && !(probe->params & PROBE_PARAM_PID)) || (f->comm[0] && !(probe->params & PROBE_PARAM_COMM)) ||
	    (f->port && !(probe->params & PROBE_PARAM_PORT))) {
		snprintf(why, len, "probe %s does not take that filter", probe->name);
		return RPC_INVALID_ARGUMENT;
	}
	if (f->pid > 4194304) { /* PID_MAX_LIMIT */
		snprintf(why, len, "pid %u out of range", f->pid);
		return RPC_INVALID_ARGUMENT;
	}
	if (strlen(f->comm) >= PROBE_COMM_LEN) {
		snprintf(why, len, "comm '%.32s' longer than %d bytes", f->comm, PROBE_COMM_LEN - 1);
		return RPC_INVALID_ARGUMENT;
	}
	if (f->port > 65535) {
		snprintf(why, len, "port %u out of range", f->port);
		return RPC_INVALID_ARGUMENT;
	}
	params->pid = f->pid;
	memcpy(params->comm, f->comm, strlen(f->comm));
	params->port = (uint16_t)f->port;
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
	code = validate(&agent->cfg, probe, req, &params, why, sizeof(why));
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
	if (!s)
		goto oom;
	s->conn = conn;
	s->stream_id = stream_id;
	s->id = ++agent->next_session_id;
	s->probe = probe;
	s->params = params;
	s->interval_ns = req->interval_ns;
	s->duration_ns = req->duration_ns;
	s->before = calloc(probe->nseries, sizeof(*s->before));
	s->now = calloc(probe->nseries, sizeof(*s->now));
	s->window = calloc(probe->nseries, sizeof(*s->window));
	s->encoded = calloc(probe->nseries, sizeof(*s->encoded));
	s->tick = event_new(agent->base, -1, EV_PERSIST, session_tick, s);
	if (!s->before || !s->now || !s->window || !s->encoded || !s->tick)
		goto oom;
	for (size_t i = 0; i < probe->nseries; i++)
		hist_reset(&s->before[i]);
	LIST_INSERT_HEAD(&conn->sessions, s, link);
	agent->nsessions++;

	/* Loading and verifying runs on the loop thread: ~100 ms once per attach. */
	t0 = clock_ns(CLOCK_MONOTONIC);
	err = probe->open(&s->params, &s->probe_state, why, sizeof(why));
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
	event_add(s->tick, &(struct timeval){ (time_t)(s->interval_ns / 1000000000ULL),
					      (suseconds_t)(s->interval_ns % 1000000000ULL / 1000) });
	log_info("session %llu (%s, %s on %s) attached: pid=%u comm='%s' port=%u interval=%llums duration=%llums "
		 "(loaded in %.1f ms)",
		 (unsigned long long)s->id, conn->identity, probe->name, conn->peer, params.pid, params.comm,
		 params.port, (unsigned long long)(s->interval_ns / 1000000),
		 (unsigned long long)(s->duration_ns / 1000000), (double)(s->start_mono_ns - t0) / 1e6);
	return;
oom:
	rpc_send_status(out, stream_id, RPC_INTERNAL, "agent out of memory", agent->cfg.max_message);
	/* not yet listed nor counted: only the allocations to undo */
	if (s) {
		if (s->tick)
			event_free(s->tick);
		free(s->before);
		free(s->now);
		free(s->window);
		free(s->encoded);
		free(s);
	}
}
