/* SPDX-License-Identifier: Apache-2.0 */
/* Stack-keyed counts drained and folded (stack_counts.h), for profile and offcpu. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "map_drain.h"
#include "map_percpu.h"
#include "stack_counts.h"

int stack_counts_init(struct stack_counts *sc, enum cgroup_workload by, char *err, size_t errlen)
{
	size_t bytes;

	sc->by = by;
	sc->keys = calloc(PROFILE_MAX_KEYS, sizeof(*sc->keys));
	sc->stack_ids = calloc(2 * PROFILE_MAX_KEYS, sizeof(*sc->stack_ids));
	sc->usyms = usyms_new();
	if (!sc->keys || !sc->stack_ids || !sc->usyms) {
		snprintf(err, errlen, "allocating stack buffers: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	sc->percpu = percpu_buffer_new(sizeof(uint64_t), &sc->ncpus, &bytes, "stack counts", err, errlen);
	if (!sc->percpu)
		return -ENOMEM;
	/* Kernel symbols once per session: reads then only search. */
	sc->ksyms = ksyms_load(err, errlen);
	return sc->ksyms ? 0 : -errno;
}

void stack_counts_free(struct stack_counts *sc)
{
	ksyms_free(&sc->ksyms);
	usyms_free(&sc->usyms);
	free(sc->keys);
	free(sc->stack_ids);
	free(sc->percpu);
	sc->keys = NULL;
	sc->stack_ids = NULL;
	sc->percpu = NULL;
}

/* Appends ";name" (or name at the start) to the stack being built; false when it is full. */
static bool append(struct stack_counts *sc, size_t *len, const char *name, const char *suffix)
{
	int n = snprintf(sc->build + *len, sizeof(sc->build) - *len, "%s%s%s", *len ? ";" : "", name, suffix);

	if (n < 0 || (size_t)n >= sizeof(sc->build) - *len)
		return false;
	*len += (size_t)n;
	return true;
}

/* Frames of stack id (innermost first in the map); 0 when it is gone or invalid. */
static size_t stack_frames(struct stack_counts *sc, __s32 id)
{
	size_t depth = 0;

	if (id < 0 || bpf_map__lookup_elem(sc->maps->stacks, &id, sizeof(id), sc->ips, sizeof(sc->ips), 0))
		return 0;
	while (depth < PROFILE_MAX_DEPTH && sc->ips[depth])
		depth++;
	return depth;
}

/*
 * The tracepoint's own machinery at the innermost end of a kernel stack taken in a
 * tracepoint program (offcpu at sched_switch): the loop over a tracepoint's programs when
 * more than one is attached, the BPF entry, the program. The program skips the frames
 * that are always there; these come and go with other tracers.
 */
static bool tracer_frame(const char *name)
{
	return name && (strncmp(name, "__traceiter_", 12) == 0 || strncmp(name, "__bpf_trace_", 12) == 0 ||
			strncmp(name, "bpf_trace_run", 13) == 0 || strncmp(name, "bpf_prog_", 9) == 0);
}

/*
 * Writes the root frame, comm or with --by the workload "KIND:NAME" ("KIND:-" outside any),
 * into sc->build; returns its length. ';' would split it, and the count follows the last
 * space: both become '_'.
 */
static size_t root_frame(struct stack_counts *sc, const struct profile_key *k)
{
	char workload[STACK_FRAME_LEN];
	const char *name = k->comm; /* not NUL-terminated when 16 bytes long */
	size_t len = 0, max = PROFILE_COMM_LEN;

	if (sc->by != CGROUP_WORKLOAD_NONE) {
		snprintf(workload, sizeof(workload), "%s:%s", cgroup_workload_name(sc->by),
			 cgroup_workload_of_id(k->cgroup_id, sc->by, sc->frame, sizeof(sc->frame)));
		name = workload;
		max = sizeof(workload);
	}
	for (size_t i = 0; i < max && name[i]; i++)
		sc->build[len++] = (name[i] == ';' || name[i] == ' ') ? '_' : name[i];
	if (!len)
		sc->build[len++] = '?';
	sc->build[len] = '\0';
	return len;
}

/* Builds "comm;user outermost;...;user innermost;kernel outermost_[k];...;innermost_[k]". */
static const char *fold(struct stack_counts *sc, const struct profile_key *k)
{
	size_t len = 0, depth, comm_len, inner = 0;
	bool any = false;

	len = root_frame(sc, k);
	comm_len = len;

	/* User frames, outermost first. Return addresses point after the call: look up ip - 1
	 * for all but the sampled ip, or a call at a function's end names the next function. */
	depth = stack_frames(sc, k->user_stack_id);
	/* The walk follows frame pointers from the sampled ip's frame: a stack of that ip
	 * alone is one where the first saved frame pointer was not one (code built
	 * without them, or the callers' part of the stack left out). */
	if (depth == 1)
		append(sc, &len, "[unknown: no frame pointer]", "");
	for (size_t i = depth; i-- > 0;) {
		usyms_name(sc->usyms, k->tgid, i ? sc->ips[i] - 1 : sc->ips[i], sc->frame, sizeof(sc->frame));
		append(sc, &len, sc->frame, "");
	}
	any = depth > 0;
	/* -EFAULT: no user stack (a kernel thread); anything else is a stack we did not get */
	if (!depth && k->user_stack_id != -EFAULT) {
		append(sc, &len, "[unknown]", "");
		any = true;
	}
	depth = stack_frames(sc, k->kern_stack_id);
	while (inner < depth && tracer_frame(ksyms_lookup(sc->ksyms, inner ? sc->ips[inner] - 1 : sc->ips[inner])))
		inner++;
	for (size_t i = depth; i-- > inner;) {
		const char *name = ksyms_lookup(sc->ksyms, i ? sc->ips[i] - 1 : sc->ips[i]);

		append(sc, &len, name ? name : "[unknown]", "_[k]");
	}
	any = any || depth > 0;
	if (!any)
		append(sc, &len, "[unknown]", "");

	/* Too long to ship: keep the root and the innermost frames, where the time is. */
	if (len > STACK_FOLDED_MAX) {
		static const char mark[] = ";[truncated]";
		size_t keep = STACK_FOLDED_MAX - comm_len - sizeof(mark);
		const char *tail = sc->build + len - keep;
		const char *semi = strchr(tail, ';');

		tail = semi ? semi : tail;
		memcpy(sc->build + comm_len, mark, sizeof(mark) - 1);
		memmove(sc->build + comm_len + sizeof(mark) - 1, tail, strlen(tail) + 1);
	}
	return sc->build;
}

static int cmp_s32(const void *a, const void *b)
{
	__s32 x = *(const __s32 *)a, y = *(const __s32 *)b;

	return x < y ? -1 : x > y;
}

/* One drained key: its folded stack and count into the table. */
static int add_row(const void *key, const void *value, void *ctx)
{
	struct stack_counts *sc = ctx;
	const struct profile_key *k = key;
	const char *keys[1];
	int err;

	keys[0] = fold(sc, k);
	err = count_table_add(sc->out, keys, value);
	if (err)
		return err;
	if (k->user_stack_id >= 0)
		sc->stack_ids[sc->nids++] = k->user_stack_id;
	if (k->kern_stack_id >= 0)
		sc->stack_ids[sc->nids++] = k->kern_stack_id;
	return 0;
}

int stack_counts_read(struct stack_counts *sc, const struct stack_counts_maps *maps, const __s32 *keep, size_t nkeep,
		      struct count_table *out)
{
	uint64_t count, lost = 0;
	size_t nids, k = 0;
	int err;

	usyms_new_pass(sc->usyms);
	sc->maps = maps;
	sc->out = out;
	sc->nids = 0;
	/* a count landing meanwhile counts here or in a new entry */
	err = map_drain(maps->counts, sc->keys, PROFILE_MAX_KEYS, &count, sizeof(count), add_row, sc);
	err = err < 0 ? err : 0;
	nids = sc->nids;

	/* Free the stacks just read, so the stack map never fills. A count that reuses one
	 * of them meanwhile is not lost for long: a stack's id is its hash bucket, so the
	 * next time the same stack is taken it is stored again under the same id. */
	qsort(sc->stack_ids, nids, sizeof(*sc->stack_ids), cmp_s32);
	for (size_t i = 0; i < nids; i++) {
		if (i && sc->stack_ids[i] == sc->stack_ids[i - 1])
			continue;
		while (k < nkeep && keep[k] < sc->stack_ids[i])
			k++;
		if (k < nkeep && keep[k] == sc->stack_ids[i])
			continue;
		bpf_map__delete_elem(maps->stacks, &sc->stack_ids[i], sizeof(__s32), 0);
	}

	if (!map_sum_percpu(maps->lost, 0, sc->percpu, sc->ncpus, 1, &lost)) {
		if (lost > sc->lost_before)
			log_warn("%s: %llu %s lost (more than %d distinct stacks in an interval)", maps->probe,
				 (unsigned long long)(lost - sc->lost_before), maps->unit, PROFILE_MAX_KEYS);
		sc->lost_before = lost;
	}
	return err;
}
