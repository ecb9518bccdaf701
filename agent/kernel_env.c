/* SPDX-License-Identifier: Apache-2.0 */
/* Getting the host ready for probes: mounts tracefs when missing, tries to lift memlock. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kernel_env.h"

#define TRACEFS_DIR "/sys/kernel/tracing"

static int tracefs_mounted(void)
{
	return access(TRACEFS_DIR "/events", F_OK) == 0;
}

int kernel_env_prepare(char *err, size_t errlen)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };

	/* Our hosts do not mount tracefs at boot; tp/ attachment reads event ids from it. */
	if (!tracefs_mounted() &&
	    mount("tracefs", TRACEFS_DIR, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
		int e = errno;

		/* Someone else may have mounted it between our check and our mount. */
		if (!(e == EBUSY && tracefs_mounted())) {
			snprintf(err, errlen, "mounting tracefs on %s: %s", TRACEFS_DIR, strerror(e));
			return -e;
		}
	}

	/* Without CAP_SYS_RESOURCE this fails; kernels that account BPF memory to memcg
	 * (5.11+) do not need it, and older ones fail loudly at load time anyway. */
	(void)setrlimit(RLIMIT_MEMLOCK, &unlimited);
	return 0;
}

static struct utsname uts;
static pthread_once_t uts_once = PTHREAD_ONCE_INIT;

static void uts_init(void)
{
	if (uname(&uts) != 0)
		snprintf(uts.release, sizeof(uts.release), "unknown");
}

const char *kernel_env_release(void)
{
	pthread_once(&uts_once, uts_init);
	return uts.release;
}

int kernel_env_check_tracepoints(const char *const *tracepoints, const char *const *btf_types, size_t n,
				 char *reason, size_t len)
{
	struct btf *btf = NULL;
	char path[256], type[128];
	int err = 0;

	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(reason, len, "no kernel BTF at /sys/kernel/btf/vmlinux: %s", strerror(errno));
		return -EOPNOTSUPP;
	}
	if (tracefs_mounted()) {
		for (size_t i = 0; i < n; i++) {
			snprintf(path, sizeof(path), TRACEFS_DIR "/events/%s", tracepoints[i]);
			if (access(path, F_OK) != 0) {
				snprintf(reason, len, "kernel has no tracepoint %s", tracepoints[i]);
				return -EOPNOTSUPP;
			}
		}
		return 0;
	}
	/* tracefs is mounted by kernel_env_prepare later; BTF knows the tracepoints' records */
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		snprintf(reason, len, "reading kernel BTF: %s", strerror(errno));
		return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < n && !err; i++) {
		if (!btf_types[i])
			continue;
		snprintf(type, sizeof(type), "trace_event_raw_%s", btf_types[i]);
		if (btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT) < 0) {
			snprintf(reason, len, "kernel has no tracepoint %s (no %s in BTF)", tracepoints[i], type);
			err = -EOPNOTSUPP;
		}
	}
	btf__free(btf);
	return err;
}

bool kernel_env_has_syscall_tracepoints(const char *enter, const char *exit)
{
	/* syscall tracepoints share one record type in BTF: tracefs (or no BTF check) decides */
	const char *const tps[] = { enter, exit }, *const types[] = { NULL, NULL };
	char reason[128];

	return kernel_env_check_tracepoints(tps, types, 2, reason, sizeof(reason)) == 0;
}

int kernel_env_tp_args(const char *tp)
{
	const struct btf_type *t;
	char name[128];
	struct btf *btf;
	int id, n = -ENOENT;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	btf = btf__load_vmlinux_btf();
	if (!btf)
		return -errno;
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	/* typedef -> pointer -> function prototype (void *__data, the arguments...) */
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	t = t ? btf__type_by_id(btf, t->type) : NULL;
	t = t && btf_is_ptr(t) ? btf__type_by_id(btf, t->type) : NULL;
	if (t && btf_is_func_proto(t))
		n = btf_vlen(t) - 1;
	btf__free(btf);
	return n;
}

static bool mem_alloc_found;
static pthread_once_t mem_alloc_once = PTHREAD_ONCE_INIT;

static void mem_alloc_probe(void)
{
	struct btf *btf = btf__load_vmlinux_btf();

	mem_alloc_found = btf && btf__find_by_name_kind(btf, "bpf_mem_alloc", BTF_KIND_STRUCT) >= 0;
	btf__free(btf);
}

bool kernel_env_bpf_mem_alloc(void)
{
	pthread_once(&mem_alloc_once, mem_alloc_probe);
	return mem_alloc_found;
}

int64_t kernel_env_mono_offset_ns(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return ((int64_t)real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
}

uint64_t kernel_env_mono_to_unix_ns(uint64_t mono_ns)
{
	/* recomputed per call: follows wall-clock steps; per-event hot paths take the
	 * offset once per drain (kernel_env_mono_offset_ns) instead */
	return (uint64_t)((int64_t)mono_ns + kernel_env_mono_offset_ns());
}

/* Probes the kernel once per tracepoint: the answer does not change while we run,
 * and a probe costs a BTF parse and a program load (probe lists ask every time). */
#define TP_BTF_CACHE 32
static struct {
	char name[64];
	bool usable;
} tp_btf_cache[TP_BTF_CACHE];
static size_t tp_btf_cached;
static pthread_mutex_t tp_btf_lock = PTHREAD_MUTEX_INITIALIZER;

static bool tp_btf_probe(const char *tp);

/* The tracepoint a program's section names ("tp_btf/X", "raw_tp/X", "tp/CAT/X" -> X),
 * and whether it is the tp_btf kind; NULL for other sections. */
static const char *section_tracepoint(const struct bpf_program *prog, bool *is_btf)
{
	const char *sec = bpf_program__section_name(prog);
	const char *slash;

	*is_btf = strncmp(sec, "tp_btf/", 7) == 0;
	if (*is_btf)
		return sec + 7;
	if (strncmp(sec, "raw_tp/", 7) == 0)
		return sec + 7;
	if (strncmp(sec, "tp/", 3) == 0 && (slash = strchr(sec + 3, '/')))
		return slash + 1;
	return NULL;
}

void kernel_env_pick_tp_btf(struct bpf_object *obj, bool btf)
{
	struct bpf_program *prog, *other;

	bpf_object__for_each_program(prog, obj) {
		bool prog_btf, other_btf, twin = false;
		const char *tp = bpf_program__autoload(prog) ? section_tracepoint(prog, &prog_btf) : NULL;

		if (!tp)
			continue;
		bpf_object__for_each_program(other, obj) {
			const char *other_tp = bpf_program__autoload(other) ? section_tracepoint(other, &other_btf) : NULL;

			if (other_tp && other_btf != prog_btf && strcmp(other_tp, tp) == 0)
				twin = true;
		}
		/* a program switched off here stops counting as a twin, which leaves its
		 * partner, the one to keep, as it is */
		if (twin)
			bpf_program__set_autoload(prog, prog_btf == btf);
	}
}

static bool tp_btf_disabled;

void kernel_env_disable_tp_btf(void)
{
	tp_btf_disabled = true;
}

bool kernel_env_tp_btf_disabled(void)
{
	return tp_btf_disabled;
}

bool kernel_env_tp_btf_usable(const char *tp)
{
	bool usable;

	if (tp_btf_disabled)
		return false;
	pthread_mutex_lock(&tp_btf_lock);
	for (size_t i = 0; i < tp_btf_cached; i++) {
		if (strcmp(tp_btf_cache[i].name, tp) == 0) {
			usable = tp_btf_cache[i].usable;
			pthread_mutex_unlock(&tp_btf_lock);
			return usable;
		}
	}
	usable = tp_btf_probe(tp);
	if (tp_btf_cached < TP_BTF_CACHE && strlen(tp) < sizeof(tp_btf_cache[0].name)) {
		snprintf(tp_btf_cache[tp_btf_cached].name, sizeof(tp_btf_cache[0].name), "%s", tp);
		tp_btf_cache[tp_btf_cached++].usable = usable;
	}
	pthread_mutex_unlock(&tp_btf_lock);
	return usable;
}

static bool tp_btf_probe(const char *tp)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP);
	int id, fd;

	id = libbpf_find_vmlinux_btf_id(tp, BPF_TRACE_RAW_TP);
	if (id < 0)
		return false;
	opts.attach_btf_id = (__u32)id;
	/* Loading is where kernels that refuse tracing programs say so (EPERM). */
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, sizeof(insns) / sizeof(insns[0]), &opts);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}
