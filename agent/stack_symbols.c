/* SPDX-License-Identifier: Apache-2.0 */
/* Names for sampled stack addresses: kernel via /proc/kallsyms, user via /proc/PID/maps + ELF symbols. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "elf_symbols.h"
#include "stack_symbols.h"

/* ---- kernel ---- */

struct ksym {
	uint64_t addr;
	size_t name; /* offset into the pool */
};

struct ksyms {
	struct ksym *syms;
	size_t n;
	char *pool;
};

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

void ksyms_free(struct ksyms **ks)
{
	if (!ks || !*ks)
		return;
	free((*ks)->syms);
	free((*ks)->pool);
	free(*ks);
	*ks = NULL;
}

/* Appends to a growing array; 0 or -ENOMEM. */
static int grow(void **array, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*array, ncap * elem);
	if (!p)
		return -ENOMEM;
	*array = p;
	*cap = ncap;
	return 0;
}

struct ksyms *ksyms_load(char *err, size_t errlen)
{
	struct ksyms *ks = NULL;
	FILE *f = NULL;
	char line[512];
	size_t cap = 0, pool_cap = 0, pool_len = 0;
	int e = 0;

	ks = calloc(1, sizeof(*ks));
	if (!ks) {
		e = ENOMEM;
		goto cleanup;
	}
	f = fopen("/proc/kallsyms", "re");
	if (!f) {
		e = errno;
		snprintf(err, errlen, "reading /proc/kallsyms: %s", strerror(e));
		goto cleanup;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type, name[256];
		size_t len;

		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3)
			continue;
		/* text only: stacks hold code addresses */
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		len = strlen(name) + 1;
		if (grow((void **)&ks->syms, &cap, ks->n + 1, sizeof(*ks->syms)) ||
		    grow((void **)&ks->pool, &pool_cap, pool_len + len, 1)) {
			e = ENOMEM;
			goto cleanup;
		}
		memcpy(ks->pool + pool_len, name, len);
		ks->syms[ks->n++] = (struct ksym){ addr, pool_len };
		pool_len += len;
	}
	/* zeroed addresses: kptr_restrict hides them, and every lookup would be a lie */
	if (ks->n == 0 || ks->syms[ks->n - 1].addr == 0) {
		e = EPERM;
		snprintf(err, errlen, "/proc/kallsyms shows no kernel addresses (kptr_restrict?)");
		goto cleanup;
	}
	qsort(ks->syms, ks->n, sizeof(*ks->syms), ksym_cmp);
cleanup:
	if (f)
		fclose(f);
	if (e) {
		if (e == ENOMEM)
			snprintf(err, errlen, "out of memory reading /proc/kallsyms");
		ksyms_free(&ks);
		errno = e;
	}
	return ks;
}

const char *ksyms_lookup(const struct ksyms *ks, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!ks || !ks->n)
		return NULL;
	hi = ks->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? ks->pool + ks->syms[lo - 1].name : NULL;
}

/* ---- user ---- */

/* ELF files (and symbol tables) kept at once; past this the cache starts over (bounded memory). */
#define USYMS_MAX_FILES 128
/* Processes whose maps one pass keeps. */
#define USYMS_MAX_PROCS 256

struct mapping {
	uint64_t start, end, pgoff, ino;
	unsigned int dev_major, dev_minor;
	char *path; /* "/usr/lib/..." or "[vdso]"; NULL for anonymous memory */
};

struct proc_maps {
	uint32_t tgid;
	struct mapping *maps; /* NULL when the process is gone */
	size_t n;
};

/* One parsed symbol table, shared by every file with its build-id and size: the
 * same binary in a hundred containers is a hundred inodes but one parse. */
struct sym_table {
	struct elf_symbols *syms;
	uint64_t file_size;
};

struct elf_file {
	uint64_t dev, ino;
	int table; /* index in usyms.tables; -1 when the file could not be read */
};

struct usyms {
	struct proc_maps procs[USYMS_MAX_PROCS];
	size_t nprocs;
	struct elf_file files[USYMS_MAX_FILES];
	size_t nfiles;
	struct sym_table tables[USYMS_MAX_FILES];
	size_t ntables;
};

/* For the whole agent: every symbolizer counts here (Status reports them). */
static atomic_uint_fast64_t stat_parses, stat_build_id_hits;

void usyms_stats_get(struct usyms_stats *out)
{
	out->parses = atomic_load(&stat_parses);
	out->build_id_hits = atomic_load(&stat_build_id_hits);
}

struct usyms *usyms_new(void)
{
	return calloc(1, sizeof(struct usyms));
}

static void proc_maps_clear(struct proc_maps *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->maps[i].path);
	free(p->maps);
	p->maps = NULL;
	p->n = 0;
}

void usyms_new_pass(struct usyms *us)
{
	for (size_t i = 0; i < us->nprocs; i++)
		proc_maps_clear(&us->procs[i]);
	us->nprocs = 0;
}

static void files_clear(struct usyms *us)
{
	for (size_t i = 0; i < us->ntables; i++)
		elf_symbols_free(&us->tables[i].syms);
	us->ntables = 0;
	us->nfiles = 0;
}

void usyms_free(struct usyms **us)
{
	if (!us || !*us)
		return;
	usyms_new_pass(*us);
	files_clear(*us);
	free(*us);
	*us = NULL;
}

static void read_maps(struct proc_maps *p)
{
	char path[64], line[4096];
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/maps", p->tgid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, pgoff, ino;
		unsigned int major, minor;
		char perms[8];
		int name_at = 0;
		struct mapping *m;
		char *name, *nl;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &pgoff, &major, &minor,
			   &ino, &name_at) < 7)
			continue;
		if (perms[2] != 'x')
			continue; /* stacks hold code addresses only */
		if (grow((void **)&p->maps, &cap, p->n + 1, sizeof(*p->maps)))
			break;
		name = line + name_at;
		nl = strchr(name, '\n');
		if (nl)
			*nl = '\0';
		m = &p->maps[p->n++];
		*m = (struct mapping){ start, end, pgoff, ino, major, minor, NULL };
		if (*name)
			m->path = strdup(name);
	}
	fclose(f);
}

static struct proc_maps *proc_maps_get(struct usyms *us, uint32_t tgid)
{
	struct proc_maps *p;

	for (size_t i = 0; i < us->nprocs; i++)
		if (us->procs[i].tgid == tgid)
			return &us->procs[i];
	if (us->nprocs == USYMS_MAX_PROCS)
		usyms_new_pass(us);
	p = &us->procs[us->nprocs++];
	p->tgid = tgid;
	read_maps(p);
	return p;
}

/* The O_PATH walk for kernels without openat2: every component opened with
 * O_NOFOLLOW must be a directory (a symlink is not), the last a regular file. */
int usyms_open_beneath_nofollow(int rootfd, const char *path)
{
	char copy[4096], *save = NULL, *comp, *next;
	int dirfd = -1, fd;
	struct stat st;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	comp = strtok_r(copy, "/", &save);
	if (!comp)
		return -EISDIR;
	for (; comp; comp = next) {
		next = strtok_r(NULL, "/", &save);
		if (strcmp(comp, "..") == 0) {
			fd = -EXDEV; /* could climb out of the process's root */
			goto fail;
		}
		fd = openat(dirfd >= 0 ? dirfd : rootfd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			fd = -errno;
			goto fail;
		}
		if (fstat(fd, &st) || S_ISLNK(st.st_mode) || (next && !S_ISDIR(st.st_mode))) {
			close(fd);
			fd = -ELOOP;
			goto fail;
		}
		if (dirfd >= 0)
			close(dirfd);
		dirfd = fd;
	}
	return dirfd;
fail:
	if (dirfd >= 0)
		close(dirfd);
	return fd;
}

int usyms_open_in_root(uint32_t tgid, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		/* the path is the process's to choose: inside its root, and no symlink anywhere */
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	char root[64];
	struct stat st;
	int rootfd, pathfd, fd;

	snprintf(root, sizeof(root), "/proc/%" PRIu32 "/root", tgid);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	pathfd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (pathfd < 0)
		pathfd = errno == ENOSYS ? usyms_open_beneath_nofollow(rootfd, path) : -errno;
	close(rootfd);
	if (pathfd < 0)
		return pathfd;
	fd = elf_file_reopen_regular(pathfd, &st);
	close(pathfd);
	return fd;
}

/* The table already parsed for another file with this build-id and size, or -1. */
static int table_by_build_id(const struct usyms *us, const uint8_t *id, size_t len, uint64_t size)
{
	for (size_t i = 0; len && i < us->ntables; i++) {
		const struct elf_symbols *t = us->tables[i].syms;

		if (t->build_id_len == len && memcmp(t->build_id, id, len) == 0 && us->tables[i].file_size == size)
			return (int)i;
	}
	return -1;
}

/* The table of the file open at fd: one parsed before for its build-id, else parsed now (-1: unreadable). */
static int table_for_fd(struct usyms *us, int fd, const char *what)
{
	uint8_t id[ELF_BUILD_ID_MAX];
	struct elf_symbols *syms;
	struct stat st;
	char err[256];
	size_t len;
	int t;

	if (fstat(fd, &st))
		return -1;
	len = elf_file_build_id(fd, id);
	t = table_by_build_id(us, id, len, (uint64_t)st.st_size);
	if (t >= 0) {
		atomic_fetch_add(&stat_build_id_hits, 1);
		return t;
	}
	atomic_fetch_add(&stat_parses, 1);
	syms = elf_symbols_load_fd(fd, what, err, sizeof(err));
	if (!syms)
		return -1;
	us->tables[us->ntables] = (struct sym_table){ syms, (uint64_t)st.st_size };
	return (int)us->ntables++;
}

/* The symbols of the file behind mapping m, loaded through the process's own view of it. */
static const struct elf_symbols *elf_file_get(struct usyms *us, uint32_t tgid, const struct mapping *m)
{
	uint64_t dev = ((uint64_t)m->dev_major << 32) | m->dev_minor;
	struct elf_file *ef;
	char path[4200];
	int fd;

	for (size_t i = 0; i < us->nfiles; i++)
		if (us->files[i].dev == dev && us->files[i].ino == m->ino) {
			ef = &us->files[i];
			return ef->table >= 0 ? us->tables[ef->table].syms : NULL;
		}
	if (us->nfiles == USYMS_MAX_FILES)
		files_clear(us); /* tables never outnumber files */
	/* map_files opens exactly the mapped file, even deleted or in another mount namespace */
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/map_files/%" PRIx64 "-%" PRIx64, tgid, m->start, m->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = usyms_open_in_root(tgid, m->path);
	ef = &us->files[us->nfiles++];
	*ef = (struct elf_file){ dev, m->ino, -1 };
	if (fd >= 0) {
		ef->table = table_for_fd(us, fd, m->path);
		close(fd);
	}
	return ef->table >= 0 ? us->tables[ef->table].syms : NULL;
}

void usyms_name(struct usyms *us, uint32_t tgid, uint64_t ip, char *buf, size_t len)
{
	const struct proc_maps *p = proc_maps_get(us, tgid);
	const struct mapping *m = NULL;
	const struct elf_symbols *syms;
	const struct elf_func *f;
	const char *base, *why;
	uint64_t off, addr;

	for (size_t i = 0; i < p->n; i++) {
		if (ip >= p->maps[i].start && ip < p->maps[i].end) {
			m = &p->maps[i];
			break;
		}
	}
	if (!m || !m->path) {
		snprintf(buf, len, "[unknown]"); /* gone, or JIT / anonymous code */
		return;
	}
	if (m->path[0] != '/') {
		snprintf(buf, len, "%s", m->path); /* [vdso], [vsyscall] */
		return;
	}
	off = ip - m->start + m->pgoff;
	syms = elf_file_get(us, tgid, m);
	if (syms && elf_symbols_offset_to_addr(syms, off, &addr) && (f = elf_symbols_lookup(syms, addr))) {
		snprintf(buf, len, "%s", f->name);
		return;
	}
	/* where, for whoever has the debug symbols; why, when it is not just code between functions */
	if (!syms)
		why = "unknown: unreadable ";
	else if (syms->from_dynsym || !syms->nfuncs)
		why = "unknown: stripped ";
	else
		why = "";
	base = strrchr(m->path, '/');
	snprintf(buf, len, "[%s%s+0x%" PRIx64 "]", why, base ? base + 1 : m->path, off);
}
