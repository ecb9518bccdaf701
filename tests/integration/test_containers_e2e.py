#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Workloads, not PIDs: container, pod and service identity and the cgroup filters in the kernel.

Every test builds, under the cgroup2 mount and inside one directory of its own, cgroup
hierarchies shaped like the runtimes lay them out: a kubelet pod slice with the systemd
driver holding two containerd containers A and B (cri-containerd-ID.scope), a pod with
the cgroupfs driver (kubepods/burstable/podUID/ID), a docker-ID.scope, an empty
container E, and a system.slice/NAME.service. tcp_workload clients moved into them make
known numbers of sends: A 101, B 37, the cgroupfs pod's container C 23, Docker D 11,
the service 7, E none; and 13 more from a client moved into A/sub, a cgroup created after
the probe was loaded (a new child of a filtered cgroup is in the filter, and named after
its container).

by_container: tcp-send --by container counts A 114 (101 + 13), B 37, C 23, D 11 and no E.
by_pod: --by pod counts the systemd pod 151 and the cgroupfs pod 23.
by_service: --by service counts the service 7.
pod_filter: --pod UID --by container has the rows A 114 and B 37 and nothing else.
container_filter: --container PREFIX (16 hex digits of A) has only A's two clients' pids.
service_filter: --service NAME (without .service) has only the service's client.
refused: a prefix two containers share, an unknown container, pod and service are each
refused with the value named, before anything is loaded.
syscalls: syscalls --pod UID --by container: getppid exactly 1001 in A and 307 in B, none
of the 503 in C (another pod), and no row outside the pod.
exec: exec --container A has the 5 execs of a shell in A and none of a shell outside.
cpu_top: cpu-top --pod UID --by container: only A's row (B idle), at least the 100 voluntary
switches of a sleeper's 100 sleeps.
filters_load: every probe that takes --container loads with it on this kernel.
tp_count: the same with tp-count on syscalls:sys_enter_getppid: hits 1001 in A, 307 in B, nothing else.
runq: runq-latency --container A --by container: one series, container=A, holding at least
the 100 wakeups of a sleeper in A (histograms keyed by workload, the filter on a task
that is not the current one).
func_latency: func-latency --by container on func_workload's work_unit: 150 calls of at least
2 ms by a workload in A, 60 of at least 6 ms in B: exactly the series container=A with count
150 and container=B with 60, each p50 at least its sleep and at most the workload's own
median of the calls, widened by the histogram's relative error (the allowance: each call's own
time contains the probe's interval, late timers included, so that median bounds the probe's).
tcp_connect_pod: tcp-connect --port P --by pod on connects to the test's loopback listener on
port P: 17 from A and 9 from B (pod 1: 26), 13 from C (pod 2), 5 from outside any pod ("-"):
exactly those three series and counts; each series' sum at most the clients' own connect() times.
tcp_latency: tcp-latency --port P --by container on latency_server (in A, answering after 5 ms)
and two latency_clients, 40 requests from B then 25 from C: exactly the series "role=server
container=A" with 65 samples and "role=client container=B" / "container=C" with 40 and 25, each
p50 at least the 5 ms delay less the histogram's relative error.
kfunc_latency: kfunc-latency --target hrtimer_nanosleep --pod UID --by container while
syscall_loop sleeps 12 times 5 ms in A, then 7 times in B (and 9 times in C, another pod): exactly
container=A with 12 and container=B with 7, each p50 at least 5 ms less the histogram's error.
Skips where the kernel has no kprobes (the build machine), runs in the kernel matrix.
"""
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid

from harness import Attach, Env, LineReader, check, log, run_tests, summaries

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "probes"))
from net_workload import Client, start_server  # noqa: E402 (the probe tests' TCP workload)

SKIP = 77
SIZE = 100
SHORT = 12  # container ids in text output: docker's short form (JSON has all 64 digits)


def cgroup2_root():
    """The cgroup2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    return None


def container_id(prefix=""):
    """A 64-hex id starting with a letter (all digits would read as a number in JSON rows)."""
    rest = secrets.token_hex(32)
    return (prefix + "a" + rest)[:64]


class Layout:
    """The runtimes' cgroup layouts below one test directory; removed by remove()."""

    def __init__(self):
        root = cgroup2_root()
        if root is None:
            print("SKIP: cgroup v2 is not mounted", flush=True)
            sys.exit(SKIP)
        self.top = os.path.join(root, f"tracectl-containers-{os.getpid()}")
        try:
            os.mkdir(self.top)
        except OSError as e:
            print(f"SKIP: cannot create a cgroup under the cgroup2 mount {root}: {e}", flush=True)
            sys.exit(SKIP)
        self.made = [self.top]
        shared = secrets.token_hex(3)  # A and B share a prefix: it is ambiguous
        self.a, self.b = container_id(shared), container_id(shared)
        self.c, self.d, self.e = container_id(), container_id(), container_id()
        self.shared = shared
        self.pod = str(uuid.uuid4())
        self.pod2 = str(uuid.uuid4())
        self.service = f"tracectl-fake-{os.getpid()}"
        try:
            self.build()
        except BaseException:
            self.remove()
            raise

    def build(self):
        slice_ = self.mk("kubepods.slice", "kubepods-besteffort.slice",
                         f"kubepods-besteffort-pod{self.pod.replace('-', '_')}.slice")
        self.cg_a = self.mk(slice_, f"cri-containerd-{self.a}.scope")
        self.cg_b = self.mk(slice_, f"cri-containerd-{self.b}.scope")
        self.cg_e = self.mk(slice_, f"cri-containerd-{self.e}.scope")
        self.cg_c = self.mk("kubepods", "burstable", f"pod{self.pod2}", self.c)
        self.cg_d = self.mk("system.slice", f"docker-{self.d}.scope")
        self.cg_svc = self.mk("system.slice", f"{self.service}.service")

    def mk(self, *parts):
        path = self.top
        for p in parts:
            path = os.path.join(path, p)
            if not os.path.isdir(path):
                os.mkdir(path)
                self.made.append(path)
        return path

    def move(self, pid, cgroup):
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def remove(self):
        """Tasks still inside go back to the root; then every directory, deepest first."""
        root = cgroup2_root()
        for d in reversed(self.made):
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        try:
                            self.move(pid, root)
                        except OSError:
                            pass  # exited meanwhile
            except OSError:
                pass
            for _ in range(50):  # a reaped task may take a moment to leave
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                log(f"could not remove {d}")


def with_layout(test):
    """Runs test(args, layout, env) with the layout removed on every path."""
    def run(args):
        layout = Layout()
        try:
            with Env(args) as env:
                try:
                    test(args, layout, env)
                    env.stop_agent_checked()
                except Exception:
                    env.failed = True
                    raise
        finally:
            layout.remove()
    return run


def send_workloads(env, layout, attach):
    """While attach runs: the clients in their cgroups, one started in A/sub made just now.
    Returns {cgroup: [pid, ...]} and ends the session once all are done."""
    port = start_server(env)
    plan = [(layout.cg_a, 101), (layout.cg_b, 37), (layout.cg_c, 23), (layout.cg_d, 11), (layout.cg_svc, 7)]
    clients, pids = [], {}
    for cgroup, n in plan:
        c = Client(env, "send", port, "--count", str(n), "--size", str(SIZE))
        layout.move(c.pid, cgroup)
        clients.append(c)
        pids.setdefault(cgroup, []).append(c.pid)
    # a cgroup that did not exist when the probe was loaded
    sub = layout.mk(layout.cg_a, "sub")
    c = Client(env, "send", port, "--count", "13", "--size", str(SIZE))
    layout.move(c.pid, sub)
    clients.append(c)
    pids[layout.cg_a].append(c.pid)
    for c in clients:
        c.go()
    for c in clients:
        c.wait_done()
    time.sleep(1.5)  # one more window, then Ctrl-C: the summary holds every send
    attach.end()
    return pids


def rows_of(attach, label):
    summ = summaries(attach.result())
    check(len(summ) == 1, f"{label}: want one summary, got {len(summ)}")
    rows = summ[0]["rows"]
    log(f"MEASURED {label}: {rows}")
    return rows


def keyed(rows, key):
    """{key value: sends}, each key once."""
    out = {}
    for r in rows:
        check(str(r[key]) not in out, f"{key} {r[key]} in two rows: {rows}")
        out[str(r[key])] = r["sends"]
    return out


@with_layout
def test_by_container(args, layout, env):
    with Attach(env, "tcp-send", ["--by", "container", "--top", "100000"], duration="60s") as a:
        send_workloads(env, layout, a)
    got = keyed(rows_of(a, "--by container"), "container")
    want = {layout.a: 114, layout.b: 37, layout.c: 23, layout.d: 11}
    for k, v in want.items():
        check(got.get(k) == v, f"container {k}: {got.get(k)} sends, want {v}; rows {got}")
    check(layout.e not in got, f"the empty container E has a row: {got}")
    # text: the same row with the short id, and not the whole one
    argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                        f"127.0.0.1:{env.port}", "tcp-send", "--by", "container", "--container", layout.b[:20],
                        "--duration", "60s")
    cli = env.spawn("cli-text", argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    time.sleep(2)  # attached (a send before would only be missing, which the check below sees)
    port = start_server(env)
    c = Client(env, "send", port, "--count", "37", "--size", str(SIZE))
    layout.move(c.pid, layout.cg_b)
    c.go()
    c.wait_done()
    time.sleep(1.5)
    cli.send_signal(signal.SIGINT)
    text = cli.communicate(timeout=30)[0].decode()
    summary = text[text.rfind("=== Summary"):]
    log(f"MEASURED text summary: {summary.strip()!r}")
    check(re.search(rf"^  {layout.b[:SHORT]} +37 ", summary, re.M) and layout.b not in text,
          f"text summary without the row '{layout.b[:SHORT]} 37': {summary!r}")


@with_layout
def test_by_pod(args, layout, env):
    with Attach(env, "tcp-send", ["--by", "pod", "--top", "100000"], duration="60s") as a:
        send_workloads(env, layout, a)
    got = keyed(rows_of(a, "--by pod"), "pod")
    check(got.get(layout.pod) == 151, f"systemd-driver pod {layout.pod}: {got.get(layout.pod)}, want 151; {got}")
    check(got.get(layout.pod2) == 23, f"cgroupfs-driver pod {layout.pod2}: {got.get(layout.pod2)}, want 23; {got}")


@with_layout
def test_by_service(args, layout, env):
    with Attach(env, "tcp-send", ["--by", "service", "--top", "100000"], duration="60s") as a:
        send_workloads(env, layout, a)
    got = keyed(rows_of(a, "--by service"), "service")
    name = layout.service + ".service"
    check(got.get(name) == 7, f"service {name}: {got.get(name)} sends, want 7; rows {got}")


@with_layout
def test_pod_filter(args, layout, env):
    with Attach(env, "tcp-send", ["--pod", layout.pod, "--by", "container"], duration="60s") as a:
        send_workloads(env, layout, a)
    got = keyed(rows_of(a, f"--pod {layout.pod} --by container"), "container")
    want = {layout.a: 114, layout.b: 37}
    check(got == want, f"--pod rows {got}, want {want}")


@with_layout
def test_container_filter(args, layout, env):
    prefix = layout.a[:16]
    with Attach(env, "tcp-send", ["--container", prefix], duration="60s") as a:
        pids = send_workloads(env, layout, a)
    rows = rows_of(a, f"--container {prefix}")
    got = {int(r["pid"]): r["sends"] for r in rows}
    want = dict(zip(pids[layout.cg_a], (101, 13)))
    check(got == want, f"--container {prefix}: rows {got}, want {want} (A's client, A/sub's client)")


@with_layout
def test_service_filter(args, layout, env):
    with Attach(env, "tcp-send", ["--service", layout.service], duration="60s") as a:
        pids = send_workloads(env, layout, a)
    rows = rows_of(a, f"--service {layout.service}")
    got = {int(r["pid"]): r["sends"] for r in rows}
    want = {pids[layout.cg_svc][0]: 7}
    check(got == want, f"--service {layout.service}: rows {got}, want {want}")


@with_layout
def test_refused(args, layout, env):
    cases = [(["--container", layout.shared], f"'{layout.shared}' is ambiguous"),
             (["--container", "f" * 64], "no such container"),
             (["--pod", str(uuid.uuid4())], "no such pod"),
             (["--service", "tracectl-no-such-unit"], "no such service"),
             (["--container", "../etc"], "is not a container")]
    for extra, want in cases:
        argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                            f"127.0.0.1:{env.port}", "tcp-send", "--duration", "2s", *extra)
        rc, _, err = env.run_cli("cli-refused", argv)
        log(f"MEASURED {' '.join(extra)}: exit {rc}: {err.strip()[-200:]!r}")
        check(rc != 0 and want in err and extra[1] in err, f"{extra}: exit {rc}, stderr {err[-300:]!r}, want {want!r}")


@with_layout
def test_runq(args, layout, env):
    with Attach(env, "runq-latency", ["--container", layout.a[:16], "--by", "container"], duration="60s") as a:
        # a shell in A that sleeps 100 times: each wakeup is one run-queue wait of a task in A
        proc = env.spawn("sleeper", ["sh", "-c", "read go; i=0; while [ $i -lt 100 ]; do sleep 0.01; "
                                     "i=$((i+1)); done"], stdin=subprocess.PIPE)
        layout.move(proc.pid, layout.cg_a)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        rc = proc.wait(timeout=60)
        check(rc == 0, f"sleeper exited {rc}")
        time.sleep(1.5)
        a.end()
    summ = {o.get("series"): o for o in summaries(a.result())}
    want = f"container={layout.a}"
    log(f"MEASURED runq-latency --container --by container: " +
        ", ".join(f"{k}: count={o.get('count')}" for k, o in summ.items()))
    check(list(summ) == [want], f"series {list(summ)}, want only {want}")
    check(summ[want].get("count", 0) >= 100, f"{want}: {summ[want].get('count')} waits, want at least 100")

@with_layout
def test_func_latency(args, layout, env):
    binary = os.path.join(args.tools, "func_workload")
    plan = [(layout.a, layout.cg_a, 150, 2000), (layout.b, layout.cg_b, 60, 6000)]
    with Attach(env, "func-latency", ["--target", f"{binary}:work_unit", "--by", "container"],
                duration="60s") as a:
        runs = []
        for cid, cgroup, calls, sleep_us in plan:
            proc = env.spawn("func_workload", [binary, "--wait-go", "--calls", str(calls), "--sleep-us", str(sleep_us),
                                               "--timeout-seconds", "60"], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
            out = LineReader(proc.stdout, "func_workload")
            line = out.readline(10)
            check(line is not None and line.startswith("ready "), f"func_workload said {line!r}")
            layout.move(int(line.split()[1]), cgroup)
            runs.append((proc, out))
        for proc, _ in runs:
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        medians = {}
        for (cid, _, calls, _), (proc, out) in zip(plan, runs):
            line = out.readline(60)
            check(proc.wait(timeout=10) == 0 and line is not None and line.startswith(f"done {calls} "),
                  f"func_workload in {cid[:SHORT]}: {line!r}")
            medians[cid] = int(line.split()[2])
        a.end()  # every call returned before its workload said done
    summ = {o.get("series"): o for o in summaries(a.result())}
    log("MEASURED func-latency --by container: " + ", ".join(
        f"{k}: count={o.get('count')} p50={o.get('p50_ns', 0) / 1e6:.3f}ms" for k, o in summ.items()) +
        "; workloads' own medians " + ", ".join(f"{c[:SHORT]}={m / 1e6:.3f}ms" for c, m in medians.items()))
    want = {f"container={cid}": (cid, calls, sleep_us) for cid, _, calls, sleep_us in plan}
    check(sorted(summ) == sorted(want), f"series {sorted(summ)}, want {sorted(want)}")
    for series, (cid, calls, sleep_us) in want.items():
        s = summ[series]
        rel = s["relative_error"]
        lo, hi = sleep_us * 1000 * (1 - rel), medians[cid] * (1 + rel)
        check(s["count"] == calls, f"{series}: count {s['count']}, want {calls}")
        check(lo <= s["p50_ns"] <= hi, f"{series}: p50 {s['p50_ns']} ns outside [{lo:.0f}, {hi:.0f}] "
              f"(its sleep, the workload's own median; relative error {rel})")


@with_layout
def test_tcp_connect_pod(args, layout, env):
    port = start_server(env)
    plan = [(layout.cg_a, 17), (layout.cg_b, 9), (layout.cg_c, 13), (None, 5)]
    with Attach(env, "tcp-connect", ["--port", str(port), "--by", "pod"], duration="60s") as a:
        clients = []
        for cgroup, n in plan:
            c = Client(env, "connect", port, "--count", str(n))
            if cgroup:
                layout.move(c.pid, cgroup)
            clients.append(c)
        for c in clients:
            c.go()
        # "done N connects connect_ns/rtt_us C0/R0,...": each connect()'s own time
        own = [sum(int(p.split("/")[0]) for p in c.wait_done().split()[4].split(",")) for c in clients]
        a.end()  # each socket was established before its connect() returned
    summ = {o.get("series"): o for o in summaries(a.result())}
    log("MEASURED tcp-connect --by pod: " + ", ".join(
        f"{k}: count={o.get('count')} sum={o.get('sum_ns', 0) / 1e3:.1f}us" for k, o in summ.items()))
    want = {f"pod={layout.pod}": (26, own[0] + own[1]), f"pod={layout.pod2}": (13, own[2]), "pod=-": (5, own[3])}
    check(sorted(summ) == sorted(want), f"series {sorted(summ)}, want {sorted(want)}")
    for series, (count, own_sum) in want.items():
        check(summ[series]["count"] == count, f"{series}: {summ[series]['count']} connects, want {count}")
        check(0 < summ[series]["sum_ns"] <= own_sum,
              f"{series}: sum {summ[series]['sum_ns']} ns, want within the clients' own connect() times {own_sum} ns")


@with_layout
def test_tcp_latency(args, layout, env):
    tools, delay_ms = args.tools, 5
    server = env.spawn("latency_server", [os.path.join(tools, "latency_server"), "--listen", "127.0.0.1:0",
                                          "--delay-ms", str(delay_ms), "--max-seconds", "60"],
                       stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    line = LineReader(server.stdout, "latency_server").readline(10)
    check(line is not None and line.startswith("listening "), f"latency_server said {line!r}")
    port = int(line.split()[1])
    layout.move(server.pid, layout.cg_a)
    plan = [(layout.b, layout.cg_b, 40), (layout.c, layout.cg_c, 25)]
    with Attach(env, "tcp-latency", ["--port", str(port), "--by", "container"], duration="60s") as a:
        # one at a time: the server answers one connection at a time
        for _, cgroup, n in plan:
            proc = env.spawn("latency_client", [os.path.join(tools, "latency_client"), "--connect",
                                                f"127.0.0.1:{port}", "--wait-go", "--requests", str(n),
                                                "--timeout-seconds", "60"], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
            out = LineReader(proc.stdout, "latency_client")
            line = out.readline(10)
            check(line is not None and line.startswith("ready "), f"latency_client said {line!r}")
            layout.move(int(line.split()[1]), cgroup)
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            line = out.readline(30)
            check(proc.wait(timeout=10) == 0 and line is not None and line.startswith("done"),
                  f"latency_client: {line!r}")
        a.end()  # each request's response was read before its client said done
    summ = {o.get("series"): o for o in summaries(a.result())}
    log("MEASURED tcp-latency --by container: " + ", ".join(
        f"{k}: count={o.get('count')} p50={o.get('p50_ns', 0) / 1e6:.3f}ms" for k, o in summ.items()))
    want = {f"role=server container={layout.a}": 65}
    want.update({f"role=client container={cid}": n for cid, _, n in plan})
    check(sorted(summ) == sorted(want), f"series {sorted(summ)}, want {sorted(want)}")
    for series, count in want.items():
        s = summ[series]
        lo = delay_ms * 1e6 * (1 - s["relative_error"])
        check(s["count"] == count, f"{series}: count {s['count']}, want {count}")
        check(s["p50_ns"] >= lo, f"{series}: p50 {s['p50_ns']} ns, want at least {lo:.0f} (the server's delay)")


def syscall_loop(env, args, layout, cgroup, count, *extra):
    """syscall_loop in cgroup: exactly count getppid calls (and extra's sleeps) once it is told to go."""
    # In the sanitizer build LeakSanitizer's exit check runs in a task of its own (not of the
    # workload's pid, but of its cgroup) that calls getppid: not part of the ground truth.
    wl_env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    proc = env.spawn("syscall_loop", [os.path.join(args.tools, "syscall_loop"), "--wait-go", "--count", str(count),
                                                            *extra],
                     stdout=subprocess.PIPE, stdin=subprocess.PIPE, env=wl_env)
    out = LineReader(proc.stdout, "syscall_loop")
    line = out.readline(10)
    check(line is not None and line.startswith("ready "), f"syscall_loop said {line!r}")
    layout.move(int(line.split()[1]), cgroup)
    return proc, out


@with_layout
def test_kfunc_latency(args, layout, env):
    sleep_ns, plan = 5_000_000, [(layout.a, layout.cg_a, 12), (layout.b, layout.cg_b, 7), (None, layout.cg_c, 9)]
    with Attach(env, "kfunc-latency", ["--target", "hrtimer_nanosleep", "--pod", layout.pod, "--by", "container"],
                duration="60s", skip_unsupported_anywhere=True) as a:
        # One loop at a time: a kretprobe (5.10, 6.1: no kprobe.multi) holds at most as many calls
        # in flight as there are CPUs on a non-preemptible kernel; a return beyond that is missed.
        for _, cgroup, n in plan:
            proc, out = syscall_loop(env, args, layout, cgroup, 1, "--sleeps", str(n), "--sleep-us", str(sleep_ns // 1000))
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            line = out.readline(30)
            check(line is not None and line.startswith("done") and proc.wait(timeout=10) == 0,
                  f"syscall_loop: {line!r}")
        a.end()  # every sleep returned before its loop said done
    summ = {o.get("series"): o for o in summaries(a.result())}
    log("MEASURED kfunc-latency --pod --by container: " + ", ".join(
        f"{k}: count={o.get('count')} p50={o.get('p50_ns', 0) / 1e6:.3f}ms" for k, o in summ.items()))
    want = {f"container={cid}": n for cid, _, n in plan if cid}
    check(sorted(summ) == sorted(want), f"series {sorted(summ)}, want {sorted(want)}")
    for series, n in want.items():
        s = summ[series]
        lo = sleep_ns * (1 - s["relative_error"])
        check(s["count"] == n, f"{series}: count {s['count']}, want {n}")
        check(s["p50_ns"] >= lo, f"{series}: p50 {s['p50_ns']} ns, want at least {lo:.0f} (the sleep)")


def run_syscall_loops(env, args, layout, probe, extra):
    """probe with extra while syscall_loop calls getppid 1001 times in A, 307 in B, 503 in C;
    returns the summary's rows."""
    with Attach(env, probe, extra, duration="60s") as a:
        loops = [syscall_loop(env, args, layout, layout.cg_a, 1001), syscall_loop(env, args, layout, layout.cg_b, 307),
                 syscall_loop(env, args, layout, layout.cg_c, 503)]
        for proc, _ in loops:
            proc.stdin.write(b"go\n")
        for proc, out in loops:
            line = out.readline(30)
            check(line is not None and line.startswith("done"), f"syscall_loop: {line!r}")
            check(proc.wait(timeout=10) == 0, "syscall_loop failed")
        time.sleep(1.5)
        a.end()
    summ = summaries(a.result())
    check(len(summ) == 1, f"want one summary, got {len(summ)}")
    return summ[0]["rows"]


@with_layout
def test_syscalls(args, layout, env):
    rows = run_syscall_loops(env, args, layout, "syscalls",
                             ["--pod", layout.pod, "--by", "container", "--top", "100000"])
    got = {str(r["container"]): r["count"] for r in rows if r["syscall"] == "getppid"}
    log(f"MEASURED syscalls --pod --by container: getppid {got}; containers "
        f"{sorted({str(r['container']) for r in rows})}")
    want = {layout.a: 1001, layout.b: 307}
    check(got == want, f"getppid by container {got}, want {want}")
    check({str(r["container"]) for r in rows} <= set(want), f"rows outside the pod: {rows}")


@with_layout
def test_tp_count(args, layout, env):
    rows = run_syscall_loops(env, args, layout, "tp-count",
                             ["--target", "syscalls:sys_enter_getppid", "--pod", layout.pod, "--by", "container"])
    got = {str(r["container"]): r["hits"] for r in rows if r["tracepoint"] == "syscalls:sys_enter_getppid"}
    log(f"MEASURED tp-count --pod --by container: {rows}")
    want = {layout.a: 1001, layout.b: 307}
    check(got == want and len(rows) == 2, f"sys_enter_getppid by container {rows}, want {want}")


@with_layout
def test_exec(args, layout, env):
    """exec --container A: the 5 execs of a shell in A, none of the 3 of the same shell outside."""
    script = "read go; for i in 1 2 3 4 5; do /bin/true; done"
    with Attach(env, "exec", ["--container", layout.a[:16]], duration="60s") as a:
        inside = env.spawn("sh_in_a", ["sh", "-c", script], stdin=subprocess.PIPE)
        outside = env.spawn("sh_outside", ["sh", "-c", "read go; for i in 1 2 3; do /bin/true; done"],
                            stdin=subprocess.PIPE)
        layout.move(inside.pid, layout.cg_a)
        for p in (inside, outside):
            p.stdin.write(b"go\n")
        for p in (inside, outside):
            check(p.wait(timeout=30) == 0, "the shell failed")
        time.sleep(1.5)
        a.end()
    evs = [o for o in a.result() if o.get("type") == "event"]
    log(f"MEASURED exec --container: {len(evs)} events: {[(e.get('ppid'), e.get('filename')) for e in evs]}")
    check(len(evs) == 5 and all(e.get("filename") == "/bin/true" and e.get("ppid") == inside.pid for e in evs),
          f"want the 5 execs of /bin/true by {inside.pid} in A, got {evs}")


@with_layout
def test_cpu_top(args, layout, env):
    """cpu-top --pod UID --by container: rows A and B only; A's 100 sleeps are 100+ voluntary switches."""
    with Attach(env, "cpu-top", ["--pod", layout.pod, "--by", "container"], duration="60s") as a:
        proc = env.spawn("sleeper", ["sh", "-c", "read go; i=0; while [ $i -lt 100 ]; do sleep 0.01; "
                                     "i=$((i+1)); done"], stdin=subprocess.PIPE)
        layout.move(proc.pid, layout.cg_a)
        proc.stdin.write(b"go\n")
        check(proc.wait(timeout=60) == 0, "the sleeper failed")
        time.sleep(1.5)
        a.end()
    rows = summaries(a.result())[0]["rows"]
    log(f"MEASURED cpu-top --pod --by container: {rows}")
    got = {str(r["container"]): r for r in rows}
    check(list(got) == [layout.a], f"rows {list(got)}, want only A {layout.a}")
    row = got[layout.a]
    check(row["voluntary"] >= 100 and row["on_cpu_ns"] > 0, f"A: {row}, want 100+ voluntary switches")


# A target each probe that needs one can load with (kernel-function probes: skipped where
# this kernel cannot attach them at all).
TARGETS = {"tp-count": "syscalls:sys_enter_getppid"}


@with_layout
def test_filters_load(args, layout, env):
    """Every probe that takes --container loads with it (the verifier accepts the filter)."""
    rc, out, err = env.run_cli("probes", env.cli_argv(env.path("ca.pem"), env.path("client.pem"),
                                                       env.path("client.key"), "probes",
                                                       f"127.0.0.1:{env.port}", "--output", "json"))
    check(rc == 0, f"probes exited {rc}: {err[-300:]!r}")
    probes = [json.loads(line) for line in out.splitlines() if line.strip()]
    loaded, skipped = [], []
    for p in probes:
        names = p.get("params", [])
        if "container" not in names or not p.get("supported"):
            continue
        extra = ["--container", layout.a[:16]]
        if "target" in names:
            if p["probe"] not in TARGETS:
                target = os.path.join(args.tools, "tcp_workload") + ":main"
                if not p["probe"].startswith("func-"):
                    skipped.append(p["probe"])
                    continue
            else:
                target = TARGETS[p["probe"]]
            extra += ["--target", target]
        argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                            f"127.0.0.1:{env.port}", p["probe"], "--duration", "1s", "--output", "json", *extra)
        rc, out, err = env.run_cli(f"cli-{p['probe']}", argv)
        check(rc == 0, f"{p['probe']} --container: exit {rc}: {err[-400:]!r}")
        loaded.append(p["probe"])
    log(f"MEASURED loaded with --container: {loaded}; not tried (no target here): {skipped}")
    check(len(loaded) >= 10, f"only {loaded} take --container")


if __name__ == "__main__":
    sys.exit(run_tests({"by_container": test_by_container, "by_pod": test_by_pod, "by_service": test_by_service,
                        "pod_filter": test_pod_filter, "container_filter": test_container_filter,
                        "service_filter": test_service_filter, "refused": test_refused, "runq": test_runq,
                        "syscalls": test_syscalls, "tp_count": test_tp_count, "exec": test_exec,
                        "cpu_top": test_cpu_top, "filters_load": test_filters_load,
                        "func_latency": test_func_latency, "tcp_connect_pod": test_tcp_connect_pod,
                        "tcp_latency": test_tcp_latency, "kfunc_latency": test_kfunc_latency},
                       __doc__))
