/* SPDX-License-Identifier: Apache-2.0 */
/* file-top: the file key, counters and limits shared by the BPF program and the agent. */
#ifndef TRACECTL_FILE_TOP_H
#define TRACECTL_FILE_TOP_H

#include "cgroup_filter.h"

/* Files (per process) counted per interval; beyond that counts go to the overflow slot. */
#define FILE_TOP_MAX_FILES 10240
/* Threads inside a read/write at once; LRU beyond that. */
#define FILE_TOP_MAX_THREADS 10240
#define FILE_TOP_COMM_LEN 16
/* The basename (dentry name) kept, with its NUL; longer names are cut. */
#define FILE_TOP_NAME_LEN 64

#define FILE_TOP_TYPE_REGULAR 'R'
#define FILE_TOP_TYPE_SOCKET 'S'
#define FILE_TOP_TYPE_OTHER 'O'

/* A file as one process uses it, or with --by container|pod|service one workload (tgid 0). */
struct file_top_key {
	__u64 cgroup_id; /* --by container|pod|service, else 0 */
	__u32 tgid;
	__u32 dev;
	__u64 ino;
};

struct file_top_counts {
	__u64 reads;
	__u64 writes;
	__u64 read_bytes;
	__u64 write_bytes;
};

struct file_top_value {
	struct file_top_counts counts;
	char comm[FILE_TOP_COMM_LEN];    /* of the first thread that used it this interval */
	char name[FILE_TOP_NAME_LEN];    /* f_path.dentry->d_name: a basename, not a path */
	__u8 type;                       /* FILE_TOP_TYPE_* */
	__u8 pad[7];
};

#endif
