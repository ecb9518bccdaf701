/* SPDX-License-Identifier: Apache-2.0 */
/* The target of the kernel-function probes: a glob resolved against the functions ftrace can trace. */
#ifndef TRACECTL_KFUNC_LIST_H
#define TRACECTL_KFUNC_LIST_H

#include <stddef.h>
#include <stdint.h>

#define KFUNC_TRACEABLE "/sys/kernel/tracing/available_filter_functions"

/* The distinct function names a glob matches, sorted: index i is cookie i. */
struct kfunc_list {
	char **names;
	size_t n;
	uint64_t *addrs; /* after kfunc_list_addresses: each name's address, 0 when unknown */
};

/*
 * Lists the traceable kernel functions (KFUNC_TRACEABLE) matching glob (letters,
 * digits, '_', '.', and the globs '*' '?'). -EINVAL with a reason naming parameter
 * 'target' when it is malformed, matches nothing (naming it) or matches more than
 * max (with the number it matched). Free with kfunc_list_free.
 */
int kfunc_list_resolve(const char *glob, size_t max, struct kfunc_list *out, char *err, size_t errlen);
void kfunc_list_free(struct kfunc_list *l);

/* Fills l->addrs from /proc/kallsyms (root sees the addresses). 0, or -errno with a
 * reason when none of the functions has an address there. */
int kfunc_list_addresses(struct kfunc_list *l, char *err, size_t errlen);
/* The function whose entry a kprobe's IP is (the address itself, or a few bytes past
 * it, where the kprobe sits after an endbr or reports the IP after its breakpoint);
 * -1 when none. */
long kfunc_list_index_of_ip(const struct kfunc_list *l, uint64_t ip);

/*
 * The kfunc probes' validate(): target is required (example: what the error suggests)
 * and must resolve to at most max functions. On a kernel without kprobes there is
 * nothing to resolve against: 0, and catalog_supported refuses the attach next, with
 * the reason.
 */
int kfunc_target_validate(const char *target, size_t max, const char *example, char *err, size_t errlen);

/* The function every kernel has that `tracectl probes` trial-attaches the kfunc probes to
 * (probe_desc.trial_target), so that it names the hook variant that loads here. */
#define KFUNC_TRIAL_FUNCTION "vfs_read"

/* 0 when this kernel can place kprobes (the kprobe PMU libbpf uses) and lists what
 * ftrace can trace; else -EOPNOTSUPP with the reason. */
int kfunc_supported(char *reason, size_t len);

#endif
