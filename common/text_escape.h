/* SPDX-License-Identifier: Apache-2.0 */
/* Strings from the traced host or a client, made safe to print to a terminal or a log. */
#ifndef TRACECTL_TEXT_ESCAPE_H
#define TRACECTL_TEXT_ESCAPE_H

#include <stdio.h>
#include <stddef.h>

/*
 * Escapes what a terminal would act on or what could forge a line: control
 * bytes (C0, DEL), C1 controls and bidirectional overrides in UTF-8, and
 * bytes that are not valid UTF-8, each byte as \xNN; a backslash as \\ so the
 * escaped form is unambiguous. Valid printable UTF-8 passes unchanged.
 * Writes at most len bytes with a terminating NUL (whole escapes only) and
 * returns the length the whole result needs, as snprintf does.
 */
size_t text_escape(char *dst, size_t len, const char *src);
/* Writes src escaped; returns the number of bytes written. */
size_t text_escape_fputs(FILE *out, const char *src);
/* Writes src escaped, then spaces up to width bytes: an escaping "%-*s". */
void text_escape_fpad(FILE *out, const char *src, int width);

#endif
