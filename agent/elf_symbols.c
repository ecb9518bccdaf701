/* SPDX-License-Identifier: Apache-2.0 */
/* Function symbols of an ELF file (libelf): for attaching uprobes and for symbolizing user stacks. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_symbols.h"

/* Sort key for aliases at one address: the name people know first (global, weak, local). */
static int binding_rank(unsigned char bind)
{
	switch (bind) {
	case STB_GLOBAL:
		return 0;
	case STB_WEAK:
		return 1;
	default:
		return 2;
	}
}

struct raw_func {
	struct elf_func f;
	int rank;
};

static int raw_func_cmp(const void *a, const void *b)
{
	const struct raw_func *x = a, *y = b;

	if (x->f.addr != y->f.addr)
		return x->f.addr < y->f.addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return strcmp(x->f.name, y->f.name);
}

int elf_file_reopen_regular(int pathfd, struct stat *st)
{
	char fdpath[32];
	struct stat again;
	int fd, e;

	if (fstat(pathfd, st))
		return -errno;
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	/* the descriptor names the inode itself: no path is resolved again */
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", pathfd);
	fd = open(fdpath, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &again) || again.st_dev != st->st_dev || again.st_ino != st->st_ino) {
		e = errno;
		close(fd);
		return e ? -e : -EAGAIN;
	}
	return fd;
}

void elf_symbols_free(struct elf_symbols **syms)
{
	if (!syms || !*syms)
		return;
	free((*syms)->funcs);
	free((*syms)->segs);
	free((*syms)->names);
	free(*syms);
	*syms = NULL;
}

/* The symbol table to read: .symtab when present (it has static functions too), else .dynsym. */
static Elf_Scn *find_symtab(Elf *elf, bool *from_dynsym)
{
	Elf_Scn *scn = NULL, *dyn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB) {
			*from_dynsym = false;
			return scn;
		}
		if (sh.sh_type == SHT_DYNSYM)
			dyn = scn;
	}
	*from_dynsym = dyn != NULL;
	return dyn;
}

static int load_segments(Elf *elf, struct elf_symbols *syms)
{
	size_t nph;

	if (elf_getphdrnum(elf, &nph) || nph == 0)
		return 0; /* a relocatable object: no segments, offsets cannot be mapped */
	syms->segs = calloc(nph, sizeof(*syms->segs));
	if (!syms->segs)
		return -ENOMEM;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		syms->segs[syms->nsegs++] = (struct elf_segment){ ph.p_vaddr, ph.p_offset, ph.p_filesz };
	}
	return 0;
}

/* The build-id in one block of notes; 0 when none of them is it. */
static size_t build_id_in_notes(Elf_Data *data, uint8_t id[ELF_BUILD_ID_MAX])
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	while (data && off < data->d_size && (next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    memcmp((const char *)data->d_buf + name_off, "GNU", 4) == 0 && nh.n_descsz > 0 &&
		    nh.n_descsz <= ELF_BUILD_ID_MAX) {
			memcpy(id, (const char *)data->d_buf + desc_off, nh.n_descsz);
			return nh.n_descsz;
		}
		off = next;
	}
	return 0;
}

/* From the note sections, else (section headers stripped too) from the PT_NOTE segments. */
static size_t read_build_id(Elf *elf, uint8_t id[ELF_BUILD_ID_MAX])
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t nph, len;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE &&
		    (len = build_id_in_notes(elf_getdata(scn, NULL), id)))
			return len;
	if (elf_getphdrnum(elf, &nph))
		return 0;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_NOTE &&
		    (len = build_id_in_notes(elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR), id)))
			return len;
	}
	return 0;
}

size_t elf_file_build_id(int fd, uint8_t id[ELF_BUILD_ID_MAX])
{
	Elf *elf;
	size_t len = 0;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF)
		len = read_build_id(elf, id);
	elf_end(elf);
	return len;
}

/* Functions collected from one or two symbol tables before they are sorted and copied. */
struct raw_funcs {
	struct raw_func *v;
	size_t n, cap;
	size_t pool; /* bytes their names need */
};

/* The file offset of a link-time address, through the main file's segments (a
 * MiniDebugInfo file's sections carry no offsets of the file the code is in). */
static bool addr_to_offset(const struct elf_symbols *syms, uint64_t addr, uint64_t *offset)
{
	for (size_t i = 0; i < syms->nsegs; i++) {
		const struct elf_segment *s = &syms->segs[i];

		if (addr >= s->vaddr && addr < s->vaddr + s->filesz) {
			*offset = addr - s->vaddr + s->offset;
			return true;
		}
	}
	return false;
}

/* Appends the defined functions of symbol table symscn of elf; 0, -ENOMEM or -EINVAL. */
static int collect_funcs(Elf *elf, Elf_Scn *symscn, const struct elf_symbols *syms, bool offsets_by_segment,
			 struct raw_funcs *out)
{
	GElf_Shdr symsh;
	Elf_Data *data;
	size_t nsyms;

	if (!gelf_getshdr(symscn, &symsh) || !(data = elf_getdata(symscn, NULL)) || !symsh.sh_entsize)
		return -EINVAL;
	nsyms = symsh.sh_size / symsh.sh_entsize;
	if (out->n + nsyms > out->cap) {
		struct raw_func *v = realloc(out->v, (out->n + nsyms + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		out->v = v;
		out->cap = out->n + nsyms + 1;
	}
	for (size_t i = 0; i < nsyms; i++) {
		GElf_Sym sym;
		GElf_Shdr sh;
		Elf_Scn *scn;
		const char *name;
		uint64_t offset;

		if (!gelf_getsym(data, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE || sym.st_value == 0)
			continue; /* imported, absolute or special: no code of this file */
		name = elf_strptr(elf, symsh.sh_link, sym.st_name);
		scn = elf_getscn(elf, sym.st_shndx);
		if (!name || !*name || !scn || !gelf_getshdr(scn, &sh))
			continue;
		if (offsets_by_segment) {
			if (!addr_to_offset(syms, sym.st_value, &offset))
				continue;
		} else {
			/* the same translation libbpf makes for func_name: address to file offset by section */
			offset = sym.st_value - sh.sh_addr + sh.sh_offset;
		}
		out->v[out->n].f = (struct elf_func){ name, sym.st_value, sym.st_size, offset };
		out->v[out->n].rank = binding_rank(GELF_ST_BIND(sym.st_info));
		out->pool += strlen(name) + 1;
		out->n++;
	}
	return 0;
}

/* Largest MiniDebugInfo decompressed: distributions' are a few MiB at most. */
#define DEBUGDATA_MAX (256u << 20)

/* The xz stream of a .gnu_debugdata section decompressed into *out (malloc'd); 0 or -errno. */
static int xz_decompress(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	uint8_t *buf = NULL;
	size_t cap = in_len * 4 + 4096;
	lzma_ret r;
	int ret = 0;

	if (lzma_stream_decoder(&strm, DEBUGDATA_MAX, 0) != LZMA_OK)
		return -ENOMEM;
	strm.next_in = in;
	strm.avail_in = in_len;
	for (;;) {
		if (strm.avail_out == 0) {
			size_t done = (size_t)strm.total_out;
			uint8_t *grown;

			if (buf)
				cap *= 2;
			if (cap > DEBUGDATA_MAX || !(grown = realloc(buf, cap))) {
				ret = -ENOMEM;
				break;
			}
			buf = grown;
			strm.next_out = buf + done;
			strm.avail_out = cap - done;
		}
		r = lzma_code(&strm, LZMA_FINISH);
		if (r == LZMA_STREAM_END)
			break;
		if (r != LZMA_OK) {
			ret = r == LZMA_MEM_ERROR || r == LZMA_MEMLIMIT_ERROR ? -ENOMEM : -EINVAL;
			break;
		}
	}
	if (!ret) {
		*out = buf;
		*out_len = (size_t)strm.total_out;
		buf = NULL;
	}
	lzma_end(&strm);
	free(buf);
	return ret;
}

/* The section named name, or NULL. */
static Elf_Scn *section_named(Elf *elf, const char *name)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sh;
	const char *n;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && (n = elf_strptr(elf, shstrndx, sh.sh_name)) && strcmp(n, name) == 0)
			return scn;
	return NULL;
}

/*
 * MiniDebugInfo (Fedora, RHEL, ...): a stripped file carrying in .gnu_debugdata an
 * xz-compressed ELF whose .symtab names the functions .dynsym does not. Opens that
 * ELF in memory (*image owns the bytes, *inner the handle: both outlive the names
 * collected). 0 when there is none to read; -ENOMEM.
 */
static int open_debugdata(Elf *elf, uint8_t **image, Elf **inner)
{
	Elf_Scn *scn = section_named(elf, ".gnu_debugdata");
	Elf_Data *data;
	size_t len = 0;
	int ret;

	if (!scn || !(data = elf_rawdata(scn, NULL)) || !data->d_buf || !data->d_size)
		return 0;
	ret = xz_decompress(data->d_buf, data->d_size, image, &len);
	if (ret)
		return ret == -ENOMEM ? ret : 0; /* not xz: as if it were absent */
	*inner = elf_memory((char *)*image, len);
	if (*inner && elf_kind(*inner) != ELF_K_ELF) {
		elf_end(*inner);
		*inner = NULL;
	}
	return 0;
}

struct elf_symbols *elf_symbols_load_fd(int fd, const char *what, char *err, size_t errlen)
{
	struct elf_symbols *syms = NULL;
	struct raw_funcs raw = { 0 };
	uint8_t *debug_image = NULL;
	Elf *elf = NULL, *debug = NULL;
	Elf_Scn *symscn;
	size_t used = 0;
	bool debug_dynsym;
	int e = 0, rc;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		snprintf(err, errlen, "'%.200s' is not an ELF file", what);
		e = ENOEXEC;
		goto cleanup;
	}
	syms = calloc(1, sizeof(*syms));
	if (!syms || load_segments(elf, syms)) {
		snprintf(err, errlen, "out of memory reading '%.200s'", what);
		e = ENOMEM;
		goto cleanup;
	}
	syms->build_id_len = read_build_id(elf, syms->build_id);
	symscn = find_symtab(elf, &syms->from_dynsym);
	if (symscn && (rc = collect_funcs(elf, symscn, syms, false, &raw))) {
		e = -rc;
		goto fail;
	}
	if (!symscn || syms->from_dynsym) {
		if ((rc = open_debugdata(elf, &debug_image, &debug))) {
			e = -rc;
			goto fail;
		}
		symscn = debug ? find_symtab(debug, &debug_dynsym) : NULL;
		if (symscn && !debug_dynsym) {
			if ((rc = collect_funcs(debug, symscn, syms, true, &raw))) {
				e = -rc;
				goto fail;
			}
			syms->from_dynsym = false;
			syms->from_debugdata = true;
		}
	}
	qsort(raw.v, raw.n, sizeof(*raw.v), raw_func_cmp);

	/* Names are copied out: the ELF handles and their mappings go away here. */
	syms->funcs = calloc(raw.n ? raw.n : 1, sizeof(*syms->funcs));
	syms->names = malloc(raw.pool ? raw.pool : 1);
	if (!syms->funcs || !syms->names) {
		e = ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < raw.n; i++) {
		size_t len = strlen(raw.v[i].f.name) + 1;

		memcpy(syms->names + used, raw.v[i].f.name, len);
		syms->funcs[i] = raw.v[i].f;
		syms->funcs[i].name = syms->names + used;
		used += len;
	}
	syms->nfuncs = raw.n;
	goto cleanup;
fail:
	if (e == ENOMEM)
		snprintf(err, errlen, "out of memory reading the symbols of '%.200s'", what);
	else
		snprintf(err, errlen, "'%.200s': unreadable symbol table: %s", what, elf_errmsg(-1));
cleanup:
	elf_end(debug);
	free(debug_image);
	elf_end(elf);
	free(raw.v);
	if (e) {
		elf_symbols_free(&syms);
		errno = e;
	}
	return syms;
}

const struct elf_func *elf_symbols_lookup(const struct elf_symbols *syms, uint64_t addr)
{
	size_t lo = 0, hi, i;
	const struct elf_func *f;

	if (!syms || !syms->nfuncs)
		return NULL;
	/* the last function starting at or below addr */
	hi = syms->nfuncs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (syms->funcs[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	i = lo - 1;
	/* aliases are sorted best name first */
	while (i > 0 && syms->funcs[i - 1].addr == syms->funcs[i].addr)
		i--;
	f = &syms->funcs[i];
	/* past a sized function's end: code we have no name for (e.g. static in a stripped lib) */
	if (f->size && addr >= f->addr + f->size)
		return NULL;
	return f;
}

bool elf_symbols_offset_to_addr(const struct elf_symbols *syms, uint64_t offset, uint64_t *addr)
{
	for (size_t i = 0; syms && i < syms->nsegs; i++) {
		const struct elf_segment *s = &syms->segs[i];

		if (offset >= s->offset && offset < s->offset + s->filesz) {
			*addr = offset - s->offset + s->vaddr;
			return true;
		}
	}
	return false;
}
