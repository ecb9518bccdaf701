/* SPDX-License-Identifier: Apache-2.0 */
/* tracectl's command line: one table of options (options.c) and what they fill in. */
#ifndef TRACECTL_CLI_OPTIONS_H
#define TRACECTL_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "cli.h"
#include "opt_table.h"

#define CLI_MAX_PARAMS 16

struct cli_options {
	const char *ca, *cert, *key, *config;
	enum output_format format;
	uint64_t duration_ns, interval_ns, connect_timeout_ms;
	/* probe parameters, typed and validated by the agent against its catalog */
	Tracectl__Param params[CLI_MAX_PARAMS];
	Tracectl__Param *param_ptrs[CLI_MAX_PARAMS];
	size_t nparams;
	/* of those, the ones written --NAME VALUE without an option of that name: the
	 * agent's catalog must know NAME, else it was an unknown option */
	const char *generic[CLI_MAX_PARAMS];
	size_t ngeneric;
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

/* The option table (for tests and generated docs) and its length. */
extern const struct opt_row cli_option_rows[];
extern const size_t cli_option_count;
/* The commands, as the first word after the options names them. */
extern const char *const cli_commands[];
extern const size_t cli_command_count;

/* Fills o (set its defaults first) from argv; prints why and returns -EINVAL on a usage
 * error. --help and --version print and exit 0. */
int cli_parse_args(int argc, char **argv, struct cli_options *o);
void cli_usage(FILE *out);
/* "tracectl: unknown option '--NAME'" and the hint, as getopt's refusals read. */
void cli_unknown_option(const char *name);

#endif
