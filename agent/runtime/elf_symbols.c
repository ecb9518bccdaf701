/* SPDX-License-Identifier: Apache-2.0 */
/* Function symbols of an ELF file (libelf): for attaching uprobes and for symbolizing user stacks. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
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

struct elf_symbols *elf_symbols_load_fd(int fd, const char *what, char *err, size_t errlen)
{
	struct elf_symbols *syms = NULL;
	struct raw_func *raw = NULL;
	Elf *elf = NULL;
	Elf_Scn *symscn;
	Elf_Data *data;
	GElf_Shdr symsh;
	size_t nsyms, nraw = 0, pool = 0, used = 0;
	int e = 0;

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
	symscn = find_symtab(elf, &syms->from_dynsym);
	if (!symscn) {
		/* fully stripped: a valid file with no functions we can name */
		goto done;
	}
	if (!gelf_getshdr(symscn, &symsh) || !(data = elf_getdata(symscn, NULL)) || !symsh.sh_entsize) {
		snprintf(err, errlen, "'%.200s': unreadable symbol table: %s", what, elf_errmsg(-1));
		e = EINVAL;
		goto cleanup;
	}
	nsyms = symsh.sh_size / symsh.sh_entsize;
	raw = calloc(nsyms ? nsyms : 1, sizeof(*raw));
	if (!raw) {
		snprintf(err, errlen, "out of memory reading %zu symbols of '%.200s'", nsyms, what);
		e = ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < nsyms; i++) {
		GElf_Sym sym;
		GElf_Shdr sh;
		Elf_Scn *scn;
		const char *name;

		if (!gelf_getsym(data, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE || sym.st_value == 0)
			continue; /* imported, absolute or special: no code of this file */
		name = elf_strptr(elf, symsh.sh_link, sym.st_name);
		scn = elf_getscn(elf, sym.st_shndx);
		if (!name || !*name || !scn || !gelf_getshdr(scn, &sh))
			continue;
		/* the same translation libbpf makes for func_name: address to file offset by section */
		raw[nraw].f = (struct elf_func){ name, sym.st_value, sym.st_size,
						 sym.st_value - sh.sh_addr + sh.sh_offset };
		raw[nraw].rank = binding_rank(GELF_ST_BIND(sym.st_info));
		pool += strlen(name) + 1;
		nraw++;
	}
	qsort(raw, nraw, sizeof(*raw), raw_func_cmp);

	/* Names are copied out: the ELF handle and its mapping go away here. */
	syms->funcs = calloc(nraw ? nraw : 1, sizeof(*syms->funcs));
	syms->names = malloc(pool ? pool : 1);
	if (!syms->funcs || !syms->names) {
		snprintf(err, errlen, "out of memory reading '%.200s'", what);
		e = ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < nraw; i++) {
		size_t len = strlen(raw[i].f.name) + 1;

		memcpy(syms->names + used, raw[i].f.name, len);
		syms->funcs[i] = raw[i].f;
		syms->funcs[i].name = syms->names + used;
		used += len;
	}
	syms->nfuncs = nraw;
done:
	elf_end(elf);
	elf = NULL;
cleanup:
	elf_end(elf);
	free(raw);
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
