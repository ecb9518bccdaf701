/* SPDX-License-Identifier: Apache-2.0 */
/* profile user side: per-CPU cpu-clock sampling, stacks symbolized and folded ("comm;outer;...;inner"). */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "runtime.h"
#include "stack_key.h"
#include "profile.skel.h"
#include "stack_counts.h"

#define PROFILE_DEFAULT_HZ 49

struct profile_state {
	struct probe_instance in;
	struct bpf_link **links; /* one per CPU with a perf event, NULL where the CPU is offline */
	int ncpus;               /* possible CPUs: links' length */
	struct stack_counts sc;
};

static int perf_cpu_clock_open(int cpu, uint32_t freq)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_freq = freq,
		.freq = 1,
	};

	return (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static int profile_supported(char *reason, size_t len)
{
	int fd = perf_cpu_clock_open(0, PROFILE_DEFAULT_HZ), err;

	if (fd < 0) {
		err = errno;
		snprintf(reason, len, "perf_event_open(software cpu-clock) fails: %s", strerror(err));
		return -err;
	}
	close(fd);
	return 0;
}

static struct profile *profile_skel(const struct profile_state *st)
{
	return st->in.skel;
}

/* links first: they hold the program the skeleton frees */
static void profile_detach(void *state)
{
	struct profile_state *st = state;

	/* destroying a perf_event link also closes its perf event fd */
	for (int i = 0; st->links && i < st->ncpus; i++)
		bpf_link__destroy(st->links[i]);
	free(st->links);
	stack_counts_free(&st->sc);
}

static int profile_prepare(void *state, const struct probe_params *params, char *err, size_t errlen)
{
	struct profile_state *st = state;
	int ncpus = libbpf_num_possible_cpus();

	(void)params;
	st->links = ncpus > 0 ? calloc((size_t)ncpus, sizeof(*st->links)) : NULL;
	st->ncpus = st->links ? ncpus : 0;
	if (!st->links) {
		snprintf(err, errlen, "allocating profile buffers: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	return stack_counts_init(&st->sc, st->in.by_workload, err, errlen);
}

/* One sampling event per CPU; the pid filter is in the program, since a per-task perf
 * event would follow one thread, not the whole process. */
static int profile_attach(void *state, const struct probe_params *params, char *err, size_t errlen)
{
	struct profile_state *st = state;
	uint32_t freq = params->freq_hz ? params->freq_hz : PROFILE_DEFAULT_HZ;
	int rc, attached = 0;

	for (int cpu = 0; cpu < st->ncpus; cpu++) {
		int fd = perf_cpu_clock_open(cpu, freq);

		if (fd < 0) {
			if (errno == ENODEV)
				continue; /* possible but offline */
			rc = -errno;
			snprintf(err, errlen, "perf_event_open(cpu-clock, cpu %d, %u Hz): %s", cpu, freq,
				 strerror(-rc));
			return rc;
		}
		st->links[cpu] = bpf_program__attach_perf_event(profile_skel(st)->progs.profile_sample, fd);
		if (!st->links[cpu]) {
			rc = errno ? -errno : -EINVAL;
			close(fd);
			snprintf(err, errlen, "attaching the profile program to cpu %d: %s", cpu, strerror(-rc));
			return rc;
		}
		attached++;
	}
	if (attached)
		return 0;
	snprintf(err, errlen, "no online CPU to sample");
	return -ENODEV;
}

#define PROFILE_HOOK "perf_event software cpu-clock + stack trace map"
static const struct hook_variant variant_rows[] = { { "perf_event", PROFILE_HOOK, NULL, NULL } };
HOOK_VARIANTS(variants, profile, "profile", variant_rows);

static const struct probe_runtime runtime = {
	.state_size = sizeof(struct profile_state),
	.prepare = profile_prepare,
	.started = profile_attach,
	.stopping = profile_detach,
};

static int profile_read(void *state, struct count_table *out)
{
	struct profile_state *st = state;
	struct profile *skel = profile_skel(st);
	const struct stack_counts_maps maps = {
		.counts = skel->maps.samples,
		.stacks = skel->maps.stacks,
		.lost = skel->maps.lost,
		.probe = "profile",
		.unit = "samples",
	};

	return stack_counts_read(&st->sc, &maps, NULL, 0, out);
}

const struct probe_desc probe_profile = {
	.name = "profile",
	.description = "on-CPU stack samples at --freq Hz per CPU (default 49), folded as "
		       "comm;outermost;...;innermost (kernel frames end in _[k]; with --by container|pod|service the "
		       "root frame is the workload, container:ID, pod:UID or service:NAME, instead of comm); use "
		       "--output folded (or svg) for flame graphs",
	.kind = PROBE_COUNTS,
	.hook = PROFILE_HOOK,
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_FREQ | PROBE_PARAM_TOP | PROBE_PARAM_CGROUP |
		  PROBE_PARAM_BY,
	/* comm: the stacks' root frame is the process's name, the default */
	.by_choices = "comm|container|pod|service",
	.default_top = 1000,
	.nkeys = 1,
	.key_names = { "stack" },
	.nvalues = 1,
	.value_names = { "samples" },
	.supported = profile_supported,
	.runtime = &runtime,
	.read_counts = profile_read,
};
