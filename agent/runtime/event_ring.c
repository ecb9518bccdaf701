/* SPDX-License-Identifier: Apache-2.0 */
/* What every event probe's user side shares: its ring buffer drained into the session, wall-clock stamps, lost counts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup_identity.h"
#include "event_ring.h"
#include "kernel_env.h"
#include "map_percpu.h"

int event_ring_open(struct event_ring *r, struct bpf_map *events, struct bpf_map *lost,
		    ring_buffer_sample_fn on_record, void *ctx, const char *probe, char *err, size_t errlen)
{
	int ret;

	size_t bytes;

	r->lost = lost;
	r->lost_percpu = percpu_buffer_new(sizeof(*r->lost_percpu), &r->ncpus, &bytes, probe, err, errlen);
	if (!r->lost_percpu)
		return -ENOMEM;
	r->rb = ring_buffer__new(bpf_map__fd(events), on_record, ctx, NULL);
	if (!r->rb) {
		ret = errno ? -errno : -ENOMEM;
		snprintf(err, errlen, "opening %s ring buffer: %s", probe, strerror(-ret));
		return ret;
	}
	return 0;
}

void event_ring_close(struct event_ring *r)
{
	ring_buffer__free(r->rb);
	free(r->lost_percpu);
	r->rb = NULL;
	r->lost_percpu = NULL;
}

void event_ring_emit(struct event_ring *r, uint64_t ts, uint64_t cgroup_id, const struct event_field *fields,
		     size_t nfields)
{
	event_sink_emit(r->sink, (uint64_t)((int64_t)ts + r->clock_offset_ns), fields, nfields,
			cgroup_id ? cgroup_identity_of_id(cgroup_id) : NULL);
	r->delivered++;
}

const char *event_ring_string(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n = strnlen(src, srclen < dstlen ? srclen : dstlen - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return dst;
}

int event_ring_probe_fd(void *state)
{
	return ring_buffer__epoll_fd(((struct event_ring *)state)->rb);
}

int event_ring_probe_drain(void *state, struct event_sink *sink)
{
	struct event_ring *r = state;
	int err;

	r->sink = sink;
	r->delivered = 0;
	/* one clock read per drain, not per event: it was a quarter of the agent's CPU */
	r->clock_offset_ns = kernel_env_mono_offset_ns();
	err = ring_buffer__consume(r->rb);
	r->sink = NULL;
	return err < 0 ? err : r->delivered;
}

uint64_t event_ring_probe_lost(void *state)
{
	struct event_ring *r = state;
	uint64_t total = 0;

	if (!r->lost || map_sum_percpu(r->lost, 0, r->lost_percpu, r->ncpus, 1, &total))
		return 0;
	return total;
}
