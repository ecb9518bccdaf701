/* SPDX-License-Identifier: Apache-2.0 */
/* The target parameter of the user-space function probes: "BINARY:PATTERN" resolved to functions. */
#ifndef TRACECTL_FUNC_TARGET_H
#define TRACECTL_FUNC_TARGET_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "elf_symbols.h"

/* Most uprobes one attach may place: each is a perf event and a BPF link. */
#define FUNC_TARGET_MAX 500

struct func_target {
	char path[PROBE_TARGET_LEN];     /* the binary as the client named it */
	const char *pattern;             /* points into path's buffer, after the split */
	/* The binary is opened once: its prefix, type, symbols and the uprobes all
	 * refer to this one file, whatever happens to the path afterwards. */
	int fd;
	char resolved[PATH_MAX];         /* the file's path as the kernel resolved it at that open */
	char attach_path[32];            /* "/proc/self/fd/N": the same file for the uprobe attach */
	uint64_t dev, ino;
	struct elf_symbols *syms;
	const struct elf_func **funcs;   /* matches, one per distinct code address, by name */
	size_t nfuncs;
};

/*
 * Splits target at its last ':' into an absolute path of an ELF file and an
 * fnmatch pattern, opens the file once (a regular file, never a device or FIFO)
 * and finds the functions the pattern names in it (aliases of one address count
 * once). Fails with a reason naming parameter 'target' when the syntax is wrong,
 * the file is missing or not ELF, nothing matches, or more than max functions
 * match. Returns 0 or -errno; free with func_target_free() (closes the file).
 */
int func_target_resolve(const char *target, size_t max, struct func_target **out, char *err, size_t errlen);
/*
 * The same, with the path resolved as process pid sees it (pid 0: as the agent
 * does): inside its root directory and mount namespace, so a container's binary
 * is found by the path the container knows it by. resolved is then the path the
 * kernel shows for the file from the agent (in a container: from the container's root).
 */
int func_target_resolve_in(uint32_t pid, const char *target, size_t max, struct func_target **out, char *err,
			   size_t errlen);
void func_target_free(struct func_target **t);

/* 0 when this kernel has the uprobe PMU (perf_event_open uprobes, which libbpf uses), else -EOPNOTSUPP. */
int func_target_uprobes_supported(char *reason, size_t len);

#endif
