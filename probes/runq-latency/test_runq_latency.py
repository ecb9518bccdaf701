#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Ground truth for runq-latency: run-queue waits whose length the workload sets.
"""
runq_latency_workload pins two processes to one CPU: a SCHED_FIFO "holder" wakes the
traced SCHED_OTHER "waiter" ROUNDS times and keeps the CPU for exactly HOLD_MS after each
wakeup. A real-time task always runs before a fair one, so each of those wakeups waits
on the run queue for the whole hold, whatever the fair scheduler's slice: the answer is
set by the test, not by the scheduler. The waiter also measures each wait itself.

Checked in every variant, on the series the variant names:
- ROUNDS samples of at least HOLD_MS / 2, within HOLD_MARGIN: each one a hold (the
  holder waits for the waiter's acknowledgement and sees it asleep again, so rounds
  never merge); the waiter's other waits are microseconds (stdin, the last message, a
  kernel thread now and then): at most EXTRA_SHORT. Why a margin and not exactly
  ROUNDS: on a loaded machine (other fair tasks queued for milliseconds on that CPU)
  the probe saw 1 to 3 of 200 holds short or not at all (runs of this test on the
  2-core development machine beside four other sessions), while the kernel's own
  schedstat counted every one (the cause is not known yet: re-waking a queued task
  is not it, keeping its first start changed nothing); the kernel's counts are
  checked exactly, the probe's within the margin;
- the waiter's switch-ins as the scheduler itself counts them (/proc schedstat,
  read by the workload across the rounds) against the probe's count: the probe also
  sees the wakeup that starts the rounds, so count = slices + 1, within COUNT_MARGIN.
  The margin is for one known difference: a task preempted on its way to sleep (its
  state already S) starts a wait for the probe (preempted) but not for the scheduler's
  accounting (not running); rare on this machine, a few per cent of switches in a
  slow TCG guest;
- p50 between the hold and the p50 the waiter measured, within the histogram's
  stated relative error (plus SYSCALL_SLACK_NS): the probe's wait starts inside the
  holder's write() and ends before the waiter's read() returns, so the waiter's own
  clock brackets it;
- the waiter's own p50 at least HOLD_MS and at most HOLD_MS + SCHED_ALLOWANCE_MS (after
  the hold the waiter may still queue behind another fair task on that CPU).

all: series "all" with --pid; by_pid: --by pid gives "pid=PID"; all_raw_tp: an agent
started with --no-tp-btf (the raw_tp programs); cgroup: the waiter alone moves into a
child of a fresh cgroup v2 directory, --cgroup of the parent sees exactly its waits
(descendants count), --cgroup of an empty sibling sees none.
"""
import os
import subprocess
import sys

from harness import Env, Attach, LineReader, TestCgroups, check, hook_refused, hook_used, log, summaries, run_tests, SKIP

HOLD_MS = 5
GAP_MS = 3
ROUNDS = 200
EXTRA_SHORT = 20
HOLD_MARGIN = 4  # 2% of ROUNDS: see the docstring
COUNT_MARGIN = 10  # 5% of ROUNDS: see the docstring
SCHED_ALLOWANCE_MS = 1.0
SYSCALL_SLACK_NS = 100_000


def run_workload(env, extra):
    """Runs the workload under runq-latency; returns (waiter pid, its own numbers, summaries)."""
    wl = env.spawn("runq_latency_workload",
                   [os.path.join(env.args.tools, "runq_latency_workload"), "--wait-go",
                    "--wait-ms", str(HOLD_MS), "--gap-ms", str(GAP_MS), "--rounds", str(ROUNDS),
                    "--timeout-seconds", "30"],
                   stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    out = LineReader(wl.stdout, "runq_latency_workload")
    line = out.readline(10)
    if line is None and wl.wait(timeout=10) == SKIP:
        print("SKIP: the workload cannot pin to a CPU or get SCHED_FIFO here (see its log)", flush=True)
        sys.exit(SKIP)
    check(line is not None and line.startswith("ready "), f"workload said {line!r}")
    pid = int(line.split()[1])
    args = extra(pid)
    seconds = ROUNDS * (HOLD_MS + GAP_MS) / 1000
    with Attach(env, "runq-latency", args, duration=f"{int(seconds) + 20}s") as a:
        wl.stdin.write(b"go\n")
        wl.stdin.flush()
        done = out.readline(seconds + 15)
        check(done is not None and done.startswith("done "), f"workload said {done!r}")
        ss = out.readline(5)
        check(ss is not None and ss.startswith("schedstat "), f"workload said {ss!r}")
        check(wl.wait(timeout=10) == 0, "workload failed")
        # every wait ended before the workload said done (the waiter ran to say it): the
        # session ends now; its duration only bounds a workload that never finishes
        a.end()
    rounds, p50, lo, hi, long_waits = (int(x) for x in done.split()[1:6])
    sched_wait, sched_slices = (int(x) for x in ss.split()[1:3])
    own = {"rounds": rounds, "p50_ns": p50, "min_ns": lo, "max_ns": hi, "long": long_waits,
           "sched_wait_ns": sched_wait, "sched_slices": sched_slices}
    log(f"MEASURED workload's own waits: rounds={rounds} p50={p50 / 1e6:.3f}ms "
        f"min={lo / 1e6:.3f}ms max={hi / 1e6:.3f}ms at-least-hold={long_waits}; "
        f"schedstat: {sched_slices} switch-ins, {sched_wait / 1e6:.3f} ms queued")
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


def check_series(summ, name, own):
    check(name in summ, f"no summary for series {name!r} (series: {list(summ)})")
    s = summ[name]
    buckets = s.get("buckets", [])
    hold_ns = HOLD_MS * 1_000_000
    long_n = sum(b["count"] for b in buckets if b["lo_ns"] >= hold_ns // 2)
    short_n = s["count"] - long_n
    rel = s["relative_error"]
    log(f"MEASURED {name}: count={s['count']} sum={s['sum_ns']} holds={long_n} short={short_n} "
        f"p50={s['p50_ns'] / 1e6:.3f}ms p99={s['p99_ns'] / 1e6:.3f}ms max={s['max_ns'] / 1e6:.3f}ms "
        f"(workload p50 {own['p50_ns'] / 1e6:.3f}ms, relative error {rel})")
    check(sum(b["count"] for b in buckets) == s["count"], f"{name}: buckets do not add up to count")
    check(own["rounds"] == ROUNDS, f"workload ran {own['rounds']} rounds, want {ROUNDS}")
    check(hold_ns <= own["p50_ns"] <= hold_ns + SCHED_ALLOWANCE_MS * 1e6,
          f"workload's own p50 {own['p50_ns']} ns outside [{HOLD_MS}, {HOLD_MS + SCHED_ALLOWANCE_MS}] ms: "
          "the machine is too busy for this ground truth")
    log("buckets: " + " ".join(f"[{b['lo_ns'] / 1e6:.3f},{b['hi_ns'] / 1e6:.3f})ms:{b['count']}" for b in buckets))
    check(own["long"] == ROUNDS, f"workload: {own['long']} of its waits lasted the hold, want all {ROUNDS}")
    check(own["sched_slices"] >= ROUNDS, f"schedstat counted {own['sched_slices']} switch-ins, want >= {ROUNDS}")
    check(abs(long_n - ROUNDS) <= HOLD_MARGIN,
          f"{name}: {long_n} waits of at least {HOLD_MS / 2} ms, want {ROUNDS} +- {HOLD_MARGIN}")
    check(abs(s["count"] - (own["sched_slices"] + 1)) <= COUNT_MARGIN,
          f"{name}: {s['count']} samples, the scheduler counted {own['sched_slices']} + 1 (+- {COUNT_MARGIN})")
    check(short_n <= EXTRA_SHORT, f"{name}: {short_n} short waits, want at most {EXTRA_SHORT}")
    # Each wait lies inside the workload's own bracket (it starts inside the holder's
    # write and ends before the waiter's read returns) and lasts at least the hold: so
    # does the p50, up to the histogram's error. A slow machine (a TCG guest) widens the
    # bracket, as the workload's own clock shows, not the bound.
    lo, hi = HOLD_MS * 1e6 * (1 - rel), own["p50_ns"] * (1 + rel) + SYSCALL_SLACK_NS
    check(lo <= s["p50_ns"] <= hi,
          f"{name}: p50 {s['p50_ns']} ns, want within [{lo:.0f}, {hi:.0f}] (the hold, the workload's own p50)")


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
