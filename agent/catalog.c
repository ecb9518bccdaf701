/* SPDX-License-Identifier: Apache-2.0 */
/* The catalog table: a new probe is one bpf/ program, one entry here and one test. */
#include <string.h>

#include "catalog.h"

static const struct probe_desc *const catalog[] = {
	&probe_tcp_latency,
};

size_t catalog_size(void)
{
	return sizeof(catalog) / sizeof(catalog[0]);
}

const struct probe_desc *catalog_at(size_t i)
{
	return i < catalog_size() ? catalog[i] : NULL;
}

const struct probe_desc *catalog_find(const char *name)
{
	for (size_t i = 0; i < catalog_size(); i++)
		if (strcmp(catalog[i]->name, name) == 0)
			return catalog[i];
	return NULL;
}
