/* SPDX-License-Identifier: Apache-2.0 */
/* Getting the host ready for probes: mounts tracefs when missing, tries to lift memlock. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

bool kernel_env_tracefs_mounted(void)
{
	return access(KERNEL_ENV_TRACEFS_EVENTS, F_OK) == 0;
}

int kernel_env_prepare(char *err, size_t errlen)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };

	/* Our hosts do not mount tracefs at boot; tp/ attachment reads event ids from it. */
	if (!kernel_env_tracefs_mounted() &&
	    mount("tracefs", TRACEFS_DIR, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
		int e = errno;

		/* Someone else may have mounted it between our check and our mount. */
		if (!(e == EBUSY && kernel_env_tracefs_mounted())) {
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

/* ---- kernel BTF: the operator's --btf file or the kernel's own, parsed once ---- */

#define SYSFS_BTF "/sys/kernel/btf/vmlinux"

static char custom_btf[4096];
static struct btf *vmlinux_btf;
static char vmlinux_btf_error[256];
static pthread_once_t vmlinux_btf_once = PTHREAD_ONCE_INIT;

int kernel_env_use_btf(const char *path, char *err, size_t errlen)
{
	struct btf *btf;

	if (strlen(path) >= sizeof(custom_btf)) {
		snprintf(err, errlen, "--btf '%.64s...': path too long", path);
		return -ENAMETOOLONG;
	}
	/* our message says it; libbpf's own lines would come before the log is set up */
	libbpf_print_fn_t print = libbpf_set_print(NULL);

	btf = btf__parse(path, NULL);
	libbpf_set_print(print);
	if (!btf) {
		int e = errno;
		char why[128];

		libbpf_strerror(e, why, sizeof(why));
		snprintf(err, errlen, "--btf '%s': not a readable BTF or ELF file with BTF (%s)", path, why);
		return -e;
	}
	/* a kernel's BTF names its basic types; a BPF object's own BTF would not do */
	if (btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT) < 0) {
		snprintf(err, errlen, "--btf '%s': has no struct task_struct: not a kernel's BTF", path);
		btf__free(btf);
		return -EINVAL;
	}
	btf__free(btf);
	snprintf(custom_btf, sizeof(custom_btf), "%s", path);
	return 0;
}

const char *kernel_env_btf_custom_path(void)
{
	return custom_btf[0] ? custom_btf : NULL;
}

const char *kernel_env_btf_source(void)
{
	return custom_btf[0] ? custom_btf : SYSFS_BTF;
}

static void vmlinux_btf_load(void)
{
	vmlinux_btf = custom_btf[0] ? btf__parse(custom_btf, NULL) : btf__load_vmlinux_btf();
	if (!vmlinux_btf && custom_btf[0])
		snprintf(vmlinux_btf_error, sizeof(vmlinux_btf_error), "reading --btf '%.128s': %s", custom_btf,
			 strerror(errno));
	else if (!vmlinux_btf)
		snprintf(vmlinux_btf_error, sizeof(vmlinux_btf_error), "no kernel BTF at " SYSFS_BTF " (%s): give "
			 "the agent --btf FILE with this kernel's BTF (a BTFHub-style archive has one)", strerror(errno));
}

const struct btf *kernel_env_vmlinux_btf(void)
{
	pthread_once(&vmlinux_btf_once, vmlinux_btf_load);
	return vmlinux_btf;
}

int kernel_env_release_at_least(const char *release, unsigned major, unsigned minor)
{
	unsigned have_major, have_minor;

	if (sscanf(release, "%u.%u", &have_major, &have_minor) != 2)
		return -EINVAL;
	return have_major > major || (have_major == major && have_minor >= minor);
}

int kernel_env_baseline(char *reason, size_t len)
{
	int at_least = kernel_env_release_at_least(kernel_env_release(), KERNEL_ENV_OLDEST_MAJOR,
						   KERNEL_ENV_OLDEST_MINOR);

	if (at_least == 0) {
		snprintf(reason, len, "kernel %s is older than %u.%u, the oldest tracectl supports", kernel_env_release(),
			 KERNEL_ENV_OLDEST_MAJOR, KERNEL_ENV_OLDEST_MINOR);
		return -EOPNOTSUPP;
	}
	if (at_least < 0) {
		snprintf(reason, len, "kernel release '%s' is not MAJOR.MINOR...", kernel_env_release());
		return -EOPNOTSUPP;
	}
	if (!kernel_env_vmlinux_btf()) {
		snprintf(reason, len, "%s", vmlinux_btf_error);
		return -EOPNOTSUPP;
	}
	return 0;
}

int kernel_env_check_tracepoints(const char *const *tracepoints, const char *const *btf_types, size_t n,
				 char *reason, size_t len)
{
	const struct btf *btf = kernel_env_vmlinux_btf();
	char path[256], type[128];

	if (!btf) {
		snprintf(reason, len, "%s", vmlinux_btf_error);
		return -EOPNOTSUPP;
	}
	if (kernel_env_tracefs_mounted()) {
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
	for (size_t i = 0; i < n; i++) {
		if (!btf_types[i])
			continue;
		snprintf(type, sizeof(type), "trace_event_raw_%s", btf_types[i]);
		if (btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT) < 0) {
			snprintf(reason, len, "kernel has no tracepoint %s (no %s in BTF)", tracepoints[i], type);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

void tracepoint_list_free(struct tracepoint_list *l)
{
	free(l->names);
	memset(l, 0, sizeof(*l));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Only what tracefs names use, and globs: no '/', no "..", nothing outside events/. */
static bool tracepoint_glob_ok(const char *p, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-*?[]!", p[i]))
			return false;
	return true;
}

/* Counts category:event as matched and keeps it while fewer than max are kept. */
static int tracepoint_list_add(struct tracepoint_list *l, size_t max, const char *category, const char *event)
{
	size_t clen = strlen(category), elen = strlen(event);

	if (clen + 1 + elen >= TRACEPOINT_NAME_MAX)
		return 0; /* no such names in practice; they could not be attached by name either */
	l->matched++;
	if (l->n == max)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *grown = realloc(l->names, cap * sizeof(*l->names));

		if (!grown)
			return -ENOMEM;
		l->names = grown;
		l->cap = cap;
	}
	memcpy(l->names[l->n], category, clen);
	l->names[l->n][clen] = ':';
	memcpy(l->names[l->n] + clen + 1, event, elen + 1);
	l->n++;
	return 0;
}

/* Adds the events of one category directory that match name_pat. */
static int tracepoint_list_category(struct tracepoint_list *l, size_t max, const char *category,
				    const char *name_pat)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *cat;
	int ret = 0;

	snprintf(path, sizeof(path), KERNEL_ENV_TRACEFS_EVENTS "/%s", category);
	cat = opendir(path);
	if (!cat)
		return 0;
	while (!ret && (e = readdir(cat))) {
		if (e->d_name[0] == '.' || fnmatch(name_pat, e->d_name, 0))
			continue;
		snprintf(path, sizeof(path), KERNEL_ENV_TRACEFS_EVENTS "/%s/%s", category, e->d_name);
		if (is_dir(path)) /* not "enable", "filter" */
			ret = tracepoint_list_add(l, max, category, e->d_name);
	}
	closedir(cat);
	return ret;
}

/* Walks every category matching cat_pat; -errno with err set. */
static int tracepoint_list_walk(struct tracepoint_list *out, size_t max, const char *cat_pat, const char *name_pat,
				const char *subject, char *err, size_t errlen)
{
	DIR *events = opendir(KERNEL_ENV_TRACEFS_EVENTS);
	struct dirent *c;
	int ret = 0;

	if (!events) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot list tracepoints in %s: %s", subject, KERNEL_ENV_TRACEFS_EVENTS,
			 strerror(-ret));
		return ret;
	}
	while (!ret && (c = readdir(events))) {
		/* ftrace's own "events" are not tracepoints a BPF program can attach to */
		if (c->d_name[0] == '.' || strcmp(c->d_name, "ftrace") == 0 || fnmatch(cat_pat, c->d_name, 0))
			continue;
		ret = tracepoint_list_category(out, max, c->d_name, name_pat);
	}
	closedir(events);
	if (ret)
		snprintf(err, errlen, "listing tracepoints: %s", strerror(-ret));
	return ret;
}

int tracepoint_list_resolve(const char *pattern, size_t max, const char *subject, struct tracepoint_list *out,
			    char *err, size_t errlen)
{
	char cat_pat[TRACEPOINT_NAME_MAX], name_pat[TRACEPOINT_NAME_MAX];
	const char *colon = strchr(pattern, ':');
	int ret;

	memset(out, 0, sizeof(*out));
	if (!colon || !tracepoint_glob_ok(pattern, (size_t)(colon - pattern)) ||
	    !tracepoint_glob_ok(colon + 1, strlen(colon + 1)) || (size_t)(colon - pattern) >= sizeof(cat_pat) ||
	    strlen(colon + 1) >= sizeof(name_pat)) {
		snprintf(err, errlen, "%s value '%.64s' is not CATEGORY:PATTERN (letters, digits, _ - "
			 "and the globs * ? [...], e.g. sched:sched_process_*)", subject, pattern);
		return -EINVAL;
	}
	snprintf(cat_pat, sizeof(cat_pat), "%.*s", (int)(colon - pattern), pattern);
	snprintf(name_pat, sizeof(name_pat), "%s", colon + 1);
	ret = tracepoint_list_walk(out, max, cat_pat, name_pat, subject, err, errlen);
	if (!ret && !out->matched) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s value '%.64s' matches no tracepoint in %s", subject, pattern,
			 KERNEL_ENV_TRACEFS_EVENTS);
	} else if (!ret && out->matched > max) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s value '%.64s' matches %zu tracepoints, at most %zu", subject, pattern,
			 out->matched, max);
	}
	if (ret)
		tracepoint_list_free(out);
	else
		qsort(out->names, out->n, sizeof(*out->names), name_cmp);
	return ret;
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
	const struct btf *btf = kernel_env_vmlinux_btf();
	const struct btf_type *t;
	char name[128];
	int id;

	if (!btf)
		return -ENOENT;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	/* typedef -> pointer -> function prototype (void *__data, the arguments...) */
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	t = t ? btf__type_by_id(btf, t->type) : NULL;
	t = t && btf_is_ptr(t) ? btf__type_by_id(btf, t->type) : NULL;
	if (t && btf_is_func_proto(t))
		return btf_vlen(t) - 1;
	return -ENOENT;
}

bool kernel_env_bpf_mem_alloc(void)
{
	const struct btf *btf = kernel_env_vmlinux_btf();

	return btf && btf__find_by_name_kind(btf, "bpf_mem_alloc", BTF_KIND_STRUCT) >= 0;
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
