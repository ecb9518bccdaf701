/* SPDX-License-Identifier: Apache-2.0 */
/* The controller's pieces: exit codes, configuration, connections, rendering. */
#ifndef TRACECTL_CLI_H
#define TRACECTL_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "count_table.h"
#include "hist.h"
#include "hist_set.h"
#include "inventory.h"
#include "result_kind.h"
#include "rpc.h"

/* Exit status: documented in --help and README. */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,     /* anything else went wrong at run time */
	CLI_EXIT_USAGE = 2,       /* bad command line or configuration */
	CLI_EXIT_UNREACHABLE = 3, /* cannot resolve or connect, or the connection dropped */
	CLI_EXIT_TLS = 4,         /* certificate refused, by us or by the agent */
	CLI_EXIT_REJECTED = 5,    /* the agent refused the request: unknown or unsupported probe, bad parameter */
	CLI_EXIT_PARTIAL = 6,     /* several hosts: some answered, some failed (each failure is named) */
	CLI_EXIT_GATE_FAILED = 7, /* gate: a threshold was crossed */
	CLI_EXIT_NO_DATA = 8,     /* gate: could not measure (no data, no host answered) */
};

/* ---- config.c ---- */

#define CONFIG_MAX_GROUPS 64

/* A named host list from the config file: "group web = web1,web2:7000". */
struct cli_group {
	char name[64];
	char hosts[2048];
};

struct cli_config {
	char ca[PATH_MAX];
	char cert[PATH_MAX];
	char key[PATH_MAX];
	uint16_t port; /* default agent port, "port = N" */
	size_t ngroups;
	struct cli_group groups[CONFIG_MAX_GROUPS];
};

/*
 * Fills cfg from, in order of precedence: the flags (NULL when not given), the
 * TRACECTL_CA / TRACECTL_CERT / TRACECTL_KEY environment, and the config file
 * (config_path, or $TRACECTL_CONFIG, or ~/.config/tracectl/config when present),
 * which may also set "port = N" and "group NAME = h1,h2:7000". Returns 0 or
 * -EINVAL with a reason naming the file, line or missing setting (certificates
 * are only required when need_certs).
 */
int config_resolve(struct cli_config *cfg, const char *flag_ca, const char *flag_cert, const char *flag_key,
		   const char *config_path, bool need_certs, char *err, size_t errlen);
/* The hosts of group name, or NULL. */
const char *config_group(const struct cli_config *cfg, const char *name);

/* ---- client.c: one connection to one agent, several calls on it ---- */

struct client_conn;
struct client_call;

/* A response on a call; a Status response is the call's last. Returns true when
 * it keeps resp (then it frees it later with protobuf_c_message_free_unpacked). */
typedef bool (*client_response_cb)(struct client_call *call, Tracectl__Response *resp, void *arg);
/* The connection failed; every call on it is over. */
typedef void (*client_failure_cb)(struct client_conn *conn, enum cli_exit code, const char *why, void *arg);

struct client_call {
	LIST_ENTRY(client_call) link;
	struct client_conn *conn;
	uint32_t stream_id;
	Tracectl__Request *request; /* borrowed until sent */
	client_response_cb on_response;
	void *arg;
	bool sent, done;
};

struct client_conn {
	struct event_base *base;
	SSL_CTX *tls; /* borrowed */
	char target[300]; /* as the user wrote it */
	char host[256];
	uint16_t port;
	int fd;                   /* until the TLS bufferevent owns it */
	struct event *connecting; /* TCP connect in progress */
	struct bufferevent *bev;
	struct event *ping;
	bool handshaken, hello_done, failed;
	uint32_t next_stream_id;
	uint64_t connect_timeout_ms;
	LIST_HEAD(, client_call) calls;
	client_failure_cb on_failure;
	/* optional, with arg: the handshake and Hello are done (a fleet then starts another host) */
	void (*on_ready)(struct client_conn *conn, void *arg);
	void *arg;
	/* from the agent's Hello */
	char agent_version[64], kernel_release[64], agent_hostname[128];
};

/* Returns NULL (errno set) or a connection that is connecting; free with client_conn_free. */
struct client_conn *client_conn_new(struct event_base *base, SSL_CTX *tls, const struct inventory_host *target,
				     uint64_t connect_timeout_ms, client_failure_cb on_failure, void *arg,
				     char *err, size_t errlen);
/* Queues a call; it is sent once the connection and Hello are done. */
struct client_call *client_conn_call(struct client_conn *conn, Tracectl__Request *request,
				      client_response_cb on_response, void *arg);
void client_call_cancel(struct client_call *call);
void client_conn_free(struct client_conn **conn);
/* The agent's catalog, names, kinds and parameters only (a catalog_only ListProbes
 * response, free with protobuf_c_message_free_unpacked), or NULL when the host does not answer: its errors are told by the command that follows. */
Tracectl__Response *client_list_probes(SSL_CTX *tls, const struct inventory_host *target, uint64_t connect_timeout_ms);
/* The probe called name in list, or NULL. */
const Tracectl__ProbeInfo *catalog_find(const Tracectl__ListProbesResponse *list, const char *name);
/* The probe name in list closest to name when it looks like a typo of it, or NULL. */
const char *catalog_nearest(const Tracectl__ListProbesResponse *list, const char *name);

/* folded: "a;b;c count" lines of a count probe's summary, for flame-graph tools;
 * svg: that summary as an interactive flame graph; prom: the summary in the
 * Prometheus text exposition format */
enum output_format { OUTPUT_TEXT, OUTPUT_JSON, OUTPUT_FOLDED, OUTPUT_SVG, OUTPUT_PROM };

/* ---- fleet.c: one command on many hosts from one event loop ---- */

enum fleet_command { FLEET_ATTACH, FLEET_PROBES, FLEET_STATUS };

/* A copy of a Provenance message that outlives the response it came in. */
struct provenance_copy {
	bool set;
	char hook[160], kernel[64], btf[96], agent[32];
	uint32_t sample_one_in, budget_ppm;
	double relative_error;
};

/* What an attach ended with on one host (or, for merged, on all of them). */
struct fleet_result_host {
	struct provenance_copy prov;
	bool prov_mixed;
	uint64_t cost_events, cost_kernel_ns, cost_agent_ns, cost_window_ns;
	bool cost_kernel_stats;
	const char *name;
	bool answered;
	enum cli_exit code;
	bool has_summary;
	struct result res;
	uint64_t start_ns, end_ns;
	/* hosts whose part is what arrived before they died (no summary from the agent) */
	size_t died;
};

struct fleet_result {
	size_t nhosts, answered;
	/* stopped by Ctrl-C (or SIGTERM) before its --duration: part of a run */
	bool interrupted;
	uint64_t elapsed_ns, duration_ns;
	struct fleet_result_host *hosts;
	struct fleet_result_host merged; /* name "*" (or the host's, with one host) */
};

void fleet_result_free(struct fleet_result *r);

struct recording_writer;
struct recording_reader;

struct fleet_options {
	enum fleet_command command;
	const struct inventory *targets;
	Tracectl__Request *request; /* the same request goes to every host */
	const char *probe;          /* attach */
	uint64_t interval_ns, duration_ns, connect_timeout_ms;
	enum output_format format;
	bool per_host;
	bool quiet;                       /* no live output (a gate shows its verdicts) */
	bool status_on_stderr;            /* output goes to a file (-o): a status line on the terminal */
	const char *sort;                 /* count probes: the column to sort by (default the first) */
	uint32_t top;                     /* --top: rows kept of the merged set (with --sort the agent sends all) */
	struct recording_writer *record;  /* attach: also write every response here */
	struct recording_reader *replay;  /* attach: responses come from a recording, no network */
	struct fleet_result *result;      /* attach: filled with the summaries when not NULL */
};

/* Runs the command on every target concurrently; returns the exit status. */
enum cli_exit fleet_run(const struct fleet_options *o, SSL_CTX *tls);

/* ---- gate.c: thresholds and baselines against a run's summaries ---- */

#define GATE_MAX_THRESHOLDS 32

enum gate_kind { GATE_MAX, GATE_MIN, GATE_REGRESSION };

struct gate_threshold {
	enum gate_kind kind;
	char metric[32];  /* p50 p90 p99 p999 max mean count rate dropped, or a count column */
	char filter[128]; /* count probes: "comm=nginx,pid=7" selects rows */
	double value;     /* ns for time metrics; a fraction for regressions (0.10) */
	bool is_time;
	char text[160];   /* as written */
};

struct gate_options {
	struct gate_threshold t[GATE_MAX_THRESHOLDS];
	size_t n;
	const char *baseline, *save_baseline, *junit, *series;
	bool each_host;
	size_t allow_missing;
};

/* Parses "p99=5ms" (--max / --min) or "p99=10%" (--max-regression). -EINVAL with a reason. */
int gate_add_threshold(struct gate_options *g, enum gate_kind kind, const char *text, char *err, size_t errlen);
/* Judges the result, prints verdicts, writes JUnit and the baseline; returns the exit status. */
enum cli_exit gate_run(const struct gate_options *g, const struct fleet_result *r, const char *probe,
		       enum output_format format);

/* ---- flamegraph.c ---- */

/* Writes a self-contained SVG flame graph of the table's "stack" rows (first value =
 * samples). -EINVAL when the table has no "stack" key. */
int flamegraph_write(FILE *out, const struct count_table *t, const char *title);
/* From "comm;a;b;c" stack rows: per function, samples where it is the leaf (self)
 * and where it is on the stack at all (total). out is initialised here. */
int stacks_top_functions(const struct count_table *stacks, struct count_table *out);

/* ---- term.c: text fitted to a terminal ---- */

/* The terminal's size when fd is one (TIOCGWINSZ); false otherwise. */
bool term_size(int fd, unsigned *cols, unsigned *rows);
/* Display columns of s's n bytes (UTF-8 continuation bytes take none). */
size_t term_columns(const char *s, size_t n);
/* The bytes of s's first n that fill at most cols columns. */
size_t term_fit(const char *s, size_t n, unsigned cols);
/* Writes text's lines each cut to cols columns, as top does; with max_lines, at most that
 * many lines, the last saying how many were left out. */
void term_write_cut(FILE *out, const char *text, size_t len, unsigned cols, unsigned max_lines);
/* Writes text's lines, those wider than cols wrapped at spaces, continuations indented. */
void term_write_wrapped(FILE *out, const char *text, size_t len, unsigned cols, unsigned indent);

/* ---- render.c ---- */

/* Columns in nanoseconds ("on_cpu_ns") are shown in time units, titled without "_ns". */
bool is_ns_column(const char *name);


struct render {
	enum output_format format;
	FILE *out;
	const char *host;   /* a host name, or "*" for the merged view of a fleet */
	const char *probe;
	bool merged;
	size_t hosts, hosts_total; /* hosts in this merged result, of all targeted */
	bool provenance_mixed;     /* the hosts measured differently */
	bool late;                 /* a host's window that came after its merged view was printed */
	size_t died;               /* summaries: hosts in it that died mid-run (their data up to then) */
	uint64_t interval_ns;      /* windows shorter than this (the first) are said to be partial */
	bool *events_header_shown; /* text events: their column header, printed once (NULL: none) */
};

int render_format_parse(const char *name, enum output_format *out);
/* s as a JSON string literal, escaped. */
void render_json_string(FILE *out, const char *s);
void render_attached(const struct render *r, const Tracectl__Attached *a);
/* snap gives the window's metadata (seq, times, summary, drops) for each kind. */
void render_hist(const struct render *r, const Tracectl__Snapshot *snap, const char *label, const struct hist *h);
void render_counts(const struct render *r, const Tracectl__Snapshot *snap, const struct count_table *t);
void render_event_stats(const struct render *r, const Tracectl__Snapshot *snap);
/* Every part of res by its kind, with snap's metadata: a histogram result without series
 * says it had no samples (sorting a table is the caller's). */
void render_result(const struct render *r, const Tracectl__Snapshot *snap, const struct result *res);
void render_event(const struct render *r, const Tracectl__Event *ev);
void render_events_lost(const struct render *r, uint64_t lost);
/* JSON: {"type":"provenance",...} when an agent changed how it measures. */
void render_provenance_change(const struct render *r, const Tracectl__Provenance *p);
/* Text: how the summary was measured and what it cost (from snap's provenance and cost). */
void render_footer(const struct render *r, const Tracectl__Snapshot *snap);
void render_probes(const struct render *r, const Tracectl__ListProbesResponse *list, const struct client_conn *c);

#endif
