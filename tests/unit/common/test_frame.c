/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the wire framing (sizes, flags, compression, hostile input) and host:port parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "frame.h"
#include "hostport.h"
#include "tracectl.pb-c.h"

#define MAX_MSG FRAME_MAX_MESSAGE_DEFAULT
#define DESC (&tracectl__response__descriptor)

/* A snapshot with nseries series of nbuckets non-empty buckets each; freed by snapshot_free. */
struct snapshot_msg {
	Tracectl__Response resp;
	Tracectl__Snapshot snap;
	Tracectl__Series series[2];
	Tracectl__Series *series_ptrs[2];
	Tracectl__Histogram hist[2];
	Tracectl__Bucket *buckets[2];
	Tracectl__Bucket **bucket_ptrs[2];
};

static struct snapshot_msg *snapshot_new(size_t nbuckets)
{
	static char *labels[2] = { "role=client", "role=server" };
	struct snapshot_msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	tracectl__response__init(&m->resp);
	tracectl__snapshot__init(&m->snap);
	m->snap.seq = 7;
	m->snap.start_unix_ns = 1700000000000000000ull;
	m->snap.end_unix_ns = 1700000001000000000ull;
	m->snap.n_series = 2;
	m->snap.series = m->series_ptrs;
	for (size_t s = 0; s < 2; s++) {
		tracectl__series__init(&m->series[s]);
		tracectl__histogram__init(&m->hist[s]);
		m->series_ptrs[s] = &m->series[s];
		m->series[s].label = labels[s];
		m->series[s].hist = &m->hist[s];
		m->hist[s].sub_bits = 5;
		m->hist[s].unit = "ns";
		m->hist[s].max_exact = true;
		m->buckets[s] = calloc(nbuckets ? nbuckets : 1, sizeof(Tracectl__Bucket));
		m->bucket_ptrs[s] = calloc(nbuckets ? nbuckets : 1, sizeof(Tracectl__Bucket *));
		assert_non_null(m->buckets[s]);
		assert_non_null(m->bucket_ptrs[s]);
		for (size_t i = 0; i < nbuckets; i++) {
			tracectl__bucket__init(&m->buckets[s][i]);
			m->buckets[s][i].index = (uint32_t)(i * 3 + s);
			m->buckets[s][i].count = (i * 2654435761u) % 100000 + 1;
			m->bucket_ptrs[s][i] = &m->buckets[s][i];
			m->hist[s].count += m->buckets[s][i].count;
		}
		m->hist[s].n_buckets = nbuckets;
		m->hist[s].buckets = m->bucket_ptrs[s];
		m->hist[s].sum = 12345678901ull + s;
		m->hist[s].max = 20450000 + s;
	}
	m->resp.result_case = TRACECTL__RESPONSE__RESULT_SNAPSHOT;
	m->resp.snapshot = &m->snap;
	return m;
}

static void snapshot_free(struct snapshot_msg *m)
{
	for (size_t s = 0; s < 2; s++) {
		free(m->buckets[s]);
		free(m->bucket_ptrs[s]);
	}
	free(m);
}

static void check_same_snapshot(const struct snapshot_msg *want, const ProtobufCMessage *got_msg)
{
	const Tracectl__Response *got = (const Tracectl__Response *)got_msg;

	assert_non_null(got);
	assert_int_equal(got->result_case, TRACECTL__RESPONSE__RESULT_SNAPSHOT);
	assert_non_null(got->snapshot);
	assert_int_equal(got->snapshot->seq, want->snap.seq);
	assert_int_equal(got->snapshot->start_unix_ns, want->snap.start_unix_ns);
	assert_int_equal(got->snapshot->end_unix_ns, want->snap.end_unix_ns);
	assert_int_equal(got->snapshot->n_series, 2);
	for (size_t s = 0; s < 2; s++) {
		const Tracectl__Series *gs = got->snapshot->series[s];
		const Tracectl__Histogram *gh = gs->hist, *wh = &want->hist[s];

		assert_string_equal(gs->label, want->series[s].label);
		assert_non_null(gh);
		assert_int_equal(gh->count, wh->count);
		assert_int_equal(gh->sum, wh->sum);
		assert_int_equal(gh->max, wh->max);
		assert_int_equal(gh->sub_bits, wh->sub_bits);
		assert_string_equal(gh->unit, wh->unit);
		assert_int_equal(gh->n_buckets, wh->n_buckets);
		for (size_t i = 0; i < wh->n_buckets; i++) {
			assert_int_equal(gh->buckets[i]->index, wh->buckets[i]->index);
			assert_int_equal(gh->buckets[i]->count, wh->buckets[i]->count);
		}
	}
}

static int decode(const uint8_t *buf, size_t len, uint32_t max, struct frame_header *hdr,
		  ProtobufCMessage **msg, size_t *consumed)
{
	char err[256] = "";
	int rc;

	*msg = NULL;
	*consumed = 0;
	rc = frame_decode(buf, len, max, 0, DESC, hdr, msg, consumed, err, sizeof(err));
	/* Every failure other than "need more bytes" says why. */
	if (rc < 0 && rc != -EAGAIN && err[0] == '\0')
		fail_msg("frame_decode returned %d without a reason", rc);
	if (rc < 0)
		assert_null(*msg);
	return rc;
}

static void round_trip(size_t nbuckets, bool want_compressed)
{
	struct snapshot_msg *m = snapshot_new(nbuckets);
	size_t packed = protobuf_c_message_get_packed_size(&m->resp.base), len = 0, consumed;
	struct frame_header hdr;
	ProtobufCMessage *msg;
	uint8_t *buf = NULL;

	assert_int_equal(packed >= FRAME_COMPRESS_MIN, want_compressed);
	assert_int_equal(frame_encode(42, FRAME_DATA, &m->resp.base, MAX_MSG, &buf, &len), 0);
	assert_non_null(buf);
	assert_true(len >= FRAME_HEADER_LEN);
	/* Header layout: u32 stream | u8 kind | u8 flags | u32 length, big-endian. */
	assert_int_equal(buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3], 42);
	assert_int_equal(buf[4], FRAME_DATA);
	assert_int_equal(!!(buf[5] & FRAME_FLAG_COMPRESSED), want_compressed);
	assert_int_equal((size_t)((uint32_t)buf[6] << 24 | buf[7] << 16 | buf[8] << 8 | buf[9]), len - FRAME_HEADER_LEN);
	if (want_compressed)
		assert_true(len - FRAME_HEADER_LEN < packed);
	else
		assert_int_equal(len - FRAME_HEADER_LEN, packed);

	assert_int_equal(frame_header_decode(buf, len, MAX_MSG, &hdr), 0);
	assert_int_equal(hdr.stream_id, 42);
	assert_int_equal(hdr.kind, FRAME_DATA);
	assert_int_equal(hdr.length, len - FRAME_HEADER_LEN);

	assert_int_equal(decode(buf, len, MAX_MSG, &hdr, &msg, &consumed), 0);
	assert_int_equal(consumed, len);
	assert_int_equal(hdr.stream_id, 42);
	check_same_snapshot(m, msg);
	protobuf_c_message_free_unpacked(msg, NULL);

	/* Every proper prefix is incomplete, never an error. */
	for (size_t cut = 0; cut < len; cut++)
		if (decode(buf, cut, MAX_MSG, &hdr, &msg, &consumed) != -EAGAIN)
			fail_msg("prefix of %zu of %zu bytes: want -EAGAIN", cut, len);
	free(buf);
	snapshot_free(m);
}

static void test_round_trip_small(void **state)
{
	(void)state;
	round_trip(5, false);
}

static void test_round_trip_large(void **state)
{
	(void)state;
	round_trip(600, true);
}

static void test_two_frames_back_to_back(void **state)
{
	struct snapshot_msg *m = snapshot_new(3);
	uint8_t *a = NULL, *b = NULL, *both;
	size_t alen, blen, consumed;
	struct frame_header hdr;
	ProtobufCMessage *msg;
	(void)state;

	assert_int_equal(frame_encode(1, FRAME_DATA, &m->resp.base, MAX_MSG, &a, &alen), 0);
	assert_int_equal(frame_encode(3, FRAME_PING, NULL, MAX_MSG, &b, &blen), 0);
	assert_int_equal(blen, FRAME_HEADER_LEN);
	both = malloc(alen + blen);
	assert_non_null(both);
	memcpy(both, a, alen);
	memcpy(both + alen, b, blen);
	assert_int_equal(decode(both, alen + blen, MAX_MSG, &hdr, &msg, &consumed), 0);
	assert_int_equal(consumed, alen);
	check_same_snapshot(m, msg);
	protobuf_c_message_free_unpacked(msg, NULL);
	assert_int_equal(decode(both + alen, blen, MAX_MSG, &hdr, &msg, &consumed), 0);
	assert_int_equal(consumed, FRAME_HEADER_LEN);
	assert_int_equal(hdr.kind, FRAME_PING);
	assert_int_equal(hdr.stream_id, 3);
	assert_null(msg);
	free(both);
	free(a);
	free(b);
	snapshot_free(m);
}

static void put_header(uint8_t *out, uint32_t stream, uint8_t kind, uint8_t flags, uint32_t length)
{
	struct frame_header h = { .stream_id = stream, .kind = kind, .flags = flags, .length = length };

	frame_header_encode(&h, out);
}

static void test_oversize_rejected_from_header(void **state)
{
	uint8_t buf[FRAME_HEADER_LEN];
	struct frame_header hdr;
	ProtobufCMessage *msg;
	size_t consumed;
	(void)state;

	/* Only the header is there: the length alone condemns the frame. */
	put_header(buf, 1, FRAME_DATA, 0, MAX_MSG + 1);
	assert_int_equal(frame_header_decode(buf, sizeof(buf), MAX_MSG, &hdr), -EMSGSIZE);
	assert_int_equal(decode(buf, sizeof(buf), MAX_MSG, &hdr, &msg, &consumed), -EMSGSIZE);
	put_header(buf, 1, FRAME_DATA, FRAME_FLAG_COMPRESSED, 0xffffffffu);
	assert_int_equal(decode(buf, sizeof(buf), MAX_MSG, &hdr, &msg, &consumed), -EMSGSIZE);
	put_header(buf, 1, FRAME_DATA, 0, 101);
	assert_int_equal(decode(buf, sizeof(buf), 100, &hdr, &msg, &consumed), -EMSGSIZE);
	/* Exactly the limit is fine (just incomplete). */
	put_header(buf, 1, FRAME_DATA, 0, 100);
	assert_int_equal(decode(buf, sizeof(buf), 100, &hdr, &msg, &consumed), -EAGAIN);
}

static void test_encode_too_large(void **state)
{
	struct snapshot_msg *m = snapshot_new(600);
	size_t packed = protobuf_c_message_get_packed_size(&m->resp.base), len = 0;
	uint8_t *buf = NULL;
	(void)state;

	assert_int_equal(frame_encode(1, FRAME_DATA, &m->resp.base, (uint32_t)packed - 1, &buf, &len), -EMSGSIZE);
	assert_null(buf);
	assert_int_equal(frame_encode(1, FRAME_DATA, &m->resp.base, (uint32_t)packed, &buf, &len), 0);
	free(buf);
	snapshot_free(m);
}

static void test_bad_header_fields(void **state)
{
	uint8_t buf[FRAME_HEADER_LEN + 4] = { 0 };
	struct frame_header hdr;
	ProtobufCMessage *msg;
	size_t consumed;
	(void)state;

	/* Unknown flag bits. */
	for (unsigned int flags = 0x02; flags <= 0x80; flags <<= 1) {
		put_header(buf, 1, FRAME_DATA, (uint8_t)flags, 0);
		assert_int_equal(frame_header_decode(buf, sizeof(buf), MAX_MSG, &hdr), -EPROTO);
		assert_int_equal(decode(buf, sizeof(buf), MAX_MSG, &hdr, &msg, &consumed), -EPROTO);
	}
	put_header(buf, 1, FRAME_DATA, 0xff, 0);
	assert_int_equal(decode(buf, sizeof(buf), MAX_MSG, &hdr, &msg, &consumed), -EPROTO);
	/* Unknown kinds. */
	put_header(buf, 1, FRAME_KIND_MAX + 1, 0, 0);
	assert_int_equal(decode(buf, sizeof(buf), MAX_MSG, &hdr, &msg, &consumed), -EPROTO);
	put_header(buf, 1, 0xff, 0, 0);
	assert_int_equal(decode(buf, sizeof(buf), MAX_MSG, &hdr, &msg, &consumed), -EPROTO);
	/* A payload on a kind that carries none. */
	put_header(buf, 1, FRAME_PING, 0, 4);
	assert_int_equal(decode(buf, sizeof(buf), MAX_MSG, &hdr, &msg, &consumed), -EPROTO);
	put_header(buf, 1, FRAME_CANCEL, 0, 4);
	assert_int_equal(decode(buf, sizeof(buf), MAX_MSG, &hdr, &msg, &consumed), -EPROTO);
	assert_non_null(frame_kind_name(FRAME_DATA));
	assert_non_null(frame_kind_name(0xff));
}

static void test_garbage_payload(void **state)
{
	static const uint8_t garbage[][8] = {
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, /* unterminated varint tag */
		{ 0x0a, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, /* length past the end */
		{ 0x22, 0x06, 0x2a, 0x10, 0x00, 0x00, 0x00, 0x00 }, /* nested length past the end */
		{ 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, /* wire type 7 */
	};
	uint8_t buf[FRAME_HEADER_LEN + 8];
	struct frame_header hdr;
	ProtobufCMessage *msg;
	size_t consumed;
	(void)state;

	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		put_header(buf, 5, FRAME_DATA, 0, 8);
		memcpy(buf + FRAME_HEADER_LEN, garbage[i], 8);
		if (decode(buf, sizeof(buf), MAX_MSG, &hdr, &msg, &consumed) != -EPROTO)
			fail_msg("garbage payload %zu: want -EPROTO", i);
	}
}

/* The zlib container the encoder uses, so our hand-made payloads match it. */
static int encoder_window_bits(void)
{
	struct snapshot_msg *m = snapshot_new(600);
	uint8_t *buf = NULL;
	size_t len = 0;
	int bits;

	assert_int_equal(frame_encode(1, FRAME_DATA, &m->resp.base, MAX_MSG, &buf, &len), 0);
	if (buf[FRAME_HEADER_LEN] == 0x1f && buf[FRAME_HEADER_LEN + 1] == 0x8b)
		bits = 15 + 16; /* gzip */
	else if ((buf[FRAME_HEADER_LEN] & 0x0f) == 8 && (buf[FRAME_HEADER_LEN] << 8 | buf[FRAME_HEADER_LEN + 1]) % 31 == 0)
		bits = 15; /* zlib */
	else
		bits = -15; /* raw deflate */
	free(buf);
	snapshot_free(m);
	return bits;
}

/* A frame whose payload is the compressed form of data[0..len). */
static uint8_t *compressed_frame(const uint8_t *data, size_t len, size_t *frame_len)
{
	z_stream zs = { 0 };
	size_t cap = FRAME_HEADER_LEN + deflateBound(&zs, len) + 1024;
	uint8_t *out = malloc(cap);

	assert_non_null(out);
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, encoder_window_bits(), 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out + FRAME_HEADER_LEN;
	zs.avail_out = (uInt)(cap - FRAME_HEADER_LEN);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	put_header(out, 9, FRAME_DATA, FRAME_FLAG_COMPRESSED, (uint32_t)zs.total_out);
	*frame_len = FRAME_HEADER_LEN + zs.total_out;
	deflateEnd(&zs);
	return out;
}

static void test_corrupt_compressed(void **state)
{
	struct snapshot_msg *m = snapshot_new(600);
	uint8_t *buf = NULL, bad[FRAME_HEADER_LEN + 64];
	size_t len = 0, consumed;
	struct frame_header hdr;
	ProtobufCMessage *msg;
	(void)state;

	/* Not a compressed stream at all. */
	memset(bad, 0xff, sizeof(bad));
	put_header(bad, 1, FRAME_DATA, FRAME_FLAG_COMPRESSED, 64);
	assert_int_equal(decode(bad, sizeof(bad), MAX_MSG, &hdr, &msg, &consumed), -EBADMSG);

	/* A real compressed frame with its stream header smashed. */
	assert_int_equal(frame_encode(1, FRAME_DATA, &m->resp.base, MAX_MSG, &buf, &len), 0);
	assert_true(buf[5] & FRAME_FLAG_COMPRESSED);
	buf[FRAME_HEADER_LEN] = 0xff;
	buf[FRAME_HEADER_LEN + 1] = 0xff;
	assert_int_equal(decode(buf, len, MAX_MSG, &hdr, &msg, &consumed), -EBADMSG);
	free(buf);

	/* A real compressed frame cut short (the length says so: complete but truncated stream). */
	buf = NULL;
	assert_int_equal(frame_encode(1, FRAME_DATA, &m->resp.base, MAX_MSG, &buf, &len), 0);
	put_header(buf, 1, FRAME_DATA, FRAME_FLAG_COMPRESSED, (uint32_t)(len - FRAME_HEADER_LEN) / 2);
	assert_int_equal(decode(buf, FRAME_HEADER_LEN + (len - FRAME_HEADER_LEN) / 2, MAX_MSG, &hdr, &msg, &consumed),
			 -EBADMSG);
	free(buf);
	snapshot_free(m);
}

static void test_compressed_inflates_past_limit(void **state)
{
	size_t big = 2u << 20, flen, consumed;
	uint8_t *zeros = calloc(1, big), *frame;
	struct frame_header hdr;
	ProtobufCMessage *msg;
	(void)state;

	assert_non_null(zeros);
	frame = compressed_frame(zeros, big, &flen);
	/* Small on the wire, 2 MiB inflated: the limit applies to the inflated size. */
	assert_true(flen < 64 * 1024);
	assert_int_equal(decode(frame, flen, 1u << 20, &hdr, &msg, &consumed), -EMSGSIZE);
	assert_int_equal(decode(frame, flen, 64 * 1024, &hdr, &msg, &consumed), -EMSGSIZE);
	free(frame);
	free(zeros);

	/* Our own compressed encoding of a valid message decodes. */
	{
		struct snapshot_msg *m = snapshot_new(600);
		size_t plen = protobuf_c_message_get_packed_size(&m->resp.base);
		uint8_t *packed = malloc(plen);

		assert_non_null(packed);
		assert_int_equal(protobuf_c_message_pack(&m->resp.base, packed), plen);
		frame = compressed_frame(packed, plen, &flen);
		assert_int_equal(decode(frame, flen, MAX_MSG, &hdr, &msg, &consumed), 0);
		check_same_snapshot(m, msg);
		protobuf_c_message_free_unpacked(msg, NULL);
		/* One byte under the inflated size is too small. */
		assert_int_equal(decode(frame, flen, (uint32_t)plen - 1, &hdr, &msg, &consumed), -EMSGSIZE);
		free(frame);
		free(packed);
		snapshot_free(m);
	}
}

/* An Attach Request on the wire: a probe name, then n empty Params (2 bytes each). */
static uint8_t *attach_with_empty_params(size_t n, size_t *len)
{
	static const uint8_t probe[] = { 0x0a, 11, 't', 'c', 'p', '-', 'l', 'a', 't', 'e', 'n', 'c', 'y' };
	size_t body = sizeof(probe) + 2 * n, at = 0;
	uint8_t *buf = malloc(body + 16);

	assert_non_null(buf);
	buf[at++] = 0x1a; /* Request.attach, length-delimited */
	for (size_t v = body; ; v >>= 7) {
		buf[at++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		if (v <= 0x7f)
			break;
	}
	memcpy(buf + at, probe, sizeof(probe));
	at += sizeof(probe);
	for (size_t i = 0; i < n; i++) {
		buf[at++] = 0x2a; /* AttachRequest.params */
		buf[at++] = 0;
	}
	*len = at;
	return buf;
}

static void test_request_unpack_budget(void **state)
{
	size_t len, flen, consumed;
	uint8_t *wire, *frame;
	struct frame_header hdr = { .stream_id = 1, .kind = FRAME_DATA };
	ProtobufCMessage *msg;
	Tracectl__Request *req;
	bool over;
	char err[256] = "";
	(void)state;

	/* a request as a client sends one: well within the budget */
	wire = attach_with_empty_params(12, &len);
	req = (Tracectl__Request *)frame_unpack_bounded(&tracectl__request__descriptor, wire, len,
							FRAME_MAX_REQUEST_UNPACKED, &over);
	assert_non_null(req);
	assert_false(over);
	assert_int_equal(req->attach->n_params, 12);
	protobuf_c_message_free_unpacked(&req->base, NULL);
	free(wire);

	/* 30,000 empty Params fit in a 64 KiB request but would unpack to ~2 MB */
	wire = attach_with_empty_params(30000, &len);
	assert_true(len <= FRAME_MAX_REQUEST);
	req = (Tracectl__Request *)frame_unpack_bounded(&tracectl__request__descriptor, wire, len, 0, &over);
	assert_non_null(req);
	assert_int_equal(req->attach->n_params, 30000);
	protobuf_c_message_free_unpacked(&req->base, NULL);
	assert_null(frame_unpack_bounded(&tracectl__request__descriptor, wire, len, FRAME_MAX_REQUEST_UNPACKED, &over));
	assert_true(over);

	/* through frame_decode: refused with its own reason */
	hdr.length = (uint32_t)len;
	frame = malloc(FRAME_HEADER_LEN + len);
	assert_non_null(frame);
	frame_header_encode(&hdr, frame);
	memcpy(frame + FRAME_HEADER_LEN, wire, len);
	flen = FRAME_HEADER_LEN + len;
	assert_int_equal(frame_decode(frame, flen, FRAME_MAX_REQUEST, FRAME_MAX_REQUEST_UNPACKED,
				      &tracectl__request__descriptor, &hdr, &msg, &consumed, err, sizeof(err)),
			 -EMSGSIZE);
	assert_null(msg);
	assert_non_null(strstr(err, "unpacks past the 262144-byte limit"));
	free(frame);
	free(wire);

	/* bad input is told apart from a spent budget */
	assert_null(frame_unpack_bounded(&tracectl__request__descriptor, (const uint8_t *)"\x1a\xff", 2,
					 FRAME_MAX_REQUEST_UNPACKED, &over));
	assert_false(over);
}

static void expect_hostport(const char *text, const char *host, uint16_t port)
{
	char got[256];
	uint16_t got_port = 0;
	int rc = hostport_parse(text, got, sizeof(got), &got_port, TRACECTL_DEFAULT_PORT);

	if (rc != 0)
		fail_msg("hostport_parse(\"%s\") = %d, want 0", text, rc);
	assert_string_equal(got, host);
	assert_int_equal(got_port, port);
}

static void expect_hostport_err(const char *text, int want)
{
	char got[256];
	uint16_t got_port = 0;
	int rc = hostport_parse(text, got, sizeof(got), &got_port, TRACECTL_DEFAULT_PORT);

	if (rc != want)
		fail_msg("hostport_parse(\"%s\") = %d, want %d", text, rc, want);
}

static void test_hostport(void **state)
{
	char small[8];
	uint16_t port;
	(void)state;

	expect_hostport("localhost", "localhost", TRACECTL_DEFAULT_PORT);
	expect_hostport("localhost:7471", "localhost", 7471);
	expect_hostport("127.0.0.1:1", "127.0.0.1", 1);
	expect_hostport("host1.example.com:65535", "host1.example.com", 65535);
	expect_hostport("[::1]:9000", "::1", 9000);
	expect_hostport("[::1]", "::1", TRACECTL_DEFAULT_PORT);
	expect_hostport("[fe80::1%eth0]:80", "fe80::1%eth0", 80);

	expect_hostport_err("", -EINVAL);
	expect_hostport_err(":80", -EINVAL);
	expect_hostport_err("[]:80", -EINVAL);
	expect_hostport_err("host:", -EINVAL);
	expect_hostport_err("host:abc", -EINVAL);
	expect_hostport_err("host:80x", -EINVAL);
	expect_hostport_err("host:-1", -EINVAL);
	expect_hostport_err("host:65536", -EINVAL);
	expect_hostport_err("host:99999999999999999999", -EINVAL);
	expect_hostport_err("[::1", -EINVAL);
	expect_hostport_err("[::1]x", -EINVAL);
	expect_hostport_err("[::1]:", -EINVAL);

	assert_int_equal(hostport_parse("abcdefgh:80", small, sizeof(small), &port, 1), -ENAMETOOLONG);
	assert_int_equal(hostport_parse("abcdefg:80", small, sizeof(small), &port, 1), 0);
	assert_string_equal(small, "abcdefg");
	assert_int_equal(port, 80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_small),
		cmocka_unit_test(test_round_trip_large),
		cmocka_unit_test(test_two_frames_back_to_back),
		cmocka_unit_test(test_oversize_rejected_from_header),
		cmocka_unit_test(test_encode_too_large),
		cmocka_unit_test(test_bad_header_fields),
		cmocka_unit_test(test_garbage_payload),
		cmocka_unit_test(test_corrupt_compressed),
		cmocka_unit_test(test_compressed_inflates_past_limit),
		cmocka_unit_test(test_request_unpack_budget),
		cmocka_unit_test(test_hostport),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
