/* SPDX-License-Identifier: Apache-2.0 */
/* The target parameter of the user-space function probes: "BINARY:PATTERN" resolved to functions. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "func_target.h"
#include "stack_symbols.h"

void func_target_free(struct func_target **t)
{
	if (!t || !*t)
		return;
	elf_symbols_free(&(*t)->syms);
	if ((*t)->fd >= 0)
		close((*t)->fd);
	free((*t)->funcs);
	free(*t);
	*t = NULL;
}

/*
 * An O_PATH descriptor of path as process pid sees it (0: as the agent does):
 * resolved inside the process's root directory, its own mount namespace, where
 * symlinks lead only within that root. -errno.
 */
static int open_path_of(uint32_t pid, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	char root[64];
	int rootfd, fd;

	if (!pid) {
		fd = open(path, O_PATH | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	snprintf(root, sizeof(root), "/proc/%" PRIu32 "/root", pid);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd < 0)
		/* without openat2 the walk that follows no symlink at all keeps to the root too */
		fd = errno == ENOSYS ? usyms_open_beneath_nofollow(rootfd, path) : -errno;
	close(rootfd);
	return fd;
}

/*
 * Opens t->path once and records which file that is. O_PATH first, so that a
 * device node or FIFO is never really opened (no driver open, no blocking); the
 * regular file is then reopened for reading through its descriptor, which
 * names the same inode whatever the path says by now.
 */
static int open_binary(struct func_target *t, uint32_t pid, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int pathfd, fd;

	pathfd = open_path_of(pid, t->path);
	if (pathfd < 0) {
		if (pid && pathfd == -ESRCH)
			snprintf(err, errlen, "parameter 'target': process %" PRIu32 " (--pid) does not exist", pid);
		else
			snprintf(err, errlen, "parameter 'target': binary '%.200s'%s: %s", t->path,
				 pid ? " in the root of --pid" : "", strerror(-pathfd));
		return pathfd;
	}
	fd = elf_file_reopen_regular(pathfd, &st);
	close(pathfd);
	if (fd < 0) {
		if (fd == -EINVAL)
			snprintf(err, errlen, "parameter 'target': binary '%.200s' is not a regular file", t->path);
		else
			snprintf(err, errlen, "parameter 'target': binary '%.200s': %s", t->path, strerror(-fd));
		return fd;
	}
	t->fd = fd;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	snprintf(t->attach_path, sizeof(t->attach_path), "/proc/self/fd/%d", t->fd);
	n = readlink(t->attach_path, t->resolved, sizeof(t->resolved) - 1);
	if (n <= 0 || t->resolved[0] != '/') {
		/* e.g. an unreachable path: no prefix could ever match it */
		snprintf(err, errlen, "parameter 'target': binary '%.200s' has no path in this mount namespace", t->path);
		return -EINVAL;
	}
	t->resolved[n] = '\0';
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const struct elf_func *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

int func_target_resolve(const char *target, size_t max, struct func_target **out, char *err, size_t errlen)
{
	return func_target_resolve_in(0, target, max, out, err, errlen);
}

int func_target_resolve_in(uint32_t pid, const char *target, size_t max, struct func_target **out, char *err,
			   size_t errlen)
{
	struct func_target *t = NULL;
	char why[256];
	char *colon;
	int ret = 0;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		ret = -ENOMEM;
		snprintf(err, errlen, "parameter 'target': out of memory");
		goto cleanup;
	}
	t->fd = -1;
	if (strlen(target) >= sizeof(t->path)) {
		ret = -EINVAL;
		snprintf(err, errlen, "parameter 'target' is longer than %zu bytes", sizeof(t->path) - 1);
		goto cleanup;
	}
	memcpy(t->path, target, strlen(target) + 1);
	/* the last ':' splits: symbol names in symbol tables (mangled) never contain one */
	colon = strrchr(t->path, ':');
	if (t->path[0] != '/' || !colon || colon[1] == '\0' || colon == t->path + 1) {
		ret = -EINVAL;
		snprintf(err, errlen, "parameter 'target' value '%.200s' is not ABSOLUTE_PATH:PATTERN "
			 "(e.g. /usr/bin/bash:readline or /lib/x86_64-linux-gnu/libc.so.6:malloc*)", target);
		goto cleanup;
	}
	*colon = '\0';
	t->pattern = colon + 1;

	ret = open_binary(t, pid, err, errlen);
	if (ret)
		goto cleanup;
	t->syms = elf_symbols_load_fd(t->fd, t->path, why, sizeof(why));
	if (!t->syms) {
		ret = -errno;
		snprintf(err, errlen, "parameter 'target': binary %s", why);
		goto cleanup;
	}
	t->funcs = calloc(max ? max : 1, sizeof(*t->funcs));
	if (!t->funcs) {
		ret = -ENOMEM;
		snprintf(err, errlen, "parameter 'target': out of memory");
		goto cleanup;
	}
	/* funcs are sorted by address, aliases adjacent: one probe per address, first matching name */
	for (size_t i = 0; i < t->syms->nfuncs; i++) {
		const struct elf_func *f = &t->syms->funcs[i];

		if (fnmatch(t->pattern, f->name, 0) != 0)
			continue;
		if (t->nfuncs && t->funcs[t->nfuncs - 1]->file_offset == f->file_offset)
			continue;
		if (t->nfuncs == max) {
			ret = -E2BIG;
			snprintf(err, errlen, "parameter 'target': pattern '%.100s' matches more than %zu functions "
				 "in '%.200s'; narrow it", t->pattern, max, t->path);
			goto cleanup;
		}
		t->funcs[t->nfuncs++] = f;
	}
	if (!t->nfuncs) {
		ret = -ENOENT;
		snprintf(err, errlen, "parameter 'target': pattern '%.100s' matches no function in '%.200s'%s",
			 t->pattern, t->path,
			 t->syms->from_dynsym ? " (stripped: only exported functions are known)"
			 : t->syms->nfuncs ? "" : " (it has no symbol table)");
		goto cleanup;
	}
	qsort(t->funcs, t->nfuncs, sizeof(*t->funcs), by_name);
	*out = t;
	t = NULL;
cleanup:
	func_target_free(&t);
	return ret;
}

int func_target_uprobes_supported(char *reason, size_t len)
{
	/* without the PMU libbpf falls back to tracefs uprobe_events, which we do not rely on */
	if (access("/sys/bus/event_source/devices/uprobe/type", R_OK) != 0) {
		snprintf(reason, len, "this kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe): "
			 "CONFIG_UPROBE_EVENTS is off");
		return -EOPNOTSUPP;
	}
	return 0;
}
