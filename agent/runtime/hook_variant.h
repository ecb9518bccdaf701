/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hook variants: the ways one probe can hook this kernel (tp_btf, raw_tp, fentry,
 * kprobe ...), declared as table rows, cheapest first. The runtime tries them in order
 * by loading them (the way libbpf-tools probes features, not by kernel version) and
 * keeps the first the kernel takes.
 */
#ifndef TRACECTL_HOOK_VARIANT_H
#define TRACECTL_HOOK_VARIANT_H

#include <stddef.h>
#include <stdint.h>

#include "core_btf.h"
#include "kernel_env.h"

struct bpf_object;

/* One row: what the variant is called, what it hooks, and the parts of the skeleton
 * that are its own. Programs and maps that no row names are used by every variant. */
struct hook_variant {
	const char *name;            /* "tp_btf": in logs and errors */
	const char *hook;            /* what `tracectl probes`, Attached and provenance say */
	const char *const *programs; /* its programs by function name, NULL-terminated */
	const char *const *maps;     /* maps only it uses (others' are not created); may be NULL */
};

/* A libbpf skeleton through its generated functions; HOOK_SKELETON(name) defines one. */
struct hook_skeleton {
	const char *obj_name; /* "bio_latency" */
	/* btf_custom_path: the kernel BTF CO-RE relocates against; NULL for the agent's default */
	void *(*open)(const char *btf_custom_path);
	int (*load)(void *skel);
	int (*attach)(void *skel);
	void (*destroy)(void *skel);
	struct bpf_object *(*object)(void *skel);
	const void *(*elf)(size_t *size);     /* the object's ELF image */
	struct core_btf_slot *core_btf;       /* its minimal kernel BTF (core_btf.h) */
};

/* Defines `static const struct hook_skeleton name_skeleton` for the skeleton name.skel.h. */
#define HOOK_SKELETON(name)                                                                                   \
	static void *name##_skel_open(const char *btf_custom_path)                                           \
	{                                                                                                     \
		LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf_custom_path);                  \
		return name##__open_opts(&opts);                                                              \
	}                                                                                                     \
	static int name##_skel_load(void *skel) { return name##__load(skel); }                               \
	static int name##_skel_attach(void *skel) { return name##__attach(skel); }                           \
	static void name##_skel_destroy(void *skel) { name##__destroy(skel); }                               \
	static struct bpf_object *name##_skel_object(void *skel) { return ((struct name *)skel)->obj; }     \
	static const void *name##_skel_elf(size_t *size) { return name##__elf_bytes(size); }                 \
	static struct core_btf_slot name##_core_btf;                                                          \
	static const struct hook_skeleton name##_skeleton = {                                                 \
		.obj_name = #name,                                                                              \
		.open = name##_skel_open,                                                                     \
		.load = name##_skel_load,                                                                     \
		.attach = name##_skel_attach,                                                                 \
		.destroy = name##_skel_destroy,                                                               \
		.object = name##_skel_object,                                                                 \
		.elf = name##_skel_elf,                                                                       \
		.core_btf = &name##_core_btf,                                                                 \
	}

#define HOOK_VARIANTS_MAX 8

/* What the runtime learned on this kernel about one probe's variants; zero at start,
 * one per probe (a static next to its table), written by the runtime only. */
struct hook_choice {
	int loaded;           /* 1 + index of the variant that loaded last; 0: none yet */
	uint32_t refused;     /* bit i: variant i failed while a later one loaded (kept: a kernel fact) */
	char reason[256];     /* why the refused ones failed */
	char hook_text[512];  /* the loaded variant's hook, with the reason the cheaper ones were not used */
};

/* A probe's variants: its skeleton and its rows. */
struct hook_variants {
	const char *probe; /* "runq-latency" */
	const struct hook_skeleton *skeleton;
	const struct hook_variant *rows;
	size_t nrows; /* at most HOOK_VARIANTS_MAX */
	struct hook_choice *choice;
	/* Optional: after the skeleton's attach, attaches what it cannot (targets known at
	 * open only) for the row being tried, with the configure step's ctx, so that a
	 * kernel that loads a row's programs but refuses its attach (kprobe.multi without
	 * fprobe) moves on to the next row. On failure it leaves nothing attached. 0 or
	 * -errno with a reason. */
	int (*attach)(void *skel, const struct hook_variant *variant, void *ctx, char *err, size_t errlen);
};

/* Defines `static const struct hook_variants var` for the skeleton name.skel.h and the
 * array rows, with its skeleton functions and its hook_choice. */
#define HOOK_VARIANTS(var, name, probe_name, table) HOOK_VARIANTS_ATTACH(var, name, probe_name, table, NULL)
/* The same, with the attach step above (attach_fn). */
#define HOOK_VARIANTS_ATTACH(var, name, probe_name, table, attach_fn)                                         \
	HOOK_SKELETON(name);                                                                                  \
	static struct hook_choice var##_choice;                                                               \
	static const struct hook_variants var = {                                                             \
		.probe = probe_name,                                                                          \
		.skeleton = &name##_skeleton,                                                                 \
		.rows = table,                                                                                \
		.nrows = sizeof(table) / sizeof((table)[0]),                                                  \
		.choice = &var##_choice,                                                                      \
		.attach = attach_fn,                                                                          \
	}

/* The probe's step between open and load, for the variant about to be tried: the
 * filters in rodata, map sizes. Returns 0 or -errno with a reason in err. */
typedef int (*hook_configure_fn)(void *skel, const struct hook_variant *variant, void *ctx, char *err,
				 size_t errlen);

/*
 * Opens the skeleton, keeps only the variant's programs and maps, configures, loads
 * and attaches it; on failure destroys it and tries the next variant (skipping those
 * a later one already replaced on this kernel). Returns 0 with *skel (the caller's, to
 * destroy with NAME__destroy) and *used (when not NULL) set, or the last -errno with
 * every variant's reason in err.
 */
int hook_variants_open(const struct hook_variants *hv, hook_configure_fn configure, void *ctx, void **skel,
		       const struct hook_variant **used, char *err, size_t errlen);

/*
 * For a variant without BPF cookies, which compiles one program per target (programs,
 * max of them): keeps the first n loading, or refuses with -E2BIG naming what ("functions",
 * "tracepoints"), the target and n when there are more targets than programs.
 */
int hook_variant_keep_first_n(struct bpf_object *obj, const char *const *programs, size_t max, size_t n,
			      const char *what, const char *target, char *err, size_t errlen);

/* The hook this probe uses here: the variant that loaded (with why cheaper ones did
 * not), or before any load the first row not known to fail. */
const char *hook_variants_here(const struct hook_variants *hv);

#endif
