#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Ground truth for the exec probe: a uniquely named program exec'd exactly 40 times.
"""
exec: a copy of /bin/true named tracectl_exec_<random> is fork+exec'd by the
exec_loop workload exactly 40 times with argv {PATH, "a1", "b2"} (20 times with the
arguments on the stack, 20 times from .rodata, which a child right after fork has
not mapped: the probe must recover them, not report an empty list). The workload
also execs a missing path 5 times with the .rodata arguments (ret -2, ENOENT,
argv_missing=1: no new image to recover them from) and a second copy once with 25
arguments of 300 bytes (argv cut to 20 arguments of 199 bytes, argv_truncated=1).
Two attaches run at once: --pid WORKLOAD (the workload or its children) and
--comm with the new program's comm; each must see exactly what the workload did.

Needs root (it starts the agent); exits 77 (skipped) otherwise. Standard library only.
"""
import os
import secrets
import shutil
import subprocess
import sys

from harness import Attach, Env, LineReader, check, events, log, run_tests, summaries

EXECS = 20          # with arguments on the stack
LITERAL_EXECS = 20  # with arguments in .rodata
MISSING = 5
ENOENT = 2
MAX_ARGS, ARG_MAX_BYTES = 20, 199


def check_summary(objs, want, name):
    summ = summaries(objs)
    check(len(summ) == 1, f"{name}: {len(summ)} summary lines, want 1")
    check(summ[0].get("events") == want and summ[0].get("events_dropped") == 0,
          f"{name}: summary {summ[0]}, want events={want} events_dropped=0")


def test_exec(args):
    with Env(args) as env:
        tag = secrets.token_hex(4)
        prog = os.path.join(env.dir, f"tracectl_exec_{tag}")
        long_prog = os.path.join(env.dir, f"tracectl_long_{tag}")
        missing = os.path.join(env.dir, f"tracectl_missing_{tag}")
        for path in (prog, long_prog):
            shutil.copy2("/bin/true", path)
            os.chmod(path, 0o755)
        comm = os.path.basename(prog)[:15]

        wl = env.spawn("exec_loop", [
            os.path.join(args.tools, "exec_loop"), "--wait-go", "--program", prog,
            "--count", str(EXECS), "--literal-count", str(LITERAL_EXECS),
            "--missing-path", missing, "--missing-count", str(MISSING),
            "--long-program", long_prog, "--long-count", "1", "--timeout-seconds", "60",
            "--", "a1", "b2"], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        out = LineReader(wl.stdout, "exec_loop")
        line = out.readline(10)
        check(line is not None and line.startswith("ready "), f"exec_loop said {line!r}")
        pid = int(line.split()[1])

        # The sessions end when the workload is done (each exec returned, so the probe has
        # recorded it), not at a set time: under emulation 46 execs outlast any fixed 5 s.
        with Attach(env, "exec", ["--pid", str(pid)], duration="120s", timeout=150) as by_pid, \
                Attach(env, "exec", ["--comm", comm], duration="120s", timeout=150) as by_comm:
            wl.stdin.write(b"go\n")
            wl.stdin.flush()
            done = out.readline(90)
            check(wl.wait(timeout=10) == 0, f"exec_loop exited {wl.returncode}")
            by_pid.end()
            by_comm.end()
        want_ok = EXECS + LITERAL_EXECS + 1
        check(done == f"done {want_ok} {MISSING}", f"exec_loop said {done!r}, want 'done {want_ok} {MISSING}'")

        want_argv = f"{prog} a1 b2"
        objs = by_pid.result()
        evs = events(objs)
        ok = [e for e in evs if e.get("filename") == prog]
        failed = [e for e in evs if e.get("filename") == missing]
        longs = [e for e in evs if e.get("filename") == long_prog]
        log(f"MEASURED --pid: {len(evs)} events: {len(ok)} of {prog}, {len(failed)} failed, {len(longs)} long")
        check(len(ok) == EXECS + LITERAL_EXECS, f"--pid: {len(ok)} events for {prog}, want {EXECS + LITERAL_EXECS}")
        for e in ok:
            check(e.get("argv") == want_argv and e.get("argc") == 3 and e.get("argv_missing") == 0
                  and e.get("argv_truncated") == 0, f"--pid: argv wrong in {e}")
            check(e.get("ret") == 0 and e.get("ppid") == pid and e.get("pid") != pid
                  and e.get("uid") == 0 and e.get("comm") == comm and e.get("syscall") == "execve"
                  and e.get("filename_missing") == 0, f"--pid: fields wrong in {e}")
        from_image = sum(e.get("argv_from_image") == 1 for e in ok)
        log(f"MEASURED {len(ok)} execs of {prog}: argv '{want_argv}' in all; "
            f"recovered from the new image (unreadable at entry) in {from_image}")
        # The .rodata arguments are not mapped in the child at entry: that is the pitfall.
        check(from_image >= LITERAL_EXECS, f"--pid: argv from the new image in {from_image} events, "
              f"want at least the {LITERAL_EXECS} with .rodata arguments")

        check(len(failed) == MISSING, f"--pid: {len(failed)} events for the missing path, want {MISSING}")
        missing_argv = 0
        for e in failed:
            check(e.get("ret") == -ENOENT, f"--pid: failed exec has ret {e.get('ret')}, want -{ENOENT}: {e}")
            # A failed exec has no new image to recover argv from: either read, or said missing.
            if e.get("argv_missing") == 1:
                missing_argv += 1
            else:
                check(e.get("argv") == want_argv, f"--pid: failed exec argv wrong in {e}")
        log(f"MEASURED failed execs: {len(failed)} with ret -2, argv_missing=1 in {missing_argv}")
        # Their a1/b2 are in .rodata, unmapped in the child, and no new image exists: the
        # probe must say argv is missing (it keeps the part it read: argv[0]).
        check(missing_argv == MISSING, f"--pid: argv_missing=1 in {missing_argv} failed execs, want {MISSING}")
        for e in failed:
            check(e.get("argv") == prog and e.get("argc") == 1, f"--pid: partial argv wrong in {e}")

        check(len(longs) == 1, f"--pid: {len(longs)} events for {long_prog}, want 1")
        want_long = " ".join([long_prog] + ["x" * ARG_MAX_BYTES] * (MAX_ARGS - 1))
        e = longs[0]
        check(e.get("argc") == MAX_ARGS and e.get("argv_truncated") == 1 and e.get("argv") == want_long
              and e.get("argv_missing") == 0, f"--pid: long argv not cut to 20 x 199: {dict(e, argv='...')} "
              f"argv length {len(e.get('argv', ''))}, want {len(want_long)}")
        check(len(evs) == len(ok) + len(failed) + len(longs),
              f"--pid: {len(evs) - len(ok) - len(failed) - len(longs)} unexpected events: "
              f"{[e for e in evs if e not in ok + failed + longs][:3]}")
        check_summary(objs, len(evs), "--pid")

        objs = by_comm.result()
        evs = events(objs)
        log(f"MEASURED --comm {comm}: {len(evs)} events")
        check(len(evs) == EXECS + LITERAL_EXECS and all(e.get("filename") == prog and e.get("argv") == want_argv
                                                        for e in evs),
              f"--comm: {len(evs)} events, want {EXECS + LITERAL_EXECS} of {prog}: {evs[:2]}")
        check_summary(objs, len(evs), "--comm")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"exec": test_exec}, __doc__))
