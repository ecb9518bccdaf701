/* SPDX-License-Identifier: Apache-2.0 */
/* tracectl: the unprivileged controller; asks agents for catalog probes, renders results. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "cli.h"
#include "options.h"
#include "duration.h"
#include "hostport.h"
#include "log.h"
#include "recording.h"
#include "tls.h"


/* "h1,h2:7000", "@group" from the config, or "@inventory-file" */
static int add_targets(struct cli_options *o, const struct cli_config *cfg, const char *spec, char *err, size_t errlen)
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

/* The recording's hosts become the targets, its request the attach. */
static int targets_from_recording(struct cli_options *opt, const Tracectl__RecordHeader *hdr, char *err, size_t errlen)
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

/* A --NAME VALUE the option table does not have must be a parameter of some probe in
 * the catalog; whether this probe takes it, the agent says (naming what it takes). */
static bool generic_params_known(const struct cli_options *o, const Tracectl__ListProbesResponse *catalog,
				 const char *host)
{
	for (size_t g = 0; g < o->ngeneric; g++) {
		bool known = false;

		for (size_t i = 0; i < catalog->n_probes && !known; i++)
			for (size_t k = 0; k < catalog->probes[i]->n_params && !known; k++)
				known = strcmp(catalog->probes[i]->params[k]->name, o->generic[g]) == 0;
		if (!known) {
			fprintf(stderr, "tracectl: unknown option '--%s' (nor a parameter of any probe %s offers)\n"
					"Try 'tracectl --help'.\n", o->generic[g], host);
			return false;
		}
	}
	return true;
}

/*
 * Asks the first host's catalog about the probe: a name it does not know gets the
 * nearest one suggested, a format the probe's kind cannot show is refused before
 * anything attaches or is written, and so is a --NAME no probe takes. The kinds and
 * parameters come from the agent, so there is no second copy of the catalog here.
 * Returns CLI_EXIT_OK to go on; a host that does not answer is left to the attach to
 * report. refused: the agent has said why already, only the suggestion is added.
 */
static enum cli_exit check_probe(const struct cli_options *o, SSL_CTX *tls, bool refused)
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
	} else if (!refused && !generic_params_known(o, resp->probes, host->name)) {
		code = CLI_EXIT_USAGE;
	}
cleanup:
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}

/* Everything one run of the CLI holds; released by run_free. */
struct run {
	struct cli_options opt;
	struct cli_config cfg;
	SSL_CTX *tls;
	struct recording_reader *reader;
	Tracectl__Request req;
	Tracectl__AttachRequest attach;
	Tracectl__ListProbesRequest list;
	Tracectl__StatusRequest status;
	Tracectl__RecordHeader hdr;
	char **host_names;
	struct fleet_options fo;
	struct fleet_result result;
};

/* The config, then the hosts as the config's groups and port resolve them. */
static int resolve_targets(struct run *r, bool needs_hosts)
{
	char err[512];

	if (config_resolve(&r->cfg, r->opt.ca, r->opt.cert, r->opt.key, r->opt.config, needs_hosts, err,
			   sizeof(err))) {
		fprintf(stderr, "tracectl: %s\n", err);
		return -EINVAL;
	}
	for (size_t i = 0; i < r->opt.nspecs; i++) {
		if (add_targets(&r->opt, &r->cfg, r->opt.specs[i], err, sizeof(err))) {
			fprintf(stderr, "tracectl: %s\n", err);
			return -EINVAL;
		}
	}
	if (r->opt.targets.duplicates)
		fprintf(stderr, "tracectl: %zu duplicate host(s) ignored\n", r->opt.targets.duplicates);
	return 0;
}

/* Open files the CLI needs besides one socket per host: stdio, a recording or -o file,
 * the catalog check's connection, what libevent and OpenSSL open. */
#define CLI_FDS_RESERVED 16

/*
 * One socket per host, all open at once: the soft open-file limit is raised to the hard
 * one (no privilege needed), and a fleet that needs more than even that is refused here,
 * naming both numbers, instead of failing host after host with "Too many open files".
 */
static int fd_limit_fit(size_t nhosts)
{
	unsigned long long need = (unsigned long long)nhosts + CLI_FDS_RESERVED, was;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	was = rl.rlim_cur;
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			rl.rlim_cur = was;
		else if (need > was)
			log_info("open-file limit raised from %llu to %llu for %zu hosts", was,
				 (unsigned long long)rl.rlim_cur, nhosts);
	}
	if (rl.rlim_cur == RLIM_INFINITY || need <= rl.rlim_cur)
		return 0;
	fprintf(stderr,
		"tracectl: %zu hosts need %llu open files (one connection each, %d more for the rest), but this "
		"process may open at most %llu (its hard RLIMIT_NOFILE): raise it (ulimit -Hn, systemd "
		"LimitNOFILE=) or split the hosts into smaller groups\n",
		nhosts, need, CLI_FDS_RESERVED, (unsigned long long)rl.rlim_cur);
	return -EMFILE;
}

/* gate --from / report: the recording stands in for the hosts, its request for the options. */
static enum cli_exit open_replay(struct run *r)
{
	struct cli_options *opt = &r->opt;
	const Tracectl__RecordHeader *hdr;
	char err[512];

	if (recording_reader_open(&r->reader, opt->from_file, &hdr, err, sizeof(err))) {
		fprintf(stderr, "tracectl: %s\n", err);
		return CLI_EXIT_FAILURE;
	}
	if (opt->probe && strcmp(opt->probe, hdr->probe) != 0) {
		fprintf(stderr, "tracectl: %s recorded %s, not %s\n", opt->from_file, hdr->probe, opt->probe);
		return CLI_EXIT_USAGE;
	}
	inventory_free(&opt->targets);
	if (targets_from_recording(opt, hdr, err, sizeof(err))) {
		fprintf(stderr, "tracectl: %s: %s\n", opt->from_file, err);
		return CLI_EXIT_FAILURE;
	}
	opt->probe = hdr->probe;
	opt->interval_ns = hdr->interval_ns ? hdr->interval_ns : opt->interval_ns;
	opt->duration_ns = hdr->duration_ns;
	r->fo.replay = r->reader;
	return CLI_EXIT_OK;
}

static void fleet_setup(struct run *r)
{
	struct cli_options *opt = &r->opt;
	struct fleet_options *fo = &r->fo;

	fo->targets = &opt->targets;
	fo->request = &r->req;
	fo->interval_ns = opt->interval_ns;
	fo->duration_ns = opt->duration_ns;
	fo->connect_timeout_ms = opt->connect_timeout_ms;
	fo->format = opt->format;
	fo->per_host = opt->per_host;
	fo->quiet = opt->quiet;
	fo->status_on_stderr = opt->out_file && strcmp(opt->command, "record") != 0 && isatty(STDERR_FILENO);
	fo->sort = opt->sort;
	/* the top N is taken over the merged set here; the agent keeps the top rows by
	 * the probe's first column, so to rank by another, ask it for every row */
	for (size_t i = 0; i < opt->nparams; i++) {
		if (strcmp(opt->params[i].name, "top") == 0) {
			fo->top = (uint32_t)strtoul(opt->params[i].value, NULL, 10);
			if (opt->sort) {
				opt->params[i] = opt->params[--opt->nparams];
				opt->param_ptrs[i] = &opt->params[i];
			}
			break;
		}
	}
}

static void request_setup(struct run *r, bool needs_hosts)
{
	struct cli_options *opt = &r->opt;

	if (strcmp(opt->command, "probes") == 0) {
		r->req.call_case = TRACECTL__REQUEST__CALL_LIST_PROBES;
		r->req.list_probes = &r->list;
		r->fo.command = FLEET_PROBES;
		r->fo.probe = opt->probe;
	} else if (strcmp(opt->command, "status") == 0) {
		r->req.call_case = TRACECTL__REQUEST__CALL_STATUS;
		r->req.status = &r->status;
		r->fo.command = FLEET_STATUS;
	} else {
		r->attach.probe = (char *)opt->probe;
		r->attach.duration_ns = opt->duration_ns;
		r->attach.interval_ns = opt->interval_ns;
		r->attach.n_params = opt->nparams;
		r->attach.params = opt->param_ptrs;
		r->attach.max_overhead_ppm = opt->max_overhead_ppm;
		r->attach.align_unix_ns = first_window_end(opt->interval_ns);
		r->req.call_case = TRACECTL__REQUEST__CALL_ATTACH;
		r->req.attach = &r->attach;
		r->fo.command = FLEET_ATTACH;
		r->fo.probe = opt->probe;
		if (strcmp(opt->command, "gate") == 0)
			r->fo.result = &r->result;
		if (opt->format == OUTPUT_TEXT && isatty(STDERR_FILENO) && opt->targets.n == 1 && needs_hosts)
			fprintf(stderr, "Connecting to %s...\n", opt->targets.hosts[0].name);
	}
}

/* record: the header names the request and the hosts, in the order of their indexes */
static int open_recording(struct run *r)
{
	struct cli_options *opt = &r->opt;
	char err[512];

	r->host_names = calloc(opt->targets.n, sizeof(*r->host_names));
	if (!r->host_names)
		return -ENOMEM;
	for (size_t i = 0; i < opt->targets.n; i++)
		r->host_names[i] = opt->targets.hosts[i].name;
	r->hdr.format_version = RECORDING_FORMAT_VERSION;
	r->hdr.tracectl_version = TRACECTL_VERSION;
	r->hdr.probe = (char *)opt->probe;
	r->hdr.n_params = opt->nparams;
	r->hdr.params = opt->param_ptrs;
	r->hdr.n_hosts = opt->targets.n;
	r->hdr.hosts = r->host_names;
	r->hdr.interval_ns = opt->interval_ns;
	r->hdr.duration_ns = opt->duration_ns;
	r->hdr.start_unix_ns = (uint64_t)time(NULL) * 1000000000ULL;
	if (recording_writer_open(&r->fo.record, opt->out_file, &r->hdr, err, sizeof(err))) {
		fprintf(stderr, "tracectl: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

/* Whether the probe is to be looked up in the first host's catalog before attaching:
 * a format that needs the probe's kind, or a --NAME only the catalog can tell. */
static bool wants_check(const struct cli_options *opt)
{
	return opt->probe && opt->targets.n && strcmp(opt->command, "probes") &&
	       ((opt->format != OUTPUT_TEXT && opt->format != OUTPUT_JSON) || opt->ngeneric);
}

/* From a parsed command line to the exit status: the hosts (or a recording), then the run. */
static enum cli_exit run_command(struct run *r)
{
	struct cli_options *opt = &r->opt;
	bool needs_hosts = !opt->from_file;
	enum cli_exit code;
	char err[512];

	if (resolve_targets(r, needs_hosts))
		return CLI_EXIT_USAGE;
	if (needs_hosts) {
		if (fd_limit_fit(opt->targets.n))
			return CLI_EXIT_USAGE;
		r->tls = tls_client_ctx_new(r->cfg.ca, r->cfg.cert, r->cfg.key, err, sizeof(err));
		if (!r->tls) {
			fprintf(stderr, "tracectl: %s\n", err);
			return CLI_EXIT_USAGE;
		}
		if (wants_check(opt) && (code = check_probe(opt, r->tls, false)) != CLI_EXIT_OK)
			return code;
	} else if ((code = open_replay(r)) != CLI_EXIT_OK) {
		return code;
	}
	/* only now: a refused command leaves no file behind */
	if (opt->out_file && strcmp(opt->command, "record") != 0 && !freopen(opt->out_file, "w", stdout)) {
		fprintf(stderr, "tracectl: cannot write '%s': %s\n", opt->out_file, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	fleet_setup(r);
	request_setup(r, needs_hosts);
	if (strcmp(opt->command, "record") == 0 && open_recording(r))
		return CLI_EXIT_USAGE;
	code = fleet_run(&r->fo, r->tls);
	if (code == CLI_EXIT_REJECTED && needs_hosts && opt->probe && opt->targets.n && strcmp(opt->command, "probes"))
		check_probe(opt, r->tls, true);
	if (r->fo.record && recording_writer_close(&r->fo.record, err, sizeof(err))) {
		fprintf(stderr, "tracectl: %s\n", err);
		code = CLI_EXIT_FAILURE;
	}
	if (strcmp(opt->command, "gate") == 0 && code != CLI_EXIT_USAGE)
		code = gate_run(&opt->gate, &r->result, opt->probe, opt->format);
	return code;
}

int main(int argc, char **argv)
{
	struct run r = {
		.opt = { .format = OUTPUT_TEXT, .interval_ns = 1000000000ULL, .connect_timeout_ms = 5000 },
		.req = TRACECTL__REQUEST__INIT,
		.attach = TRACECTL__ATTACH_REQUEST__INIT,
		.list = TRACECTL__LIST_PROBES_REQUEST__INIT,
		.status = TRACECTL__STATUS_REQUEST__INIT,
		.hdr = TRACECTL__RECORD_HEADER__INIT,
	};
	enum cli_exit code = CLI_EXIT_USAGE;
	char err[512];

	log_set_program("tracectl");
	log_threshold = LOG_LEVEL_WARN;
	inventory_init(&r.opt.targets);
	if (cli_parse_args(argc, argv, &r.opt) == 0) {
		log_route_libraries();
		signal(SIGPIPE, SIG_IGN);
		code = run_command(&r);
	}
	recording_writer_close(&r.fo.record, err, sizeof(err));
	recording_reader_close(&r.reader);
	fleet_result_free(&r.result);
	free(r.host_names);
	SSL_CTX_free(r.tls);
	inventory_free(&r.opt.targets);
	return (int)code;
}
