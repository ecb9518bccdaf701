/* SPDX-License-Identifier: Apache-2.0 */
/* tracectl: the unprivileged controller; asks agents for catalog probes, renders results. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "cli.h"
#include "duration.h"
#include "hostport.h"
#include "log.h"
#include "recording.h"
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
		"  gate HOSTS PROBE    attach, then judge the summary against --max/--min/--max-regression;\n"
		"                      exit 0 pass, 7 failed, 8 could not measure (for CI)\n"
		"  record HOSTS PROBE -o FILE  attach and also write everything that arrives to FILE\n"
		"  report FILE         render a recording as if live (gate --from FILE judges one)\n"
		"  probes HOSTS [PROBE]  list the probes each host offers (or only PROBE) and whether\n"
		"                      its kernel runs them\n"
		"  status HOSTS...     agent version, kernel, uptime, sessions, probes available\n"
		"\n"
		"HOSTS is a comma-separated list (h1,h2:7000,[::1]:7470), a group @NAME from\n"
		"the config file, an inventory file @FILE (one host a line, optional :port,\n"
		"'#' comments), or -H HOST repeated.\n"
		"Default port " STR(TRACECTL_DEFAULT_PORT) ". Each agent's certificate must name its host and be\n"
		"signed by the CA. Hosts are contacted concurrently; a host that fails is named\n"
		"and the others carry on.\n"
		"\n"
		"Options for attach:\n"
		"      --per-host        also show each host's results, not only the merged view\n"
		"      --max-overhead PCT  budget of one core's time for the probe (kernel + agent);\n"
		"                        over it the agent samples (counts scaled), then detaches\n"
		"  -d, --duration DUR    stop after DUR (default: until Ctrl-C); e.g. 500ms, 10s, 2m, 1h\n"
		"  -i, --interval DUR    print a snapshot every DUR (default 1s)\n"
		"  -p, --pid PID         only this process\n"
		"  -c, --comm NAME       only tasks whose command name is NAME\n"
		"      --port PORT       only sockets with this local or remote port\n"
		"      --top N           rows per snapshot for count probes, largest first\n"
		"      --sort COLUMN     count probes: order rows by this column (default: the first)\n"
		"      --target SPEC     what to hook: func-count, func-latency: /path/to/binary:FUNC\n"
		"                        (a name or glob); tp-count: CATEGORY:PATTERN (sched:sched_*);\n"
		"                        kfunc-count: a kernel function or glob (tcp_send*);\n"
		"                        kfunc-latency: one kernel function (hrtimer_nanosleep)\n"
		"      --freq HZ         sampling frequency (profile)\n"
		"      --by KEY          split results (see 'tracectl probes HOST')\n"
		"      --measure WHAT    what a probe measures, when it offers a choice (see 'tracectl probes HOST')\n"
		"      --cgroup PATH     only tasks in this cgroup v2 (path under /sys/fs/cgroup)\n"
		"  -P, --param NAME=VALUE  any probe parameter by name\n"
		"Options for gate:\n"
		"      --max METRIC=LIMIT   fail above LIMIT; METRIC p50 p90 p99 p999 max mean (a duration:\n"
		"                        5ms, 250us), count, rate (per second); count probes: a column,\n"
		"                        COLUMN_rate, rows, or COLUMN{KEY=VALUE,...} for matching rows;\n"
		"                        event probes: count, rate, dropped\n"
		"      --min METRIC=LIMIT   fail below LIMIT\n"
		"      --baseline FILE   an earlier run's --save-baseline (or --output json) output\n"
		"      --max-regression METRIC=PCT%%  fail when METRIC exceeds the baseline by more than PCT\n"
		"      --save-baseline FILE  write this run's figures as a baseline\n"
		"      --junit FILE      write JUnit XML: one testcase per threshold, host and series\n"
		"      --gate-on merged|each-host  judge the merged result (default) or every host\n"
		"      --allow-missing N  tolerate N hosts that do not answer (default 0)\n"
		"      --series LABEL    judge only this series (default: every series with samples)\n"
		"      --from FILE       judge a recording instead of live hosts\n"
		"  -q, --quiet           no live output, only the verdicts\n"
		"Common options:\n"
		"  -H, --host HOST       add a target host (repeatable)\n"
		"  -o FILE               write the output to FILE (record: the recording)\n"
		"      --output FORMAT   text (default), json (one JSON object per line), or folded\n"
		"                        (count probes such as profile: 'a;b;c count' lines of the\n"
		"                        summary, the input of flame-graph tools), or svg (that\n"
		"                        summary as an interactive flame graph: --output svg -o cpu.svg),\n"
		"                        or prom (the summary as one Prometheus scrape)\n"
		"      --ca FILE         CA certificate that signs the agents   [env TRACECTL_CA]\n"
		"      --cert FILE       client certificate                     [env TRACECTL_CERT]\n"
		"      --key FILE        client private key                     [env TRACECTL_KEY]\n"
		"      --config FILE     config file: 'ca = PATH', 'cert = PATH', 'key = PATH',\n"
		"                        'port = N' (default agent port), 'group NAME = h1,h2:7000'\n"
		"                        [env TRACECTL_CONFIG; default ~/.config/tracectl/config]\n"
		"      --connect-timeout DUR  give up connecting after DUR (default 5s)\n"
		"  -v, --verbose         log more (repeat for debug)\n"
		"  -h, --help            this text\n"
		"  -V, --version         print the version\n"
		"\n"
		"Examples:\n"
		"  tracectl probes localhost\n"
		"  tracectl attach host1 tcp-latency --duration 30s --pid 1234\n"
		"  tracectl attach 10.0.0.7:7470 tcp-latency -d 10s --output json\n"
		"  tracectl attach @fleet.txt tcp-latency -d 30s --per-host\n"
		"  tracectl gate web1,web2 tcp-latency -d 60s --max p99=5ms --min count=1000 --junit out.xml\n"
		"  tracectl record web1 tcp-latency -d 1m -o run.trace && tracectl report run.trace\n"
		"\n"
		"Exit status:\n"
		"  0  success (also when stopped with Ctrl-C)\n"
		"  1  run-time failure (protocol error, agent internal error)\n"
		"  2  usage error: bad option, duration, or configuration\n"
		"  3  host unreachable: cannot resolve or connect, or the connection dropped\n"
		"  4  TLS failure: agent certificate not trusted, or our certificate refused\n"
		"  5  request rejected by the agent: unknown or unsupported probe, bad parameter\n"
		"  6  partial: some hosts answered, others failed (each failure is named)\n"
		"  7  gate failed: a threshold was crossed\n"
		"  8  gate could not measure: no data, or no host answered\n"
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
	bool per_host, quiet;
	const char *sort;
	uint32_t max_overhead_ppm;
	const char *command, *probe;
	const char *out_file;  /* -o FILE: the recording (record), or where output goes */
	const char *from_file; /* gate --from / report FILE: a recording instead of hosts */
	struct inventory targets;
	/* target specs as written ("h1,h2", "@file", "@group"), resolved once the
	 * config (groups, default port) is read */
	const char *specs[256];
	size_t nspecs;
	struct gate_options gate;
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

static int add_spec(struct options *o, const char *spec)
{
	if (o->nspecs == sizeof(o->specs) / sizeof(o->specs[0])) {
		fprintf(stderr, "tracectl: too many host arguments\n");
		return -EINVAL;
	}
	o->specs[o->nspecs++] = spec;
	return 0;
}

/* "h1,h2:7000", "@group" from the config, or "@inventory-file" */
static int add_targets(struct options *o, const struct cli_config *cfg, const char *spec, char *err, size_t errlen)
{
	uint16_t port = cfg->port ? cfg->port : TRACECTL_DEFAULT_PORT;
	const char *group;

	if (spec[0] == '@') {
		group = config_group(cfg, spec + 1);
		if (group)
			return inventory_add_list(&o->targets, group, port, err, errlen);
		return inventory_load(&o->targets, spec + 1, port, err, errlen);
	}
	return inventory_add_list(&o->targets, spec, port, err, errlen);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_CA = 256, OPT_CERT, OPT_KEY, OPT_CONFIG, OPT_PORT, OPT_CONNECT_TIMEOUT, OPT_TOP, OPT_TARGET,
	       OPT_FREQ, OPT_BY, OPT_CGROUP, OPT_PER_HOST, OPT_OUTPUT, OPT_MAX, OPT_MIN, OPT_MAX_REGRESSION,
	       OPT_BASELINE, OPT_SAVE_BASELINE, OPT_JUNIT, OPT_GATE_ON, OPT_ALLOW_MISSING, OPT_SERIES, OPT_FROM,
	       OPT_MAX_OVERHEAD, OPT_SORT, OPT_MEASURE };
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
		{ "measure", required_argument, NULL, OPT_MEASURE },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "param", required_argument, NULL, 'P' },
		{ "host", required_argument, NULL, 'H' },
		{ "per-host", no_argument, NULL, OPT_PER_HOST },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "max", required_argument, NULL, OPT_MAX },
		{ "min", required_argument, NULL, OPT_MIN },
		{ "max-regression", required_argument, NULL, OPT_MAX_REGRESSION },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "save-baseline", required_argument, NULL, OPT_SAVE_BASELINE },
		{ "junit", required_argument, NULL, OPT_JUNIT },
		{ "gate-on", required_argument, NULL, OPT_GATE_ON },
		{ "allow-missing", required_argument, NULL, OPT_ALLOW_MISSING },
		{ "series", required_argument, NULL, OPT_SERIES },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "quiet", no_argument, NULL, 'q' },
		{ "max-overhead", required_argument, NULL, OPT_MAX_OVERHEAD },
		{ "sort", required_argument, NULL, OPT_SORT },
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

	/* getopt's own messages name the binary by its full path; ours say tracectl: */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":d:i:p:c:o:P:H:qvhV", options, NULL)) != -1) {
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
		case OPT_MEASURE:
		case OPT_CGROUP:
			if (add_param(o,
				      opt == OPT_TARGET  ? "target"
				      : opt == OPT_BY    ? "by"
				      : opt == OPT_MEASURE ? "measure"
							   : "cgroup",
				      optarg))
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
			o->out_file = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_MAX:
		case OPT_MIN:
		case OPT_MAX_REGRESSION:
			if (gate_add_threshold(&o->gate, opt == OPT_MAX ? GATE_MAX : opt == OPT_MIN ? GATE_MIN : GATE_REGRESSION,
					       optarg, err, sizeof(err))) {
				fprintf(stderr, "tracectl: %s\n", err);
				return -EINVAL;
			}
			break;
		case OPT_BASELINE:
			o->gate.baseline = optarg;
			break;
		case OPT_SAVE_BASELINE:
			o->gate.save_baseline = optarg;
			break;
		case OPT_JUNIT:
			o->gate.junit = optarg;
			break;
		case OPT_SERIES:
			o->gate.series = optarg;
			break;
		case OPT_FROM:
			o->from_file = optarg;
			break;
		case OPT_SORT:
			o->sort = optarg;
			break;
		case OPT_MAX_OVERHEAD: {
			char *end;
			double pct = strtod(optarg, &end);

			if (end == optarg || (*end && strcmp(end, "%") != 0) || pct <= 0 || pct > 100) {
				fprintf(stderr, "tracectl: bad --max-overhead '%s' (a percentage of one core, e.g. 1%%)\n",
					optarg);
				return -EINVAL;
			}
			o->max_overhead_ppm = (uint32_t)(pct * 10000);
			break;
		}
		case OPT_GATE_ON:
			if (strcmp(optarg, "merged") && strcmp(optarg, "each-host")) {
				fprintf(stderr, "tracectl: bad --gate-on '%s' (merged or each-host)\n", optarg);
				return -EINVAL;
			}
			o->gate.each_host = strcmp(optarg, "each-host") == 0;
			break;
		case OPT_ALLOW_MISSING:
			if (parse_number(optarg, "--allow-missing", 0, 100000, &number))
				return -EINVAL;
			o->gate.allow_missing = number;
			break;
		case OPT_OUTPUT:
			if (render_format_parse(optarg, &o->format)) {
				fprintf(stderr, "tracectl: bad --output '%s' (text, json, folded, svg or prom)\n", optarg);
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
			if (add_spec(o, optarg))
				return -EINVAL;
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
		case ':':
			fprintf(stderr, "tracectl: option '%s' needs a value\nTry 'tracectl --help'.\n", argv[optind - 1]);
			return -EINVAL;
		default:
			if (optopt)
				fprintf(stderr, "tracectl: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "tracectl: unknown option '%s'\n", argv[optind - 1]);
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
	    strcmp(o->command, "status") != 0 && strcmp(o->command, "gate") != 0 &&
	    strcmp(o->command, "record") != 0 && strcmp(o->command, "report") != 0) {
		fprintf(stderr, "tracectl: unknown command '%s' (attach, gate, record, report, probes, status; see --help)\n",
			o->command);
		return -EINVAL;
	}
	if (strcmp(o->command, "report") == 0) {
		if (optind >= argc) {
			fprintf(stderr, "tracectl: report needs a recording FILE (made by 'tracectl record ... -o FILE')\n");
			return -EINVAL;
		}
		o->from_file = argv[optind++];
	} else if (strcmp(o->command, "gate") == 0 && o->from_file) {
		/* gate --from FILE [PROBE]: the recording names its hosts and probe */
		if (optind < argc)
			o->probe = argv[optind++];
	} else if (!strcmp(o->command, "attach") || !strcmp(o->command, "gate") || !strcmp(o->command, "record")) {
		/* CMD HOSTS PROBE, or CMD PROBE with -H */
		if (!o->nspecs && optind < argc && add_spec(o, argv[optind++]))
			return -EINVAL;
		if (optind >= argc) {
			fprintf(stderr, "tracectl: %s needs a PROBE after the hosts ('tracectl probes HOST' lists them)\n",
				o->command);
			return -EINVAL;
		}
		o->probe = argv[optind++];
	}
	if (strcmp(o->command, "record") == 0 && !o->out_file) {
		fprintf(stderr, "tracectl: record needs -o FILE, the recording to write\n");
		return -EINVAL;
	}
	if (strcmp(o->command, "gate") == 0 && !o->gate.n) {
		fprintf(stderr, "tracectl: gate needs at least one --max, --min or --max-regression\n");
		return -EINVAL;
	}
	if (!strcmp(o->command, "probes")) {
		/* probes HOSTS [PROBE]: a word after the hosts names the probe to show, not a host */
		if (!o->nspecs && optind < argc && add_spec(o, argv[optind++]))
			return -EINVAL;
		if (optind < argc)
			o->probe = argv[optind++];
	}
	for (; optind < argc && !strcmp(o->command, "status"); optind++) {
		if (add_spec(o, argv[optind]))
			return -EINVAL;
	}
	if (optind < argc) {
		fprintf(stderr, "tracectl: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->nspecs && !o->from_file) {
		fprintf(stderr, "tracectl: %s needs HOSTS (a list, @FILE, @GROUP or -H HOST)\n", o->command);
		return -EINVAL;
	}
	return 0;
}

/* The recording's hosts become the targets, its request the attach. */
static int targets_from_recording(struct options *opt, const Tracectl__RecordHeader *hdr, char *err, size_t errlen)
{
	for (size_t i = 0; i < hdr->n_hosts; i++) {
		/* as recorded, duplicates included: host indexes must line up */
		if (inventory_add(&opt->targets, hdr->hosts[i], TRACECTL_DEFAULT_PORT)) {
			snprintf(err, errlen, "recording names a bad host '%.64s'", hdr->hosts[i]);
			return -EINVAL;
		}
	}
	if (opt->targets.n != hdr->n_hosts) {
		snprintf(err, errlen, "recording lists a host twice");
		return -EINVAL;
	}
	return 0;
}

/*
 * Every host's windows end at the same wall-clock times: the first one half an
 * interval (at most 1 s, at least 100 ms) from now, after a fleet has had time
 * to attach, so the first merged picture comes before a whole interval has passed.
 */
static uint64_t first_window_end(uint64_t interval_ns)
{
	uint64_t first = interval_ns / 2;

	if (first > 1000000000ULL)
		first = 1000000000ULL;
	if (first < 100000000ULL)
		first = interval_ns < 100000000ULL ? interval_ns : 100000000ULL;
	return clock_ns(CLOCK_REALTIME) + first;
}

static const char *format_name(enum output_format f)
{
	return f == OUTPUT_FOLDED ? "folded" : f == OUTPUT_SVG ? "svg" : f == OUTPUT_PROM ? "prom" : "text";
}

/* Which of the probe's result kinds (as ListProbes names them) a format can show. */
static bool format_fits(enum output_format f, const char *kind)
{
	if (f == OUTPUT_FOLDED || f == OUTPUT_SVG)
		return strcmp(kind, "counts") == 0;
	if (f == OUTPUT_PROM)
		return strcmp(kind, "events") != 0;
	return true;
}

/*
 * Asks the first host's catalog about the probe: a name it does not know gets the
 * nearest one suggested, a format the probe's kind cannot show is refused before
 * anything attaches or is written. The kinds come from the agent, so there is no
 * second copy of the catalog here. Returns CLI_EXIT_OK to go on; a host that
 * does not answer is left to the attach to report. refused: the agent has said
 * why already, only the suggestion is added.
 */
static enum cli_exit check_probe(const struct options *o, SSL_CTX *tls, bool refused)
{
	const struct inventory_host *host = &o->targets.hosts[0];
	Tracectl__Response *resp = client_list_probes(tls, host, o->connect_timeout_ms);
	const Tracectl__ProbeInfo *info;
	enum cli_exit code = CLI_EXIT_OK;
	const char *near;

	if (!resp)
		return CLI_EXIT_OK;
	info = catalog_find(resp->probes, o->probe);
	if (!info) {
		near = catalog_nearest(resp->probes, o->probe);
		code = CLI_EXIT_REJECTED;
		if (refused) {
			if (near)
				fprintf(stderr, "tracectl: did you mean %s?\n", near);
			goto cleanup;
		}
		fprintf(stderr, "tracectl: %s: unknown probe '%s'", host->name, o->probe);
		if (near)
			fprintf(stderr, "; did you mean %s?", near);
		fprintf(stderr, " ('tracectl probes %s' lists them)\n", host->name);
	} else if (!format_fits(o->format, info->result_kind)) {
		fprintf(stderr, "tracectl: --output %s does not fit %s, whose result kind is %s (%s)\n", format_name(o->format),
			o->probe, info->result_kind,
			o->format == OUTPUT_PROM ? "prom shows histogram and count probes"
						 : "folded and svg show count probes with stacks, such as profile");
		code = CLI_EXIT_USAGE;
	}
cleanup:
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}

int main(int argc, char **argv)
{
	struct options opt = { .format = OUTPUT_TEXT, .interval_ns = 1000000000ULL, .connect_timeout_ms = 5000 };
	Tracectl__Request req = TRACECTL__REQUEST__INIT;
	Tracectl__AttachRequest attach = TRACECTL__ATTACH_REQUEST__INIT;
	Tracectl__ListProbesRequest list = TRACECTL__LIST_PROBES_REQUEST__INIT;
	Tracectl__StatusRequest status = TRACECTL__STATUS_REQUEST__INIT;
	Tracectl__RecordHeader hdr = TRACECTL__RECORD_HEADER__INIT;
	const Tracectl__RecordHeader *replay_hdr = NULL;
	struct recording_reader *reader = NULL;
	struct fleet_options fo = { 0 };
	struct fleet_result result = { 0 };
	enum cli_exit code = CLI_EXIT_USAGE;
	bool is_gate, needs_hosts;
	char **host_names = NULL;
	struct cli_config cfg;
	SSL_CTX *tls = NULL;
	char err[512];

	log_set_program("tracectl");
	log_threshold = LOG_LEVEL_WARN;
	inventory_init(&opt.targets);
	if (parse_args(argc, argv, &opt))
		goto cleanup;
	is_gate = strcmp(opt.command, "gate") == 0;
	needs_hosts = !opt.from_file;
	log_route_libraries();
	signal(SIGPIPE, SIG_IGN);
	if (config_resolve(&cfg, opt.ca, opt.cert, opt.key, opt.config, needs_hosts, err, sizeof(err))) {
		fprintf(stderr, "tracectl: %s\n", err);
		goto cleanup;
	}
	for (size_t i = 0; i < opt.nspecs; i++) {
		if (add_targets(&opt, &cfg, opt.specs[i], err, sizeof(err))) {
			fprintf(stderr, "tracectl: %s\n", err);
			goto cleanup;
		}
	}
	if (opt.targets.duplicates)
		fprintf(stderr, "tracectl: %zu duplicate host(s) ignored\n", opt.targets.duplicates);
	if (needs_hosts) {
		tls = tls_client_ctx_new(cfg.ca, cfg.cert, cfg.key, err, sizeof(err));
		if (!tls) {
			fprintf(stderr, "tracectl: %s\n", err);
			goto cleanup;
		}
	} else {
		code = CLI_EXIT_FAILURE;
		if (recording_reader_open(&reader, opt.from_file, &replay_hdr, err, sizeof(err))) {
			fprintf(stderr, "tracectl: %s\n", err);
			goto cleanup;
		}
		if (opt.probe && strcmp(opt.probe, replay_hdr->probe) != 0) {
			fprintf(stderr, "tracectl: %s recorded %s, not %s\n", opt.from_file, replay_hdr->probe, opt.probe);
			code = CLI_EXIT_USAGE;
			goto cleanup;
		}
		inventory_free(&opt.targets);
		if (targets_from_recording(&opt, replay_hdr, err, sizeof(err))) {
			fprintf(stderr, "tracectl: %s: %s\n", opt.from_file, err);
			goto cleanup;
		}
		opt.probe = replay_hdr->probe;
		opt.interval_ns = replay_hdr->interval_ns ? replay_hdr->interval_ns : opt.interval_ns;
		opt.duration_ns = replay_hdr->duration_ns;
		fo.replay = reader;
	}
	/* a format that needs the probe's kind is checked before attaching; so is any
	 * probe name once an agent has refused it, to suggest the one meant */
	if (needs_hosts && opt.probe && opt.targets.n && strcmp(opt.command, "probes") && opt.format != OUTPUT_TEXT && opt.format != OUTPUT_JSON) {
		code = check_probe(&opt, tls, false);
		if (code != CLI_EXIT_OK)
			goto cleanup;
		code = CLI_EXIT_USAGE;
	}
	/* only now: a refused command leaves no file behind */
	if (opt.out_file && strcmp(opt.command, "record") != 0 && !freopen(opt.out_file, "w", stdout)) {
		fprintf(stderr, "tracectl: cannot write '%s': %s\n", opt.out_file, strerror(errno));
		goto cleanup;
	}
	fo.targets = &opt.targets;
	fo.request = &req;
	fo.interval_ns = opt.interval_ns;
	fo.duration_ns = opt.duration_ns;
	fo.connect_timeout_ms = opt.connect_timeout_ms;
	fo.format = opt.format;
	fo.per_host = opt.per_host;
	fo.quiet = opt.quiet;
	fo.status_on_stderr = opt.out_file && strcmp(opt.command, "record") != 0 && isatty(STDERR_FILENO);
	fo.sort = opt.sort;
	/* the top N is taken over the merged set here; the agent keeps the top rows by
	 * the probe's first column, so to rank by another, ask it for every row */
	for (size_t i = 0; i < opt.nparams; i++) {
		if (strcmp(opt.params[i].name, "top") == 0) {
			fo.top = (uint32_t)strtoul(opt.params[i].value, NULL, 10);
			if (opt.sort) {
				opt.params[i] = opt.params[--opt.nparams];
				opt.param_ptrs[i] = &opt.params[i];
			}
			break;
		}
	}
	if (strcmp(opt.command, "probes") == 0) {
		req.call_case = TRACECTL__REQUEST__CALL_LIST_PROBES;
		req.list_probes = &list;
		fo.command = FLEET_PROBES;
		fo.probe = opt.probe;
	} else if (strcmp(opt.command, "status") == 0) {
		req.call_case = TRACECTL__REQUEST__CALL_STATUS;
		req.status = &status;
		fo.command = FLEET_STATUS;
	} else {
		attach.probe = (char *)opt.probe;
		attach.duration_ns = opt.duration_ns;
		attach.interval_ns = opt.interval_ns;
		attach.n_params = opt.nparams;
		attach.params = opt.param_ptrs;
		attach.max_overhead_ppm = opt.max_overhead_ppm;
		attach.align_unix_ns = first_window_end(opt.interval_ns);
		req.call_case = TRACECTL__REQUEST__CALL_ATTACH;
		req.attach = &attach;
		fo.command = FLEET_ATTACH;
		fo.probe = opt.probe;
		if (is_gate)
			fo.result = &result;
		if (opt.format == OUTPUT_TEXT && isatty(STDERR_FILENO) && opt.targets.n == 1 && needs_hosts)
			fprintf(stderr, "Connecting to %s...\n", opt.targets.hosts[0].name);
	}
	if (strcmp(opt.command, "record") == 0) {
		host_names = calloc(opt.targets.n, sizeof(*host_names));
		if (!host_names)
			goto cleanup;
		for (size_t i = 0; i < opt.targets.n; i++)
			host_names[i] = opt.targets.hosts[i].name;
		hdr.format_version = RECORDING_FORMAT_VERSION;
		hdr.tracectl_version = TRACECTL_VERSION;
		hdr.probe = (char *)opt.probe;
		hdr.n_params = opt.nparams;
		hdr.params = opt.param_ptrs;
		hdr.n_hosts = opt.targets.n;
		hdr.hosts = host_names;
		hdr.interval_ns = opt.interval_ns;
		hdr.duration_ns = opt.duration_ns;
		hdr.start_unix_ns = (uint64_t)time(NULL) * 1000000000ULL;
		if (recording_writer_open(&fo.record, opt.out_file, &hdr, err, sizeof(err))) {
			fprintf(stderr, "tracectl: %s\n", err);
			goto cleanup;
		}
	}
	code = fleet_run(&fo, tls);
	if (code == CLI_EXIT_REJECTED && needs_hosts && opt.probe && opt.targets.n && strcmp(opt.command, "probes"))
		check_probe(&opt, tls, true);
	if (fo.record && recording_writer_close(&fo.record, err, sizeof(err))) {
		fprintf(stderr, "tracectl: %s\n", err);
		code = CLI_EXIT_FAILURE;
	}
	if (is_gate && code != CLI_EXIT_USAGE)
		code = gate_run(&opt.gate, &result, opt.probe, opt.format);
cleanup:
	recording_writer_close(&fo.record, err, sizeof(err));
	recording_reader_close(&reader);
	fleet_result_free(&result);
	free(host_names);
	SSL_CTX_free(tls);
	inventory_free(&opt.targets);
	return (int)code;
}
