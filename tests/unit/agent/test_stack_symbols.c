/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the profile symbolizer: its fallback open follows no symlink in the traced process's root,
 * and copies of one binary share one symbol-table parse by build-id. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "elf_symbols.h"
#include "stack_symbols.h"

struct tree {
	char dir[64];
	char real[128], link[128], via_dir_link[128], fifo[128], dir_link[128], dotdot[160];
};

/* DIR/real (a file), DIR/link -> real, DIR/dlink -> DIR (so DIR/dlink/real), DIR/fifo */
static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	FILE *f;

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/tracectl-usyms-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->real, sizeof(t->real), "%s/real", t->dir);
	snprintf(t->link, sizeof(t->link), "%s/link", t->dir);
	snprintf(t->dir_link, sizeof(t->dir_link), "%s/dlink", t->dir);
	snprintf(t->via_dir_link, sizeof(t->via_dir_link), "%s/dlink/real", t->dir);
	snprintf(t->fifo, sizeof(t->fifo), "%s/fifo", t->dir);
	snprintf(t->dotdot, sizeof(t->dotdot), "%s/../%s/real", t->dir, strrchr(t->dir, '/') + 1);
	f = fopen(t->real, "w");
	assert_non_null(f);
	fputs("not ELF, but a regular file\n", f);
	fclose(f);
	assert_int_equal(symlink("real", t->link), 0);
	assert_int_equal(symlink(t->dir, t->dir_link), 0);
	assert_int_equal(mkfifo(t->fifo, 0600), 0);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;

	unlink(t->real);
	unlink(t->link);
	unlink(t->dir_link);
	unlink(t->fifo);
	rmdir(t->dir);
	free(t);
	return 0;
}

static void test_open_in_root(void **state)
{
	struct tree *t = *state;
	uint32_t self = (uint32_t)getpid();
	int fd;

	fd = usyms_open_in_root(self, t->real);
	assert_true(fd >= 0);
	close(fd);
	/* a symlink as the file or as a directory on the way: refused, not followed */
	assert_int_equal(usyms_open_in_root(self, t->link), -ELOOP);
	assert_int_equal(usyms_open_in_root(self, t->via_dir_link), -ELOOP);
	/* a FIFO is not a file to parse (and is never opened: this would block otherwise) */
	assert_int_equal(usyms_open_in_root(self, t->fifo), -EINVAL);
	assert_int_equal(usyms_open_in_root(self, t->dir), -EINVAL);
	assert_true(usyms_open_in_root(self, "/nonexistent/tracectl-x") < 0);
}

static void test_nofollow_walk(void **state)
{
	struct tree *t = *state;
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), fd;

	assert_true(root >= 0);
	fd = usyms_open_beneath_nofollow(root, t->real);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(usyms_open_beneath_nofollow(root, t->link), -ELOOP);
	assert_int_equal(usyms_open_beneath_nofollow(root, t->via_dir_link), -ELOOP);
	assert_int_equal(usyms_open_beneath_nofollow(root, t->dotdot), -EXDEV);
	assert_int_equal(usyms_open_beneath_nofollow(root, "/"), -EISDIR);
	close(root);
}

/* A copy of this test's own binary at path (another inode, the same build-id). */
static void copy_self(const char *path)
{
	char buf[65536];
	ssize_t n;
	int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), out;

	assert_true(in >= 0);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/* Maps the file at path executable, whole (file offset = address - base); its size in *len. */
static uint8_t *map_exec(const char *path, size_t *len)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0 && fstat(fd, &st) == 0);
	*len = (size_t)st.st_size;
	p = mmap(NULL, *len, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	close(fd);
	assert_true(p != MAP_FAILED);
	return p;
}

/* Two copies of one binary mapped into this process: the first is parsed, the second
 * finds that table by build-id, and both name the function at an address in them. */
static void test_build_id_shared(void **state)
{
	struct tree *t = *state;
	char copies[2][160], name[256], err[256];
	uint8_t id[ELF_BUILD_ID_MAX];
	struct usyms_stats before, after;
	struct elf_symbols *syms;
	struct usyms *us = usyms_new();
	const struct elf_func *f = NULL;
	uint8_t *base[2];
	size_t len[2];
	int fd;

	assert_non_null(us);
	for (int i = 0; i < 2; i++) {
		snprintf(copies[i], sizeof(copies[i]), "%s/copy%d", t->dir, i);
		copy_self(copies[i]);
		base[i] = map_exec(copies[i], &len[i]);
	}
	fd = open(copies[0], O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(elf_file_build_id(fd, id) > 0); /* gcc's default --build-id */
	syms = elf_symbols_load_fd(fd, copies[0], err, sizeof(err));
	close(fd);
	assert_non_null(syms);
	for (size_t i = 0; i < syms->nfuncs && !f; i++)
		if (strcmp(syms->funcs[i].name, "test_build_id_shared") == 0)
			f = &syms->funcs[i];
	assert_non_null(f);

	usyms_stats_get(&before);
	for (int i = 0; i < 2; i++) {
		usyms_name(us, (uint32_t)getpid(), (uint64_t)(uintptr_t)(base[i] + f->file_offset + 1), name,
			   sizeof(name));
		assert_string_equal(name, "test_build_id_shared");
	}
	usyms_stats_get(&after);
	assert_int_equal(after.parses - before.parses, 1);
	assert_int_equal(after.build_id_hits - before.build_id_hits, 1);

	elf_symbols_free(&syms);
	usyms_free(&us);
	for (int i = 0; i < 2; i++) {
		munmap(base[i], len[i]);
		unlink(copies[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_in_root, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_nofollow_walk, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_build_id_shared, tree_setup, tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
