/* SPDX-License-Identifier: Apache-2.0 */
/* Build-time generator: tracectl's commands and options, from its option table, as shell
 * variables for the bash completion (agent/catalog_docs.c puts them into the script). */
#include <stdio.h>

#include "options.h"

int main(void)
{
	fputs("_tracectl_commands=\"", stdout);
	for (size_t i = 0; i < cli_command_count; i++)
		printf("%s%s", i ? " " : "", cli_commands[i]);
	fputs("\"\n", stdout);
	opt_table_print_words(stdout, "_tracectl_opts_attach", cli_option_rows, cli_option_count, "Options for attach:",
			      false);
	opt_table_print_words(stdout, "_tracectl_opts_gate", cli_option_rows, cli_option_count, "Options for gate:",
			      false);
	opt_table_print_words(stdout, "_tracectl_opts_common", cli_option_rows, cli_option_count, "Common options:",
			      false);
	opt_table_print_words(stdout, "_tracectl_opts_valued", cli_option_rows, cli_option_count, NULL, true);
	return 0;
}
