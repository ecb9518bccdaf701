/* SPDX-License-Identifier: Apache-2.0 */
/* The probe catalog: the only things a remote caller can ask the agent to attach. */
#ifndef TRACECTL_CATALOG_H
#define TRACECTL_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"

#define PROBE_MAX_SERIES 4
#define PROBE_COMM_LEN 16

/* Which common filters a probe applies in the kernel. */
enum probe_param {
	PROBE_PARAM_PID = 1u << 0,
	PROBE_PARAM_COMM = 1u << 1,
	PROBE_PARAM_PORT = 1u << 2,
};

/* Validated parameters; zero / empty means "no filter". */
struct probe_params {
	uint32_t pid;
	char comm[PROBE_COMM_LEN];
	uint16_t port;
};

struct probe_desc {
	const char *name;        /* the user interface: "tcp-latency" */
	const char *description;
	const char *result_kind; /* "histogram" */
	const char *hook;        /* "tracepoint sock:sock_send_length + sock:sock_recv_length" */
	uint32_t params;         /* enum probe_param bits accepted */
	size_t nseries;
	const char *series_labels[PROBE_MAX_SERIES]; /* "role=client", ... */

	/* 0 when this kernel can run the probe, else -errno with a reason. */
	int (*supported)(char *reason, size_t len);
	/* Opens, configures (rodata), loads and attaches. *state is owned by the caller
	 * and released with close(). Returns 0 or -errno with a reason in err. */
	int (*open)(const struct probe_params *params, void **state, char *err, size_t errlen);
	/* Fills out[0..nseries) with the cumulative histograms since open (summed over
	 * CPUs, max_exact true). Must not allocate: it runs every interval. */
	int (*read)(void *state, struct hist *out);
	/* Detaches and frees; accepts NULL and sets *state to NULL. */
	void (*close)(void **state);
};

const struct probe_desc *catalog_find(const char *name);
size_t catalog_size(void);
const struct probe_desc *catalog_at(size_t i);

/* The catalog's probes, each defined next to its BPF user side (agent/probe_*.c). */
extern const struct probe_desc probe_tcp_latency;

#endif
