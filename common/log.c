/* SPDX-License-Identifier: Apache-2.0 */
/* One leveled logger on stderr; libbpf, libevent and OpenSSL errors route into it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>
#include <event2/event.h>

#include "log.h"

enum log_level log_threshold = LOG_LEVEL_INFO;
static const char *program = "tracectl";
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_program(const char *name)
{
	program = name;
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	struct timespec now;
	struct tm tm;
	char stamp[32];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld %s %s: ", stamp, now.tv_nsec / 1000000, program, level_names[level]);
	vfprintf(stderr, fmt, ap);
	if (!*fmt || fmt[strlen(fmt) - 1] != '\n')
		fputc('\n', stderr);
}

void log_write(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level mapped = level == LIBBPF_WARN ? LOG_LEVEL_WARN
				: level == LIBBPF_INFO ? LOG_LEVEL_DEBUG
						       : LOG_LEVEL_DEBUG + 1;

	/* libbpf's debug output is the verifier log: only at -v -v style levels */
	if ((int)mapped > (int)log_threshold || mapped > LOG_LEVEL_DEBUG)
		return 0;
	log_vwrite(mapped, fmt, ap);
	return 0;
}

static void libevent_log(int severity, const char *msg)
{
	enum log_level mapped = severity >= EVENT_LOG_ERR ? LOG_LEVEL_ERROR
				: severity == EVENT_LOG_WARN ? LOG_LEVEL_WARN
							     : LOG_LEVEL_DEBUG;

	log_at(mapped, "libevent: %s", msg);
}

void log_route_libraries(void)
{
	libbpf_set_print(libbpf_print);
	event_set_log_callback(libevent_log);
}
