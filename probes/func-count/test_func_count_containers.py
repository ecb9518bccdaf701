#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# func-count on a container's binary: --target resolved in the --pid process's own mount namespace.
"""
containers: func_workload is copied into a directory bound into a new mount namespace
(unshare -m) at a path the host does not have, and run from there. func-count --pid PID
--target PATH:work_unit, PATH as the container sees it, must find that file through the
process's root and count exactly its 1000 calls of work_unit; the same target without
--pid names a file the agent's own namespace does not have, and is refused (exit 5).
Needs unshare(1) and mount namespaces; exits 77 (skipped) otherwise.
"""
import os
import sys

from containers import in_container, require_mount_ns
from harness import Env, Attach, check, log, run_tests
from test_func_count import CALLS, EXIT_REJECTED, finish_workload, rows_of, start_workload


def test_containers(args):
    require_mount_ns("containers")
    with Env(args) as env:
        argv, inside = in_container(env, "func", os.path.join(args.tools, "func_workload"), "func_workload")
        wl, out, pid = start_workload(env, args, argv)
        check(not os.path.exists(inside), f"{inside} exists on the host")
        rc, _, err = env.run_cli("host-view", env.cli_argv(
            env.path("ca.pem"), env.path("client.pem"), env.path("client.key"),
            "attach", f"127.0.0.1:{env.port}", "func-count", "--target", f"{inside}:work_unit", "--duration", "2s"))
        check(rc == EXIT_REJECTED and "No such file" in err, f"without --pid: exit {rc}, {err.strip()!r}")
        with Attach(env, "func-count", ["--target", f"{inside}:work_unit", "--pid", str(pid)],
                    duration="30s") as inside_view:
            finish_workload(wl, out)
            # the workload is done and counted: end the session now (the duration is a bound)
            inside_view.end()
            rows = rows_of(inside_view.result())
        log(f"MEASURED func-count in a mount namespace: {rows}")
        check(rows == {"work_unit": CALLS}, f"rows {rows}, want work_unit={CALLS}")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"containers": test_containers}, __doc__))
