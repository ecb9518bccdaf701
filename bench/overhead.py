#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Overhead benchmark: workload throughput traced by tracectl, bpftrace and libbpf-tools vs untraced, interleaved rounds.
"""
Usage (as root, after building): bench/overhead.py [--build DIR] [--rounds 5] [--duration 3]
                                                   [--workloads tcp,exec,pipe,getpid] [--markdown FILE]
                                                   [--only LABEL,...]

For each workload (bench/bench-*), every round runs the workload once untraced and once
under each tracer, in that order (none, tracectl..., bpftrace..., libbpf-tools..., then
the next round), so slow drifts of a shared machine hit every variant alike. A tracer is
started, the workload starts once it reports that it is attached, and the tracer is
stopped (SIGINT) after the workload ends. ratio = traced / untraced throughput of the
same round; the table gives the median ratio over the rounds and its min..max.
Because throughput on a shared machine moves with the neighbours, every run also
records the workload's own CPU time (user + system, from its rusage) per operation:
efficiency = untraced CPU ns/op / traced CPU ns/op of the same round. BPF programs run
in the task that hits the hook, so this figure carries the kernel-side cost of
tracing and much less of the neighbours' noise.

tracectl: one agent on loopback (dev PKI in a temp dir) and the CLI as user nobody
(`tracectl attach 127.0.0.1:PORT PROBE --output json`); bpftrace: the one-liner shown;
libbpf-tools: Debian's binaries (/usr/sbin/NAME), where installed. No tracer filters
by pid: every tracer sees the whole system, as the peers do by default.
"""
import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import Env  # noqa: E402

BPFTRACE = {
    "send-count": 'tracepoint:sock:sock_send_length /args->protocol == 6/ { @[comm] = count(); }',
    "srtt-hist": 'tracepoint:tcp:tcp_probe { @us = hist(args->srtt >> 3); }',
    "execsnoop": 'tracepoint:syscalls:sys_enter_execve { printf("%d %s ", pid, comm); join(args->argv); }',
    "runqlat": ('tracepoint:sched:sched_wakeup,tracepoint:sched:sched_wakeup_new { @qtime[args->pid] = nsecs; } '
                'tracepoint:sched:sched_switch { if ((args->prev_state & 0xff) == 0) { @qtime[args->prev_pid] = nsecs; } '
                '$ns = @qtime[args->next_pid]; if ($ns) { @usecs = hist((nsecs - $ns) / 1000); } '
                'delete(@qtime[args->next_pid]); }'),
    "syscount": 'tracepoint:raw_syscalls:sys_enter { @[args->id] = count(); }',
}

# workload: (binary, extra args, [(variant label, kind, spec)])
WORKLOADS = {
    "tcp": ("bench-tcp-rr", ["4"], [
        ("tracectl tcp-send", "tracectl", ["tcp-send"]),
        ("tracectl tcp-rtt", "tracectl", ["tcp-rtt"]),
        ("tracectl tcp-life", "tracectl", ["tcp-life"]),
        ("tracectl tcp-life measure=io", "tracectl", ["tcp-life", "--param", "measure=io"]),
        ("bpftrace send count", "bpftrace", "send-count"),
        ("bpftrace srtt hist", "bpftrace", "srtt-hist"),
        ("libbpf-tools tcplife", "tool", ["tcplife"]),
    ]),
    "exec": ("bench-fork-exec", [], [
        ("tracectl exec", "tracectl", ["exec"]),
        ("bpftrace execsnoop", "bpftrace", "execsnoop"),
        ("libbpf-tools execsnoop", "tool", ["execsnoop"]),
    ]),
    "pipe": ("bench-pipe-pingpong", ["0"], [
        ("tracectl runq-latency", "tracectl", ["runq-latency"]),
        ("bpftrace runqlat", "bpftrace", "runqlat"),
        ("libbpf-tools runqlat", "tool", ["runqlat"]),
    ]),
    "getpid": ("bench-getpid-loop", [], [
        ("tracectl syscalls (count + latency)", "tracectl", ["syscalls"]),
        ("tracectl syscalls measure=count", "tracectl", ["syscalls", "--param", "measure=count"]),
        ("bpftrace syscount", "bpftrace", "syscount"),
        ("libbpf-tools syscount", "tool", ["syscount"]),
        ("libbpf-tools syscount -L (latency)", "tool", ["syscount", "-L"]),
    ]),
}


class Tracer:
    """A tracer process whose stdout is drained by a thread; ready once a line matches."""

    def __init__(self, argv, ready, timeout=30.0):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.ready = threading.Event()
        self.lines = 0
        self.first = []
        threading.Thread(target=self._drain, args=(ready,), daemon=True).start()
        self.err = b""
        threading.Thread(target=self._drain_err, daemon=True).start()
        if not self.ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"{argv[0]}... not ready after {timeout}s: {self.first} {self.err[-500:]!r}")

    def _drain(self, ready):
        for line in self.proc.stdout:
            self.lines += 1
            if len(self.first) < 3:
                self.first.append(line[:200])
            if ready in line:
                self.ready.set()
        self.ready.set()

    def _drain_err(self):
        self.err = self.proc.stderr.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.returncode not in (0, -signal.SIGINT, 130):
            print(f"  warning: {self.argv[0]} exited {self.proc.returncode}: {self.err[-300:]!r}", flush=True)


def tracer_argv(env, kind, spec):
    """The command and its ready marker for one variant."""
    if kind == "tracectl":
        argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                            f"127.0.0.1:{env.port}", *spec, "--duration", "1h", "--output", "json")
        return argv, b'"type":"attached"'
    if kind == "bpftrace":
        return ["bpftrace", "-e", BPFTRACE[spec]], b"Attaching"
    return ["stdbuf", "-oL", shutil.which(spec[0]) or f"/usr/sbin/{spec[0]}", *spec[1:]], b""


def run_workload(build, binary, duration, extra):
    """Runs one workload; returns (ops per second, CPU ns per op of the workload's own
    processes, user + system, from their rusage). BPF programs run in the context of
    the task that hits the hook, so the second figure carries the kernel-side cost of
    tracing and little of what other tenants of a shared machine do."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([os.path.join(build, "bench", binary), str(duration), *extra], check=True,
                         stdout=subprocess.PIPE, timeout=duration + 60).stdout.decode()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    fields = dict(word.split("=", 1) for line in out.splitlines() for word in line.split() if "=" in word)
    if "ops_per_s" not in fields or "ops" not in fields:
        raise RuntimeError(f"{binary}: no ops_per_s/ops in {out!r}")
    return float(fields["ops_per_s"]), cpu_s * 1e9 / max(1.0, float(fields["ops"]))


def command_text(env, kind, spec):
    if kind == "tracectl":
        return f"tracectl attach 127.0.0.1:PORT {' '.join(spec)} --duration 1h --output json"
    if kind == "bpftrace":
        return f"bpftrace -e '{BPFTRACE[spec]}'"
    return f"/usr/sbin/{' '.join(spec)}"


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per workload run")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--markdown", help="also write the table (and commands) as Markdown here")
    ap.add_argument("--only", help="comma list: keep the variants whose label contains one of these "
                    "(e.g. 'tcp-send,send count' for more rounds of one comparison)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (the tracers load BPF programs)")
    have_bpftrace = shutil.which("bpftrace") is not None
    args = argparse.Namespace(agent=os.path.join(a.build, "agent", "tracectl-agent"),
                              cli=os.path.join(a.build, "cli", "tracectl"),
                              pki=os.path.join(root, "deploy", "dev-pki.sh"), tools=None, test=None)
    rows = []
    # the overhead budget would sample or detach the hot sessions these figures are about
    with Env(args, agent_args=["--max-overhead", "off"]) as env:
        for wname in a.workloads.split(","):
            binary, extra, variants = WORKLOADS[wname]
            variants = [v for v in variants
                        if (v[1] != "bpftrace" or have_bpftrace)
                        and (v[1] != "tool" or os.access(f"/usr/sbin/{v[2][0]}", os.X_OK))
                        and (not a.only or any(part in v[0] for part in a.only.split(",")))]
            base, traced = [], {v[0]: [] for v in variants}
            for r in range(a.rounds):
                base.append(run_workload(a.build, binary, a.duration, extra))
                print(f"[{wname} round {r + 1}/{a.rounds}] none: {base[-1][0]:,.0f} ops/s, "
                      f"{base[-1][1]:,.0f} CPU ns/op", flush=True)
                for label, kind, spec in variants:
                    argv, ready = tracer_argv(env, kind, spec)
                    t = Tracer(argv, ready)
                    try:
                        time.sleep(0.2)  # past the attach: maps created, programs live
                        ops, cpu = run_workload(a.build, binary, a.duration, extra)
                        died = t.proc.poll() is not None
                    finally:
                        t.stop()
                    if died:
                        # it traced only part of the run: the figure would flatter it
                        print(f"[{wname} round {r + 1}/{a.rounds}] {label}: tracer exited during the run, "
                              f"round left out", flush=True)
                        continue
                    traced[label].append((ops, cpu, base[-1]))
                    print(f"[{wname} round {r + 1}/{a.rounds}] {label}: {ops:,.0f} ops/s "
                          f"(ratio {ops / base[-1][0]:.3f}), {cpu:,.0f} CPU ns/op "
                          f"(efficiency {base[-1][1] / cpu:.3f})", flush=True)
            ops_base = [b[0] for b in base]
            cpu_base = [b[1] for b in base]
            rows.append((wname, "none", "", statistics.median(ops_base), None, min(ops_base), max(ops_base),
                         statistics.median(cpu_base), None))
            for label, kind, spec in variants:
                if not traced[label]:
                    continue
                ratios = [x / b[0] for x, _, b in traced[label]]
                effs = [b[1] / c for _, c, b in traced[label]]
                rows.append((wname, label, command_text(env, kind, spec),
                             statistics.median(x for x, _, _ in traced[label]),
                             statistics.median(ratios), min(ratios), max(ratios),
                             statistics.median(c for _, c, _ in traced[label]), effs))
        env.stop_agent_checked()

    print()
    hdr = (f"{'workload':8} {'variant':36} {'median ops/s':>14} {'ratio':>7} {'ratio min..max':>15} "
           f"{'CPU ns/op':>10} {'efficiency':>10} {'eff. min..max':>14}")
    print(hdr)
    print("-" * len(hdr))
    for w, label, _, med, ratio, lo, hi, cpu, effs in rows:
        if ratio is None:
            print(f"{w:8} {label:36} {med:14,.0f} {'1':>7} {'':>15} {cpu:10,.0f} {'1':>10}")
        else:
            print(f"{w:8} {label:36} {med:14,.0f} {ratio:7.3f} {lo:7.3f}..{hi:.3f} {cpu:10,.0f} "
                  f"{statistics.median(effs):10.3f} {min(effs):6.3f}..{max(effs):.3f}")
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(f"rounds {a.rounds}, {a.duration:g} s per run, `bench/overhead.py --rounds {a.rounds} "
                    f"--duration {a.duration:g}`\n\n")
            f.write("| workload | variant | median ops/s | ratio (median) | ratio min..max | CPU ns/op | "
                    "efficiency (median) | efficiency min..max | command |\n")
            f.write("|---|---|---:|---:|---|---:|---:|---|---|\n")
            for w, label, cmd, med, ratio, lo, hi, cpu, effs in rows:
                if ratio is None:
                    f.write(f"| {w} | none | {med:,.0f} | 1 | ops/s {lo:,.0f}..{hi:,.0f} | {cpu:,.0f} | 1 | | |\n")
                else:
                    f.write(f"| {w} | {label} | {med:,.0f} | {ratio:.3f} | {lo:.3f}..{hi:.3f} | {cpu:,.0f} | "
                            f"{statistics.median(effs):.3f} | {min(effs):.3f}..{max(effs):.3f} | `{cmd}` |\n")

if __name__ == "__main__":
    main()
