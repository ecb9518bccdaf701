#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Ground truth for runq-latency: more CPU-bound threads than CPUs must wait on the run queues.
"""
runq_latency: cpu_spinner runs two CPU-bound threads per online CPU for 3 s; with
twice as many runnable threads as CPUs, each keeps being preempted and waits for
its turn. runq-latency filtered by the spinner's pid must see samples, with
p99 > p50 > 0, in the series "all" (and, with --by pid, in "pid=PID").
cgroup: the spinner runs in a child of a fresh cgroup v2 directory; --cgroup of the
parent must see it (descendants count); --cgroup of an empty sibling must not.
all_raw_tp: "all" again on an agent started with --no-tp-btf (the raw_tp programs).
"""
import os
import subprocess
import sys
import time

from harness import Env, Attach, LineReader, check, log, summaries, run_tests, SKIP

SECONDS = 3


def run_spinner(env, by, cgroup_procs=None, extra_args=()):
    threads = 2 * os.cpu_count()
    wl = env.spawn("cpu_spinner", [os.path.join(env.args.tools, "cpu_spinner"), "--wait-go",
                                   "--threads", str(threads), "--seconds", str(SECONDS),
                                   "--timeout-seconds", "30"],
                   stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    out = LineReader(wl.stdout, "cpu_spinner")
    line = out.readline(10)
    check(line is not None and line.startswith("ready "), f"cpu_spinner said {line!r}")
    pid = int(line.split()[1])
    if cgroup_procs:
        with open(cgroup_procs, "w") as f:
            f.write(str(pid))
        extra = list(extra_args)
    else:
        extra = ["--pid", str(pid)] + (["--by", by] if by else [])
    with Attach(env, "runq-latency", extra, duration=f"{SECONDS + 3}s") as a:
        wl.stdin.write(b"go\n")
        wl.stdin.flush()
        done = out.readline(SECONDS + 15)
        check(done is not None and done.startswith(f"done {threads} "), f"cpu_spinner said {done!r}")
        check(wl.wait(timeout=10) == 0, "cpu_spinner failed")
    objs = a.result()
    hook = objs[0].get("hook", "")
    log(f"hook: {hook}")
    fallback = "--no-tp-btf" in env.agent_args
    check(hook.startswith("raw_tp") == fallback, f"{'--no-tp-btf' if fallback else 'default'}: hook {hook!r}")
    return pid, threads, {o.get("series"): o for o in summaries(objs)}


def check_series(summ, name, threads):
    check(name in summ, f"no summary for series {name!r} (series: {list(summ)})")
    s = summ[name]
    log(f"MEASURED {name} threads={threads} count={s['count']} p50={s['p50_ns'] / 1e3:.1f}us "
        f"p90={s['p90_ns'] / 1e3:.1f}us p99={s['p99_ns'] / 1e3:.1f}us max={s['max_ns'] / 1e3:.1f}us")
    check(s["count"] > 0, f"{name}: no samples")
    check(s["p99_ns"] > s["p50_ns"] > 0, f"{name}: want p99 > p50 > 0, got p50={s['p50_ns']} p99={s['p99_ns']}")
    check(sum(b["count"] for b in s.get("buckets", [])) == s["count"], f"{name}: buckets do not add up to count")


def test_all(args, fallback=False):
    with Env(args, agent_args=["--no-tp-btf"] if fallback else []) as env:
        try:
            pid, threads, summ = run_spinner(env, None)
            check_series(summ, "all", threads)
            check(list(summ) == ["all"], f"unexpected series {list(summ)} without --by")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_all_raw_tp(args):
    test_all(args, fallback=True)


def test_by_pid(args):
    with Env(args) as env:
        try:
            pid, threads, summ = run_spinner(env, "pid")
            check_series(summ, f"pid={pid}", threads)
            check(list(summ) == [f"pid={pid}"], f"--pid {pid} --by pid gave series {list(summ)}")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def cgroup2_root():
    """Where cgroup v2 is mounted under /sys/fs/cgroup (the agent only takes paths there)."""
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2" and (fields[1] + "/").startswith("/sys/fs/cgroup/"):
                return fields[1]
    return None


def test_cgroup(args):
    root = cgroup2_root()
    if root is None:
        print("SKIP: no cgroup v2 hierarchy mounted under /sys/fs/cgroup", flush=True)
        sys.exit(SKIP)
    parent = os.path.join(root, f"tracectl-runq-{os.getpid()}")
    child, sibling = os.path.join(parent, "child"), os.path.join(root, f"tracectl-runq-{os.getpid()}-empty")
    made = []
    try:
        for d in (parent, child, sibling):
            os.mkdir(d)
            made.append(d)
        rel = lambda d: d[len("/sys/fs/cgroup"):]
        with Env(args) as env:
            try:
                _, threads, summ = run_spinner(env, None, os.path.join(child, "cgroup.procs"),
                                               ["--cgroup", rel(parent)])
                check_series(summ, "all", threads)
                _, threads, summ = run_spinner(env, None, os.path.join(child, "cgroup.procs"),
                                               ["--cgroup", rel(sibling)])
                log(f"MEASURED --cgroup of an empty sibling: series {list(summ)} "
                    f"count={summ.get('all', {}).get('count', 0)}")
                check(summ.get("all", {}).get("count", 0) == 0, "samples from an empty cgroup")
                env.stop_agent_checked()
            except Exception:
                env.failed = True
                raise
    finally:
        for d in reversed(made):
            for _ in range(50):  # the reaped spinner may take a moment to leave
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                log(f"could not remove {d}")


if __name__ == "__main__":
    sys.exit(run_tests({"all": test_all, "all_raw_tp": test_all_raw_tp, "by_pid": test_by_pid, "cgroup": test_cgroup}, __doc__))
