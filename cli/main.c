/* SPDX-License-Identifier: Apache-2.0 */
/* tracectl: the unprivileged controller; asks agents for catalog probes, renders results. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "cli.h"
#include "duration.h"
#include "hostport.h"
#include "log.h"
#include "tls.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tracectl [options] COMMAND HOSTS [args]\n"
		"\n"
		"Remote eBPF tracing: asks tracectl-agents for a probe from their catalog and\n"
		"shows what comes back, merged across hosts. Runs as an ordinary user; talks\n"
		"mutual TLS 1.3 only.\n"
		"\n"
		"Commands:\n"
		"  attach HOSTS PROBE  attach PROBE on every host; print the merged result every\n"
		"                      interval and a summary at the end\n"
		"  probes HOSTS        list the probes each host offers and whether its kernel runs them\n"
		"  status HOSTS...     agent version, kernel, uptime, sessions, probes available\n"
		"\n"
		"HOSTS is a comma-separated list (h1,h2:7000,[::1]:7470), an inventory file\n"
		"@FILE (one host a line, optional :port, '#' comments), or -H HOST repeated.\n"
		"Default port " STR(TRACECTL_DEFAULT_PORT) ". Each agent's certificate must name its host and be\n"
		"signed by the CA. Hosts are contacted concurrently; a host that fails is named\n"
		"and the others carry on.\n"
		"\n"
		"Options for attach:\n"
		"      --per-host        also show each host's results, not only the merged view\n"
		"  -d, --duration DUR    stop after DUR (default: until Ctrl-C); e.g. 500ms, 10s, 2m, 1h\n"
		"  -i, --interval DUR    print a snapshot every DUR (default 1s)\n"
		"  -p, --pid PID         only this process\n"
		"  -c, --comm NAME       only tasks whose command name is NAME\n"
		"      --port PORT       only sockets with this local or remote port\n"
		"      --top N           rows per snapshot for count probes, largest first\n"
		"      --target BIN:FUNC user-space function probes: binary path and name/glob\n"
		"      --freq HZ         sampling frequency (profile)\n"
		"      --by KEY          split results (see 'tracectl probes HOST')\n"
		"      --cgroup PATH     only tasks in this cgroup v2 (path under /sys/fs/cgroup)\n"
		"  -P, --param NAME=VALUE  any probe parameter by name\n"
		"Common options:\n"
		"  -H, --host HOST       add a target host (repeatable)\n"
		"  -o, --output FORMAT   text (default), json (one JSON object per line), or folded\n"
		"                        (count probes such as profile: 'a;b;c count' lines of the\n"
		"                        summary, the input of flame-graph tools)\n"
		"      --ca FILE         CA certificate that signs the agents   [env TRACECTL_CA]\n"
		"      --cert FILE       client certificate                     [env TRACECTL_CERT]\n"
		"      --key FILE        client private key                     [env TRACECTL_KEY]\n"
		"      --config FILE     config file with 'ca = ...', 'cert = ...', 'key = ...' lines\n"
		"                        [env TRACECTL_CONFIG; default ~/.config/tracectl/config]\n"
		"      --connect-timeout DUR  give up connecting after DUR (default 5s)\n"
		"  -v, --verbose         log more (repeat for debug)\n"
		"  -h, --help            this text\n"
		"  -V, --version         print the version\n"
		"\n"
		"Examples:\n"
		"  tracectl probes localhost\n"
		"  tracectl attach host1 tcp-latency --duration 30s --pid 1234\n"
		"  tracectl attach 10.0.0.7:7470 tcp-latency -d 10s -o json\n"
		"\n"
		"Exit status:\n"
		"  0  success (also when stopped with Ctrl-C)\n"
		"  1  run-time failure (protocol error, agent internal error)\n"
		"  2  usage error: bad option, duration, or configuration\n"
		"  3  host unreachable: cannot resolve or connect, or the connection dropped\n"
		"  4  TLS failure: agent certificate not trusted, or our certificate refused\n"
		"  5  request rejected by the agent: unknown or unsupported probe, bad parameter\n"
		"  6  partial: some hosts answered, others failed (each failure is named)\n"
		"With several hosts, a status other than 0 and 6 means no host answered; it is\n"
		"the first host's reason.\n");
}

#define MAX_PARAMS 16

struct options {
	const char *ca, *cert, *key, *config;
	enum output_format format;
	uint64_t duration_ns, interval_ns, connect_timeout_ms;
	/* probe parameters, typed and validated by the agent against its catalog */
	Tracectl__Param params[MAX_PARAMS];
	Tracectl__Param *param_ptrs[MAX_PARAMS];
	size_t nparams;
	bool per_host;
	const char *command, *probe;
	struct inventory targets;
};

static int parse_number(const char *text, const char *what, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || !*text || *end || *text == '-' || v < min || v > max) {
		fprintf(stderr, "tracectl: bad %s '%s' (expected a number from %u to %u)\n", what, text, min, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_duration_opt(const char *text, const char *what, uint64_t *out)
{
	int err = duration_parse(text, out);

	if (err == -ERANGE)
		fprintf(stderr, "tracectl: %s '%s' is too long\n", what, text);
	else if (err)
		fprintf(stderr, "tracectl: bad %s '%s' (write a number and a unit: 500ms, 10s, 2m, 1h)\n", what,
			text);
	return err;
}

/* Adds NAME=VALUE (value points into argv, which outlives the request). */
static int add_param(struct options *o, const char *name, char *value)
{
	for (size_t i = 0; i < o->nparams; i++) {
		if (strcmp(o->params[i].name, name) == 0) {
			fprintf(stderr, "tracectl: parameter '%s' given twice\n", name);
			return -EINVAL;
		}
	}
	if (o->nparams == MAX_PARAMS) {
		fprintf(stderr, "tracectl: more than %d probe parameters\n", MAX_PARAMS);
		return -EINVAL;
	}
	tracectl__param__init(&o->params[o->nparams]);
	o->params[o->nparams].name = (char *)name;
	o->params[o->nparams].value = value;
	o->param_ptrs[o->nparams] = &o->params[o->nparams];
	o->nparams++;
	return 0;
}

/* "h1,h2:7000" or "@inventory-file" */
static int add_targets(struct options *o, const char *spec, char *err, size_t errlen)
{
	if (spec[0] == '@')
		return inventory_load(&o->targets, spec + 1, TRACECTL_DEFAULT_PORT, err, errlen);
	return inventory_add_list(&o->targets, spec, TRACECTL_DEFAULT_PORT, err, errlen);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_CA = 256, OPT_CERT, OPT_KEY, OPT_CONFIG, OPT_PORT, OPT_CONNECT_TIMEOUT, OPT_TOP, OPT_TARGET,
	       OPT_FREQ, OPT_BY, OPT_CGROUP, OPT_PER_HOST };
	char err[512];
	static const struct option options[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "pid", required_argument, NULL, 'p' },
		{ "comm", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "top", required_argument, NULL, OPT_TOP },
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "freq", required_argument, NULL, OPT_FREQ },
		{ "by", required_argument, NULL, OPT_BY },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "param", required_argument, NULL, 'P' },
		{ "host", required_argument, NULL, 'H' },
		{ "per-host", no_argument, NULL, OPT_PER_HOST },
		{ "output", required_argument, NULL, 'o' },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	uint64_t ns;
	uint32_t number;
	char *eq;
	int opt;

	while ((opt = getopt_long(argc, argv, "d:i:p:c:o:P:H:vhV", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (parse_duration_opt(optarg, "--duration", &o->duration_ns))
				return -EINVAL;
			if (o->duration_ns == 0) {
				fprintf(stderr, "tracectl: --duration must be more than 0 (omit it to run until Ctrl-C)\n");
				return -EINVAL;
			}
			break;
		case 'i':
			if (parse_duration_opt(optarg, "--interval", &o->interval_ns))
				return -EINVAL;
			if (o->interval_ns < 100000000ULL) {
				fprintf(stderr, "tracectl: --interval '%s' is shorter than the 100ms minimum\n", optarg);
				return -EINVAL;
			}
			break;
		case 'p':
			if (parse_number(optarg, "--pid", 1, 4194304, &number) || add_param(o, "pid", optarg))
				return -EINVAL;
			break;
		case 'c':
			if (strlen(optarg) == 0 || strlen(optarg) > 15) {
				fprintf(stderr, "tracectl: bad --comm '%s' (1 to 15 characters, as in /proc/PID/comm)\n",
					optarg);
				return -EINVAL;
			}
			if (add_param(o, "comm", optarg))
				return -EINVAL;
			break;
		case OPT_PORT:
			if (parse_number(optarg, "--port", 1, 65535, &number) || add_param(o, "port", optarg))
				return -EINVAL;
			break;
		case OPT_TOP:
			if (parse_number(optarg, "--top", 1, 100000, &number) || add_param(o, "top", optarg))
				return -EINVAL;
			break;
		case OPT_FREQ:
			if (parse_number(optarg, "--freq", 1, 10000, &number) || add_param(o, "freq", optarg))
				return -EINVAL;
			break;
		case OPT_TARGET:
		case OPT_BY:
		case OPT_CGROUP:
			if (add_param(o, opt == OPT_TARGET ? "target" : opt == OPT_BY ? "by" : "cgroup", optarg))
				return -EINVAL;
			break;
		case 'P':
			eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				fprintf(stderr, "tracectl: bad --param '%s' (write NAME=VALUE)\n", optarg);
				return -EINVAL;
			}
			*eq = '\0';
			if (add_param(o, optarg, eq + 1))
				return -EINVAL;
			break;
		case 'o':
			if (render_format_parse(optarg, &o->format)) {
				fprintf(stderr, "tracectl: bad --output '%s' (text, json or folded)\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_CA:
			o->ca = optarg;
			break;
		case OPT_CERT:
			o->cert = optarg;
			break;
		case OPT_KEY:
			o->key = optarg;
			break;
		case OPT_CONFIG:
			o->config = optarg;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (parse_duration_opt(optarg, "--connect-timeout", &ns))
				return -EINVAL;
			o->connect_timeout_ms = ns / 1000000ULL ? ns / 1000000ULL : 1;
			break;
		case 'H':
			if (add_targets(o, optarg, err, sizeof(err))) {
				fprintf(stderr, "tracectl: %s\n", err);
				return -EINVAL;
			}
			break;
		case OPT_PER_HOST:
			o->per_host = true;
			break;
		case 'v':
			if (log_threshold < LOG_LEVEL_DEBUG)
				log_threshold++;
			break;
		case 'h':
			usage(stdout);
			exit(CLI_EXIT_OK);
		case 'V':
			printf("tracectl %s\n", TRACECTL_VERSION);
			exit(CLI_EXIT_OK);
		default:
			fprintf(stderr, "Try 'tracectl --help'.\n");
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return -EINVAL;
	}
	o->command = argv[optind++];
	if (strcmp(o->command, "attach") != 0 && strcmp(o->command, "probes") != 0 &&
	    strcmp(o->command, "status") != 0) {
		fprintf(stderr, "tracectl: unknown command '%s' (attach, probes, status; see --help)\n", o->command);
		return -EINVAL;
	}
	/* attach HOSTS PROBE, or attach PROBE with -H; probes/status take any number of HOSTS */
	if (strcmp(o->command, "attach") == 0) {
		if (!o->targets.n && optind < argc && add_targets(o, argv[optind++], err, sizeof(err))) {
			fprintf(stderr, "tracectl: %s\n", err);
			return -EINVAL;
		}
		if (optind >= argc) {
			fprintf(stderr, "tracectl: attach needs a PROBE after the hosts ('tracectl probes HOST' lists them)\n");
			return -EINVAL;
		}
		o->probe = argv[optind++];
	}
	for (; optind < argc && strcmp(o->command, "attach") != 0; optind++) {
		if (add_targets(o, argv[optind], err, sizeof(err))) {
			fprintf(stderr, "tracectl: %s\n", err);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tracectl: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->targets.n) {
		fprintf(stderr, "tracectl: %s needs HOSTS (a list, @FILE or -H HOST)\n", o->command);
		return -EINVAL;
	}
	if (o->targets.duplicates)
		fprintf(stderr, "tracectl: %zu duplicate host(s) ignored\n", o->targets.duplicates);
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt = { .format = OUTPUT_TEXT, .interval_ns = 1000000000ULL, .connect_timeout_ms = 5000 };
	Tracectl__Request req = TRACECTL__REQUEST__INIT;
	Tracectl__AttachRequest attach = TRACECTL__ATTACH_REQUEST__INIT;
	Tracectl__ListProbesRequest list = TRACECTL__LIST_PROBES_REQUEST__INIT;
	Tracectl__StatusRequest status = TRACECTL__STATUS_REQUEST__INIT;
	struct fleet_options fo = { 0 };
	enum cli_exit code = CLI_EXIT_USAGE;
	struct cli_config cfg;
	SSL_CTX *tls = NULL;
	char err[512];

	log_set_program("tracectl");
	log_threshold = LOG_LEVEL_WARN;
	inventory_init(&opt.targets);
	if (parse_args(argc, argv, &opt))
		goto cleanup;
	if (config_resolve(&cfg, opt.ca, opt.cert, opt.key, opt.config, err, sizeof(err))) {
		fprintf(stderr, "tracectl: %s\n", err);
		goto cleanup;
	}
	log_route_libraries();
	signal(SIGPIPE, SIG_IGN);
	tls = tls_client_ctx_new(cfg.ca, cfg.cert, cfg.key, err, sizeof(err));
	if (!tls) {
		fprintf(stderr, "tracectl: %s\n", err);
		goto cleanup;
	}
	fo.targets = &opt.targets;
	fo.request = &req;
	fo.interval_ns = opt.interval_ns;
	fo.duration_ns = opt.duration_ns;
	fo.connect_timeout_ms = opt.connect_timeout_ms;
	fo.format = opt.format;
	fo.per_host = opt.per_host;
	if (strcmp(opt.command, "attach") == 0) {
		attach.probe = (char *)opt.probe;
		attach.duration_ns = opt.duration_ns;
		attach.interval_ns = opt.interval_ns;
		attach.n_params = opt.nparams;
		attach.params = opt.param_ptrs;
		req.call_case = TRACECTL__REQUEST__CALL_ATTACH;
		req.attach = &attach;
		fo.command = FLEET_ATTACH;
		fo.probe = opt.probe;
		if (opt.format == OUTPUT_TEXT && isatty(STDERR_FILENO) && opt.targets.n == 1)
			fprintf(stderr, "Connecting to %s...\n", opt.targets.hosts[0].name);
	} else if (strcmp(opt.command, "probes") == 0) {
		req.call_case = TRACECTL__REQUEST__CALL_LIST_PROBES;
		req.list_probes = &list;
		fo.command = FLEET_PROBES;
	} else {
		req.call_case = TRACECTL__REQUEST__CALL_STATUS;
		req.status = &status;
		fo.command = FLEET_STATUS;
	}
	code = fleet_run(&fo, tls);
cleanup:
	SSL_CTX_free(tls);
	inventory_free(&opt.targets);
	return (int)code;
}
