/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workloads from cgroup v2 paths: the container, pod or systemd service a cgroup belongs
 * to, as the common runtimes lay them out (containerd/CRI cri-containerd-ID.scope, CRI-O
 * crio-ID.scope, Docker docker-ID.scope, Podman libpod-ID.scope, kubelet pod slices with
 * the systemd driver kubepods-QOS-podUID.slice and the cgroupfs driver
 * kubepods/QOS/podUID/ID, systemd NAME.service); and the reverse, the cgroups a
 * --container / --pod / --service / --cgroup option names, for the filter in the kernel.
 */
#ifndef TRACECTL_CGROUP_IDENTITY_H
#define TRACECTL_CGROUP_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "cgroup_filter.h"

/* What a cgroup is named by: the --by values and the filter options. */
enum cgroup_workload {
	CGROUP_WORKLOAD_NONE,
	CGROUP_WORKLOAD_CONTAINER, /* the 64-hex container id */
	CGROUP_WORKLOAD_POD,       /* the pod UID (with '-') */
	CGROUP_WORKLOAD_SERVICE,   /* the systemd unit NAME.service */
	CGROUP_WORKLOAD_PATH,      /* --cgroup: a path below the cgroup2 mount */
	CGROUP_WORKLOAD_QOS,       /* the pod's QoS class: guaranteed, burstable, besteffort */
};

/* Room for a cgroup path in an identity: deeper ones are cut (their workloads are not). */
#define CGROUP_IDENTITY_PATH_MAX 512
/* "besteffort" and its NUL, with room */
#define CGROUP_QOS_CLASS_LEN 16

/* Everything a cgroup says about the task in it; "" for a workload it is in none of. */
struct cgroup_identity {
	char cgroup[CGROUP_IDENTITY_PATH_MAX]; /* below the cgroup2 mount, "/a/b" */
	char container_id[65];                  /* all 64 hex digits */
	char pod_uid[64];
	char qos_class[CGROUP_QOS_CLASS_LEN];
	char service[256];
};

/* The workload a --by value names ("container", "pod", "service"), else NONE. */
enum cgroup_workload cgroup_workload_by(const char *by);

/* "container", "pod", "service", "cgroup", "qos_class" */
const char *cgroup_workload_name(enum cgroup_workload kind);

/* Where cgroup2 is mounted (/proc/self/mountinfo; /sys/fs/cgroup/unified on a hybrid
 * host), or NULL when it is not. */
const char *cgroup2_root(void);

/*
 * The workload of the cgroup at path (below the cgroup2 root, "/a/b"): its deepest
 * component of that kind, so a sub-cgroup of a container is that container. Writes
 * "-" when path is in no such workload. Returns out.
 */
const char *cgroup_workload_of_path(const char *path, enum cgroup_workload kind, char *out, size_t len);

/* The identity of the cgroup at path (below the cgroup2 root). */
void cgroup_identity_of_path(const char *path, struct cgroup_identity *out);

/*
 * The identity of the cgroup with this id (what bpf_get_current_cgroup_id returns), cached
 * per id: an event stream resolves each id once. The cache's entry, valid until the next
 * call (no copy per event); NULL when the cgroup is gone (or cgroup2 is not mounted).
 */
const struct cgroup_identity *cgroup_identity_of_id(uint64_t id);

/*
 * The workload of the cgroup with this id (what bpf_get_current_cgroup_id returns), for a
 * result's key: the whole 64-hex container id (what a Prometheus join needs; the CLI's
 * text shows 12), "-" outside any such workload, "cgroup-ID" when the cgroup is gone.
 * Cached per id.
 */
const char *cgroup_workload_of_id(uint64_t id, enum cgroup_workload kind, char *out, size_t len);

/* A histogram series of the cgroup with this id: "container=ID", "pod=UID", "service=UNIT". */
void cgroup_workload_label(uint64_t id, enum cgroup_workload kind, char *label, size_t len);

/*
 * The cgroup value names: a unique prefix of a container id (CONTAINER), a pod UID (POD),
 * a unit (SERVICE, ".service" added when it has no suffix) or a path (PATH), found by
 * walking the cgroup2 mount. No match or an ambiguous one is refused naming value.
 */
int cgroup_filter_resolve(enum cgroup_workload kind, const char *value, struct cgroup_filter_entry *out,
			  char *err, size_t errlen);

#endif
