#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# kfunc-count ground truth: exactly 37 send() calls are exactly 37 tcp_sendmsg calls; bad globs are refused.
"""
count: tcp_workload's client makes exactly 37 send() calls on one loopback connection
(each one tcp_sendmsg call in the kernel; connect, shutdown and recv make none). Two
sessions run at once:
  --target tcp_sendmsg --pid CLIENT (the seed's first example, filtered): exactly one
  row, tcp_sendmsg with 37 calls;
  --target 'tcp_send*' --by pid, system-wide: the rows of the client's pid list
  tcp_sendmsg with exactly 37 calls, and no function outside the glob appears.
bad_targets: a glob matching more than 200 functions is refused with the number it
matched (counted by the test from available_filter_functions), a name that matches
nothing is refused naming it, and a malformed one is refused; the agent stays up.
On a kernel without kprobes (the build machine) both skip with the agent's reason.
"""
import fnmatch
import sys

from harness import Attach, Env, check, log, run_tests, skip_if_unsupported, summary_rows
from net_workload import Client, start_server

SENDS = 37
SIZE = 1000
EXIT_REJECTED = 5
TRACEABLE = "/sys/kernel/tracing/available_filter_functions"


def test_count(args):
    with Env(args) as env:
        port = start_server(env)
        client = Client(env, "send", port, "--count", str(SENDS), "--size", str(SIZE))
        with Attach(env, "kfunc-count", ["--target", "tcp_sendmsg", "--pid", str(client.pid)],
                    duration="60s", skip_unsupported_anywhere=True) as one, \
                Attach(env, "kfunc-count", ["--target", "tcp_send*", "--by", "pid", "--top", "100000"],
                       duration="60s") as glob:
            log(f"hook: {one.attached.get('hook')}")
            client.go()
            client.wait_done(timeout=60)
            one.end()
            glob.end()
            one_rows = summary_rows(one, "kfunc-count tcp_sendmsg --pid")
            glob_rows = summary_rows(glob, "kfunc-count tcp_send* --by pid")
        log(f"MEASURED kfunc-count tcp_sendmsg --pid {client.pid}: {one_rows}")
        check([(r["function"], r["calls"]) for r in one_rows] == [("tcp_sendmsg", SENDS)],
              f"tcp_sendmsg --pid rows {one_rows}, want tcp_sendmsg with {SENDS} calls")
        mine = {r["function"]: r["calls"] for r in glob_rows if str(r["pid"]) == str(client.pid)}
        log(f"MEASURED kfunc-count tcp_send* of pid {client.pid}: {mine}")
        check(mine.get("tcp_sendmsg") == SENDS, f"tcp_send* rows of the client {mine}, want tcp_sendmsg {SENDS}")
        check(all(fnmatch.fnmatchcase(r["function"], "tcp_send*") for r in glob_rows),
              f"rows outside the glob: {glob_rows}")
        env.stop_agent_checked()


def traceable_count(glob):
    with open(TRACEABLE) as f:
        names = {line.split()[0] for line in f if line.strip()}
    return len({n for n in names if fnmatch.fnmatchcase(n, glob) and not n.startswith("__ftrace_invalid_address__")})


def test_bad_targets(args):
    with Env(args) as env:
        wide = "*"
        cases = [
            ("too many", wide, lambda: f"matches {traceable_count(wide)} kernel functions, at most 200"),
            ("matching nothing", "no_such_kernel_function_x*", "no traceable kernel function matches "
                                                               "'no_such_kernel_function_x*'"),
            ("malformed", "../tcp_sendmsg", "is not a kernel function name or glob"),
        ]
        for what, target, want in cases:
            rc, out, err = env.run_cli(f"bad-{what}", env.cli_argv(
                env.path("ca.pem"), env.path("client.pem"), env.path("client.key"),
                "attach", f"127.0.0.1:{env.port}", "kfunc-count", "--target", target, "--duration", "2s"))
            skip_if_unsupported(rc, err, anywhere=True)
            log(f"MEASURED {what}: exit {rc}, stderr {err.strip()!r}")
            check(rc == EXIT_REJECTED, f"{what}: CLI exited {rc}, want {EXIT_REJECTED}")
            want = want() if callable(want) else want
            check("'target'" in err and want in err, f"{what}: stderr {err!r} lacks 'target' and {want!r}")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"count": test_count, "bad_targets": test_bad_targets}, __doc__))
