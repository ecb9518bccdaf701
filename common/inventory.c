/* SPDX-License-Identifier: Apache-2.0 */
/* Host lists: "h1,h2:7000", inventory files (one host a line, # comments), deduplicated. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"
#include "inventory.h"

#define INVENTORY_MAX_FILE (16u << 20)

void inventory_init(struct inventory *inv)
{
	memset(inv, 0, sizeof(*inv));
}

void inventory_free(struct inventory *inv)
{
	free(inv->hosts);
	inventory_init(inv);
}

int inventory_add(struct inventory *inv, const char *text, uint16_t default_port)
{
	struct inventory_host h;

	if (strlen(text) >= sizeof(h.name))
		return -EINVAL;
	if (hostport_parse(text, h.host, sizeof(h.host), &h.port, default_port))
		return -EINVAL;
	snprintf(h.name, sizeof(h.name), "%s", text);
	for (size_t i = 0; i < inv->n; i++) {
		if (inv->hosts[i].port == h.port && strcmp(inv->hosts[i].host, h.host) == 0) {
			inv->duplicates++;
			return 0;
		}
	}
	if (inv->n == INVENTORY_MAX_HOSTS)
		return -E2BIG;
	if (inv->n == inv->cap) {
		size_t cap = inv->cap ? inv->cap * 2 : 16;
		struct inventory_host *hosts = realloc(inv->hosts, cap * sizeof(*hosts));

		if (!hosts)
			return -ENOMEM;
		inv->hosts = hosts;
		inv->cap = cap;
	}
	inv->hosts[inv->n++] = h;
	return 0;
}

static const char *add_error(int err)
{
	return err == -E2BIG ? "too many hosts" : err == -ENOMEM ? "out of memory" : "bad host or port";
}

int inventory_add_list(struct inventory *inv, const char *list, uint16_t default_port, char *err, size_t errlen)
{
	char item[INVENTORY_HOST_LEN];
	const char *p = list;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int ret;

		if (len == 0 || len >= sizeof(item)) {
			snprintf(err, errlen, "empty or overlong host in '%.64s'", list);
			return -EINVAL;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		ret = inventory_add(inv, item, default_port);
		if (ret) {
			snprintf(err, errlen, "%s: '%s'", add_error(ret), item);
			return ret;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int inventory_parse(struct inventory *inv, const char *name, const char *text, size_t len, uint16_t default_port,
		    char *err, size_t errlen)
{
	size_t pos = 0;
	int lineno = 0;

	while (pos < len) {
		const char *line = text + pos;
		const char *end = memchr(line, '\n', len - pos);
		size_t n = end ? (size_t)(end - line) : len - pos;
		char buf[INVENTORY_HOST_LEN];
		size_t a = 0, b = n;
		int ret;

		pos += n + (end ? 1 : 0);
		lineno++;
		/* strip a comment, then surrounding blanks */
		for (size_t i = 0; i < n; i++) {
			if (line[i] == '#') {
				b = i;
				break;
			}
		}
		while (a < b && isspace((unsigned char)line[a]))
			a++;
		while (b > a && isspace((unsigned char)line[b - 1]))
			b--;
		if (a == b)
			continue;
		if (b - a >= sizeof(buf) || memchr(line + a, '\0', b - a)) {
			snprintf(err, errlen, "%s:%d: line too long or not text", name, lineno);
			return -EINVAL;
		}
		memcpy(buf, line + a, b - a);
		buf[b - a] = '\0';
		for (size_t i = 0; buf[i]; i++) {
			if (isspace((unsigned char)buf[i])) {
				snprintf(err, errlen, "%s:%d: one host per line, got '%.64s'", name, lineno, buf);
				return -EINVAL;
			}
		}
		ret = inventory_add(inv, buf, default_port);
		if (ret) {
			snprintf(err, errlen, "%s:%d: %s: '%.64s'", name, lineno, add_error(ret), buf);
			return ret;
		}
	}
	return 0;
}

int inventory_load(struct inventory *inv, const char *path, uint16_t default_port, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0;
	long size;
	int ret = -EINVAL;

	if (!f) {
		snprintf(err, errlen, "cannot read inventory '%s': %s", path, strerror(errno));
		return -errno;
	}
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		snprintf(err, errlen, "cannot read inventory '%s': %s", path, strerror(errno));
		goto cleanup;
	}
	if ((unsigned long)size > INVENTORY_MAX_FILE) {
		snprintf(err, errlen, "inventory '%s' is larger than %u bytes", path, INVENTORY_MAX_FILE);
		goto cleanup;
	}
	text = malloc((size_t)size + 1);
	if (!text) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory reading '%s'", path);
		goto cleanup;
	}
	len = fread(text, 1, (size_t)size, f);
	ret = inventory_parse(inv, path, text, len, default_port, err, errlen);
cleanup:
	free(text);
	fclose(f);
	return ret;
}
