#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# profile inside containers: symbols read through each process's own mount namespace, and
# one symbol-table parse for copies of one binary (found by build-id).
"""
containers: two copies of spin_workload (two inodes, one build-id) run, each in a mount
namespace of its own (unshare -m) from a path only that namespace has: a tmpfs over an
empty directory with the copy bind-mounted at DIR/app. profile --comm (the copies' own
name, which nothing else on the machine runs) samples both for 3 s at 49 Hz. Checked:
- the binary's path does not exist on the host (the agent cannot open it by name);
- spin_here named, with spin_outer as its caller, in every sample but the edges;
- the agent's counters (tracectl status): exactly one file shared a symbol table parsed
  for another by build-id (the second copy; libc is one inode for both).
Needs unshare(1) and mount namespaces; exits 77 (skipped) otherwise.
"""
import json
import os
import shutil
import subprocess
import sys

from harness import SKIP, Env, check, log, run_tests
from test_profile import EDGE_SAMPLES, count_spin, expected_samples, profile_workloads, spawn_workload


def agent_symbol_stats(env):
    """(symbol tables parsed, files that shared one by build-id) from `tracectl status`."""
    rc, out, err = env.run_cli("status", env.cli_argv(
        env.path("ca.pem"), env.path("client.pem"), env.path("client.key"),
        "status", f"127.0.0.1:{env.port}", "--output", "json"))
    check(rc == 0, f"tracectl status exited {rc}: {err.strip()[-300:]}")
    st = json.loads(out.splitlines()[0])
    check("symbol_tables_parsed" in st, f"status has no symbol counters: {out.strip()[:300]}")
    return st["symbol_tables_parsed"], st["symbol_tables_shared"]


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


def test_containers(args):
    """Two copies of spin_workload (two inodes, one build-id), each in its own mount
    namespace under a path only that namespace has: profile names spin_here in both,
    and the agent parses the binary's symbol table once."""
    require_mount_ns("containers")
    with Env(args) as env:
        # a comm no other process on the machine has (--comm is exact)
        comm = f"nsspin{os.getpid() % 100000}"
        workloads = []
        for i in range(2):
            argv, inside = in_container(env, str(i), os.path.join(args.tools, "spin_workload"), comm)
            wl, wl_out, pid = spawn_workload(env, f"container{i}", argv)
            check(os.readlink(f"/proc/{pid}/exe") == inside and not os.path.exists(inside),
                  f"the container's binary {inside} is visible on the host")
            workloads.append((wl, wl_out))
        inodes = {os.stat(os.path.join(env.dir, f"image-{i}", comm)).st_ino for i in range(2)}
        check(len(inodes) == 2, "the two copies are one inode")
        parsed_before, shared_before = agent_symbol_stats(env)
        folded, dones = profile_workloads(env, workloads, ["--comm", comm])
        parsed, shared = agent_symbol_stats(env)
        parsed -= parsed_before
        shared -= shared_before
        total, in_spin, with_caller = count_spin(folded, comm)
        cpu_ns = [int(d.split()[3]) for d in dones]
        want, allowance = expected_samples(sum(cpu_ns), sum(int(d.split()[5]) + 1 for d in dones),
                                           2 * EDGE_SAMPLES)
        log(f"MEASURED containers: samples={total} in spin_here={in_spin} spin_outer;spin_here={with_caller}; "
            f"ground truth {want:.1f} +- {allowance:.1f} (CPU {cpu_ns[0] / 1e9:.3f} s + {cpu_ns[1] / 1e9:.3f} s); "
            f"symbol tables parsed={parsed} shared by build-id={shared}")
        # both spins are sampled, and every spin sample is named through the namespaces
        check(abs(total - want) <= allowance, f"{total} samples, want {want:.1f} +- {allowance:.1f}")
        check(in_spin >= total - 2 * EDGE_SAMPLES, f"spin_here in {in_spin} of {total} samples")
        check(with_caller == in_spin, f"spin_outer;spin_here in {with_caller} of {in_spin} samples in spin_here")
        # the second copy found the first one's table by build-id; libc is one inode for both
        check(shared == 1, f"{shared} files shared a symbol table by build-id, want 1 (the second copy)")
        check(parsed >= 1, f"{parsed} symbol tables parsed")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"containers": test_containers}, __doc__))
