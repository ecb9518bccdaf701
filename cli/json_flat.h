/* SPDX-License-Identifier: Apache-2.0 */
/* Reads one JSON object per line, keeping its top-level string, number and boolean members. */
#ifndef TRACECTL_JSON_FLAT_H
#define TRACECTL_JSON_FLAT_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_FLAT_MAX_MEMBERS 64
#define JSON_FLAT_STR_LEN 256

struct json_member {
	char name[64];
	bool is_num;
	double num;
	char str[JSON_FLAT_STR_LEN]; /* strings (and booleans as "true"/"false") */
};

struct json_flat {
	size_t n;
	struct json_member m[JSON_FLAT_MAX_MEMBERS];
};

/* Parses one object; nested arrays and objects are skipped. -EINVAL with the column. */
int json_flat_parse(const char *line, struct json_flat *out, char *err, size_t errlen);
const struct json_member *json_flat_get(const struct json_flat *o, const char *name);

#endif
