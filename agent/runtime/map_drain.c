/* SPDX-License-Identifier: Apache-2.0 */
/* Taking elements out of a BPF map, on kernels with and without lookup-and-delete for it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kernel_env.h"
#include "log.h"
#include "map_drain.h"

#define MAP_TYPES 64
/* Elements per batch call at first; doubled when one hash bucket holds more. */
#define BATCH_FIRST 32

/* How this kernel takes an element out of each map type: it will not change. */
static enum take_mode {
	TAKE_ATOMIC = 0, /* bpf_map_lookup_and_delete_elem (hash maps: 5.14+); tried first */
	TAKE_BATCH,      /* its batch form (hash maps: 5.6+): atomic per hash bucket */
	TAKE_SEPARATE,   /* a lookup, then a delete */
} take_modes[MAP_TYPES];

static enum take_mode mode_of(const struct bpf_map *map)
{
	unsigned int type = (unsigned int)bpf_map__type(map);

	return type < MAP_TYPES ? take_modes[type] : TAKE_ATOMIC;
}

static void set_mode(const struct bpf_map *map, enum take_mode mode)
{
	unsigned int type = (unsigned int)bpf_map__type(map);

	if (type < MAP_TYPES)
		take_modes[type] = mode;
}

static bool refused(int err)
{
	return err == -KERNEL_ENOTSUPP || err == -EINVAL || err == -EOPNOTSUPP;
}

int map_take(struct bpf_map *map, const void *key, size_t key_size, void *value, size_t value_size)
{
	int err;

	if (mode_of(map) == TAKE_ATOMIC) {
		err = bpf_map__lookup_and_delete_elem(map, key, key_size, value, value_size, 0);
		if (!refused(err))
			return err;
	}
	err = bpf_map__lookup_elem(map, key, key_size, value, value_size, 0);
	if (err)
		return err;
	/* the lookup worked where lookup-and-delete did not: the kernel lacks the latter */
	if (mode_of(map) == TAKE_ATOMIC)
		set_mode(map, TAKE_SEPARATE);
	err = bpf_map__delete_elem(map, key, key_size, 0);
	/* deleted meanwhile by someone else: what was read is still this window's */
	return err == -ENOENT ? 0 : err;
}

/*
 * Drains through BPF_MAP_LOOKUP_AND_DELETE_BATCH: the kernel copies and deletes each
 * hash bucket's elements under the bucket's lock, so an update is either in this
 * window or in a new element. The walk goes once over the buckets: bounded. Returns
 * the number drained, -EOPNOTSUPP when the kernel has no batch operations for the
 * map, or -errno.
 */
static int drain_batch(struct bpf_map *map, size_t max_keys, size_t value_size, map_drain_fn fn, void *ctx)
{
	size_t key_size = bpf_map__key_size(map), chunk = BATCH_FIRST, drained = 0;
	uint64_t token_in = 0, token_out = 0; /* opaque; a hash map's is a u32 bucket index */
	char *keys = NULL, *values = NULL;
	bool first = true;
	int err = 0;

	for (;;) {
		__u32 count = (__u32)chunk;

		if (!keys) {
			keys = malloc(chunk * key_size);
			values = malloc(chunk * value_size);
			if (!keys || !values) {
				err = -ENOMEM;
				break;
			}
		}
		err = bpf_map_lookup_and_delete_batch(bpf_map__fd(map), first ? NULL : &token_in, &token_out, keys,
						      values, &count, NULL);
		if (err == -ENOSPC && count == 0 && chunk < max_keys) {
			/* one bucket holds more than chunk elements: retry it with more room */
			chunk *= 2;
			free(keys);
			free(values);
			keys = values = NULL;
			continue;
		}
		if (err && err != -ENOENT) {
			if (first && refused(err))
				err = -EOPNOTSUPP;
			break;
		}
		for (__u32 i = 0; i < count; i++) {
			int stop = fn(keys + i * key_size, values + i * value_size, ctx);

			if (stop) {
				err = stop;
				goto done;
			}
		}
		drained += count;
		first = false;
		token_in = token_out;
		if (err == -ENOENT || drained >= max_keys) {
			err = 0;
			break;
		}
	}
done:
	free(keys);
	free(values);
	return err ? err : (int)drained;
}

int map_drain(struct bpf_map *map, void *keys, size_t max_keys, void *value, size_t value_size, map_drain_fn fn,
	      void *ctx)
{
	size_t key_size = bpf_map__key_size(map), n = 0, i;
	char *k = keys;
	int err, drained = 0;

	if (mode_of(map) == TAKE_BATCH) {
		err = drain_batch(map, max_keys, value_size, fn, ctx);
		if (err != -EOPNOTSUPP)
			return err;
		set_mode(map, TAKE_SEPARATE);
	}
	for (; n < max_keys; n++) {
		err = bpf_map__get_next_key(map, n ? k + (n - 1) * key_size : NULL, k + n * key_size, key_size);
		if (err == -ENOENT)
			break;
		if (err)
			return err;
	}
	for (i = 0; i < n; i++) {
		if (mode_of(map) == TAKE_ATOMIC) {
			err = bpf_map__lookup_and_delete_elem(map, k + i * key_size, key_size, value, value_size, 0);
			if (refused(err) && i == 0 && drained == 0) {
				/* nothing taken yet: the whole drain goes the batch way */
				set_mode(map, TAKE_BATCH);
				return map_drain(map, keys, max_keys, value, value_size, fn, ctx);
			}
		} else {
			err = map_take(map, k + i * key_size, key_size, value, value_size);
		}
		if (err == -ENOENT)
			continue;
		if (err)
			return err;
		err = fn(k + i * key_size, value, ctx);
		if (err)
			return err;
		drained++;
	}
	return drained;
}

size_t map_prealloc_fit(const struct bpf_map *map, size_t max_bytes)
{
	int ncpus = libbpf_num_possible_cpus();
	size_t entry, fit;

	if (ncpus <= 0)
		return 0;
	entry = (((size_t)bpf_map__value_size(map) + 7) & ~(size_t)7) * (size_t)ncpus;
	fit = max_bytes / entry;
	return fit ? fit : 1;
}

int map_prealloc_where_needed(struct bpf_map *map, const char *probe, size_t max_bytes)
{
	size_t fit;

	if (!(bpf_map__map_flags(map) & BPF_F_NO_PREALLOC))
		return 0;
	fit = map_prealloc_fit(map, max_bytes);
	if (!fit)
		return -EINVAL;
	if (fit < bpf_map__max_entries(map)) {
		/* with BPF's allocator the map keeps its full size, unallocated */
		if (kernel_env_bpf_mem_alloc())
			return 0;
		log_info("%s: %s preallocated for %zu entries (of %u) on this kernel (no BPF memory allocator)", probe,
			 bpf_map__name(map), fit, bpf_map__max_entries(map));
		if (bpf_map__set_max_entries(map, (__u32)fit))
			return -EINVAL;
	}
	return bpf_map__set_map_flags(map, bpf_map__map_flags(map) & ~BPF_F_NO_PREALLOC);
}
