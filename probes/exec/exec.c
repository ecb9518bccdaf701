/* SPDX-License-Identifier: Apache-2.0 */
/* exec user side: loads the skeleton with the filters and turns ring-buffer records into events. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "event_batch.h"
#include "event_ring.h"
#include "exec.h"
#include "exec.skel.h"
#include "hook_variant.h"
#include "kernel_env.h"
#include "runtime.h"

_Static_assert(EXEC_MAX_ARGS * EXEC_ARG_LEN <= EXEC_ARGS_BUF, "argv bounds exceed the record");
_Static_assert(EXEC_MAX_ARGS * EXEC_ARG_LEN <= EVENT_STRING_MAX, "joined argv exceeds an event string");

/* argv joined with spaces: EXEC_MAX_ARGS arguments of at most EXEC_ARG_LEN - 1 bytes. */
#define EXEC_ARGV_TEXT (EXEC_MAX_ARGS * EXEC_ARG_LEN)

struct exec_state {
	struct probe_instance in; /* first: the runtime's (its ring: event_ring_probe_*) */
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
		{ .name = "comm", .str = event_ring_string(st->comm, sizeof(st->comm), e->comm, sizeof(e->comm)) },
		{ .name = "ret", .num = e->ret },
		{ .name = "syscall", .str = e->syscall == EXEC_SYSCALL_EXECVEAT ? "execveat" : "execve" },
		{ .name = "filename",
		  .str = event_ring_string(st->filename, sizeof(st->filename), e->filename, sizeof(e->filename)) },
		{ .name = "argc", .num = argc },
		{ .name = "argv", .str = st->argv },
		{ .name = "filename_missing", .num = (e->flags & EXEC_FILENAME_MISSING) != 0, .flag = true },
		{ .name = "argv_truncated", .num = truncated, .flag = true },
		{ .name = "argv_missing", .num = missing, .flag = true },
		{ .name = "argv_from_image", .num = (e->flags & EXEC_ARGV_FROM_IMAGE) != 0, .flag = true },
	};
	event_ring_emit(&st->in.ring, e->ts_ns, e->cgroup_id, fields, sizeof(fields) / sizeof(fields[0]));
	return 0;
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

/* execveat only where the kernel has it. */
static int exec_configure(void *state, void *skel, const struct hook_variant *variant,
			  const struct probe_params *params, char *err, size_t errlen)
{
	struct exec *obj = skel;

	(void)state, (void)params, (void)err, (void)errlen;
	/* execveat is optional: older kernels and some architectures lack its tracepoints */
	if (!kernel_env_has_syscall_tracepoints("syscalls/sys_enter_execveat", "syscalls/sys_exit_execveat")) {
		bpf_program__set_autoload(variant == &variant_rows[0] ? obj->progs.exec_enter_execveat
								      : obj->progs.exec_enter_execveat_bounded,
					  false);
		bpf_program__set_autoload(obj->progs.exec_exit_execveat, false);
	}
	return 0;
}

static const struct probe_runtime runtime = {
	.state_size = sizeof(struct exec_state),
	.configure = exec_configure,
	.event_map = "events",
	.lost_map = "lost",
	.on_record = exec_on_record,
};

const struct probe_desc probe_exec = {
	.name = "exec",
	.description = "one event per execve/execveat: pid, ppid, uid, comm, ret, filename, argv (quoted as sh "
		       "would need it; at most "
		       "20 arguments of 199 bytes, argv_truncated when cut, argv_missing when the "
		       "caller's pages could not be read and no new image holds them); --pid matches the exec'ing process "
		       "or its parent (fork+exec), --comm the caller's or the new program's comm; each with "
		       "the task's identity (cgroup, container, pod, QoS class, service)",
	.kind = PROBE_EVENTS,
	.hook = EXEC_HOOK,
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_CGROUP,
	.supported = exec_supported,
	.runtime = &runtime,
	.event_fd = event_ring_probe_fd,
	.drain_events = event_ring_probe_drain,
	.events_lost = event_ring_probe_lost,
};
