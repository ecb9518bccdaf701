#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# func-count ground truth: a workload calls work_unit exactly 1000 times; bad targets are refused.
"""
count: func_workload calls work_unit 1000 times (and work_helper 100 times). Two
func-count sessions run at once on it, filtered by its pid: one with the exact name
(work_unit), one with the glob work_*. Both must report exactly 1000 calls of
work_unit, and the glob 100 of work_helper.
bad_targets: a nonexistent file, a non-ELF file, a relative path, a missing
':PATTERN' and a pattern that matches nothing are each refused by the agent (CLI
exit status 5) with a message naming parameter 'target'; the agent stays up.
"""
import os
import subprocess
import sys

from harness import Env, Attach, LineReader, check, log, summaries, run_tests

CALLS = 1000
HELPER_CALLS = CALLS // 10
EXIT_REJECTED = 5


def start_workload(env, args, argv=None):
    """func_workload waiting for go (argv: how to run it, default the built one)."""
    argv = argv or [os.path.join(args.tools, "func_workload")]
    wl = env.spawn("func_workload", argv + ["--wait-go", "--calls", str(CALLS), "--sleep-us", "2000",
                                            "--timeout-seconds", "60"],
                   stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    out = LineReader(wl.stdout, "func_workload")
    line = out.readline(10)
    check(line is not None and line.startswith("ready "), f"func_workload said {line!r}")
    return wl, out, int(line.split()[1])


def finish_workload(wl, out):
    wl.stdin.write(b"go\n")
    wl.stdin.flush()
    line = out.readline(30)
    rc = wl.wait(timeout=10)
    check(rc == 0 and line is not None and line.startswith(f"done {CALLS} "),
          f"func_workload: {line!r}, exit {rc}")
    return int(line.split()[2])


def rows_of(objs):
    summ = summaries(objs)
    check(len(summ) == 1, f"want one summary, got {len(summ)}: {summ}")
    return {r["function"]: r["calls"] for r in summ[0]["rows"]}


def test_count(args):
    with Env(args) as env:
        binary = os.path.join(args.tools, "func_workload")
        wl, out, pid = start_workload(env, args)
        with Attach(env, "func-count", ["--target", f"{binary}:work_unit", "--pid", str(pid)],
                    duration="30s") as exact, \
             Attach(env, "func-count", ["--target", f"{binary}:work_*", "--pid", str(pid)],
                    duration="30s") as glob:
            log(f"hook: {exact.attached.get('hook')}")
            median = finish_workload(wl, out)
            log(f"workload done, its own median call time {median} ns")
            # the workload is done and counted: end the session now (the duration is a bound)
            exact.end()
            glob.end()
            exact_rows = rows_of(exact.result())
            glob_rows = rows_of(glob.result())
        log(f"MEASURED func-count exact target: {exact_rows}")
        log(f"MEASURED func-count glob work_*: {glob_rows}")
        check(exact_rows == {"work_unit": CALLS}, f"exact target rows {exact_rows}, want work_unit={CALLS}")
        check(glob_rows.get("work_unit") == CALLS, f"glob: work_unit {glob_rows.get('work_unit')}, want {CALLS}")
        check(glob_rows.get("work_helper") == HELPER_CALLS,
              f"glob: work_helper {glob_rows.get('work_helper')}, want {HELPER_CALLS}")
        check(set(glob_rows) <= {"work_unit", "work_helper"}, f"glob rows name other functions: {glob_rows}")
        env.stop_agent_checked()


def test_bad_targets(args):
    with Env(args) as env:
        binary = os.path.join(args.tools, "func_workload")
        not_elf = os.path.join(env.dir, "not-elf.txt")
        with open(not_elf, "w") as f:
            f.write("#!/bin/sh\necho this is not an ELF file\n")
        os.chmod(not_elf, 0o644)
        cases = [
            ("nonexistent file", "/nonexistent/tracectl-no-such-binary:main", "No such file"),
            ("non-ELF file", f"{not_elf}:main", "not an ELF file"),
            ("directory", f"{env.dir}:main", "not a regular file"),
            ("relative path", "func_workload:work_unit", "ABSOLUTE_PATH:PATTERN"),
            ("no pattern", binary, "ABSOLUTE_PATH:PATTERN"),
            ("pattern matching nothing", f"{binary}:no_such_function_*", "matches no function"),
        ]
        for what, target, want in cases:
            rc, out, err = env.run_cli(f"bad-{what}", env.cli_argv(
                env.path("ca.pem"), env.path("client.pem"), env.path("client.key"),
                "attach", f"127.0.0.1:{env.port}", "func-count", "--target", target, "--duration", "2s"))
            log(f"MEASURED {what}: exit {rc}, stderr {err.strip()!r}")
            check(rc == EXIT_REJECTED, f"{what}: CLI exited {rc}, want {EXIT_REJECTED}")
            check("target" in err and want in err, f"{what}: stderr {err!r} lacks 'target' and {want!r}")
        # func-latency times exactly one function: a glob matching two is refused.
        rc, out, err = env.run_cli("latency-two-functions", env.cli_argv(
            env.path("ca.pem"), env.path("client.pem"), env.path("client.key"),
            "attach", f"127.0.0.1:{env.port}", "func-latency", "--target", f"{binary}:work_*", "--duration", "2s"))
        log(f"MEASURED func-latency work_*: exit {rc}, stderr {err.strip()!r}")
        check(rc == EXIT_REJECTED and "matches 2 functions" in err, f"func-latency work_*: exit {rc}, {err!r}")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"count": test_count, "bad_targets": test_bad_targets}, __doc__))
