#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Ground truth for syscalls: a process that calls getppid() exactly 10000 times.
"""
syscalls: syscall_loop calls syscall(SYS_getppid) exactly 10000 times (through syscall(2),
so libc cannot answer from a cache). syscalls filtered by its pid must count exactly
10000 getppid calls: in the row (syscall=getppid, pid=PID, comm=syscall_loop) with
--by pid, and in the row (syscall=getppid, pid=*, comm=*) without. The summary must
equal the sum of the snapshots, and total_ns must be positive. With --param measure=count
(one hook, at entry) the count is still exactly 10000 and total_ns is 0.
"""
import os
import subprocess
import sys

from harness import Env, Attach, LineReader, check, log, summaries, run_tests

CALLS = 10000


def run(args, by_pid, count_only=False):
    with Env(args) as env:
        try:
            wl = env.spawn("syscall_loop", [os.path.join(args.tools, "syscall_loop"), "--wait-go",
                                            "--count", str(CALLS), "--timeout-seconds", "30"],
                           stdout=subprocess.PIPE, stdin=subprocess.PIPE)
            out = LineReader(wl.stdout, "syscall_loop")
            line = out.readline(10)
            check(line is not None and line.startswith("ready "), f"syscall_loop said {line!r}")
            pid = int(line.split()[1])
            extra = ["--pid", str(pid)] + (["--by", "pid"] if by_pid else []) + \
                (["--param", "measure=count"] if count_only else [])
            with Attach(env, "syscalls", extra, duration="3s") as a:
                wl.stdin.write(b"go\n")
                wl.stdin.flush()
                done = out.readline(15)
                check(done == f"done {CALLS}", f"syscall_loop said {done!r}")
                check(wl.wait(timeout=10) == 0, "syscall_loop failed")
            objs = a.result()
            log(f"hook: {objs[0].get('hook')}")
            summ = summaries(objs)
            check(len(summ) == 1, f"{len(summ)} summaries, want 1")
            want_keys = {"syscall": "getppid", "pid": pid, "comm": "syscall_loop"} if by_pid else \
                {"syscall": "getppid", "pid": "*", "comm": "*"}
            rows = [r for r in summ[0]["rows"] if all(r.get(k) == v for k, v in want_keys.items())]
            check(len(rows) == 1, f"no single summary row {want_keys}; rows: {summ[0]['rows']}")
            row = rows[0]
            snap_total = sum(r["count"] for o in objs if o.get("type") == "snapshot"
                             for r in o.get("rows", []) if all(r.get(k) == v for k, v in want_keys.items()))
            log(f"MEASURED {want_keys} count={row['count']} total_ns={row['total_ns']} "
                f"mean={row['total_ns'] / max(1, row['count']):.0f}ns snapshots_sum={snap_total} "
                f"(ground truth: {CALLS} calls); other rows: "
                f"{[(r['syscall'], r['count']) for r in summ[0]['rows'] if r is not row]}")
            check(row["count"] == CALLS, f"getppid count {row['count']}, want exactly {CALLS}")
            check(snap_total == CALLS, f"snapshots add up to {snap_total}, want {CALLS}")
            if count_only:
                check("sys_exit" not in objs[0].get("hook", ""), f"measure=count hooks {objs[0].get('hook')!r}")
                check(row["total_ns"] == 0, f"measure=count still timed calls: total_ns {row['total_ns']}")
            else:
                check(row["total_ns"] > 0, "getppid total_ns is 0")
            for r in summ[0]["rows"]:
                check(r["pid"] == want_keys["pid"], f"row of another process with --pid {pid}: {r}")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_by_pid(args):
    run(args, True)


def test_by_syscall(args):
    run(args, False)


def test_count_only(args):
    run(args, False, count_only=True)


if __name__ == "__main__":
    sys.exit(run_tests({"by_pid": test_by_pid, "by_syscall": test_by_syscall,
                            "count_only": test_count_only}, __doc__))
