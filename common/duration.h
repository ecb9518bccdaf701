/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing and printing durations the way users write them: 10s, 500ms, 2m. */
#ifndef TRACECTL_DURATION_H
#define TRACECTL_DURATION_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/time.h>

/*
 * Parses "<number><unit>" with unit ns, us, ms, s, m or h and an optional
 * decimal fraction ("1.5s"). Returns 0, or -EINVAL (no number, no or unknown
 * unit, trailing garbage) or -ERANGE (does not fit in u64 nanoseconds).
 */
int duration_parse(const char *text, uint64_t *out_ns);
/* Human form with 3 significant digits and a unit: "20.1ms", "950us", "2.00s". */
const char *duration_format(uint64_t ns, char *buf, size_t len);
/* Long spans in calendar units: "3d 4h", "2h 05m", "7m 03s"; under a minute as duration_format. */
const char *duration_format_long(uint64_t ns, char *buf, size_t len);
/* The clock's time in nanoseconds (CLOCK_REALTIME: since the epoch). */
uint64_t clock_ns(clockid_t clock);
/* ns as a struct timeval, for libevent's timers. */
struct timeval duration_timeval(uint64_t ns);

#endif
