/* SPDX-License-Identifier: Apache-2.0 */
/* tracectl-agent's options, one table row each: the help text and getopt's arrays come from it. */
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core_btf.h"
#include "duration.h"
#include "hostport.h"
#include "kernel_env.h"
#include "log.h"

#define STR_(x) #x
#define STR(x) STR_(x)

struct agent_args {
	struct agent_config *cfg;
	bool check_policy;
};

/* A number from min to max into a uint32_t field of the config. */
static int opt_number(const struct opt_row *row, char *arg, void *ctx)
{
	struct agent_args *a = ctx;
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno || *end || n < row->min || n > row->max) {
		fprintf(stderr, "tracectl-agent: bad --%s '%s' (%llu..%llu)\n", row->name, arg,
			(unsigned long long)row->min, (unsigned long long)row->max);
		return 2;
	}
	*(uint32_t *)opt_field(row, a->cfg) = (uint32_t)n;
	return 0;
}

/* A duration into a uint64_t field (ns); row->hint words the refusal when bounds are set. */
static int opt_duration(const struct opt_row *row, char *arg, void *ctx)
{
	struct agent_args *a = ctx;
	uint64_t *ns = opt_field(row, a->cfg);

	if (duration_parse(arg, ns) || (row->max && (*ns < row->min || *ns > row->max))) {
		if (row->hint)
			fprintf(stderr, "tracectl-agent: bad --%s '%s' (%s)\n", row->name, arg, row->hint);
		else
			fprintf(stderr, "tracectl-agent: bad duration '%s' for --%s (write e.g. 500ms, 10s, 2m)\n",
				arg, row->name);
		return 2;
	}
	return 0;
}

static int opt_string(const struct opt_row *row, char *arg, void *ctx)
{
	struct agent_args *a = ctx;

	*(const char **)opt_field(row, a->cfg) = arg;
	return 0;
}

static int opt_check_policy(const struct opt_row *row, char *arg, void *ctx)
{
	struct agent_args *a = ctx;

	(void)row, (void)arg;
	a->check_policy = true;
	return 0;
}

static int opt_max_overhead(const struct opt_row *row, char *arg, void *ctx)
{
	struct agent_args *a = ctx;
	char *end;
	double pct;

	(void)row;
	if (strcmp(arg, "off") == 0) { /* no agent budget: only what clients ask for */
		a->cfg->max_overhead_ppm = 0;
		return 0;
	}
	pct = strtod(arg, &end);
	if (end == arg || (*end && strcmp(end, "%") != 0) || pct <= 0 || pct > 100) {
		fprintf(stderr, "tracectl-agent: bad --max-overhead '%s' (a percentage of one core, e.g. 1%%, or off)\n",
			arg);
		return 2;
	}
	a->cfg->max_overhead_ppm = (uint32_t)(pct * 10000);
	return 0;
}

static int opt_no_tp_btf(const struct opt_row *row, char *arg, void *ctx)
{
	(void)row, (void)arg, (void)ctx;
	kernel_env_disable_tp_btf();
	return 0;
}

static int opt_full_btf(const struct opt_row *row, char *arg, void *ctx)
{
	(void)row, (void)arg, (void)ctx;
	core_btf_disable();
	return 0;
}

static int opt_btf(const struct opt_row *row, char *arg, void *ctx)
{
	char err[512];

	(void)row, (void)ctx;
	if (kernel_env_use_btf(arg, err, sizeof(err))) {
		fprintf(stderr, "tracectl-agent: %s\n", err);
		return 2;
	}
	return 0;
}

static int opt_log_level(const struct opt_row *row, char *arg, void *ctx)
{
	(void)row, (void)ctx;
	if (log_level_parse(arg, &log_threshold)) {
		fprintf(stderr, "tracectl-agent: bad --log-level '%s' (error, warn, info, debug)\n", arg);
		return 2;
	}
	return 0;
}

static int opt_help(const struct opt_row *row, char *arg, void *ctx)
{
	(void)row, (void)arg, (void)ctx;
	agent_usage(stdout);
	exit(0);
}

static int opt_version(const struct opt_row *row, char *arg, void *ctx)
{
	(void)row, (void)arg, (void)ctx;
	printf("tracectl-agent %s\n", TRACECTL_VERSION);
	exit(0);
}

#define FIELD(f) .offset = offsetof(struct agent_config, f)
#define COUNT(f) opt_number, FIELD(f), .min = 1, .max = 100000

const struct opt_row agent_option_rows[] = {
	{ "listen", 'l', "HOST:PORT", "address to listen on (default 0.0.0.0:" STR(TRACECTL_DEFAULT_PORT) ")",
	  opt_string, FIELD(listen) },
	{ "cert", 0, "FILE", "agent certificate (PEM, may include the chain)", opt_string, FIELD(cert) },
	{ "key", 0, "FILE", "agent private key (PEM)", opt_string, FIELD(key) },
	{ "ca", 0, "FILE", "CA certificate(s) that sign client certificates", opt_string, FIELD(ca) },
	{ "max-sessions", 0, "N", "concurrent sessions across all clients (default 64)", COUNT(max_sessions) },
	{ "max-duration", 0, "DUR", "longest session a client may ask for (default 24h)", opt_duration,
	  FIELD(max_duration_ns) },
	{ "min-interval", 0, "DUR", "shortest snapshot interval (default 100ms)", opt_duration,
	  FIELD(min_interval_ns) },
	{ "max-overhead", 0, "PCT", "a session's budget of one core's time, kernel side plus\n"
	  "agent side (default 20%; clients may ask for less): over\n"
	  "it, the probe is sampled where it can be, then detached;\n"
	  "'off' leaves only the budgets clients ask for", .parse = opt_max_overhead },
	{ "metrics", 0, "HOST:PORT", "serve Prometheus metrics at http://HOST:PORT/metrics (plain\n"
	  "HTTP: bind it to loopback or a scrape network): agent health,\n"
	  "and the --export probes as histograms and counters", opt_string, FIELD(metrics_listen) },
	{ "export", 0, "P1,P2", "histogram or count probes kept attached for --metrics, each\n"
	  "with its parameters if any: tcp-latency:port=8080:comm=nginx", opt_string,
	  FIELD(export_probes) },
	{ "max-conn-sessions", 0, "N", "concurrent sessions on one connection (default 16)", COUNT(max_conn_sessions) },
	{ "handshake-timeout", 0, "DUR", "TLS handshake and first frame deadline (default 10s),\n"
	  "counted from the connection, however the client trickles", opt_duration, FIELD(handshake_timeout_ns),
	  .min = 100000000ULL, .max = 3600ULL * 1000000000ULL, .hint = "100ms..1h, e.g. 10s" },
	{ "max-handshakes", 0, "N", "connections still in the TLS handshake (not yet\n"
	  "authenticated), in all (default 128); more are closed at once", COUNT(max_unauth_conns) },
	{ "max-handshakes-per-source", 0, "N", "... from one source address (default 16)",
	  COUNT(max_unauth_per_source) },
	{ "policy", 0, "FILE", "who may attach what (docs/POLICY.md); default: any client\n"
	  "of the CA may use histogram and count probes, except\n"
	  "func-*, kfunc-*, profile, offcpu, tcp-top, file-top; event\n"
	  "probes need a grant", opt_string, FIELD(policy_path) },
	{ "audit", 0, "FILE", "append one JSON line per attach decision and session end", opt_string,
	  FIELD(audit_path) },
	{ "crl", 0, "FILE", "PEM certificate revocation list(s) of the CA: revoked\n"
	  "client certificates are refused", opt_string, FIELD(crl_path) },
	{ "check-policy", 0, NULL, "parse --policy, print the result and exit", .parse = opt_check_policy },
	{ "no-tp-btf", 0, NULL, "probes use their tracepoint / raw_tp programs even where\n"
	  "tp_btf loads (for a kernel whose tp_btf misbehaves)", .parse = opt_no_tp_btf },
	{ "btf", 0, "FILE", "this kernel's BTF, for kernels without /sys/kernel/btf/vmlinux\n"
	  "(a BTFHub-style vmlinux.btf); probes relocate against it", .parse = opt_btf },
	{ "full-btf", 0, NULL, "every probe relocates against the whole kernel BTF, parsed\n"
	  "again at each load (default: a minimal BTF cut once per probe)", .parse = opt_full_btf },
	{ "log-level", 0, "LEVEL", "error, warn, info (default) or debug", .parse = opt_log_level },
	{ "help", 'h', NULL, "this text", .parse = opt_help },
	{ "version", 'V', NULL, "print the version", .parse = opt_version },
};
const size_t agent_option_count = sizeof(agent_option_rows) / sizeof(agent_option_rows[0]);

void agent_usage(FILE *out)
{
	fprintf(out,
		"Usage: tracectl-agent --cert FILE --key FILE --ca FILE [options]\n"
		"\n"
		"Privileged tracectl daemon: attaches probes from its fixed catalog for clients\n"
		"that present a certificate signed by the fleet CA, and streams the results to\n"
		"them over mutual TLS 1.3. Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN to\n"
		"mount tracefs). There is no plaintext mode.\n"
		"\n"
		"Options:\n");
	opt_table_usage(out, agent_option_rows, agent_option_count, 27);
	fprintf(out,
		"\n"
		"Sessions are leases: a session ends at its duration (at most --max-duration,\n"
		"also when the client asked for none) or when its client goes away.\n"
		"Durations are written 500ms, 10s, 2m, 1h. SIGINT/SIGTERM end every session,\n"
		"telling clients why, detach all probes and exit 0.\n"
		"Exit status: 0 clean shutdown, 1 runtime failure, 2 usage error.\n");
}

/* The options, then the combinations they must make; 0, or 2 (a usage error). */
int agent_parse_args(int argc, char **argv, struct agent_config *cfg, bool *check_policy)
{
	static struct option longopts[sizeof(agent_option_rows) / sizeof(agent_option_rows[0]) + 1];
	static char shortopts[2 * sizeof(agent_option_rows) / sizeof(agent_option_rows[0]) + 1];
	struct agent_args args = { .cfg = cfg };
	const struct opt_row *row;
	int opt, ret;

	opt_table_getopt(agent_option_rows, agent_option_count, "", longopts, shortopts, sizeof(shortopts));
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		row = opt_table_find(agent_option_rows, agent_option_count, opt);
		if (!row) {
			agent_usage(stderr);
			return 2;
		}
		ret = row->parse(row, optarg, &args);
		if (ret)
			return ret;
	}
	*check_policy = args.check_policy;
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

