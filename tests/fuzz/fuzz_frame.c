/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: frame decoding (header, zlib, protobuf) as both the agent and the CLI do it. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "frame.h"
#include "tracectl.pb-c.h"

/* Small limit, so that zlib bombs and length prefixes hit it quickly. */
#define FUZZ_MAX_MESSAGE (256u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ProtobufCMessageDescriptor *const descs[] = { &tracectl__request__descriptor,
								   &tracectl__response__descriptor };
	/* Requests as the agent bounds them; responses as the CLI takes them */
	static const size_t unpacked_limit[] = { FRAME_MAX_REQUEST_UNPACKED, 0 };
	char err[256];

	for (size_t d = 0; d < 2; d++) {
		size_t off = 0;

		/* a byte stream of frames, as rpc_take_frame consumes it */
		while (off < size) {
			struct frame_header hdr;
			ProtobufCMessage *msg = NULL;
			size_t consumed = 0;
			uint8_t *again = NULL;
			size_t again_len = 0;

			if (frame_decode(data + off, size - off, FUZZ_MAX_MESSAGE, unpacked_limit[d], descs[d], &hdr, &msg, &consumed, err,
					 sizeof(err)))
				break;
			/* what decodes must encode again, and our framing must round-trip. The
			 * protobuf payload need not: protobuf-c 1.4 keeps unknown fields with a
			 * tag number 0 on unpack and re-packs them into bytes its own unpacker
			 * rejects (found by this target; harmless here, since neither side ever
			 * re-encodes a message it received). */
			if (frame_encode(hdr.stream_id, hdr.kind, msg, FUZZ_MAX_MESSAGE, &again, &again_len) == 0) {
				struct frame_header hdr2;
				ProtobufCMessage *msg2 = NULL;
				size_t consumed2 = 0;
				int ret = frame_decode(again, again_len, FUZZ_MAX_MESSAGE, unpacked_limit[d], descs[d], &hdr2, &msg2, &consumed2,
						       err, sizeof(err));

				if ((ret && ret != -EPROTO) ||
				    (!ret && (consumed2 != again_len || hdr2.kind != hdr.kind || hdr2.stream_id != hdr.stream_id)))
					__builtin_trap();
				if (msg2)
					protobuf_c_message_free_unpacked(msg2, NULL);
			}
			free(again);
			if (msg)
				protobuf_c_message_free_unpacked(msg, NULL);
			off += consumed;
		}
	}
	return 0;
}
