/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stack-keyed counts (profile, offcpu): a BPF hash of struct profile_key -> u64 (samples,
 * or nanoseconds), the stack trace map its ids point into, and a per-CPU counter of what
 * found the hash full, drained every interval into "comm;outer;...;inner" rows
 * ("container:ID;outer;...;inner" with --by container, pod:UID, service:NAME).
 */
#ifndef TRACECTL_STACK_COUNTS_H
#define TRACECTL_STACK_COUNTS_H

#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "cgroup_identity.h"
#include "count_table.h"
#include "stack_key.h"
#include "stack_symbols.h"

/* Longest folded stack shipped: top rows x this stays well under the 4 MiB message limit. */
#define STACK_FOLDED_MAX 3000
/* Where a stack is built before trimming: every frame's name fits */
#define STACK_BUILD_LEN (2 * PROFILE_MAX_DEPTH * 256 + 64)
#define STACK_FRAME_LEN 256

/* The maps of one probe and what names what is lost ("samples", "blocks"). */
struct stack_counts_maps {
	struct bpf_map *counts, *stacks, *lost;
	const char *probe, *unit;
};

struct stack_counts {
	enum cgroup_workload by; /* the root frame: comm (NONE) or the key's workload "KIND:NAME" */
	struct ksyms *ksyms;
	struct usyms *usyms;
	/* read buffers, allocated once */
	struct profile_key *keys;
	__s32 *stack_ids;
	uint64_t *percpu; /* the lost counter's, one u64 per CPU */
	int ncpus;
	__u64 ips[PROFILE_MAX_DEPTH];
	uint64_t lost_before;
	/* of the read in progress */
	const struct stack_counts_maps *maps;
	struct count_table *out;
	size_t nids;
	char build[STACK_BUILD_LEN];
	char frame[STACK_FRAME_LEN];
};

/* Buffers and the kernel's symbols, once per session; by names the stacks' root frame.
 * 0 or -errno with a reason. */
int stack_counts_init(struct stack_counts *sc, enum cgroup_workload by, char *err, size_t errlen);
/* Frees what init left; accepts a zeroed or partly set up sc. */
void stack_counts_free(struct stack_counts *sc);
/*
 * Moves every count out of maps->counts into out (key "stack", the count as the first
 * value), frees the stack ids just read, and warns about counts lost since the last read.
 * Stack ids in keep (sorted, nkeep of them; may be NULL) stay: what is still to be counted.
 */
int stack_counts_read(struct stack_counts *sc, const struct stack_counts_maps *maps, const __s32 *keep, size_t nkeep,
		      struct count_table *out);

#endif
