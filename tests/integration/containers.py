# SPDX-License-Identifier: Apache-2.0
# Shared by the probe tests that run a workload "in a container": a mount namespace of its own
# where the binary sits at a path the host does not have (profile, func-count).
import os
import shutil
import subprocess
import sys

from harness import SKIP


# Runs the command given after DIR APP in a new mount namespace, where DIR (empty on the
# host) gets a tmpfs of its own and APP (a directory) is bound at DIR/app: a path the host has not.
IN_MOUNT_NS = ('mount -t tmpfs tracectl-ns "$1" && mkdir "$1/app" && mount --bind "$2" "$1/app" && '
               'shift 2 && exec "$@"')


def require_mount_ns(test):
    """Exits 77 saying why when this machine cannot make mount namespaces."""
    if not shutil.which("unshare"):
        print(f"SKIP {test}: no unshare(1) (util-linux)", flush=True)
        sys.exit(SKIP)
    probe = subprocess.run(["unshare", "-m", "true"], stderr=subprocess.PIPE)
    if probe.returncode != 0:
        print(f"SKIP {test}: unshare -m fails here: {probe.stderr.decode().strip()}", flush=True)
        sys.exit(SKIP)


def in_container(env, label, binary, name):
    """A copy of binary called name, in a directory of its own bound into a new mount
    namespace: (argv that runs it there, its path there, which the host does not have)."""
    image = os.path.join(env.dir, f"image-{label}")
    ns_dir = os.path.join(env.dir, f"ns-{label}")
    os.mkdir(image)
    os.mkdir(ns_dir)
    shutil.copy2(binary, os.path.join(image, name))
    inside = os.path.join(ns_dir, "app", name)
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", IN_MOUNT_NS, "sh", ns_dir, image,
            inside], inside
