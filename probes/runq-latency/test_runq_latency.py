#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Ground truth for runq-latency: run-queue waits whose length the workload sets.
"""
runq_latency_workload (runq_truth.py says how, and why each margin of check_series):
ROUNDS waits of HOLD_MS each on the run queue, set by the test, not by the scheduler.

all: series "all" with --pid; by_pid: --by pid gives "pid=PID"; all_raw_tp: an agent
started with --no-tp-btf (the raw_tp programs); cgroup: the waiter alone moves into a
child of a fresh cgroup v2 directory, --cgroup of the parent sees exactly its waits
(descendants count), --cgroup of an empty sibling sees none.
"""
import sys

from harness import Env, Attach, TestCgroups, hook_refused, hook_used, check, log, summaries, run_tests
from runq_truth import check_series, finish_workload, seconds_of, start_workload

ROUNDS = 200


def run_workload(env, extra):
    """Runs the workload under runq-latency; returns (waiter pid, its own numbers, summaries)."""
    wl, out, pid = start_workload(env, ROUNDS)
    with Attach(env, "runq-latency", extra(pid), duration=f"{int(seconds_of(ROUNDS)) + 20}s") as a:
        own = finish_workload(wl, out, ROUNDS)
        # every wait ended before the workload said done (the waiter ran to say it): the
        # session ends now; its duration only bounds a workload that never finishes
        a.end()
    objs = a.result()
    log("windows: " + " ".join(f"{o.get('series')}#{o.get('seq')}:{o.get('count')}" for o in objs
                                if o.get("type") == "snapshot"))
    hook = objs[0].get("hook", "")
    log(f"hook: {hook}")
    fallback = "--no-tp-btf" in env.agent_args
    # by default tp_btf, unless this kernel refused it (the agent then names why: 5.10 has no task storage)
    check(hook_used(hook).startswith("raw_tp") == (fallback or hook_refused(hook, "tp_btf")),
          f"{'--no-tp-btf' if fallback else 'default'}: hook {hook!r}")
    return pid, own, {o.get("series"): o for o in summaries(objs)}


def test_all(args, fallback=False):
    with Env(args, agent_args=["--no-tp-btf"] if fallback else []) as env:
        try:
            _, own, summ = run_workload(env, lambda pid: ["--pid", str(pid)])
            check_series(summ, "all", own)
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
            pid, own, summ = run_workload(env, lambda pid: ["--pid", str(pid), "--by", "pid"])
            check_series(summ, f"pid={pid}", own)
            check(list(summ) == [f"pid={pid}"], f"--pid {pid} --by pid gave series {list(summ)}")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_cgroup(args):
    # Only the waiter moves: the holder, forked before "ready", stays outside.
    with TestCgroups("runq") as cg:
        into_child = cg.filter_after_move
        with Env(args) as env:
            try:
                _, own, summ = run_workload(env, into_child(cg.parent))
                check_series(summ, "all", own)
                _, own, summ = run_workload(env, into_child(cg.sibling))
                n = summ.get("all", {}).get("count", 0)
                log(f"MEASURED --cgroup of an empty sibling: series {list(summ)} count={n}")
                check(n == 0, f"{n} samples from an empty cgroup")
                env.stop_agent_checked()
            except Exception:
                env.failed = True
                raise


if __name__ == "__main__":
    sys.exit(run_tests({"all": test_all, "all_raw_tp": test_all_raw_tp, "by_pid": test_by_pid,
                        "cgroup": test_cgroup}, __doc__))
