/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* When an event probe wakes the agent: only once its ring is filling up. */
#ifndef TRACECTL_RINGBUF_WAKEUP_BPF_H
#define TRACECTL_RINGBUF_WAKEUP_BPF_H

/*
 * A wakeup per record costs ~6.5 us on these machines (DESIGN.md), more than most
 * probes themselves. The agent drains every ring on a 10 ms timer anyway, so records
 * go in without a wakeup until a quarter of the ring is waiting; past that each one
 * wakes the agent, so a burst is drained before the ring overflows.
 */
static __always_inline __u64 ringbuf_wakeup_flags(void *ring, __u64 ring_bytes)
{
	return bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) > ring_bytes / 4 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

#endif
