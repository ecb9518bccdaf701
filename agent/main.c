/* SPDX-License-Identifier: Apache-2.0 */
/* tracectl-agent: attaches catalog probes for authenticated clients over mutual TLS. */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
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

#define STR_(x) #x
#define STR(x) STR_(x)

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tracectl-agent --cert FILE --key FILE --ca FILE [options]\n"
		"\n"
		"Privileged tracectl daemon: attaches probes from its fixed catalog for clients\n"
		"that present a certificate signed by the fleet CA, and streams the results to\n"
		"them over mutual TLS 1.3. Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN to\n"
		"mount tracefs). There is no plaintext mode.\n"
		"\n"
		"Options:\n"
		"  -l, --listen HOST:PORT   address to listen on (default 0.0.0.0:" STR(TRACECTL_DEFAULT_PORT) ")\n"
		"      --cert FILE          agent certificate (PEM, may include the chain)\n"
		"      --key FILE           agent private key (PEM)\n"
		"      --ca FILE            CA certificate(s) that sign client certificates\n"
		"      --max-sessions N     concurrent sessions across all clients (default 64)\n"
		"      --max-duration DUR   longest session a client may ask for (default 24h)\n"
		"      --min-interval DUR   shortest snapshot interval (default 100ms)\n"
		"      --max-overhead PCT   a session's budget of one core's time, kernel side plus\n"
		"                           agent side (default 20%%; clients may ask for less): over\n"
		"                           it, the probe is sampled where it can be, then detached;\n"
		"                           'off' leaves only the budgets clients ask for\n"
		"      --metrics HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics (plain\n"
		"                           HTTP: bind it to loopback or a scrape network): agent health,\n"
		"                           and the --export probes as histograms and counters\n"
		"      --export P1,P2       histogram or count probes kept attached for --metrics, each\n"
		"                           with its parameters if any: tcp-latency:port=8080:comm=nginx\n"
		"      --max-conn-sessions N  concurrent sessions on one connection (default 16)\n"
		"      --handshake-timeout DUR  TLS handshake and first frame deadline (default 10s),\n"
		"                           counted from the connection, however the client trickles\n"
		"      --max-handshakes N   connections still in the TLS handshake (not yet\n"
		"                           authenticated), in all (default 128); more are closed at once\n"
		"      --max-handshakes-per-source N  ... from one source address (default 16)\n"
		"      --policy FILE        who may attach what (docs/POLICY.md); default: any client\n"
		"                           of the CA may use histogram and count probes, except\n"
		"                           func-*, profile, tcp-top, file-top; event probes need\n"
		"                           a grant\n"
		"      --audit FILE         append one JSON line per attach decision and session end\n"
		"      --crl FILE           PEM certificate revocation list(s) of the CA: revoked\n"
		"                           client certificates are refused\n"
		"      --check-policy       parse --policy, print the result and exit\n"
		"      --no-tp-btf          probes use their tracepoint / raw_tp programs even where\n"
		"                           tp_btf loads (for a kernel whose tp_btf misbehaves)\n"
		"      --log-level LEVEL    error, warn, info (default) or debug\n"
		"  -h, --help               this text\n"
		"  -V, --version            print the version\n"
		"\n"
		"Sessions are leases: a session ends at its duration (at most --max-duration,\n"
		"also when the client asked for none) or when its client goes away.\n"
		"Durations are written 500ms, 10s, 2m, 1h. SIGINT/SIGTERM end every session,\n"
		"telling clients why, detach all probes and exit 0.\n"
		"Exit status: 0 clean shutdown, 1 runtime failure, 2 usage error.\n");
}

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
				printf(" kind:%s", catalog_kind_name((enum probe_kind)kind));
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

static int parse_args(int argc, char **argv, struct agent_config *cfg, bool *check_policy)
{
	enum {
		OPT_CERT = 256, OPT_KEY, OPT_CA, OPT_MAX_SESSIONS, OPT_MAX_DURATION, OPT_MIN_INTERVAL, OPT_LOG,
		OPT_MAX_CONN_SESSIONS, OPT_HANDSHAKE_TIMEOUT, OPT_POLICY, OPT_AUDIT, OPT_CRL, OPT_CHECK_POLICY,
		OPT_MAX_OVERHEAD, OPT_METRICS, OPT_EXPORT, OPT_NO_TP_BTF, OPT_MAX_HANDSHAKES, OPT_MAX_HANDSHAKES_SOURCE,
	};
	static const struct option options[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
		{ "max-duration", required_argument, NULL, OPT_MAX_DURATION },
		{ "min-interval", required_argument, NULL, OPT_MIN_INTERVAL },
		{ "log-level", required_argument, NULL, OPT_LOG },
		{ "max-overhead", required_argument, NULL, OPT_MAX_OVERHEAD },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "export", required_argument, NULL, OPT_EXPORT },
		{ "max-conn-sessions", required_argument, NULL, OPT_MAX_CONN_SESSIONS },
		{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
		{ "max-handshakes", required_argument, NULL, OPT_MAX_HANDSHAKES },
		{ "max-handshakes-per-source", required_argument, NULL, OPT_MAX_HANDSHAKES_SOURCE },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "audit", required_argument, NULL, OPT_AUDIT },
		{ "crl", required_argument, NULL, OPT_CRL },
		{ "check-policy", no_argument, NULL, OPT_CHECK_POLICY },
		{ "no-tp-btf", no_argument, NULL, OPT_NO_TP_BTF },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "l:hV", options, NULL)) != -1) {
		char *end;
		unsigned long n;

		switch (opt) {
		case 'l':
			cfg->listen = optarg;
			break;
		case OPT_CERT:
			cfg->cert = optarg;
			break;
		case OPT_KEY:
			cfg->key = optarg;
			break;
		case OPT_CA:
			cfg->ca = optarg;
			break;
		case OPT_MAX_SESSIONS:
		case OPT_MAX_CONN_SESSIONS:
		case OPT_MAX_HANDSHAKES:
		case OPT_MAX_HANDSHAKES_SOURCE: {
			const struct option *o = options;

			while (o->val != opt)
				o++;
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || n == 0 || n > 100000) {
				fprintf(stderr, "tracectl-agent: bad --%s '%s' (1..100000)\n", o->name, optarg);
				return 2;
			}
			*(opt == OPT_MAX_SESSIONS	     ? &cfg->max_sessions
			  : opt == OPT_MAX_CONN_SESSIONS ? &cfg->max_conn_sessions
			  : opt == OPT_MAX_HANDSHAKES	     ? &cfg->max_unauth_conns
							     : &cfg->max_unauth_per_source) = (uint32_t)n;
			break;
		}
		case OPT_HANDSHAKE_TIMEOUT:
			if (duration_parse(optarg, &cfg->handshake_timeout_ns) || cfg->handshake_timeout_ns < 100000000ULL ||
			    cfg->handshake_timeout_ns > 3600ULL * 1000000000ULL) {
				fprintf(stderr, "tracectl-agent: bad --handshake-timeout '%s' (100ms..1h, e.g. 10s)\n", optarg);
				return 2;
			}
			break;
		case OPT_POLICY:
			cfg->policy_path = optarg;
			break;
		case OPT_AUDIT:
			cfg->audit_path = optarg;
			break;
		case OPT_CRL:
			cfg->crl_path = optarg;
			break;
		case OPT_CHECK_POLICY:
			*check_policy = true;
			break;
		case OPT_MAX_DURATION:
		case OPT_MIN_INTERVAL:
			if (duration_parse(optarg, opt == OPT_MAX_DURATION ? &cfg->max_duration_ns
									  : &cfg->min_interval_ns)) {
				fprintf(stderr, "tracectl-agent: bad duration '%s' for --%s (write e.g. 500ms, 10s, 2m)\n",
					optarg, opt == OPT_MAX_DURATION ? "max-duration" : "min-interval");
				return 2;
			}
			break;
		case OPT_MAX_OVERHEAD: {
			double pct;

			if (strcmp(optarg, "off") == 0) { /* no agent budget: only what clients ask for */
				cfg->max_overhead_ppm = 0;
				break;
			}
			pct = strtod(optarg, &end);
			if (end == optarg || (*end && strcmp(end, "%") != 0) || pct <= 0 || pct > 100) {
				fprintf(stderr, "tracectl-agent: bad --max-overhead '%s' (a percentage of one core, e.g. 1%%, or off)\n",
					optarg);
				return 2;
			}
			cfg->max_overhead_ppm = (uint32_t)(pct * 10000);
			break;
		}
		case OPT_METRICS:
			cfg->metrics_listen = optarg;
			break;
		case OPT_EXPORT:
			cfg->export_probes = optarg;
			break;
		case OPT_NO_TP_BTF:
			kernel_env_disable_tp_btf();
			break;
		case OPT_LOG:
			if (log_level_parse(optarg, &log_threshold)) {
				fprintf(stderr, "tracectl-agent: bad --log-level '%s' (error, warn, info, debug)\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("tracectl-agent %s\n", TRACECTL_VERSION);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tracectl-agent: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (cfg->export_probes && !cfg->metrics_listen) {
		fprintf(stderr, "tracectl-agent: --export needs --metrics HOST:PORT\n");
		return 2;
	}
	if (*check_policy)
		return 0;
	if (!cfg->cert || !cfg->key || !cfg->ca) {
		fprintf(stderr, "tracectl-agent: --cert, --key and --ca are required (mutual TLS is not optional)\n"
				"Try 'tracectl-agent --help'; deploy/dev-pki.sh makes a development PKI.\n");
		return 2;
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
	ret = parse_args(argc, argv, &agent.cfg, &check_policy);
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

	agent.base = event_base_new();
	if (!agent.base) {
		log_error("cannot create the event loop");
		goto cleanup;
	}
	/* standing probes first: once the RPC port accepts, the agent is fully up */
	LIST_INIT(&agent.conns);
	if (agent.cfg.metrics_listen &&
	    exporter_start(&agent, agent.cfg.metrics_listen, agent.cfg.export_probes, &agent.exporter, err, sizeof(err))) {
		log_error("%s", err);
		goto cleanup;
	}
	if (agent_start(&agent, err, sizeof(err))) {
		log_error("%s", err);
		goto cleanup;
	}
	agent.sigint = evsignal_new(agent.base, SIGINT, on_signal, &agent);
	agent.sigterm = evsignal_new(agent.base, SIGTERM, on_signal, &agent);
	if (!agent.sigint || !agent.sigterm || evsignal_add(agent.sigint, NULL) || evsignal_add(agent.sigterm, NULL)) {
		log_error("cannot install signal handlers");
		goto cleanup;
	}
	log_info("tracectl-agent %s ready: kernel %s, %zu probe(s) in the catalog", TRACECTL_VERSION,
		 kernel_env_release(), catalog_size());
	if (event_base_dispatch(agent.base) < 0) {
		log_error("event loop failed");
		goto cleanup;
	}
	ret = 0;
	log_info("shut down cleanly");
cleanup:
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
