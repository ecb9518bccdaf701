/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the profile symbolizer's fallback open: symlinks in the traced process's root are not followed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_in_root, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_nofollow_walk, tree_setup, tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
