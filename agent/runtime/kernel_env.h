/* SPDX-License-Identifier: Apache-2.0 */
/* Getting the host ready for probes: tracefs mounted, memlock, library logging. */
#ifndef TRACECTL_KERNEL_ENV_H
#define TRACECTL_KERNEL_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Mounts tracefs on /sys/kernel/tracing when it is empty (not mounted at boot on
 * our hosts), tries to lift RLIMIT_MEMLOCK (ignored when it cannot: memcg-accounted
 * kernels do not need it). Returns 0 or -errno with a reason in err.
 */
int kernel_env_prepare(char *err, size_t errlen);
/* uname release, e.g. "6.18.44". */
const char *kernel_env_release(void);
/* 1 when release ("5.10.0-46-amd64") is MAJOR.MINOR or newer, 0 when older, -EINVAL unparsable. */
int kernel_env_release_at_least(const char *release, unsigned major, unsigned minor);

/* The oldest kernel line tracectl is tested on (the kernel matrix's oldest, Debian 11). */
#define KERNEL_ENV_OLDEST_MAJOR 5u
#define KERNEL_ENV_OLDEST_MINOR 10u
/*
 * 0 when this kernel is one tracectl supports: not older than the oldest above, and
 * with kernel BTF (its own, or the operator's --btf file). Otherwise -EOPNOTSUPP with
 * a reason a user can act on; every probe is then unsupported with it.
 */
int kernel_env_baseline(char *reason, size_t len);

/*
 * --btf FILE: this kernel's BTF from a file (BTFHub-style archives), for kernels built
 * without /sys/kernel/btf/vmlinux. Checked to parse and to describe a kernel; probes
 * then relocate against it (kernel_env_btf_custom_path, for libbpf's btf_custom_path).
 * Call before anything reads kernel BTF. 0 or -errno with a reason naming the file.
 */
int kernel_env_use_btf(const char *path, char *err, size_t errlen);
/* The --btf file, or NULL when the kernel's own BTF is used. */
const char *kernel_env_btf_custom_path(void);
/* Where kernel BTF comes from, for provenance: the --btf file or /sys/kernel/btf/vmlinux. */
const char *kernel_env_btf_source(void);
/* Kernel BTF parsed once for the agent's life (NULL when there is none); not to be freed. */
struct btf;
const struct btf *kernel_env_vmlinux_btf(void);

/*
 * 0 when every tracepoint ("sock/sock_send_length") exists: looked up in tracefs
 * when mounted, else by its record type in kernel BTF ("trace_event_raw_" +
 * btf_types[i], NULL to skip). Otherwise -EOPNOTSUPP with a reason.
 */
int kernel_env_check_tracepoints(const char *const *tracepoints, const char *const *btf_types, size_t n,
				 char *reason, size_t len);
/* Where tracefs lists the kernel's tracepoints, one directory per category. */
#define KERNEL_ENV_TRACEFS_EVENTS "/sys/kernel/tracing/events"
/* True when tracefs is mounted there (kernel_env_prepare mounts it). */
bool kernel_env_tracefs_mounted(void);

#define TRACEPOINT_NAME_MAX 256 /* "category:name" */
/* Tracepoints by name, "category:name", sorted. */
struct tracepoint_list {
	char (*names)[TRACEPOINT_NAME_MAX];
	size_t n, cap;
	size_t matched; /* may exceed n when more than the limit match */
};
/*
 * Lists the tracepoints under tracefs matching pattern (CATEGORY:PATTERN, fnmatch
 * globs on both sides), at most max, sorted. -EINVAL with a reason naming subject
 * ("parameter 'target'") when pattern is malformed, matches nothing or matches more
 * than max; -errno when tracefs cannot be read. out is empty on error.
 */
int tracepoint_list_resolve(const char *pattern, size_t max, const char *subject, struct tracepoint_list *out,
			    char *err, size_t errlen);
void tracepoint_list_free(struct tracepoint_list *l);
/* True when the syscall tracepoints enter and exit ("syscalls/sys_enter_openat2") both
 * exist here: syscalls some kernels or architectures lack. */
bool kernel_env_has_syscall_tracepoints(const char *enter, const char *exit);
/*
 * True when this kernel loads a tp_btf (BTF-typed raw tracepoint) program for the
 * tracepoint tp ("sched_switch"): it has BTF for it and allows BPF_PROG_TYPE_TRACING.
 * Probes use it to choose between their tp_btf and raw_tp / tracepoint variants, the
 * way libbpf-tools' probe_tp_btf() does: a tiny program is loaded and freed.
 */
bool kernel_env_tp_btf_usable(const char *tp);
/*
 * Keeps one of each pair of programs a probe compiles for the same tracepoint: the
 * tp_btf one ("tp_btf/NAME") when btf, else its twin ("tp/CATEGORY/NAME" or
 * "raw_tp/NAME"). Programs without a twin, and programs already set not to load,
 * are left as they are.
 */
struct bpf_object;
void kernel_env_pick_tp_btf(struct bpf_object *obj, bool btf);
/* From now on kernel_env_tp_btf_usable() says no: every probe uses its tracepoint or
 * raw_tp variant (the agent's --no-tp-btf, for kernels whose tp_btf misbehaves). */
void kernel_env_disable_tp_btf(void);
bool kernel_env_tp_btf_disabled(void);
/*
 * The number of arguments the raw tracepoint tp ("block_rq_issue") passes here, from
 * its prototype in kernel BTF (btf_trace_TP), or -errno. A tp_btf program reads them
 * by position, so a tracepoint whose arguments changed (block_rq_issue lost its queue
 * argument in 5.11) needs its variant checked.
 */
int kernel_env_tp_args(const char *tp);
/*
 * True when the kernel allocates hash map elements from BPF's own memory allocator
 * (6.1+, found as struct bpf_mem_alloc in kernel BTF): before it, a map that is not
 * preallocated takes per-CPU values from the atomic per-CPU pool, which runs dry
 * (ENOMEM) for large values such as histograms. Probed once.
 */
bool kernel_env_bpf_mem_alloc(void);
/* A bpf_ktime_get_ns() timestamp as wall-clock nanoseconds since the epoch. */
uint64_t kernel_env_mono_to_unix_ns(uint64_t mono_ns);
/* CLOCK_REALTIME - CLOCK_MONOTONIC now, in ns: take it once per ring-buffer drain and add
 * it to each record's bpf_ktime_get_ns() (two vDSO clock reads per event cost more than
 * the rest of the agent's per-event work). */
int64_t kernel_env_mono_offset_ns(void);

#endif
