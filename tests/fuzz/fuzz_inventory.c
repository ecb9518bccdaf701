/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the inventory (host list) file parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inventory inv;
	char err[512];

	inventory_init(&inv);
	if (inventory_parse(&inv, "fuzz", (const char *)data, size, 7470, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < inv.n; i++)
			if (!inv.hosts[i].host[0] || memchr(inv.hosts[i].name, '\0', sizeof(inv.hosts[i].name)) == NULL)
				__builtin_trap();
	} else if (!strstr(err, "fuzz")) {
		__builtin_trap();
	}
	inventory_free(&inv);
	return 0;
}
