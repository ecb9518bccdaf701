#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tp-count ground truth: a uniquely named program exec'd exactly 17 times; bad targets are refused.
"""
count: exec_loop fork+execs a copy of /bin/true named tpc_<random> exactly 17 times.
Two sessions run at once:
  --target sched:sched_process_* --comm tpc_<random>: the glob's rows must say exactly
  17 for sched:sched_process_exec and 17 for sched:sched_process_exit (the new comm
  is set before the exec event fires; each child exits once);
  --target sched:sched_process_exec --by pid, system-wide, no filter: the rows whose
  comm is tpc_<random> must be exactly 17 processes with 1 hit each.
bad_targets: a pattern that matches nothing, a missing ':', a path-like pattern and a
glob matching more than 200 tracepoints are each refused (CLI exit status 5) with a
message naming parameter 'target'; the agent stays up.
"""
import os
import secrets
import shutil
import subprocess
import sys

from harness import Attach, Env, LineReader, check, log, run_tests, summary_rows

EXECS = 17
EXIT_REJECTED = 5


def test_count(args):
    with Env(args) as env:
        comm = f"tpc_{secrets.token_hex(4)}"
        prog = os.path.join(env.dir, comm)
        shutil.copy2("/bin/true", prog)
        os.chmod(prog, 0o755)
        wl = env.spawn("exec_loop", [os.path.join(args.tools, "exec_loop"), "--wait-go", "--program", prog,
                                     "--count", str(EXECS), "--timeout-seconds", "60"],
                       stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        out = LineReader(wl.stdout, "exec_loop")
        line = out.readline(10)
        check(line is not None and line.startswith("ready "), f"exec_loop said {line!r}")
        with Attach(env, "tp-count", ["--target", "sched:sched_process_*", "--comm", comm],
                    duration="30s") as glob, \
                Attach(env, "tp-count", ["--target", "sched:sched_process_exec", "--by", "pid", "--top", "100000"],
                       duration="30s") as by_pid:
            log(f"hook: {glob.attached.get('hook')}")
            wl.stdin.write(b"go\n")
            wl.stdin.flush()
            done = out.readline(30)
            check(wl.wait(timeout=10) == 0, f"exec_loop exited {wl.returncode}")
            check(done == f"done {EXECS} 0", f"exec_loop said {done!r}")
            # the workload is done and counted: end the session now (the duration is a bound)
            glob.end()
            by_pid.end()
            glob_rows = summary_rows(glob, "tp-count glob --comm")
            pid_rows = summary_rows(by_pid, "tp-count --by pid")
        hits = {r["tracepoint"]: r["hits"] for r in glob_rows}
        log(f"MEASURED tp-count sched:sched_process_* --comm {comm}: {hits}")
        check(hits.get("sched:sched_process_exec") == EXECS, f"exec hits {hits}, want {EXECS}")
        check(hits.get("sched:sched_process_exit") == EXECS, f"exit hits {hits}, want {EXECS}")
        mine = [r for r in pid_rows if r["comm"] == comm]
        log(f"MEASURED tp-count --by pid rows of {comm}: {len(mine)} processes, "
            f"{sum(r['hits'] for r in mine)} hits; all rows: {len(pid_rows)}")
        check(all(r["tracepoint"] == "sched:sched_process_exec" for r in pid_rows), f"other tracepoints: {pid_rows}")
        check(len(mine) == EXECS and all(r["hits"] == 1 for r in mine) and len({r["pid"] for r in mine}) == EXECS,
              f"--by pid rows of {comm}: {mine}, want {EXECS} processes with 1 hit each")
        env.stop_agent_checked()


def test_bad_targets(args):
    with Env(args) as env:
        cases = [
            ("pattern matching nothing", "sched:no_such_tracepoint_*", "matches no tracepoint"),
            ("category matching nothing", "no_such_category:*", "matches no tracepoint"),
            ("no colon", "sched_process_exec", "CATEGORY:PATTERN"),
            ("path-like", "../../../etc:passwd", "CATEGORY:PATTERN"),
            ("too many", "*:*", "at most 200"),
        ]
        for what, target, want in cases:
            rc, out, err = env.run_cli(f"bad-{what}", env.cli_argv(
                env.path("ca.pem"), env.path("client.pem"), env.path("client.key"),
                "attach", f"127.0.0.1:{env.port}", "tp-count", "--target", target, "--duration", "2s"))
            log(f"MEASURED {what}: exit {rc}, stderr {err.strip()!r}")
            check(rc == EXIT_REJECTED, f"{what}: CLI exited {rc}, want {EXIT_REJECTED}")
            check("'target'" in err and want in err, f"{what}: stderr {err!r} lacks 'target' and {want!r}")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"count": test_count, "bad_targets": test_bad_targets}, __doc__))
