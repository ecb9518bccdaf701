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
		"Usage: tracectl [options] COMMAND HOST [args]\n"
		"\n"
		"Remote eBPF tracing: asks a tracectl-agent for a probe from its catalog and\n"
		"shows what comes back. Runs as an ordinary user; talks mutual TLS 1.3 only.\n"
		"\n"
		"Commands:\n"
		"  attach HOST PROBE   attach PROBE on HOST, print a histogram every interval\n"
		"                      and a summary at the end\n"
		"  probes HOST         list the probes HOST offers and whether its kernel runs them\n"
		"\n"
		"HOST is NAME, NAME:PORT, IP:PORT or [IPv6]:PORT (default port " STR(TRACECTL_DEFAULT_PORT) ").\n"
		"The agent's certificate must name HOST and be signed by the CA.\n"
		"\n"
		"Options for attach:\n"
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
		"  5  request rejected by the agent: unknown or unsupported probe, bad parameter\n");
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
	const char *command, *host, *probe;
};

struct run {
	struct event_base *base;
	struct options *opt;
	struct render render;
	struct client_conn *conn;
	struct client_call *call;
	struct event *sigint, *sigterm;
	enum cli_exit exit_code;
	bool interrupted;
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

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_CA = 256, OPT_CERT, OPT_KEY, OPT_CONFIG, OPT_PORT, OPT_CONNECT_TIMEOUT, OPT_TOP, OPT_TARGET,
	       OPT_FREQ, OPT_BY, OPT_CGROUP };
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

	while ((opt = getopt_long(argc, argv, "d:i:p:c:o:P:vhV", options, NULL)) != -1) {
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
	if (strcmp(o->command, "attach") != 0 && strcmp(o->command, "probes") != 0) {
		fprintf(stderr, "tracectl: unknown command '%s' (attach, probes; see --help)\n", o->command);
		return -EINVAL;
	}
	if (optind >= argc) {
		fprintf(stderr, "tracectl: %s needs a HOST\n", o->command);
		return -EINVAL;
	}
	o->host = argv[optind++];
	if (strcmp(o->command, "attach") == 0) {
		if (optind >= argc) {
			fprintf(stderr, "tracectl: attach needs a PROBE after the host ('tracectl probes %s' lists them)\n",
				o->host);
			return -EINVAL;
		}
		o->probe = argv[optind++];
	}
	if (optind < argc) {
		fprintf(stderr, "tracectl: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static enum cli_exit exit_for_status(int32_t code)
{
	switch (code) {
	case RPC_OK:
	case RPC_CANCELLED:
		return CLI_EXIT_OK;
	case RPC_NOT_FOUND:
	case RPC_INVALID_ARGUMENT:
	case RPC_FAILED_PRECONDITION:
	case RPC_RESOURCE_EXHAUSTED:
		return CLI_EXIT_REJECTED;
	case RPC_UNAVAILABLE:
		return CLI_EXIT_UNREACHABLE;
	default:
		return CLI_EXIT_FAILURE;
	}
}

static void finish(struct run *run, enum cli_exit code)
{
	run->exit_code = code;
	event_base_loopbreak(run->base);
}

static void on_failure(struct client_conn *conn, enum cli_exit code, const char *why, void *arg)
{
	struct run *run = arg;

	(void)conn;
	fprintf(stderr, "tracectl: %s\n", why);
	finish(run, code);
}

static void on_status(struct run *run, const Tracectl__Status *st)
{
	if (st->code != RPC_OK && !(st->code == RPC_CANCELLED && run->interrupted))
		fprintf(stderr, "tracectl: %s: %s\n", run->opt->host, st->message);
	finish(run, exit_for_status(st->code));
}

static void on_attach_response(struct client_call *call, const Tracectl__Response *resp, void *arg)
{
	struct run *run = arg;
	char err[256];

	(void)call;
	switch (resp->result_case) {
	case TRACECTL__RESPONSE__RESULT_ATTACHED:
		render_attached(&run->render, resp->attached);
		break;
	case TRACECTL__RESPONSE__RESULT_SNAPSHOT:
		if (render_snapshot(&run->render, resp->snapshot, err, sizeof(err))) {
			fprintf(stderr, "tracectl: %s sent a bad snapshot: %s\n", run->opt->host, err);
			finish(run, CLI_EXIT_FAILURE);
		}
		break;
	case TRACECTL__RESPONSE__RESULT_EVENTS:
		render_events(&run->render, resp->events);
		break;
	case TRACECTL__RESPONSE__RESULT_STATUS:
		on_status(run, resp->status);
		break;
	default:
		break;
	}
}

static void on_probes_response(struct client_call *call, const Tracectl__Response *resp, void *arg)
{
	struct run *run = arg;

	if (resp->result_case == TRACECTL__RESPONSE__RESULT_PROBES)
		render_probes(&run->render, resp->probes, call->conn);
	else if (resp->result_case == TRACECTL__RESPONSE__RESULT_STATUS)
		on_status(run, resp->status);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct run *run = arg;

	(void)sig;
	(void)what;
	if (run->interrupted || !run->call) {
		/* second Ctrl-C: do not wait for the agent's summary */
		finish(run, CLI_EXIT_OK);
		return;
	}
	run->interrupted = true;
	/* the agent answers with the last window, the summary and a CANCELLED status */
	client_call__cancel(run->call);
}

int main(int argc, char **argv)
{
	struct options opt = { .format = OUTPUT_TEXT, .interval_ns = 1000000000ULL, .connect_timeout_ms = 5000 };
	struct run run = { .opt = &opt, .exit_code = CLI_EXIT_FAILURE };
	Tracectl__Request req = TRACECTL__REQUEST__INIT;
	Tracectl__AttachRequest attach = TRACECTL__ATTACH_REQUEST__INIT;
	Tracectl__ListProbesRequest list = TRACECTL__LIST_PROBES_REQUEST__INIT;
	struct cli_config cfg;
	SSL_CTX *tls = NULL;
	char err[512];

	log_set_program("tracectl");
	log_threshold = LOG_LEVEL_WARN;
	if (parse_args(argc, argv, &opt))
		return CLI_EXIT_USAGE;
	if (config_resolve(&cfg, opt.ca, opt.cert, opt.key, opt.config, err, sizeof(err))) {
		fprintf(stderr, "tracectl: %s\n", err);
		return CLI_EXIT_USAGE;
	}
	log_route_libraries();
	signal(SIGPIPE, SIG_IGN);
	tls = tls_client_ctx_new(cfg.ca, cfg.cert, cfg.key, err, sizeof(err));
	if (!tls) {
		fprintf(stderr, "tracectl: %s\n", err);
		return CLI_EXIT_USAGE;
	}
	run.base = event_base_new();
	if (!run.base)
		goto cleanup;
	run.render = (struct render){ .format = opt.format, .out = stdout, .host = opt.host,
				      .probe = opt.probe ? opt.probe : "" };
	run.conn = client_conn__new(run.base, tls, opt.host, opt.connect_timeout_ms, on_failure, &run, err,
				    sizeof(err));
	if (!run.conn) {
		fprintf(stderr, "tracectl: %s\n", err);
		run.exit_code = errno == EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_UNREACHABLE;
		goto cleanup;
	}
	if (strcmp(opt.command, "attach") == 0) {
		attach.probe = (char *)opt.probe;
		attach.duration_ns = opt.duration_ns;
		attach.interval_ns = opt.interval_ns;
		attach.n_params = opt.nparams;
		attach.params = opt.param_ptrs;
		req.call_case = TRACECTL__REQUEST__CALL_ATTACH;
		req.attach = &attach;
		run.call = client_conn__call(run.conn, &req, on_attach_response, &run);
	} else {
		req.call_case = TRACECTL__REQUEST__CALL_LIST_PROBES;
		req.list_probes = &list;
		run.call = client_conn__call(run.conn, &req, on_probes_response, &run);
	}
	if (!run.call)
		goto cleanup;
	run.sigint = evsignal_new(run.base, SIGINT, on_signal, &run);
	run.sigterm = evsignal_new(run.base, SIGTERM, on_signal, &run);
	if (!run.sigint || !run.sigterm || evsignal_add(run.sigint, NULL) || evsignal_add(run.sigterm, NULL))
		goto cleanup;
	if (opt.format == OUTPUT_TEXT && strcmp(opt.command, "attach") == 0 && isatty(STDERR_FILENO))
		fprintf(stderr, "Connecting to %s...\n", opt.host);
	event_base_dispatch(run.base);
cleanup:
	client_conn__free(&run.conn);
	if (run.sigint)
		event_free(run.sigint);
	if (run.sigterm)
		event_free(run.sigterm);
	if (run.base)
		event_base_free(run.base);
	SSL_CTX_free(tls);
	return (int)run.exit_code;
}
