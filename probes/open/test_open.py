#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Ground truth for the open probe: a unique path opened exactly 100 times, a missing one 5 times.
"""
open: the open_loop workload opens a unique file in a temp dir exactly 100 times with
openat(2) (O_RDONLY|O_CLOEXEC), a missing path 5 times (ENOENT), and two more unique
files 10 times each with open(2) and openat2(2) where this machine has them. Two
attaches run at once, --pid WORKLOAD and --comm open_loop; each must report exactly
those opens: the paths, flags and results (fd >= 0, or -2 for the missing path).

Needs root (it starts the agent); exits 77 (skipped) otherwise. Standard library only.
"""
import os
import secrets
import subprocess
import sys

from harness import Attach, Env, LineReader, check, events, log, run_tests, summaries

OPENS = 100
MISSING = 5
OTHER = 10  # with open(2) and with openat2(2) each
ENOENT = 2
O_RDONLY_CLOEXEC = 0o2000000  # O_CLOEXEC on x86_64 and arm64; O_RDONLY is 0
AT_FDCWD = -100


def check_summary(objs, want, name):
    summ = summaries(objs)
    check(len(summ) == 1, f"{name}: {len(summ)} summary lines, want 1")
    check(summ[0].get("events") == want and summ[0].get("events_dropped") == 0,
          f"{name}: summary {summ[0]}, want events={want} events_dropped=0")


def check_events(evs, pid, paths, counts, name):
    by_path = {p: [e for e in evs if e.get("path") == p] for p in paths.values()}
    log(f"MEASURED {name}: {len(evs)} events; " +
        ", ".join(f"{k}: {len(by_path[p])}" for k, p in paths.items()))
    for kind, path in paths.items():
        got = by_path[path]
        check(len(got) == counts[kind], f"{name}: {len(got)} events for {kind} path {path}, want {counts[kind]}")
        for e in got:
            want_ret_ok = e.get("ret") == -ENOENT if kind == "missing" else e.get("ret", -1) >= 0
            check(want_ret_ok, f"{name}: {kind} open has ret {e.get('ret')}: {e}")
            check(e.get("pid") == pid and e.get("comm") == "open_loop" and e.get("uid") == 0
                  and e.get("flags") == O_RDONLY_CLOEXEC and e.get("flags_text") == "O_RDONLY|O_CLOEXEC"
                  and e.get("path_missing") == 0 and e.get("dfd") == AT_FDCWD
                  and e.get("syscall") == {"open": "open", "openat2": "openat2"}.get(kind, "openat"),
                  f"{name}: fields wrong in {kind} event {e}")
    others = [e for e in evs if e.get("path") not in by_path]
    check(not others, f"{name}: {len(others)} events for other paths: {others[:3]}")


def test_open(args):
    with Env(args) as env:
        tag = secrets.token_hex(4)
        paths = {kind: os.path.join(env.dir, f"tracectl_open_{kind}_{tag}")
                 for kind in ("openat", "missing", "open", "openat2")}
        for kind in ("openat", "open", "openat2"):
            with open(paths[kind], "w") as f:
                f.write("x\n")

        wl = env.spawn("open_loop", [
            os.path.join(args.tools, "open_loop"), "--wait-go", "--timeout-seconds", "60",
            "--path", paths["openat"], "--count", str(OPENS),
            "--missing-path", paths["missing"], "--missing-count", str(MISSING),
            "--open-path", paths["open"], "--open-count", str(OTHER),
            "--openat2-path", paths["openat2"], "--openat2-count", str(OTHER)],
            stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        out = LineReader(wl.stdout, "open_loop")
        line = out.readline(10)
        check(line is not None and line.startswith("ready "), f"open_loop said {line!r}")
        pid = int(line.split()[1])

        with Attach(env, "open", ["--pid", str(pid)], duration="30s") as by_pid, \
                Attach(env, "open", ["--comm", "open_loop"], duration="30s") as by_comm:
            wl.stdin.write(b"go\n")
            wl.stdin.flush()
            done = out.readline(30)
            check(wl.wait(timeout=10) == 0, f"open_loop exited {wl.returncode}")
            # the workload is done and counted: end the session now (the duration is a bound)
            by_pid.end()
            by_comm.end()
        check(done is not None and done.startswith("done "), f"open_loop said {done!r}")
        n_openat, n_missing, n_open, n_openat2 = (int(x) for x in done.split()[1:])
        # open(2) is absent on some architectures, openat2(2) on old kernels: count what ran.
        counts = {"openat": OPENS, "missing": MISSING, "open": n_open, "openat2": n_openat2}
        check(n_openat == OPENS and n_missing == MISSING, f"open_loop said {done!r}")
        check(n_open in (0, OTHER) and n_openat2 in (0, OTHER), f"open_loop said {done!r}")
        if n_open == 0 or n_openat2 == 0:
            log(f"this machine lacks open(2) or openat2(2): {done!r}")

        for name, attach in (("--pid", by_pid), ("--comm open_loop", by_comm)):
            objs = attach.result()
            evs = events(objs)
            check_summary(objs, len(evs), name)
            check(all(e.get("comm") == "open_loop" for e in evs),
                  f"{name}: events of other comms: {[e for e in evs if e.get('comm') != 'open_loop'][:3]}")
            # Another process may share the comm (under ASan, LeakSanitizer's helper at exit).
            mine = [e for e in evs if e.get("pid") == pid]
            if len(mine) != len(evs):
                log(f"{name}: {len(evs) - len(mine)} events of other open_loop processes, not counted")
            check_events(mine, pid, paths, counts, name)
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"open": test_open}, __doc__))
