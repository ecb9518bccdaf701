/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the workload names read from cgroup v2 paths, runtime by runtime. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cgroup_identity.h"

#define ID_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "6f9c1c3e-2b1a-4a57-9d2f-0e8a7c3b5d41"
#define UID_ "6f9c1c3e_2b1a_4a57_9d2f_0e8a7c3b5d41"

static const char *of(const char *path, enum cgroup_workload kind)
{
	static char out[256];

	return cgroup_workload_of_path(path, kind, out, sizeof(out));
}

static void test_containers(void **state)
{
	(void)state;
	/* kubelet with the systemd driver, containerd; a sub-cgroup is its container's */
	assert_string_equal(of("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
			       ".slice/cri-containerd-" ID_A ".scope", CGROUP_WORKLOAD_CONTAINER), ID_A);
	assert_string_equal(of("/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID_A ".scope/sub",
			       CGROUP_WORKLOAD_CONTAINER), ID_A);
	assert_string_equal(of("/system.slice/docker-" ID_A ".scope", CGROUP_WORKLOAD_CONTAINER), ID_A);
	assert_string_equal(of("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID_A ".scope",
			       CGROUP_WORKLOAD_CONTAINER), ID_A);
	/* the cgroupfs driver: the id alone */
	assert_string_equal(of("/kubepods/burstable/pod" UID "/" ID_A, CGROUP_WORKLOAD_CONTAINER), ID_A);
	/* not containers: a short id, upper case, a unit, the root */
	assert_string_equal(of("/system.slice/docker-0123abcd.scope", CGROUP_WORKLOAD_CONTAINER), "-");
	assert_string_equal(of("/system.slice/docker-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
			       ".scope", CGROUP_WORKLOAD_CONTAINER), "-");
	assert_string_equal(of("/system.slice/nginx.service", CGROUP_WORKLOAD_CONTAINER), "-");
	assert_string_equal(of("/", CGROUP_WORKLOAD_CONTAINER), "-");
}

static void test_pods(void **state)
{
	(void)state;
	assert_string_equal(of("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
			       ".slice/cri-containerd-" ID_A ".scope", CGROUP_WORKLOAD_POD), UID);
	/* guaranteed pods have no QoS slice */
	assert_string_equal(of("/kubepods.slice/kubepods-pod" UID_ ".slice", CGROUP_WORKLOAD_POD), UID);
	assert_string_equal(of("/kubepods/besteffort/pod" UID "/" ID_A, CGROUP_WORKLOAD_POD), UID);
	/* "pod..." outside kubepods is not a pod */
	assert_string_equal(of("/system.slice/podman.service", CGROUP_WORKLOAD_POD), "-");
	assert_string_equal(of("/pod" UID, CGROUP_WORKLOAD_POD), "-");
}

static void test_services(void **state)
{
	(void)state;
	assert_string_equal(of("/system.slice/nginx.service", CGROUP_WORKLOAD_SERVICE), "nginx.service");
	/* the deepest unit: a user's service inside the user manager's */
	assert_string_equal(of("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
			       CGROUP_WORKLOAD_SERVICE), "foo.service");
	assert_string_equal(of("/system.slice/docker-" ID_A ".scope", CGROUP_WORKLOAD_SERVICE), "-");
}

/* kubelet's QoS classes, as both its cgroup drivers lay pods out. */
static void test_qos_classes(void **state)
{
	(void)state;
	/* systemd driver: the class in the pod slice's name, none for guaranteed */
	assert_string_equal(of("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
			       ".slice/cri-containerd-" ID_A ".scope", CGROUP_WORKLOAD_QOS), "burstable");
	assert_string_equal(of("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice",
			       CGROUP_WORKLOAD_QOS), "besteffort");
	assert_string_equal(of("/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID_A ".scope/sub",
			       CGROUP_WORKLOAD_QOS), "guaranteed");
	/* cgroupfs driver: the class directory above the pod, none for guaranteed */
	assert_string_equal(of("/kubepods/burstable/pod" UID "/" ID_A, CGROUP_WORKLOAD_QOS), "burstable");
	assert_string_equal(of("/kubepods/besteffort/pod" UID, CGROUP_WORKLOAD_QOS), "besteffort");
	assert_string_equal(of("/kubepods/pod" UID "/" ID_A, CGROUP_WORKLOAD_QOS), "guaranteed");
	/* no pod, no class: a class slice alone, outside kubepods, a unit, the root */
	assert_string_equal(of("/kubepods.slice/kubepods-burstable.slice", CGROUP_WORKLOAD_QOS), "-");
	assert_string_equal(of("/kubepods/burstable", CGROUP_WORKLOAD_QOS), "-");
	assert_string_equal(of("/burstable/pod" UID, CGROUP_WORKLOAD_QOS), "-");
	assert_string_equal(of("/system.slice/docker-" ID_A ".scope", CGROUP_WORKLOAD_QOS), "-");
	assert_string_equal(of("/system.slice/nginx.service", CGROUP_WORKLOAD_QOS), "-");
	assert_string_equal(of("/", CGROUP_WORKLOAD_QOS), "-");
	/* a class kubelet does not have is not guessed */
	assert_string_equal(of("/kubepods.slice/kubepods-other-pod" UID_ ".slice", CGROUP_WORKLOAD_QOS), "-");
}

/* The identity of path is exactly these, "" for what it is in none of. */
static void assert_identity(const char *path, const char *container, const char *pod, const char *qos,
			    const char *service)
{
	struct cgroup_identity who;

	cgroup_identity_of_path(path, &who);
	assert_string_equal(who.cgroup, path);
	assert_string_equal(who.container_id, container);
	assert_string_equal(who.pod_uid, pod);
	assert_string_equal(who.qos_class, qos);
	assert_string_equal(who.service, service);
}

static void test_identity_of_path(void **state)
{
	(void)state;
	assert_identity("/kubepods/burstable/pod" UID "/" ID_A, ID_A, UID, "burstable", "");
	assert_identity("/system.slice/nginx.service", "", "", "", "nginx.service");
	assert_identity("/user.slice/user-1000.slice/session-3.scope", "", "", "", "");
}

static void test_by_values(void **state)
{
	(void)state;
	assert_int_equal(cgroup_workload_by("container"), CGROUP_WORKLOAD_CONTAINER);
	assert_int_equal(cgroup_workload_by("pod"), CGROUP_WORKLOAD_POD);
	assert_int_equal(cgroup_workload_by("service"), CGROUP_WORKLOAD_SERVICE);
	assert_int_equal(cgroup_workload_by("pid"), CGROUP_WORKLOAD_NONE);
	assert_int_equal(cgroup_workload_by(""), CGROUP_WORKLOAD_NONE);
}

/* Refused before any walk: a container prefix that is not lower-case hex. */
static void test_resolve_refusals(void **state)
{
	struct cgroup_filter_entry e;
	char err[256];

	(void)state;
	if (!cgroup2_root())
		skip();
	assert_true(cgroup_filter_resolve(CGROUP_WORKLOAD_CONTAINER, "ABC", &e, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "'ABC'"));
	assert_true(cgroup_filter_resolve(CGROUP_WORKLOAD_POD, "no-such-pod-uid", &e, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "no such pod"));
	/* the root is a cgroup: level 0 */
	assert_int_equal(cgroup_filter_resolve(CGROUP_WORKLOAD_PATH, "/", &e, err, sizeof(err)), 0);
	assert_int_equal(e.level, 0);
	assert_true(e.id != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_containers), cmocka_unit_test(test_pods), cmocka_unit_test(test_services),
		cmocka_unit_test(test_qos_classes), cmocka_unit_test(test_identity_of_path),
		cmocka_unit_test(test_by_values), cmocka_unit_test(test_resolve_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
