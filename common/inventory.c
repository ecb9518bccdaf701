/* SPDX-License-Identifier: Apache-2.0 */
/* Host lists: "h1,h2:7000", inventory files (one host a line, # comments), deduplicated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"
#include "inventory.h"
#include "line_reader.h"

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
	char buf[INVENTORY_HOST_LEN], *line;
	struct line_reader r;
	int ret;

	line_reader_init(&r, name, text, len, buf, sizeof(buf));
	while ((ret = line_reader_next(&r, &line, err, errlen)) > 0) {
		if (line[strcspn(line, " \t\r\f\v")]) {
			line_reader_error(&r, err, errlen, "one host per line, got '%.64s'", line);
			return -EINVAL;
		}
		ret = inventory_add(inv, line, default_port);
		if (ret) {
			line_reader_error(&r, err, errlen, "%s: '%.64s'", add_error(ret), line);
			return ret;
		}
	}
	return ret;
}

int inventory_load(struct inventory *inv, const char *path, uint16_t default_port, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int ret = line_file_read(path, INVENTORY_MAX_FILE, &text, &len);

	if (ret == -EFBIG)
		snprintf(err, errlen, "inventory '%s' is larger than %u bytes", path, INVENTORY_MAX_FILE);
	else if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory reading '%s'", path);
	else if (ret)
		snprintf(err, errlen, "cannot read inventory '%s': %s", path, strerror(-ret));
	if (ret)
		return ret == -EFBIG ? -EINVAL : ret;
	ret = inventory_parse(inv, path, text, len, default_port, err, errlen);
	free(text);
	return ret;
}
