/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel function globs: resolved against ftrace's list, addresses from /proc/kallsyms. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "kfunc_list.h"

#define KALLSYMS "/proc/kallsyms"
/* How far past a function's address its kprobe's IP may be: the breakpoint (1 byte on
 * x86) after an endbr64 (4 bytes), with room for other architectures' first instruction. */
#define KPROBE_IP_SLACK 16

void kfunc_list_free(struct kfunc_list *l)
{
	for (size_t i = 0; l->names && i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->addrs);
	memset(l, 0, sizeof(*l));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What kernel symbol names use, and the globs * ?: brackets and escapes are left out so
 * that the policy can decide from the glob alone which functions it may match. */
static int glob_ok(const char *glob)
{
	if (!glob[0] || strlen(glob) > 127)
		return 0;
	return strspn(glob, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.*?") == strlen(glob);
}

static int push(struct kfunc_list *l, size_t *cap, const char *name)
{
	char *copy;

	if (l->n == *cap) {
		size_t bigger = *cap ? *cap * 2 : 64;
		char **grown = realloc(l->names, bigger * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		l->names = grown;
		*cap = bigger;
	}
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	l->names[l->n++] = copy;
	return 0;
}

/* Sorts and drops repeated names (static functions of one name in several files). */
static void sort_unique(struct kfunc_list *l)
{
	size_t kept = 0;

	if (!l->n)
		return; /* names is NULL: qsort must not see it */
	qsort(l->names, l->n, sizeof(*l->names), name_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (kept && strcmp(l->names[kept - 1], l->names[i]) == 0) {
			free(l->names[i]);
			continue;
		}
		l->names[kept++] = l->names[i];
	}
	l->n = kept;
}

int kfunc_list_resolve(const char *glob, size_t max, struct kfunc_list *out, char *err, size_t errlen)
{
	char line[512];
	size_t cap = 0;
	FILE *f = NULL;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!glob_ok(glob)) {
		snprintf(err, errlen, "parameter 'target' value '%.64s' is not a kernel function name or glob (letters, "
			 "digits, _ . and the globs * ?, e.g. tcp_send*)", glob);
		return -EINVAL;
	}
	f = fopen(KFUNC_TRACEABLE, "re");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "parameter 'target': cannot list traceable kernel functions in %s: %s",
			 KFUNC_TRACEABLE, strerror(-ret));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		/* "name" or "name [module]" */
		line[strcspn(line, " \t\n")] = '\0';
		/* ftrace's placeholders for functions it could not resolve (6.x) */
		if (!line[0] || strncmp(line, "__ftrace_invalid_address__", 26) == 0 || fnmatch(glob, line, 0))
			continue;
		ret = push(out, &cap, line);
		if (ret) {
			snprintf(err, errlen, "listing kernel functions: %s", strerror(-ret));
			goto cleanup;
		}
	}
	sort_unique(out);
	if (!out->n) {
		ret = -EINVAL;
		snprintf(err, errlen, "parameter 'target': no traceable kernel function matches '%.64s' (%s)", glob,
			 KFUNC_TRACEABLE);
	} else if (out->n > max) {
		ret = -EINVAL;
		snprintf(err, errlen, "parameter 'target' value '%.64s' matches %zu kernel functions, at most %zu", glob,
			 out->n, max);
	}
cleanup:
	fclose(f);
	if (ret)
		kfunc_list_free(out);
	return ret;
}

static long find_name(const struct kfunc_list *l, const char *name)
{
	char *key = (char *)name;
	char **hit = bsearch(&key, l->names, l->n, sizeof(*l->names), name_cmp);

	return hit ? hit - l->names : -1;
}

int kfunc_list_addresses(struct kfunc_list *l, char *err, size_t errlen)
{
	char line[512], type, name[256];
	unsigned long long addr;
	size_t found = 0;
	FILE *f;

	free(l->addrs);
	l->addrs = calloc(l->n, sizeof(*l->addrs));
	if (!l->addrs) {
		snprintf(err, errlen, "allocating kernel function addresses: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	f = fopen(KALLSYMS, "re");
	if (!f) {
		int ret = -errno;

		snprintf(err, errlen, "reading %s: %s", KALLSYMS, strerror(-ret));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		long i;

		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 || (type != 't' && type != 'T') || !addr)
			continue;
		i = find_name(l, name);
		/* the first of several same-named functions: the one a kprobe by name lands on */
		if (i >= 0 && !l->addrs[i]) {
			l->addrs[i] = addr;
			found++;
		}
	}
	fclose(f);
	if (!found) {
		snprintf(err, errlen, "no addresses for the functions in %s (kptr_restrict hides them?)", KALLSYMS);
		return -ENOENT;
	}
	return 0;
}

long kfunc_list_index_of_ip(const struct kfunc_list *l, uint64_t ip)
{
	long best = -1;

	/* a linear walk: at most KFUNC_COUNT_MAX functions, once per row read */
	for (size_t i = 0; l->addrs && i < l->n; i++)
		if (l->addrs[i] && l->addrs[i] <= ip && ip - l->addrs[i] <= KPROBE_IP_SLACK &&
		    (best < 0 || l->addrs[i] > l->addrs[best]))
			best = (long)i;
	return best;
}

int kfunc_supported(char *reason, size_t len)
{
	/* every kernel with kprobe.multi has kprobes too; without the PMU libbpf would fall
	 * back to tracefs kprobe_events, which we do not rely on */
	if (access("/sys/bus/event_source/devices/kprobe/type", R_OK) != 0) {
		snprintf(reason, len, "this kernel has no kprobes (no kprobe PMU at /sys/bus/event_source/devices/kprobe: "
			 "CONFIG_KPROBE_EVENTS is off)");
		return -EOPNOTSUPP;
	}
	if (access(KFUNC_TRACEABLE, R_OK) != 0) {
		snprintf(reason, len, "no list of traceable kernel functions at %s (tracefs not mounted, or no "
			 "CONFIG_FUNCTION_TRACER)", KFUNC_TRACEABLE);
		return -EOPNOTSUPP;
	}
	return 0;
}

int kfunc_target_validate(const char *target, size_t max, const char *example, char *err, size_t errlen)
{
	struct kfunc_list l;
	char why[256];
	int ret;

	if (!target[0]) {
		snprintf(err, errlen, "parameter 'target' is required (%s)", example);
		return -EINVAL;
	}
	if (kfunc_supported(why, sizeof(why)))
		return 0;
	ret = kfunc_list_resolve(target, max, &l, err, errlen);
	kfunc_list_free(&l);
	return ret;
}
