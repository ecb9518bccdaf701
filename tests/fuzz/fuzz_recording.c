/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the recording reader (gzip stream, header, length-prefixed records). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "recording.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct recording_reader *r = NULL;
	const Tracectl__RecordHeader *hdr;
	char err[512];
	int fd = memfd_create("fuzz-recording", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return 0;
	}
	/* takes ownership of fd, also on failure */
	if (recording_reader_open_fd(&r, fd, "fuzz", &hdr, err, sizeof(err)) == 0) {
		uint32_t host;
		Tracectl__Response *resp;
		int ret;

		while ((ret = recording_next(r, &host, &resp, err, sizeof(err))) == 1)
			protobuf_c_message_free_unpacked(&resp->base, NULL);
		if (ret < 0 && !strstr(err, "fuzz"))
			__builtin_trap();
	}
	recording_reader_close(&r);
	return 0;
}
