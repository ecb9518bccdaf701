#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Fan-out benchmark: one CLI against N agents on loopback; time to all attached, to the first merged snapshot, and CLI peak RSS.
"""
Usage (as root, after building):
  bench/fanout.py [--build DIR] --virtual 64,256,1000[,...] [--probe runq-latency] [--seconds 6]
  bench/fanout.py [--build DIR] [--agents 64] [--rounds 3]

--virtual: the controller alone at scale. One real agent records --probe for --seconds
(`tracectl record`, as nobody); then bench-fanout-agents processes (at most --per-generator,
default 1000, virtual agents each, one loopback port per agent, the real protocol over mutual TLS)
replay that recording's windows to `tracectl attach @INVENTORY PROBE --interval 1s
--duration Ds --output json`, run as nobody with a soft open-file limit of 1024 (it must
raise its own). Per fleet size, against the 1-host run of the same script: time to all
attached and to the first merged window; whether every merged window after that holds
every host and is printed within half an interval (the CLI's grace) of its end; the CLI's
CPU per window per host (sampled from /proc between the first and the last complete
window); its peak RSS per host over the 1-host run's.

Without --virtual: starts N agents (one process each, one shared dev PKI), then runs
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
from harness import Env, LineReader, stop, tail  # noqa: E402


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


def cli_cpu_s(pid):
    """user+system CPU seconds of pid so far, from /proc (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def record(env, probe, seconds):
    """A real recording of probe on the real agent, for the generators to replay."""
    recdir = os.path.join(env.dir, "rec")
    os.mkdir(recdir)
    os.chmod(recdir, 0o1777)
    trace = os.path.join(recdir, "replay.trace")
    rc, _, err = env.run_cli("record", env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"),
                                                   "record", f"127.0.0.1:{env.port}", *probe.split(), "--interval", "1s",
                                                   "--duration", f"{seconds}s", "--output", "json", "-o", trace),
                             timeout=seconds + 30)
    if rc != 0:
        raise SystemExit(f"recording {probe} failed ({rc}): {err[-300:]}")
    return trace


def start_generators(env, gen, trace, n, port_base, per_gen, jitter_ms):
    """bench-fanout-agents processes serving n virtual agents on ports port_base.. ; returns their hosts."""
    procs = []
    for k, first in enumerate(range(0, n, per_gen)):
        count = min(per_gen, n - first)
        proc = subprocess.Popen([gen, "--ca", env.path("ca.pem"), "--cert", env.path("agent.pem"),
                                 "--key", env.path("agent.key"), "--recording", trace,
                                 "--port-base", str(port_base + first), "--count", str(count),
                                 "--jitter-ms", str(jitter_ms), "--seed", str(k + 1)],
                                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        env.procs.append((f"generator{k}", proc))
        procs.append(proc)
    for k, proc in enumerate(procs):
        line = LineReader(proc.stdout, f"generator{k}").readline(60)
        if not line or not line.startswith("ready"):
            raise SystemExit(f"generator {k} did not start (exit {proc.poll()})")
    return procs, [f"127.0.0.1:{port_base + i}" for i in range(n)]


def run_virtual(env, hosts, probe, seconds, soft_nofile):
    """One attach to every host; the figures of the docstring, as a dict."""
    inv = os.path.join(env.dir, "rec", f"inventory-{len(hosts)}.txt")
    with open(inv, "w") as f:
        f.write("\n".join(hosts) + "\n")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    argv = ["prlimit", f"--nofile={soft_nofile}:{hard}", "--"] + env.cli_argv(
        env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach", "@" + inv,
        *probe.split(), "--interval", "1s", "--duration", f"{seconds}s", "--output", "json")
    t0, w0 = time.monotonic(), time.time()
    # to a file: a pipe nobody reads while the CLI runs would block it once full
    errpath = os.path.join(env.dir, f"cli-{len(hosts)}.log")
    with open(errpath, "wb") as errfile:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errfile, stdin=subprocess.DEVNULL)
    reader = LineReader(proc.stdout, "cli")
    attached = first_merged = attach_cpu = None
    n_attached = late_host_windows = 0
    windows = {}  # seq -> (arrival wall clock, end_unix_ns, hosts, cli cpu at arrival)
    errors = {}  # reason -> hosts
    while True:
        line = reader.readline(seconds + 120)
        if line is None:
            break
        if '"type":"attached"' in line:
            n_attached += 1
            if n_attached == len(hosts):
                attached = time.monotonic() - t0
                attach_cpu = cli_cpu_s(proc.pid)
        elif '"type":"error"' in line:
            # a host that failed: counted, and its reason (without the host) tallied
            reason = json.loads(line)["error"].split(": ", 1)[-1]
            errors[reason] = errors.get(reason, 0) + 1
        elif '"type":"snapshot"' in line:
            o = json.loads(line)
            if o.get("late"):
                late_host_windows += 1
                continue
            if first_merged is None:
                first_merged = time.monotonic() - t0
            if o["seq"] not in windows:
                windows[o["seq"]] = (time.time(), o["end_unix_ns"], o.get("hosts", 1), cli_cpu_s(proc.pid))
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = tail(errpath, 5)
    if not n_attached or proc.returncode not in (0, 6):
        raise SystemExit(f"CLI exited {proc.returncode} with {n_attached}/{len(hosts)} attached: {err[-500:]}")
    if errors:
        print(f"{len(hosts)} hosts: {len(hosts) - n_attached} failed: {errors}", flush=True)
    # complete windows: every answering host in them (the first ones may lack hosts still attaching)
    full = [windows[s] for s in sorted(windows) if windows[s][2] == n_attached]
    lags = [arr - end / 1e9 for arr, end, _, _ in full]
    on_time = sum(1 for lag in lags if lag < 0.5)
    cpu = None
    if len(full) >= 2 and full[0][3] is not None and full[-1][3] is not None:
        cpu = (full[-1][3] - full[0][3]) / (len(full) - 1)
    return {"attached": attached or float("nan"), "attach_cpu": attach_cpu, "failed": len(hosts) - n_attached, "first": first_merged, "windows": len(windows), "full": len(full),
            "on_time": on_time, "max_lag": max(lags) if lags else float("nan"), "cpu_window": cpu,
            "cpu_total": ru.ru_utime + ru.ru_stime, "rss_kb": ru.ru_maxrss, "late_host_windows": late_host_windows,
            "t0": w0}


def main_virtual(a, env):
    gen = os.path.join(a.build, "bench", "bench-fanout-agents")
    sizes = [int(x) for x in a.virtual.split(",")]
    trace = record(env, a.probe, a.record_seconds)
    print(f"recorded {a.probe} for {a.record_seconds}s on the real agent: {os.path.getsize(trace)} bytes", flush=True)
    results = {}
    for n in [1] + sizes:
        procs, hosts = start_generators(env, gen, trace, n, a.port_base, a.per_generator, a.jitter_ms)
        load = os.getloadavg()[0]
        try:
            results[n] = run_virtual(env, hosts, a.probe, a.seconds, a.soft_nofile)
        finally:
            for k, proc in enumerate(procs):
                stop(proc, f"generator{k}")
        r = results[n]
        r["load"] = load
        print(f"{n} hosts: {json.dumps({k: v for k, v in r.items() if k != 't0'})}", flush=True)
    base = results[1]
    print(f"\nprobe {a.probe}, interval 1 s, duration {a.seconds} s, {os.cpu_count()} CPUs shared with the generators")
    print(f"{'hosts':>6} {'failed':>6} {'all attached':>13} {'CLI CPU by then':>16} {'1st merged':>11} {'complete windows on time':>25} {'max lag':>8} "
          f"{'CPU/window':>11} {'CPU/window/host':>16} {'peak RSS':>10} {'RSS/host':>9} {'load':>5}")
    for n, r in results.items():
        per_host_rss = (r["rss_kb"] - base["rss_kb"]) / (n - 1) if n > 1 else float("nan")
        cpu_w = r["cpu_window"]
        print(f"{n:>6} {r['failed']:>6} {r['attached']:>12.3f}s {r['attach_cpu'] or 0:>15.2f}s {r['first']:>10.3f}s {r['on_time']:>10}/{r['full']} of {r['windows']:<10}"
              f" {r['max_lag']:>7.3f}s {cpu_w * 1e3 if cpu_w is not None else float('nan'):>8.1f} ms "
              f"{cpu_w / n * 1e6 if cpu_w is not None else float('nan'):>12.1f} us {r['rss_kb'] / 1024:>7.1f} MB "
              f"{per_host_rss:>6.1f} KB {r['load']:>5.2f}")
    big = max(results)
    r = results[big]
    print(f"ratio {big}/1: attached x{r['attached'] / base['attached']:.1f}, first merged x{r['first'] / base['first']:.2f}, "
          f"RSS x{r['rss_kb'] / base['rss_kb']:.1f}")
    # the measured curve, extrapolated linearly from the two largest runs
    if len(sizes) >= 2:
        n1, n2 = sorted(results)[-2:]
        for key, label, scale, unit in (("attached", "all attached", 1, "s"),
                                        ("attach_cpu", "CLI CPU to attach all", 1, "s"),
                                        ("rss_kb", "peak RSS", 1 / 1024, "MB"),
                                        ("cpu_window", "CPU per window", 1e3, "ms")):
            v1, v2 = results[n1][key], results[n2][key]
            if v1 is None or v2 is None:
                continue
            slope = (v2 - v1) / (n2 - n1)
            print(f"extrapolated to 10000 hosts from {n1} and {n2}: {label} {(v2 + slope * (10000 - n2)) * scale:.1f} {unit}")
    print(f"(load = 1-min load average before the run; CLI soft open-file limit {a.soft_nofile}, hard "
          f"{resource.getrlimit(resource.RLIMIT_NOFILE)[1]}; on time = printed within 0.5 s of the window's end)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--agents", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--probe", default="tcp-latency", help="probe (and its options) every agent attaches (default tcp-latency; "
                    "e.g. 'tp-count --target sched:sched_process_exec', whose load needs no kernel BTF)")
    ap.add_argument("--virtual", help="fleet sizes served by bench-fanout-agents, e.g. 64,256,1000 (see above)")
    ap.add_argument("--seconds", type=int, default=6, help="--virtual: --duration of each attach")
    ap.add_argument("--record-seconds", type=int, default=8, help="--virtual: length of the recording replayed")
    ap.add_argument("--per-generator", type=int, default=1000, help="--virtual: virtual agents per generator process")
    ap.add_argument("--port-base", type=int, default=21000, help="--virtual: first loopback port")
    ap.add_argument("--jitter-ms", type=int, default=50, help="--virtual: each window sent up to this late")
    ap.add_argument("--soft-nofile", type=int, default=1024, help="--virtual: the CLI's soft open-file limit at start")
    a = ap.parse_args()
    if a.virtual and a.probe == "tcp-latency":
        a.probe = "runq-latency"
    if os.geteuid() != 0:
        raise SystemExit("run as root (the agents load BPF programs)")
    args = argparse.Namespace(agent=os.path.join(a.build, "agent", "tracectl-agent"),
                              cli=os.path.join(a.build, "cli", "tracectl"),
                              pki=os.path.join(root, "deploy", "dev-pki.sh"), tools=None, test=None)
    with Env(args) as env:
        if a.virtual:
            main_virtual(a, env)
            env.stop_agent_checked()
            return
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
