/* SPDX-License-Identifier: Apache-2.0 */
/* The audit log: one JSON line per authorization decision and per session end, flushed per line. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

struct audit {
	int fd;
	char *path;
};

int audit_open(struct audit **out, const char *path, char *err, size_t errlen)
{
	struct audit *a = calloc(1, sizeof(*a));
	int ret;

	*out = NULL;
	if (!a || !(a->path = strdup(path))) {
		free(a);
		snprintf(err, errlen, "out of memory opening audit log '%s'", path);
		return -ENOMEM;
	}
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (a->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open audit log '%s': %s", path, strerror(errno));
		free(a->path);
		free(a);
		return ret;
	}
	*out = a;
	return 0;
}

void audit_close(struct audit **ap)
{
	struct audit *a = *ap;

	if (!a)
		return;
	close(a->fd);
	free(a->path);
	free(a);
	*ap = NULL;
}

static void put(struct audit_line *l, const char *s, size_t n)
{
	/* room for the closing "}\n" is always kept */
	if (l->full || l->len + n + 2 >= sizeof(l->buf)) {
		l->full = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_escaped(struct audit_line *l, const char *s)
{
	char esc[8];

	put(l, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(l, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			put(l, esc, 6);
		} else {
			put(l, (const char *)p, 1);
		}
	}
	put(l, "\"", 1);
}

static void put_key(struct audit_line *l, const char *key)
{
	if (l->len && l->buf[l->len - 1] != '{')
		put(l, ",", 1);
	put_escaped(l, key);
	put(l, ":", 1);
}

void audit_line_begin(struct audit_line *l, const char *event)
{
	struct timespec ts;
	struct tm tm;
	char when[64];

	l->len = 0;
	l->full = false;
	l->nest_dropped = false;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
	put(l, "{", 1);
	audit_line_str(l, "time", when);
	audit_line_str(l, "event", event);
}

void audit_line_str(struct audit_line *l, const char *key, const char *value)
{
	size_t before = l->len;

	put_key(l, key);
	put_escaped(l, value ? value : "");
	/* a field that does not fit is left out whole, so the line stays valid JSON */
	if (l->full)
		l->len = before;
}

void audit_line_u64(struct audit_line *l, const char *key, uint64_t value)
{
	char num[24];
	size_t before = l->len;

	put_key(l, key);
	snprintf(num, sizeof(num), "%" PRIu64, value);
	put(l, num, strlen(num));
	if (l->full)
		l->len = before;
}

void audit_line_bool(struct audit_line *l, const char *key, bool value)
{
	size_t before = l->len;

	put_key(l, key);
	put(l, value ? "true" : "false", value ? 4 : 5);
	if (l->full)
		l->len = before;
}

void audit_line_open(struct audit_line *l, const char *key)
{
	size_t before = l->len;

	put_key(l, key);
	put(l, "{", 1);
	l->nest_dropped = l->full;
	if (l->full)
		l->len = before;
}

void audit_line_close(struct audit_line *l)
{
	/* put() keeps room for this and the final "}\n" */
	if (!l->nest_dropped)
		l->buf[l->len++] = '}';
	l->nest_dropped = false;
}

int audit_write(struct audit *a, struct audit_line *l)
{
	ssize_t n;

	l->buf[l->len++] = '}';
	l->buf[l->len++] = '\n';
	if (!a)
		return 0;
	/* one write on an O_APPEND fd: the line lands whole, nothing is buffered in us */
	n = write(a->fd, l->buf, l->len);
	if (n < 0)
		return -errno;
	return (size_t)n == l->len ? 0 : -EIO;
}

static void limit_report(struct audit_limit_source *src, audit_suppressed_fn report, void *arg)
{
	if (src->suppressed)
		report(src->key, src->suppressed, arg);
	src->suppressed = 0;
}

bool audit_limiter_allow(struct audit_limiter *l, const char *key, uint64_t now_ns, audit_suppressed_fn report,
			 void *arg)
{
	struct audit_limit_source *src = NULL, *oldest = NULL;

	for (size_t i = 0; i < l->n && !src; i++) {
		if (strcmp(l->sources[i].key, key) == 0)
			src = &l->sources[i];
		else if (!oldest || l->sources[i].last_ns < oldest->last_ns)
			oldest = &l->sources[i];
	}
	if (!src) {
		if (l->n < AUDIT_LIMIT_SOURCES) {
			src = &l->sources[l->n++];
		} else {
			src = oldest;
			limit_report(src, report, arg);
		}
		memset(src, 0, sizeof(*src));
		snprintf(src->key, sizeof(src->key), "%s", key);
		src->window_start_ns = now_ns;
	}
	if (now_ns - src->window_start_ns >= AUDIT_LIMIT_WINDOW_NS) {
		limit_report(src, report, arg);
		src->window_start_ns = now_ns;
		src->written = 0;
	}
	src->last_ns = now_ns;
	if (src->written < AUDIT_LIMIT_BURST) {
		src->written++;
		return true;
	}
	src->suppressed++;
	return false;
}

bool audit_limiter_flush(struct audit_limiter *l, uint64_t now_ns, audit_suppressed_fn report, void *arg)
{
	bool pending = false;

	for (size_t i = 0; i < l->n; i++) {
		struct audit_limit_source *src = &l->sources[i];

		if (now_ns == UINT64_MAX || now_ns - src->window_start_ns >= AUDIT_LIMIT_WINDOW_NS)
			limit_report(src, report, arg);
		pending |= src->suppressed != 0;
	}
	return pending;
}
