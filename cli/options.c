/* SPDX-License-Identifier: Apache-2.0 */
/* tracectl's options, one table row each: the help text and getopt's arrays come from it. */
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "hostport.h"
#include "log.h"

#define STR_(x) #x
#define STR(x) STR_(x)

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

/* Adds NAME=VALUE (both point into argv, which outlives the request). */
static int add_param(struct cli_options *o, const char *name, char *value)
{
	for (size_t i = 0; i < o->nparams; i++) {
		if (strcmp(o->params[i].name, name) == 0) {
			fprintf(stderr, "tracectl: parameter '%s' given twice\n", name);
			return -EINVAL;
		}
	}
	if (o->nparams == CLI_MAX_PARAMS) {
		fprintf(stderr, "tracectl: more than %d probe parameters\n", CLI_MAX_PARAMS);
		return -EINVAL;
	}
	tracectl__param__init(&o->params[o->nparams]);
	o->params[o->nparams].name = (char *)name;
	o->params[o->nparams].value = value;
	o->param_ptrs[o->nparams] = &o->params[o->nparams];
	o->nparams++;
	return 0;
}

static int add_spec(struct cli_options *o, const char *spec)
{
	if (o->nspecs == sizeof(o->specs) / sizeof(o->specs[0])) {
		fprintf(stderr, "tracectl: too many host arguments\n");
		return -EINVAL;
	}
	o->specs[o->nspecs++] = spec;
	return 0;
}

void cli_unknown_option(const char *name)
{
	fprintf(stderr, "tracectl: unknown option '--%s'\nTry 'tracectl --help'.\n", name);
}

/* ---- the typed handlers ---- */

static const char *dashed(const struct opt_row *row, char *buf, size_t len)
{
	snprintf(buf, len, "--%s", row->name);
	return buf;
}

/* A number from min to max: the probe parameter row->param, or a uint32_t field. */
static int opt_number(const struct opt_row *row, char *arg, void *ctx)
{
	char what[64];
	uint32_t n;

	if (parse_number(arg, dashed(row, what, sizeof(what)), (uint32_t)row->min, (uint32_t)row->max, &n))
		return -EINVAL;
	if (row->param)
		return add_param(ctx, row->param, arg);
	*(uint32_t *)opt_field(row, ctx) = n;
	return 0;
}

/* A duration into a uint64_t field (ns); one under row->min is refused in row->hint's words. */
static int opt_duration(const struct opt_row *row, char *arg, void *ctx)
{
	uint64_t *ns = opt_field(row, ctx);
	char what[64];

	if (parse_duration_opt(arg, dashed(row, what, sizeof(what)), ns))
		return -EINVAL;
	if (*ns < row->min) {
		fputs("tracectl: ", stderr);
		fprintf(stderr, row->hint, arg);
		fputc('\n', stderr);
		return -EINVAL;
	}
	return 0;
}

static int opt_string(const struct opt_row *row, char *arg, void *ctx)
{
	*(const char **)opt_field(row, ctx) = arg;
	return 0;
}

static int opt_flag(const struct opt_row *row, char *arg, void *ctx)
{
	(void)arg;
	*(bool *)opt_field(row, ctx) = true;
	return 0;
}

/* A probe parameter passed as written (the agent checks it), its length bounded when max is set. */
static int opt_param(const struct opt_row *row, char *arg, void *ctx)
{
	size_t len = strlen(arg);

	if (row->max && (len < row->min || len > row->max)) {
		fprintf(stderr, "tracectl: bad --%s '%s' (%s)\n", row->name, arg, row->hint);
		return -EINVAL;
	}
	return add_param(ctx, row->param, arg);
}

/* ---- the odd ones ---- */

static int opt_any_param(const struct opt_row *row, char *arg, void *ctx)
{
	char *eq = strchr(arg, '=');

	(void)row;
	if (!eq || eq == arg) {
		fprintf(stderr, "tracectl: bad --param '%s' (write NAME=VALUE)\n", arg);
		return -EINVAL;
	}
	*eq = '\0';
	return add_param(ctx, arg, eq + 1);
}

/* --max, --min, --max-regression: row->min is the enum gate_kind */
static int opt_threshold(const struct opt_row *row, char *arg, void *ctx)
{
	struct cli_options *o = ctx;
	char err[512];

	if (gate_add_threshold(&o->gate, (enum gate_kind)row->min, arg, err, sizeof(err))) {
		fprintf(stderr, "tracectl: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

static int opt_max_overhead(const struct opt_row *row, char *arg, void *ctx)
{
	struct cli_options *o = ctx;
	char *end;
	double pct = strtod(arg, &end);

	(void)row;
	if (end == arg || (*end && strcmp(end, "%") != 0) || pct <= 0 || pct > 100) {
		fprintf(stderr, "tracectl: bad --max-overhead '%s' (a percentage of one core, e.g. 1%%)\n", arg);
		return -EINVAL;
	}
	o->max_overhead_ppm = (uint32_t)(pct * 10000);
	return 0;
}

static int opt_gate_on(const struct opt_row *row, char *arg, void *ctx)
{
	struct cli_options *o = ctx;

	(void)row;
	if (strcmp(arg, "merged") && strcmp(arg, "each-host")) {
		fprintf(stderr, "tracectl: bad --gate-on '%s' (merged or each-host)\n", arg);
		return -EINVAL;
	}
	o->gate.each_host = strcmp(arg, "each-host") == 0;
	return 0;
}

static int opt_allow_missing(const struct opt_row *row, char *arg, void *ctx)
{
	struct cli_options *o = ctx;
	uint32_t n;

	if (parse_number(arg, "--allow-missing", (uint32_t)row->min, (uint32_t)row->max, &n))
		return -EINVAL;
	o->gate.allow_missing = n;
	return 0;
}

static int opt_output(const struct opt_row *row, char *arg, void *ctx)
{
	struct cli_options *o = ctx;

	(void)row;
	if (render_format_parse(arg, &o->format)) {
		fprintf(stderr, "tracectl: bad --output '%s' (text, json, folded, svg or prom)\n", arg);
		return -EINVAL;
	}
	return 0;
}

static int opt_connect_timeout(const struct opt_row *row, char *arg, void *ctx)
{
	struct cli_options *o = ctx;
	uint64_t ns;

	(void)row;
	if (parse_duration_opt(arg, "--connect-timeout", &ns))
		return -EINVAL;
	o->connect_timeout_ms = ns / 1000000ULL ? ns / 1000000ULL : 1;
	return 0;
}

static int opt_host(const struct opt_row *row, char *arg, void *ctx)
{
	(void)row;
	return add_spec(ctx, arg);
}

static int opt_verbose(const struct opt_row *row, char *arg, void *ctx)
{
	(void)row, (void)arg, (void)ctx;
	if (log_threshold < LOG_LEVEL_DEBUG)
		log_threshold++;
	return 0;
}

static int opt_help(const struct opt_row *row, char *arg, void *ctx)
{
	(void)row, (void)arg, (void)ctx;
	cli_usage(stdout);
	exit(CLI_EXIT_OK);
}

static int opt_version(const struct opt_row *row, char *arg, void *ctx)
{
	(void)row, (void)arg, (void)ctx;
	printf("tracectl %s\n", TRACECTL_VERSION);
	exit(CLI_EXIT_OK);
}

#define FIELD(f) .offset = offsetof(struct cli_options, f)
#define HEADING(text) { .help = text }

const struct opt_row cli_option_rows[] = {
	HEADING("Options for attach:"),
	{ "per-host", 0, NULL, "also show each host's results, not only the merged view", opt_flag, FIELD(per_host) },
	{ "max-overhead", 0, "PCT", "budget of one core's time for the probe (kernel + agent);\n"
	  "over it the agent samples (counts scaled), then detaches", .parse = opt_max_overhead },
	{ "duration", 'd', "DUR", "stop after DUR (default: until Ctrl-C); e.g. 500ms, 10s, 2m, 1h", opt_duration,
	  FIELD(duration_ns), .min = 1, .hint = "--duration must be more than 0 (omit it to run until Ctrl-C)" },
	{ "interval", 'i', "DUR", "print a snapshot every DUR (default 1s)", opt_duration, FIELD(interval_ns),
	  .min = 100000000ULL, .hint = "--interval '%s' is shorter than the 100ms minimum" },
	{ "pid", 'p', "PID", "only this process", opt_number, .min = 1, .max = 4194304, .param = "pid" },
	{ "comm", 'c', "NAME", "only tasks whose command name is NAME", opt_param, .min = 1, .max = 15,
	  .param = "comm", .hint = "1 to 15 characters, as in /proc/PID/comm" },
	{ "port", 0, "PORT", "only sockets with this local or remote port", opt_number, .min = 1, .max = 65535,
	  .param = "port" },
	{ "top", 0, "N", "rows per snapshot for count probes, largest first", opt_number, .min = 1, .max = 100000,
	  .param = "top" },
	{ "sort", 0, "COLUMN", "count probes: order rows by this column (default: the first)", opt_string,
	  FIELD(sort) },
	{ "target", 0, "SPEC", "what to hook: func-count, func-latency: /path/to/binary:FUNC\n"
	  "(a name or glob); tp-count: CATEGORY:PATTERN (sched:sched_*)", opt_param, .param = "target" },
	{ "freq", 0, "HZ", "sampling frequency (profile)", opt_number, .min = 1, .max = 10000, .param = "freq" },
	{ "by", 0, "KEY", "split results (see 'tracectl probes HOST'); container, pod, service:\n"
	  "by the task's workload, where a probe offers them", opt_param, .param = "by" },
	{ "measure", 0, "WHAT", "what a probe measures, when it offers a choice (see 'tracectl probes HOST')",
	  opt_param, .param = "measure" },
	{ "cgroup", 0, "PATH", "only tasks in this cgroup v2 or below (path under the cgroup2 mount)", opt_param,
	  .param = "cgroup" },
	{ "min-block", 0, "DUR", "offcpu: count only blocks at least DUR long (e.g. 1ms)", opt_param,
	  .param = "min-block" },
	{ "container", 0, "ID", "only tasks in this container (a unique prefix of its 64-hex id)", opt_param,
	  .param = "container" },
	{ "pod", 0, "UID", "only tasks in this Kubernetes pod (its UID)", opt_param, .param = "pod" },
	{ "service", 0, "NAME", "only tasks in this systemd service (NAME or NAME.service)", opt_param,
	  .param = "service" },
	{ "param", 'P', "NAME=VALUE", "any probe parameter by name; --NAME VALUE too, for a parameter\n"
	  "'tracectl probes HOST' lists without an option above", .parse = opt_any_param },
	HEADING("Options for gate:"),
	{ "max", 0, "METRIC=LIMIT", "fail above LIMIT; METRIC p50 p90 p99 p999 max mean (a duration:\n"
	  "5ms, 250us), count, rate (per second); count probes: a column,\n"
	  "COLUMN_rate, rows, or COLUMN{KEY=VALUE,...} for matching rows;\n"
	  "event probes: count, rate, dropped", opt_threshold, .min = GATE_MAX },
	{ "min", 0, "METRIC=LIMIT", "fail below LIMIT", opt_threshold, .min = GATE_MIN },
	{ "baseline", 0, "FILE", "an earlier run's --save-baseline (or --output json) output", opt_string,
	  FIELD(gate.baseline) },
	{ "max-regression", 0, "METRIC=PCT%", "fail when METRIC exceeds the baseline by more than PCT",
	  opt_threshold, .min = GATE_REGRESSION },
	{ "save-baseline", 0, "FILE", "write this run's figures as a baseline", opt_string, FIELD(gate.save_baseline) },
	{ "junit", 0, "FILE", "write JUnit XML: one testcase per threshold, host and series", opt_string,
	  FIELD(gate.junit) },
	{ "gate-on", 0, "merged|each-host", "judge the merged result (default) or every host", .parse = opt_gate_on },
	{ "allow-missing", 0, "N", "tolerate N hosts that do not answer (default 0)", opt_allow_missing, .min = 0,
	  .max = 100000 },
	{ "series", 0, "LABEL", "judge only this series (default: every series with samples)", opt_string,
	  FIELD(gate.series) },
	{ "from", 0, "FILE", "judge a recording instead of live hosts", opt_string, FIELD(from_file) },
	{ "quiet", 'q', NULL, "no live output, only the verdicts", opt_flag, FIELD(quiet) },
	HEADING("Common options:"),
	{ "host", 'H', "HOST", "add a target host (repeatable)", .parse = opt_host },
	{ NULL, 'o', "FILE", "write the output to FILE (record: the recording)", opt_string, FIELD(out_file) },
	{ "output", 0, "FORMAT", "text (default), json (one JSON object per line), or folded\n"
	  "(count probes with stacks, profile and offcpu: 'a;b;c count'\n"
	  "lines of the summary, the input of flame-graph tools), or\n"
	  "svg (that summary as an interactive flame graph: --output\n"
	  "svg -o cpu.svg), or prom (the summary as one Prometheus scrape)", .parse = opt_output },
	{ "ca", 0, "FILE", "CA certificate that signs the agents   [env TRACECTL_CA]", opt_string, FIELD(ca) },
	{ "cert", 0, "FILE", "client certificate                     [env TRACECTL_CERT]", opt_string, FIELD(cert) },
	{ "key", 0, "FILE", "client private key                     [env TRACECTL_KEY]", opt_string, FIELD(key) },
	{ "config", 0, "FILE", "config file: 'ca = PATH', 'cert = PATH', 'key = PATH',\n"
	  "'port = N' (default agent port), 'group NAME = h1,h2:7000'\n"
	  "[env TRACECTL_CONFIG; default ~/.config/tracectl/config]", opt_string, FIELD(config) },
	{ "connect-timeout", 0, "DUR", "give up connecting after DUR (default 5s)", .parse = opt_connect_timeout },
	{ "verbose", 'v', NULL, "log more (repeat for debug)", .parse = opt_verbose },
	{ "help", 'h', NULL, "this text", .parse = opt_help },
	{ "version", 'V', NULL, "print the version", .parse = opt_version },
};
const size_t cli_option_count = sizeof(cli_option_rows) / sizeof(cli_option_rows[0]);

#define HELP_COLUMN 24

void cli_usage(FILE *out)
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
		"\n");
	opt_table_usage(out, cli_option_rows, cli_option_count, HELP_COLUMN);
	fprintf(out,
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

/* getopt refuses an abbreviation that fits two options: that is a typo, not a parameter */
static bool abbreviates_option(const char *name)
{
	size_t len = strcspn(name, "=");

	for (size_t i = 0; i < cli_option_count; i++)
		if (cli_option_rows[i].name && strncmp(cli_option_rows[i].name, name, len) == 0)
			return true;
	return false;
}

/*
 * An option the table does not have: "--NAME VALUE" (or --NAME=VALUE) becomes the probe
 * parameter NAME, which the agent's catalog must know (checked before attaching).
 * Anything else is refused here as getopt would have.
 */
static int take_unknown(int argc, char **argv, struct cli_options *o)
{
	char *text = argv[optind - 1], *name = text + 2, *eq, *value = NULL;

	if (optopt) {
		fprintf(stderr, "tracectl: unknown option '-%c'\nTry 'tracectl --help'.\n", optopt);
		return -EINVAL;
	}
	eq = strncmp(text, "--", 2) == 0 ? strchr(name, '=') : NULL;
	if (eq && eq != name)
		value = eq + 1;
	else if (!eq && optind < argc && argv[optind][0] != '-')
		value = argv[optind];
	if (!value || !*name || strncmp(text, "--", 2) != 0 || abbreviates_option(name)) {
		fprintf(stderr, "tracectl: unknown option '%s'\nTry 'tracectl --help'.\n", text);
		return -EINVAL;
	}
	if (!eq)
		optind++; /* as getopt takes an option's value: it is permuted with the option */
	else
		*eq = '\0';
	if (add_param(o, name, value))
		return -EINVAL;
	o->generic[o->ngeneric++] = name;
	return 0;
}

static int parse_options(int argc, char **argv, struct cli_options *o)
{
	static struct option longopts[sizeof(cli_option_rows) / sizeof(cli_option_rows[0]) + 1];
	static char shortopts[2 * sizeof(cli_option_rows) / sizeof(cli_option_rows[0]) + 2];
	const struct opt_row *row;
	int opt;

	/* getopt's own messages name the binary by its full path; ours say tracectl: */
	opt_table_getopt(cli_option_rows, cli_option_count, ":", longopts, shortopts, sizeof(shortopts));
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		row = opt_table_find(cli_option_rows, cli_option_count, opt);
		if (row) {
			if (row->parse(row, optarg, o))
				return -EINVAL;
		} else if (opt == ':') {
			fprintf(stderr, "tracectl: option '%s' needs a value\nTry 'tracectl --help'.\n", argv[optind - 1]);
			return -EINVAL;
		} else if (take_unknown(argc, argv, o)) {
			return -EINVAL;
		}
	}
	return 0;
}

static bool is_command(const struct cli_options *o, const char *name)
{
	return strcmp(o->command, name) == 0;
}

/* The words after the command: HOSTS, PROBE or FILE, as the command takes them. */
static int parse_operands(int argc, char **argv, struct cli_options *o)
{
	if (is_command(o, "report")) {
		if (optind >= argc) {
			fprintf(stderr, "tracectl: report needs a recording FILE (made by 'tracectl record ... -o FILE')\n");
			return -EINVAL;
		}
		o->from_file = argv[optind++];
	} else if (is_command(o, "gate") && o->from_file) {
		/* gate --from FILE [PROBE]: the recording names its hosts and probe */
		if (optind < argc)
			o->probe = argv[optind++];
	} else if (is_command(o, "attach") || is_command(o, "gate") || is_command(o, "record")) {
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
	if (is_command(o, "record") && !o->out_file) {
		fprintf(stderr, "tracectl: record needs -o FILE, the recording to write\n");
		return -EINVAL;
	}
	if (is_command(o, "gate") && !o->gate.n) {
		fprintf(stderr, "tracectl: gate needs at least one --max, --min or --max-regression\n");
		return -EINVAL;
	}
	if (is_command(o, "probes")) {
		/* probes HOSTS [PROBE]: a word after the hosts names the probe to show, not a host */
		if (!o->nspecs && optind < argc && add_spec(o, argv[optind++]))
			return -EINVAL;
		if (optind < argc)
			o->probe = argv[optind++];
	}
	for (; optind < argc && is_command(o, "status"); optind++) {
		if (add_spec(o, argv[optind]))
			return -EINVAL;
	}
	return 0;
}

const char *const cli_commands[] = { "attach", "gate", "record", "report", "probes", "status" };
const size_t cli_command_count = sizeof(cli_commands) / sizeof(cli_commands[0]);

int cli_parse_args(int argc, char **argv, struct cli_options *o)
{
	bool known = false;

	if (parse_options(argc, argv, o))
		return -EINVAL;
	if (optind >= argc) {
		cli_usage(stderr);
		return -EINVAL;
	}
	o->command = argv[optind++];
	for (size_t i = 0; i < cli_command_count; i++)
		known |= is_command(o, cli_commands[i]);
	if (!known) {
		fprintf(stderr, "tracectl: unknown command '%s' (attach, gate, record, report, probes, status; see --help)\n",
			o->command);
		return -EINVAL;
	}
	if (parse_operands(argc, argv, o))
		return -EINVAL;
	if (optind < argc) {
		fprintf(stderr, "tracectl: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->nspecs && !o->from_file) {
		fprintf(stderr, "tracectl: %s needs HOSTS (a list, @FILE, @GROUP or -H HOST)\n", o->command);
		return -EINVAL;
	}
	/* only an attach to live hosts takes probe parameters from the agent's catalog */
	if (o->ngeneric && (o->from_file || !o->probe || is_command(o, "probes"))) {
		cli_unknown_option(o->generic[0]);
		return -EINVAL;
	}
	return 0;
}
