/* SPDX-License-Identifier: Apache-2.0 */
/* exec user side: loads the skeleton with the filters and turns ring-buffer records into events. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "event_batch.h"
#include "event_ring.h"
#include "exec.h"
#include "exec.skel.h"
#include "hook_variant.h"
#include "kernel_env.h"

_Static_assert(EXEC_COMM_LEN == PROBE_COMM_LEN, "comm filter sizes differ");
_Static_assert(EXEC_MAX_ARGS * EXEC_ARG_LEN <= EXEC_ARGS_BUF, "argv bounds exceed the record");
_Static_assert(EXEC_MAX_ARGS * EXEC_ARG_LEN <= EVENT_STRING_MAX, "joined argv exceeds an event string");

/* argv joined with spaces: EXEC_MAX_ARGS arguments of at most EXEC_ARG_LEN - 1 bytes. */
#define EXEC_ARGV_TEXT (EXEC_MAX_ARGS * EXEC_ARG_LEN)

struct exec_state {
	struct event_ring ring; /* first: the catalog entry uses event_ring_probe_* */
	struct exec *skel;
	char argv[EXEC_ARGV_TEXT];
	char filename[EXEC_FILENAME_LEN];
	char comm[EXEC_COMM_LEN];
};

static const char *const tracepoints[] = {
	"syscalls/sys_enter_execve",
	"syscalls/sys_exit_execve",
	"sched/sched_process_exec",
};
/* syscall tracepoints share one record type in BTF (trace_event_raw_sys_enter) */
static const char *const tracepoint_types[] = { NULL, NULL, "sched_process_exec" };

static int exec_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 3, reason, len);
}

static void exec_close(void **state)
{
	struct exec_state *st;

	if (!state || !*state)
		return;
	st = *state;
	event_ring_close(&st->ring);
	exec__destroy(st->skel);
	free(st);
	*state = NULL;
}

/* True when sh reads arg (len bytes) back as itself unquoted. */
static bool arg_plain(const char *arg, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-", arg[i]))
			return false;
	return true;
}

/* Appends arg to out as sh quotes it ('...', a quote as '"'"': no backslash, which text
 * output escapes); false when it does not fit. */
static bool arg_append(char *out, size_t outlen, size_t *used, const char *arg, size_t len)
{
	bool plain = arg_plain(arg, len);
	size_t need = plain ? len : 2;

	for (size_t i = 0; !plain && i < len; i++)
		need += arg[i] == '\'' ? 5 : 1;
	if (need > outlen - 1 - *used)
		return false;
	if (plain) {
		memcpy(out + *used, arg, len);
		*used += len;
	} else {
		out[(*used)++] = '\'';
		for (size_t i = 0; i < len; i++) {
			if (arg[i] == '\'') {
				memcpy(out + *used, "'\"'\"'", 5);
				*used += 5;
			} else {
				out[(*used)++] = arg[i];
			}
		}
		out[(*used)++] = '\'';
	}
	out[*used] = '\0';
	return true;
}

/*
 * Joins the NUL-separated arguments with spaces into out, each quoted as sh would
 * need it (so "a b" stays one argument: shlex.split gives them back), applying the
 * bounds (EXEC_MAX_ARGS arguments, EXEC_ARG_LEN - 1 bytes each) whatever the kernel
 * side delivered: the copy read back from a new image is not cut per argument.
 * Returns the number of arguments; sets *truncated when a bound cut something.
 */
static unsigned int argv_join(const char *args, size_t size, char *out, size_t outlen, bool *truncated)
{
	size_t pos = 0, used = 0;
	unsigned int argc = 0;

	out[0] = '\0';
	while (pos < size) {
		const char *arg = args + pos;
		size_t len = strnlen(arg, size - pos), keep = len;
		bool sep;

		if (argc == EXEC_MAX_ARGS) {
			*truncated = true;
			break;
		}
		if (keep > EXEC_ARG_LEN - 1) {
			keep = EXEC_ARG_LEN - 1;
			*truncated = true;
		}
		sep = argc > 0 && used + 1 < outlen;
		if (sep)
			out[used++] = ' ';
		if (!arg_append(out, outlen, &used, arg, keep)) {
			/* quoting made it longer than an event string: the rest is left out, said so */
			if (sep)
				out[--used] = '\0';
			*truncated = true;
			break;
		}
		argc++;
		pos += len + 1;
	}
	return argc;
}

/* A kernel string field, copied so it is NUL-terminated whatever the record holds. */
static const char *bounded(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n = strnlen(src, srclen < dstlen ? srclen : dstlen - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return dst;
}

static int exec_on_record(void *ctx, void *data, size_t size)
{
	struct exec_state *st = ctx;
	const struct exec_event *e = data;
	size_t header = offsetof(struct exec_event, args);
	bool truncated, missing;
	unsigned int argc;

	if (size < header || e->args_size > size - header)
		return 0; /* not a record this program writes: skip rather than misread */
	truncated = e->flags & EXEC_ARGV_TRUNCATED;
	missing = e->flags & EXEC_ARGV_MISSING;
	argc = argv_join(e->args, e->args_size, st->argv, sizeof(st->argv), &truncated);

	/* in the order people read them (execsnoop's); argv, of any length, last but the flags */
	struct event_field fields[] = {
		{ .name = "pid", .num = e->pid },
		{ .name = "ppid", .num = e->ppid },
		{ .name = "uid", .num = e->uid },
		{ .name = "comm", .str = bounded(st->comm, sizeof(st->comm), e->comm, sizeof(e->comm)) },
		{ .name = "ret", .num = e->ret },
		{ .name = "syscall", .str = e->syscall == EXEC_SYSCALL_EXECVEAT ? "execveat" : "execve" },
		{ .name = "filename",
		  .str = bounded(st->filename, sizeof(st->filename), e->filename, sizeof(e->filename)) },
		{ .name = "argc", .num = argc },
		{ .name = "argv", .str = st->argv },
		{ .name = "filename_missing", .num = (e->flags & EXEC_FILENAME_MISSING) != 0, .flag = true },
		{ .name = "argv_truncated", .num = truncated, .flag = true },
		{ .name = "argv_missing", .num = missing, .flag = true },
		{ .name = "argv_from_image", .num = (e->flags & EXEC_ARGV_FROM_IMAGE) != 0, .flag = true },
	};
	event_ring_emit(&st->ring, e->ts_ns, fields, sizeof(fields) / sizeof(fields[0]));
	return 0;
}

/* execveat is optional: older kernels and some architectures lack its tracepoints. */
static bool have_tracepoint(const char *tp)
{
	char reason[128];
	const char *const tps[] = { tp };
	const char *const types[] = { NULL };

	return kernel_env_check_tracepoints(tps, types, 1, reason, sizeof(reason)) == 0;
}

/* bpf_loop walks argv where the kernel has it (5.17+), else a bounded loop. */
static const char *const loop_programs[] = { "exec_enter_execve", "exec_enter_execveat", NULL };
static const char *const bounded_programs[] = { "exec_enter_execve_bounded", "exec_enter_execveat_bounded", NULL };
#define EXEC_HOOK "tracepoint syscalls:sys_enter_execve/sys_exit_execve (+ execveat) + sched:sched_process_exec"
static const struct hook_variant variant_rows[] = {
	{ "bpf_loop", EXEC_HOOK, loop_programs, NULL },
	{ "bounded loop", EXEC_HOOK " (argv read by a bounded loop: no bpf_loop here)", bounded_programs, NULL },
};
HOOK_VARIANTS(variants, exec, "exec", variant_rows);

/* Filters are read-only data; execveat only where the kernel has it. */
static int exec_configure(void *skel, const struct hook_variant *variant, void *ctx, char *err, size_t errlen)
{
	struct exec *obj = skel;
	const struct probe_params *params = ctx;

	(void)err, (void)errlen;
	if (params) {
		size_t n = strnlen(params->comm, PROBE_COMM_LEN - 1);

		obj->rodata->targ_tgid = params->pid;
		memset((char *)obj->rodata->targ_comm, 0, EXEC_COMM_LEN);
		memcpy((char *)obj->rodata->targ_comm, params->comm, n);
	}
	if (!have_tracepoint("syscalls/sys_enter_execveat") || !have_tracepoint("syscalls/sys_exit_execveat")) {
		bpf_program__set_autoload(variant == &variant_rows[0] ? obj->progs.exec_enter_execveat
								      : obj->progs.exec_enter_execveat_bounded,
					  false);
		bpf_program__set_autoload(obj->progs.exec_exit_execveat, false);
	}
	return 0;
}

static int exec_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct exec_state *st = NULL;
	void *skel;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating exec state: %s", strerror(-err));
		goto cleanup;
	}
	err = hook_variants_open(&variants, exec_configure, (void *)params, &skel, NULL, errbuf, errlen);
	if (err)
		goto cleanup;
	st->skel = skel;

	/* the ring's epoll fd joins the session's event loop: no thread of ours */
	err = event_ring_open(&st->ring, st->skel->maps.events, st->skel->maps.lost, exec_on_record, st, "exec", errbuf,
			      errlen);
	if (err)
		goto cleanup;

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		exec_close(&partial);
	}
	return err;
}

const struct probe_desc probe_exec = {
	.name = "exec",
	.description = "one event per execve/execveat: pid, ppid, uid, comm, ret, filename, argv (quoted as sh "
		       "would need it; at most "
		       "20 arguments of 199 bytes, argv_truncated when cut, argv_missing when the "
		       "caller's pages could not be read and no new image holds them); --pid matches the exec'ing process "
		       "or its parent (fork+exec), --comm the caller's or the new program's comm",
	.kind = PROBE_EVENTS,
	.hook = EXEC_HOOK,
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM,
	.supported = exec_supported,
	.open = exec_open,
	.event_fd = event_ring_probe_fd,
	.drain_events = event_ring_probe_drain,
	.events_lost = event_ring_probe_lost,
	.close = exec_close,
};
