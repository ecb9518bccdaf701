#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# profile on stripped binaries: MiniDebugInfo (.gnu_debugdata) names what .symtab no longer
# does, and a frame nothing names says why.
"""
stripped: two copies of spin_workload under one name (so one --comm samples both):
one stripped (strip --strip-all: no .symtab, and spin_here is not exported), one
stripped and given a .gnu_debugdata section the way Fedora builds MiniDebugInfo (the
.symtab of objcopy --only-keep-debug, DWARF dropped, xz-compressed). They have the
build-id of the original but not its size, so neither borrows the other's table.
profile samples both for 3 s at 49 Hz. Checked against each copy's own CPU time (FREQ
x CPU time, within 4 standard deviations + EDGE_SAMPLES, as in e2e_probe_profile):
- the MiniDebugInfo copy's samples: spin_here named, with spin_outer as its caller;
- the stripped copy's samples: a leaf frame "[unknown: stripped NAME+0xOFFSET]".
Needs objcopy, strip (binutils) and xz; exits 77 (skipped) otherwise.
"""
import os
import shutil
import subprocess
import sys

from harness import SKIP, Env, check, log, run_tests
from test_profile import EDGE_SAMPLES, expected_samples, profile_workloads, spawn_workload


def run(argv):
    res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(res.returncode == 0, f"{' '.join(argv)}: {res.stdout.decode(errors='replace').strip()}")


def make_copies(src, work, name):
    """(stripped copy, copy with MiniDebugInfo), both called name, in two directories of work."""
    stripped = os.path.join(work, "stripped", name)
    minidebug = os.path.join(work, "minidebuginfo", name)
    mini = os.path.join(work, "mini")
    os.makedirs(os.path.dirname(stripped))
    os.makedirs(os.path.dirname(minidebug))
    # the symbols only: what Fedora's find-debuginfo keeps for .gnu_debugdata
    run(["objcopy", "--only-keep-debug", src, mini])
    run(["objcopy", "--strip-debug", mini])
    run(["xz", "-f", mini])
    run(["strip", "--strip-all", src, "-o", stripped])
    run(["objcopy", "--add-section", f".gnu_debugdata={mini}.xz", stripped, minidebug])
    return stripped, minidebug


def test_stripped(args):
    missing = [tool for tool in ("objcopy", "strip", "xz") if not shutil.which(tool)]
    if missing:
        print(f"SKIP stripped: no {', '.join(missing)} here", flush=True)
        sys.exit(SKIP)
    with Env(args) as env:
        comm = f"stripspin{os.getpid() % 100000}"
        stripped, minidebug = make_copies(os.path.join(args.tools, "spin_workload"), env.dir, comm)
        workloads = []
        for label, path in (("stripped", stripped), ("minidebuginfo", minidebug)):
            wl, wl_out, _ = spawn_workload(env, label, [path])
            workloads.append((wl, wl_out))
        folded, dones = profile_workloads(env, workloads, ["--comm", comm])

        named = with_caller = unknown = other = 0
        for l in folded:
            stack, _, count = l.rpartition(" ")
            check(stack and count.isdigit(), f"not a folded line: {l!r}")
            frames = stack.split(";")
            check(frames[0] == comm, f"a stack of another process: {l!r}")
            if "spin_here" in frames:
                named += int(count)
                i = frames.index("spin_here")
                with_caller += int(count) if i > 0 and frames[i - 1] == "spin_outer" else 0
            # by the innermost user frame: a sample taken in an interrupt has kernel frames below it
            elif [f for f in frames if not f.endswith("_[k]")][-1].startswith(f"[unknown: stripped {comm}+0x"):
                unknown += int(count)
            else:
                other += int(count)
        measured = []
        for done in dones:
            fields = done.split()
            measured.append(expected_samples(int(fields[3]), int(fields[5]) + 1))
        (want_unknown, allow_unknown), (want_named, allow_named) = measured
        log(f"MEASURED stripped: spin_here named={named} (spin_outer;spin_here={with_caller}), want "
            f"{want_named:.1f} +- {allow_named:.1f}; [unknown: stripped] leaves={unknown}, want "
            f"{want_unknown:.1f} +- {allow_unknown:.1f}; other={other}")
        check(abs(named - want_named) <= allow_named,
              f"spin_here (MiniDebugInfo) in {named} samples, want {want_named:.1f} +- {allow_named:.1f}")
        check(with_caller == named, f"spin_outer;spin_here in {with_caller} of {named} samples in spin_here")
        check(abs(unknown - want_unknown) <= allow_unknown,
              f"[unknown: stripped] leaf in {unknown} samples, want {want_unknown:.1f} +- {allow_unknown:.1f}")
        check(other <= 2 * EDGE_SAMPLES, f"{other} samples neither named spin_here nor [unknown: stripped]")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"stripped": test_stripped}, __doc__))
