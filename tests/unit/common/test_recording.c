/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of recordings: what was traced is readable by its owner only. */
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

#include "recording.h"

static void write_recording(const char *path)
{
	Tracectl__RecordHeader hdr = TRACECTL__RECORD_HEADER__INIT;
	struct recording_writer *w = NULL;
	char err[256] = "";

	hdr.format_version = 1;
	hdr.probe = "tcp-latency";
	assert_int_equal(recording_writer_open(&w, path, &hdr, err, sizeof(err)), 0);
	assert_int_equal(recording_writer_close(&w, err, sizeof(err)), 0);
}

static void test_created_owner_only(void **state)
{
	char dir[] = "/tmp/tracectl-rec-XXXXXX", path[64];
	struct stat st;
	mode_t old;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/run.trace", dir);
	/* the usual umask would leave a new file world-readable */
	old = umask(022);
	write_recording(path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* an existing world-readable file of that name loses its readers */
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	write_recording(path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	umask(old);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_created_owner_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
