/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing and printing durations the way users write them: 10s, 500ms, 2m. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

static const struct {
	const char *suffix;
	uint64_t ns;
} units[] = {
	{ "ns", 1ULL },
	{ "us", 1000ULL },
	{ "ms", 1000000ULL },
	{ "s", 1000000000ULL },
	{ "m", 60ULL * 1000000000ULL },
	{ "h", 3600ULL * 1000000000ULL },
};

int duration_parse(const char *text, uint64_t *out_ns)
{
	uint64_t whole = 0, frac = 0, frac_scale = 1, unit = 0;
	const char *p = text;

	if (!text || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			/* digits past nanosecond resolution of the largest unit are dropped */
			if (frac_scale < 1000000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				frac_scale *= 10;
			}
		}
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(p, units[i].suffix) == 0)
			unit = units[i].ns;
	if (!unit)
		return -EINVAL;
	if (whole > UINT64_MAX / unit)
		return -ERANGE;
	whole *= unit;
	frac = frac * unit / frac_scale;
	if (whole > UINT64_MAX - frac)
		return -ERANGE;
	*out_ns = whole + frac;
	return 0;
}

const char *duration_format(uint64_t ns, char *buf, size_t len)
{
	static const struct {
		const char *suffix;
		double ns;
	} scale[] = { { "s", 1e9 }, { "ms", 1e6 }, { "us", 1e3 } };
	double v;

	for (size_t i = 0; i < sizeof(scale) / sizeof(scale[0]); i++) {
		if ((double)ns >= scale[i].ns) {
			v = (double)ns / scale[i].ns;
			snprintf(buf, len, v >= 100 ? "%.0f%s" : v >= 10 ? "%.1f%s" : "%.2f%s", v, scale[i].suffix);
			return buf;
		}
	}
	snprintf(buf, len, "%lluns", (unsigned long long)ns);
	return buf;
}

const char *duration_format_long(uint64_t ns, char *buf, size_t len)
{
	uint64_t s = ns / 1000000000ULL;

	if (s < 60)
		return duration_format(ns, buf, len);
	if (s < 3600)
		snprintf(buf, len, "%llum %02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lluh %02llum", (unsigned long long)(s / 3600), (unsigned long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%llud %lluh", (unsigned long long)(s / 86400), (unsigned long long)(s % 86400 / 3600));
	return buf;
}

uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct timeval duration_timeval(uint64_t ns)
{
	return (struct timeval){ (time_t)(ns / 1000000000ULL), (suseconds_t)(ns % 1000000000ULL / 1000) };
}
