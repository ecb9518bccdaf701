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
cpu_top: cpu-top --pod UID --by container while cpu_burn naps 100 times in A, 37 in B and 23
in C (another pod), each moved in while blocked for "go": exactly the rows A and B, each with
the voluntary and involuntary switches the kernel itself counted for the workload while it was
in the container (/proc/PID/status; at least its naps + 1), each on-CPU time within the
workload's own CPU time (the slack of the probe's own test).
filters_load: every probe that takes --container loads with it on this kernel.
metrics: an agent exporting tcp-send --by container and runq-latency --by pod serves
tracectl_tcp_send_sends_total{container_id="A"} 114 (B 37, C 23, D 11) and a runq-latency
series labelled pod_uid="UID": the labels kube-state-metrics joins on.
events: exec and open sessions (JSON, and exec as text) while a shell in a containerd
container F of a kubelet burstable pod (systemd driver), one in the service and one in a
plain cgroup each run /bin/true 3 times and open a file of the test's 3 times, and a
tcp_workload client in each makes 2 connections (tcp-life): each workload's 3 exec, 3 open
and 2 tcp-life events carry exactly its cgroup path, container id, pod UID,
qos_class=burstable and service, the plain cgroup's none; text shows F's 12-hex id, the pod
and the service.
tp_count: the same with tp-count on syscalls:sys_enter_getppid: hits 1001 in A, 307 in B, nothing else.
runq: runq-latency --container A --by container while runq_latency_workload's waiter in A
waits 200 times 5 ms behind a SCHED_FIFO holder, then another's in B 30 times: exactly one
series, container=A, with the 200 holds and the waiter's switch-ins + 1, p50 between the
hold and the waiter's own p50 (runq_truth.py: the same check, and margins, as the probe's
own test).
func_latency: func-latency --by container on func_workload's work_unit: 150 calls of at least
2 ms by a workload in A, 60 of at least 6 ms in B: exactly the series container=A with count
150 and container=B with 60, each p50 at least its sleep and at most the workload's own
median of the calls, widened by the histogram's relative error (the allowance: each call's own
time contains the probe's interval, late timers included, so that median bounds the probe's).
tcp_connect_pod: tcp-connect --port P --by pod on connects to the test's loopback listener on
port P: 17 from A and 9 from B (pod 1: 26), 13 from C (pod 2), 5 from outside any pod ("-"):
exactly those three series and counts; each series' sum at most the clients' own connect() times.
tcp_connect_burst: tcp-connect --port P --by container while 24 clients, each in a container
made after the probe loaded (one pod), start together and make 3 to 7 connects each: exactly
those 24 series with those counts. A burst of new series at once: on a host whose per-CPU
series map does not fit preallocated (4+ CPUs) it is where samples (6.1+) or series (5.10) were
lost; the shared map (hist_cgroup_shared) holds them all. The agent's log names that map
exactly when the host has 4+ possible CPUs. Meant for a guest of 4+ vCPUs.
tcp_latency: tcp-latency --port P --by container on latency_server (in A, answering after 5 ms)
and two latency_clients, 40 requests from B then 25 from C: exactly the series "role=server
container=A" with 65 samples and "role=client container=B" / "container=C" with 40 and 25, each
p50 at least the 5 ms delay less the histogram's relative error.
kfunc_latency: kfunc-latency --target hrtimer_nanosleep --pod UID --by container while
syscall_loop sleeps 12 times 5 ms in A, then 7 times in B (and 9 times in C, another pod): exactly
container=A with 12 and container=B with 7, each p50 at least 5 ms less the histogram's error.
Skips where the kernel has no kprobes (the build machine), runs in the kernel matrix.
file_top: file-top --pod UID --by container while file_io writes 300 and reads 120 blocks of a
file in A, and 90 and 40 of a file of the same name in B: exactly the rows (A, name) and
(B, name) with those counts, and no pid or comm column.
func_count: func-count --by container on func_workload:work_unit while it calls it 300
times in A, 70 in B and 50 in C: exactly those three rows.
tcp_top: tcp-top --by container over the tcp-send workloads: the bytes sent per container,
summed over its connections, are A 11400 (114 sends of 100 bytes), B 3700, C 2300, D 1100;
no row of E, no pid or comm column.
profile: profile --pod UID --by container -o folded while spin_workload spins 3 s in A and
1 s in B: the root frames are container:A and container:B alone, and each one's samples in
spin_here are what 49 Hz gives that spinner's own CPU time (+- 25% + 4).
offcpu: offcpu --pod UID --by container -o folded while offcpu_workload blocks in wait_here
in A and a shell sleeps in B: every stack's root frame is container:A or container:B, the
stacks through wait_here are all A's and hold at least 90% of the time the workload
measured itself blocked, and B's stacks (its sleeps) have none.
"""
import concurrent.futures
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

from harness import (Attach, Env, FoldedAttach, LineReader, cgroup_workload_environ, check, free_port, log,
                     run_tests, summaries, wait_blocked_on_stdin)
import runq_truth
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "probes"))
from net_workload import Client, start_server  # noqa: E402 (the probe tests' TCP workload)


SKIP = 77
SIZE = 100
SHORT = 12  # container ids in text output: docker's short form (JSON has all 64 digits)
MS = 1_000_000
RUNQ_ROUNDS_A, RUNQ_ROUNDS_B = 200, 30  # A: the probe test's rounds, so its margins (runq_truth.py)
NAP_MS = 10
UNREAD_S, PIPE_BYTES, SILENCE_S = 35, 65536, 20  # Linux's default pipe size; the CLI's and agent's idle limit
PER_SWITCH_NS, UNACCOUNTED = 100_000, 0.02


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
        self.pod3 = str(uuid.uuid4())  # a burstable pod (systemd driver)
        self.f = container_id()
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
        self.cg_f = self.mk("kubepods.slice", "kubepods-burstable.slice",
                            f"kubepods-burstable-pod{self.pod3.replace('-', '_')}.slice",
                            f"cri-containerd-{self.f}.scope")
        self.cg_plain = self.mk("plain")  # in no container, pod or service

    def below_root(self, cgroup):
        """A cgroup's path as the agent names it: below the cgroup2 mount."""
        return cgroup[len(cgroup2_root()):]

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
    """runq_latency_workload's waiter in A waits RUNQ_ROUNDS_A holds, then another's in B
    (after it, not beside it: both pin to the same CPU) RUNQ_ROUNDS_B: one series,
    container=A, holding exactly A's waiter's waits (runq_truth.check_series)."""
    runs = {}
    with Attach(env, "runq-latency", ["--container", layout.a[:16], "--by", "container"], duration="60s") as a:
        for cid, cgroup, rounds in ((layout.a, layout.cg_a, RUNQ_ROUNDS_A), (layout.b, layout.cg_b, RUNQ_ROUNDS_B)):
            name = f"runq_latency_workload {cid[:SHORT]}"
            wl, out, waiter = runq_truth.start_workload(env, rounds, name)
            layout.move(waiter, cgroup)  # the waiter only: its real-time holder stays outside
            runs[cid] = runq_truth.finish_workload(wl, out, rounds, name)
        a.end()  # every wait ended before the workloads said done
    objs = a.result()
    summ = {o.get("series"): o for o in summaries(objs)}
    want = f"container={layout.a}"
    log(f"MEASURED runq-latency --container --by container: " +
        ", ".join(f"{k}: count={o.get('count')} p50={o.get('p50_ns', 0) / 1e6:.3f}ms" for k, o in summ.items()) +
        f"; {overhead(objs)}")
    check(list(summ) == [want], f"series {list(summ)}, want only {want}")
    runq_truth.check_series(summ, want, runs[layout.a])


@with_layout
def test_unread(args, layout, env):
    """The test reads nothing for UNREAD_S seconds while a shell in A forks a sleep every 10 ms under
    runq-latency --by container: the CLI still ends cleanly with its summary, although it
    printed more than a pipe holds (Attach reads in the background; without that the CLI
    blocked in write(), stopped pinging and both ends gave up: 'agent silent for 20 s')."""
    with Attach(env, "runq-latency", ["--container", layout.a[:16], "--by", "container"], duration="60s") as a:
        proc = env.spawn("sleeper", ["sh", "-c", f"read go; end=$(($(date +%s) + {UNREAD_S})); "
                                     "while [ $(date +%s) -lt $end ]; do sleep 0.01; done"], stdin=subprocess.PIPE)
        layout.move(proc.pid, layout.cg_a)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        check(proc.wait(timeout=UNREAD_S + 30) == 0, "the sleeper failed")
        a.end()
    objs = a.result()
    printed = sum(len(line) + 1 for line in a.reader.lines)
    log(f"MEASURED unread for {UNREAD_S} s: the CLI printed {printed} bytes in {len(a.reader.lines)} lines")
    # at a steady rate, a pipe's worth within the first UNREAD_S - SILENCE_S seconds: else it cannot fail
    enough = PIPE_BYTES * UNREAD_S // (UNREAD_S - SILENCE_S)
    check(printed > enough, f"the CLI printed {printed} bytes, want more than {enough}: else this test cannot fail")
    check(len(summaries(objs)) == 1, f"{len(summaries(objs))} summaries, want 1")


@with_layout
def test_func_latency(args, layout, env):
    binary = os.path.join(args.tools, "func_workload")
    plan = [(layout.a, layout.cg_a, 150, 2000), (layout.b, layout.cg_b, 60, 6000)]
    with Attach(env, "func-latency", ["--target", f"{binary}:work_unit", "--by", "container"],
                duration="60s") as a:
        runs = [spawn_in(env, layout, cgroup, "func_workload", [binary, "--wait-go", "--calls", str(calls), "--sleep-us",
                                                                str(sleep_us), "--timeout-seconds", "60"])
                for _, cgroup, calls, sleep_us in plan]
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
def test_tcp_connect_burst(args, layout, env):
    port = start_server(env)
    pod_slice = os.path.dirname(layout.cg_a)
    with Attach(env, "tcp-connect", ["--port", str(port), "--by", "container"], duration="60s") as a:
        want, clients = {}, []
        for i in range(24):
            cid, n = container_id(), 3 + i % 5
            cgroup = layout.mk(pod_slice, f"cri-containerd-{cid}.scope")  # new: no series yet
            c = Client(env, "connect", port, "--count", str(n))
            layout.move(c.pid, cgroup)
            clients.append(c)
            want[f"container={cid}"] = n
        for c in clients:
            c.go()
        for c in clients:
            c.wait_done()
        a.end()  # each socket was established before its connect() returned
    got = {o.get("series"): o.get("count") for o in summaries(a.result())}
    log(f"MEASURED tcp-connect --by container, a burst of {len(want)} new series on {os.cpu_count()} CPUs: "
        f"{sum(v or 0 for v in got.values())} of {sum(want.values())} connects in {len(got)} series")
    missing = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    check(not missing, f"{len(missing)} series not exact (got, want): {missing}")
    check(sorted(got) == sorted(want), f"series beyond the containers': {sorted(set(got) - set(want))}")
    # the agent's choice, named in its log: per CPU up to 3 possible CPUs (300 x 16.6 KB x CPUs
    # within 16 MB), shared from 4
    with open(os.path.join(env.dir, "agent.log"), errors="replace") as f:
        shared = "hist_cgroup_shared" in f.read()
    cpus = possible_cpus()
    log(f"MEASURED series map on {cpus} possible CPUs: {'hist_cgroup_shared' if shared else 'hist_cgroup (per CPU)'}")
    check(shared == (cpus >= 4), f"{cpus} possible CPUs, the agent chose the {'shared' if shared else 'per-CPU'} map")


def possible_cpus():
    """CPUs in /sys/devices/system/cpu/possible ("0-3", "0,2-5"): what BPF per-CPU maps size for."""
    with open("/sys/devices/system/cpu/possible") as f:
        spans = [part.split("-") for part in f.read().strip().split(",")]
    return sum(int(s[-1]) - int(s[0]) + 1 for s in spans)


def latency_server_in(env, tools, layout, cgroup, delay_ms):
    """A latency_server answering after delay_ms, moved into cgroup: its port."""
    server = env.spawn("latency_server", [os.path.join(tools, "latency_server"), "--listen", "127.0.0.1:0",
                                          "--delay-ms", str(delay_ms), "--max-seconds", "60"],
                       stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    line = LineReader(server.stdout, "latency_server").readline(10)
    check(line is not None and line.startswith("listening "), f"latency_server said {line!r}")
    layout.move(server.pid, cgroup)
    return int(line.split()[1])


def check_latency_series(summ, want, delay_ms):
    """Exactly the series of want ({series: count}), each with its count and a p50 of at least the delay."""
    check(sorted(summ) == sorted(want), f"series {sorted(summ)}, want {sorted(want)}")
    for series, count in want.items():
        s = summ[series]
        lo = delay_ms * 1e6 * (1 - s["relative_error"])
        check(s["count"] == count, f"{series}: count {s['count']}, want {count}")
        check(s["p50_ns"] >= lo, f"{series}: p50 {s['p50_ns']} ns, want at least {lo:.0f} (the server's delay)")


@with_layout
def test_tcp_latency(args, layout, env):
    tools, delay_ms = args.tools, 5
    port = latency_server_in(env, tools, layout, layout.cg_a, delay_ms)
    plan = [(layout.b, layout.cg_b, 40), (layout.c, layout.cg_c, 25)]
    with Attach(env, "tcp-latency", ["--port", str(port), "--by", "container"], duration="60s") as a:
        # one at a time: the server answers one connection at a time
        for _, cgroup, n in plan:
            go_and_finish([spawn_in(env, layout, cgroup, "latency_client", [
                os.path.join(tools, "latency_client"), "--connect", f"127.0.0.1:{port}", "--wait-go", "--requests",
                str(n), "--timeout-seconds", "60"])], "done")
        a.end()  # each request's response was read before its client said done
    summ = {o.get("series"): o for o in summaries(a.result())}
    log("MEASURED tcp-latency --by container: " + ", ".join(
        f"{k}: count={o.get('count')} p50={o.get('p50_ns', 0) / 1e6:.3f}ms" for k, o in summ.items()))
    want = {f"role=server container={layout.a}": 65}
    want.update({f"role=client container={cid}": n for cid, _, n in plan})
    check_latency_series(summ, want, delay_ms)


def overhead(objs):
    """The session's cost per window as the agent measured it (kernel + agent, % of a core)."""
    pcts = [o["cost"]["overhead_pct"] for o in objs if o.get("type") == "snapshot" and "cost" in o]
    return f"overhead max {max(pcts, default=0):.2f}% of a core over {len(pcts)} windows"


@with_layout
def test_tcp_latency_filter(args, layout, env):
    """tcp-latency --pod P --by container: the server in A (pod P) answers clients in B (pod P),
    C (another pod) and the test's own cgroup; only P's tasks are measured, in the kernel."""
    tools, delay_ms = args.tools, 5
    port = latency_server_in(env, tools, layout, layout.cg_a, delay_ms)
    plan = [(layout.cg_b, 31), (layout.cg_c, 17), (None, 11)]
    with Attach(env, "tcp-latency", ["--port", str(port), "--pod", layout.pod, "--by", "container"],
                duration="60s") as a:
        for cgroup, n in plan:  # one at a time: the server answers one connection at a time
            client = [os.path.join(tools, "latency_client"), "--connect", f"127.0.0.1:{port}", "--wait-go",
                      "--requests", str(n), "--timeout-seconds", "60"]
            go_and_finish([spawn_in(env, layout, cgroup, "latency_client", client)], "done")
        a.end()  # each request's response was read before its client said done
    summ = {o.get("series"): o for o in summaries(a.result())}
    log("MEASURED tcp-latency --pod --by container: " + ", ".join(
        f"{k}: count={o.get('count')} p50={o.get('p50_ns', 0) / 1e6:.3f}ms" for k, o in summ.items()))
    # the server in A answered all 59; of the clients only B is in the pod
    want = {f"role=server container={layout.a}": 31 + 17 + 11, f"role=client container={layout.b}": 31}
    check_latency_series(summ, want, delay_ms)


def spawn_in(env, layout, cgroup, name, argv, environ=None, blocked_first=False):
    """A workload that prints "ready PID" and waits for a line on stdin, moved into cgroup
    before it goes (environ: its environment, default ours): (process, its stdout reader).
    blocked_first: moved only once it is switched out waiting, so that switch is not the cgroup's."""
    proc = env.spawn(name, argv, stdout=subprocess.PIPE, stdin=subprocess.PIPE, env=environ)
    out = LineReader(proc.stdout, name)
    line = out.readline(10)
    check(line is not None and line.startswith("ready "), f"{name} said {line!r}")
    if blocked_first:
        wait_blocked_on_stdin(int(line.split()[1]), name)
    if cgroup:  # else it stays in the test's own cgroup
        layout.move(int(line.split()[1]), cgroup)
    return proc, out


def context_switches(pid):
    """(voluntary, involuntary) context switches of pid as the kernel counts them."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return int(fields["voluntary_ctxt_switches"]), int(fields["nonvoluntary_ctxt_switches"])


def go_and_finish(workloads, done):
    """Tells each (process, reader) to go, then checks each said a line starting with done and exited 0."""
    for proc, _ in workloads:
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    for proc, out in workloads:
        line = out.readline(30)
        check(line is not None and line.startswith(done), f"a workload said {line!r}, want {done!r}")
        check(proc.wait(timeout=10) == 0, f"a workload exited {proc.returncode}")


def syscall_loop(env, args, layout, cgroup, count, *extra):
    """syscall_loop in cgroup: exactly count getppid calls (and extra's sleeps) once it is told to go."""
    return spawn_in(env, layout, cgroup, "syscall_loop",
                    [os.path.join(args.tools, "syscall_loop"), "--wait-go", "--count", str(count), *extra],
                    environ=cgroup_workload_environ())


@with_layout
def test_kfunc_latency(args, layout, env):
    sleep_ns, plan = 5_000_000, [(layout.a, layout.cg_a, 12), (layout.b, layout.cg_b, 7), (None, layout.cg_c, 9)]
    with Attach(env, "kfunc-latency", ["--target", "hrtimer_nanosleep", "--pod", layout.pod, "--by", "container"],
                duration="60s", skip_unsupported_anywhere=True) as a:
        # One loop at a time: a kretprobe (5.10, 6.1: no kprobe.multi) holds at most as many calls
        # in flight as there are CPUs on a non-preemptible kernel; a return beyond that is missed.
        for _, cgroup, n in plan:
            go_and_finish([syscall_loop(env, args, layout, cgroup, 1, "--sleeps", str(n),
                                        "--sleep-us", str(sleep_ns // 1000))], "done")
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
        go_and_finish(loops, "done")
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
    """cpu-top --pod UID --by container while cpu_burn naps NAPS[A] times in A, NAPS[B] in B
    and NAPS[C] in C (another pod): the rows A and B only, each with its naps + 1 voluntary
    switches (+ 1), its on-CPU time at most its own CPU time since ready."""
    plan = [(layout.a, layout.cg_a, 100), (layout.b, layout.cg_b, 37), (layout.c, layout.cg_c, 23)]
    own = {}
    with Attach(env, "cpu-top", ["--pod", layout.pod, "--by", "container"], duration="60s") as a:
        runs = [(cid, spawn_in(env, layout, cgroup, f"cpu_burn {cid[:SHORT]}", [
            os.path.join(args.tools, "cpu_burn"), "--wait-go", "--sleep-ms", str(naps * NAP_MS),
            "--nap-ms", str(NAP_MS), "--timeout-seconds", "60"], environ=cgroup_workload_environ(),
            blocked_first=True)) for cid, cgroup, naps in plan]
        before = {cid: context_switches(proc.pid) for cid, (proc, _) in runs}
        for _, (proc, _) in runs:
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        for cid, (proc, out) in runs:
            done, total = out.readline(60), out.readline(10)
            check(done is not None and done.startswith("done ") and total is not None and total.startswith("cpu "),
                  f"cpu_burn in {cid[:SHORT]} said {done!r}, {total!r}")
            # the switch that ends its last stretch: blocked on stdin again (waited for, not slept on)
            wait_blocked_on_stdin(proc.pid, f"cpu_burn in {cid[:SHORT]}")
            after = context_switches(proc.pid)
            own[cid] = (int(done.split()[2]), int(total.split()[1]),
                        tuple(n - b for n, b in zip(after, before[cid])))
        a.end()
    objs = a.result()  # before the workloads exit: their exits are not part of the ground truth
    for _, (proc, _) in runs:
        proc.stdin.close()
        check(proc.wait(timeout=10) == 0, f"cpu_burn exited {proc.returncode}")
    rows = summaries(objs)[0]["rows"]
    log(f"MEASURED cpu-top --pod --by container: {rows}; workloads' own (naps, CPU ns since ready, "
        "(voluntary, involuntary) switches in their container): "
        + ", ".join(f"{c[:SHORT]}={v}" for c, v in own.items()) + f"; {overhead(objs)}")
    got = {str(r["container"]): r for r in rows}
    check(sorted(got) == sorted([layout.a, layout.b]), f"rows {list(got)}, want A {layout.a} and B {layout.b}")
    for cid, _, naps in plan[:2]:
        row, (own_naps, own_cpu, (vol, invol)) = got[cid], own[cid]
        check(own_naps == naps, f"cpu_burn in {cid[:SHORT]} took {own_naps} naps, want {naps}")
        # The kernel's own counts over the workload's whole stay in the container (moved once
        # blocked for "go", read again once blocked on stdin after "done"): one switch per nap,
        # one for that last block, and any the run adds (its writes to the stdout pipe may
        # sleep on the pipe's lock while the test reads it). The probe must see exactly those.
        check(vol >= naps + 1, f"{cid[:SHORT]}: the kernel counted {vol} voluntary switches, want >= {naps} naps + 1")
        check((row["voluntary"], row["involuntary"]) == (vol, invol),
              f"{cid[:SHORT]}: {row}, want the kernel's own (voluntary, involuntary) {(vol, invol)}")
        # the slack of the cpu-top probe's own test (probes/cpu-top/test_cpu_top.py says why)
        slack = MS + PER_SWITCH_NS * (row["voluntary"] + row["involuntary"]) + UNACCOUNTED * own_cpu
        check(0 < row["on_cpu_ns"] <= own_cpu + slack,
              f"{cid[:SHORT]}: on_cpu_ns {row['on_cpu_ns']}, want within its own {own_cpu} ns (+ {slack:.0f})")


@with_layout
def test_file_top(args, layout, env):
    """file-top --pod UID --by container: one file name, its blocks counted per container."""
    name = f"tracectl_by_{secrets.token_hex(4)}"
    plan = {layout.a: (layout.cg_a, 300, 120), layout.b: (layout.cg_b, 90, 40)}
    with Attach(env, "file-top", ["--pod", layout.pod, "--by", "container", "--top", "100000"],
                duration="60s") as a:
        workloads = []
        for cid, (cgroup, writes, reads) in plan.items():
            os.makedirs(env.path(cid[:8]))
            workloads.append(spawn_in(env, layout, cgroup, "file_io", [
                os.path.join(args.tools, "file_io"), "--wait-go", "--path", os.path.join(env.path(cid[:8]), name),
                "--block", "4096", "--writes", str(writes), "--reads", str(reads)]))
        go_and_finish(workloads, "done")
        time.sleep(1.5)  # one more window, then Ctrl-C
        a.end()
    rows = summaries(a.result())[0]["rows"]
    mine = [r for r in rows if r.get("file") == name]
    log(f"MEASURED file-top --pod --by container, rows of {name}: {mine}")
    got = {str(r["container"]): (r["writes"], r["reads"], r["type"]) for r in mine}
    want = {cid: (writes, reads, "R") for cid, (_, writes, reads) in plan.items()}
    check(got == want and len(mine) == 2, f"rows of {name}: {mine}, want (writes, reads, type) {want}")
    check(all("pid" not in r and "comm" not in r for r in rows), f"a row with pid or comm: {rows[:3]}")
    check({str(r["container"]) for r in rows} <= set(want), f"rows outside the pod: {rows}")


@with_layout
def test_func_count(args, layout, env):
    """func-count --by container: one uprobe, its calls counted per container."""
    binary = os.path.join(args.tools, "func_workload")
    plan = {layout.a: (layout.cg_a, 300), layout.b: (layout.cg_b, 70), layout.c: (layout.cg_c, 50)}
    with Attach(env, "func-count", ["--target", f"{binary}:work_unit", "--by", "container"], duration="60s") as a:
        workloads = [spawn_in(env, layout, cgroup, "func_workload",
                              [binary, "--wait-go", "--calls", str(calls), "--sleep-us", "200"])
                     for cgroup, calls in plan.values()]
        go_and_finish(workloads, "done")
        time.sleep(1.5)
        a.end()
    rows = summaries(a.result())[0]["rows"]
    log(f"MEASURED func-count --by container: {rows}")
    got = {(str(r["container"]), r["function"]): r["calls"] for r in rows}
    want = {(cid, "work_unit"): calls for cid, (_, calls) in plan.items()}
    check(got == want and len(rows) == 3, f"rows {rows}, want {want}")


@with_layout
def test_tcp_top(args, layout, env):
    """tcp-top --by container: the clients' bytes sent, per container."""
    with Attach(env, "tcp-top", ["--by", "container", "--top", "100000"], duration="60s") as a:
        send_workloads(env, layout, a)
    rows = rows_of(a, "tcp-top --by container")
    sent = {}
    for r in rows:
        sent[str(r["container"])] = sent.get(str(r["container"]), 0) + r["sent_bytes"]
    want = {layout.a: 114 * SIZE, layout.b: 37 * SIZE, layout.c: 23 * SIZE, layout.d: 11 * SIZE}
    check(all(sent.get(k) == v for k, v in want.items()), f"bytes sent per container {sent}, want {want}")
    check(layout.e not in sent, f"the empty container E has a row: {sent}")
    check(all("pid" not in r and "comm" not in r for r in rows), f"a row with pid or comm: {rows[:3]}")


def per_root_frame(folded, function):
    """Folded lines summed per root frame: ({root: value}, {root: value of the stacks through function})."""
    roots, through = {}, {}
    for line in folded:
        stack, _, value = line.rpartition(" ")
        frames = stack.split(";")
        check(value.isdigit() and len(frames) > 1, f"not a folded line: {line!r}")
        roots[frames[0]] = roots.get(frames[0], 0) + int(value)
        if any(f.split(".")[0] == function for f in frames):
            through[frames[0]] = through.get(frames[0], 0) + int(value)
    return roots, through


@with_layout
def test_profile(args, layout, env):
    """profile --pod UID --by container: each spinner's samples under its own container's frame."""
    freq, seconds = 49, {layout.a: 3, layout.b: 1}
    cli = FoldedAttach(env, "profile", ["--pod", layout.pod, "--by", "container", "--freq", str(freq)], "60s")
    try:
        spinners = {cid: spawn_in(env, layout, cg, "spin_workload", [
            os.path.join(args.tools, "spin_workload"), "--wait-go", "--seconds", str(seconds[cid]),
            "--timeout-seconds", "60"]) for cid, cg in ((layout.a, layout.cg_a), (layout.b, layout.cg_b))}
        for proc, _ in spinners.values():
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        dones = {cid: out.readline(30) for cid, (_, out) in spinners.items()}
        check(all(d is not None and d.startswith("done ") for d in dones.values()), f"spin_workload: {dones}")
        cli.end()
    except BaseException:
        cli.stop()
        raise
    folded = cli.lines()
    # their frames stay mapped until the CLI is done: then they may go
    for proc, _ in spinners.values():
        proc.stdin.write(b"exit\n")
        proc.stdin.flush()
        check(proc.wait(timeout=10) == 0, "spin_workload failed")
    roots, through = per_root_frame(folded, "spin_here")
    # "done ITERATIONS cpu_ns T ...": the samples freq gives each one's own CPU time
    want = {f"container:{cid}": int(d.split()[3]) * freq / 1e9 for cid, d in dones.items()}
    log(f"MEASURED profile --by container: samples per root frame {roots}; in spin_here {through}; "
        f"expected from each spinner's CPU time {want}")
    check(set(roots) == set(want), f"root frames {list(roots)}, want {list(want)}")
    for root, n in want.items():
        check(abs(through.get(root, 0) - n) <= 0.25 * n + 4,
              f"{root}: {through.get(root, 0)} samples in spin_here, want {n:.0f} +- 25% + 4")


@with_layout
def test_offcpu(args, layout, env):
    """offcpu --pod UID --by container: the container is each stack's root frame."""
    cli = FoldedAttach(env, "offcpu", ["--pod", layout.pod, "--by", "container"], "60s")
    try:
        wl, wl_out = spawn_in(env, layout, layout.cg_a, "offcpu_workload", [
            os.path.join(args.tools, "offcpu_workload"), "--seconds", "2", "--block-ms", "10", "--spin-ms", "4",
            "--timeout-seconds", "60"])
        sleeper = env.spawn("sleeper", ["sh", "-c", "read go; i=0; while [ $i -lt 50 ]; do sleep 0.01; "
                                        "i=$((i+1)); done"], stdin=subprocess.PIPE)
        layout.move(sleeper.pid, layout.cg_b)
        for p in (wl, sleeper):
            p.stdin.write(b"go\n")
            p.stdin.flush()
        done = wl_out.readline(30)
        check(done is not None and done.startswith("done "), f"offcpu_workload: {done!r}")
        check(sleeper.wait(timeout=30) == 0, "the sleeper failed")
        cli.end()
    except BaseException:
        cli.stop()
        raise
    folded = cli.lines()
    # its frames stay mapped until the CLI is done: then it may go
    wl.stdin.write(b"exit\n")
    wl.stdin.flush()
    check(wl.wait(timeout=10) == 0, "offcpu_workload failed")
    own_ns = int(done.split()[2])
    roots, through = per_root_frame(folded, "wait_here")
    root_a, root_b = f"container:{layout.a}", f"container:{layout.b}"
    log(f"MEASURED offcpu --by container: ns per root frame {roots}; through wait_here {through}; "
        f"the workload's own {own_ns} ns")
    check(set(roots) == {root_a, root_b}, f"root frames {list(roots)}, want {root_a} and {root_b}")
    check(list(through) == [root_a] and through[root_a] >= 0.9 * own_ns,
          f"through wait_here {through}, want only {root_a} with >= 90% of {own_ns}")


class Ended:
    """send_workloads' session when there is none to end (a standing probe)."""

    def end(self):
        pass


@with_layout
def test_metrics(args, layout, env):
    metrics = free_port()
    env.start_agent(["--metrics", f"127.0.0.1:{metrics}", "--export", "tcp-send:by=container,runq-latency:by=pod"])
    send_workloads(env, layout, Ended())
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10) as r:
        text = r.read().decode()
    sends = dict(re.findall(r'^tracectl_tcp_send_sends_total\{container_id="([^"]*)"\} (\d+)$', text, re.M))
    log(f"MEASURED /metrics sends by container_id: {sends}")
    want = {layout.a: "114", layout.b: "37", layout.c: "23", layout.d: "11"}
    check({k: sends.get(k) for k in want} == want, f"/metrics sends {sends}, want {want}")
    check('pod_uid="' + layout.pod + '"' in text and 'container="' not in text and 'pod="' not in text,
          "runq-latency series by pod_uid (and no container/pod label): "
          f"{[l for l in text.splitlines() if 'runq' in l][:5]}")


IDENTITY = ("cgroup", "container_id", "pod_uid", "qos_class", "service")


@with_layout
def test_events(args, layout, env):
    """Every exec and open event of a workload carries exactly its cgroup's identity."""
    path = env.path("identity-target")  # opened by the shells only: their events are these
    with open(path, "w") as f:
        f.write("x\n")
    os.chmod(env.dir, 0o755)
    os.chmod(path, 0o644)
    script = f"read go; for i in 1 2 3; do /bin/true; : < {path}; done"
    want = {layout.cg_f: {"cgroup": layout.below_root(layout.cg_f), "container_id": layout.f,
                          "pod_uid": layout.pod3, "qos_class": "burstable", "service": ""},
            layout.cg_svc: {"cgroup": layout.below_root(layout.cg_svc), "container_id": "", "pod_uid": "",
                            "qos_class": "", "service": layout.service + ".service"},
            layout.cg_plain: {"cgroup": layout.below_root(layout.cg_plain), "container_id": "", "pod_uid": "",
                              "qos_class": "", "service": ""}}
    text_argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                             f"127.0.0.1:{env.port}", "exec", "--duration", "60s")
    text_cli = env.spawn("cli-exec-text", text_argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    text_out = LineReader(text_cli.stdout, "cli-exec-text")
    first = text_out.readline(30)
    check(first is not None and first.startswith("Attached"), f"the text exec session said {first!r}")
    port = start_server(env)
    with Attach(env, "exec", [], duration="60s") as ex, Attach(env, "open", [], duration="60s") as op, \
            Attach(env, "tcp-life", ["--port", str(port)], duration="60s") as life:
        procs = [env.spawn("shell", ["sh", "-c", script], stdin=subprocess.PIPE) for _ in want]
        clients = [Client(env, "life", port, "--count", "2", "--base", "10") for _ in want]
        shells, conns = {}, {}
        for proc, client, cgroup in zip(procs, clients, want):
            layout.move(proc.pid, cgroup)
            layout.move(client.pid, cgroup)
            shells[proc.pid] = cgroup
            conns[client.pid] = cgroup
        for proc, client in zip(procs, clients):
            proc.stdin.write(b"go\n")
            client.go()
        for proc, client in zip(procs, clients):
            check(proc.wait(timeout=30) == 0, f"shell {proc.pid} failed")
            client.wait_done()
        time.sleep(1.5)
        for a in (ex, op, life):
            a.end()
    text_cli.send_signal(signal.SIGINT)
    # exec: each /bin/true the shell forked; open: the shell's own redirections; tcp-life:
    # each client's 2 connections (the owner is the client: it connected)
    for a, session, key, match, pids, n in ((ex, "exec", "ppid", "/bin/true", shells, 3),
                                            (op, "open", "pid", path, shells, 3),
                                            (life, "tcp-life", "pid", None, conns, 2)):
        evs = [o for o in a.result() if o.get("type") == "event" and o.get(key) in pids
               and match in (None, o.get("filename" if session == "exec" else "path"))]
        log(f"MEASURED {session}: " + "; ".join(f"{e[key]} {[e.get(k) for k in IDENTITY]}" for e in evs))
        for pid, cgroup in pids.items():
            mine = [{k: e.get(k) for k in IDENTITY} for e in evs if e[key] == pid]
            check(mine == [want[cgroup]] * n, f"{session} events of pid {pid} in {cgroup}: {mine}, "
                  f"want {n} of {want[cgroup]}")
    while text_out.readline(30) is not None:
        pass
    check(text_cli.wait(timeout=30) == 0, "the text exec session failed")
    text = "\n".join(text_out.lines)
    lines = [l for l in text.splitlines() if re.search(r" execve +/bin/true ", l)]
    short = f"container={layout.f[:SHORT]} pod={layout.pod3}"
    log(f"MEASURED exec text: {lines}")
    check(sum(l.endswith(short) for l in lines) == 3 and layout.f not in text,
          f"text exec lines of F want to end with {short!r}: {lines}")
    check(sum(l.endswith(f"service={layout.service}.service") for l in lines) == 3,
          f"text exec lines of the service: {lines}")
    check(sum(("container=" in l or "pod=" in l or "service=" in l) for l in lines) == 6,
          f"text exec lines naming a workload, want 6 (F's and the service's): {lines}")


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
    loaded, skipped, runs = [], [], []
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
        runs.append((p["probe"], env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"),
                                              "attach", f"127.0.0.1:{env.port}", p["probe"], "--duration", "1s",
                                              "--output", "json", *extra)))
    # four sessions at a time: each is a load and a 1 s window; the agent takes them side by side
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda run: (run[0], env.run_cli(f"cli-{run[0]}", run[1])), runs))
    for probe, (rc, out, err) in results:
        check(rc == 0, f"{probe} --container: exit {rc}: {err[-400:]!r}")
        loaded.append(probe)
    log(f"MEASURED loaded with --container: {loaded}; not tried (no target here): {skipped}")
    check(len(loaded) >= 10, f"only {loaded} take --container")


if __name__ == "__main__":
    sys.exit(run_tests({"by_container": test_by_container, "by_pod": test_by_pod, "by_service": test_by_service,
                        "pod_filter": test_pod_filter, "container_filter": test_container_filter,
                        "service_filter": test_service_filter, "refused": test_refused, "runq": test_runq, "unread": test_unread,
                        "syscalls": test_syscalls, "tp_count": test_tp_count, "exec": test_exec,
                        "cpu_top": test_cpu_top, "filters_load": test_filters_load, "events": test_events,
                        "metrics": test_metrics, "file_top": test_file_top, "func_count": test_func_count,
                        "tcp_top": test_tcp_top, "profile": test_profile, "offcpu": test_offcpu,
                        "func_latency": test_func_latency, "tcp_connect_pod": test_tcp_connect_pod,
                        "tcp_connect_burst": test_tcp_connect_burst,
                        "tcp_latency": test_tcp_latency, "tcp_latency_filter": test_tcp_latency_filter,
                        "kfunc_latency": test_kfunc_latency},
                       __doc__))
