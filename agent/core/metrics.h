/* SPDX-License-Identifier: Apache-2.0 */
/* Standing probes served as Prometheus metrics over HTTP, for collection past one controller. */
#ifndef TRACECTL_METRICS_H
#define TRACECTL_METRICS_H

#include <stddef.h>

struct agent;
struct exporter;

/*
 * Attaches each probe of the comma-separated list (histogram or count probes,
 * default parameters) for the agent's lifetime and serves GET /metrics on listen
 * ("127.0.0.1:9464") from the agent's event loop. 0 or -errno with a reason.
 */
int exporter_start(struct agent *agent, const char *listen, const char *probes, struct exporter **out, char *err,
		   size_t errlen);
/* Detaches the standing probes and stops serving; accepts NULL. */
void exporter_free(struct exporter **e);

#endif
