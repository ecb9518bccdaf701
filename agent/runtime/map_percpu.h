/* SPDX-License-Identifier: Apache-2.0 */
/* Reading one slot of a per-CPU array from user space: u64 counters summed (the counts probes' overflow
 * slots), or a cumulative histogram as a window. */
#ifndef TRACECTL_MAP_PERCPU_H
#define TRACECTL_MAP_PERCPU_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

#include <bpf/libbpf.h>

/*
 * Sums slot `index` of a per-CPU array whose value is `nfields` u64 counters:
 * percpu holds ncpus such values (one read buffer, allocated once by the caller),
 * out gets nfields sums. Returns 0 or -errno.
 */
static inline int map_sum_percpu(struct bpf_map *map, uint32_t index, uint64_t *percpu, int ncpus, size_t nfields,
				 uint64_t *out)
{
	int err;

	err = bpf_map__lookup_elem(map, &index, sizeof(index), percpu, (size_t)ncpus * nfields * sizeof(*percpu), 0);
	if (err)
		return err;
	for (size_t f = 0; f < nfields; f++)
		out[f] = 0;
	for (int c = 0; c < ncpus; c++)
		for (size_t f = 0; f < nfields; f++)
			out[f] += percpu[(size_t)c * nfields + f];
	return 0;
}

/* The window of the cumulative u64 in slot index of a per-CPU array: its sum now less
 * *before, which becomes the sum now. 0 or -errno. */
static inline int map_percpu_window(struct bpf_map *map, uint32_t index, uint64_t *percpu, int ncpus,
				    uint64_t *before, uint64_t *window)
{
	uint64_t now;
	int err = map_sum_percpu(map, index, percpu, ncpus, 1, &now);

	if (err)
		return err;
	*window = now - *before;
	*before = now;
	return 0;
}

/*
 * One read buffer for a per-CPU map value of size bytes, allocated once at open
 * (reads run every interval and must not allocate): sets *ncpus and *bytes.
 * NULL with a reason naming the probe in err.
 */
static inline void *percpu_buffer_new(size_t size, int *ncpus, size_t *bytes, const char *probe, char *err,
				      size_t errlen)
{
	void *buf;

	*ncpus = libbpf_num_possible_cpus();
	if (*ncpus <= 0) {
		snprintf(err, errlen, "counting possible CPUs: %s", strerror(*ncpus < 0 ? -*ncpus : EINVAL));
		return NULL;
	}
	*bytes = (size_t)*ncpus * size;
	buf = calloc(1, *bytes);
	if (!buf)
		snprintf(err, errlen, "allocating %s read buffer (%zu bytes): %s", probe, *bytes, strerror(ENOMEM));
	return buf;
}

/*
 * Slot index of a per-CPU array of cumulative histograms (struct hist_counts; percpu:
 * one read buffer of percpu_size bytes for ncpus values) as a window: what it gained
 * since *before is added to window, and *before moves on (now: scratch). 0 or -errno.
 */
static inline int map_hist_window(struct bpf_map *map, uint32_t index, struct hist_counts *percpu,
				  size_t percpu_size, int ncpus, struct hist *now, struct hist *before,
				  struct hist *window)
{
	int err;

	err = bpf_map__lookup_elem(map, &index, sizeof(index), percpu, percpu_size, 0);
	if (err)
		return err;
	hist_from_percpu(now, percpu, ncpus);
	if (hist_delta(window, now, before))
		return -EIO;
	*before = *now;
	return 0;
}

#endif
