/* SPDX-License-Identifier: Apache-2.0 */
/* Draining a BPF hash map from user space: every element read and deleted, bounded. */
#ifndef TRACECTL_MAP_DRAIN_H
#define TRACECTL_MAP_DRAIN_H

#include <errno.h>
#include <stddef.h>

#include <bpf/libbpf.h>

/* The kernel's ENOTSUPP (not in the C library's errno.h): what a kernel answers a map
 * operation it lacks for that map type with (5.10: lookup-and-delete of a hash map,
 * batch lookup of a per-CPU array). */
#define KERNEL_ENOTSUPP 524

/*
 * Reads and deletes one element: bpf_map__lookup_and_delete_elem where the kernel
 * does it for this map type (hash maps: 5.14+), else a lookup then a delete (what
 * the kernel refused is remembered per map type, so the refused call is made once).
 * The fallback is not atomic: what the BPF side adds to the element between the two
 * calls is lost (map_drain stays atomic on more kernels). Returns 0 or -errno
 * (-ENOENT: no such key).
 */
int map_take(struct bpf_map *map, const void *key, size_t key_size, void *value, size_t value_size);

/*
 * For a per-CPU hash the BPF side fills and user space drains (by default not
 * preallocated, so that its size costs nothing until used). A new element of such a
 * map comes from BPF's memory allocator (6.1+), whose per-CPU cache the programs'
 * softirq context cannot refill on the spot: after a drain freed the elements on user
 * space's CPU, a new series on another CPU can find it empty and that sample is lost
 * (seen: 1 of ~100 tcp-rtt samples in 1 of 6 runs on 6.1). Before that allocator,
 * elements come from the atomic per-CPU pool, which runs dry for large values. So the
 * map is preallocated (elements then come from per-CPU free lists that take from each
 * other) whenever it fits in max_bytes; where it does not, it keeps its size
 * unallocated with BPF's allocator, and without it is preallocated for as many entries
 * as fit (logged). Call between open and load. 0 or -errno.
 */
int map_prealloc_where_needed(struct bpf_map *map, const char *probe, size_t max_bytes);
/* How many of a per-CPU map's entries fit preallocated in max_bytes on this host's CPUs
 * (at least 1): what map_prealloc_where_needed weighs. 0 when the CPUs cannot be counted. */
size_t map_prealloc_fit(const struct bpf_map *map, size_t max_bytes);
/* What probes give map_prealloc_where_needed for one histogram map. */
#define MAP_PREALLOC_MAX_BYTES (16u << 20)

/* Called once per drained element; a non-zero return stops the drain and is returned. */
typedef int (*map_drain_fn)(const void *key, const void *value, void *ctx);

/*
 * Reads and deletes every element of map (a hash map), calling fn for each, at most
 * max_keys (keys: room for that many of bpf_map__key_size() bytes, allocated once by
 * the caller; value: room for one value, all CPUs' for per-CPU maps). Atomic against
 * the BPF side's updates: lookup-and-delete per element (5.14+ for hash maps), else
 * the batch form per hash bucket (5.6+), else (older kernels) map_take. Keys are
 * collected first, or the batch walks the buckets once: the BPF side may re-add a
 * key as soon as it is deleted (the agent's own syscalls and wakeups do), and
 * restarting from the first key after each delete would then never end.
 * Returns the number of elements drained or -errno.
 */
int map_drain(struct bpf_map *map, void *keys, size_t max_keys, void *value, size_t value_size, map_drain_fn fn,
	      void *ctx);

#endif
