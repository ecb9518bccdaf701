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
#include "log.h"
#include "map_drain.h"
#include "profile.h"
#include "profile.skel.h"
#include "stack_symbols.h"

#define PROFILE_DEFAULT_HZ 49
/* Longest folded stack shipped: top rows x this stays well under the 4 MiB message limit. */
#define PROFILE_FOLDED_MAX 3000
/* Where a stack is built before trimming: every frame's name fits */
#define PROFILE_BUILD_LEN (2 * PROFILE_MAX_DEPTH * 256 + 64)
#define PROFILE_FRAME_LEN 256

struct profile_state {
	struct probe_instance in; /* in.percpu: the lost counter's read buffer */
	struct bpf_link **links; /* one per CPU with a perf event, NULL where the CPU is offline */
	struct ksyms *ksyms;
	struct usyms *usyms;
	/* read buffers, allocated once */
	struct profile_key *keys;
	__s32 *stack_ids;
	__u64 ips[PROFILE_MAX_DEPTH];
	__u64 lost_before;
	struct count_table *out; /* of the read in progress */
	size_t nids;             /* stack ids in stack_ids, of the read in progress */
	char build[PROFILE_BUILD_LEN];
	char frame[PROFILE_FRAME_LEN];
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
	for (int i = 0; st->links && i < st->in.ncpus; i++)
		bpf_link__destroy(st->links[i]);
	ksyms_free(&st->ksyms);
	usyms_free(&st->usyms);
	free(st->links);
	free(st->keys);
	free(st->stack_ids);
}

static int profile_prepare(void *state, const struct probe_params *params, char *err, size_t errlen)
{
	struct profile_state *st = state;
	int ncpus = libbpf_num_possible_cpus();

	(void)params;
	st->links = ncpus > 0 ? calloc((size_t)ncpus, sizeof(*st->links)) : NULL;
	st->keys = calloc(PROFILE_MAX_KEYS, sizeof(*st->keys));
	st->stack_ids = calloc(2 * PROFILE_MAX_KEYS, sizeof(*st->stack_ids));
	st->usyms = usyms_new();
	if (!st->links || !st->keys || !st->stack_ids || !st->usyms) {
		snprintf(err, errlen, "allocating profile buffers: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	/* Kernel symbols once per session: reads then only search. */
	st->ksyms = ksyms_load(err, errlen);
	return st->ksyms ? 0 : -errno;
}

/* One sampling event per CPU; the pid filter is in the program, since a per-task perf
 * event would follow one thread, not the whole process. */
static int profile_attach(void *state, const struct probe_params *params, char *err, size_t errlen)
{
	struct profile_state *st = state;
	uint32_t freq = params->freq_hz ? params->freq_hz : PROFILE_DEFAULT_HZ;
	int rc, attached = 0;

	for (int cpu = 0; cpu < st->in.ncpus; cpu++) {
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
	.percpu_value_size = sizeof(__u64),
};

/* Appends ";name" (or name at the start) to the stack being built; false when it is full. */
static bool append(struct profile_state *st, size_t *len, const char *name, const char *suffix)
{
	int n = snprintf(st->build + *len, sizeof(st->build) - *len, "%s%s%s", *len ? ";" : "", name, suffix);

	if (n < 0 || (size_t)n >= sizeof(st->build) - *len)
		return false;
	*len += (size_t)n;
	return true;
}

/* Frames of stack id (innermost first in the map); 0 when it is gone or invalid. */
static size_t stack_frames(struct profile_state *st, __s32 id)
{
	size_t depth = 0;

	if (id < 0 || bpf_map__lookup_elem(profile_skel(st)->maps.stacks, &id, sizeof(id), st->ips, sizeof(st->ips), 0))
		return 0;
	while (depth < PROFILE_MAX_DEPTH && st->ips[depth])
		depth++;
	return depth;
}

/* Builds "comm;user outermost;...;user innermost;kernel outermost_[k];...;innermost_[k]". */
static const char *fold(struct profile_state *st, const struct profile_key *k)
{
	size_t len = 0, depth, comm_len;
	bool any = false;

	/* comm is the root frame: ';' would split it, and the count follows the last space */
	for (size_t i = 0; i < PROFILE_COMM_LEN && k->comm[i]; i++)
		st->build[len++] = (k->comm[i] == ';' || k->comm[i] == ' ') ? '_' : k->comm[i];
	if (!len)
		st->build[len++] = '?';
	st->build[len] = '\0';
	comm_len = len;

	/* User frames, outermost first. Return addresses point after the call: look up ip - 1
	 * for all but the sampled ip, or a call at a function's end names the next function. */
	depth = stack_frames(st, k->user_stack_id);
	for (size_t i = depth; i-- > 0;) {
		usyms_name(st->usyms, k->tgid, i ? st->ips[i] - 1 : st->ips[i], st->frame, sizeof(st->frame));
		append(st, &len, st->frame, "");
	}
	any = depth > 0;
	/* -EFAULT: no user stack (a kernel thread); anything else is a stack we did not get */
	if (!depth && k->user_stack_id != -EFAULT) {
		append(st, &len, "[unknown]", "");
		any = true;
	}
	depth = stack_frames(st, k->kern_stack_id);
	for (size_t i = depth; i-- > 0;) {
		const char *name = ksyms_lookup(st->ksyms, i ? st->ips[i] - 1 : st->ips[i]);

		append(st, &len, name ? name : "[unknown]", "_[k]");
	}
	any = any || depth > 0;
	if (!any)
		append(st, &len, "[unknown]", "");

	/* Too long to ship: keep the root and the innermost frames, where the time is. */
	if (len > PROFILE_FOLDED_MAX) {
		static const char mark[] = ";[truncated]";
		size_t keep = PROFILE_FOLDED_MAX - comm_len - sizeof(mark);
		const char *tail = st->build + len - keep;
		const char *semi = strchr(tail, ';');

		tail = semi ? semi : tail;
		memcpy(st->build + comm_len, mark, sizeof(mark) - 1);
		memmove(st->build + comm_len + sizeof(mark) - 1, tail, strlen(tail) + 1);
	}
	return st->build;
}

static int cmp_s32(const void *a, const void *b)
{
	__s32 x = *(const __s32 *)a, y = *(const __s32 *)b;

	return x < y ? -1 : x > y;
}

/* One drained stack pair: its folded stack and count into the table. */
static int profile_add(const void *key, const void *value, void *ctx)
{
	struct profile_state *st = ctx;
	const struct profile_key *k = key;
	const char *keys[1];
	int err;

	keys[0] = fold(st, k);
	err = count_table_add(st->out, keys, value);
	if (err)
		return err;
	if (k->user_stack_id >= 0)
		st->stack_ids[st->nids++] = k->user_stack_id;
	if (k->kern_stack_id >= 0)
		st->stack_ids[st->nids++] = k->kern_stack_id;
	return 0;
}

static int profile_read(void *state, struct count_table *out)
{
	struct profile_state *st = state;
	uint64_t count;
	__u64 lost = 0;
	__u32 zero = 0;
	size_t nids;
	int err;

	usyms_new_pass(st->usyms);
	st->out = out;
	st->nids = 0;
	/* a sample landing meanwhile counts here or in a new entry */
	err = map_drain(profile_skel(st)->maps.samples, st->keys, PROFILE_MAX_KEYS, &count, sizeof(count), profile_add,
			st);
	err = err < 0 ? err : 0;
	nids = st->nids;

	/* Free the stacks just read, so the stack map never fills. A sample that reuses one
	 * of them meanwhile is not lost for long: a stack's id is its hash bucket, so the
	 * next sample of the same stack stores it again under the same id. */
	qsort(st->stack_ids, nids, sizeof(*st->stack_ids), cmp_s32);
	for (size_t i = 0; i < nids; i++)
		if (i == 0 || st->stack_ids[i] != st->stack_ids[i - 1])
			bpf_map__delete_elem(profile_skel(st)->maps.stacks, &st->stack_ids[i], sizeof(__s32), 0);

	if (!bpf_map__lookup_elem(profile_skel(st)->maps.lost, &zero, sizeof(zero), st->in.percpu, st->in.percpu_size,
				  0)) {
		for (int c = 0; c < st->in.ncpus; c++)
			lost += ((const __u64 *)st->in.percpu)[c];
		if (lost > st->lost_before)
			log_warn("profile: %llu samples lost (more than %d distinct stacks in an interval)",
				 (unsigned long long)(lost - st->lost_before), PROFILE_MAX_KEYS);
		st->lost_before = lost;
	}
	return err;
}

const struct probe_desc probe_profile = {
	.name = "profile",
	.description = "on-CPU stack samples at --freq Hz per CPU (default 49), folded as "
		       "comm;outermost;...;innermost (kernel frames end in _[k]); use --output folded (or svg) for flame graphs",
	.kind = PROBE_COUNTS,
	.hook = PROFILE_HOOK,
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_FREQ | PROBE_PARAM_TOP | PROBE_PARAM_CGROUP,
	.default_top = 1000,
	.nkeys = 1,
	.key_names = { "stack" },
	.nvalues = 1,
	.value_names = { "samples" },
	.supported = profile_supported,
	.runtime = &runtime,
	.read_counts = profile_read,
};
