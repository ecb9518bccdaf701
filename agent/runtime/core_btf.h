/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal kernel BTF per BPF object, for its CO-RE relocations (libbpf's btf_custom_path).
 *
 * libbpf 1.1 parses the whole kernel BTF (5.5 MB on 6.18) again for every object it
 * loads, and has no way to pass it a parsed one. It does not parse it when the object's
 * btf_custom_path is set and no program needs a kernel attach id (tp_btf, fentry). So
 * once per object and agent, from the kernel BTF the agent parsed once
 * (kernel_env_vmlinux_btf), this cuts the types the object's relocations can reach:
 * every kernel type whose name one of them names (flavors "x___y" as "x"), with all
 * it embeds; pointers to anything else point to a forward declaration of the same
 * name, so sizes, offsets and the candidates libbpf finds are the kernel's own.
 */
#ifndef TRACECTL_CORE_BTF_H
#define TRACECTL_CORE_BTF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One BPF object's minimal BTF, built at its first open; zero to start (a static per skeleton). */
struct core_btf_slot {
	int state;      /* 0 not built yet, 1 built (path set), -1 not used for this object */
	char path[40];  /* /proc/self/fd/N of the memfd holding it */
};

/*
 * The btf_custom_path for the object whose ELF image is elf (a skeleton's embedded
 * bytes): its minimal BTF, built at the first call; NULL when the object gets the
 * kernel's whole BTF, as without this (no CO-RE relocations, relocations it cannot
 * serve, minimal BTF off, or after a load it could not serve). Thread-safe.
 */
const char *core_btf_path(struct core_btf_slot *slot, const void *elf, size_t elf_size, const char *name);
/* An object loaded with its minimal BTF. */
void core_btf_loaded(void);
/* An object failed to load with its minimal BTF and loaded with the whole kernel BTF:
 * the slot is not used again. */
void core_btf_fell_back(struct core_btf_slot *slot, const char *name);
/* --full-btf: every object relocates against the whole kernel BTF, as libbpf does by itself. */
void core_btf_disable(void);

/*
 * The minimal BTF itself, cut from kern for the object whose ELF image is elf; nnames:
 * how many type names its relocations start from. NULL with errno: ENOTSUP when the
 * object has no relocations or ones a minimal BTF would answer differently.
 */
struct btf;
struct btf *core_btf_cut(const struct btf *kern, const void *elf, size_t elf_size, size_t *nnames);

struct core_btf_stats {
	uint64_t loads;     /* objects loaded with a minimal BTF */
	uint64_t fallbacks; /* ... that needed the whole kernel BTF after all */
	uint64_t built;     /* minimal BTFs built */
	uint64_t bytes;     /* their size in all */
	uint64_t build_ns;  /* the time building them took in all */
};
void core_btf_stats_get(struct core_btf_stats *out);

#endif
