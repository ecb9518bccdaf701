#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Agent footprint benchmark: idle RSS, and Attach request to first snapshot latency (BPF load included) per probe.
"""
Usage (as root, after building): bench/footprint.py [--build DIR] [--rounds 5] [--probes tcp-latency,...]

Starts one agent (dev PKI in a temp dir) and reports its VmRSS/VmHWM idle, then per
probe and round runs, as user nobody,

    tracectl attach 127.0.0.1:PORT PROBE --interval 100ms --duration 1s --output json

and takes from the JSON lines: the agent's own load time (`attached.load_ns`: open,
verify, load, attach), and the time from starting the CLI to the first snapshot line
(CLI start, TLS handshake, Hello, Attach, load, then the first 100 ms window boundary).
The baseline in the same run is `tracectl status` (CLI start + TLS + one unary call); the
first one also waits for the agent's trial load of every probe (its `supported` flags).
Per probe also the agent loop thread's CPU per attach (user + system, from
/proc/PID/task/PID/stat over the rounds: load, verify, attach, TLS and the 1 s session),
next to the CPU of one parse of the kernel's BTF by libbpf (btf__load_vmlinux_btf through
ctypes, in this process), which libbpf repeated for every CO-RE object it loaded before the
agent's minimal BTF per object (issue 17.5; still so with --full-btf and for tp_btf probes).
Goals (issue 9): idle RSS < 20 MB, attach to first snapshot < 300 ms.

--compare-btf (issue 17.5): instead, two agents in one run, the attach rounds alternating
between them: one with --full-btf (libbpf parses the whole kernel BTF at every load, the
behaviour before) and one with its default minimal BTF per object; then the agent's
minimal-BTF counters from its --metrics endpoint.
"""
import ctypes
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import Env, free_port  # noqa: E402


def rss_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0])
    return out


def loop_cpu_ms(pid):
    """User + system CPU of the agent's event-loop thread (its main thread), in ms."""
    with open(f"/proc/{pid}/task/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def btf_parse_cpu_ms(n=20):
    """CPU of one libbpf parse of the kernel's BTF (what each CO-RE object load repeats)."""
    lib = ctypes.CDLL("libbpf.so.1")
    lib.btf__load_vmlinux_btf.restype = ctypes.c_void_p
    lib.btf__free.argtypes = [ctypes.c_void_p]
    lib.btf__free(lib.btf__load_vmlinux_btf())  # the first one pays for the library's pages
    t0 = time.thread_time()
    for _ in range(n):
        lib.btf__free(lib.btf__load_vmlinux_btf())
    return (time.thread_time() - t0) * 1000 / n


def timed_lines(argv, want):
    """Seconds from start to the first line containing each marker in want."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    seen, objs = {}, []
    for line in p.stdout:
        for m in want:
            if m not in seen and m.encode() in line:
                seen[m] = time.monotonic() - t0
        if line.startswith(b"{"):
            objs.append(json.loads(line))
    err = p.stderr.read().decode("utf-8", "replace")  # a few lines: read once stdout is done
    p.wait()
    timed_lines.stderr = err.strip()[-300:]
    return seen, objs, p.returncode


def attach_rounds(cli, host, pid, probe, rounds):
    """(median load ms, loop CPU per attach ms, first snapshot ms list) or None."""
    first, load = [], []
    cpu0 = loop_cpu_ms(pid)
    for _ in range(rounds):
        seen, objs, rc = timed_lines(cli("attach", host, probe, "--interval", "100ms", "--duration", "1s",
                                         "--output", "json"), ['"type":"attached"', '"type":"snapshot"'])
        att = [o for o in objs if o.get("type") == "attached"]
        if rc != 0 or not att or '"type":"snapshot"' not in seen:
            print(f"{probe}: exit {rc}, no snapshot: {timed_lines.stderr}", flush=True)
            return None
        load.append(att[0].get("load_ns", 0) / 1e6)
        first.append(seen['"type":"snapshot"'] * 1000)
    return statistics.median(load), (loop_cpu_ms(pid) - cpu0) / len(first), first


def compare_btf(env, cli, a):
    """Two agents in one run, rounds alternating: --full-btf (libbpf parses the whole kernel
    BTF per load, as before issue 17.5) and the default (a minimal BTF per object)."""
    full, full_port = env.start_agent(["--full-btf"])
    agents = (("whole", full.pid, f"127.0.0.1:{full_port}"), ("minimal", env.agent.pid, f"127.0.0.1:{env.port}"))
    for name, _, host in agents:  # the trial loads of every probe, once
        t0 = time.monotonic()
        subprocess.run(cli("status", host), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"first status ({name} BTF), waiting for the trial loads: {(time.monotonic() - t0) * 1000:.0f} ms",
              flush=True)
    print(f"\n{'probe':16} {'BTF':8} {'agent load ms':>14} {'loop CPU/attach ms':>19} "
          f"{'CLI start -> first snapshot ms (median, min..max)':>50}")
    for probe in a.probes.split(","):
        res = {name: ([], [], []) for name, _, _ in agents}
        for _ in range(a.rounds):
            for name, pid, host in agents:
                r = attach_rounds(cli, host, pid, probe, 1)
                if r:
                    res[name][0].append(r[0])
                    res[name][1].append(r[1])
                    res[name][2].extend(r[2])
        for name, _, _ in agents:
            ld, cpu, first = res[name]
            if first:
                print(f"{probe:16} {name:8} {statistics.median(ld):14.1f} {statistics.mean(cpu):19.1f} "
                      f"{statistics.median(first):30.0f} ({min(first):.0f}..{max(first):.0f})", flush=True)
    print("\n" + "\n".join(line for line in metrics_lines(env) if "btf" in line))


def metrics_lines(env):
    """The agent's own counters, through its --metrics endpoint (127.0.0.1:env.metrics_port)."""
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    with opener.open(f"http://127.0.0.1:{env.metrics_port}/metrics", timeout=5) as r:
        return [line for line in r.read().decode().splitlines() if not line.startswith("#")]


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--probes", default="tcp-latency,tcp-send,runq-latency,syscalls,exec,open,syscall-events")
    ap.add_argument("--compare-btf", action="store_true",
                    help="only compare attaches of an agent with --full-btf and one without, rounds alternating")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (the agent loads BPF programs)")
    args = argparse.Namespace(agent=os.path.join(a.build, "agent", "tracectl-agent"),
                              cli=os.path.join(a.build, "cli", "tracectl"),
                              pki=os.path.join(root, "deploy", "dev-pki.sh"), tools=None, test=None)
    metrics_port = free_port()
    with Env(args, agent_args=["--metrics", f"127.0.0.1:{metrics_port}"]) as env:
        env.metrics_port = metrics_port
        time.sleep(0.5)
        idle = rss_kb(env.agent.pid)
        cli = lambda *rest: env.cli_argv(env.path("ca.pem"), env.path("client.pem"),  # noqa: E731
                                         env.path("client.key"), *rest)
        if a.compare_btf:
            compare_btf(env, cli, a)
            return
        host = f"127.0.0.1:{env.port}"
        base = []
        for _ in range(a.rounds):
            t0 = time.monotonic()
            subprocess.run(cli("status", host), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            base.append(time.monotonic() - t0)
        rows = []
        for probe in a.probes.split(","):
            r = attach_rounds(cli, host, env.agent.pid, probe, a.rounds)
            if r:
                load, cpu, first = r
                rows.append((probe, load, cpu, statistics.median(first), min(first), max(first)))
                print(f"{probe}: load {load:.1f} ms, {cpu:.1f} ms CPU, first snapshot {rows[-1][3]:.0f} ms",
                      flush=True)
        after = rss_kb(env.agent.pid)
        env.stop_agent_checked()
    print(f"\nagent idle: VmRSS {idle['VmRSS'] / 1024:.1f} MB (goal < 20 MB); after the attaches: VmRSS "
          f"{after['VmRSS'] / 1024:.1f} MB, VmHWM {after['VmHWM'] / 1024:.1f} MB")
    print(f"baseline `tracectl status` (CLI start, TLS, one call): median {statistics.median(base) * 1000:.0f} ms; "
          f"the first, waiting for every probe's trial load: {base[0] * 1000:.0f} ms")
    btf_ms = btf_parse_cpu_ms()
    print(f"one parse of the kernel's BTF by libbpf: {btf_ms:.1f} ms CPU")
    print(f"{'probe':16} {'agent load ms':>14} {'loop CPU/attach ms':>19} {'one BTF parse as':>16} "
          f"{'CLI start -> first snapshot ms (median, min..max)':>50}")
    for probe, ld, cpu, med, lo, hi in rows:
        print(f"{probe:16} {ld:14.1f} {cpu:19.1f} {100 * btf_ms / cpu if cpu else 0:15.0f}% "
              f"{med:30.0f} ({lo:.0f}..{hi:.0f})")


if __name__ == "__main__":
    main()
