/* SPDX-License-Identifier: Apache-2.0 */
/* tracectl-agent: attaches catalog probes for authenticated clients over mutual TLS. */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent.h"
#include "duration.h"
#include "hostport.h"
#include "kernel_env.h"
#include "log.h"
#include "metrics.h"
#include "options.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* --check-policy: parses the policy and prints what each section grants. */
static int policy_check_file(const char *path)
{
	struct policy p;
	char err[512];
	int ret;

	policy_init(&p);
	ret = path ? policy_load(&p, path, err, sizeof(err)) : policy_load_default(&p, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "tracectl-agent: %s\n", err);
		return 2;
	}
	for (size_t i = 0; i < p.n; i++) {
		const struct policy_section *s = &p.sections[i];

		printf("%s:%u: %s allow", p.name, s->line, s->header);
		for (size_t k = 0; k < s->nallow; k++)
			printf(" %s", s->allow[k].text);
		for (int kind = PROBE_HISTOGRAM; kind <= PROBE_EVENTS; kind++)
			if (s->allow_kinds & (1u << kind))
				printf(" kind:%s", result_kind_name((enum result_kind)kind));
		printf("; deny");
		for (size_t k = 0; k < s->ndeny; k++)
			printf(" %s", s->deny[k].text);
		printf("\n");
	}
	policy_free(&p);
	printf("policy OK\n");
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agent *agent = arg;

	(void)what;
	if (agent->stopping)
		return;
	log_info("received %s: ending sessions and shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	agent_stop(agent);
	/* give the final statuses a moment to reach the clients */
	event_base_loopexit(agent->base, &(struct timeval){ 0, 300000 });
}

/* The event loop, the exporter, the RPC listener and the signals, then serving until told
 * to stop; what it leaves is released by main. 0, or -1 once the reason is logged. */
static int serve(struct agent *agent)
{
	char err[512];

	agent->base = event_base_new();
	if (!agent->base) {
		log_error("cannot create the event loop");
		return -1;
	}
	/* standing probes first: once the RPC port accepts, the agent is fully up */
	LIST_INIT(&agent->conns);
	if (agent->cfg.metrics_listen && exporter_start(agent, agent->cfg.metrics_listen, agent->cfg.export_probes,
							&agent->exporter, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	if (agent_start(agent, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	agent->sigint = evsignal_new(agent->base, SIGINT, on_signal, agent);
	agent->sigterm = evsignal_new(agent->base, SIGTERM, on_signal, agent);
	if (!agent->sigint || !agent->sigterm || evsignal_add(agent->sigint, NULL) ||
	    evsignal_add(agent->sigterm, NULL)) {
		log_error("cannot install signal handlers");
		return -1;
	}
	log_info("tracectl-agent %s ready: kernel %s, %zu probe(s) in the catalog", TRACECTL_VERSION,
		 kernel_env_release(), catalog_size());
	if (event_base_dispatch(agent->base) < 0) {
		log_error("event loop failed");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct agent agent = {
		.stats_fd = -1,
		.cfg = {
			.listen = "0.0.0.0:" STR(TRACECTL_DEFAULT_PORT),
			.max_message = FRAME_MAX_MESSAGE_DEFAULT,
			.max_sessions = 64,
			.max_duration_ns = 24ULL * 3600 * 1000000000ULL,
			.max_overhead_ppm = 200000,
			.min_interval_ns = 100ULL * 1000000ULL,
			.max_conn_sessions = 16,
			.handshake_timeout_ns = 10ULL * 1000000000ULL,
			.max_unauth_conns = 128,
			.max_unauth_per_source = 16,
		},
	};
	bool check_policy = false;
	char err[512];
	int ret = 1;

	log_set_program("tracectl-agent");
	ret = agent_parse_args(argc, argv, &agent.cfg, &check_policy);
	if (ret)
		return ret;
	if (check_policy)
		return policy_check_file(agent.cfg.policy_path);
	ret = 1;
	log_route_libraries();
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0)
		log_warn("not running as root: attaching probes will likely fail");
	if (kernel_env_prepare(err, sizeof(err)))
		log_warn("%s", err);
	/* said once here; `probes` then gives the same reason for every probe */
	if (kernel_env_baseline(err, sizeof(err)))
		log_warn("no probe can run on this kernel: %s", err);
	/* every session reports what its programs cost, from the kernel's own accounting */
	agent.stats_fd = cost_enable_stats();
	if (agent.stats_fd < 0)
		log_warn("kernel BPF run-time statistics unavailable (%s): costs will show agent CPU only",
			 strerror(-agent.stats_fd));

	if (serve(&agent) == 0) {
		ret = 0;
		log_info("shut down cleanly");
	}
	exporter_free(&agent.exporter);
	agent_free(&agent);
	if (agent.sigint)
		event_free(agent.sigint);
	if (agent.sigterm)
		event_free(agent.sigterm);
	if (agent.base)
		event_base_free(agent.base);
	if (agent.stats_fd >= 0)
		close(agent.stats_fd);
	return ret;
}
