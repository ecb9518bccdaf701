/* SPDX-License-Identifier: Apache-2.0 */
/* "host", "host:port", "[v6]:port" as users type them. */
#ifndef TRACECTL_HOSTPORT_H
#define TRACECTL_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

#define TRACECTL_DEFAULT_PORT 7470

/* Returns 0 or -EINVAL (empty host, bad or out-of-range port) or -ENAMETOOLONG. */
int hostport_parse(const char *text, char *host, size_t host_len, uint16_t *port, uint16_t default_port);

#endif
