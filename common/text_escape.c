/* SPDX-License-Identifier: Apache-2.0 */
/* Strings from the traced host or a client, made safe to print to a terminal or a log. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "text_escape.h"

/* Length of the well-formed UTF-8 sequence at s (2 to 4), or 0; *cp gets its code point. */
static size_t utf8_sequence(const unsigned char *s, uint32_t *cp)
{
	size_t n;
	uint32_t c, min;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2, c = s[0] & 0x1f, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3, c = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		/* a NUL ends the string early: not a continuation byte either */
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* C1 controls (U+0080..U+009F: 8-bit CSI and friends) and the bidi embeddings,
 * overrides and isolates that reorder what is shown. */
static bool code_point_unsafe(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/*
 * The next piece of src, written to piece (NUL-terminated): the bytes as they
 * are when safe, else an escape. Returns how many bytes of src it covers.
 */
static size_t next_piece(const unsigned char *s, char piece[8])
{
	static const char hex[] = "0123456789abcdef";
	uint32_t cp;
	size_t n;

	if (*s == '\\') {
		memcpy(piece, "\\\\", 3);
		return 1;
	}
	if (*s >= 0x20 && *s < 0x7f) {
		piece[0] = (char)*s;
		piece[1] = '\0';
		return 1;
	}
	if (*s >= 0x80 && (n = utf8_sequence(s, &cp)) && !code_point_unsafe(cp)) {
		memcpy(piece, s, n);
		piece[n] = '\0';
		return n;
	}
	/* one byte at a time: an unsafe sequence shows all its bytes */
	piece[0] = '\\';
	piece[1] = 'x';
	piece[2] = hex[*s >> 4];
	piece[3] = hex[*s & 0xf];
	piece[4] = '\0';
	return 1;
}

size_t text_escape(char *dst, size_t len, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t need = 0, written = 0;
	char piece[8];

	while (*s) {
		size_t plen;

		s += next_piece(s, piece);
		plen = strlen(piece);
		/* stop at a whole escape, never half of one */
		if (written == need && written + plen < len) {
			memcpy(dst + written, piece, plen);
			written += plen;
		}
		need += plen;
	}
	if (len)
		dst[written] = '\0';
	return need;
}

size_t text_escape_fputs(FILE *out, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t n = 0;
	char piece[8];

	while (*s) {
		s += next_piece(s, piece);
		n += strlen(piece);
		fputs(piece, out);
	}
	return n;
}

void text_escape_fpad(FILE *out, const char *src, int width)
{
	size_t n = text_escape_fputs(out, src);

	for (; width > 0 && n < (size_t)width; n++)
		fputc(' ', out);
}
