/* SPDX-License-Identifier: Apache-2.0 */
/* One leveled logger on stderr; libbpf, libevent and OpenSSL errors route into it. */
#ifndef TRACECTL_LOG_H
#define TRACECTL_LOG_H

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

extern enum log_level log_threshold;

void log_set_program(const char *name);
/* Returns -EINVAL for an unknown name ("error", "warn", "info", "debug"). */
int log_level_parse(const char *name, enum log_level *out);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Routes libbpf and libevent diagnostics into log_write. */
void log_route_libraries(void);

/* The level is checked before anything is formatted. */
#define log_at(level, ...)                                 \
	do {                                               \
		if ((level) <= log_threshold)              \
			log_write((level), __VA_ARGS__);   \
	} while (0)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
