#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# cpu-top ground truth: a process spinning for 1.0 s of CPU time and one sleeping, side by side.
"""
spin_and_sleep: two cpu_burn workloads start together: one spins until it has used
exactly 1.0 s of its own CPU time (CLOCK_PROCESS_CPUTIME_ID), the other sleeps 10
naps of 100 ms. Both stay alive (idle on stdin) until the sessions end, so their
exit is not counted. Two cpu-top sessions with 2 s intervals, each filtered by one
pid, ended with Ctrl-C once both workloads are done (on a loaded machine the spin can
take longer than any set duration). Each workload prints the CPU time the kernel
accounted to it over everything it ran while traced (from "ready", before it blocks for
"go", to its last line); the summary rows must show:
- on_cpu_ns within that time +- (EDGE_MS + PER_SWITCH_NS per context switch + 2%):
  its first clock read comes just before it blocks for "go" (maybe before the probe
  attached) and its last printf after its last clock read (EDGE_MS); the scheduler
  charges a task from the moment it is picked, the probe from the switch tracepoint a
  little later (a few microseconds per switch, tens in a TCG guest); the task clock
  leaves out time in interrupts and, on a virtual machine, time stolen by the host,
  which the probe's switch times include (2%). No bound depends on the CPU's speed: the
  sleeper's 0.3 ms here are 4-10 ms in a TCG guest, and its own clock says so too;
- the sleeper's voluntary switches: one per nap and one for blocking on stdin after
  "done", plus one if it had not yet blocked reading "go" when the session attached.
The sessions end once /proc says both workloads are switched out inside that read, not
after a set pause (a TCG guest was once slower than 0.2 s to get there).
"""
import os
import subprocess
import sys

from harness import Attach, Env, LineReader, check, log, run_tests, summaries, wait_blocked_on_stdin

MS = 1000000
EDGE_MS = 1
PER_SWITCH_NS = 100_000
UNACCOUNTED = 0.02


def start(env, args, name, mode):
    wl = env.spawn(name, [os.path.join(args.tools, "cpu_burn"), "--wait-go", *mode, "--timeout-seconds", "60"],
                   stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    out = LineReader(wl.stdout, name)
    line = out.readline(10)
    check(line is not None and line.startswith("ready "), f"{name} said {line!r}")
    return wl, out, int(line.split()[1])


def go(wl):
    wl.stdin.write(b"go\n")
    wl.stdin.flush()


def finish(wl, out, name):
    """(CPU ns of the spin or sleep, naps, CPU ns since "ready"), as the workload measured."""
    line = out.readline(60)
    check(line is not None and line.startswith("done "), f"{name} said {line!r}")
    total = out.readline(10)
    check(total is not None and total.startswith("cpu "), f"{name} said {total!r}")
    return [int(x) for x in line.split()[1:3]] + [int(total.split()[1])]


def reap(wl, name):
    wl.stdin.close()
    check(wl.wait(timeout=10) == 0, f"{name} exited {wl.returncode}")


def only_row(a, pid, name):
    objs = a.result()
    summ = summaries(objs)
    check(len(summ) == 1, f"{name}: want one summary, got {len(summ)}")
    rows = summ[0]["rows"]
    snaps = [o for o in objs if o.get("type") == "snapshot" and o.get("rows")]
    log(f"MEASURED cpu-top {name}: summary {rows}; {len(snaps)} snapshot(s) with rows")
    check(len(rows) == 1 and rows[0]["pid"] == pid and rows[0]["comm"] == "cpu_burn",
          f"{name}: rows {rows}, want one for pid {pid}")
    # The summary is what counts: when loading is slow (sanitizers) the first interval can end
    # early and the work spans two snapshots; their sum is the summary.
    for s in snaps:
        log(f"MEASURED cpu-top {name} snapshot {s.get('seq')} "
            f"({(s['end_unix_ns'] - s['start_unix_ns']) / 1e9:.2f} s): {s['rows']}")
    return rows[0]


def test_spin_and_sleep(args):
    with Env(args) as env:
        spin, spin_out, spin_pid = start(env, args, "spinner", ["--cpu-ms", "1000"])
        nap, nap_out, nap_pid = start(env, args, "sleeper", ["--sleep-ms", "1000", "--nap-ms", "100"])
        # The sessions end (Ctrl-C: each sends its summary) once both workloads are done, not
        # at a set time: on a loaded machine 1 s of CPU can take more than a few seconds.
        with Attach(env, "cpu-top", ["--pid", str(spin_pid)], duration="60s", interval="2s", timeout=90) as a_spin, \
                Attach(env, "cpu-top", ["--pid", str(nap_pid)], duration="60s", interval="2s", timeout=90) as a_nap:
            log(f"hook: {a_spin.attached.get('hook')}")
            go(spin)
            go(nap)
            spin_cpu, _, spin_total = finish(spin, spin_out, "spinner")
            nap_cpu, naps, nap_total = finish(nap, nap_out, "sleeper")
            log(f"workloads' own CPU time: spinner {spin_cpu} ns ({spin_total} since ready), "
                f"sleeper {nap_cpu} ns over {naps} naps ({nap_total} since ready)")
            # The switch that closes their last stretch: both block on stdin again. Waited
            # for, not slept on: a TCG guest can take longer than any set pause to get there.
            wait_blocked_on_stdin(spin_pid, "spinner")
            wait_blocked_on_stdin(nap_pid, "sleeper")
            a_spin.end()
            a_nap.end()
            spin_row = only_row(a_spin, spin_pid, "spinner")
            nap_row = only_row(a_nap, nap_pid, "sleeper")
        reap(spin, "spinner")
        reap(nap, "sleeper")
        log(f"MEASURED spinner on_cpu_ns {spin_row['on_cpu_ns']} vs its own {spin_total}; "
            f"sleeper {nap_row['on_cpu_ns']} vs its own {nap_total}")
        check(spin_cpu >= 1000 * MS, f"the spinner used {spin_cpu} ns, want at least its 1 s")
        for who, row, own in (("spinner", spin_row, spin_total), ("sleeper", nap_row, nap_total)):
            slack = EDGE_MS * MS + PER_SWITCH_NS * (row["voluntary"] + row["involuntary"]) + UNACCOUNTED * own
            check(abs(row["on_cpu_ns"] - own) <= slack,
                  f"{who} on_cpu_ns {row['on_cpu_ns']}, want its own CPU time {own} +- {slack:.0f}")
        check(naps + 1 <= nap_row["voluntary"] <= naps + 2,
              f"sleeper voluntary {nap_row['voluntary']}, want {naps} naps + 1 (+ 1)")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"spin_and_sleep": test_spin_and_sleep}, __doc__))
