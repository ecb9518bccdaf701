/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal kernel BTF per BPF object for its CO-RE relocations (see core_btf.h). */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <gelf.h>
#include <libelf.h>
#include <bpf/libbpf.h>

#include "core_btf.h"
#include "kernel_env.h"
#include "log.h"

static pthread_mutex_t build_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool disabled;
static atomic_uint_least64_t n_loads, n_fallbacks, n_built, n_bytes, n_build_ns;

void core_btf_disable(void)
{
	atomic_store(&disabled, true);
}

void core_btf_loaded(void)
{
	atomic_fetch_add(&n_loads, 1);
}

void core_btf_fell_back(struct core_btf_slot *slot, const char *name)
{
	atomic_fetch_add(&n_fallbacks, 1);
	/* its memfd stays open: another thread may be opening the object with its path now */
	pthread_mutex_lock(&build_lock);
	slot->state = -1;
	pthread_mutex_unlock(&build_lock);
	log_warn("%s: did not load with its minimal kernel BTF, loaded with the whole one (used from now on)", name);
}

void core_btf_stats_get(struct core_btf_stats *out)
{
	out->loads = atomic_load(&n_loads);
	out->fallbacks = atomic_load(&n_fallbacks);
	out->built = atomic_load(&n_built);
	out->bytes = atomic_load(&n_bytes);
	out->build_ns = atomic_load(&n_build_ns);
}

/* ---- the object's sections ---- */

/* The bytes of section want of e (libelf over the embedded image), valid until elf_end. */
static int elf_section(Elf *e, const char *want, const unsigned char **data, size_t *len)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	Elf_Data *d;
	const char *name;

	if (elf_kind(e) != ELF_K_ELF || elf_getshdrstrndx(e, &shstrndx))
		return -EINVAL;
	while ((scn = elf_nextscn(e, scn)) != NULL) {
		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(e, shstrndx, sh.sh_name)) || strcmp(name, want))
			continue;
		d = elf_rawdata(scn, NULL);
		if (!d || !d->d_buf)
			return -EINVAL;
		*data = d->d_buf;
		*len = d->d_size;
		return 0;
	}
	return -ENOENT;
}

/* ---- the names the object's CO-RE relocations start from ---- */

/* libbpf's relocation kinds (enum bpf_core_relo_kind) this file tells apart */
#define RELO_TYPE_ID_LOCAL 6
#define RELO_TYPE_ID_TARGET 7
#define RELO_TYPE_EXISTS 8
#define RELO_TYPE_SIZE 9
#define RELO_TYPE_MATCHES 12

/* "task_struct___old" -> 17 - 5: libbpf's bpf_core_essential_name_len (X___Y, X and Y not '_') */
static size_t essential_len(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = n >= 5 ? n - 4 : 0; i-- > 0;)
		if (name[i] != '_' && name[i + 1] == '_' && name[i + 2] == '_' && name[i + 3] == '_' &&
		    name[i + 4] != '_')
			return i + 1;
	return n;
}

struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

static int names_add(struct names *ns, const char *name, size_t len)
{
	for (size_t i = 0; i < ns->n; i++)
		if (strlen(ns->v[i]) == len && memcmp(ns->v[i], name, len) == 0)
			return 0;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 32;
		char **grown = realloc(ns->v, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		ns->v = grown;
		ns->cap = cap;
	}
	ns->v[ns->n] = strndup(name, len);
	return ns->v[ns->n] ? (ns->n++, 0) : -ENOMEM;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether name (not NUL-terminated, len bytes) is one of the sorted names. */
static bool names_have(const struct names *ns, const char *name, size_t len)
{
	size_t lo = 0, hi = ns->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(ns->v[mid], name, len);

		if (c == 0 && ns->v[mid][len] != '\0')
			c = 1;
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static uint32_t read_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * The root type names of the CO-RE relocations in .BTF.ext (struct btf_ext_header,
 * then per section: name, count, records of struct bpf_core_relo). 0 with names (may
 * be none), -ENOTSUP for relocations a minimal BTF would answer differently: a kernel
 * type id (its ids are its own), or a type check on a pointer or function type (whose
 * pointee may be cut to a declaration).
 */
static int relo_roots(const unsigned char *ext, size_t len, const struct btf *local, struct names *out)
{
	uint32_t hdr_len, off, size, rec_size;
	const unsigned char *p, *end;

	if (len < 8 || (read_u32(ext) & 0xffff) != 0xeB9F) /* __u16 magic, then version, flags */
		return -EINVAL;
	hdr_len = read_u32(ext + 4);
	if (hdr_len < 32 || hdr_len > len) /* no core_relo_off/len: no relocations */
		return 0;
	off = read_u32(ext + 24);
	size = read_u32(ext + 28);
	if (!size)
		return 0;
	if (off > len - hdr_len || size > len - hdr_len - off || size < 4)
		return -EINVAL;
	p = ext + hdr_len + off;
	end = p + size;
	rec_size = read_u32(p);
	p += 4;
	if (rec_size < 16)
		return -EINVAL;
	while (end - p >= 8) {
		uint32_t nrec = read_u32(p + 4);

		p += 8;
		if ((size_t)(end - p) / rec_size < nrec)
			return -EINVAL;
		for (uint32_t i = 0; i < nrec; i++, p += rec_size) {
			uint32_t kind = read_u32(p + 12);
			const struct btf_type *t = btf__type_by_id(local, read_u32(p + 4));
			const char *name = t ? btf__name_by_offset(local, t->name_off) : NULL;
			int rc;

			if (kind == RELO_TYPE_ID_LOCAL)
				continue;
			if (kind == RELO_TYPE_ID_TARGET || !name || !name[0])
				return -ENOTSUP;
			if (kind == RELO_TYPE_EXISTS || kind == RELO_TYPE_SIZE || kind == RELO_TYPE_MATCHES) {
				const struct btf_type *r = btf__type_by_id(local, btf__resolve_type(local, read_u32(p + 4)));

				if (!r || btf_is_ptr(r) || btf_is_func_proto(r) || btf_is_array(r))
					return -ENOTSUP;
			}
			rc = names_add(out, name, essential_len(name));
			if (rc)
				return rc;
		}
	}
	qsort(out->v, out->n, sizeof(*out->v), name_cmp);
	return 0;
}

/* ---- cutting the kernel BTF ---- */

/* Calls fn on each type id t refers to; the counts come from t itself. */
static void each_ref(struct btf_type *t, void (*fn)(__u32 *id, void *ctx), void *ctx)
{
	switch (btf_kind(t)) {
	case BTF_KIND_PTR:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_VAR:
	case BTF_KIND_DECL_TAG:
	case BTF_KIND_TYPE_TAG:
		fn(&t->type, ctx);
		break;
	case BTF_KIND_ARRAY:
		fn(&btf_array(t)->type, ctx);
		fn(&btf_array(t)->index_type, ctx);
		break;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		for (int i = 0; i < btf_vlen(t); i++)
			fn(&btf_members(t)[i].type, ctx);
		break;
	case BTF_KIND_FUNC_PROTO:
		fn(&t->type, ctx);
		for (int i = 0; i < btf_vlen(t); i++)
			fn(&btf_params(t)[i].type, ctx);
		break;
	case BTF_KIND_DATASEC:
		for (int i = 0; i < btf_vlen(t); i++)
			fn(&btf_var_secinfos(t)[i].type, ctx);
		break;
	default: /* int, float, enum, enum64, fwd: no references */
		break;
	}
}

#define MARKED UINT32_MAX

struct cut {
	const struct btf *kern;
	uint32_t ntypes;
	uint32_t *new_id; /* per kernel id: MARKED, then its id in the minimal BTF; 0: not copied */
	uint32_t *fwd_id; /* per kernel id of a struct/union: MARKED, then the id of its declaration */
	uint32_t *todo;   /* kernel ids to mark what they refer to */
	size_t ntodo;
	uint32_t *ptrs; /* pointers whose pointee is decided after the rest */
	size_t nptrs;
};

static void mark(struct cut *c, uint32_t id)
{
	if (id && id < c->ntypes && !c->new_id[id]) {
		c->new_id[id] = MARKED;
		c->todo[c->ntodo++] = id; /* each id once: todo holds ntypes */
	}
}

static void mark_ref(__u32 *id, void *ctx)
{
	mark(ctx, *id);
}

/* The type under modifiers and typedefs, by kernel id. */
static uint32_t resolved(const struct btf *btf, uint32_t id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	while (t && (btf_is_mod(t) || btf_is_typedef(t) || btf_is_type_tag(t))) {
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	return id;
}

/* Marks what the marked types embed; pointers wait in ptrs. */
static void mark_closure(struct cut *c)
{
	while (c->ntodo) {
		uint32_t id = c->todo[--c->ntodo];
		struct btf_type *t = (struct btf_type *)btf__type_by_id(c->kern, id); /* read only */

		if (btf_is_ptr(t))
			c->ptrs[c->nptrs++] = id; /* each pointer id once: marked once */
		else
			each_ref(t, mark_ref, c);
	}
}

/* A pointer keeps its pointee when that is copied anyway, or cheap (not a named struct or
 * union); else it points to the pointee's declaration. Until no pointer is left. */
static void mark_pointees(struct cut *c)
{
	mark_closure(c);
	while (c->nptrs) {
		uint32_t ptr = c->ptrs[--c->nptrs];
		uint32_t to = btf__type_by_id(c->kern, ptr)->type;
		uint32_t r = resolved(c->kern, to);
		const struct btf_type *rt = btf__type_by_id(c->kern, r);

		if (!c->new_id[r] && rt && btf_is_composite(rt) && rt->name_off)
			c->fwd_id[r] = MARKED;
		else
			mark(c, to);
		mark_closure(c);
	}
}

static void remap_ref(__u32 *id, void *ctx)
{
	const struct cut *c = ctx;

	if (!*id)
		return;
	if (c->new_id[*id] && c->new_id[*id] != MARKED)
		*id = c->new_id[*id];
	else
		*id = c->fwd_id[resolved(c->kern, *id)]; /* a cut pointer */
}

/* Copies the marked types, ids remapped, then the declarations; the minimal BTF or NULL. */
static struct btf *cut_emit(struct cut *c)
{
	struct btf *out = btf__new_empty();
	uint32_t next = 1;

	if (!out)
		return NULL;
	for (uint32_t id = 1; id < c->ntypes; id++)
		if (c->new_id[id])
			c->new_id[id] = next++;
	for (uint32_t id = 1; id < c->ntypes; id++)
		if (c->fwd_id[id])
			c->fwd_id[id] = next++;
	for (uint32_t id = 1; id < c->ntypes; id++) {
		int nid;

		if (!c->new_id[id])
			continue;
		nid = btf__add_type(out, c->kern, btf__type_by_id(c->kern, id));
		if (nid != (int)c->new_id[id])
			goto fail;
		/* the copy lives in out's own writable type data until out is freed */
		each_ref((struct btf_type *)btf__type_by_id(out, (__u32)nid), remap_ref, c);
	}
	for (uint32_t id = 1; id < c->ntypes; id++) {
		const struct btf_type *t = btf__type_by_id(c->kern, id);

		if (c->fwd_id[id] && btf__add_fwd(out, btf__name_by_offset(c->kern, t->name_off),
						  btf_is_union(t) ? BTF_FWD_UNION : BTF_FWD_STRUCT) !=
					     (int)c->fwd_id[id])
			goto fail;
	}
	return out;
fail:
	btf__free(out);
	return NULL;
}

/* Marks every kernel type named as one of names; how many names found none in missing. */
static int mark_roots(struct cut *c, const struct names *names, struct names *missing)
{
	bool *found = calloc(names->n ? names->n : 1, sizeof(*found));
	int rc = 0;

	if (!found)
		return -ENOMEM;
	for (uint32_t id = 1; id < c->ntypes; id++) {
		const struct btf_type *t = btf__type_by_id(c->kern, id);
		const char *name = btf__name_by_offset(c->kern, t->name_off);
		size_t len = name ? essential_len(name) : 0;

		if (!len || btf_is_func(t) || btf_is_var(t) || !names_have(names, name, len))
			continue;
		mark(c, id);
		for (size_t i = 0; i < names->n; i++)
			if (strlen(names->v[i]) == len && memcmp(names->v[i], name, len) == 0)
				found[i] = true;
	}
	for (size_t i = 0; !rc && i < names->n; i++)
		if (!found[i])
			rc = names_add(missing, names->v[i], strlen(names->v[i]));
	free(found);
	return rc;
}

static struct btf *minimal_btf(const struct btf *kern, const struct names *roots, struct names *missing)
{
	struct cut c = { .kern = kern, .ntypes = btf__type_cnt(kern) };
	size_t size = 4 * (size_t)c.ntypes * sizeof(uint32_t);
	/* 2 MB of scratch for a 5.5 MB kernel BTF, mostly never written: an anonymous mapping is
	 * zeroed, costs only the pages touched and goes back at once (freed heap memory would
	 * stay in the loading thread's malloc arena) */
	uint32_t *scratch = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct btf *out = NULL;

	if (scratch == MAP_FAILED)
		return NULL;
	c.new_id = scratch;
	c.fwd_id = scratch + c.ntypes;
	c.todo = scratch + 2 * (size_t)c.ntypes;
	c.ptrs = scratch + 3 * (size_t)c.ntypes;
	if (mark_roots(&c, roots, missing) == 0) {
		mark_pointees(&c);
		out = cut_emit(&c);
	}
	munmap(scratch, size);
	return out;
}

/* ---- module BTF ---- */

/* Whether a kernel module's BTF names one of names: libbpf looks there for relocations
 * the kernel's own BTF has no candidate for, and with a custom BTF it would not. */
static bool modules_name_any(const struct btf *vmlinux, const struct names *names)
{
	DIR *d = opendir("/sys/kernel/btf");
	struct dirent *e;
	bool hit = false;

	if (!d)
		return false;
	while (!hit && (e = readdir(d))) {
		char path[300];
		struct btf *mod;

		if (e->d_name[0] == '.' || strcmp(e->d_name, "vmlinux") == 0)
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/btf/%s", e->d_name);
		mod = btf__parse_split(path, (struct btf *)vmlinux); /* only read as the base */
		if (!mod) {
			hit = true; /* cannot tell: as if it did */
			break;
		}
		for (uint32_t id = btf__type_cnt(vmlinux); !hit && id < btf__type_cnt(mod); id++) {
			const char *name = btf__name_by_offset(mod, btf__type_by_id(mod, id)->name_off);
			size_t len = name ? essential_len(name) : 0;

			hit = len && names_have(names, name, len);
		}
		btf__free(mod);
	}
	closedir(d);
	return hit;
}

/* ---- per object ---- */

static int write_memfd(const struct btf *btf, const char *name, struct core_btf_slot *slot, uint32_t *bytes)
{
	const void *raw = btf__raw_data(btf, bytes);
	int fd = raw ? memfd_create(name, MFD_CLOEXEC) : -1;
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < *bytes) {
		ssize_t n = write(fd, (const char *)raw + done, *bytes - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			close(fd);
			return -e;
		}
		done += (size_t)n;
	}
	/* libbpf reads the path when each object loads: the fd stays open for the agent's life */
	snprintf(slot->path, sizeof(slot->path), "/proc/self/fd/%d", fd);
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct btf *core_btf_cut(const struct btf *kern, const void *elf, size_t elf_size, size_t *nnames)
{
	const unsigned char *btf_data, *ext_data;
	size_t btf_len, ext_len;
	struct names roots = { 0 }, missing = { 0 };
	struct btf *local = NULL, *min = NULL;
	Elf *e;
	int rc;

	/* read only: libelf writes nothing to an image it opens for reading */
	e = elf_version(EV_CURRENT) != EV_NONE ? elf_memory((char *)elf, elf_size) : NULL;
	rc = e ? elf_section(e, ".BTF", &btf_data, &btf_len) : -EINVAL;
	if (!rc)
		rc = elf_section(e, ".BTF.ext", &ext_data, &ext_len);
	if (!rc) {
		local = btf__new(btf_data, (__u32)btf_len);
		rc = local ? relo_roots(ext_data, ext_len, local, &roots) : -errno;
	}
	elf_end(e); /* btf__new and relo_roots keep nothing of the image */
	if (!rc && !roots.n)
		rc = -ENOTSUP; /* nothing to relocate: libbpf reads no kernel BTF for it anyway */
	if (!rc) {
		min = minimal_btf(kern, &roots, &missing);
		rc = min ? 0 : -ENOMEM;
	}
	if (!rc && missing.n && !kernel_env_btf_custom_path() && modules_name_any(kern, &missing))
		rc = -ENOTSUP;
	if (rc) {
		btf__free(min);
		min = NULL;
	} else if (nnames) {
		*nnames = roots.n;
	}
	btf__free(local);
	names_free(&roots);
	names_free(&missing);
	errno = -rc;
	return min;
}

/* 0 with slot->path, or why not (-errno; -ENOTSUP: the object is served better by the whole BTF). */
static int build(struct core_btf_slot *slot, const void *elf, size_t elf_size, const char *name)
{
	const struct btf *kern = kernel_env_vmlinux_btf();
	int64_t t0 = now_ns();
	struct btf *min;
	uint32_t bytes = 0;
	size_t nnames = 0;
	int rc;

	if (!kern)
		return -ENOENT;
	min = core_btf_cut(kern, elf, elf_size, &nnames);
	if (!min)
		return -errno;
	rc = write_memfd(min, name, slot, &bytes);
	if (!rc) {
		int64_t took = now_ns() - t0;

		atomic_fetch_add(&n_built, 1);
		atomic_fetch_add(&n_bytes, bytes);
		atomic_fetch_add(&n_build_ns, (uint64_t)took);
		log_debug("%s: minimal kernel BTF for CO-RE: %u types, %u bytes, %zu names, built in %.2f ms", name,
			  btf__type_cnt(min) - 1, bytes, nnames, took / 1e6);
	}
	btf__free(min);
	return rc;
}

const char *core_btf_path(struct core_btf_slot *slot, const void *elf, size_t elf_size, const char *name)
{
	const char *path = NULL;

	if (atomic_load(&disabled))
		return NULL;
	pthread_mutex_lock(&build_lock);
	if (slot->state == 0) {
		int rc = build(slot, elf, elf_size, name);

		slot->state = rc ? -1 : 1;
		if (rc && rc != -ENOTSUP)
			log_info("%s: no minimal kernel BTF (%s): loads with the whole one", name, strerror(-rc));
	}
	if (slot->state == 1)
		path = slot->path;
	pthread_mutex_unlock(&build_lock);
	return path;
}
