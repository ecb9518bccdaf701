/* SPDX-License-Identifier: Apache-2.0 */
/* "host", "host:port", "[v6]:port" as users type them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"

int hostport_parse(const char *text, char *host, size_t host_len, uint16_t *port, uint16_t default_port)
{
	const char *host_start = text, *host_end, *port_text = NULL;
	size_t n;

	if (!text || !*text)
		return -EINVAL;
	if (text[0] == '[') {
		host_start = text + 1;
		host_end = strchr(host_start, ']');
		if (!host_end)
			return -EINVAL;
		if (host_end[1] == ':')
			port_text = host_end + 2;
		else if (host_end[1] != '\0')
			return -EINVAL;
	} else {
		const char *colon = strchr(text, ':');

		/* two colons without brackets: a bare IPv6 address, no port */
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;
		host_end = colon ? colon : text + strlen(text);
		if (colon)
			port_text = colon + 1;
	}
	n = (size_t)(host_end - host_start);
	if (n == 0)
		return -EINVAL;
	if (n >= host_len)
		return -ENAMETOOLONG;
	memcpy(host, host_start, n);
	host[n] = '\0';
	*port = default_port;
	if (port_text) {
		char *end;
		unsigned long v;

		if (*port_text < '0' || *port_text > '9')
			return -EINVAL;
		errno = 0;
		v = strtoul(port_text, &end, 10);
		if (errno || *end || v == 0 || v > 65535)
			return -EINVAL;
		*port = (uint16_t)v;
	}
	return 0;
}
