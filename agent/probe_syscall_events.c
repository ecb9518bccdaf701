/* SPDX-License-Identifier: Apache-2.0 */
/* syscall-events user side (benchmark probe): streams one event per getpid() entry, for end-to-end streaming figures. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "event_batch.h"
#include "event_ring.h"
#include "kernel_env.h"
#include "syscall_events.h"
#include "syscall_events.skel.h"

struct syscall_events_state {
	struct event_ring ring; /* first: the catalog entry uses event_ring_probe_* */
	struct syscall_events *skel;
};

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

static void syscall_events_close(void **state)
{
	struct syscall_events_state *st;

	if (!state || !*state)
		return;
	st = *state;
	event_ring_close(&st->ring);
	syscall_events__destroy(st->skel);
	free(st);
	*state = NULL;
}

static int syscall_events_on_record(void *ctx, void *data, size_t size)
{
	struct syscall_events_state *st = ctx;
	const struct syscall_event *e = data;

	if (size < sizeof(*e))
		return 0;
	struct event_field fields[] = {
		{ .name = "pid", .num = e->pid },
		{ .name = "tid", .num = e->tid },
	};
	event_ring_emit(&st->ring, e->ts_ns, fields, 2);
	return 0;
}

static int syscall_events_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct syscall_events_state *st;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating syscall-events state: %s", strerror(-err));
		goto cleanup;
	}
	st->skel = syscall_events__open();
	if (!st->skel) {
		err = errno ? -errno : -EINVAL;
		snprintf(errbuf, errlen, "opening syscall-events BPF object: %s", strerror(-err));
		goto cleanup;
	}
	st->skel->rodata->targ_tgid = params ? params->pid : 0;
	/* for before/after figures only: a wakeup per event, as libbpf does by default */
	st->skel->rodata->batch_wakeup = getenv("TRACECTL_BENCH_WAKEUP_EACH") == NULL;
	err = syscall_events__load(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "loading syscall-events BPF program: %s", strerror(-err));
		goto cleanup;
	}
	err = syscall_events__attach(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "attaching syscall-events (raw_tp sys_enter): %s", strerror(-err));
		goto cleanup;
	}
	/* the ring's epoll fd joins the session's event loop: no thread of ours */
	err = event_ring_open(&st->ring, st->skel->maps.events, st->skel->maps.lost, syscall_events_on_record, st,
			      "syscall-events", errbuf, errlen);
	if (err)
		goto cleanup;
	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		syscall_events_close(&partial);
	}
	return err;
}

const struct probe_desc probe_syscall_events = {
	.name = "syscall-events",
	.description = "benchmark probe: one event (pid, tid) per getpid() entry, to measure "
		       "per-event streaming (bench/stream.py); use --pid",
	.kind = PROBE_EVENTS,
	.hook = "raw_tracepoint sys_enter (raw_syscalls), getpid only",
	.params = PROBE_PARAM_PID,
	.supported = syscall_events_supported,
	.open = syscall_events_open,
	.event_fd = event_ring_probe_fd,
	.drain_events = event_ring_probe_drain,
	.events_lost = event_ring_probe_lost,
	.close = syscall_events_close,
};
