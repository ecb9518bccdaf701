#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Streaming benchmark: per-event delivery kernel -> agent -> TLS -> CLI on loopback (events/s, drops, agent and CLI CPU).
"""
Usage (as root, after building): bench/stream.py [--build DIR] [--rounds 3] [--duration 3]
                                                 [--wakeup-each] [--markdown FILE]

A getpid() loop (bench/bench-getpid-loop) is the producer; the benchmark-only catalog
probe `syscall-events` emits one 32-byte event per getpid() entry of that pid; the CLI
runs as nobody:

    tracectl gate 127.0.0.1:PORT syscall-events --pid PID -d 3s --min count=1 --max dropped=1e15 -q

(gate: its verdict table gives the events delivered and the events dropped - lost in the
kernel (ring full) or dropped by the agent for a slow client - as the agent counted
them; the CLI's stdout, one line per event, goes to a file). Figures per round: events
delivered per second of the attach, drops, the agent's CPU (utime+stime from
/proc/PID/stat over the CLI's run, in cores) and the CLI's. The baseline measured in the
same run is the producer alone (getpid/s untraced) and, with --compare-wakeup, the same
stream with a ring-buffer wakeup per event (TRACECTL_BENCH_WAKEUP_EACH=1 in a second agent).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import Env  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def one_round(env, build, agent_proc, port, duration):
    prod = subprocess.Popen([os.path.join(build, "bench", "bench-getpid-loop"), str(duration + 4)],
                            stdout=subprocess.PIPE, text=True)
    pid = int(prod.stdout.readline().split("=")[1])
    time.sleep(0.3)
    argv = ["/usr/bin/time", "-f", "CLI_CPU %U %S"] + env.cli_argv(
        env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "gate", f"127.0.0.1:{port}",
        "syscall-events", "--pid", str(pid), "-d", f"{duration:g}s", "--min", "count=1",
        "--max", "dropped=1e15", "-q")
    with tempfile.TemporaryFile() as out:
        a0, t0 = cpu_seconds(agent_proc.pid), time.monotonic()
        res = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, timeout=duration + 60)
        a1, t1 = cpu_seconds(agent_proc.pid), time.monotonic()
        out.seek(0, os.SEEK_END)
        size = out.tell()
        out.seek(max(0, size - 4096))
        tail = out.read().decode("utf-8", "replace")
    prod.wait()
    err = res.stderr.decode()
    m_count = re.search(r"count=1\s+(\d+)", tail)
    m_drop = re.search(r"dropped=1e15\s+(\d+)", tail)
    m_cli = re.search(r"CLI_CPU ([\d.]+) ([\d.]+)", err)
    if res.returncode != 0 or not m_count or not m_drop:
        raise RuntimeError(f"gate exit {res.returncode}: {tail[-600:]!r} {err[-600:]!r}")
    events, dropped = int(m_count.group(1)), int(m_drop.group(1))
    wall = t1 - t0
    return {
        "events_s": events / duration, "events": events, "dropped": dropped,
        "agent_cores": (a1 - a0) / wall, "cli_cores": (float(m_cli.group(1)) + float(m_cli.group(2))) / wall,
    }


def producer_alone(build, duration):
    out = subprocess.run([os.path.join(build, "bench", "bench-getpid-loop"), str(duration)], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return float(re.search(r"ops_per_s=([\d.]+)", out).group(1))


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--compare-wakeup", action="store_true",
                    help="also run an agent that wakes user space per event (the naive ring buffer)")
    ap.add_argument("--markdown", help="append the table as Markdown to this file")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (the agent loads BPF programs)")
    args = argparse.Namespace(agent=os.path.join(a.build, "agent", "tracectl-agent"),
                              cli=os.path.join(a.build, "cli", "tracectl"),
                              pki=os.path.join(root, "deploy", "dev-pki.sh"), tools=None, test=None)
    results = {}
    # the overhead budget would sample or detach the hot sessions these figures are about
    with Env(args, agent_args=["--max-overhead", "off"]) as env:
        agents = [("batched wakeup", env.agent, env.port)]
        if a.compare_wakeup:
            os.environ["TRACECTL_BENCH_WAKEUP_EACH"] = "1"
            proc, port = env.start_agent()
            del os.environ["TRACECTL_BENCH_WAKEUP_EACH"]
            agents.append(("wakeup per event", proc, port))
        base = []
        for r in range(a.rounds):
            base.append(producer_alone(a.build, a.duration))
            print(f"[round {r + 1}] producer alone: {base[-1]:,.0f} getpid/s", flush=True)
            for label, proc, port in agents:
                res = one_round(env, a.build, proc, port, a.duration)
                results.setdefault(label, []).append(res)
                print(f"[round {r + 1}] {label}: {res['events_s']:,.0f} events/s delivered, "
                      f"{res['dropped']:,} dropped, agent {res['agent_cores']:.2f} cores, "
                      f"CLI {res['cli_cores']:.2f} cores", flush=True)
        env.stop_agent_checked()
    rows = []
    for label, rs in results.items():
        med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
        rows.append((label, med("events_s"), min(r["events_s"] for r in rs), max(r["events_s"] for r in rs),
                     med("dropped"), med("agent_cores"), med("cli_cores")))
    print(f"\nproducer alone (baseline): median {statistics.median(base):,.0f} getpid/s")
    print(f"{'variant':18} {'events/s (median)':>18} {'min..max':>22} {'dropped':>11} {'agent cores':>12} "
          f"{'CLI cores':>10}")
    for label, med_e, lo, hi, drop, ac, cc in rows:
        print(f"{label:18} {med_e:18,.0f} {lo:10,.0f}..{hi:<10,.0f} {drop:11,.0f} {ac:12.2f} {cc:10.2f}")
    if a.markdown:
        with open(a.markdown, "a") as f:
            f.write(f"\n`bench/stream.py --rounds {a.rounds} --duration {a.duration:g}"
                    f"{' --compare-wakeup' if a.compare_wakeup else ''}`; producer alone "
                    f"{statistics.median(base):,.0f} getpid/s\n\n")
            f.write("| variant | events/s delivered (median) | min..max | dropped (median) | agent cores | CLI cores |\n")
            f.write("|---|---:|---|---:|---:|---:|\n")
            for label, med_e, lo, hi, drop, ac, cc in rows:
                f.write(f"| {label} | {med_e:,.0f} | {lo:,.0f}..{hi:,.0f} | {drop:,.0f} | {ac:.2f} | {cc:.2f} |\n")


if __name__ == "__main__":
    main()
