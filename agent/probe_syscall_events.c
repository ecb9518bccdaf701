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
#include "kernel_env.h"
#include "syscall_events.h"
#include "syscall_events.skel.h"

struct syscall_events_state {
	struct syscall_events *skel;
	struct ring_buffer *rb;
	struct event_sink *sink; /* valid during drain only */
	int delivered;
	int64_t clock_offset_ns; /* unix - monotonic, taken per drain */
	__u64 *percpu; /* one lost counter per possible CPU */
	int ncpus;
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
	ring_buffer__free(st->rb);
	syscall_events__destroy(st->skel);
	free(st->percpu);
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
	event_sink_emit(st->sink, (uint64_t)((int64_t)e->ts_ns + st->clock_offset_ns), fields, 2);
	st->delivered++;
	return 0;
}

static int syscall_events_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct syscall_events_state *st;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (st)
		st->ncpus = libbpf_num_possible_cpus();
	if (!st || st->ncpus <= 0 || !(st->percpu = calloc((size_t)st->ncpus, sizeof(*st->percpu)))) {
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
	st->rb = ring_buffer__new(bpf_map__fd(st->skel->maps.events), syscall_events_on_record, st, NULL);
	if (!st->rb) {
		err = errno ? -errno : -ENOMEM;
		snprintf(errbuf, errlen, "opening syscall-events ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		syscall_events_close(&partial);
	}
	return err;
}

static int syscall_events_event_fd(void *state)
{
	return ring_buffer__epoll_fd(((struct syscall_events_state *)state)->rb);
}

static int syscall_events_drain(void *state, struct event_sink *sink)
{
	struct syscall_events_state *st = state;
	int err;

	st->sink = sink;
	st->delivered = 0;
	st->clock_offset_ns = kernel_env_mono_offset_ns();
	err = ring_buffer__consume(st->rb);
	st->sink = NULL;
	return err < 0 ? err : st->delivered;
}

static uint64_t syscall_events_lost(void *state)
{
	struct syscall_events_state *st = state;
	__u32 zero = 0;
	uint64_t total = 0;

	if (bpf_map__lookup_elem(st->skel->maps.lost, &zero, sizeof(zero), st->percpu,
				 (size_t)st->ncpus * sizeof(*st->percpu), 0))
		return 0;
	for (int i = 0; i < st->ncpus; i++)
		total += st->percpu[i];
	return total;
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
	.event_fd = syscall_events_event_fd,
	.drain_events = syscall_events_drain,
	.events_lost = syscall_events_lost,
	.close = syscall_events_close,
};
