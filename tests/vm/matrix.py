#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""
The kernel matrix: runs the probe ground-truth tests (the same ctest tests as on this
machine, no second copy) inside Debian's kernels booted under QEMU, and prints one table:
probe x kernel, pass/fail/skip, the hook used, and the reason of each failure.

usage: matrix.py --build DIR [--kernels 5.10,6.1,6.12,7] [--tests REGEX] [--json FILE]

A kernel whose packages cannot be fetched is reported as skipped with the reason. Exit
status: 0 when every test passed or was skipped with a reason, 1 otherwise.
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import vm

HERE = os.path.dirname(os.path.abspath(__file__))


def ctest_tests(build, pattern):
    out = subprocess.run(["ctest", "--test-dir", build, "--show-only=json-v1"], check=True,
                         capture_output=True, text=True).stdout
    tests = []
    for t in json.loads(out)["tests"]:
        if not re.search(pattern, t["name"]):
            continue
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        tests.append({"name": t["name"], "command": t["command"],
                      "timeout": int(props.get("TIMEOUT", 180)), "skip_code": int(props.get("SKIP_RETURN_CODE", 77))})
    return tests


def run_kernel(name, tests, cache, keep, guest_seconds, build, cpus):
    started = time.monotonic()
    try:
        root = vm.fetch(name, cache)
    except (vm.VmError, subprocess.CalledProcessError) as e:
        return {"kernel": name, "skipped": f"cannot fetch the kernel: {e}", "results": {}, "seconds": 0}
    share = tempfile.mkdtemp(prefix=f"tracectl-matrix-{name}-")
    os.chmod(share, 0o755)
    with open(os.path.join(share, "tests.json"), "w") as f:
        json.dump(tests, f)
    # Every test's own timeout, but at most --guest-seconds: CI's 90 minutes hold all kernels.
    budget = min(sum(t["timeout"] for t in tests) + 120, guest_seconds)
    status, console, _ = vm.boot(root, ["/usr/bin/python3", os.path.join(HERE, "guest_run.py"), "/mnt"],
                                 timeout=budget, cpus=cpus, share=share, host_paths=[build])
    results = {}
    path = os.path.join(share, "results.json")
    if os.path.exists(path):
        with open(path) as f:
            results = json.load(f)
    out = {"kernel": name, "version": vm.kernel_version(root), "results": results,
           "seconds": round(time.monotonic() - started, 1), "share": share}
    if status is None:
        out["error"] = "the guest did not finish: " + console[-500:].replace("\n", " | ")
    elif status != 0:
        with open(os.path.join(share, "output"), errors="replace") as f:
            out["error"] = f"the guest's runner failed ({status}): " + f.read()[-500:].replace("\n", " | ")
    if not keep and status is not None:
        out.pop("share")
    return out


def merge_shards(parts):
    """One kernel's guests as one run: their results together, seconds per guest summed."""
    run = dict(parts[0])
    run["results"] = {n: x for r in parts for n, x in r["results"].items()}
    run["seconds"] = round(sum(r["seconds"] for r in parts), 1)
    run["guests"] = [r["seconds"] for r in parts]
    errors = [r["error"] for r in parts if "error" in r]
    if errors:
        run["error"] = " || ".join(errors)
    else:
        run.pop("error", None)
    shares = [r["share"] for r in parts if "share" in r]
    if shares:
        run["share"] = " ".join(shares)
    return run


def table(runs, tests):
    names = [t["name"] for t in tests]
    short = {n: re.sub(r"^(e2e_probe_|probe_|e2e_)", "", n) for n in names}
    width = max(len(s) for s in short.values()) + 1
    lines = []
    head = f"{'probe test':<{width}}" + "".join(f" | {r.get('version', r['kernel'])[:24]:<24}" for r in runs)
    lines += [head, "-" * len(head)]
    for n in names:
        row = f"{short[n]:<{width}}"
        for r in runs:
            res = r["results"].get(n)
            cell = ("skipped (kernel)" if "skipped" in r else res["status"] if res else "not run")
            if res and res.get("hook") and res["status"] == "passed":
                cell += f" {res['hook'].split()[0]}"
            row += f" | {cell[:24]:<24}"
        lines.append(row)
    lines.append("")
    for r in runs:
        secs = r["seconds"]
        if "skipped" in r:
            lines.append(f"{r['kernel']}: skipped: {r['skipped']}")
            continue
        counts = {}
        for res in r["results"].values():
            counts[res["status"]] = counts.get(res["status"], 0) + 1
        guests = " + ".join(f"{g:.0f}" for g in r.get("guests", [secs]))
        lines.append(f"{r['version']}: {secs:.0f}s ({guests} in its guests), "
                     + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
                     + (f"; {r['error']}" if "error" in r else ""))
        for n in names:
            res = r["results"].get(n)
            if res and res["status"] != "passed":
                lines.append(f"  {short[n]}: {res['status']}: {res['reason']}")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", required=True, help="a configured and built tree (ctest lists its tests)")
    p.add_argument("--kernels", default=",".join(vm.KERNELS), help="comma-separated (default: all)")
    p.add_argument("--tests", default=r"^(e2e_probe_|probe_|e2e_attach$)",
                   help="regex of ctest names (default: the probe ground-truth tests)")
    p.add_argument("--cache", default=os.environ.get("TRACECTL_VM_CACHE", "/var/cache/tracectl-vm"))
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--guest-seconds", type=int, default=1200,
                   help="the longest one kernel's guest may run (default 1200)")
    p.add_argument("--jobs", type=int, default=2,
                   help="guests at a time (default 2: one single-threaded TCG guest per core)")
    p.add_argument("--shards", type=int, default=2,
                   help="guests per kernel, its tests split between them (default 2)")
    p.add_argument("--cpus", type=int, default=2,
                   help="vCPUs per guest (default 2); 4+ reaches the paths of hosts with many CPUs "
                        "(hist_cgroup_shared); TCG runs them on one host thread")
    p.add_argument("--keep", action="store_true", help="keep each guest's share (test logs)")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("SKIP: the kernel matrix needs root (the guest runs the root tests as root)", flush=True)
        return 77
    for tool in ("qemu-system-x86_64", "dpkg-deb", "apt-get"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ["PATH"].split(":")):
            print(f"SKIP: {tool} is not installed", flush=True)
            return 77
    tests = ctest_tests(os.path.abspath(args.build), args.tests)
    if not tests:
        print(f"matrix: no ctest test matches {args.tests!r} in {args.build}", file=sys.stderr)
        return 2
    kernels = args.kernels.split(",")
    for k in kernels:  # fetched one after another: apt's private state is not shared safely
        try:
            vm.fetch(k, args.cache)
        except (vm.VmError, subprocess.CalledProcessError) as e:
            print(f"matrix: {k}: {e}", file=sys.stderr)
    shards = max(1, min(args.shards, len(tests)))
    print(f"=== {len(tests)} test(s) on {', '.join(kernels)}, {shards} guest(s) per kernel of {args.cpus} vCPUs, "
          f"{args.jobs} at a time",
          flush=True)
    # Each kernel's tests split over guests (every shards-th test): the slowest kernel (5.10
    # under TCG ran 20 tests in 1,172 s of a 1,200 s guest budget) no longer runs alone at
    # the end, and each guest's budget holds half the work.
    jobs = [(k, tests[i::shards]) for k in kernels for i in range(shards)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        parts = list(pool.map(lambda job: run_kernel(job[0], job[1], args.cache, args.keep, args.guest_seconds,
                                                       os.path.abspath(args.build), args.cpus), jobs))
    runs = [merge_shards([r for r in parts if r["kernel"] == k]) for k in kernels]
    print(table(runs, tests), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)
    every = [x["status"] for r in runs for x in r["results"].values()]
    passed = every.count("passed") + every.count("flaky")
    failed = sum(s in ("failed", "timeout") for s in every)
    if every.count("flaky"):
        print(f"matrix: FLAKY (passed only on retry): " + ", ".join(
            f"{n} on {r['kernel']}" for r in runs for n, x in r["results"].items() if x["status"] == "flaky"))
    print(f"matrix: {passed} passed, {failed} failed, {len(every) - passed - failed} skipped", flush=True)
    bad = failed or any("error" in r for r in runs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
