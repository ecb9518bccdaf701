/* SPDX-License-Identifier: Apache-2.0 */
/* Reads one JSON object per line, keeping its top-level string, number and boolean members. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_flat.h"

struct cursor {
	const char *s, *p;
};

static void skip_ws(struct cursor *c)
{
	while (isspace((unsigned char)*c->p))
		c->p++;
}

/* Reads a string into buf (truncated to len); escapes are kept simple: \\uXXXX becomes '?'. */
static int read_string(struct cursor *c, char *buf, size_t len)
{
	size_t n = 0;

	if (*c->p != '"')
		return -EINVAL;
	c->p++;
	while (*c->p && *c->p != '"') {
		char ch = *c->p++;

		if (ch == '\\') {
			ch = *c->p++;
			if (ch == 'u') {
				for (int i = 0; i < 4; i++)
					if (!isxdigit((unsigned char)*c->p++))
						return -EINVAL;
				ch = '?';
			} else if (ch == 'n') {
				ch = '\n';
			} else if (ch == 't') {
				ch = '\t';
			} else if (!ch) {
				return -EINVAL;
			}
		}
		if (n + 1 < len)
			buf[n++] = ch;
	}
	if (*c->p != '"')
		return -EINVAL;
	c->p++;
	if (len)
		buf[n] = '\0';
	return 0;
}

/* Skips any value, arrays and objects included, to a bounded depth. */
static int skip_value(struct cursor *c, int depth)
{
	char tmp[2];

	skip_ws(c);
	if (depth > 32)
		return -EINVAL;
	if (*c->p == '"')
		return read_string(c, tmp, sizeof(tmp));
	if (*c->p == '[' || *c->p == '{') {
		char close = *c->p == '[' ? ']' : '}';

		c->p++;
		skip_ws(c);
		if (*c->p == close) {
			c->p++;
			return 0;
		}
		for (;;) {
			if (close == '}') {
				if (read_string(c, tmp, sizeof(tmp)))
					return -EINVAL;
				skip_ws(c);
				if (*c->p++ != ':')
					return -EINVAL;
			}
			if (skip_value(c, depth + 1))
				return -EINVAL;
			skip_ws(c);
			if (*c->p == ',') {
				c->p++;
				skip_ws(c);
				continue;
			}
			if (*c->p == close) {
				c->p++;
				return 0;
			}
			return -EINVAL;
		}
	}
	if (*c->p == '-' || isalnum((unsigned char)*c->p)) {
		while (*c->p == '-' || *c->p == '+' || *c->p == '.' || isalnum((unsigned char)*c->p))
			c->p++;
		return 0;
	}
	return -EINVAL;
}

int json_flat_parse(const char *line, struct json_flat *out, char *err, size_t errlen)
{
	struct cursor c = { line, line };

	out->n = 0;
	skip_ws(&c);
	if (*c.p++ != '{')
		goto bad;
	skip_ws(&c);
	if (*c.p == '}')
		return 0;
	for (;;) {
		struct json_member m = { 0 };

		skip_ws(&c);
		if (read_string(&c, m.name, sizeof(m.name)))
			goto bad;
		skip_ws(&c);
		if (*c.p++ != ':')
			goto bad;
		skip_ws(&c);
		if (*c.p == '"') {
			if (read_string(&c, m.str, sizeof(m.str)))
				goto bad;
		} else if (*c.p == '-' || isdigit((unsigned char)*c.p)) {
			char *end;

			m.num = strtod(c.p, &end);
			if (end == c.p)
				goto bad;
			c.p = end;
			m.is_num = true;
		} else if (strncmp(c.p, "true", 4) == 0 || strncmp(c.p, "false", 5) == 0) {
			snprintf(m.str, sizeof(m.str), "%s", *c.p == 't' ? "true" : "false");
			c.p += *c.p == 't' ? 4 : 5;
		} else {
			if (skip_value(&c, 0))
				goto bad;
			m.name[0] = '\0'; /* nested values are not kept */
		}
		if (m.name[0] && out->n < JSON_FLAT_MAX_MEMBERS)
			out->m[out->n++] = m;
		skip_ws(&c);
		if (*c.p == ',') {
			c.p++;
			continue;
		}
		if (*c.p == '}')
			return 0;
		goto bad;
	}
bad:
	snprintf(err, errlen, "not a JSON object at column %zu", (size_t)(c.p - c.s) + 1);
	return -EINVAL;
}

const struct json_member *json_flat_get(const struct json_flat *o, const char *name)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->m[i].name, name) == 0)
			return &o->m[i];
	return NULL;
}
