#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Ground truth for syscalls: exactly 10000 getppid() calls, then 50 nanosleep()s of 2 ms.
"""
syscalls: syscall_loop calls syscall(SYS_getppid) exactly CALLS times (through syscall(2),
so libc cannot answer from a cache), then syscall(SYS_nanosleep) of SLEEP_US exactly
SLEEPS times, and prints the time its own clock measured around each of the two loops.
syscalls filtered by its pid must count exactly CALLS getppid and SLEEPS nanosleep calls:
in the rows (syscall=NAME, pid=PID, comm=syscall_loop) with --by pid, and in the rows
(syscall=NAME, pid=*, comm=*) without; the summary must equal the sum of the snapshots.
Time (entry to return of each call, all inside the workload's loop, one call at a time):
- nanosleep: total_ns at least SLEEPS x SLEEP_US (a sleep never ends early) and at most
  the workload's own time around the sleeps (its clock brackets every call);
- getppid: total_ns positive and at most the workload's own time around its loop.
On a quiet machine the workload's own sleeps average SLEEP_US + some 40 us (timer slack
is 1 ns), so the window the probe's total must fall in is that narrow; a loaded machine
widens it (a woken sleeper waits for a CPU), and the log shows how wide it was.
With --param measure=count (one hook, at entry) the counts are still exact and
total_ns is 0.
"""
import os
import subprocess
import sys

from harness import Env, Attach, LineReader, check, log, summaries, run_tests

CALLS = 10000
SLEEPS = 50
SLEEP_US = 2000


def run(args, by_pid, count_only=False):
    with Env(args) as env:
        try:
            wl = env.spawn("syscall_loop", [os.path.join(args.tools, "syscall_loop"), "--wait-go",
                                            "--count", str(CALLS), "--sleeps", str(SLEEPS),
                                            "--sleep-us", str(SLEEP_US), "--timeout-seconds", "30"],
                           stdout=subprocess.PIPE, stdin=subprocess.PIPE)
            out = LineReader(wl.stdout, "syscall_loop")
            line = out.readline(10)
            check(line is not None and line.startswith("ready "), f"syscall_loop said {line!r}")
            pid = int(line.split()[1])
            extra = ["--pid", str(pid)] + (["--by", "pid"] if by_pid else []) + \
                (["--param", "measure=count"] if count_only else [])
            with Attach(env, "syscalls", extra, duration="60s", timeout=90) as a:
                wl.stdin.write(b"go\n")
                wl.stdin.flush()
                done = out.readline(15)
                check(done is not None and done.startswith(f"done {CALLS} "), f"syscall_loop said {done!r}")
                check(wl.wait(timeout=10) == 0, "syscall_loop failed")
                a.end()  # every call returned, so the probe has recorded it
            objs = a.result()
            log(f"hook: {objs[0].get('hook')}")
            summ = summaries(objs)
            check(len(summ) == 1, f"{len(summ)} summaries, want 1")
            loop_ns, sleeps, sleeps_ns, max_sleep_ns = (int(x) for x in done.split()[2:6])
            log(f"MEASURED workload's own clock: {CALLS} getppid in {loop_ns} ns, {sleeps} nanosleep of "
                f"{SLEEP_US} us in {sleeps_ns} ns (mean {sleeps_ns / sleeps / 1e3:.1f} us, "
                f"longest {max_sleep_ns / 1e3:.1f} us)")
            check(sleeps == SLEEPS, f"syscall_loop slept {sleeps} times, want {SLEEPS}")
            rows = {}
            for name, calls in (("getppid", CALLS), ("nanosleep", SLEEPS)):
                want_keys = {"syscall": name, "pid": pid, "comm": "syscall_loop"} if by_pid else \
                    {"syscall": name, "pid": "*", "comm": "*"}
                match = [r for r in summ[0]["rows"] if all(r.get(k) == v for k, v in want_keys.items())]
                check(len(match) == 1, f"no single summary row {want_keys}; rows: {summ[0]['rows']}")
                row = rows[name] = match[0]
                snap_total = sum(r["count"] for o in objs if o.get("type") == "snapshot"
                                 for r in o.get("rows", []) if all(r.get(k) == v for k, v in want_keys.items()))
                log(f"MEASURED {want_keys} count={row['count']} total_ns={row['total_ns']} "
                    f"mean={row['total_ns'] / max(1, row['count']):.0f}ns snapshots_sum={snap_total} "
                    f"(ground truth: {calls} calls)")
                check(row["count"] == calls, f"{name} count {row['count']}, want exactly {calls}")
                check(snap_total == calls, f"{name}: snapshots add up to {snap_total}, want {calls}")
            log(f"other rows: {[(r['syscall'], r['count']) for r in summ[0]['rows'] if r not in rows.values()]}")
            if count_only:
                check("sys_exit" not in objs[0].get("hook", ""), f"measure=count hooks {objs[0].get('hook')!r}")
                for name, row in rows.items():
                    check(row["total_ns"] == 0, f"measure=count still timed {name}: total_ns {row['total_ns']}")
            else:
                slept = rows["nanosleep"]["total_ns"]
                log(f"MEASURED nanosleep window: [{SLEEPS * SLEEP_US * 1000}, {sleeps_ns}] ns, "
                    f"{(sleeps_ns - SLEEPS * SLEEP_US * 1000) / (SLEEPS * SLEEP_US * 10):.1f}% wide")
                check(SLEEPS * SLEEP_US * 1000 <= slept <= sleeps_ns,
                      f"nanosleep total_ns {slept}, want within [{SLEEPS * SLEEP_US * 1000}, {sleeps_ns}] "
                      "(the set sleeps, the workload's own time around them)")
                spent = rows["getppid"]["total_ns"]
                check(0 < spent <= loop_ns, f"getppid total_ns {spent}, want within (0, {loop_ns}] "
                      "(the workload's own time around the loop)")
            want_pid = pid if by_pid else "*"
            for r in summ[0]["rows"]:
                check(r["pid"] == want_pid, f"row of another process with --pid {pid}: {r}")
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
