/* SPDX-License-Identifier: Apache-2.0 */
/* tracectl-agent's command line: one table of options (options.c). */
#ifndef TRACECTL_AGENT_OPTIONS_H
#define TRACECTL_AGENT_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "agent.h"
#include "opt_table.h"

/* The option table (for tests and generated docs) and its length. */
extern const struct opt_row agent_option_rows[];
extern const size_t agent_option_count;

/* Fills cfg (its defaults set first) from argv; *check_policy for --check-policy.
 * Returns 0, or 2 (the usage error's exit status) once it is printed. --help and
 * --version print and exit 0. */
int agent_parse_args(int argc, char **argv, struct agent_config *cfg, bool *check_policy);
void agent_usage(FILE *out);

#endif
