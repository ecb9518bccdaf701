/* SPDX-License-Identifier: Apache-2.0 */
/* Draining a BPF hash map from user space: every element read and deleted, bounded. */
#ifndef TRACECTL_MAP_DRAIN_H
#define TRACECTL_MAP_DRAIN_H

#include <errno.h>
#include <stddef.h>

#include <bpf/libbpf.h>

/*
 * Reads and deletes one element: bpf_map__lookup_and_delete_elem where the kernel
 * does it for this map type (hash maps: 5.14+), else a lookup then a delete (what
 * the kernel refused is remembered per map type, so the refused call is made once).
 * The fallback is not atomic: what the BPF side adds to the element between the two
 * calls is lost, a window of microseconds per read. Returns 0 or -errno (-ENOENT:
 * no such key).
 */
int map_take(struct bpf_map *map, const void *key, size_t key_size, void *value, size_t value_size);

/* Called once per drained element; a non-zero return stops the drain and is returned. */
typedef int (*map_drain_fn)(const void *key, const void *value, void *ctx);

/*
 * Reads and deletes every element of map (a hash map), calling fn for each. The keys
 * are collected first into keys (room for max_keys of bpf_map__key_size() bytes,
 * allocated once by the caller), then each element is taken with
 * map_take, atomic against the BPF side's updates where the kernel allows. Collecting
 * first keeps it bounded: the BPF side may re-add a key as soon as it is deleted (the
 * agent's own syscalls and wakeups do), and restarting from the first key after each
 * delete would then never end. value must hold the value (all CPUs' for per-CPU maps).
 * Returns the number of elements drained or -errno.
 */
static inline int map_drain(struct bpf_map *map, void *keys, size_t max_keys, void *value, size_t value_size,
			    map_drain_fn fn, void *ctx)
{
	size_t key_size = bpf_map__key_size(map), n = 0, i;
	char *k = keys;
	int err, drained = 0;

	for (; n < max_keys; n++) {
		err = bpf_map__get_next_key(map, n ? k + (n - 1) * key_size : NULL, k + n * key_size, key_size);
		if (err == -ENOENT)
			break;
		if (err)
			return err;
	}
	for (i = 0; i < n; i++) {
		err = map_take(map, k + i * key_size, key_size, value, value_size);
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

#endif
