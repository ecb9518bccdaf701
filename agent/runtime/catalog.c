/* SPDX-License-Identifier: Apache-2.0 */
/* The catalog table and its parameters: every probes/NAME/ folder is one entry. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "catalog.h"
#include "duration.h"
#include "cgroup_identity.h"
#include "kernel_env.h"
#include "func_target.h"
#include "hook_variant.h"
#include "log.h"
#include "runtime.h"

/* catalog_list.h is generated from the probes/NAME/NAME.c files, sorted by name */
#define CATALOG_PROBE(name) extern const struct probe_desc name;
#include "catalog_list.h"
#undef CATALOG_PROBE

static const struct probe_desc *const catalog[] = {
#define CATALOG_PROBE(name) &name,
#include "catalog_list.h"
#undef CATALOG_PROBE
};

size_t catalog_size(void)
{
	return sizeof(catalog) / sizeof(catalog[0]);
}

const struct probe_desc *catalog_at(size_t i)
{
	return i < catalog_size() ? catalog[i] : NULL;
}

const struct probe_desc *catalog_find(const char *name)
{
	for (size_t i = 0; i < catalog_size(); i++)
		if (strcmp(catalog[i]->name, name) == 0)
			return catalog[i];
	return NULL;
}

int catalog_open(const struct probe_desc *probe, const struct probe_params *params, void **state, char *err,
		 size_t errlen)
{
	return probe_runtime_open(probe, params, state, err, errlen);
}

void catalog_close(void **state)
{
	probe_runtime_close(state);
}

struct bpf_object *catalog_object(void *state)
{
	return probe_runtime_object(state);
}

static bool probe_has_key(const struct probe_desc *probe, const char *name)
{
	for (size_t i = 0; i < probe->nkeys; i++)
		if (strcmp(probe->key_names[i], name) == 0)
			return true;
	return false;
}

int catalog_results_init(const struct probe_desc *probe, const struct probe_params *params, struct result *window,
			 struct result *total, size_t total_rows)
{
	enum result_kind kind = (enum result_kind)probe->kind;
	bool by_workload = params && cgroup_workload_by(params->by) != CGROUP_WORKLOAD_NONE;
	const char *key_names[COUNT_MAX_KEYS];
	size_t nkeys = 0;

	/* --by container|pod|service: the workload's key where the process's (pid, comm) were;
	 * first for a probe keyed without a process (a stack probe's workload is its stacks'
	 * root frame instead) */
	if (by_workload && !probe_has_key(probe, "pid") && !probe_has_key(probe, "stack"))
		key_names[nkeys++] = params->by;
	for (size_t i = 0; i < probe->nkeys && nkeys < COUNT_MAX_KEYS; i++) {
		if (by_workload && strcmp(probe->key_names[i], "comm") == 0)
			continue;
		key_names[nkeys++] = by_workload && strcmp(probe->key_names[i], "pid") == 0 ? params->by
											   : probe->key_names[i];
	}
	int err = result_init_kind(window, kind, nkeys, key_names, probe->nvalues, probe->value_names,
				   COUNT_TABLE_MAX_ROWS);

	if (err) {
		result_init(total);
		return err;
	}
	return result_init_kind(total, kind, nkeys, key_names, probe->nvalues, probe->value_names, total_rows);
}

int catalog_read_window(const struct probe_desc *probe, void *state, struct result *window)
{
	result_clear(window);
	switch (probe->kind) {
	case PROBE_HISTOGRAM:
		return probe->read_hist(state, &window->hists);
	case PROBE_COUNTS:
		return probe->read_counts(state, &window->counts);
	case PROBE_EVENTS:
		break;
	}
	return -EINVAL; /* events are drained, not read */
}

const char *catalog_hook(const struct probe_desc *probe, const struct probe_params *params)
{
	if (probe->hook_here)
		return probe->hook_here(params);
	return probe->variants ? hook_variants_here(probe->variants) : probe->hook;
}

/* What a trial load found, per catalog entry: asked once per agent, kept. Written by
 * the loop (an Attach) and by the trial thread below, under trials_lock. */
enum trial_state { TRIAL_NOT_YET, TRIAL_RUNNING, TRIAL_LOADED, TRIAL_REFUSED, TRIAL_NOT_POSSIBLE };
static struct {
	enum trial_state state;
	char reason[256];
} trials[sizeof(catalog) / sizeof(catalog[0])];
static pthread_mutex_t trials_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t catalog_index(const struct probe_desc *probe)
{
	for (size_t i = 0; i < catalog_size(); i++)
		if (catalog[i] == probe)
			return i;
	return catalog_size();
}

/* Loads and attaches probe with its default parameters, then closes it: TRIAL_LOADED, or
 * TRIAL_REFUSED with the kernel's reason. */
static enum trial_state trial_load(const struct probe_desc *probe, char *reason, size_t len)
{
	struct probe_params defaults = { 0 };
	void *state = NULL;
	char why[256] = "";
	int err;

	/* A probe that needs a target (a binary, a tracepoint) cannot be loaded without one:
	 * its static check is all there is until a client names it, unless it names a
	 * target every kernel has (kernel functions). */
	if ((probe->params & PROBE_PARAM_TARGET) && !probe->trial_target)
		return TRIAL_NOT_POSSIBLE;
	if (probe->trial_target)
		snprintf(defaults.target, sizeof(defaults.target), "%s", probe->trial_target);
	err = catalog_open(probe, &defaults, &state, why, sizeof(why));
	catalog_close(&state);
	if (!err)
		return TRIAL_LOADED;
	if (probe->trial_target)
		snprintf(reason, len, "a trial attach to %s failed: %s", probe->trial_target, why);
	else
		snprintf(reason, len, "%s", why);
	return TRIAL_REFUSED;
}

int catalog_supported(const struct probe_desc *probe, char *reason, size_t len)
{
	size_t i = catalog_index(probe);
	char why[256] = "";
	enum trial_state state;
	int err;

	/* too old a kernel, or no BTF: every probe says so, before any probe-specific check */
	err = kernel_env_baseline(why, sizeof(why));
	if (!err)
		err = probe->supported(why, sizeof(why));
	if (err) {
		snprintf(reason, len, "%s", why);
		return err;
	}
	if (i == catalog_size())
		return 0;
	pthread_mutex_lock(&trials_lock);
	state = trials[i].state;
	if (state == TRIAL_NOT_YET)
		trials[i].state = TRIAL_RUNNING;
	else if (state == TRIAL_REFUSED)
		snprintf(reason, len, "%s", trials[i].reason);
	pthread_mutex_unlock(&trials_lock);
	if (state == TRIAL_NOT_YET || state == TRIAL_RUNNING) {
		enum trial_state found = trial_load(probe, why, sizeof(why));

		/* running elsewhere: this caller's own answer, the other one's is kept */
		if (state == TRIAL_NOT_YET) {
			pthread_mutex_lock(&trials_lock);
			trials[i].state = found;
			snprintf(trials[i].reason, sizeof(trials[i].reason), "%s", why);
			pthread_mutex_unlock(&trials_lock);
		}
		state = found;
		if (state == TRIAL_REFUSED)
			snprintf(reason, len, "%s", why);
	}
	return state == TRIAL_REFUSED ? -EOPNOTSUPP : 0;
}

/* The trial thread: one per agent, started by the first call that needs every probe's
 * answer, so that the kernel's verifier works while the event loop serves sessions. */
static struct {
	pthread_t thread;
	bool started;    /* the loop's own flag: only the loop starts and stops the thread */
	atomic_bool done, stop;
	int ready_fd;    /* eventfd: readable once every trial has an answer (or stop was asked) */
} trial_thread = { .ready_fd = -1 };

static void *trial_thread_main(void *arg)
{
	char reason[256];
	uint64_t one = 1;
	size_t i;

	(void)arg;
	pthread_setname_np(pthread_self(), "tracectl-trial"); /* its own line in top -H and perf */
	/* below the loop's priority: the sessions' windows and timed workloads go first */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), CATALOG_TRIALS_NICE))
		log_debug("trial thread: setpriority: %s", strerror(errno));
	for (i = 0; i < catalog_size() && !atomic_load(&trial_thread.stop); i++)
		catalog_supported(catalog[i], reason, sizeof(reason));
	atomic_store(&trial_thread.done, i == catalog_size());
	if (write(trial_thread.ready_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("trial thread: cannot wake the event loop: %s", strerror(errno));
	return NULL;
}

int catalog_trials_start(char *err, size_t errlen)
{
	int rc;

	if (trial_thread.started)
		return trial_thread.ready_fd;
	trial_thread.ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (trial_thread.ready_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -errno;
	}
	rc = pthread_create(&trial_thread.thread, NULL, trial_thread_main, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot start the trial thread: %s", strerror(rc));
		close(trial_thread.ready_fd);
		trial_thread.ready_fd = -1;
		return -rc;
	}
	trial_thread.started = true;
	return trial_thread.ready_fd;
}

bool catalog_trials_done(void)
{
	return atomic_load(&trial_thread.done);
}

void catalog_trials_stop(void)
{
	if (!trial_thread.started)
		return;
	/* a load in progress cannot be interrupted cleanly: it finishes, the rest are skipped */
	atomic_store(&trial_thread.stop, true);
	pthread_join(trial_thread.thread, NULL);
	close(trial_thread.ready_fd);
	trial_thread.ready_fd = -1;
	trial_thread.started = false;
}

static const struct param_spec params[] = {
	{ PROBE_PARAM_PID, "pid", "u32", "1..4194304", "only this process (thread group id)" },
	{ PROBE_PARAM_COMM, "comm", "string", "1..15 bytes", "only tasks with this command name" },
	{ PROBE_PARAM_PORT, "port", "u32", "1..65535", "only sockets with this local or remote port" },
	{ PROBE_PARAM_TOP, "top", "u32", "1..100000", "rows per snapshot, largest first" },
	/* each probe's own form is its target_form (tracectl probes shows it) */
	{ PROBE_PARAM_TARGET, "target", "string", "see probe",
	  "what to hook: an ELF file's absolute path and a function name or glob (func-*), tracepoints "
	  "CATEGORY:PATTERN (tp-count), kernel functions (kfunc-*)" },
	{ PROBE_PARAM_FREQ, "freq", "u32", "1..10000", "samples per second per CPU" },
	{ PROBE_PARAM_BY, "by", "enum", "see probe", "how to split the results" },
	{ PROBE_PARAM_CGROUP, "cgroup", "string", "cgroup v2 path",
	  "only tasks in this cgroup or below (path under the cgroup v2 mount, or under /sys/fs/cgroup)" },
	{ PROBE_PARAM_CGROUP, "container", "string", "1..64 hex digits",
	  "only tasks in this container or below (a unique prefix of its id: containerd, CRI-O, Docker, Podman)" },
	{ PROBE_PARAM_CGROUP, "pod", "string", "pod UID", "only tasks in this Kubernetes pod (either kubelet cgroup driver)" },
	{ PROBE_PARAM_CGROUP, "service", "string", "systemd unit", "only tasks in this systemd service (NAME or NAME.service)" },
	{ PROBE_PARAM_MEASURE, "measure", "enum", "see probe", "what to measure (the first choice is the default; fewer hooks cost less)" },
	{ PROBE_PARAM_MIN_BLOCK, "min-block", "duration", "1ns..1h", "count only blocks at least this long (e.g. 1ms)" },
};

size_t catalog_param_count(void)
{
	return sizeof(params) / sizeof(params[0]);
}

const struct param_spec *catalog_param_at(size_t i)
{
	return i < catalog_param_count() ? &params[i] : NULL;
}

static int parse_u32(const struct param_spec *spec, const char *value, uint32_t min, uint32_t max, uint32_t *out,
		     char *err, size_t errlen)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(value, &end, 10);
	if (!*value || *value == '-' || *end || errno || v < min || v > max) {
		snprintf(err, errlen, "parameter '%s' value '%.64s' is not a number in %u..%u", spec->name, value, min,
			 max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/* True when choice is one of the '|'-separated words of choices. */
static bool one_of(const char *choices, const char *choice)
{
	size_t n = strlen(choice);

	for (const char *p = choices; p && *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, choice, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

/* The cgroup filters: names only, looked up in the cgroup v2 hierarchy by catalog_validate_params. */
static int parse_cgroup_param(const struct param_spec *spec, const char *value, struct probe_params *out, char *err,
			      size_t errlen)
{
	char *dst = out->cgroup;
	size_t size = sizeof(out->cgroup);

	if (strcmp(spec->name, "cgroup") == 0) {
		/* only paths inside the cgroup hierarchy: no arbitrary file probing */
		if (value[0] != '/' || strstr(value, "..") || strlen(value) >= size) {
			snprintf(err, errlen, "parameter 'cgroup' value '%.64s' is not a cgroup under /sys/fs/cgroup",
				 value);
			return -EINVAL;
		}
	} else {
		if (strcmp(spec->name, "container") == 0)
			dst = out->container, size = sizeof(out->container);
		else if (strcmp(spec->name, "pod") == 0)
			dst = out->pod, size = sizeof(out->pod);
		else
			dst = out->service, size = sizeof(out->service);
		/* a name, never a path: it is compared with directory names, not opened */
		if (!*value || strlen(value) >= size || strchr(value, '/') || value[0] == '.') {
			snprintf(err, errlen, "parameter '%s' value '%.64s' is not a %s name", spec->name, value,
				 spec->name);
			return -EINVAL;
		}
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

static int parse_one(const struct probe_desc *probe, const struct param_spec *spec, const char *value,
		     struct probe_params *out, char *err, size_t errlen)
{
	uint32_t v;

	switch (spec->bit) {
	case PROBE_PARAM_PID:
		return parse_u32(spec, value, 1, 4194304, &out->pid, err, errlen);
	case PROBE_PARAM_PORT:
		if (parse_u32(spec, value, 1, 65535, &v, err, errlen))
			return -EINVAL;
		out->port = (uint16_t)v;
		return 0;
	case PROBE_PARAM_TOP:
		return parse_u32(spec, value, 1, 100000, &out->top, err, errlen);
	case PROBE_PARAM_FREQ:
		return parse_u32(spec, value, 1, 10000, &out->freq_hz, err, errlen);
	case PROBE_PARAM_COMM:
		if (!*value || strlen(value) >= PROBE_COMM_LEN) {
			snprintf(err, errlen, "parameter 'comm' value '%.64s' must be 1..%d bytes", value,
				 PROBE_COMM_LEN - 1);
			return -EINVAL;
		}
		memcpy(out->comm, value, strlen(value) + 1);
		return 0;
	case PROBE_PARAM_TARGET:
		if (!*value || strlen(value) >= PROBE_TARGET_LEN) {
			snprintf(err, errlen, "parameter 'target' must be 1..%d bytes",
				 PROBE_TARGET_LEN - 1);
			return -EINVAL;
		}
		memcpy(out->target, value, strlen(value) + 1);
		return 0;
	case PROBE_PARAM_BY:
	case PROBE_PARAM_MEASURE: {
		const char *choices = spec->bit == PROBE_PARAM_BY ? probe->by_choices : probe->measure_choices;
		char *dst = spec->bit == PROBE_PARAM_BY ? out->by : out->measure;

		if (!one_of(choices, value)) {
			snprintf(err, errlen, "parameter '%s' value '%.32s' is not one of %s", spec->name, value,
				 choices ? choices : "(none)");
			return -EINVAL;
		}
		memcpy(dst, value, strlen(value) + 1);
		return 0;
	}
	case PROBE_PARAM_MIN_BLOCK:
		if (duration_parse(value, &out->min_block_ns) || !out->min_block_ns ||
		    out->min_block_ns > 3600ull * 1000000000ull) {
			snprintf(err, errlen, "parameter 'min-block' value '%.64s' is not a duration in 1ns..1h (e.g. 500us)",
				 value);
			return -EINVAL;
		}
		return 0;
	case PROBE_PARAM_CGROUP:
		return parse_cgroup_param(spec, value, out, err, errlen);
	}
	snprintf(err, errlen, "parameter '%s' cannot be parsed", spec->name);
	return -EINVAL;
}

int catalog_parse_params(const struct probe_desc *probe, Tracectl__Param *const *given, size_t ngiven,
			 struct probe_params *out, char *err, size_t errlen)
{
	uint32_t seen = 0;

	memset(out, 0, sizeof(*out));
	out->agent_tgid = (uint32_t)getpid();
	for (size_t g = 0; g < ngiven; g++) {
		const struct param_spec *spec = NULL;

		for (size_t i = 0; i < catalog_param_count(); i++)
			if (strcmp(params[i].name, given[g]->name) == 0)
				spec = &params[i];
		if (!spec || !(probe->params & spec->bit)) {
			char accepted[256] = "";
			size_t len = 0;

			for (size_t i = 0; i < catalog_param_count(); i++)
				if (probe->params & params[i].bit)
					len += (size_t)snprintf(accepted + len, len < sizeof(accepted) ? sizeof(accepted) - len : 0,
								"%s%s", len ? ", " : "", params[i].name);
			snprintf(err, errlen, "%s parameter '%.32s' for probe %s (it takes: %s)",
				 spec ? "unsupported" : "unknown", given[g]->name, probe->name, len ? accepted : "none");
			return -EINVAL;
		}
		if (seen & (1u << (spec - params))) {
			snprintf(err, errlen, "parameter '%s' given twice", spec->name);
			return -EINVAL;
		}
		seen |= 1u << (spec - params);
		if (parse_one(probe, spec, given[g]->value, out, err, errlen))
			return -EINVAL;
	}
	if (!out->top)
		out->top = probe->default_top;
	return 0;
}

int catalog_validate_params(const struct probe_desc *probe, struct probe_params *params, char *err, size_t errlen)
{
	const struct {
		enum cgroup_workload kind;
		const char *value;
	} filters[CGROUP_FILTER_MAX] = {
		{ CGROUP_WORKLOAD_PATH, params->cgroup },
		{ CGROUP_WORKLOAD_CONTAINER, params->container },
		{ CGROUP_WORKLOAD_POD, params->pod },
		{ CGROUP_WORKLOAD_SERVICE, params->service },
	};
	size_t n = 0;

	/* each one given is a directory the task must be in or below, checked in the kernel */
	memset(params->cgroups, 0, sizeof(params->cgroups));
	for (size_t i = 0; i < CGROUP_FILTER_MAX; i++) {
		int rc;

		if (!filters[i].value[0])
			continue;
		rc = cgroup_filter_resolve(filters[i].kind, filters[i].value, &params->cgroups[n], err, errlen);
		if (rc)
			return rc;
		n++;
	}
	if (probe->validate)
		return probe->validate(params, err, errlen);
	return 0;
}

void catalog_params_release(struct probe_params *params)
{
	func_target_free(&params->func);
}
