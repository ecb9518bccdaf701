#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# profile ground truth: a process spinning in spin_here for 3 s gets FREQ samples per second of
# the CPU time the kernel gave it, found there by name in folded stacks.
"""
folded: spin_workload burns CPU in spin_here (called by spin_outer from main) for
3 s, and prints the CPU time the kernel accounted to it over the spin and how many
times it left the CPU (getrusage). profile --pid PID -o folded (49 Hz per CPU) runs
over it; the output is "comm;frame;...;frame count" lines. Checked:
- the workload's samples: FREQ x its CPU time, within 4 standard deviations +
  EDGE_SAMPLES: a per-CPU timer every 1/FREQ s samples whoever runs, so a stretch of
  length L the workload runs uninterrupted gets floor(L x FREQ) samples or one more,
  with a variance of at most min(L x FREQ, 1/4): over all stretches at most
  min(FREQ x CPU time, stretches / 4), stretches = context switches + 1. EDGE_SAMPLES
  for the moments it runs outside the spin while the session is on (reading "go",
  printing);
- spin_here in every sample but EDGE_SAMPLES, always with spin_outer as its caller
  (the tools are built with frame pointers).
"""
import os
import subprocess
import sys

from harness import Env, FoldedAttach, LineReader, check, log, run_tests

SECONDS = 3
FREQ = 49
EDGE_SAMPLES = 2


def profile_workloads(env, workloads, selector):
    """Runs profile (selector: ["--pid", PID] or ["--comm", COMM]) over the spin_workload
    processes given (each printed "ready PID"), starting their spins together once it is
    attached. Returns the folded lines and each workload's "done" line."""
    cli = FoldedAttach(env, "profile", [*selector, "--freq", str(FREQ)], f"{SECONDS + 2}s")
    try:
        for wl, _ in workloads:
            wl.stdin.write(b"go\n")
            wl.stdin.flush()
        dones = []
        for _, wl_out in workloads:
            done = wl_out.readline(SECONDS + 20)
            check(done is not None and done.startswith("done "), f"spin_workload: {done!r}")
            dones.append(done)
    except BaseException:
        cli.stop()
        raise
    folded = cli.lines()
    # the workloads stay mapped until now, so their frames could be symbolized
    for wl, _ in workloads:
        wl.stdin.write(b"exit\n")
        wl.stdin.flush()
        check(wl.wait(timeout=10) == 0, "spin_workload failed")
    return folded, dones


def spawn_workload(env, name, argv):
    """Starts spin_workload (argv: how to run it) waiting for go; returns (process, reader, pid)."""
    wl = env.spawn(name, argv + ["--wait-go", "--seconds", str(SECONDS), "--timeout-seconds", "60"],
                   stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    wl_out = LineReader(wl.stdout, name)
    line = wl_out.readline(10)
    check(line is not None and line.startswith("ready "), f"{name} said {line!r}")
    return wl, wl_out, int(line.split()[1])


def count_spin(folded, comm):
    """(samples, samples in spin_here, those with spin_outer as its caller) of folded lines."""
    total = in_spin = with_caller = 0
    for l in folded:
        stack, _, count = l.rpartition(" ")
        check(stack and count.isdigit(), f"not a folded line: {l!r}")
        frames = stack.split(";")
        check(frames[0] == comm, f"a stack of another process: {l!r}")
        total += int(count)
        if "spin_here" in frames:
            in_spin += int(count)
            if frames.index("spin_here") > 0 and frames[frames.index("spin_here") - 1] == "spin_outer":
                with_caller += int(count)
    return total, in_spin, with_caller


def expected_samples(cpu_ns, stretches, edges=EDGE_SAMPLES):
    """The samples FREQ gives cpu_ns of CPU time run in that many stretches, and the
    allowance around it (see the description above)."""
    want = cpu_ns * FREQ / 1e9
    return want, 4 * min(want, stretches / 4) ** 0.5 + edges


def test_folded(args):
    with Env(args) as env:
        wl, wl_out, pid = spawn_workload(env, "spin_workload", [os.path.join(args.tools, "spin_workload")])
        folded, (done,) = profile_workloads(env, [(wl, wl_out)], ["--pid", str(pid)])
        total, in_spin, with_caller = count_spin(folded, "spin_workload")
        fields = done.split()
        check(len(fields) == 6 and fields[2] == "cpu_ns" and fields[4] == "switches", f"spin_workload: {done!r}")
        cpu_ns, switches = int(fields[3]), int(fields[5])
        want, allowance = expected_samples(cpu_ns, switches + 1)
        log(f"MEASURED profile samples={total} in spin_here={in_spin} ({100 * in_spin / max(total, 1):.1f}%), "
            f"spin_outer;spin_here={with_caller}; ground truth: {cpu_ns / 1e9:.3f} s of CPU at {FREQ} Hz "
            f"= {want:.1f} samples +- {allowance:.1f} ({switches} context switches)")
        check(abs(total - want) <= allowance, f"{total} samples, want {want:.1f} +- {allowance:.1f}")
        check(in_spin >= total - EDGE_SAMPLES, f"spin_here in {in_spin} of {total} samples")
        check(with_caller == in_spin, f"spin_outer;spin_here in {with_caller} of {in_spin} samples in spin_here")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"folded": test_folded}, __doc__))
