/* SPDX-License-Identifier: Apache-2.0 */
/* One leveled logger on stderr; libbpf, libevent and OpenSSL errors route into it. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>
#include <event2/event.h>

#include "log.h"
#include "text_escape.h"

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

/* One line: the header, then the message with anything that could end the line
 * or drive a terminal escaped, so that strings a client chose (a comm, a
 * target) cannot forge lines. */
static void log_line(enum log_level level, const char *msg)
{
	struct timespec now;
	struct tm tm;
	char stamp[32];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s.%03ld %s %s: ", stamp, now.tv_nsec / 1000000, program, level_names[level]);
	text_escape_fputs(stderr, msg);
	fputc('\n', stderr);
	funlockfile(stderr);
}

/*
 * Formats and logs the message as one line. Library messages (split_lines:
 * libbpf's verifier log) log each of their lines under a header of their own;
 * ours, which carry client strings, keep even a newline escaped. A trailing
 * newline only ends the message.
 */
static void log_vwrite(enum log_level level, bool split_lines, const char *fmt, va_list ap)
{
	char small[1024], *msg = small, *line, *nl;
	size_t len;
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n >= (int)sizeof(small)) {
		msg = malloc((size_t)n + 1);
		if (msg)
			vsnprintf(msg, (size_t)n + 1, fmt, again);
		else
			msg = small; /* truncated rather than lost */
	}
	va_end(again);
	if (n < 0)
		snprintf(small, sizeof(small), "(unprintable log message: %s)", fmt);
	len = strlen(msg);
	if (len && msg[len - 1] == '\n')
		msg[len - 1] = '\0';
	for (line = msg; split_lines && (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		log_line(level, line);
	}
	log_line(level, line);
	if (msg != small)
		free(msg);
}

void log_write(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, false, fmt, ap);
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
	log_vwrite(mapped, true, fmt, ap);
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
