/* SPDX-License-Identifier: Apache-2.0 */
/* Host lists: "h1,h2:7000", inventory files (one host a line, # comments), deduplicated. */
#ifndef TRACECTL_INVENTORY_H
#define TRACECTL_INVENTORY_H

#include <stddef.h>
#include <stdint.h>

#define INVENTORY_MAX_HOSTS 10000
#define INVENTORY_HOST_LEN 256

struct inventory_host {
	char name[INVENTORY_HOST_LEN]; /* as written, e.g. "h2:7000" */
	char host[INVENTORY_HOST_LEN]; /* "h2" */
	uint16_t port;
};

struct inventory {
	struct inventory_host *hosts;
	size_t n, cap;
	size_t duplicates; /* entries dropped because host:port was already listed */
};

void inventory_init(struct inventory *inv);
void inventory_free(struct inventory *inv);
/*
 * Adds one host ("name", "name:port", "[v6]:port"); an already listed host:port is
 * counted in duplicates and skipped. Returns 0, -EINVAL (bad host or port) or
 * -E2BIG / -ENOMEM.
 */
int inventory_add(struct inventory *inv, const char *text, uint16_t default_port);
/* Adds "h1,h2:7000,h3"; on error err names the bad element. */
int inventory_add_list(struct inventory *inv, const char *list, uint16_t default_port, char *err, size_t errlen);
/*
 * Parses an inventory from text (len bytes): one host per line, optional ":port",
 * '#' starts a comment, blank lines ignored. On error err says "NAME:LINE: ...".
 */
int inventory_parse(struct inventory *inv, const char *name, const char *text, size_t len, uint16_t default_port,
		    char *err, size_t errlen);
/* Reads and parses the file at path. */
int inventory_load(struct inventory *inv, const char *path, uint16_t default_port, char *err, size_t errlen);

#endif
