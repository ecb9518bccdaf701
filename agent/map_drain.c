/* SPDX-License-Identifier: Apache-2.0 */
/* Taking one element out of a BPF map, on kernels with and without lookup-and-delete for it. */
#include <errno.h>
#include <stdbool.h>

#include <bpf/libbpf.h>

#include "map_drain.h"

/* The kernel's ENOTSUPP (not in the C library's errno.h): what 5.10-5.13 answer
 * lookup-and-delete on a hash map with. */
#define KERNEL_ENOTSUPP 524
#define MAP_TYPES 64

/* Map types whose lookup-and-delete this kernel refused: it will not change. */
static bool no_lookup_and_delete[MAP_TYPES];

int map_take(struct bpf_map *map, const void *key, size_t key_size, void *value, size_t value_size)
{
	unsigned int type = (unsigned int)bpf_map__type(map);
	bool known_refused = type < MAP_TYPES && no_lookup_and_delete[type];
	int err;

	if (!known_refused) {
		err = bpf_map__lookup_and_delete_elem(map, key, key_size, value, value_size, 0);
		if (err != -KERNEL_ENOTSUPP && err != -EINVAL)
			return err;
	}
	err = bpf_map__lookup_elem(map, key, key_size, value, value_size, 0);
	if (err)
		return err;
	/* the lookup worked where lookup-and-delete did not: the kernel lacks the latter */
	if (type < MAP_TYPES)
		no_lookup_and_delete[type] = true;
	err = bpf_map__delete_elem(map, key, key_size, 0);
	/* deleted meanwhile by someone else: what was read is still this window's */
	return err == -ENOENT ? 0 : err;
}
