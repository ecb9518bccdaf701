/* SPDX-License-Identifier: Apache-2.0 */
/* Batches event records into EventBatch messages without allocating per event. */
#ifndef TRACECTL_EVENT_BATCH_H
#define TRACECTL_EVENT_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "tracectl.pb-c.h"

#define EVENT_BATCH_MAX 256
#define EVENT_FIELDS_MAX 16
#define EVENT_STRING_MAX 4096
#define EVENT_ARENA_BYTES (128 * 1024)

/* How often the session drains an event probe's ring buffer even without a wakeup: the
 * latency bound for probes that wake user space only per batch (BPF_RB_NO_WAKEUP). */
#define EVENT_DRAIN_INTERVAL_US 10000
struct timeval;
extern const struct timeval event_drain_interval;

typedef void (*event_flush_cb)(struct event_sink *sink, void *arg);

struct event_sink {
	size_t n, nfields, arena_used;
	event_flush_cb flush; /* called when the batch is full, before the next event */
	void *arg;
	/* rate limit (0: none): at most rate_limit events per second of event time */
	uint64_t rate_limit, rate_second, rate_count, rate_dropped;
	Tracectl__Event events[EVENT_BATCH_MAX];
	Tracectl__Event *event_ptrs[EVENT_BATCH_MAX];
	Tracectl__Identity identities[EVENT_BATCH_MAX];
	Tracectl__Field fields[EVENT_BATCH_MAX * EVENT_FIELDS_MAX];
	Tracectl__Field *field_ptrs[EVENT_BATCH_MAX * EVENT_FIELDS_MAX];
	char arena[EVENT_ARENA_BYTES];
};

/* Returns NULL on allocation failure; free with free(). */
struct event_sink *event_sink_new(event_flush_cb flush, void *arg);
/* Points msg at the batched events (valid until the next reset). */
void event_sink_message(struct event_sink *sink, Tracectl__EventBatch *msg);
void event_sink_reset(struct event_sink *sink);

#endif
