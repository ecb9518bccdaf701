/* SPDX-License-Identifier: Apache-2.0 */
/* bio-latency user side: picks tp_btf or the trace events, drains per-disk histograms, names disks. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "bio_latency.h"
#include "bio_latency.skel.h"
#include "kernel_env.h"

#define DISK_NAME_LEN 32
#define DISK_CACHE 64

struct disk_name {
	__u32 dev; /* kernel encoding, major << 20 | minor */
	char name[DISK_NAME_LEN];
};

struct bio_latency_state {
	struct probe_instance in;
	struct disk_name disks[DISK_CACHE]; /* dev -> name, filled as disks show up */
	size_t ndisks;
};


static const char *const tracepoints[] = { "block/block_rq_issue", "block/block_rq_complete" };
static const char *const tracepoint_types[] = { "block_rq", "block_rq_completion" };

static const char *const op_names[] = {
	[BIO_LATENCY_OP_READ] = "read",
	[BIO_LATENCY_OP_WRITE] = "write",
	[BIO_LATENCY_OP_OTHER] = "other",
};

static int bio_latency_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 2, reason, len);
}

/* tp_btf keys by the request itself; the trace events only by (dev, sector) */
static const char *const btf_programs[] = { "bio_issue_btf", "bio_complete_btf", NULL };
static const char *const tp_programs[] = { "bio_issue_tp", "bio_complete_tp", NULL };
static const struct hook_variant variant_rows[] = {
	{ "tp_btf", "tp_btf block_rq_issue + block_rq_complete keyed by request", btf_programs, NULL },
	{ "tracepoint", "tracepoint block:block_rq_issue + block:block_rq_complete keyed by dev+sector", tp_programs,
	  NULL },
};
HOOK_VARIANTS(variants, bio_latency, "bio-latency", variant_rows);

/* Read-only data, fixed at load. */
static int bio_latency_configure(void *state, void *skel, const struct hook_variant *variant,
				 const struct probe_params *params, char *err, size_t errlen)
{
	(void)state;
	/* tp_btf reads the request as the first argument: before 5.11 that is the queue */
	if (variant == &variant_rows[0] && kernel_env_tp_args("block_rq_issue") != 1) {
		snprintf(err, errlen, "block_rq_issue does not pass the request first here");
		return -EOPNOTSUPP;
	}
	((struct bio_latency *)skel)->rodata->targ_by_op = strcmp(params->by, "disk-op") == 0;
	return 0;
}

/* The disk's name from /sys/dev/block/MAJ:MIN/uevent (DEVNAME=), else "MAJ:MIN". */
static void disk_lookup(__u32 dev, char *name, size_t len)
{
	unsigned int major = dev >> 20, minor = dev & ((1u << 20) - 1);
	char path[64], line[128];
	FILE *f;

	snprintf(name, len, "%u:%u", major, minor);
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major, minor);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		size_t n;

		if (strncmp(line, "DEVNAME=", 8) != 0)
			continue;
		n = strcspn(line + 8, "\n");
		/* A name that does not fit stays MAJ:MIN rather than being cut short. */
		if (n > 0 && n < len) {
			memcpy(name, line + 8, n);
			name[n] = '\0';
		}
		break;
	}
	fclose(f);
}

/* Cached: a disk keeps its number while it exists; a full cache just reads sysfs again. */
static const char *disk_name(struct bio_latency_state *st, __u32 dev, char *buf, size_t len)
{
	for (size_t i = 0; i < st->ndisks; i++)
		if (st->disks[i].dev == dev)
			return st->disks[i].name;
	disk_lookup(dev, buf, len);
	/* Only names that resolved: a disk not yet in sysfs may appear there later. */
	if (st->ndisks < DISK_CACHE && strchr(buf, ':') == NULL) {
		st->disks[st->ndisks].dev = dev;
		snprintf(st->disks[st->ndisks].name, DISK_NAME_LEN, "%s", buf);
		st->ndisks++;
	}
	return buf;
}

static void bio_latency_label(void *state, const void *key, char *label, size_t len)
{
	const struct bio_latency_series *series = key;
	char buf[DISK_NAME_LEN];
	const char *disk = disk_name(state, series->dev, buf, sizeof(buf));

	if (series->op < BIO_LATENCY_OP_ANY)
		snprintf(label, len, "disk=%s op=%s", disk, op_names[series->op]);
	else
		snprintf(label, len, "disk=%s", disk);
}

static const struct probe_runtime runtime = {
	.state_size = sizeof(struct bio_latency_state),
	.configure = bio_latency_configure,
	.hist_map = "hists",
	.hist_max_series = BIO_LATENCY_MAX_SERIES,
	.hist_label = bio_latency_label,
	.hist_prealloc = true,
};

const struct probe_desc probe_bio_latency = {
	.name = "bio-latency",
	.description = "block I/O latency in ns, request issue to completion, per disk; "
		       "per disk and op (read, write, other) with --by disk-op; not by container, pod or service: "
		       "requests complete in interrupt context, where the task that issued them is not known",
	.kind = PROBE_HISTOGRAM,
	.hook = "tp_btf block_rq_issue + block_rq_complete keyed by request (tracepoints "
		"block:block_rq_issue + block:block_rq_complete keyed by dev+sector where tp_btf "
		"cannot load)",
	.params = PROBE_PARAM_BY,
	.variants = &variants,
	.by_choices = "disk|disk-op",
	.supported = bio_latency_supported,
	.runtime = &runtime,
	.read_hist = probe_runtime_read_hist,
};
