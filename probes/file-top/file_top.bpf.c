// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* file-top: reads, writes and their bytes per process and file, from the read/write syscalls. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "cgroup_filter.bpf.h"
#include "file_top.h"
#include "workload_key.bpf.h"

#define S_IFMT_BITS 00170000
#define S_IFREG_BITS 0100000
#define S_IFSOCK_BITS 0140000

enum { FT_READ = 0, FT_WRITE = 1 };

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[FILE_TOP_COMM_LEN] = {};

struct inflight {
	__u32 fd;
	__u32 op;
};

/* Thread id -> the call it is in, from sys_enter to sys_exit. LRU: a thread that
 * dies inside a call never reaches its exit. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FILE_TOP_MAX_THREADS);
	__type(key, __u64);
	__type(value, struct inflight);
} calls SEC(".maps");

/* Per interval: user space moves every entry out, so the bound is on files used
 * within one interval. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FILE_TOP_MAX_FILES);
	__type(key, struct file_top_key);
	__type(value, struct file_top_value);
} files SEC(".maps");

/* Counts of files that found the map full, cumulative per CPU: one row of their own. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_top_counts);
} overflow SEC(".maps");

/* Scratch for building a new entry (too big for comfort on the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_top_value);
} scratch SEC(".maps");

static __always_inline bool comm_allowed(void)
{
	char comm[FILE_TOP_COMM_LEN];
	int i;

	if (targ_comm[0] == '\0')
		return true;
	if (bpf_get_current_comm(comm, sizeof(comm)))
		return false;
	for (i = 0; i < FILE_TOP_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

static __always_inline int enter(__u64 fd, __u32 op)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight call = { .fd = (__u32)fd, .op = op };

	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	if (!current_cgroup_allowed()) /* --cgroup, --container, --pod, --service */
		return 0;
	if (!comm_allowed())
		return 0;
	bpf_map_update_elem(&calls, &id, &call, BPF_ANY);
	return 0;
}

/* fd -> struct file through the current task's file table, every read bounded. */
static __always_inline struct file *fd_file(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (!fds || bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

static __always_inline void add_counts(struct file_top_counts *c, __u32 op, __u64 bytes)
{
	if (op == FT_READ) {
		__sync_fetch_and_add(&c->reads, 1);
		__sync_fetch_and_add(&c->read_bytes, bytes);
	} else {
		__sync_fetch_and_add(&c->writes, 1);
		__sync_fetch_and_add(&c->write_bytes, bytes);
	}
}

static __always_inline int leave(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct file_top_key key = {};
	struct file_top_value *v;
	struct inflight *call;
	struct inode *inode;
	struct file *f;
	__u32 fd, op, zero = 0;

	call = bpf_map_lookup_elem(&calls, &id);
	if (!call)
		return 0;
	fd = call->fd;
	op = call->op;
	bpf_map_delete_elem(&calls, &id);
	/* failed calls moved nothing; a read of 0 (end of file) still counts as a read */
	if (ret < 0)
		return 0;
	f = fd_file(fd);
	if (!f)
		return 0;
	inode = BPF_CORE_READ(f, f_inode);
	key.tgid = key_tgid(id);
	key.cgroup_id = key_cgroup_id();
	key.ino = BPF_CORE_READ(inode, i_ino);
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);

	v = bpf_map_lookup_elem(&files, &key);
	if (!v) {
		struct file_top_value *n = bpf_map_lookup_elem(&scratch, &zero);
		const unsigned char *name;
		__u16 mode;

		if (!n)
			return 0;
		__builtin_memset(n, 0, sizeof(*n));
		bpf_get_current_comm(n->comm, sizeof(n->comm));
		name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
		if (name)
			bpf_probe_read_kernel_str(n->name, sizeof(n->name), name);
		mode = BPF_CORE_READ(inode, i_mode) & S_IFMT_BITS;
		n->type = mode == S_IFREG_BITS ? FILE_TOP_TYPE_REGULAR :
			  mode == S_IFSOCK_BITS ? FILE_TOP_TYPE_SOCKET : FILE_TOP_TYPE_OTHER;
		/* NOEXIST: another thread may have added it since the lookup (-EEXIST, fine) */
		bpf_map_update_elem(&files, &key, n, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&files, &key);
		if (!v) {
			/* full (-E2BIG), or drained between the update and the lookup */
			struct file_top_counts *o = bpf_map_lookup_elem(&overflow, &zero);

			if (o)
				add_counts(o, op, (__u64)ret);
			return 0;
		}
	}
	add_counts(&v->counts, op, (__u64)ret);
	return 0;
}

#define FILE_TOP_SYSCALL(name, op)                                         \
	SEC("tp/syscalls/sys_enter_" #name)                                \
	int file_top_enter_##name(struct trace_event_raw_sys_enter *ctx)   \
	{                                                                  \
		return enter(ctx->args[0], op);                            \
	}                                                                  \
	SEC("tp/syscalls/sys_exit_" #name)                                 \
	int file_top_exit_##name(struct trace_event_raw_sys_exit *ctx)     \
	{                                                                  \
		return leave(ctx->ret);                                    \
	}

/* The syscalls' records have the layout of raw_syscalls' (nr, then 8-byte args / ret). */
FILE_TOP_SYSCALL(read, FT_READ)
FILE_TOP_SYSCALL(pread64, FT_READ)
FILE_TOP_SYSCALL(readv, FT_READ)
FILE_TOP_SYSCALL(write, FT_WRITE)
FILE_TOP_SYSCALL(pwrite64, FT_WRITE)
FILE_TOP_SYSCALL(writev, FT_WRITE)

/* BPF_CORE_READ uses bpf_probe_read_kernel, which the kernel offers to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";
