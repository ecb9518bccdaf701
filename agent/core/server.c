/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's TLS listener and connections: framing, keepalive, unary calls. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "agent.h"
#include "duration.h"
#include "hostport.h"
#include "kernel_env.h"
#include "log.h"
#include "policy.h"
#include "stack_symbols.h"
#include "tls.h"

static int conn_ex_index = -1;

static struct evbuffer *conn_out(struct conn *conn)
{
	return bufferevent_get_output(conn->bev);
}

/* Forgets the waiting calls of conn (all connections': NULL), answering each with code
 * and why unless why is NULL. */
static void drop_waiting_calls(struct agent *agent, struct conn *conn, enum rpc_status code, const char *why)
{
	struct waiting_call *w, *next;

	for (w = TAILQ_FIRST(&agent->waiting); w; w = next) {
		next = TAILQ_NEXT(w, link);
		if (conn && w->conn != conn)
			continue;
		TAILQ_REMOVE(&agent->waiting, w, link);
		w->conn->nwaiting--;
		if (why)
			rpc_send_status(conn_out(w->conn), w->stream_id, code, why, agent->cfg.max_message);
		free(w);
	}
}

void conn_free(struct conn **connp)
{
	struct conn *conn = *connp;
	struct session *s;

	if (!conn)
		return;
	drop_waiting_calls(conn->agent, conn, RPC_OK, NULL);
	/* the client is gone: every probe it owned is detached now */
	while ((s = LIST_FIRST(&conn->sessions)) != NULL)
		session_end(&s, RPC_CANCELLED, "client disconnected", false);
	LIST_REMOVE(conn, link);
	conn->agent->nconns--;
	if (!conn->handshaken)
		conn->agent->nunauth--;
	if (conn->handshake_deadline)
		event_free(conn->handshake_deadline);
	if (conn->more_input)
		event_free(conn->more_input);
	log_info("connection %llu from %s (%s) closed", (unsigned long long)conn->id, conn->peer, conn->identity);
	/* BEV_OPT_CLOSE_ON_FREE: this also frees the SSL object and closes the socket */
	if (conn->bev)
		bufferevent_free(conn->bev);
	free(conn);
	*connp = NULL;
}

static void send_hello(struct conn *conn, uint32_t stream_id)
{
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__HelloResponse hello = TRACECTL__HELLO_RESPONSE__INIT;
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	hello.protocol_version = RPC_PROTOCOL_VERSION;
	hello.protocol_minor = RPC_PROTOCOL_MINOR;
	hello.agent_version = TRACECTL_VERSION;
	hello.kernel_release = (char *)kernel_env_release();
	hello.hostname = host;
	hello.max_message_bytes = conn->agent->cfg.max_message;
	resp.result_case = TRACECTL__RESPONSE__RESULT_HELLO;
	resp.hello = &hello;
	rpc_send(conn_out(conn), stream_id, FRAME_DATA, &resp.base, conn->agent->cfg.max_message);
	rpc_send_status(conn_out(conn), stream_id, RPC_OK, "", conn->agent->cfg.max_message);
}

/* catalog_only: names, kinds and parameters, without the trial loads' verdicts */
static void send_probe_list(struct conn *conn, uint32_t stream_id, bool catalog_only)
{
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__ListProbesResponse list = TRACECTL__LIST_PROBES_RESPONSE__INIT;
	size_t n = catalog_size(), nspecs = catalog_param_count();
	Tracectl__ProbeInfo *infos = calloc(n, sizeof(*infos));
	Tracectl__ProbeInfo **ptrs = calloc(n, sizeof(*ptrs));
	char (*reasons)[256] = calloc(n, sizeof(*reasons));
	/* per probe: its own copy of the specs, since "by" differs per probe */
	Tracectl__ProbeParam *params = calloc(n * nspecs, sizeof(*params));
	Tracectl__ProbeParam **param_ptrs = calloc(n * nspecs, sizeof(*param_ptrs));

	if (!infos || !ptrs || !reasons || !params || !param_ptrs) {
		rpc_send_status(conn_out(conn), stream_id, RPC_INTERNAL, "out of memory", conn->agent->cfg.max_message);
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		const struct probe_desc *d = catalog_at(i);
		size_t np = 0;

		tracectl__probe_info__init(&infos[i]);
		infos[i].name = (char *)d->name;
		infos[i].description = (char *)d->description;
		infos[i].result_kind = (char *)result_kind_name((enum result_kind)d->kind);
		if (!catalog_only) {
			/* the trial load first: it settles which hook variant this kernel takes */
			infos[i].supported = catalog_supported(d, reasons[i], sizeof(reasons[i])) == 0;
			infos[i].hook = (char *)catalog_hook(d, NULL);
			infos[i].unsupported_reason = infos[i].supported ? "" : reasons[i];
		}
		for (size_t k = 0; k < nspecs; k++) {
			const struct param_spec *spec = catalog_param_at(k);
			Tracectl__ProbeParam *p = &params[i * nspecs + np];

			if (!(d->params & spec->bit))
				continue;
			tracectl__probe_param__init(p);
			p->name = (char *)spec->name;
			p->description = (char *)spec->description;
			p->type = (char *)spec->type;
			p->range = (char *)spec->range;
			if (spec->bit == PROBE_PARAM_BY && d->by_choices)
				p->range = (char *)d->by_choices;
			if (spec->bit == PROBE_PARAM_TARGET && d->target_form)
				p->range = (char *)d->target_form;
			if (spec->bit == PROBE_PARAM_MEASURE && d->measure_choices)
				p->range = (char *)d->measure_choices;
			param_ptrs[i * nspecs + np++] = p;
		}
		infos[i].n_params = np;
		infos[i].params = &param_ptrs[i * nspecs];
		ptrs[i] = &infos[i];
	}
	list.n_probes = n;
	list.probes = ptrs;
	list.catalog_only = catalog_only;
	resp.result_case = TRACECTL__RESPONSE__RESULT_PROBES;
	resp.probes = &list;
	rpc_send(conn_out(conn), stream_id, FRAME_DATA, &resp.base, conn->agent->cfg.max_message);
	rpc_send_status(conn_out(conn), stream_id, RPC_OK, "", conn->agent->cfg.max_message);
cleanup:
	free(param_ptrs);
	free(params);
	free(reasons);
	free(ptrs);
	free(infos);
}

static void send_agent_status(struct conn *conn, uint32_t stream_id)
{
	struct agent *agent = conn->agent;
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__AgentStatus st = TRACECTL__AGENT_STATUS__INIT;
	size_t nprobes = catalog_size(), nsupported = 0, nsessions = 0;
	char **available = calloc(nprobes ? nprobes : 1, sizeof(*available));
	Tracectl__SessionInfo *infos = calloc(agent->nsessions ? agent->nsessions : 1, sizeof(*infos));
	Tracectl__SessionInfo **info_ptrs = calloc(agent->nsessions ? agent->nsessions : 1, sizeof(*info_ptrs));
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	char host[256] = "", reason[256];
	struct conn *c;
	struct session *s;
	struct usyms_stats symbols;
	bool all;

	if (!available || !infos || !info_ptrs) {
		rpc_send_status(conn_out(conn), stream_id, RPC_INTERNAL, "out of memory", agent->cfg.max_message);
		goto cleanup;
	}
	gethostname(host, sizeof(host) - 1);
	for (size_t i = 0; i < nprobes; i++)
		if (catalog_supported(catalog_at(i), reason, sizeof(reason)) == 0)
			available[nsupported++] = (char *)catalog_at(i)->name;
	/* other clients' sessions name who traces what from where: only with a grant */
	all = policy_grants(&agent->policy, &conn->ident, POLICY_GRANT_STATUS_ALL);
	LIST_FOREACH(c, &agent->conns, link) {
		/* own: the same identity (CN); without a CN, only this connection's */
		if (!all && c != conn && (!conn->ident.cn[0] || strcmp(c->ident.cn, conn->ident.cn) != 0))
			continue;
		LIST_FOREACH(s, &c->sessions, link) {
			Tracectl__SessionInfo *info = &infos[nsessions];
			uint64_t age = now - s->start_mono_ns;

			if (nsessions == agent->nsessions)
				break;
			tracectl__session_info__init(info);
			info->id = s->id;
			info->identity = c->identity;
			info->peer = c->peer;
			info->probe = (char *)s->probe->name;
			info->age_ns = age;
			info->remaining_ns = s->duration_ns > age ? s->duration_ns - age : 0;
			info_ptrs[nsessions++] = info;
		}
	}
	st.agent_version = TRACECTL_VERSION;
	st.kernel_release = (char *)kernel_env_release();
	st.hostname = host;
	st.uptime_ns = now - agent->start_mono_ns;
	st.active_sessions = all ? agent->nsessions : (uint32_t)nsessions;
	st.connections = agent->nconns;
	st.n_probes_available = nsupported;
	st.probes_available = available;
	st.probes_total = (uint32_t)nprobes;
	st.n_sessions = nsessions;
	st.sessions = info_ptrs;
	usyms_stats_get(&symbols);
	st.symbol_tables_parsed = symbols.parses;
	st.symbol_tables_shared = symbols.build_id_hits;
	resp.result_case = TRACECTL__RESPONSE__RESULT_AGENT_STATUS;
	resp.agent_status = &st;
	rpc_send(conn_out(conn), stream_id, FRAME_DATA, &resp.base, agent->cfg.max_message);
	rpc_send_status(conn_out(conn), stream_id, RPC_OK, "", agent->cfg.max_message);
cleanup:
	free(info_ptrs);
	free(infos);
	free(available);
}

/* The calls that list every probe's `supported`, which the trial loads settle. */
static void answer_catalog_call(struct conn *conn, uint32_t stream_id, Tracectl__Request__CallCase call)
{
	if (call == TRACECTL__REQUEST__CALL_LIST_PROBES)
		send_probe_list(conn, stream_id, false);
	else
		send_agent_status(conn, stream_id);
}

static void trials_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *agent = arg;
	struct waiting_call *w;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) != sizeof(n) || !catalog_trials_done())
		return; /* stopped before the end: agent_stop answered the calls */
	while ((w = TAILQ_FIRST(&agent->waiting)) != NULL) {
		struct conn *conn = w->conn;

		TAILQ_REMOVE(&agent->waiting, w, link);
		answer_catalog_call(conn, w->stream_id, w->call);
		/* its reading stopped at the bound (conn_read_cb): the next turn goes on */
		if (conn->nwaiting-- == CONN_MAX_WAITING_CALLS && !agent->stopping) {
			if (!conn->read_paused)
				bufferevent_enable(conn->bev, EV_READ);
			event_add(conn->more_input, &(struct timeval){ 0, 0 });
		}
		free(w);
	}
}

static bool stream_waiting(const struct conn *conn, uint32_t stream_id)
{
	const struct waiting_call *w;

	TAILQ_FOREACH(w, &conn->agent->waiting, link)
		if (w->conn == conn && w->stream_id == stream_id)
			return true;
	return false;
}

/*
 * Answers a ListProbes or Status call now when every probe's trial load has its answer,
 * else queues it and starts the trial thread (the first such call of the agent's life):
 * the loop goes on serving sessions while the kernel verifies every probe.
 */
static void answer_when_trials_done(struct conn *conn, uint32_t stream_id, Tracectl__Request__CallCase call)
{
	struct agent *agent = conn->agent;
	struct waiting_call *w;
	char err[256];
	int fd;

	if (catalog_trials_done()) {
		answer_catalog_call(conn, stream_id, call);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!agent->trials_ready && w) {
		fd = catalog_trials_start(err, sizeof(err));
		if (fd < 0)
			log_warn("%s: the trial loads run on the event loop", err);
		else
			agent->trials_ready = event_new(agent->base, fd, EV_READ, trials_ready_cb, agent);
		if (agent->trials_ready && event_add(agent->trials_ready, NULL)) {
			event_free(agent->trials_ready);
			agent->trials_ready = NULL;
		}
	}
	if (!w || !agent->trials_ready) {
		/* no thread to wait for: the loop answers, blocking while it loads (as before) */
		free(w);
		answer_catalog_call(conn, stream_id, call);
		return;
	}
	w->conn = conn;
	w->stream_id = stream_id;
	w->call = call;
	TAILQ_INSERT_TAIL(&agent->waiting, w, link);
	conn->nwaiting++;
}

static void dispatch(struct conn *conn, uint32_t stream_id, const Tracectl__Request *req)
{
	uint32_t max = conn->agent->cfg.max_message;

	if (stream_id == 0) {
		rpc_send_status(conn_out(conn), stream_id, RPC_INVALID_ARGUMENT, "stream id 0 is reserved", max);
		return;
	}
	if (conn_find_session(conn, stream_id) || stream_waiting(conn, stream_id)) {
		rpc_send_status(conn_out(conn), stream_id, RPC_INVALID_ARGUMENT, "stream id already in use", max);
		return;
	}
	switch (req->call_case) {
	case TRACECTL__REQUEST__CALL_HELLO:
		if (req->hello->protocol_version != RPC_PROTOCOL_VERSION) {
			char why[128];

			snprintf(why, sizeof(why), "protocol version %u not supported (agent speaks %u)",
				 req->hello->protocol_version, RPC_PROTOCOL_VERSION);
			rpc_send_status(conn_out(conn), stream_id, RPC_FAILED_PRECONDITION, why, max);
			return;
		}
		send_hello(conn, stream_id);
		return;
	case TRACECTL__REQUEST__CALL_LIST_PROBES:
		if (req->list_probes && req->list_probes->catalog_only) {
			send_probe_list(conn, stream_id, true);
			return;
		}
		answer_when_trials_done(conn, stream_id, req->call_case);
		return;
	case TRACECTL__REQUEST__CALL_STATUS:
		answer_when_trials_done(conn, stream_id, req->call_case);
		return;
	case TRACECTL__REQUEST__CALL_ATTACH:
		session_start(conn, stream_id, req->attach);
		return;
	default:
		rpc_send_status(conn_out(conn), stream_id, RPC_INVALID_ARGUMENT, "unknown call", max);
		return;
	}
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct frame_header hdr;
	ProtobufCMessage *msg;
	char err[256];
	int ret = 0, nframes = 0;

	if (conn->read_paused || conn->nwaiting >= CONN_MAX_WAITING_CALLS)
		return;
	/* a turn's share of frames, or more while the input holds more than its bound:
	 * memory stays bounded however fast a client sends */
	while ((nframes < CONN_FRAMES_PER_TURN || evbuffer_get_length(in) > CONN_MAX_BUFFERED_INPUT) &&
	       (ret = rpc_take_frame(in, FRAME_MAX_REQUEST, FRAME_MAX_REQUEST_UNPACKED, &tracectl__request__descriptor,
				     &hdr, &msg, err, sizeof(err))) == 1) {
		struct session *s;

		nframes++;
		if (!conn->got_frame) {
			/* past the handshake deadline: from now on the keepalive idle deadline */
			conn->got_frame = true;
			event_del(conn->handshake_deadline);
			bufferevent_set_timeouts(bev, &(struct timeval){ RPC_IDLE_TIMEOUT_S, 0 },
						 &(struct timeval){ RPC_IDLE_TIMEOUT_S, 0 });
		}

		switch (hdr.kind) {
		case FRAME_PING:
			rpc_send(conn_out(conn), hdr.stream_id, FRAME_PONG, NULL, conn->agent->cfg.max_message);
			break;
		case FRAME_PONG:
			break;
		case FRAME_CANCEL:
			s = conn_find_session(conn, hdr.stream_id);
			if (s)
				session_end(&s, RPC_CANCELLED, "cancelled by the client", true);
			break;
		case FRAME_DATA:
			dispatch(conn, hdr.stream_id, (Tracectl__Request *)msg);
			protobuf_c_message_free_unpacked(msg, NULL);
			break;
		}
		/* a client that asks without reading the answers: stop reading it until
		 * its output drains (conn_write_cb), so unread answers stay bounded */
		if (evbuffer_get_length(conn_out(conn)) > CONN_MAX_BUFFERED_OUTPUT) {
			conn->read_paused = true;
			bufferevent_disable(bev, EV_READ);
			bufferevent_setwatermark(bev, EV_WRITE, CONN_MAX_PENDING_OUTPUT, 0);
			log_info("connection %llu from %s (%s): %zu bytes of answers unread, pausing its requests",
				 (unsigned long long)conn->id, conn->peer, conn->identity,
				 evbuffer_get_length(conn_out(conn)));
			return;
		}
		/* calls waiting for the trial loads, as many as one connection may have: its
		 * requests stay in the socket until they are answered (trials_ready_cb) */
		if (conn->nwaiting >= CONN_MAX_WAITING_CALLS) {
			bufferevent_disable(bev, EV_READ);
			return;
		}
	}
	if (ret < 0) {
		/* framing is lost: nothing after this can be trusted, close */
		log_warn("connection %llu from %s (%s): %s; closing", (unsigned long long)conn->id, conn->peer,
			 conn->identity, err);
		conn_free(&conn);
		return;
	}
	/* this turn's share is used: the rest waits until every other ready connection had its
	 * turn (a zero timeout runs after the loop polled the sockets again) */
	if (ret == 1)
		event_add(conn->more_input, &(struct timeval){ 0, 0 });
}

static void conn_more_input_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *conn = arg;

	(void)fd;
	(void)what;
	if (!conn->agent->stopping)
		conn_read_cb(conn->bev, conn);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;

	/* called when output fell below the low watermark */
	if (!conn->read_paused || evbuffer_get_length(conn_out(conn)) > CONN_MAX_PENDING_OUTPUT)
		return;
	conn->read_paused = false;
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	if (!conn->agent->stopping && conn->nwaiting < CONN_MAX_WAITING_CALLS)
		bufferevent_enable(bev, EV_READ);
	/* requests already buffered do not make the socket readable again */
	conn_read_cb(bev, conn);
}

static const struct timeval refusals_window = { AUDIT_LIMIT_WINDOW_NS / 1000000000ULL, 0 };

static void audit_write_checked(struct agent *agent, struct audit_line *l)
{
	if (audit_write(agent->audit, l))
		log_error("audit: cannot write to the audit log: %s", strerror(errno));
}

static void refusals_suppressed(const char *source, uint64_t suppressed, void *arg)
{
	struct agent *agent = arg;
	struct audit_line l;

	log_warn("%llu more refused connection(s) from %s not logged in the last %llus",
		 (unsigned long long)suppressed, source, AUDIT_LIMIT_WINDOW_NS / 1000000000ULL);
	if (!agent->audit)
		return;
	audit_line_begin(&l, "tls_refused_suppressed");
	audit_line_str(&l, "peer", source);
	audit_line_u64(&l, "suppressed", suppressed);
	audit_line_u64(&l, "window_ns", AUDIT_LIMIT_WINDOW_NS);
	audit_write_checked(agent, &l);
}

static void refusals_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *agent = arg;

	(void)fd;
	(void)what;
	if (audit_limiter_flush(&agent->refusals, clock_ns(CLOCK_MONOTONIC), refusals_suppressed, agent))
		event_add(agent->refusals_flush, &refusals_window);
}

/* Logs and audits a refused connection; anyone can cause these, so at a bounded rate
 * per source address (the rest are counted in one line per window). */
static void agent_refused(struct agent *agent, uint64_t conn_id, const char *source, const char *peer,
			  const char *reason)
{
	struct audit_line l;

	if (!audit_limiter_allow(&agent->refusals, source, clock_ns(CLOCK_MONOTONIC), refusals_suppressed, agent)) {
		log_debug("connection %llu from %s refused during TLS handshake: %s", (unsigned long long)conn_id, peer,
			  reason);
		if (!evtimer_pending(agent->refusals_flush, NULL))
			event_add(agent->refusals_flush, &refusals_window);
		return;
	}
	log_warn("connection %llu from %s refused during TLS handshake: %s", (unsigned long long)conn_id, peer, reason);
	if (!agent->audit)
		return;
	audit_line_begin(&l, "tls_refused");
	audit_line_str(&l, "peer", peer);
	audit_line_u64(&l, "connection", conn_id);
	audit_line_str(&l, "reason", reason);
	audit_write_checked(agent, &l);
}

static void conn_refused(struct conn *conn, const char *reason)
{
	agent_refused(conn->agent, conn->id, conn->source, conn->peer, reason);
}

/* One-shot, unlike a bufferevent timeout: a client trickling bytes does not extend it. */
static void handshake_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *conn = arg;
	char reason[256];

	(void)fd;
	(void)what;
	snprintf(reason, sizeof(reason), "no %s within the %llums handshake deadline",
		 conn->handshaken ? "first frame" : "TLS handshake",
		 (unsigned long long)(conn->agent->cfg.handshake_timeout_ns / 1000000));
	if (conn->handshaken)
		log_warn("connection %llu from %s (%s): %s, closing", (unsigned long long)conn->id, conn->peer,
			 conn->identity, reason);
	else
		conn_refused(conn, reason);
	conn_free(&conn);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *conn = arg;
	char reason[256];

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		X509 *peer = SSL_get1_peer_certificate(ssl);

		conn->handshaken = true;
		conn->agent->nunauth--;
		policy_identity_from_cert(peer, &conn->ident);
		X509_free(peer);
		tls_peer_identity(ssl, conn->identity, sizeof(conn->identity));
		log_info("connection %llu from %s: client '%s' authenticated (%s)", (unsigned long long)conn->id,
			 conn->peer, conn->identity, SSL_get_version(ssl));
		/* the handshake deadline still runs: it also covers the first frame */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		/* set only after the first frame: the handshake has its own deadline */
		log_warn("connection %llu from %s (%s): no traffic for %ds, closing", (unsigned long long)conn->id,
			 conn->peer, conn->identity, RPC_IDLE_TIMEOUT_S);
	} else if (what & BEV_EVENT_ERROR) {
		unsigned long ssl_err = bufferevent_get_openssl_error(bev);
		int sock_err = EVUTIL_SOCKET_ERROR();

		/* libevent 2.1.12 + OpenSSL 3 reports a peer that closed without
		 * close_notify (a killed client) as an error, not EOF */
		if (ssl_err && ERR_GET_REASON(ssl_err) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			snprintf(reason, sizeof(reason), "peer closed without TLS close_notify");
		else if (ssl_err)
			ERR_error_string_n(ssl_err, reason, sizeof(reason));
		else if (sock_err)
			snprintf(reason, sizeof(reason), "%s", evutil_socket_error_to_string(sock_err));
		else
			snprintf(reason, sizeof(reason), "unknown error");
		/* the rest of the queue belongs to this failure too; never let it leak */
		while ((ssl_err = bufferevent_get_openssl_error(bev)) != 0)
			;
		ERR_clear_error();
		if (conn->handshaken) {
			log_info("connection %llu from %s (%s): %s", (unsigned long long)conn->id, conn->peer,
				 conn->identity, reason);
		} else {
			/* the verify callback saw why the certificate was refused: say that */
			if (conn->refused[0])
				snprintf(reason, sizeof(reason), "%s", conn->refused);
			conn_refused(conn, reason);
		}
	} else if ((what & BEV_EVENT_EOF) && !conn->handshaken) {
		conn_refused(conn, conn->refused[0] ? conn->refused : "closed during the TLS handshake");
	}
	conn_free(&conn);
}

/* Whether one more connection from source would pass the caps on connections still in
 * the TLS handshake; why not, in why. */
static bool handshake_slot_free(const struct agent *agent, const char *source, char *why, size_t whylen)
{
	const struct conn *c;
	uint32_t same = 0;

	if (agent->nunauth >= agent->cfg.max_unauth_conns) {
		snprintf(why, whylen, "%u connections in the TLS handshake already (--max-handshakes)", agent->nunauth);
		return false;
	}
	LIST_FOREACH(c, &agent->conns, link)
		same += !c->handshaken && strcmp(c->source, source) == 0;
	if (same >= agent->cfg.max_unauth_per_source) {
		snprintf(why, whylen, "%u connections from %s in the TLS handshake already (--max-handshakes-per-source)",
			 same, source);
		return false;
	}
	return true;
}

static void accept_cb(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *addr, int addrlen,
		      void *arg)
{
	struct agent *agent = arg;
	struct conn *conn = NULL;
	char host[INET6_ADDRSTRLEN] = "?", port[8] = "?", why[160];
	struct timeval hs = duration_timeval(agent->cfg.handshake_timeout_ns);
	SSL *ssl;

	(void)listener;
	agent->accept_backoff_ms = 0;
	getnameinfo(addr, (socklen_t)addrlen, host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	if (!handshake_slot_free(agent, host, why, sizeof(why))) {
		char peer[sizeof(conn->peer)];

		snprintf(peer, sizeof(peer), "%s:%s", host, port);
		agent_refused(agent, ++agent->next_conn_id, host, peer, why);
		evutil_closesocket(fd);
		return;
	}
	conn = calloc(1, sizeof(*conn));
	ssl = SSL_new(agent->tls);
	if (!conn || !ssl) {
		log_error("accepting %s:%s: out of memory", host, port);
		SSL_free(ssl);
		free(conn);
		evutil_closesocket(fd);
		return;
	}
	conn->agent = agent;
	conn->id = ++agent->next_conn_id;
	/* for the verify callback, which names why a certificate is refused */
	SSL_set_ex_data(ssl, conn_ex_index, conn);
	snprintf(conn->peer, sizeof(conn->peer), "%s:%s", host, port);
	snprintf(conn->source, sizeof(conn->source), "%s", host);
	snprintf(conn->identity, sizeof(conn->identity), "unauthenticated");
	LIST_INIT(&conn->sessions);
	LIST_INSERT_HEAD(&agent->conns, conn, link);
	agent->nconns++;
	agent->nunauth++;
	/* takes ownership of ssl and fd, even when it fails */
	conn->bev = bufferevent_openssl_socket_new(agent->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						   BEV_OPT_CLOSE_ON_FREE);
	if (!conn->bev) {
		log_error("accepting %s: cannot create TLS buffer", conn->peer);
		conn_free(&conn);
		return;
	}
	conn->handshake_deadline = evtimer_new(agent->base, handshake_deadline_cb, conn);
	conn->more_input = evtimer_new(agent->base, conn_more_input_cb, conn);
	if (!conn->handshake_deadline || !conn->more_input) {
		log_error("accepting %s: out of memory", conn->peer);
		conn_free(&conn);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
	bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb, conn_event_cb, conn);
	/* the handshake and the first frame must arrive within the handshake deadline */
	evtimer_add(conn->handshake_deadline, &hs);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	log_debug("connection %llu from %s accepted", (unsigned long long)conn->id, conn->peer);
}

/* Records why a client certificate fails verification (expired, unknown CA,
 * revoked, wrong purpose...), so the refusal is logged with its real reason
 * rather than OpenSSL's generic handshake failure. */
static int verify_cb(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct conn *conn = ssl ? SSL_get_ex_data(ssl, conn_ex_index) : NULL;
	X509 *cert = X509_STORE_CTX_get_current_cert(store);
	int err = X509_STORE_CTX_get_error(store);
	char subject[256] = "?";

	if (ok || !conn || conn->refused[0])
		return ok;
	if (cert)
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	snprintf(conn->refused, sizeof(conn->refused), "client certificate '%s' (depth %d) refused: %s", subject,
		 X509_STORE_CTX_get_error_depth(store), X509_verify_cert_error_string(err));
	return ok;
}

static int load_crl(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
	char reason[256];

	if (!lookup || X509_load_crl_file(lookup, path, X509_FILETYPE_PEM) <= 0) {
		snprintf(err, errlen, "loading CRL '%s': %s", path, tls_drain_errors(reason, sizeof(reason)));
		return -EINVAL;
	}
	/* the leaf is checked against its CA's CRL; a CA without a CRL fails closed */
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	return 0;
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *agent = arg;

	(void)fd;
	(void)what;
	if (agent->listener && !agent->stopping)
		evconnlistener_enable(agent->listener);
}

static void listener_error_cb(struct evconnlistener *listener, void *arg)
{
	struct agent *agent = arg;
	int err = EVUTIL_SOCKET_ERROR();
	bool out_of_resources = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	struct timeval backoff;

	/* out of descriptors (or socket memory), the pending connection stays in the backlog
	 * and the socket stays readable: retrying at once spins. Pause accepting (the
	 * connections we have go on, and each one that ends makes room), longer while it lasts. */
	if (out_of_resources) {
		agent->accept_backoff_ms = agent->accept_backoff_ms ? agent->accept_backoff_ms * 2 : ACCEPT_BACKOFF_MIN_MS;
		if (agent->accept_backoff_ms > ACCEPT_BACKOFF_MAX_MS)
			agent->accept_backoff_ms = ACCEPT_BACKOFF_MAX_MS;
		evconnlistener_disable(listener);
		backoff = duration_timeval(agent->accept_backoff_ms * 1000000ULL);
		event_add(agent->accept_resume, &backoff);
	}
	if (agent->accept_logged_ns && now - agent->accept_logged_ns < ACCEPT_LOG_INTERVAL_NS) {
		agent->accept_failures_unlogged++;
		return;
	}
	log_error("accept failed: %s%s (%llu more failure(s) since the last report)", evutil_socket_error_to_string(err),
		  out_of_resources ? "; pausing new connections" : "", (unsigned long long)agent->accept_failures_unlogged);
	agent->accept_logged_ns = now;
	agent->accept_failures_unlogged = 0;
}

int agent_start(struct agent *agent, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	char host[256], port_text[8];
	uint16_t port;
	int ret;

	LIST_INIT(&agent->conns);
	TAILQ_INIT(&agent->waiting);
	agent->start_mono_ns = clock_ns(CLOCK_MONOTONIC);
	if (hostport_parse(agent->cfg.listen, host, sizeof(host), &port, TRACECTL_DEFAULT_PORT)) {
		snprintf(err, errlen, "bad --listen address '%s' (expected HOST:PORT)", agent->cfg.listen);
		return -EINVAL;
	}
	snprintf(port_text, sizeof(port_text), "%u", port);
	policy_init(&agent->policy);
	ret = agent->cfg.policy_path ? policy_load(&agent->policy, agent->cfg.policy_path, err, errlen)
				     : policy_load_default(&agent->policy, err, errlen);
	if (ret)
		return ret;
	log_info("policy: %s (%zu section(s))", agent->policy.name, agent->policy.n);
	if (agent->cfg.audit_path) {
		ret = audit_open(&agent->audit, agent->cfg.audit_path, err, errlen);
		if (ret)
			return ret;
	}
	ret = getaddrinfo(host, port_text, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "cannot resolve --listen address '%s': %s", agent->cfg.listen, gai_strerror(ret));
		return -EINVAL;
	}
	agent->tls = tls_server_ctx_new(agent->cfg.ca, agent->cfg.cert, agent->cfg.key, err, errlen);
	if (!agent->tls) {
		ret = -EINVAL;
		goto cleanup;
	}
	if (conn_ex_index < 0)
		conn_ex_index = SSL_get_ex_new_index(0, "tracectl conn", NULL, NULL, NULL);
	agent->accept_resume = evtimer_new(agent->base, accept_resume_cb, agent);
	agent->refusals_flush = evtimer_new(agent->base, refusals_flush_cb, agent);
	if (!agent->accept_resume || !agent->refusals_flush) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto cleanup;
	}
	SSL_CTX_set_verify(agent->tls, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	if (agent->cfg.crl_path) {
		ret = load_crl(agent->tls, agent->cfg.crl_path, err, errlen);
		if (ret)
			goto cleanup;
	}
	agent->listener = evconnlistener_new_bind(agent->base, accept_cb, agent,
						  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
						  128, res->ai_addr, (int)res->ai_addrlen);
	if (!agent->listener) {
		snprintf(err, errlen, "cannot listen on %s: %s", agent->cfg.listen, strerror(errno));
		ret = -errno;
		goto cleanup;
	}
	evconnlistener_set_error_cb(agent->listener, listener_error_cb);
	log_info("listening on %s:%u (mutual TLS 1.3)", host, port);
	ret = 0;
cleanup:
	freeaddrinfo(res);
	return ret;
}

void agent_stop(struct agent *agent)
{
	struct conn *conn;

	agent->stopping = true;
	if (agent->listener) {
		evconnlistener_free(agent->listener);
		agent->listener = NULL;
	}
	/* tell each client why its streams end; the loop gets a moment to flush */
	drop_waiting_calls(agent, NULL, RPC_UNAVAILABLE, "agent shutting down");
	LIST_FOREACH(conn, &agent->conns, link) {
		struct session *s;

		while ((s = LIST_FIRST(&conn->sessions)) != NULL)
			session_end(&s, RPC_UNAVAILABLE, "agent shutting down", true);
		bufferevent_disable(conn->bev, EV_READ);
	}
}

void agent_free(struct agent *agent)
{
	struct conn *conn;

	if (agent->listener) {
		evconnlistener_free(agent->listener);
		agent->listener = NULL;
	}
	while ((conn = LIST_FIRST(&agent->conns)) != NULL)
		conn_free(&conn);
	/* its descriptor is the trial thread's: the event goes first */
	if (agent->trials_ready)
		event_free(agent->trials_ready);
	agent->trials_ready = NULL;
	catalog_trials_stop();
	SSL_CTX_free(agent->tls);
	agent->tls = NULL;
	policy_free(&agent->policy);
	/* what the last window suppressed is still reported */
	audit_limiter_flush(&agent->refusals, UINT64_MAX, refusals_suppressed, agent);
	if (agent->accept_resume)
		event_free(agent->accept_resume);
	if (agent->refusals_flush)
		event_free(agent->refusals_flush);
	agent->accept_resume = agent->refusals_flush = NULL;
	audit_close(&agent->audit);
}
