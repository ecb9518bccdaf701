/* SPDX-License-Identifier: Apache-2.0 */
/* Frames over libevent buffers: send a message, take the next whole frame. */
#include <errno.h>
#include <stdlib.h>

#include "rpc.h"

int rpc_send(struct evbuffer *out, uint32_t stream_id, enum frame_kind kind,
	     const ProtobufCMessage *msg, uint32_t max_message)
{
	uint8_t *frame = NULL;
	size_t len = 0;
	int err;

	err = frame_encode(stream_id, kind, msg, max_message, &frame, &len);
	if (err)
		return err;
	/* evbuffer takes the bytes without a copy and frees them with free() */
	if (evbuffer_add_reference(out, frame, len, (evbuffer_ref_cleanup_cb)(void (*)(void))free, NULL)) {
		free(frame);
		return -ENOMEM;
	}
	return 0;
}

int rpc_send_status(struct evbuffer *out, uint32_t stream_id, enum rpc_status code,
		    const char *message, uint32_t max_message)
{
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__Status status = TRACECTL__STATUS__INIT;

	status.code = code;
	status.message = (char *)message;
	resp.result_case = TRACECTL__RESPONSE__RESULT_STATUS;
	resp.status = &status;
	return rpc_send(out, stream_id, FRAME_DATA, &resp.base, max_message);
}

int rpc_take_frame(struct evbuffer *in, uint32_t max_message, size_t max_unpacked, const ProtobufCMessageDescriptor *desc,
		   struct frame_header *hdr, ProtobufCMessage **msg, char *err, size_t errlen)
{
	size_t avail = evbuffer_get_length(in), consumed = 0;
	uint8_t *head;
	int ret;

	*msg = NULL;
	if (avail < FRAME_HEADER_LEN)
		return 0;
	/* validate the header (and its length against the limit) before pulling up
	 * the payload, so a huge length prefix never makes us buffer or allocate */
	head = evbuffer_pullup(in, FRAME_HEADER_LEN);
	if (!head)
		return -ENOMEM;
	ret = frame_header_decode(head, FRAME_HEADER_LEN, max_message, hdr);
	if (ret)
		/* let frame_decode word the reason */
		return frame_decode(head, FRAME_HEADER_LEN, max_message, max_unpacked, desc, hdr, msg, &consumed, err, errlen);
	if (avail < FRAME_HEADER_LEN + (size_t)hdr->length)
		return 0;
	head = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HEADER_LEN + hdr->length));
	if (!head)
		return -ENOMEM;
	ret = frame_decode(head, FRAME_HEADER_LEN + hdr->length, max_message, max_unpacked, desc, hdr, msg, &consumed,
			   err, errlen);
	if (ret)
		return ret;
	evbuffer_drain(in, consumed);
	return 1;
}
