/* SPDX-License-Identifier: Apache-2.0 */
/* Workloads from cgroup v2 paths, and the cgroups a filter option names (cgroup_identity.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_identity.h"

#define CONTAINER_ID_LEN 64
#define POD_UID_MAX 64
/* kernfs file handles (FILEID_KERNFS): the 8-byte node id, which is the cgroup id */
#define KERNFS_HANDLE_TYPE 0xfe
/* Directories below the cgroup2 root a resolve walks (far deeper than any runtime's layout). */
#define WALK_MAX_DEPTH 32

static const char *const kind_names[] = { "", "container", "pod", "service", "cgroup", "qos_class" };

const char *cgroup_workload_name(enum cgroup_workload kind)
{
	return kind_names[kind];
}

enum cgroup_workload cgroup_workload_by(const char *by)
{
	if (strcmp(by, "container") == 0)
		return CGROUP_WORKLOAD_CONTAINER;
	if (strcmp(by, "pod") == 0)
		return CGROUP_WORKLOAD_POD;
	if (strcmp(by, "service") == 0)
		return CGROUP_WORKLOAD_SERVICE;
	return CGROUP_WORKLOAD_NONE;
}

const char *cgroup2_root(void)
{
	static char root[PATH_MAX];
	static bool looked;
	char line[4096];
	FILE *f;

	if (looked)
		return root[0] ? root : NULL;
	looked = true;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return NULL;
	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
	while (fgets(line, sizeof(line), f)) {
		char mountpoint[PATH_MAX], *dash = strstr(line, " - ");

		if (!dash || strncmp(dash + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mountpoint) == 1 && !strchr(mountpoint, '\\')) {
			snprintf(root, sizeof(root), "%s", mountpoint);
			break;
		}
	}
	fclose(f);
	return root[0] ? root : NULL;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* The container id a path component names (RUNTIME-ID.scope, or ID alone as the cgroupfs
 * drivers lay it out), copied to id (65 bytes). */
static bool container_component(const char *comp, size_t len, char *id)
{
	static const char *const prefixes[] = { "cri-containerd-", "crio-", "docker-", "libpod-" };

	if (len == CONTAINER_ID_LEN && all_hex(comp, len)) {
		memcpy(id, comp, CONTAINER_ID_LEN);
		id[CONTAINER_ID_LEN] = '\0';
		return true;
	}
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t plen = strlen(prefixes[i]);

		if (len == plen + CONTAINER_ID_LEN + strlen(".scope") && strncmp(comp, prefixes[i], plen) == 0 &&
		    all_hex(comp + plen, CONTAINER_ID_LEN) && strncmp(comp + plen + CONTAINER_ID_LEN, ".scope", 6) == 0) {
			memcpy(id, comp + plen, CONTAINER_ID_LEN);
			id[CONTAINER_ID_LEN] = '\0';
			return true;
		}
	}
	return false;
}

/* The QoS class named by word (wlen bytes): the class slice a pod is below, none for a
 * guaranteed one (kubelet gives guaranteed pods no slice of their own). */
static const char *qos_of_word(const char *word, size_t wlen)
{
	if (wlen == 0)
		return "guaranteed";
	if (wlen == 9 && strncmp(word, "burstable", 9) == 0)
		return "burstable";
	if (wlen == 10 && strncmp(word, "besteffort", 10) == 0)
		return "besteffort";
	return "";
}

/*
 * The pod UID a component names: kubepods[-QOS]-podUID.slice (systemd driver, '_' for '-')
 * or podUID below a kubepods component (cgroupfs driver, below kubepods/QOS or, guaranteed,
 * right below kubepods: parent is the component above). qos (CGROUP_QOS_CLASS_LEN bytes, or
 * NULL): its class, "" for one kubelet does not have.
 */
static bool pod_component(const char *comp, size_t len, const char *parent, size_t plen, bool below_kubepods,
			  char *uid, char *qos)
{
	const char *start, *end = comp + len, *qos_word;
	size_t qos_len;

	if (len > 15 && strncmp(comp, "kubepods-", 9) == 0 && strncmp(end - 6, ".slice", 6) == 0) {
		const char *pod = NULL;

		for (const char *p = comp; p + 4 <= end - 6; p++)
			if (strncmp(p, "-pod", 4) == 0)
				pod = p;
		if (!pod)
			return false;
		start = pod + 4;
		end -= 6;
		qos_word = comp + 9;
		qos_len = pod > qos_word ? (size_t)(pod - qos_word) : 0;
	} else if (below_kubepods && len > 3 && strncmp(comp, "pod", 3) == 0) {
		start = comp + 3;
		qos_word = parent;
		qos_len = parent && !(plen == 8 && strncmp(parent, "kubepods", 8) == 0) ? plen : 0;
	} else {
		return false;
	}
	if (end <= start || (size_t)(end - start) >= POD_UID_MAX)
		return false;
	for (const char *p = start; p < end; p++)
		*uid++ = *p == '_' ? '-' : *p;
	*uid = '\0';
	if (qos)
		snprintf(qos, CGROUP_QOS_CLASS_LEN, "%s", qos_of_word(qos_word, qos_len));
	return true;
}

static bool service_component(const char *comp, size_t len)
{
	return len > 8 && strncmp(comp + len - 8, ".service", 8) == 0;
}

/* The workload named by one component of a path, given the one above it (parent, plen;
 * NULL at the root) and whether a kubepods component is above it; value:
 * CONTAINER_ID_LEN + 1 bytes at least. */
static bool component_workload(const char *comp, size_t len, const char *parent, size_t plen, bool below_kubepods,
			       enum cgroup_workload kind, char *value, size_t vlen)
{
	char uid[POD_UID_MAX];

	switch (kind) {
	case CGROUP_WORKLOAD_CONTAINER:
		return container_component(comp, len, value);
	case CGROUP_WORKLOAD_POD:
		return pod_component(comp, len, parent, plen, below_kubepods, value, NULL);
	case CGROUP_WORKLOAD_QOS:
		return pod_component(comp, len, parent, plen, below_kubepods, uid, value) && value[0];
	case CGROUP_WORKLOAD_SERVICE:
		if (!service_component(comp, len) || len >= vlen)
			return false;
		memcpy(value, comp, len);
		value[len] = '\0';
		return true;
	default:
		return false;
	}
}

/* The workload of kind the cgroup at path is in (its deepest component of that kind), into
 * out; false (out untouched) when it is in none. */
static bool workload_of_path(const char *path, enum cgroup_workload kind, char *out, size_t len)
{
	char value[PATH_MAX];
	const char *parent = NULL;
	size_t plen = 0;
	bool kubepods = false, found = false;

	/* every component, the last (deepest) match kept */
	for (const char *p = path; *p;) {
		const char *slash;
		size_t n;

		while (*p == '/')
			p++;
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n && component_workload(p, n, parent, plen, kubepods, kind, value, sizeof(value))) {
			found = true;
			snprintf(out, len, "%s", value);
		}
		if ((n == 8 && strncmp(p, "kubepods", 8) == 0) || (n > 8 && strncmp(p, "kubepods.", 9) == 0))
			kubepods = true;
		parent = p;
		plen = n;
		p += n;
	}
	return found;
}

const char *cgroup_workload_of_path(const char *path, enum cgroup_workload kind, char *out, size_t len)
{
	if (!workload_of_path(path, kind, out, len))
		snprintf(out, len, "-");
	return out;
}

void cgroup_identity_of_path(const char *path, struct cgroup_identity *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->cgroup, sizeof(out->cgroup), "%s", path);
	workload_of_path(path, CGROUP_WORKLOAD_CONTAINER, out->container_id, sizeof(out->container_id));
	workload_of_path(path, CGROUP_WORKLOAD_POD, out->pod_uid, sizeof(out->pod_uid));
	workload_of_path(path, CGROUP_WORKLOAD_QOS, out->qos_class, sizeof(out->qos_class));
	workload_of_path(path, CGROUP_WORKLOAD_SERVICE, out->service, sizeof(out->service));
}

/* The path below the cgroup2 root of the cgroup with this id, through its file handle. */
static int cgroup_path_of_id(uint64_t id, char *path, size_t len)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} handle = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = KERNFS_HANDLE_TYPE }, .id = id };
	const char *root = cgroup2_root();
	char link[64], full[PATH_MAX];
	int mount_fd, fd, rc = -ENOENT;
	ssize_t n;

	if (!root)
		return -ENOENT;
	mount_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mount_fd < 0)
		return -errno;
	fd = open_by_handle_at(mount_fd, &handle.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto cleanup;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, full, sizeof(full) - 1);
	if (n > 0) {
		size_t rlen = strlen(root);

		full[n] = '\0';
		if (strncmp(full, root, rlen) == 0 && (full[rlen] == '/' || !full[rlen])) {
			snprintf(path, len, "%s", full[rlen] ? full + rlen : "/");
			rc = 0;
		}
	}
	close(fd);
cleanup:
	close(mount_fd);
	return rc;
}

void cgroup_workload_label(uint64_t id, enum cgroup_workload kind, char *label, size_t len)
{
	char workload[PATH_MAX];

	snprintf(label, len, "%s=%s", cgroup_workload_name(kind), cgroup_workload_of_id(id, kind, workload, sizeof(workload)));
}

/* Identities by cgroup id, direct-mapped: a window's few ids resolve without a syscall. */
#define IDENTITY_CACHE_SLOTS 256
static struct {
	uint64_t id;
	struct cgroup_identity who;
} identity_cache[IDENTITY_CACHE_SLOTS];

const struct cgroup_identity *cgroup_identity_of_id(uint64_t id)
{
	size_t slot = (size_t)(id % IDENTITY_CACHE_SLOTS);
	char path[PATH_MAX];

	if (id && identity_cache[slot].id == id)
		return &identity_cache[slot].who;
	/* gone (or never on this mount): not cached, the id is never reused */
	if (!id || cgroup_path_of_id(id, path, sizeof(path)))
		return NULL;
	cgroup_identity_of_path(path, &identity_cache[slot].who);
	identity_cache[slot].id = id;
	return &identity_cache[slot].who;
}

const char *cgroup_workload_of_id(uint64_t id, enum cgroup_workload kind, char *out, size_t len)
{
	const struct cgroup_identity *who = cgroup_identity_of_id(id);
	const char *value;

	if (!who) {
		snprintf(out, len, "cgroup-%" PRIu64, id);
		return out;
	}
	switch (kind) {
	case CGROUP_WORKLOAD_CONTAINER:
		value = who->container_id;
		break;
	case CGROUP_WORKLOAD_POD:
		value = who->pod_uid;
		break;
	case CGROUP_WORKLOAD_SERVICE:
		value = who->service;
		break;
	case CGROUP_WORKLOAD_QOS:
		value = who->qos_class;
		break;
	default:
		value = who->cgroup;
		break;
	}
	snprintf(out, len, "%s", value[0] ? value : "-");
	return out;
}

/* A resolve in progress: what is looked for, the first match and whether another differs. */
struct resolve {
	enum cgroup_workload kind;
	const char *value;
	size_t root_len;
	char match[PATH_MAX];      /* the first matching directory, below the root */
	char match_name[PATH_MAX]; /* its workload (a second differing one is ambiguous) */
	char other_name[PATH_MAX];
	struct stat match_st;
	int matches;
};

static bool names_match(const struct resolve *r, const char *name)
{
	if (r->kind == CGROUP_WORKLOAD_CONTAINER)
		return strncmp(name, r->value, strlen(r->value)) == 0;
	if (r->kind == CGROUP_WORKLOAD_SERVICE && !strchr(r->value, '.'))
		return strncmp(name, r->value, strlen(r->value)) == 0 && strcmp(name + strlen(r->value), ".service") == 0;
	return strcmp(name, r->value) == 0;
}

/* Depth-first below dir (full path), kubepods: whether a kubepods component is above. */
static void resolve_walk(struct resolve *r, char *dir, size_t dlen, bool kubepods, int depth)
{
	DIR *d;
	struct dirent *e;

	if (depth > WALK_MAX_DEPTH || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char name[PATH_MAX];
		struct stat st;

		if (e->d_type != DT_DIR || e->d_name[0] == '.' || dlen + 1 + n >= PATH_MAX)
			continue;
		dir[dlen] = '/';
		memcpy(dir + dlen + 1, e->d_name, n + 1);
		if (component_workload(e->d_name, n, NULL, 0, kubepods, r->kind, name, sizeof(name)) &&
		    names_match(r, name) &&
		    stat(dir, &st) == 0) {
			if (!r->matches++) {
				snprintf(r->match, sizeof(r->match), "%s", dir + r->root_len);
				snprintf(r->match_name, sizeof(r->match_name), "%s", name);
				r->match_st = st;
			} else if (strcmp(name, r->match_name) != 0 && !r->other_name[0]) {
				snprintf(r->other_name, sizeof(r->other_name), "%s", name);
			} else if (strcmp(name, r->match_name) == 0 && r->kind != CGROUP_WORKLOAD_CONTAINER &&
				   !r->other_name[0]) {
				/* the same unit or pod twice (a user's manager runs units too) */
				snprintf(r->other_name, sizeof(r->other_name), "%s", dir + r->root_len);
			}
		}
		resolve_walk(r, dir, dlen + 1 + n, kubepods || strcmp(e->d_name, "kubepods") == 0 ||
						      strncmp(e->d_name, "kubepods.", 9) == 0,
			     depth + 1);
		dir[dlen] = '\0';
	}
	closedir(d);
}


/* Components below the root: the level the BPF side compares the ancestor at. */
static uint32_t path_level(const char *path)
{
	uint32_t level = 0;

	for (const char *p = path; *p; p++)
		if (*p != '/' && (p == path || p[-1] == '/'))
			level++;
	return level;
}

int cgroup_filter_resolve(enum cgroup_workload kind, const char *value, struct cgroup_filter_entry *out,
			  char *err, size_t errlen)
{
	const char *root = cgroup2_root();
	struct resolve *r;
	int rc = -EINVAL;

	if (!root) {
		snprintf(err, errlen, "parameter '%s': cgroup v2 is not mounted on this host", kind_names[kind]);
		return -ENOENT;
	}
	if (kind == CGROUP_WORKLOAD_CONTAINER && (!*value || strlen(value) > CONTAINER_ID_LEN ||
						  !all_hex(value, strlen(value)))) {
		snprintf(err, errlen, "parameter 'container' value '%.80s' is not a container id (or a prefix: "
			 "lowercase hex digits)", value);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->kind = kind;
	r->value = value;
	r->root_len = strlen(root);
	if (kind == CGROUP_WORKLOAD_PATH) {
		const char *below = value, *mount_below = root + strlen("/sys/fs/cgroup");
		size_t mlen = strlen(mount_below);

		/* as before the mount was looked up: a path under /sys/fs/cgroup, which on a hybrid
		 * host starts with the cgroup2 mount's own directory (/unified) */
		if (strncmp(root, "/sys/fs/cgroup/", 15) == 0 && strncmp(value, mount_below, mlen) == 0 &&
		    (value[mlen] == '/' || !value[mlen]))
			below = value + mlen;
		snprintf(r->match, sizeof(r->match), "%s%s", root, below);
		if (stat(r->match, &r->match_st) == 0 && S_ISDIR(r->match_st.st_mode)) {
			r->matches = 1;
			snprintf(r->match, sizeof(r->match), "%s", below);
		}
	} else {
		char *dir = malloc(PATH_MAX);

		if (!dir) {
			rc = -ENOMEM;
			goto cleanup;
		}
		snprintf(dir, PATH_MAX, "%s", root);
		resolve_walk(r, dir, strlen(dir), false, 0);
		free(dir);
	}
	if (!r->matches) {
		snprintf(err, errlen, "parameter '%s' value '%.80s': no such %s in the cgroup v2 hierarchy at %s",
			 kind_names[kind], value, kind == CGROUP_WORKLOAD_PATH ? "cgroup" : kind_names[kind], root);
		goto cleanup;
	}
	if (r->other_name[0]) {
		snprintf(err, errlen, "parameter '%s' value '%.80s' is ambiguous: it names %.80s and %.80s",
			 kind_names[kind], value, r->match_name, r->other_name);
		goto cleanup;
	}
	out->id = (__u64)r->match_st.st_ino; /* the cgroup id is the directory's inode number */
	out->level = path_level(r->match);
	out->pad = 0;
	if (out->level >= CGROUP_FILTER_MAX_LEVEL) {
		snprintf(err, errlen, "parameter '%s' value '%.80s' is %u levels deep (at most %d)", kind_names[kind],
			 value, out->level, CGROUP_FILTER_MAX_LEVEL - 1);
		goto cleanup;
	}
	rc = 0;
cleanup:
	free(r);
	return rc;
}
