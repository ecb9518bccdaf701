/* SPDX-License-Identifier: Apache-2.0 */
/* The wire framing: stream id + kind, then a gRPC-style flags byte and length. */
#ifndef TRACECTL_FRAME_H
#define TRACECTL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/*
 * Frame on the wire (all integers big-endian), documented in proto/README.md:
 *   u32 stream_id | u8 kind | u8 flags | u32 length | length bytes of payload
 * The last three fields are gRPC's length-prefixed message; the payload is a
 * protobuf (Request or Response), zlib-compressed when flags has bit 0 set.
 */
#define FRAME_HEADER_LEN 10u
#define FRAME_MAX_MESSAGE_DEFAULT (4u << 20)
/* What the agent accepts from a client, after inflating: a Request needs at most a few
 * KiB (the longest is an Attach with a 4 KiB target path). */
#define FRAME_MAX_REQUEST (64u << 10)
/* Memory protobuf-c may allocate unpacking one Request. Without it, a frame of 2-byte
 * empty repeated fields unpacks ~50-fold (a 4 MiB Request of empty Params took 190 MB);
 * within it an Attach holds at most ~2,700 Params (catalog_parse_params takes ~12). */
#define FRAME_MAX_REQUEST_UNPACKED (256u << 10)
/* Payloads at least this large are compressed: snapshots with many buckets. */
#define FRAME_COMPRESS_MIN 1024u

enum frame_kind {
	FRAME_DATA = 0,   /* a message of the call on stream_id */
	FRAME_CANCEL = 1, /* client ends the call on stream_id; no payload */
	FRAME_PING = 2,   /* keepalive; the peer answers FRAME_PONG; no payload */
	FRAME_PONG = 3,
	FRAME_KIND_MAX = FRAME_PONG,
};

#define FRAME_FLAG_COMPRESSED 0x01u
#define FRAME_FLAGS_KNOWN FRAME_FLAG_COMPRESSED

struct frame_header {
	uint32_t stream_id;
	uint8_t kind;
	uint8_t flags;
	uint32_t length;
};

/*
 * Decodes and validates a header from buf (len bytes available) before any
 * allocation. Returns 0, -EAGAIN when fewer than FRAME_HEADER_LEN bytes are
 * there, -EPROTO for an unknown kind or flags bits, or a payload on a frame kind
 * that carries none, -EMSGSIZE when length exceeds max_message.
 */
int frame_header_decode(const uint8_t *buf, size_t len, uint32_t max_message, struct frame_header *out);
void frame_header_encode(const struct frame_header *h, uint8_t out[FRAME_HEADER_LEN]);

/*
 * Decodes one whole frame from buf. On 0, *consumed is the frame's size and, for
 * FRAME_DATA, *msg is the unpacked message (free with protobuf_c_message_free_unpacked).
 * max_unpacked bounds the memory the unpacked message may take (0: no bound).
 * Returns -EAGAIN when the frame is incomplete; other negative errno with a
 * reason in err: -EPROTO bad header or undecodable protobuf, -EMSGSIZE too big
 * (also after inflating, or unpacked past max_unpacked), -EBADMSG corrupt
 * compressed data.
 */
int frame_decode(const uint8_t *buf, size_t len, uint32_t max_message, size_t max_unpacked,
		 const ProtobufCMessageDescriptor *desc, struct frame_header *hdr,
		 ProtobufCMessage **msg, size_t *consumed, char *err, size_t errlen);

/*
 * protobuf_c_message_unpack allocating at most max_unpacked bytes in all (0: no
 * bound). NULL when data is not a valid message or, with *over_budget set, when
 * it needs more memory than that. Free with protobuf_c_message_free_unpacked(msg, NULL).
 */
ProtobufCMessage *frame_unpack_bounded(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
				       size_t max_unpacked, bool *over_budget);

/*
 * Encodes msg (NULL for frames without payload) into a malloc'ed buffer owned
 * by the caller, compressing when the packed size reaches FRAME_COMPRESS_MIN.
 * Returns 0 or -ENOMEM / -EMSGSIZE.
 */
int frame_encode(uint32_t stream_id, enum frame_kind kind, const ProtobufCMessage *msg,
		 uint32_t max_message, uint8_t **out, size_t *out_len);

const char *frame_kind_name(uint8_t kind);

#endif
