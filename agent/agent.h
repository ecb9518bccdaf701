/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's objects: the daemon, a client connection, an Attach session. */
#ifndef TRACECTL_AGENT_H
#define TRACECTL_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "audit.h"
#include "catalog.h"
#include "cost.h"
#include "event_batch.h"
#include "hist_pb.h"
#include "policy.h"
#include "rpc.h"

/* A slow client: past this much unsent output, snapshots are dropped and counted. */
#define CONN_MAX_PENDING_OUTPUT (1u << 20)
/* A client that sends requests without reading the answers: past this much unsent
 * output, the agent stops reading from it until the output drains. */
#define CONN_MAX_BUFFERED_OUTPUT (4u * CONN_MAX_PENDING_OUTPUT)
/* Frames of one connection handled per turn of the event loop: the rest wait for the
 * next turn, after every other ready connection had its own. */
#define CONN_FRAMES_PER_TURN 16
/* Received bytes a connection may leave for later turns: two whole requests. (Not a
 * read watermark: bufferevent_openssl 2.1 then stalls on plaintext OpenSSL holds.) */
#define CONN_MAX_BUFFERED_INPUT (2u * (FRAME_HEADER_LEN + FRAME_MAX_REQUEST))
/* Accept pauses when the agent runs out of file descriptors: doubling up to the max. */
#define ACCEPT_BACKOFF_MIN_MS 50
#define ACCEPT_BACKOFF_MAX_MS 1000
/* One "accept failed" log line per this, with the count of the failures in between. */
#define ACCEPT_LOG_INTERVAL_NS (10ULL * 1000000000ULL)

/* ListProbes and Status calls one connection may have waiting for the probes' trial
 * loads; past them the agent stops reading it until they are answered, so a client
 * repeating them queues nothing more. */
#define CONN_MAX_WAITING_CALLS 4

struct agent_config {
	const char *listen;
	const char *metrics_listen; /* --metrics HOST:PORT */
	const char *export_probes;  /* --export p1,p2 */
	const char *ca, *cert, *key;
	uint32_t max_message;
	uint32_t max_sessions;      /* across all connections */
	uint64_t max_duration_ns;
	uint64_t min_interval_ns;
	uint32_t max_overhead_ppm; /* cap and default of a session's overhead budget */
	uint32_t max_conn_sessions; /* per connection */
	uint64_t handshake_timeout_ns; /* TLS handshake and first frame */
	uint32_t max_unauth_conns;   /* connections not yet past the TLS handshake, in all */
	uint32_t max_unauth_per_source; /* ... from one source address */
	const char *policy_path;    /* NULL: the built-in default policy */
	const char *audit_path;     /* NULL: no audit log */
	const char *crl_path;       /* NULL: no revocation check */
};

struct session;
struct conn;

/* A ListProbes or Status call answered once every probe's trial load has its answer. */
struct waiting_call {
	TAILQ_ENTRY(waiting_call) link;
	struct conn *conn;
	uint32_t stream_id;
	Tracectl__Request__CallCase call;
};

struct agent {
	struct agent_config cfg;
	struct event_base *base;
	SSL_CTX *tls;
	struct policy policy;
	struct audit *audit;
	struct evconnlistener *listener;
	struct event *sigint, *sigterm;
	LIST_HEAD(, conn) conns;
	uint32_t nsessions;
	uint64_t next_session_id;
	uint64_t next_conn_id;
	uint64_t start_mono_ns; /* for uptime */
	int stats_fd;           /* keeps the kernel's BPF run-time stats on; -1 when unavailable */
	struct exporter *exporter;
	uint32_t nconns;
	uint32_t nunauth; /* connections still in the TLS handshake */
	/* accept paused on EMFILE/ENFILE: resumed by this timer */
	struct event *accept_resume;
	uint32_t accept_backoff_ms;
	uint64_t accept_logged_ns, accept_failures_unlogged;
	/* refused connections, audited and logged at a bounded rate per source */
	struct audit_limiter refusals;
	struct event *refusals_flush;
	/* the trial thread's wake-up (catalog_trials_start) and the calls waiting for it */
	struct event *trials_ready;
	TAILQ_HEAD(, waiting_call) waiting;
	bool stopping;
};

struct conn {
	LIST_ENTRY(conn) link;
	struct agent *agent;
	struct bufferevent *bev;
	uint64_t id;
	char peer[64];     /* address:port */
	char source[64];   /* address: the unit of the per-source limits */
	char identity[128]; /* client certificate CN */
	struct policy_identity ident; /* CN and SANs, for the policy */
	bool handshaken;
	bool got_frame;   /* the first frame arrived: idle deadline instead of handshake deadline */
	bool read_paused; /* too much unread output: reading stops until it drains */
	struct event *handshake_deadline; /* one-shot, from accept to the first frame */
	struct event *more_input;         /* next turn's share of buffered frames */
	uint32_t nsessions;
	uint32_t nwaiting; /* its calls in agent->waiting */
	char refused[256]; /* why certificate verification failed, from the verify callback */
	LIST_HEAD(, session) sessions;
};

struct session {
	LIST_ENTRY(session) link;
	struct conn *conn;
	uint32_t stream_id;
	uint64_t id;
	const struct probe_desc *probe;
	const char *hook; /* the one in use on this kernel (catalog_hook) */
	void *probe_state;
	struct probe_params params;
	uint64_t interval_ns, duration_ns;
	uint64_t phase_ns; /* windows end at phase + k * interval on the wall clock */
	uint64_t start_unix_ns, window_start_unix_ns;
	uint64_t start_mono_ns;
	uint64_t seq;
	uint64_t dropped;  /* snapshots not sent: the client was too slow */
	bool flushed;      /* the window up to now was just sent */
	struct event *tick;
	/* the window since the previous snapshot, and the whole session (events: sent and lost) */
	struct result window, total;
	struct result_pb pb; /* what a snapshot being sent points into */
	/* cost and budget */
	int prog_fds[COST_MAX_PROGS];
	size_t nprogs;
	uint64_t run_cnt_seen, run_ns_seen;          /* at the previous window */
	uint64_t agent_cpu_window, agent_cpu_total;  /* loop-thread CPU spent on this session */
	uint64_t cost_events_total, cost_kernel_total;
	uint32_t budget_ppm;
	uint32_t sample_one_in;
	uint64_t last_overhead_ppm;
	bool provenance_changed;
	bool lease_only; /* the client asked for no duration: the agent's limit ends it */
	/* PROBE_EVENTS */
	struct event *ring_ready;
	struct event_sink *sink;
	uint64_t events_dropped_unreported; /* for the next EventBatch */
	uint64_t kernel_lost_seen;
	uint64_t max_event_rate; /* from the policy; 0: none */
	char rule[POLICY_NAME_LEN + 32]; /* the policy rule that allowed it */
};

/* server.c */
int agent_start(struct agent *agent, char *err, size_t errlen);
/* Stops accepting and ends every session, telling its client why. */
void agent_stop(struct agent *agent);
/* Closes what agent_start and the connections hold. */
void agent_free(struct agent *agent);
void conn_free(struct conn **conn);

/* session.c */
/* Validates the request and starts the session; on failure the call is answered
 * with a Status on its stream and nothing is left behind. */
void session_start(struct conn *conn, uint32_t stream_id, const Tracectl__AttachRequest *req);
struct session *conn_find_session(struct conn *conn, uint32_t stream_id);
/* Ends the session: sends its summary and final status (when send_status) and frees it. */
void session_end(struct session **session, enum rpc_status code, const char *why, bool send_status);
/* Sessions of every connection whose client has this CN. */
uint32_t agent_identity_sessions(struct agent *agent, const char *cn);


#endif
