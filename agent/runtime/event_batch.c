/* SPDX-License-Identifier: Apache-2.0 */
/* Batches event records into EventBatch messages without allocating per event. */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cgroup_identity.h"
#include "event_batch.h"

const struct timeval event_drain_interval = { 0, EVENT_DRAIN_INTERVAL_US };

struct event_sink *event_sink_new(event_flush_cb flush, void *arg)
{
	struct event_sink *sink = malloc(sizeof(*sink));

	if (!sink)
		return NULL;
	sink->rate_limit = sink->rate_second = sink->rate_count = sink->rate_dropped = 0;
	sink->flush = flush;
	sink->arg = arg;
	event_sink_reset(sink);
	return sink;
}

void event_sink_reset(struct event_sink *sink)
{
	sink->n = 0;
	sink->nfields = 0;
	sink->arena_used = 0;
}

/* Copies s into the arena, truncated to EVENT_STRING_MAX; the arena always has room
 * because emit flushes first when it might not. */
static char *arena_copy(struct event_sink *sink, const char *s)
{
	size_t len = strnlen(s, EVENT_STRING_MAX - 1);
	char *dst = sink->arena + sink->arena_used;

	memcpy(dst, s, len);
	dst[len] = '\0';
	sink->arena_used += len + 1;
	return dst;
}

/* The event's identity, its strings in the arena (each bounded by its cgroup_identity array). */
static Tracectl__Identity *identity_copy(struct event_sink *sink, const struct cgroup_identity *who)
{
	Tracectl__Identity *id = &sink->identities[sink->n];

	tracectl__identity__init(id);
	id->cgroup = arena_copy(sink, who->cgroup);
	id->container_id = arena_copy(sink, who->container_id);
	id->pod_uid = arena_copy(sink, who->pod_uid);
	id->qos_class = arena_copy(sink, who->qos_class);
	id->service = arena_copy(sink, who->service);
	return id;
}

void event_sink_emit(struct event_sink *sink, uint64_t time_unix_ns, const struct event_field *fields, size_t nfields,
		     const struct cgroup_identity *who)
{
	Tracectl__Event *ev;

	if (sink->rate_limit) {
		uint64_t second = time_unix_ns / 1000000000ULL;

		if (second != sink->rate_second) {
			sink->rate_second = second;
			sink->rate_count = 0;
		}
		/* the policy's max-event-rate: dropped here, counted, reported as drops */
		if (sink->rate_count >= sink->rate_limit) {
			sink->rate_dropped++;
			return;
		}
		sink->rate_count++;
	}
	if (nfields > EVENT_FIELDS_MAX)
		nfields = EVENT_FIELDS_MAX;
	if (sink->n == EVENT_BATCH_MAX ||
	    sink->arena_used + nfields * EVENT_STRING_MAX + sizeof(struct cgroup_identity) > EVENT_ARENA_BYTES) {
		sink->flush(sink, sink->arg);
		event_sink_reset(sink);
	}
	ev = &sink->events[sink->n];
	tracectl__event__init(ev);
	ev->time_unix_ns = time_unix_ns;
	ev->fields = &sink->field_ptrs[sink->nfields];
	ev->n_fields = nfields;
	if (who)
		ev->identity = identity_copy(sink, who);
	for (size_t i = 0; i < nfields; i++) {
		Tracectl__Field *f = &sink->fields[sink->nfields];

		tracectl__field__init(f);
		f->name = (char *)fields[i].name;
		if (fields[i].str) {
			f->str = arena_copy(sink, fields[i].str);
		} else {
			f->num = fields[i].num;
			f->is_num = 1;
			f->is_flag = fields[i].flag;
		}
		sink->field_ptrs[sink->nfields++] = f;
	}
	sink->event_ptrs[sink->n++] = ev;
}

void event_sink_message(struct event_sink *sink, Tracectl__EventBatch *msg)
{
	tracectl__event_batch__init(msg);
	msg->n_events = sink->n;
	msg->events = sink->event_ptrs;
}
