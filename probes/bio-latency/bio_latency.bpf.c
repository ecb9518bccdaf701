// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* bio-latency: block request issue -> completion latency histograms per disk (and op). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "hist_update.bpf.h"
#include "bio_latency.h"

#define MINORBITS 20
#define REQ_OP_MASK_BITS 0xff /* REQ_OP_BITS is 8 */
#define REQ_OP_READ_NUM 0
#define REQ_OP_WRITE_NUM 1

/* Split by op (--by disk-op), set through the skeleton's rodata before load. */
const volatile bool targ_by_op = false;

/* A request in flight: tp_btf keys by the request pointer (sector 0), the tracepoint
 * fallback, which has no pointer, by (dev, sector). */
struct inflight_key {
	__u64 id;
	__u64 sector;
};

struct inflight {
	__u64 ts;
	struct bio_latency_series series;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BIO_LATENCY_MAX_INFLIGHT);
	__type(key, struct inflight_key);
	__type(value, struct inflight);
} start SEC(".maps");

/* series -> histogram, per CPU; drained by user space every interval. Not preallocated:
 * a value is 15 KiB per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, BIO_LATENCY_MAX_SERIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bio_latency_series);
	__type(value, struct hist_counts);
} hists SEC(".maps");

/* The initial value of a new series (too big for the BPF stack). */
static struct hist_counts zero_hist;

/* request::rq_disk went away in 5.17 (the disk is request_queue::disk since 5.15). */
struct request___pre517 {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline __u32 request_dev(struct request *rq)
{
	struct gendisk *disk;

	if (bpf_core_field_exists(((struct request___pre517 *)rq)->rq_disk))
		disk = BPF_CORE_READ((struct request___pre517 *)rq, rq_disk);
	else
		disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	return ((__u32)BPF_CORE_READ(disk, major) << MINORBITS) | (__u32)BPF_CORE_READ(disk, first_minor);
}

static __always_inline __u32 op_from_flags(__u32 cmd_flags)
{
	switch (cmd_flags & REQ_OP_MASK_BITS) {
	case REQ_OP_READ_NUM:
		return BIO_LATENCY_OP_READ;
	case REQ_OP_WRITE_NUM:
		return BIO_LATENCY_OP_WRITE;
	}
	return BIO_LATENCY_OP_OTHER;
}

/* rwbs as blk_fill_rwbs writes it: an optional 'F' (preflush), then the op ('W', 'R',
 * 'D', 'F', 'N'), then flags ('F' FUA, 'A' readahead, 'S' sync, 'M' meta). */
static __always_inline __u32 op_from_rwbs(const char *rwbs)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (rwbs[i] == 'W')
			return BIO_LATENCY_OP_WRITE;
		if (rwbs[i] == 'R')
			return BIO_LATENCY_OP_READ;
		if (rwbs[i] != 'F')
			break;
	}
	return BIO_LATENCY_OP_OTHER;
}

static __always_inline void hist_record(const struct bio_latency_series *series, __u64 delta)
{
	struct hist_counts *h;

	h = bpf_map_lookup_elem(&hists, series);
	if (!h) {
		bpf_map_update_elem(&hists, series, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, series);
		if (!h)
			return;
	}
	hist_counts_add(h, delta);
}

static __always_inline void issued(const struct inflight_key *key, __u32 dev, __u32 op)
{
	struct inflight v = {
		.ts = bpf_ktime_get_ns(),
		.series = { .dev = dev, .op = targ_by_op ? op : BIO_LATENCY_OP_ANY },
	};

	/* BPF_ANY: a requeued request is issued again, and its latency starts again. */
	bpf_map_update_elem(&start, key, &v, BPF_ANY);
}

static __always_inline void completed(const struct inflight_key *key)
{
	struct inflight *v;
	struct bio_latency_series series;
	__u64 delta;

	v = bpf_map_lookup_elem(&start, key);
	if (!v)
		return;
	delta = bpf_ktime_get_ns() - v->ts;
	series = v->series;
	bpf_map_delete_elem(&start, key);
	hist_record(&series, delta);
}

/* Preferred: BTF-typed tracepoints, keyed by the request itself. */
SEC("tp_btf/block_rq_issue")
int BPF_PROG(bio_issue_btf, struct request *rq)
{
	struct inflight_key key = { .id = (__u64)(unsigned long)rq };

	issued(&key, request_dev(rq), op_from_flags(BPF_CORE_READ(rq, cmd_flags)));
	return 0;
}

/* Fires once per completed chunk; a partial completion ends the sample early, as in
 * libbpf-tools' biolatency. */
SEC("tp_btf/block_rq_complete")
int BPF_PROG(bio_complete_btf, struct request *rq)
{
	struct inflight_key key = { .id = (__u64)(unsigned long)rq };

	completed(&key);
	return 0;
}

/* Fallback: the trace events, which carry dev and sector but no request pointer. */
SEC("tp/block/block_rq_issue")
int bio_issue_tp(struct trace_event_raw_block_rq *ctx)
{
	struct inflight_key key = { .id = ctx->dev, .sector = ctx->sector };
	char rwbs[2];

	bpf_probe_read_kernel(rwbs, sizeof(rwbs), ctx->rwbs);
	issued(&key, ctx->dev, op_from_rwbs(rwbs));
	return 0;
}

/* The completion record's type is block_rq_completion since 5.13 (block_rq_with_error
 * before): read through block_rq, which every kernel has, as all three records start
 * with the same dev and sector fields. */
SEC("tp/block/block_rq_complete")
int bio_complete_tp(struct trace_event_raw_block_rq *ctx)
{
	struct inflight_key key = { .id = ctx->dev, .sector = ctx->sector };

	completed(&key);
	return 0;
}

/* BPF_CORE_READ uses bpf_probe_read_kernel, which the kernel offers to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";
