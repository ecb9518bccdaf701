/* SPDX-License-Identifier: Apache-2.0 */
/* Hook variants: the first of a probe's variants that this kernel loads and attaches. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "core_btf.h"
#include "hook_variant.h"
#include "kernel_env.h"
#include "log.h"

/* The choices are learned by the agent's loop and by its trial thread (catalog.c) at once. */
static pthread_mutex_t choice_lock = PTHREAD_MUTEX_INITIALIZER;

static bool named_in(const char *const *names, const char *name)
{
	for (size_t i = 0; names && names[i]; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* Switches off the programs and maps other rows name and this one does not. */
static void keep_only(const struct hook_variants *hv, size_t keep, struct bpf_object *obj)
{
	const struct hook_variant *mine = &hv->rows[keep];

	for (size_t r = 0; r < hv->nrows; r++) {
		const struct hook_variant *other = &hv->rows[r];

		if (r == keep)
			continue;
		for (size_t i = 0; other->programs && other->programs[i]; i++) {
			struct bpf_program *prog = bpf_object__find_program_by_name(obj, other->programs[i]);

			if (prog && !named_in(mine->programs, other->programs[i]))
				bpf_program__set_autoload(prog, false);
		}
		for (size_t i = 0; other->maps && other->maps[i]; i++) {
			struct bpf_map *map = bpf_object__find_map_by_name(obj, other->maps[i]);

			if (map && !named_in(mine->maps, other->maps[i]))
				bpf_map__set_autocreate(map, false);
		}
	}
}

/* Open, keep the variant's parts, configure, load: 0 with *skel, or -errno (*at_load: the load failed). */
static int load_variant(const struct hook_variants *hv, size_t r, hook_configure_fn configure, void *ctx,
			const char *btf_path, void **skel, bool *at_load, char *why, size_t len)
{
	const struct hook_skeleton *sk = hv->skeleton;
	void *s;
	int err;

	*at_load = false;
	s = sk->open(btf_path);
	if (!s) {
		err = errno ? -errno : -EINVAL;
		snprintf(why, len, "opening the BPF object: %s", strerror(-err));
		return err;
	}
	keep_only(hv, r, sk->object(s));
	err = configure ? configure(s, &hv->rows[r], ctx, why, len) : 0;
	if (!err) {
		err = sk->load(s);
		*at_load = err != 0;
		if (err)
			snprintf(why, len, "loading: %s", strerror(-err));
	}
	if (err) {
		sk->destroy(s);
		return err;
	}
	*skel = s;
	return 0;
}

/* One variant: loaded (against its minimal kernel BTF where it has one, else or when that
 * fails against the whole one), then attached. 0 with *skel, or -errno. */
static int try_variant(const struct hook_variants *hv, size_t r, hook_configure_fn configure, void *ctx, void **skel,
		       char *why, size_t len)
{
	const struct hook_skeleton *sk = hv->skeleton;
	size_t elf_size;
	const void *elf = sk->elf(&elf_size);
	const char *minimal = core_btf_path(sk->core_btf, elf, elf_size, sk->obj_name);
	void *s = NULL;
	bool at_load;
	int err;

	err = load_variant(hv, r, configure, ctx, minimal ? minimal : kernel_env_btf_custom_path(), &s, &at_load, why,
			   len);
	if (err && at_load && minimal) {
		/* never worse than without it: the whole kernel BTF, as libbpf would by itself */
		err = load_variant(hv, r, configure, ctx, kernel_env_btf_custom_path(), &s, &at_load, why, len);
		if (!err)
			core_btf_fell_back(sk->core_btf, sk->obj_name);
	} else if (!err && minimal) {
		core_btf_loaded();
	}
	if (!err) {
		err = sk->attach(s);
		if (err)
			snprintf(why, len, "attaching: %s", strerror(-err));
	}
	if (!err && hv->attach)
		err = hv->attach(s, &hv->rows[r], ctx, why, len);
	if (err) {
		if (s)
			sk->destroy(s);
		return err;
	}
	*skel = s;
	return 0;
}

/* Rows known not to load here, and tp_btf rows under --no-tp-btf (their twin follows). */
static bool row_skipped(const struct hook_variants *hv, size_t r)
{
	uint32_t refused;

	pthread_mutex_lock(&choice_lock);
	refused = hv->choice->refused;
	pthread_mutex_unlock(&choice_lock);
	if (refused & (1u << r))
		return true;
	return kernel_env_tp_btf_disabled() && strcmp(hv->rows[r].name, "tp_btf") == 0 && r + 1 < hv->nrows;
}

static void append(char *buf, size_t size, const char *name, const char *why)
{
	size_t used = strlen(buf);

	if (used < size)
		snprintf(buf + used, size - used, "%s%s: %s", used ? "; " : "", name, why);
}

int hook_variants_open(const struct hook_variants *hv, hook_configure_fn configure, void *ctx, void **skel,
		       const struct hook_variant **used, char *err, size_t errlen)
{
	struct hook_choice *c = hv->choice;
	char why[256], reasons[sizeof(c->reason)] = "";
	uint32_t failed = 0;
	int rc = -EOPNOTSUPP;

	*skel = NULL;
	if (used)
		*used = NULL;
	for (size_t r = 0; r < hv->nrows && r < HOOK_VARIANTS_MAX; r++) {
		if (row_skipped(hv, r))
			continue;
		why[0] = '\0';
		rc = try_variant(hv, r, configure, ctx, skel, why, sizeof(why));
		if (rc) {
			failed |= 1u << r;
			append(reasons, sizeof(reasons), hv->rows[r].name, why);
			log_info("%s: the %s variant does not load here (%s)", hv->probe, hv->rows[r].name, why);
			continue;
		}
		/* Cheaper variants that failed while this one loaded: the kernel lacks what they
		 * need, not this caller's parameters or the resources of the moment; not tried again. */
		pthread_mutex_lock(&choice_lock);
		if (failed) {
			c->refused |= failed;
			snprintf(c->reason, sizeof(c->reason), "%s", reasons);
		}
		if (c->loaded != (int)r + 1) {
			c->loaded = (int)r + 1;
			if (c->refused)
				snprintf(c->hook_text, sizeof(c->hook_text), "%s (not used here: %s)", hv->rows[r].hook,
					 c->reason);
			else
				snprintf(c->hook_text, sizeof(c->hook_text), "%s", hv->rows[r].hook);
			log_info("%s: attached through %s", hv->probe, c->hook_text);
		}
		pthread_mutex_unlock(&choice_lock);
		if (used)
			*used = &hv->rows[r];
		return 0;
	}
	if (hv->nrows == 1) /* a probe with one way to hook the kernel: no choice to speak of */
		snprintf(err, errlen, "%s: %s", hv->probe, why);
	else
		snprintf(err, errlen, "%s: no hook variant loads on this kernel: %s", hv->probe,
			 reasons[0] ? reasons : "all were refused before");
	return rc;
}

const char *hook_variants_here(const struct hook_variants *hv)
{
	const struct hook_choice *c = hv->choice;
	int loaded;

	pthread_mutex_lock(&choice_lock);
	loaded = c->loaded;
	pthread_mutex_unlock(&choice_lock);
	/* hook_text is rewritten only when another row loads, which a kernel fact makes rare */
	if (loaded)
		return c->hook_text;
	for (size_t r = 0; r < hv->nrows && r < HOOK_VARIANTS_MAX; r++)
		if (!row_skipped(hv, r))
			return hv->rows[r].hook;
	return hv->rows[0].hook;
}

int hook_variant_keep_first_n(struct bpf_object *obj, const char *const *programs, size_t max, size_t n,
			      const char *what, const char *target, char *err, size_t errlen)
{
	if (n > max) {
		snprintf(err, errlen, "without BPF cookies (kernel 5.15+) at most %zu %s per attach, '%s' matches %zu",
			 max, what, target, n);
		return -E2BIG;
	}
	for (size_t i = n; i < max; i++)
		bpf_program__set_autoload(bpf_object__find_program_by_name(obj, programs[i]), false);
	return 0;
}
