/* SPDX-License-Identifier: Apache-2.0 */
/* bio-latency: the keys and limits shared by the BPF program and the agent. */
#ifndef TRACECTL_BIO_LATENCY_H
#define TRACECTL_BIO_LATENCY_H

/* Requests in flight at once (LRU beyond that: a sample is lost, not the map). */
#define BIO_LATENCY_MAX_INFLIGHT 65536
/* Series (disk, op) per window: small enough that the map is preallocated on small hosts
 * (map_prealloc_where_needed), where BPF's allocator could lose a new series' sample. */
#define BIO_LATENCY_MAX_SERIES 256

/* The op part of a series key. */
enum bio_latency_op {
	BIO_LATENCY_OP_READ = 0,
	BIO_LATENCY_OP_WRITE = 1,
	BIO_LATENCY_OP_OTHER = 2, /* flush, discard, write zeroes, ... */
	BIO_LATENCY_OP_ANY = 3,   /* not split by op */
};

/* One series: the whole disk's dev_t in the kernel's encoding (major << 20 | minor). */
struct bio_latency_series {
	__u32 dev;
	__u32 op;
};

#endif
