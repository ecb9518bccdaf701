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

#include "catalog.h"
#include "event_batch.h"
#include "event_ring.h"
#include "kernel_env.h"
#include "open.h"
#include "open.skel.h"

_Static_assert(OPEN_COMM_LEN == PROBE_COMM_LEN, "comm filter sizes differ");
_Static_assert(OPEN_PATH_LEN <= EVENT_STRING_MAX, "a path exceeds an event string");

struct open_state {
	struct event_ring ring; /* first: the catalog entry uses event_ring_probe_* */
	struct open *skel;
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

static void open_close(void **state)
{
	struct open_state *st;

	if (!state || !*state)
		return;
	st = *state;
	event_ring_close(&st->ring);
	open__destroy(st->skel);
	free(st);
	*state = NULL;
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

/* A kernel string field, copied so it is NUL-terminated whatever the record holds. */
static const char *bounded(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n = strnlen(src, srclen < dstlen ? srclen : dstlen - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return dst;
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
		{ .name = "comm", .str = bounded(st->comm, sizeof(st->comm), e->comm, sizeof(e->comm)) },
		{ .name = "ret", .num = e->ret },
		{ .name = "syscall", .str = syscall_names[e->syscall] },
		{ .name = "dfd", .num = e->dfd },
		{ .name = "flags", .num = (int64_t)e->flags },
		{ .name = "flags_text", .str = (e->status & OPEN_FLAGS_MISSING)
						       ? "?"
						       : flags_format(e->flags, st->flags_text, sizeof(st->flags_text)) },
		{ .name = "path", .str = bounded(st->path, sizeof(st->path), e->path, e->path_size) },
		{ .name = "path_missing", .num = (e->status & OPEN_PATH_MISSING) != 0, .flag = true },
	};
	event_ring_emit(&st->ring, e->ts_ns, fields, sizeof(fields) / sizeof(fields[0]));
	return 0;
}

/* open(2) exists on x86_64 but not on newer architectures; openat2 since 5.6. */
static bool have_tracepoints(const char *enter, const char *exit)
{
	char reason[128];
	const char *const tps[] = { enter, exit };
	const char *const types[] = { NULL, NULL };

	return kernel_env_check_tracepoints(tps, types, 2, reason, sizeof(reason)) == 0;
}

static int open_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct open_state *st = NULL;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating open state: %s", strerror(-err));
		goto cleanup;
	}
	/* Open: parse the embedded object. */
	st->skel = open__open();
	if (!st->skel) {
		err = errno ? -errno : -EINVAL;
		snprintf(errbuf, errlen, "opening open BPF object: %s", strerror(-err));
		goto cleanup;
	}

	/* Configure: filters are read-only data; open and openat2 where the kernel has them. */
	if (params) {
		size_t n = strnlen(params->comm, PROBE_COMM_LEN - 1);

		st->skel->rodata->targ_tgid = params->pid;
		memset((char *)st->skel->rodata->targ_comm, 0, OPEN_COMM_LEN);
		memcpy((char *)st->skel->rodata->targ_comm, params->comm, n);
	}
	if (!have_tracepoints("syscalls/sys_enter_open", "syscalls/sys_exit_open")) {
		bpf_program__set_autoload(st->skel->progs.open_enter_open, false);
		bpf_program__set_autoload(st->skel->progs.open_exit_open, false);
	}
	if (!have_tracepoints("syscalls/sys_enter_openat2", "syscalls/sys_exit_openat2")) {
		bpf_program__set_autoload(st->skel->progs.open_enter_openat2, false);
		bpf_program__set_autoload(st->skel->progs.open_exit_openat2, false);
	}

	/* Load: the verifier runs here. */
	err = open__load(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "loading open BPF program: %s", strerror(-err));
		goto cleanup;
	}

	/* Attach the tracepoints. */
	err = open__attach(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "attaching open tracepoints (%s, %s, ...): %s", tracepoints[0],
			 tracepoints[1], strerror(-err));
		goto cleanup;
	}

	/* the ring's epoll fd joins the session's event loop: no thread of ours */
	err = event_ring_open(&st->ring, st->skel->maps.events, st->skel->maps.lost, open_on_record, st, "open", errbuf,
			      errlen);
	if (err)
		goto cleanup;

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		open_close(&partial);
	}
	return err;
}

const struct probe_desc probe_open = {
	.name = "open",
	.description = "one event per open/openat/openat2: pid, uid, comm, syscall, dfd, path "
		       "(read at syscall exit), flags, ret (the fd or -errno)",
	.kind = PROBE_EVENTS,
	.hook = "tracepoint syscalls:sys_enter_openat/sys_exit_openat (+ openat2, + open where "
		"the architecture has it)",
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM,
	.supported = open_supported,
	.open = open_open,
	.event_fd = event_ring_probe_fd,
	.drain_events = event_ring_probe_drain,
	.events_lost = event_ring_probe_lost,
	.close = open_close,
};
