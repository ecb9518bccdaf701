/* SPDX-License-Identifier: Apache-2.0 */
/* Getting the host ready for probes: mounts tracefs when missing, tries to lift memlock. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kernel_env.h"

#define TRACEFS_DIR "/sys/kernel/tracing"

static int tracefs_mounted(void)
{
	return access(TRACEFS_DIR "/events", F_OK) == 0;
}

int kernel_env_prepare(char *err, size_t errlen)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };

	/* Our hosts do not mount tracefs at boot; tp/ attachment reads event ids from it. */
	if (!tracefs_mounted() &&
	    mount("tracefs", TRACEFS_DIR, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
		int e = errno;

		/* Someone else may have mounted it between our check and our mount. */
		if (!(e == EBUSY && tracefs_mounted())) {
			snprintf(err, errlen, "mounting tracefs on %s: %s", TRACEFS_DIR, strerror(e));
			return -e;
		}
	}

	/* Without CAP_SYS_RESOURCE this fails; kernels that account BPF memory to memcg
	 * (5.11+) do not need it, and older ones fail loudly at load time anyway. */
	(void)setrlimit(RLIMIT_MEMLOCK, &unlimited);
	return 0;
}

static struct utsname uts;
static pthread_once_t uts_once = PTHREAD_ONCE_INIT;

static void uts_init(void)
{
	if (uname(&uts) != 0)
		snprintf(uts.release, sizeof(uts.release), "unknown");
}

const char *kernel_env_release(void)
{
	pthread_once(&uts_once, uts_init);
	return uts.release;
}
