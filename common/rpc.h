/* SPDX-License-Identifier: Apache-2.0 */
/* Frames over libevent buffers: send a message, take the next whole frame. */
#ifndef TRACECTL_RPC_H
#define TRACECTL_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "frame.h"
#include "tracectl.pb-c.h"

#define RPC_PROTOCOL_VERSION 1u
/* Additions within version 1 that older peers ignore; 1: ResultKind in Attached and Snapshot. */
#define RPC_PROTOCOL_MINOR 1u
/* Keepalive: a client pings every RPC_PING_INTERVAL_S; a side that hears nothing
 * for RPC_IDLE_TIMEOUT_S closes the connection. */
#define RPC_PING_INTERVAL_S 5
#define RPC_IDLE_TIMEOUT_S 20

/* Status codes carried in tracectl.Status (0 is OK). */
enum rpc_status {
	RPC_OK = 0,
	RPC_CANCELLED = 1,
	RPC_INVALID_ARGUMENT = 3,
	RPC_NOT_FOUND = 5,
	RPC_PERMISSION_DENIED = 7, /* the agent's policy refuses this identity the request */
	RPC_RESOURCE_EXHAUSTED = 8,
	RPC_FAILED_PRECONDITION = 9, /* e.g. probe not supported by this kernel */
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
};

int rpc_send(struct evbuffer *out, uint32_t stream_id, enum frame_kind kind,
	     const ProtobufCMessage *msg, uint32_t max_message);
/* Sends a Response carrying only a Status. */
int rpc_send_status(struct evbuffer *out, uint32_t stream_id, enum rpc_status code,
		    const char *message, uint32_t max_message);

/*
 * Removes the next whole frame from in. Returns 1 with *hdr (and *msg for
 * FRAME_DATA, caller frees), 0 when more bytes are needed, or a negative errno
 * from frame_decode with a reason in err: the connection must then be closed.
 * max_message and max_unpacked are frame_decode's bounds.
 */
int rpc_take_frame(struct evbuffer *in, uint32_t max_message, size_t max_unpacked, const ProtobufCMessageDescriptor *desc,
		   struct frame_header *hdr, ProtobufCMessage **msg, char *err, size_t errlen);

#endif
