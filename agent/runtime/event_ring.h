/* SPDX-License-Identifier: Apache-2.0 */
/* What every event probe's user side shares: its ring buffer drained into the session, wall-clock stamps, lost counts. */
#ifndef TRACECTL_EVENT_RING_H
#define TRACECTL_EVENT_RING_H

#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "catalog.h"

/*
 * An event probe's state struct starts with a struct event_ring, so that the
 * catalog entry can use event_ring_probe_fd/_drain/_lost directly.
 */
struct event_ring {
	struct ring_buffer *rb;
	struct bpf_map *lost;   /* per-CPU u64 array, slot 0: records the kernel could not reserve */
	uint64_t *lost_percpu;  /* one read buffer, allocated at open */
	int ncpus;
	struct event_sink *sink; /* valid during a drain only */
	int delivered;
	int64_t clock_offset_ns; /* wall clock - monotonic, taken once per drain */
};

/* Opens the ring buffer of map events with on_record(ctx, ...). 0 or -errno with a reason. */
int event_ring_open(struct event_ring *r, struct bpf_map *events, struct bpf_map *lost,
		    ring_buffer_sample_fn on_record, void *ctx, const char *probe, char *err, size_t errlen);
/* Frees what event_ring_open set up; safe on a zeroed or partly opened ring. */
void event_ring_close(struct event_ring *r);
/* From on_record: one event, ts from bpf_ktime_get_ns(); field names must be literals.
 * cgroup_id: the task's (bpf_get_current_cgroup_id), its identity goes with the event;
 * 0 when the probe knows no task. */
void event_ring_emit(struct event_ring *r, uint64_t ts, uint64_t cgroup_id, const struct event_field *fields,
		     size_t nfields);

/* A kernel string field of srclen bytes copied into dst, NUL-terminated whatever the record holds. */
const char *event_ring_string(char *dst, size_t dstlen, const char *src, size_t srclen);

/* probe_desc callbacks for a state that starts with a struct event_ring */
int event_ring_probe_fd(void *state);
int event_ring_probe_drain(void *state, struct event_sink *sink);
uint64_t event_ring_probe_lost(void *state);

#endif
