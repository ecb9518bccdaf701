/* SPDX-License-Identifier: Apache-2.0 */
/* What a session costs: its BPF programs' run-time statistics and the agent's own CPU time. */
#ifndef TRACECTL_COST_H
#define TRACECTL_COST_H

#include <stddef.h>
#include <stdint.h>

#define COST_MAX_PROGS 64

struct bpf_object;
/* The descriptors of the programs obj loaded (not those left out); how many were written to out. */
size_t cost_object_prog_fds(const struct bpf_object *obj, int *out, size_t max);
/* Sums run_cnt and run_time_ns of the programs (kernel BPF stats). 0 or -errno. */
int cost_read(const int *fds, size_t n, uint64_t *run_cnt, uint64_t *run_time_ns);
/* CPU time of the calling thread. */
uint64_t cost_thread_cpu_ns(void);
/*
 * Turns on the kernel's BPF run-time statistics for as long as the returned fd
 * stays open; -errno where unavailable (then costs report kernel_stats = false).
 */
int cost_enable_stats(void);

#endif
