#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Per-probe cost on this machine: ns per program run in the kernel and agent CPU, from the agent's own accounting.
"""
Usage (as root, after building): bench/probe_cost.py [--build DIR] [--seconds 3] [--probes P1,P2]

For every catalog probe (default parameters; func-* on a test binary, tp-count on
sched:*), attaches it system-wide for a few seconds while this script generates a
mixed load (TCP round trips on loopback, file writes and reads, fork+exec of
/bin/true, cheap syscalls), and prints what the agent measured in the summary's
`cost`: program runs, ns per run in the kernel (BPF run-time statistics), the
agent's CPU time, and the overhead as a share of one core. The baseline measured in
the same run is the load's own rate without any probe.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import Env  # noqa: E402

SPECIAL = {
    "func-count": ["--target", "{tools}/func_workload:work_*"],
    "func-latency": ["--target", "{tools}/func_workload:work_unit"],
    "tp-count": ["--target", "sched:sched_*"],
}


def load(stop, counter):
    """Mixed load until stop is set; counter[0] counts rounds."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    cli = socket.create_connection(srv.getsockname())
    peer, _ = srv.accept()
    path = f"/tmp/tracectl-cost-{os.getpid()}"
    while not stop.is_set():
        for _ in range(50):
            cli.send(b"x")
            peer.recv(1)
            peer.send(b"y")
            cli.recv(1)
            os.getppid()
        with open(path, "wb") as f:
            f.write(b"z" * 4096)
        with open(path, "rb") as f:
            f.read()
        subprocess.run(["/bin/true"])
        counter[0] += 1
    for s in (cli, peer, srv):
        s.close()
    os.unlink(path)


def rounds_per_second(seconds):
    stop, counter = threading.Event(), [0]
    t = threading.Thread(target=load, args=(stop, counter))
    t.start()
    time.sleep(seconds)
    stop.set()
    t.join()
    return counter[0] / seconds


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--probes", help="comma-separated probes to measure (default: the whole catalog)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (the agent loads BPF programs)")
    tools = os.path.join(a.build, "tests", "tools")
    args = argparse.Namespace(agent=os.path.join(a.build, "agent", "tracectl-agent"),
                              cli=os.path.join(a.build, "cli", "tracectl"),
                              pki=os.path.join(root, "deploy", "dev-pki.sh"), tools=tools, test=None)
    probes = sorted(f[len("probe_"):-2].replace("_", "-") for f in os.listdir(os.path.join(root, "agent"))
                    if f.startswith("probe_") and f.endswith(".c"))
    if a.probes:
        probes = a.probes.split(",")
    with Env(args, agent_args=["--max-overhead", "100%"]) as env:
        base = rounds_per_second(a.seconds)
        print(f"load without probes: {base:.1f} rounds/s (a round: 50 TCP round trips + 50 getppid, "
              f"a 4 KiB write and read, one fork+exec)\n")
        print(f"{'probe':<14} {'runs':>10} {'ns/run':>9} {'agent CPU':>10} {'% of a core':>11} {'load ratio':>10}")
        for probe in probes:
            extra = [x.format(tools=tools) for x in SPECIAL.get(probe, [])]
            argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                                f"127.0.0.1:{env.port}", probe, "--duration", f"{a.seconds}s", "--output", "json",
                                *extra)
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            rate = rounds_per_second(a.seconds - 1)
            out, _ = proc.communicate(timeout=60)
            cost = None
            for line in out.decode().splitlines():
                o = json.loads(line)
                if o.get("type") == "summary" and "cost" in o:
                    cost = o["cost"]
            if not cost:
                print(f"{probe:<14} (no summary: exit {proc.returncode})")
                continue
            print(f"{probe:<14} {cost['events']:>10} {cost['ns_per_event']:>9.0f} "
                  f"{cost['agent_cpu_ns'] / 1e6:>8.1f}ms {cost['overhead_pct']:>10.3f}% {rate / base:>10.3f}")
        env.stop_agent_checked()


if __name__ == "__main__":
    main()
