/* SPDX-License-Identifier: Apache-2.0 */
/* syscall-events user side (benchmark probe): streams one event per getpid() entry, for end-to-end streaming figures. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel_env.h"
#include "runtime.h"
#include "syscall_events.h"
#include "syscall_events.skel.h"

static const char *const tracepoints[] = { "raw_syscalls/sys_enter" };
static const char *const tracepoint_types[] = { "sys_enter" };

static int syscall_events_supported(char *reason, size_t len)
{
#if defined(__x86_64__)
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 1, reason, len);
#else
	snprintf(reason, len, "benchmark probe: getpid's number is known on x86_64 only");
	return -ENOTSUP;
#endif
}

static int syscall_events_on_record(void *ctx, void *data, size_t size)
{
	struct probe_instance *in = ctx;
	const struct syscall_event *e = data;

	if (size < sizeof(*e))
		return 0;
	struct event_field fields[] = {
		{ .name = "pid", .num = e->pid },
		{ .name = "tid", .num = e->tid },
	};
	event_ring_emit(&in->ring, e->ts_ns, e->cgroup_id, fields, 2);
	return 0;
}

#define SYSCALL_EVENTS_HOOK "raw_tracepoint sys_enter (raw_syscalls), getpid only"
static const struct hook_variant variant_rows[] = { { "raw_tp", SYSCALL_EVENTS_HOOK, NULL, NULL } };
HOOK_VARIANTS(variants, syscall_events, "syscall-events", variant_rows);

static int syscall_events_configure(void *state, void *skel, const struct hook_variant *variant,
				    const struct probe_params *params, char *err, size_t errlen)
{
	(void)state, (void)variant, (void)params, (void)err, (void)errlen;
	/* for before/after figures only: a wakeup per event, as libbpf does by default */
	((struct syscall_events *)skel)->rodata->batch_wakeup = getenv("TRACECTL_BENCH_WAKEUP_EACH") == NULL;
	return 0;
}

static const struct probe_runtime runtime = {
	.configure = syscall_events_configure,
	.event_map = "events",
	.lost_map = "lost",
	.on_record = syscall_events_on_record,
};

const struct probe_desc probe_syscall_events = {
	.name = "syscall-events",
	.description = "benchmark probe: one event (pid, tid, identity) per getpid() entry, to measure "
		       "per-event streaming (bench/stream.py); use --pid",
	.kind = PROBE_EVENTS,
	.hook = SYSCALL_EVENTS_HOOK,
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_CGROUP,
	.supported = syscall_events_supported,
	.runtime = &runtime,
	.event_fd = event_ring_probe_fd,
	.drain_events = event_ring_probe_drain,
	.events_lost = event_ring_probe_lost,
};
