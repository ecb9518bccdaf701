#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# offcpu ground truth: a thread blocking ~70% of its time in wait_here (nanosleep) has that time
# found there, in total within 5% of what it measured itself.
"""
folded: offcpu_workload runs a thread named offcpu_wait for 3 s that sleeps 10 ms in
wait_here (nanosleep) then spins 4 ms of its own CPU time, over and over, and prints
the wall time of its sleeps (from the call to the return) and their number. offcpu
--comm offcpu_wait -o folded runs over it, started before the thread exists, so it sees
every block from its first; the output is "comm;frame;...;frame off_cpu_ns" lines.
Checked:
- every stack is the thread's (the --comm filter in the kernel);
- at least 90% of the thread's own off-CPU time is counted in stacks through wait_here,
  and those stacks carry the kernel's frames (schedule_[k]) above the user's, without the
  tracer's own (its program, the tracepoint's loop over programs);
- the total counted is within 5% of the thread's own figure. What separates the two is
  per block a syscall's entry and exit around the switch (microseconds, in an emulated
  guest tens: under 1% of a 10 ms block) and the one block the session may cut at its
  end; the spin is not counted (preemption is a wait for a CPU, not a block), nor is
  anything else the thread does, since it blocks only in wait_here. 5% leaves room for
  a loaded machine stretching the syscall paths, no more: a probe that missed blocks,
  double-counted them or counted preemption (up to 30% here) would fail.
folded_raw_tp: the same on an agent started with --no-tp-btf (the raw_tp program).
long_blocks: blocks of 1.5 s, each spanning a read of the agent (every second), which frees
the stacks it has read: the stacks of the blocks in progress must stay (the same thread's
previous block drained the same stack ids), at least 90% through wait_here again.
cgroup: the workload moves into a child of a fresh cgroup v2 directory; offcpu --cgroup of
the parent (no --comm) shows the workload's tasks alone, wait_here as above; --cgroup of
an empty sibling shows nothing.
min_block: the same workload with every fifth sleep 100 ms long, under offcpu --min-block
50ms. Counted is at least 99% of the long sleeps' 100 ms each, less the time the hypervisor
took from this machine's CPUs meanwhile (steal in /proc/stat; 0 on bare metal): each long
sleep is that long off CPU in the kernel's view, from the switch-out that follows arming
its timer to the switch-in after it fired (1% for those microseconds and two CPUs'
clocks), unless the virtual CPU was taken away as the thread went to sleep and came back
with the timer expired: then the guest's kernel never switched it out (seen under bpftrace
here: a 100 ms sleep with no switch-out, the neighbouring sleeps' on time). Counted is at
most 102% of the time of the sleeps the workload saw last 50 ms or more: a block lies
inside the workload's bracket of it. Those brackets also hold scheduling delays (a thread
woken from its 10 ms sleep waited 300 ms for a CPU on a loaded machine), which are not
blocks: they widen the upper bound only. A probe that missed a long block, or counted the
short ones, fails.
"""
import os
import subprocess
import sys

from harness import Env, FoldedAttach, LineReader, TestCgroups, check, log, run_tests

SECONDS = 3
COMM = "offcpu_wait"


def run_offcpu(env, args, extra, seconds=SECONDS, block_ms=10, workload=()):
    """The workload (more options: workload) under offcpu -o folded with extra(pid) as
    options: (folded lines, the workload's blocked_ns, blocks, all its "done" figures)."""
    wl = env.spawn("offcpu_workload", [os.path.join(args.tools, "offcpu_workload"), "--seconds", str(seconds),
                                       "--block-ms", str(block_ms), "--spin-ms", "4", "--timeout-seconds", "60",
                                       *workload],
                   stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    wl_out = LineReader(wl.stdout, "offcpu_workload")
    line = wl_out.readline(10)
    check(line is not None and line.startswith("ready "), f"offcpu_workload said {line!r}")

    # ended by Ctrl-C once the workload is done (its last block has ended: its switch-in
    # is counted); the duration only bounds a run whose workload never says so
    cli = FoldedAttach(env, "offcpu", extra(int(line.split()[1])), f"{seconds + 30}s")
    try:
        wl.stdin.write(b"go\n")
        wl.stdin.flush()
        done = wl_out.readline(seconds + 20 + block_ms // 1000)
        check(done is not None and done.startswith("done "), f"offcpu_workload: {done!r}")
        cli.end()
    except BaseException:
        cli.stop()
        raise
    folded = cli.lines()
    fallback = "--no-tp-btf" in env.agent_args
    log(f"{'--no-tp-btf' if fallback else 'default'}: {cli.attached}")
    check(("raw_tp sched_switch" if fallback else "tp_btf sched_switch") in cli.attached,
          f"not the hook expected: {cli.attached}")
    # the workload stays mapped until now, so its frames could be symbolized
    wl.stdin.write(b"exit\n")
    wl.stdin.flush()
    check(wl.wait(timeout=10) == 0, "offcpu_workload failed")
    fields = done.split()
    check(len(fields) % 2 == 1 and all(v.isdigit() for v in fields[2::2]), f"offcpu_workload: {done!r}")
    own = {k: int(v) for k, v in zip(fields[1::2], fields[2::2])}
    check("blocked_ns" in own and "blocks" in own, f"offcpu_workload: {done!r}")
    log(f"workload: {done}")
    return folded, own["blocked_ns"], own["blocks"], own


def by_comm(pid):
    return ["--comm", COMM]


def tally(folded, comms=(COMM,)):
    """(total ns, ns through wait_here, ns through wait_here with schedule_[k] above it and no
    frame of the tracer)."""
    total = through = with_kernel = 0
    for l in folded:
        stack, _, ns = l.rpartition(" ")
        check(stack and ns.isdigit(), f"not a folded line: {l!r}")
        frames = stack.split(";")
        check(frames[0] in comms, f"a stack of another task: {l!r}")
        total += int(ns)
        waits = [i for i, f in enumerate(frames) if f.split(".")[0] == "wait_here"]
        if waits:
            through += int(ns)
            # the scheduler's frames, and none of the tracer's own (the program, its tracepoint loop)
            if any(f in ("schedule_[k]", "__schedule_[k]") for f in frames[waits[0] + 1:]) and \
                    not any(f.startswith(("__traceiter_", "__bpf_trace_", "bpf_trace_run", "bpf_prog_")) for f in frames):
                with_kernel += int(ns)
    return total, through, with_kernel


def check_folded(args, agent_args):
    with Env(args, agent_args=agent_args) as env:
        folded, own_ns, blocks, _ = run_offcpu(env, args, by_comm)
        total, through, with_kernel = tally(folded)
        log(f"MEASURED offcpu total={total / 1e6:.1f} ms, through wait_here={through / 1e6:.1f} ms "
            f"({100 * through / max(own_ns, 1):.1f}% of the workload's own), with kernel frames "
            f"{with_kernel / 1e6:.1f} ms; workload's own: {own_ns / 1e6:.1f} ms in {blocks} blocks; "
            f"total off by {100 * (total - own_ns) / max(own_ns, 1):+.2f}%")
        check(through >= 0.9 * own_ns, f"{through} ns through wait_here, want >= 90% of {own_ns}")
        check(with_kernel == through, f"kernel frames on {with_kernel} of {through} ns through wait_here")
        check(abs(total - own_ns) <= 0.05 * own_ns, f"total {total} ns, want {own_ns} +- 5%")
        env.stop_agent_checked()


def test_folded(args):
    check_folded(args, [])


def test_folded_raw_tp(args):
    check_folded(args, ["--no-tp-btf"])


def test_long_blocks(args):
    with Env(args) as env:
        folded, own_ns, blocks, _ = run_offcpu(env, args, by_comm, seconds=4, block_ms=1500)
        total, through, _ = tally(folded)
        log(f"MEASURED offcpu 1.5 s blocks: total={total / 1e6:.1f} ms, through wait_here={through / 1e6:.1f} ms "
            f"({100 * through / max(own_ns, 1):.1f}% of the workload's own {own_ns / 1e6:.1f} ms in {blocks} blocks)")
        check(through >= 0.9 * own_ns, f"{through} ns through wait_here, want >= 90% of {own_ns}")
        check(abs(total - own_ns) <= 0.05 * own_ns, f"total {total} ns, want {own_ns} +- 5%")
        env.stop_agent_checked()


def stolen_ns():
    """The time the hypervisor has taken from this machine's CPUs, all of them (steal)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[8]) * 10**9 // os.sysconf("SC_CLK_TCK") if fields[0] == "cpu" and len(fields) > 8 else 0


def test_min_block(args):
    with Env(args) as env:
        steal_before = stolen_ns()
        folded, own_ns, blocks, own = run_offcpu(env, args, lambda pid: by_comm(pid) + ["--min-block", "50ms"],
                                                 workload=["--long-ms", "100", "--long-every", "5",
                                                           "--over-ms", "50"])
        steal = stolen_ns() - steal_before
        total, through, _ = tally(folded)
        long_ns = own["long_blocks"] * 100 * 10**6
        log(f"MEASURED offcpu --min-block 50ms total={total / 1e6:.1f} ms, through wait_here="
            f"{through / 1e6:.1f} ms; workload's own: {own_ns / 1e6:.1f} ms in {blocks} blocks, "
            f"{own['over_ns'] / 1e6:.1f} ms in blocks >= 50 ms, {own['long_blocks']} sleeps of 100 ms; "
            f"stolen by the hypervisor meanwhile: {steal / 1e6:.0f} ms")
        check(0.99 * long_ns - steal <= total <= 1.02 * own["over_ns"],
              f"{total} ns counted in blocks >= 50 ms, want within [99% of {long_ns} (the long sleeps) less "
              f"{steal} stolen, 102% of {own['over_ns']}]")
        check(own["over_ns"] < 0.9 * own_ns, f"the workload's short blocks were all long ({own}): no test")
        env.stop_agent_checked()


def test_cgroup(args):
    with TestCgroups("offcpu") as cg:
        into_child = cg.filter_after_move
        with Env(args) as env:
            # every task of the workload (its main thread waits for the worker), nothing else
            folded, own_ns, _, _ = run_offcpu(env, args, into_child(cg.parent))
            total, through, _ = tally(folded, (COMM, "offcpu_workload"))
            log(f"MEASURED offcpu --cgroup (parent of the workload's): total={total / 1e6:.1f} ms, through "
                f"wait_here={through / 1e6:.1f} ms ({100 * through / max(own_ns, 1):.1f}% of the workload's own)")
            check(through >= 0.9 * own_ns, f"{through} ns through wait_here, want >= 90% of {own_ns}")
            folded, own_ns, _, _ = run_offcpu(env, args, into_child(cg.sibling))
            log(f"MEASURED offcpu --cgroup of an empty sibling: {len(folded)} stacks")
            check(not folded, f"{len(folded)} stacks from an empty cgroup")
            env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"folded": test_folded, "folded_raw_tp": test_folded_raw_tp, "long_blocks": test_long_blocks,
                        "min_block": test_min_block, "cgroup": test_cgroup}, __doc__))
