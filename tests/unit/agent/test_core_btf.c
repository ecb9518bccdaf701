/* SPDX-License-Identifier: Apache-2.0 */
/* The minimal kernel BTF cut for a probe's object: the kernel's own layouts, a fraction of its types. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/btf.h>

#include "core_btf.h"
#include "hook_variant.h"
#include "runtime.h" /* what the skeleton's read-only data names */
#include "tcp_life.h"
#include "tcp_life.skel.h"

static struct btf *kern;

static int setup(void **state)
{
	(void)state;
	kern = access("/sys/kernel/btf/vmlinux", R_OK) == 0 ? btf__load_vmlinux_btf() : NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	btf__free(kern);
	return 0;
}

/* The struct of that name in btf, or NULL. */
static const struct btf_type *struct_named(const struct btf *btf, const char *name)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);

	return id > 0 ? btf__type_by_id(btf, id) : NULL;
}

/* The type under modifiers and typedefs (btf__resolve_type refuses declarations). */
static const struct btf_type *under_mods(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	while (t && (btf_is_mod(t) || btf_is_typedef(t)))
		t = btf__type_by_id(btf, t->type);
	return t;
}

/* Every member of the struct name: same name, offset, size and kind as the kernel's; a
 * pointer's pointee the kernel's type or a declaration of its name. */
static void assert_same_struct(const struct btf *min, const char *name)
{
	const struct btf_type *k = struct_named(kern, name), *m = struct_named(min, name);

	assert_non_null(k);
	assert_non_null(m);
	assert_int_equal(m->size, k->size);
	assert_int_equal(btf_vlen(m), btf_vlen(k));
	for (int i = 0; i < btf_vlen(k); i++) {
		const struct btf_member *km = &btf_members(k)[i], *mm = &btf_members(m)[i];
		const struct btf_type *kt = btf__type_by_id(kern, btf__resolve_type(kern, km->type));
		const struct btf_type *mt = btf__type_by_id(min, btf__resolve_type(min, mm->type));

		assert_string_equal(btf__name_by_offset(min, mm->name_off), btf__name_by_offset(kern, km->name_off));
		assert_int_equal(mm->offset, km->offset);
		assert_int_equal(btf_kind(mt), btf_kind(kt));
		assert_int_equal(btf__resolve_size(min, mm->type), btf__resolve_size(kern, km->type));
		if (btf_is_ptr(kt)) {
			/* under const and typedefs, which a declaration drops */
			const struct btf_type *kp = under_mods(kern, kt->type), *mp = under_mods(min, mt->type);

			assert_non_null(kp);
			assert_non_null(mp);
			assert_string_equal(btf__name_by_offset(min, mp->name_off), btf__name_by_offset(kern, kp->name_off));
			assert_true(btf_kind(mp) == btf_kind(kp) || (btf_is_fwd(mp) && btf_is_composite(kp)));
		}
	}
}

static void tcp_life_object(void **state)
{
	size_t size, nnames = 0;
	const void *elf = tcp_life__elf_bytes(&size);
	struct btf *min;

	(void)state;
	if (!kern) {
		print_message("skipped: no readable /sys/kernel/btf/vmlinux\n");
		skip();
	}
	min = core_btf_cut(kern, elf, size, &nnames);
	assert_non_null(min);
	/* tcp-life reads struct tcp_sock's byte counts and sock_common's addresses by CO-RE */
	assert_true(nnames >= 2);
	assert_same_struct(min, "tcp_sock");
	assert_same_struct(min, "sock_common");
	/* what tcp_sock points to and nothing names is a declaration, not a copy */
	assert_null(struct_named(min, "tcp_congestion_ops"));
	assert_true(btf__find_by_name_kind(min, "tcp_congestion_ops", BTF_KIND_FWD) > 0);
	print_message("tcp_life: %u of the kernel's %u types, %zu names\n", btf__type_cnt(min),
		      btf__type_cnt(kern), nnames);
	assert_true(btf__type_cnt(min) * 50 < btf__type_cnt(kern));
	btf__free(min);
}

static void not_an_object(void **state)
{
	static const unsigned char junk[64] = { 0x7f, 'E', 'L', 'F' };

	(void)state;
	if (!kern)
		skip();
	assert_null(core_btf_cut(kern, junk, sizeof(junk), NULL));
	assert_true(errno != 0);
}

/* ---- the load path: a skeleton whose load fails or not with its minimal BTF ---- */

static struct {
	bool refuse_minimal; /* load fails when opened with a minimal BTF */
	int opens, loads;
	bool last_open_minimal;
} fake;

static void *fake_open(const char *btf_custom_path)
{
	fake.opens++;
	fake.last_open_minimal = btf_custom_path && strncmp(btf_custom_path, "/proc/self/fd/", 14) == 0;
	return &fake;
}

static int fake_load(void *skel)
{
	(void)skel;
	fake.loads++;
	return fake.refuse_minimal && fake.last_open_minimal ? -EINVAL : 0;
}

static int fake_attach(void *skel)
{
	(void)skel;
	return 0;
}

static void fake_destroy(void *skel)
{
	(void)skel;
}

static struct bpf_object *fake_object(void *skel)
{
	(void)skel;
	return NULL; /* one row: nothing to switch off */
}

static const void *fake_elf(size_t *size)
{
	return tcp_life__elf_bytes(size);
}

static struct core_btf_slot fake_slot;
static const struct hook_skeleton fake_skeleton = {
	.obj_name = "fake", .open = fake_open, .load = fake_load, .attach = fake_attach, .destroy = fake_destroy,
	.object = fake_object, .elf = fake_elf, .core_btf = &fake_slot,
};
static const struct hook_variant fake_row = { .name = "only", .hook = "a fake hook" };
static struct hook_choice fake_choice;
static const struct hook_variants fake_variants = {
	.probe = "fake", .skeleton = &fake_skeleton, .rows = &fake_row, .nrows = 1, .choice = &fake_choice,
};

static void open_fake(void)
{
	char err[256];
	void *skel = NULL;

	fake.opens = fake.loads = 0;
	assert_int_equal(hook_variants_open(&fake_variants, NULL, NULL, &skel, NULL, err, sizeof(err)), 0);
	assert_ptr_equal(skel, &fake);
}

/* Loads with the minimal BTF, counted; then one that does not load with it loads with the
 * whole BTF (a second open), counted as a fallback, and the object keeps the whole BTF. */
static void load_path_falls_back(void **state)
{
	struct core_btf_stats before, after;

	(void)state;
	if (!kern)
		skip();
	core_btf_stats_get(&before);
	open_fake();
	assert_int_equal(fake.opens, 1);
	assert_true(fake.last_open_minimal);
	core_btf_stats_get(&after);
	assert_int_equal(after.loads, before.loads + 1);
	assert_int_equal(after.fallbacks, before.fallbacks);
	assert_int_equal(after.built, before.built + 1);

	fake.refuse_minimal = true;
	open_fake();
	assert_int_equal(fake.opens, 2);
	assert_int_equal(fake.loads, 2);
	assert_false(fake.last_open_minimal);
	core_btf_stats_get(&after);
	assert_int_equal(after.fallbacks, before.fallbacks + 1);

	open_fake(); /* from now on the whole BTF at once */
	assert_int_equal(fake.opens, 1);
	assert_false(fake.last_open_minimal);
	core_btf_stats_get(&after);
	assert_int_equal(after.loads, before.loads + 1);
	assert_int_equal(after.built, before.built + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tcp_life_object),
		cmocka_unit_test(not_an_object),
		cmocka_unit_test(load_path_falls_back),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
