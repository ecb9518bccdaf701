/* SPDX-License-Identifier: Apache-2.0 */
/* The target parameter of the user-space function probes: "BINARY:PATTERN" resolved to functions. */
#ifndef TRACECTL_FUNC_TARGET_H
#define TRACECTL_FUNC_TARGET_H

#include <stddef.h>

#include "catalog.h"
#include "elf_symbols.h"

/* Most uprobes one attach may place: each is a perf event and a BPF link. */
#define FUNC_TARGET_MAX 500

struct func_target {
	char path[PROBE_TARGET_LEN];
	const char *pattern;             /* points into path's buffer, after the split */
	struct elf_symbols *syms;
	const struct elf_func **funcs;   /* matches, one per distinct code address, by name */
	size_t nfuncs;
};

/*
 * Splits target at its last ':' into an absolute path of an ELF file and an
 * fnmatch pattern, and finds the functions the pattern names (aliases of one
 * address count once). Fails with a reason naming parameter 'target' when the
 * syntax is wrong, the file is missing or not ELF, nothing matches, or more
 * than max functions match. Returns 0 or -errno; free with func_target_free().
 */
int func_target_resolve(const char *target, size_t max, struct func_target **out, char *err, size_t errlen);
void func_target_free(struct func_target **t);

/* 0 when this kernel has the uprobe PMU (perf_event_open uprobes, which libbpf uses), else -EOPNOTSUPP. */
int func_target_uprobes_supported(char *reason, size_t len);

#endif
