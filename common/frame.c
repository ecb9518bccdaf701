/* SPDX-License-Identifier: Apache-2.0 */
/* The wire framing: stream id + kind, then a gRPC-style flags byte and length. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "frame.h"

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

const char *frame_kind_name(uint8_t kind)
{
	static const char *const names[] = { "DATA", "CANCEL", "PING", "PONG" };

	return kind <= FRAME_KIND_MAX ? names[kind] : "UNKNOWN";
}

int frame_header_decode(const uint8_t *buf, size_t len, uint32_t max_message, struct frame_header *out)
{
	if (len < FRAME_HEADER_LEN)
		return -EAGAIN;
	out->stream_id = get_be32(buf);
	out->kind = buf[4];
	out->flags = buf[5];
	out->length = get_be32(buf + 6);
	if (out->kind > FRAME_KIND_MAX || (out->flags & ~FRAME_FLAGS_KNOWN))
		return -EPROTO;
	if (out->kind != FRAME_DATA && (out->length || out->flags))
		return -EPROTO;
	if (out->length > max_message)
		return -EMSGSIZE;
	return 0;
}

void frame_header_encode(const struct frame_header *h, uint8_t out[FRAME_HEADER_LEN])
{
	put_be32(out, h->stream_id);
	out[4] = h->kind;
	out[5] = h->flags;
	put_be32(out + 6, h->length);
}

/* Inflates in into a fresh buffer of at most max bytes; the caller frees *out. */
static int inflate_bounded(const uint8_t *in, size_t in_len, uint32_t max, uint8_t **out, size_t *out_len)
{
	z_stream zs = { 0 };
	size_t cap = in_len * 4 < 4096 ? 4096 : in_len * 4;
	uint8_t *buf = NULL;
	int zret, err = 0;

	if (cap > (size_t)max + 1)
		cap = (size_t)max + 1;
	if (inflateInit(&zs) != Z_OK)
		return -ENOMEM;
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	for (;;) {
		zret = inflate(&zs, Z_NO_FLUSH);
		if (zret == Z_STREAM_END)
			break;
		if (zret != Z_OK && zret != Z_BUF_ERROR) {
			err = -EBADMSG;
			goto cleanup;
		}
		if (zs.avail_out == 0) {
			uint8_t *bigger;
			size_t used = cap;

			/* one byte past max proves the payload is too large */
			if (cap > max) {
				err = -EMSGSIZE;
				goto cleanup;
			}
			cap = cap * 2 > (size_t)max + 1 ? (size_t)max + 1 : cap * 2;
			bigger = realloc(buf, cap);
			if (!bigger) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = bigger;
			zs.next_out = buf + used;
			zs.avail_out = (uInt)(cap - used);
		} else if (zs.avail_in == 0 || zret == Z_BUF_ERROR) {
			err = -EBADMSG; /* input ended before the stream did */
			goto cleanup;
		}
	}
	if (zs.total_out > max) {
		err = -EMSGSIZE;
		goto cleanup;
	}
	*out = buf;
	*out_len = zs.total_out;
	buf = NULL;
cleanup:
	inflateEnd(&zs);
	free(buf);
	return err;
}

/* protobuf-c's allocator hooks, counting down what one unpack may still take */
struct unpack_budget {
	size_t left;
	bool over;
};

static void *budget_alloc(void *data, size_t size)
{
	struct unpack_budget *b = data;

	if (size > b->left) {
		b->over = true;
		return NULL;
	}
	b->left -= size;
	return malloc(size);
}

static void budget_free(void *data, void *ptr)
{
	(void)data;
	free(ptr);
}

ProtobufCMessage *frame_unpack_bounded(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
				       size_t max_unpacked, bool *over_budget)
{
	struct unpack_budget budget = { .left = max_unpacked };
	/* malloc/free underneath, so the message is freed like any other (allocator NULL) */
	ProtobufCAllocator bounded = { .alloc = budget_alloc, .free = budget_free, .allocator_data = &budget };
	ProtobufCMessage *msg = protobuf_c_message_unpack(desc, max_unpacked ? &bounded : NULL, len, data);

	*over_budget = !msg && budget.over;
	return msg;
}

int frame_decode(const uint8_t *buf, size_t len, uint32_t max_message, size_t max_unpacked,
		 const ProtobufCMessageDescriptor *desc, struct frame_header *hdr,
		 ProtobufCMessage **msg, size_t *consumed, char *err, size_t errlen)
{
	const uint8_t *payload;
	uint8_t *inflated = NULL;
	size_t payload_len;
	bool over_budget;
	int ret;

	*msg = NULL;
	ret = frame_header_decode(buf, len, max_message, hdr);
	if (ret == -EAGAIN)
		return ret;
	if (ret == -EMSGSIZE) {
		snprintf(err, errlen, "frame of %u bytes exceeds the %u-byte limit", hdr->length, max_message);
		return ret;
	}
	if (ret) {
		snprintf(err, errlen, "bad frame header (kind %u, flags 0x%02x, length %u)", hdr->kind,
			 hdr->flags, hdr->length);
		return ret;
	}
	if (len - FRAME_HEADER_LEN < hdr->length)
		return -EAGAIN;
	*consumed = FRAME_HEADER_LEN + hdr->length;
	if (hdr->kind != FRAME_DATA)
		return 0;

	payload = buf + FRAME_HEADER_LEN;
	payload_len = hdr->length;
	if (hdr->flags & FRAME_FLAG_COMPRESSED) {
		ret = inflate_bounded(payload, payload_len, max_message, &inflated, &payload_len);
		if (ret) {
			snprintf(err, errlen, ret == -EMSGSIZE ? "compressed message inflates past the %u-byte limit"
							       : "corrupt compressed message (limit %u bytes)",
				 max_message);
			return ret;
		}
		payload = inflated;
	}
	*msg = frame_unpack_bounded(desc, payload, payload_len, max_unpacked, &over_budget);
	free(inflated);
	if (over_budget) {
		snprintf(err, errlen, "%s message of %zu bytes on stream %u unpacks past the %zu-byte limit",
			 desc->short_name, payload_len, hdr->stream_id, max_unpacked);
		return -EMSGSIZE;
	}
	if (!*msg) {
		snprintf(err, errlen, "undecodable %s message of %zu bytes on stream %u", desc->short_name,
			 payload_len, hdr->stream_id);
		return -EPROTO;
	}
	return 0;
}

int frame_encode(uint32_t stream_id, enum frame_kind kind, const ProtobufCMessage *msg,
		 uint32_t max_message, uint8_t **out, size_t *out_len)
{
	struct frame_header h = { .stream_id = stream_id, .kind = (uint8_t)kind };
	size_t packed_len = msg ? protobuf_c_message_get_packed_size(msg) : 0;
	uint8_t *packed = NULL, *frame = NULL;
	int err = 0;

	if (packed_len > max_message)
		return -EMSGSIZE;
	if (packed_len >= FRAME_COMPRESS_MIN) {
		uLongf zlen;

		packed = malloc(packed_len);
		if (!packed)
			return -ENOMEM;
		if (protobuf_c_message_pack(msg, packed) != packed_len) {
			err = -EINVAL;
			goto cleanup;
		}
		zlen = compressBound(packed_len);
		frame = malloc(FRAME_HEADER_LEN + zlen);
		if (!frame) {
			err = -ENOMEM;
			goto cleanup;
		}
		if (compress2(frame + FRAME_HEADER_LEN, &zlen, packed, packed_len, Z_BEST_SPEED) != Z_OK) {
			err = -ENOMEM;
			goto cleanup;
		}
		h.flags = FRAME_FLAG_COMPRESSED;
		h.length = (uint32_t)zlen;
	} else {
		frame = malloc(FRAME_HEADER_LEN + packed_len);
		if (!frame)
			return -ENOMEM;
		if (msg && protobuf_c_message_pack(msg, frame + FRAME_HEADER_LEN) != packed_len) {
			err = -EINVAL;
			goto cleanup;
		}
		h.length = (uint32_t)packed_len;
	}
	frame_header_encode(&h, frame);
	*out = frame;
	*out_len = FRAME_HEADER_LEN + h.length;
	frame = NULL;
cleanup:
	free(packed);
	free(frame);
	return err;
}
