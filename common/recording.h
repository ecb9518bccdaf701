/* SPDX-License-Identifier: Apache-2.0 */
/* Recordings of a session: every response from every host, gzip-compressed, replayable later. */
#ifndef TRACECTL_RECORDING_H
#define TRACECTL_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include "tracectl.pb-c.h"

#define RECORDING_FORMAT_VERSION 1u
#define RECORDING_MAGIC "TRACECTL-REC1\n"
#define RECORDING_MAX_RECORD (16u << 20)
/* Client-side failures (cannot connect, agent died) are recorded as a Status with
 * this added to the CLI's exit code, so a report names them as the live run did. */
#define RECORDING_CLIENT_FAILURE 1000

struct recording_writer;
struct recording_reader;

/* Creates path (truncating; mode 0600, also when it existed) and writes the header. Returns 0 or -errno with a reason. */
int recording_writer_open(struct recording_writer **out, const char *path, const Tracectl__RecordHeader *hdr,
			  char *err, size_t errlen);
/* Appends one response from hosts[host_index]. */
int recording_write(struct recording_writer *w, uint32_t host_index, const Tracectl__Response *resp);
/* Flushes and closes; returns 0 or -EIO with a reason (e.g. disk full). Accepts NULL. */
int recording_writer_close(struct recording_writer **w, char *err, size_t errlen);

/*
 * Opens a recording and reads its header (*hdr, owned by the reader). Takes
 * ownership of fd. Returns 0 or -errno with a reason naming the file and offset.
 */
int recording_reader_open_fd(struct recording_reader **out, int fd, const char *name,
			     const Tracectl__RecordHeader **hdr, char *err, size_t errlen);
int recording_reader_open(struct recording_reader **out, const char *path, const Tracectl__RecordHeader **hdr,
			  char *err, size_t errlen);
/*
 * The next response: 1 with *host_index (0-based) and *resp (caller frees with
 * protobuf_c_message_free_unpacked), 0 at a clean end, or a negative errno when
 * the file is damaged, with err naming the record and the byte offset (in the
 * uncompressed stream) where the damage starts. Everything before it was intact.
 */
int recording_next(struct recording_reader *r, uint32_t *host_index, Tracectl__Response **resp, char *err,
		   size_t errlen);
void recording_reader_close(struct recording_reader **r);

#endif
