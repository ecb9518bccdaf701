/* SPDX-License-Identifier: Apache-2.0 */
/* Recordings of a session: every response from every host, gzip-compressed, replayable later. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "recording.h"

struct recording_writer {
	gzFile gz;
	char path[512];
	int error; /* first write error, reported at close */
};

struct recording_reader {
	gzFile gz;
	char name[512];
	uint64_t offset;   /* uncompressed bytes consumed */
	uint64_t records;  /* records read, header included */
	Tracectl__RecordHeader *hdr;
	uint32_t nhosts;
};

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int write_record(struct recording_writer *w, uint32_t host, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t head[8], stack[4096], *buf = len <= sizeof(stack) ? stack : malloc(len);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	if (len > RECORDING_MAX_RECORD) {
		ret = -EMSGSIZE;
		goto cleanup;
	}
	protobuf_c_message_pack(msg, buf);
	put_be32(head, host);
	put_be32(head + 4, (uint32_t)len);
	if (gzwrite(w->gz, head, sizeof(head)) != (int)sizeof(head) ||
	    (len && gzwrite(w->gz, buf, (unsigned)len) != (int)len))
		ret = -EIO;
cleanup:
	if (buf != stack)
		free(buf);
	if (ret && !w->error)
		w->error = ret;
	return ret;
}

int recording_writer_open(struct recording_writer **out, const char *path, const Tracectl__RecordHeader *hdr,
			  char *err, size_t errlen)
{
	struct recording_writer *w = calloc(1, sizeof(*w));
	struct stat st;
	int ret, fd;

	*out = NULL;
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(w->path, sizeof(w->path), "%s", path);
	/* what was traced (addresses, file names, stacks) is for its owner only */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
		fchmod(fd, 0600); /* an older file of the same name: its readers go too */
	w->gz = fd >= 0 ? gzdopen(fd, "wb6") : NULL;
	if (!w->gz) {
		ret = errno ? -errno : -ENOMEM;
		snprintf(err, errlen, "cannot create recording '%s': %s", path, strerror(-ret));
		if (fd >= 0)
			close(fd);
		free(w);
		return ret;
	}
	if (gzwrite(w->gz, RECORDING_MAGIC, sizeof(RECORDING_MAGIC) - 1) != (int)(sizeof(RECORDING_MAGIC) - 1) ||
	    write_record(w, 0, &hdr->base)) {
		snprintf(err, errlen, "cannot write recording '%s'", path);
		gzclose(w->gz);
		free(w);
		return -EIO;
	}
	*out = w;
	return 0;
}

int recording_write(struct recording_writer *w, uint32_t host_index, const Tracectl__Response *resp)
{
	return write_record(w, host_index + 1, &resp->base);
}

int recording_writer_close(struct recording_writer **wp, char *err, size_t errlen)
{
	struct recording_writer *w = *wp;
	int ret = 0;

	if (!w)
		return 0;
	if (gzclose(w->gz) != Z_OK && !w->error)
		w->error = -EIO;
	if (w->error) {
		snprintf(err, errlen, "writing recording '%s' failed: %s", w->path, strerror(-w->error));
		ret = w->error;
	}
	free(w);
	*wp = NULL;
	return ret;
}

/* Reads exactly len bytes; -EPIPE when the stream ends first (truncation), -EIO on gzip errors. */
static int read_exact(struct recording_reader *r, void *buf, size_t len, char *err, size_t errlen,
		      const char *what)
{
	int n = len ? gzread(r->gz, buf, (unsigned)len) : 0;
	int zerr;
	const char *msg;

	if (n == (int)len) {
		r->offset += len;
		return 0;
	}
	msg = gzerror(r->gz, &zerr);
	if (n < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR)) {
		snprintf(err, errlen, "%s: damaged at byte %llu (record %llu, %s): %s", r->name,
			 (unsigned long long)r->offset, (unsigned long long)r->records, what, msg);
		return -EIO;
	}
	snprintf(err, errlen, "%s: truncated at byte %llu (record %llu, %s: %d of %zu bytes)", r->name,
		 (unsigned long long)(r->offset + (uint64_t)(n > 0 ? n : 0)), (unsigned long long)r->records, what,
		 n > 0 ? n : 0, len);
	return -EPIPE;
}

/* One record: 1 with host and the packed bytes (caller frees), 0 at a clean end. */
static int next_record(struct recording_reader *r, uint32_t *host, uint8_t **payload, size_t *len, char *err,
		       size_t errlen)
{
	uint8_t head[8];
	int n, ret;

	*payload = NULL;
	n = gzread(r->gz, head, 1);
	if (n == 0) {
		int zerr;
		const char *msg = gzerror(r->gz, &zerr);

		if (zerr != Z_OK && zerr != Z_BUF_ERROR) {
			snprintf(err, errlen, "%s: damaged at byte %llu (after record %llu): %s", r->name,
				 (unsigned long long)r->offset, (unsigned long long)r->records, msg);
			return -EIO;
		}
		return 0;
	}
	if (n < 0) {
		int zerr;

		snprintf(err, errlen, "%s: damaged at byte %llu (record %llu): %s", r->name,
			 (unsigned long long)r->offset, (unsigned long long)r->records, gzerror(r->gz, &zerr));
		return -EIO;
	}
	r->offset++;
	ret = read_exact(r, head + 1, sizeof(head) - 1, err, errlen, "record header");
	if (ret)
		return ret;
	*host = get_be32(head);
	*len = get_be32(head + 4);
	if (*len > RECORDING_MAX_RECORD) {
		snprintf(err, errlen, "%s: damaged at byte %llu (record %llu): length %zu exceeds %u", r->name,
			 (unsigned long long)(r->offset - 4), (unsigned long long)r->records, *len, RECORDING_MAX_RECORD);
		return -EBADMSG;
	}
	*payload = malloc(*len ? *len : 1);
	if (!*payload) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = read_exact(r, *payload, *len, err, errlen, "record body");
	if (ret) {
		free(*payload);
		*payload = NULL;
		return ret;
	}
	r->records++;
	return 1;
}

int recording_reader_open_fd(struct recording_reader **out, int fd, const char *name,
			     const Tracectl__RecordHeader **hdr, char *err, size_t errlen)
{
	struct recording_reader *r = calloc(1, sizeof(*r));
	char magic[sizeof(RECORDING_MAGIC) - 1];
	uint8_t *payload = NULL;
	uint32_t host = 0;
	size_t len = 0;
	int ret;

	*out = NULL;
	if (!r) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->gz = gzdopen(fd, "rb");
	if (!r->gz) {
		close(fd);
		free(r);
		snprintf(err, errlen, "%s: cannot read", name);
		return -EIO;
	}
	ret = read_exact(r, magic, sizeof(magic), err, errlen, "magic");
	if (ret || memcmp(magic, RECORDING_MAGIC, sizeof(magic)) != 0) {
		snprintf(err, errlen, "%s: not a tracectl recording (bad magic)", name);
		ret = -EBADMSG;
		goto fail;
	}
	ret = next_record(r, &host, &payload, &len, err, errlen);
	if (ret <= 0 || host != 0) {
		/* a first record for another host is read whole: free it (found by fuzz_recording) */
		free(payload);
		if (ret >= 0)
			snprintf(err, errlen, "%s: no header record", name);
		ret = ret < 0 ? ret : -EBADMSG;
		goto fail;
	}
	r->hdr = tracectl__record_header__unpack(NULL, len, payload);
	free(payload);
	if (!r->hdr) {
		snprintf(err, errlen, "%s: damaged header at byte %zu", name, sizeof(magic) + 8);
		ret = -EBADMSG;
		goto fail;
	}
	if (r->hdr->format_version != RECORDING_FORMAT_VERSION) {
		snprintf(err, errlen, "%s: recording format %u, this tracectl reads %u", name, r->hdr->format_version,
			 RECORDING_FORMAT_VERSION);
		ret = -EPROTO;
		goto fail;
	}
	r->nhosts = (uint32_t)r->hdr->n_hosts;
	*hdr = r->hdr;
	*out = r;
	return 0;
fail:
	recording_reader_close(&r);
	return ret;
}

int recording_reader_open(struct recording_reader **out, const char *path, const Tracectl__RecordHeader **hdr,
			  char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open recording '%s': %s", path, strerror(errno));
		return -errno;
	}
	return recording_reader_open_fd(out, fd, path, hdr, err, errlen);
}

int recording_next(struct recording_reader *r, uint32_t *host_index, Tracectl__Response **resp, char *err,
		   size_t errlen)
{
	uint64_t at = r->offset;
	uint8_t *payload;
	uint32_t host;
	size_t len;
	int ret;

	*resp = NULL;
	ret = next_record(r, &host, &payload, &len, err, errlen);
	if (ret <= 0)
		return ret;
	if (host == 0 || host > r->nhosts) {
		snprintf(err, errlen, "%s: damaged at byte %llu (record %llu): host %u of %u", r->name,
			 (unsigned long long)at, (unsigned long long)r->records - 1, host, r->nhosts);
		free(payload);
		return -EBADMSG;
	}
	*resp = tracectl__response__unpack(NULL, len, payload);
	free(payload);
	if (!*resp) {
		snprintf(err, errlen, "%s: damaged at byte %llu (record %llu): undecodable message", r->name,
			 (unsigned long long)at, (unsigned long long)r->records - 1);
		return -EBADMSG;
	}
	*host_index = host - 1;
	return 1;
}

void recording_reader_close(struct recording_reader **rp)
{
	struct recording_reader *r = *rp;

	if (!r)
		return;
	if (r->hdr)
		tracectl__record_header__free_unpacked(r->hdr, NULL);
	if (r->gz)
		gzclose(r->gz);
	free(r);
	*rp = NULL;
}
