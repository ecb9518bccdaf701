#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Fan-out benchmark: one CLI against N agents on loopback; time to all attached, to the first merged snapshot, and CLI peak RSS.
"""
Usage (as root, after building): bench/fanout.py [--build DIR] [--agents 64] [--rounds 3]

Starts N agents (one process each, one shared dev PKI), then runs
`tracectl attach <all N> tcp-latency --interval I --duration 2s --output json` as user nobody
and measures, per round: seconds from the command's start to the last per-host
"attached" line, to the first merged ("host":"*") snapshot, and the CLI's peak RSS.
The baseline, measured in the same run, is the same command against 1 agent.
Every host's windows end at the same wall-clock times, chosen by the CLI: the first half
an interval after it starts (so the first window is partial), then one per interval.
Hosts that attach after that first end join from the next window. Each agent's own
open+verify+attach time (load_ns of its Attached message) is reported too: 64 agents on
one machine queue for its CPUs, which a real fleet does not.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import Env, LineReader, stop  # noqa: E402


def run_once(env, hosts, interval, probe):
    argv = ["/usr/bin/time", "-f", "%M"] + env.cli_argv(
        env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach", ",".join(hosts),
        *probe.split(), "--interval", interval, "--duration", "2s", "--output", "json", "--pid", "1")
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    reader = LineReader(proc.stdout, "cli")
    attached = first_merged = None
    n_attached = 0
    load_ms = []
    while True:
        line = reader.readline(60)
        if line is None:
            break
        if '"type":"attached"' in line:
            n_attached += 1
            load_ms.append(json.loads(line).get("load_ns", 0) / 1e6)
            if n_attached == len(hosts):
                attached = time.monotonic() - t0
        elif first_merged is None and '"type":"snapshot"' in line:
            first_merged = time.monotonic() - t0
    _, err = proc.communicate(timeout=60)
    rss_kb = int(err.decode().strip().splitlines()[-1])
    if proc.returncode != 0 or n_attached != len(hosts):
        raise SystemExit(f"CLI exited {proc.returncode} with {n_attached}/{len(hosts)} attached: {err.decode()[-500:]}")
    return attached, first_merged, rss_kb / 1024, statistics.median(load_ms), sum(load_ms)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--agents", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--probe", default="tcp-latency", help="probe (and its options) every agent attaches (default tcp-latency; "
                    "e.g. 'tp-count --target sched:sched_process_exec', whose load needs no kernel BTF)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (the agents load BPF programs)")
    args = argparse.Namespace(agent=os.path.join(a.build, "agent", "tracectl-agent"),
                              cli=os.path.join(a.build, "cli", "tracectl"),
                              pki=os.path.join(root, "deploy", "dev-pki.sh"), tools=None, test=None)
    with Env(args) as env:
        t0 = time.monotonic()
        for _ in range(a.agents - 1):
            env.start_agent()
        print(f"started {a.agents} agents in {time.monotonic() - t0:.1f}s", flush=True)
        hosts = [f"127.0.0.1:{port}" for _, _, port in env.agents]
        results = {}
        for label, subset, interval in (("1 agent (baseline)", hosts[:1], "1s"),
                                        (f"{a.agents} agents", hosts, "1s"),
                                        ("1 agent (baseline)", hosts[:1], "200ms"),
                                        (f"{a.agents} agents", hosts, "200ms")):
            rounds = [run_once(env, subset, interval, a.probe) for _ in range(a.rounds)]
            results[(label, interval)] = [statistics.median(x) for x in zip(*rounds)]
        print(f"\nprobe {a.probe}")
        print(f"{'targets':<20} {'interval':>8} {'all attached':>13} {'1st merged':>11} {'CLI peak RSS':>13} "
              f"{'agent load':>11} {'sum of loads':>13}")
        for (label, interval), (att, first, rss, load, load_sum) in results.items():
            print(f"{label:<20} {interval:>8} {att:>12.3f}s {first:>10.3f}s {rss:>10.1f} MB {load:>8.1f} ms "
                  f"{load_sum:>10.0f} ms")
        for interval in ("1s", "200ms"):
            base = results[("1 agent (baseline)", interval)]
            many = results[(f"{a.agents} agents", interval)]
            print(f"ratio {a.agents}/1 at {interval}: attached x{many[0] / base[0]:.2f}, "
                  f"first merged x{many[1] / base[1]:.2f}, RSS x{many[2] / base[2]:.2f}")
        print(f"(medians of {a.rounds} rounds; goal: first merged snapshot < 1 s, CLI < 50 MB; agent load = "
              f"open+verify+attach in one agent, median over hosts; every agent shares this machine's "
              f"{os.cpu_count()} CPUs, so their loads queue behind each other, unlike on a fleet)")
        env.stop_agent_checked()


if __name__ == "__main__":
    main()
