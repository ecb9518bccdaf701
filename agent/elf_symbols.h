/* SPDX-License-Identifier: Apache-2.0 */
/* Function symbols of an ELF file (libelf): for attaching uprobes and for symbolizing user stacks. */
#ifndef TRACECTL_ELF_SYMBOLS_H
#define TRACECTL_ELF_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct elf_func {
	const char *name;     /* points into the table's string pool */
	uint64_t addr;        /* st_value: link-time virtual address */
	uint64_t size;        /* st_size, 0 when the symbol does not say */
	uint64_t file_offset; /* where the code is in the file: what a uprobe attaches to */
};

/* A loadable segment, to turn a file offset seen in /proc/PID/maps into an address. */
struct elf_segment {
	uint64_t vaddr, offset, filesz;
};

/* Longest GNU build-id kept (sha1: 20 bytes; --build-id=0x... may be longer). */
#define ELF_BUILD_ID_MAX 64

struct elf_symbols {
	struct elf_func *funcs; /* sorted by addr, aliases at one address collapsed */
	size_t nfuncs;
	struct elf_segment *segs;
	size_t nsegs;
	bool from_dynsym;       /* no .symtab (stripped): only exported functions are known */
	bool from_debugdata;    /* stripped, but .gnu_debugdata (MiniDebugInfo) named its functions */
	char *names;            /* string pool */
	uint8_t build_id[ELF_BUILD_ID_MAX];
	size_t build_id_len;    /* 0: the file has no NT_GNU_BUILD_ID note */
};

/*
 * Reopens for reading the file that pathfd (an O_PATH descriptor) names, when it
 * is a regular file: a device or FIFO is never really opened. Fills st. Returns
 * the new descriptor or -errno (-EINVAL: not a regular file); pathfd stays open.
 */
int elf_file_reopen_regular(int pathfd, struct stat *st);

/*
 * The GNU build-id of the ELF file open at fd (its NT_GNU_BUILD_ID note) into id:
 * its length, 0 when the file has none or is not ELF.
 */
size_t elf_file_build_id(int fd, uint8_t id[ELF_BUILD_ID_MAX]);

/*
 * Reads the defined STT_FUNC symbols of .symtab (or, when the file is stripped,
 * of .dynsym plus the .symtab in its .gnu_debugdata, MiniDebugInfo), its build-id
 * and the PT_LOAD segments of the ELF file open at fd (not closed
 * here; what names it in err). Returns NULL and sets errno with a reason in err.
 * Free with elf_symbols_free().
 */
struct elf_symbols *elf_symbols_load_fd(int fd, const char *what, char *err, size_t errlen);
void elf_symbols_free(struct elf_symbols **syms);

/* The function containing addr (a link-time address), or NULL. */
const struct elf_func *elf_symbols_lookup(const struct elf_symbols *syms, uint64_t addr);
/* The link-time address of a file offset (from /proc/PID/maps); false when no segment holds it. */
bool elf_symbols_offset_to_addr(const struct elf_symbols *syms, uint64_t offset, uint64_t *addr);

#endif
