/* SPDX-License-Identifier: Apache-2.0 */
/* open user side: loads the skeleton with the filters and turns ring-buffer records into events. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "event_batch.h"
#include "event_ring.h"
#include "kernel_env.h"
#include "runtime.h"
#include "open.h"
#include "open.skel.h"

_Static_assert(OPEN_PATH_LEN <= EVENT_STRING_MAX, "a path exceeds an event string");

struct open_state {
	struct probe_instance in; /* first: the runtime's (its ring: event_ring_probe_*) */
	char path[OPEN_PATH_LEN];
	char comm[OPEN_COMM_LEN];
	char flags_text[256];
};

static const char *const tracepoints[] = {
	"syscalls/sys_enter_openat",
	"syscalls/sys_exit_openat",
};
/* syscall tracepoints share one record type in BTF (trace_event_raw_sys_enter) */
static const char *const tracepoint_types[] = { NULL, NULL };

static const char *const syscall_names[] = {
	[OPEN_SYSCALL_OPEN] = "open",
	[OPEN_SYSCALL_OPENAT] = "openat",
	[OPEN_SYSCALL_OPENAT2] = "openat2",
};

/* Flags named in flags_text, beyond the access mode; O_SYNC and O_TMPFILE include
 * another flag's bit, so they come first and take their bits. */
static const struct {
	unsigned long long bits;
	const char *name;
} flag_names[] = {
	{ O_SYNC, "O_SYNC" },       { O_TMPFILE, "O_TMPFILE" },   { O_CREAT, "O_CREAT" },
	{ O_EXCL, "O_EXCL" },       { O_NOCTTY, "O_NOCTTY" },     { O_TRUNC, "O_TRUNC" },
	{ O_APPEND, "O_APPEND" },   { O_NONBLOCK, "O_NONBLOCK" }, { O_DSYNC, "O_DSYNC" },
	{ O_DIRECT, "O_DIRECT" },   { O_DIRECTORY, "O_DIRECTORY" }, { O_NOFOLLOW, "O_NOFOLLOW" },
	{ O_NOATIME, "O_NOATIME" }, { O_CLOEXEC, "O_CLOEXEC" },   { O_PATH, "O_PATH" },
};

static int open_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 2, reason, len);
}

/* "O_RDONLY|O_CLOEXEC"; bits without a name are appended in hex. */
static const char *flags_format(unsigned long long flags, char *out, size_t outlen)
{
	static const char *const access[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };
	size_t used;

	used = (size_t)snprintf(out, outlen, "%s", access[flags & O_ACCMODE]);
	flags &= ~(unsigned long long)O_ACCMODE;
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]) && used < outlen; i++) {
		if ((flags & flag_names[i].bits) != flag_names[i].bits)
			continue;
		flags &= ~flag_names[i].bits;
		used += (size_t)snprintf(out + used, outlen - used, "|%s", flag_names[i].name);
	}
	if (flags && used < outlen)
		snprintf(out + used, outlen - used, "|0x%llx", flags);
	return out;
}

static int open_on_record(void *ctx, void *data, size_t size)
{
	struct open_state *st = ctx;
	const struct open_event *e = data;
	size_t header = offsetof(struct open_event, path);

	if (size < header || e->path_size > size - header || e->syscall > OPEN_SYSCALL_OPENAT2)
		return 0; /* not a record this program writes: skip rather than misread */

	/* in the order people read them (opensnoop's); the path, of any length, last */
	struct event_field fields[] = {
		{ .name = "pid", .num = e->pid },
		{ .name = "uid", .num = e->uid },
		{ .name = "comm", .str = event_ring_string(st->comm, sizeof(st->comm), e->comm, sizeof(e->comm)) },
		{ .name = "ret", .num = e->ret },
		{ .name = "syscall", .str = syscall_names[e->syscall] },
		{ .name = "dfd", .num = e->dfd },
		{ .name = "flags", .num = (int64_t)e->flags },
		{ .name = "flags_text", .str = (e->status & OPEN_FLAGS_MISSING)
						       ? "?"
						       : flags_format(e->flags, st->flags_text, sizeof(st->flags_text)) },
		{ .name = "path", .str = event_ring_string(st->path, sizeof(st->path), e->path, e->path_size) },
		{ .name = "path_missing", .num = (e->status & OPEN_PATH_MISSING) != 0, .flag = true },
	};
	event_ring_emit(&st->in.ring, e->ts_ns, e->cgroup_id, fields, sizeof(fields) / sizeof(fields[0]));
	return 0;
}

#define OPEN_HOOK                                                                                                      \
	"tracepoint syscalls:sys_enter_openat/sys_exit_openat (+ openat2, + open where the architecture has it)"
static const struct hook_variant variant_rows[] = { { "tracepoint", OPEN_HOOK, NULL, NULL } };
HOOK_VARIANTS(variants, open, "open", variant_rows);

/* open(2) where the architecture has it (x86_64, not newer ones); openat2 since 5.6. */
static int open_configure(void *state, void *skel, const struct hook_variant *variant,
			  const struct probe_params *params, char *err, size_t errlen)
{
	struct open *obj = skel;

	(void)state, (void)variant, (void)params, (void)err, (void)errlen;
	if (!kernel_env_has_syscall_tracepoints("syscalls/sys_enter_open", "syscalls/sys_exit_open")) {
		bpf_program__set_autoload(obj->progs.open_enter_open, false);
		bpf_program__set_autoload(obj->progs.open_exit_open, false);
	}
	if (!kernel_env_has_syscall_tracepoints("syscalls/sys_enter_openat2", "syscalls/sys_exit_openat2")) {
		bpf_program__set_autoload(obj->progs.open_enter_openat2, false);
		bpf_program__set_autoload(obj->progs.open_exit_openat2, false);
	}
	return 0;
}

static const struct probe_runtime runtime = {
	.state_size = sizeof(struct open_state),
	.configure = open_configure,
	.event_map = "events",
	.lost_map = "lost",
	.on_record = open_on_record,
};

const struct probe_desc probe_open = {
	.name = "open",
	.description = "one event per open/openat/openat2: pid, uid, comm, syscall, dfd, path "
		       "(read at syscall exit), flags, ret (the fd or -errno), the task's identity (cgroup, container, pod, QoS class, service)",
	.kind = PROBE_EVENTS,
	.hook = OPEN_HOOK,
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_CGROUP,
	.supported = open_supported,
	.runtime = &runtime,
	.event_fd = event_ring_probe_fd,
	.drain_events = event_ring_probe_drain,
	.events_lost = event_ring_probe_lost,
};
