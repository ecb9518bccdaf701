/* SPDX-License-Identifier: Apache-2.0 */
/* The audit log: one JSON line per authorization decision and per session end, flushed per line. */
#ifndef TRACECTL_AUDIT_H
#define TRACECTL_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_LINE_MAX 16384

struct audit;

/* A JSON object being built; strings are escaped, an overlong line is cut at a field. */
struct audit_line {
	char buf[AUDIT_LINE_MAX];
	size_t len;
	bool full;
	bool nest_dropped;
};

/* Opens path for appending (created 0600). Returns 0 or -errno with a reason in err. */
int audit_open(struct audit **out, const char *path, char *err, size_t errlen);
/* Accepts NULL; sets *a to NULL. */
void audit_close(struct audit **a);

/* Starts a line with "time" (RFC 3339, UTC, ns) and "event". */
void audit_line_begin(struct audit_line *l, const char *event);
void audit_line_str(struct audit_line *l, const char *key, const char *value);
void audit_line_u64(struct audit_line *l, const char *key, uint64_t value);
void audit_line_bool(struct audit_line *l, const char *key, bool value);
/* Opens a nested object under key ("params": {...}); close it with audit_line_close. */
void audit_line_open(struct audit_line *l, const char *key);
void audit_line_close(struct audit_line *l);
/* Ends the object and writes it as one line with one write(2); a NULL log drops it. */
int audit_write(struct audit *a, struct audit_line *l);

/*
 * Per-source rate limit of a line anyone can cause (a refused connection): at most
 * AUDIT_LIMIT_BURST lines per source per AUDIT_LIMIT_WINDOW_NS; the rest are counted
 * and reported once per window as "N more suppressed". Sources beyond
 * AUDIT_LIMIT_SOURCES reuse the least recently seen slot (reporting it first).
 */
#define AUDIT_LIMIT_BURST 10u
#define AUDIT_LIMIT_WINDOW_NS (10ULL * 1000000000ULL)
#define AUDIT_LIMIT_SOURCES 256u

struct audit_limit_source {
	char key[64];
	uint64_t window_start_ns, last_ns;
	uint32_t written;
	uint64_t suppressed;
};

struct audit_limiter {
	struct audit_limit_source sources[AUDIT_LIMIT_SOURCES];
	size_t n;
};

/* Called with a source's suppressed count when its window is over. */
typedef void (*audit_suppressed_fn)(const char *key, uint64_t suppressed, void *arg);

/* One more line about key at now_ns: true when it may be written, false when it is
 * counted as suppressed. Windows that ended are reported through report first. */
bool audit_limiter_allow(struct audit_limiter *l, const char *key, uint64_t now_ns, audit_suppressed_fn report,
			 void *arg);
/* Reports the suppressed counts of windows that ended by now_ns (all of them with
 * UINT64_MAX). Returns true while some source still holds an unreported count. */
bool audit_limiter_flush(struct audit_limiter *l, uint64_t now_ns, audit_suppressed_fn report, void *arg);

#endif
