/* SPDX-License-Identifier: Apache-2.0 */
/* The probe catalog: the only things a remote caller can ask the agent to attach. */
#ifndef TRACECTL_CATALOG_H
#define TRACECTL_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "cgroup_filter.h"
#include "count_table.h"
#include "hist_set.h"
#include "result_kind.h"
#include "tracectl.pb-c.h"

#define PROBE_COMM_LEN 16
#define PROBE_TARGET_LEN 512
#define PROBE_BY_LEN 16
#define PROBE_ID_LEN 80 /* a container id (prefix) or a pod UID */

/* What a probe returns, and so how the session ships it: the wire's kind (result_kind.h). */
enum probe_kind {
	PROBE_HISTOGRAM = RESULT_KIND_HISTOGRAM, /* labelled latency histograms, per interval */
	PROBE_COUNTS = RESULT_KIND_COUNTS,       /* a keyed counter table, per interval */
	PROBE_EVENTS = RESULT_KIND_EVENTS,       /* one record per occurrence, through a ring buffer */
};

/* Parameters a probe may accept. Types and bounds are in catalog.c (one table). */
enum probe_param {
	PROBE_PARAM_PID = 1u << 0,    /* u32: only this process (tgid) */
	PROBE_PARAM_COMM = 1u << 1,   /* string: only tasks with this comm */
	PROBE_PARAM_PORT = 1u << 2,   /* u32 1..65535: only sockets with this local or remote port */
	PROBE_PARAM_TOP = 1u << 3,    /* u32: rows per snapshot, sorted */
	PROBE_PARAM_TARGET = 1u << 4, /* string: BINARY:PATTERN for user-space function probes */
	PROBE_PARAM_FREQ = 1u << 5,   /* u32 Hz: sampling frequency */
	PROBE_PARAM_BY = 1u << 6,     /* enum (probe_desc.by_choices): how to split results */
	/* strings: cgroup, container, pod, service: each resolved to a cgroup v2 directory */
	PROBE_PARAM_CGROUP = 1u << 7,
	PROBE_PARAM_MEASURE = 1u << 8, /* enum (probe_desc.measure_choices): what to measure */
	PROBE_PARAM_MIN_BLOCK = 1u << 9, /* duration: only blocks at least this long */
};

struct bpf_object;

/* What the target parameter names: the policy restricts each kind its own way. */
enum probe_target_kind {
	PROBE_TARGET_NONE,            /* the probe takes no target */
	PROBE_TARGET_BINARY,          /* ABSOLUTE_PATH:PATTERN (target-prefix) */
	PROBE_TARGET_TRACEPOINT,      /* CATEGORY:PATTERN (tracepoint-categories) */
	PROBE_TARGET_KERNEL_FUNCTION, /* a kernel function glob (kernel-functions) */
};

struct func_target;
struct hook_variants;
struct probe_runtime;

/* Validated parameters; zero / empty means "not given". */
struct probe_params {
	uint32_t pid;
	char comm[PROBE_COMM_LEN];
	uint16_t port;
	uint32_t top;
	char target[PROBE_TARGET_LEN];
	uint32_t freq_hz;
	char by[PROBE_BY_LEN];
	/* as given; resolved to cgroups[] by catalog_validate_params */
	char cgroup[PROBE_TARGET_LEN];
	char container[PROBE_ID_LEN];
	char pod[PROBE_ID_LEN];
	char service[PROBE_TARGET_LEN];
	struct cgroup_filter_entry cgroups[CGROUP_FILTER_MAX];
	char measure[PROBE_BY_LEN];
	uint64_t min_block_ns;
	/* The binary of target, opened once by validate() of the func-* probes and used
	 * by open(): owned by whoever holds the params (catalog_params_release). */
	struct func_target *func;
	/* not from the request: the agent's own pid, whose traffic probes leave out where they
	 * can (0 when a probe runs outside the agent, as in the probe tests) */
	uint32_t agent_tgid;
};

/* One field of an event record, as a probe hands it to the session. */
struct event_field {
	const char *name;
	const char *str; /* NULL for numbers */
	int64_t num;
	bool flag; /* num is 0 or 1: a yes/no (JSON true/false) */
};

/* Where a probe delivers events; implemented by the session (event_batch.c). who: the
 * task's identity (cgroup_identity.h), NULL when the probe knows no task. */
struct event_sink;
struct cgroup_identity;
void event_sink_emit(struct event_sink *sink, uint64_t time_unix_ns, const struct event_field *fields,
		     size_t nfields, const struct cgroup_identity *who);

struct probe_desc {
	const char *name;        /* the user interface: "tcp-latency" */
	const char *description;
	enum probe_kind kind;
	enum probe_target_kind target_kind; /* with PROBE_PARAM_TARGET */
	const char *hook;        /* the hook(s), e.g. "tracepoint sock:sock_send_length" */
	/* Optional, where the probe chooses between hooks by feature probing or by its
	 * parameters (NULL: the defaults): the one it uses on this kernel (what
	 * `tracectl probes` and every result's provenance say). */
	const char *(*hook_here)(const struct probe_params *params);
	/* Optional: the probe's hook variants (hook_variant.h), tried cheapest first; the
	 * one that loads is the hook reported (unless hook_here says otherwise). */
	const struct hook_variants *variants;
	uint32_t params;         /* enum probe_param bits accepted */
	const char *by_choices;  /* for PROBE_PARAM_BY: "remote|none" */
	/* for PROBE_PARAM_TARGET: its form, when not the user-space functions' BINARY:PATTERN */
	const char *target_form;
	/* A target every kernel has, for the trial load that makes `supported` true (probes
	 * with no target are tried with none; others without one get their static check). */
	const char *trial_target;
	/* for PROBE_PARAM_MEASURE: "latency|count", the first is the default */
	const char *measure_choices;
	uint32_t default_top;    /* counts: rows per snapshot when --top is not given (0 = all) */
	/* counts: the table's schema, fixed per probe; the first value sorts */
	size_t nkeys, nvalues;
	const char *key_names[COUNT_MAX_KEYS];
	const char *value_names[COUNT_MAX_VALUES];

	/* 0 when this kernel can run the probe, else -errno with a reason. */
	int (*supported)(char *reason, size_t len);
	/* Probe-specific checks of the parameters (e.g. the binary exists and is ELF),
	 * after authorization: the first step that may touch files. May set params->func. */
	int (*validate)(struct probe_params *params, char *err, size_t errlen);
	/* Its lifecycle, run by the probe runtime (runtime.h): what it opens, filters,
	 * reads and attaches beyond the skeleton, and how it is read. */
	const struct probe_runtime *runtime;
	/* PROBE_HISTOGRAM: adds the window since the previous read (or open) to out. */
	int (*read_hist)(void *state, struct hist_set *out);
	/* PROBE_COUNTS: adds the window since the previous read to out (schema as above). */
	int (*read_counts)(void *state, struct count_table *out);
	/* PROBE_EVENTS: the ring buffer's epoll fd, watched by the session's loop ... */
	int (*event_fd)(void *state);
	/* ... and draining it into sink; returns events delivered or -errno. */
	int (*drain_events)(void *state, struct event_sink *sink);
	/* PROBE_EVENTS: events the kernel side could not deliver (ring full), cumulative. */
	uint64_t (*events_lost)(void *state);
	/* Optional: keep 1 in one_in events (a power of two), where the probe can
	 * sample; the session scales what it reports. 0 or -errno. */
	int (*set_sampling)(void *state, uint32_t one_in);
};

const struct probe_desc *catalog_find(const char *name);
/* Opens, configures, loads and attaches probe (its runtime); *state is the caller's,
 * released with catalog_close (accepts NULL, sets *state to NULL). 0 or -errno with a reason. */
int catalog_open(const struct probe_desc *probe, const struct probe_params *params, void **state, char *err,
		 size_t errlen);
void catalog_close(void **state);
/* The BPF object an open probe loaded: its programs are the session's cost. */
struct bpf_object *catalog_object(void *state);
size_t catalog_size(void);
const struct probe_desc *catalog_at(size_t i);
/* Empty window and total results of probe's kind (tables with its schema; with --by
 * container|pod|service the key params->by names in place of "pid", and no "comm"; bounded
 * to COUNT_TABLE_MAX_ROWS and total_rows). params may be NULL. 0 or -errno; result_free
 * releases either. */
int catalog_results_init(const struct probe_desc *probe, const struct probe_params *params, struct result *window,
			 struct result *total, size_t total_rows);
/* window = what a histogram or count probe saw since its previous read. 0 or -errno. */
int catalog_read_window(const struct probe_desc *probe, void *state, struct result *window);
/* The hook probe uses on this kernel: hook_here() when it chooses, else its variant
 * that loads, else hook. */
const char *catalog_hook(const struct probe_desc *probe, const struct probe_params *params);

/*
 * 0 when this kernel runs probe: its own supported() check and, the first time it is
 * asked, a trial load and attach with the default parameters (kept for the agent's
 * life), so "supported" means the kernel's verifier took the programs. Probes that
 * need a target get the static check alone. Otherwise -errno with the reason.
 */
int catalog_supported(const struct probe_desc *probe, char *reason, size_t len);

/* The trial thread's nice value: the loop's sessions come first. */
#define CATALOG_TRIALS_NICE 10
/*
 * Runs catalog_supported for every probe on a thread of its own, at a lowered priority,
 * so that the trial loads (seconds on a busy or emulated machine) do not hold up the
 * caller's event loop. Started once: later calls return the same descriptor. Returns an
 * eventfd that becomes readable when catalog_trials_done(), or -errno with err set.
 * Start, done and stop are called from one thread (the agent's loop).
 */
int catalog_trials_start(char *err, size_t errlen);
bool catalog_trials_done(void);
/* Stops the trial thread after the load in progress and joins it; no-op when not started. */
void catalog_trials_stop(void);

/* Types, bounds and help of each parameter, for validation and ListProbes. */
struct param_spec {
	enum probe_param bit;
	const char *name, *type, *range, *description;
};
size_t catalog_param_count(void);
const struct param_spec *catalog_param_at(size_t i);

/*
 * Types the parameters of an Attach and checks them against the probe's catalog
 * entry, from the request alone: no file is looked at, so that the policy can
 * decide before anything a client names is touched. Returns 0, or -EINVAL with a
 * reason naming the parameter and value.
 */
int catalog_parse_params(const struct probe_desc *probe, Tracectl__Param *const *params, size_t nparams,
			 struct probe_params *out, char *err, size_t errlen);
/*
 * The checks that look at the system, once the request is authorized: the
 * cgroup directory, then the probe's validate(). Returns 0 or -errno with a
 * reason; params may then hold resources (catalog_params_release).
 */
int catalog_validate_params(const struct probe_desc *probe, struct probe_params *params, char *err, size_t errlen);
/* Releases what validation opened (params->func); accepts params holding nothing. */
void catalog_params_release(struct probe_params *params);

/* The catalog's probes are defined in their own folders: probes/NAME/NAME.c defines
 * probe_NAME, and the build lists every such file (catalog_list.h). */
extern const struct probe_desc probe_tcp_latency;

#endif
