/* SPDX-License-Identifier: Apache-2.0 */
/* Getting the host ready for probes: tracefs mounted, memlock, library logging. */
#ifndef TRACECTL_KERNEL_ENV_H
#define TRACECTL_KERNEL_ENV_H

#include <stddef.h>

/*
 * Mounts tracefs on /sys/kernel/tracing when it is empty (not mounted at boot on
 * our hosts), tries to lift RLIMIT_MEMLOCK (ignored when it cannot: memcg-accounted
 * kernels do not need it). Returns 0 or -errno with a reason in err.
 */
int kernel_env_prepare(char *err, size_t errlen);
/* uname release, e.g. "6.18.44". */
const char *kernel_env_release(void);

#endif
