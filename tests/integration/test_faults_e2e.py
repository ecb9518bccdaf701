#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# End-to-end fault tests: killed clients, attach/detach cycles, slow consumers, 64 sessions, SIGTERM.
"""
sigkill: a client SIGKILLed mid-stream has its probe detached within 2 s (the agent's
BPF fds in /proc, and the kernel's program list via bpftool).
cycles: CYCLES attach/cancel cycles on one connection, then KILLED clients SIGKILLed
after attaching: the agent's BPF fds return to the start, every program it loaded is
gone from the kernel, and its RSS stays within RSS_BOUND_KIB of the start.
slow: a client that stops reading an event stream: agent RSS stays bounded, events are
dropped and counted, and the client learns the count when it reads again.
concurrent: 64 connections with one session each (four probes), all served to the end.
sigterm: SIGTERM ends every session with a summary and a reason, releases every probe, exit 0.
Needs root (exits 77 otherwise).
"""
import json
import os
import signal
import subprocess
import sys
import time

import rawrpc
from harness import Env, LineReader, check, log, run_tests

# The issue asks for 1000 cycles; one tcp-latency load is ~0.3 s here, so ctest runs 100
# (about 30 s) and TRACECTL_FAULT_CYCLES=1000 runs the long version (about 5 min).
CYCLES = int(os.environ.get("TRACECTL_FAULT_CYCLES", "100"))
KILLED = int(os.environ.get("TRACECTL_FAULT_KILLED", "100"))
RSS_BOUND_KIB = 16 * 1024
SEC = 1_000_000_000

CHILD = """
import sys, time, rawrpc
port, ca, cert, key = sys.argv[1:5]
c = rawrpc.Conn(int(port), ca, cert, key)
c.send(1, rawrpc.attach_request("tcp-latency", 0, SEC))
r = c.recv(20)
print(r.kind if r else "closed", flush=True)
time.sleep(120)
""".replace("SEC", str(SEC))


def prog_ids(pid):
    """IDs of the BPF programs the agent holds, from /proc/PID/fdinfo."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if "bpf-prog" not in os.readlink(f"/proc/{pid}/fd/{fd}"):
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def kernel_prog_ids():
    out = subprocess.run(["bpftool", "prog", "list", "-j"], capture_output=True, timeout=30, check=True).stdout
    return {p["id"] for p in json.loads(out or b"[]")}


def bpf_fds(env):
    c = rawrpc.agent_fds(env.agent.pid)
    return c["bpf-prog"] + c["bpf-link"] + c["perf_event"], c


def wait_fds(env, want, seconds):
    """Seconds until the agent's BPF fds are back to want, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if bpf_fds(env)[0] == want:
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


def spawn_child(env):
    argv = [sys.executable, "-c", CHILD, str(env.port), env.path("ca.pem"), env.path("client.pem"),
            env.path("client.key")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})
    return proc, LineReader(proc.stdout, "child")


def test_sigkill(args):
    with Env(args) as env:
        try:
            base, _ = bpf_fds(env)
            proc, out = spawn_child(env)
            check(out.readline(20) == "attached", "child did not attach")
            held, detail = bpf_fds(env)
            ids = prog_ids(env.agent.pid)
            check(held > base and ids, f"agent holds no BPF fds after attach: {detail}")
            log(f"attached: agent BPF fds {base} -> {held} ({detail}), programs {sorted(ids)}")
            proc.kill()
            proc.wait(5)
            t = wait_fds(env, base, 5)
            check(t is not None and t <= 2.0, f"probe of a SIGKILLed client not detached within 2 s ({t})")
            left = ids & kernel_prog_ids()
            check(not left, f"programs still loaded in the kernel: {left}")
            log(f"SIGKILLed client: probe detached after {t:.3f}s; its programs are gone from the kernel")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_cycles(args):
    with Env(args) as env:
        try:
            base, detail = bpf_fds(env)
            c = rawrpc.connect(env)
            c.send(1, rawrpc.hello_request())
            c.until_status(1)
            rss0 = rawrpc.rss_kib(env.agent.pid)
            ids = set()
            t0 = time.monotonic()
            for i in range(CYCLES):
                stream = 3 + 2 * i
                c.send(stream, rawrpc.attach_request("tcp-latency", 0, SEC))
                while not c.seen.get(stream):
                    c.recv(10)
                check(c.seen[stream][0].kind == "attached", f"cycle {i}: {c.seen[stream]}")
                if i % 50 == 0:
                    ids |= prog_ids(env.agent.pid)
                c.send_frame(stream, rawrpc.CANCEL)
                st, _ = c.until_status(stream)
                check(st.code == rawrpc.CANCELLED, f"cycle {i}: cancel answered {st}")
                c.seen.pop(stream)
            c.close()
            log(f"{CYCLES} attach/cancel cycles in {time.monotonic() - t0:.1f}s")
            check(wait_fds(env, base, 2) is not None, f"BPF fds after cycles: {bpf_fds(env)}, start {base}")
            rss1 = rawrpc.rss_kib(env.agent.pid)

            t0 = time.monotonic()
            batch = 10
            for k in range(0, KILLED, batch):
                kids = [spawn_child(env) for _ in range(min(batch, KILLED - k))]
                for proc, out in kids:
                    check(out.readline(30) == "attached", "child did not attach")
                ids |= prog_ids(env.agent.pid)
                for proc, _ in kids:
                    proc.kill()
                for proc, _ in kids:
                    proc.wait(5)
                    proc.stdout.close()
            t = wait_fds(env, base, 5)
            check(t is not None, f"BPF fds after {KILLED} killed clients: {bpf_fds(env)}, start {base}")
            log(f"{KILLED} SIGKILLed clients in {time.monotonic() - t0:.1f}s; fds back after {t:.2f}s")
            time.sleep(0.5)
            rss2 = rawrpc.rss_kib(env.agent.pid)
            left = ids & kernel_prog_ids()
            check(not left, f"programs the agent loaded are still in the kernel: {sorted(left)[:10]}")
            log(f"BPF fds: start {base}, end {bpf_fds(env)[0]}; {len(ids)} sampled program ids all unloaded")
            log(f"agent RSS: {rss0} KiB at start, {rss1} after cycles, {rss2} after killed clients "
                f"(bound {RSS_BOUND_KIB} KiB growth)")
            rawrpc.check_rss_growth(env.agent.pid, rss2 - rss0, RSS_BOUND_KIB, "cycles and killed clients")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def grant_events(env):
    path = os.path.join(env.dir, "policy")
    with open(path, "w") as f:
        f.write("[*]\nallow *\n")
    return ["--policy", path]


def test_slow(args):
    # a deliberately hot event stream: the overhead budget is not what this test is about
    # (under ASan the agent alone can take a core, and the kernel side adds to it)
    with Env(args, setup=grant_events, agent_args=["--max-overhead", "off"]) as env:
        try:
            tools = args.tools
            loop = env.spawn("open_loop", [os.path.join(tools, "open_loop"), "--path", "/etc/hostname",
                                           "--count", "3000000", "--wait-go", "--timeout-seconds", "60"],
                             stdout=subprocess.PIPE, stdin=subprocess.PIPE)
            line = LineReader(loop.stdout, "open_loop").readline(10)
            check(line is not None and line.startswith("ready "), f"open_loop said {line!r}")
            pid = line.split()[1]
            rss0 = rawrpc.rss_kib(env.agent.pid)
            c = rawrpc.connect(env, timeout=30)
            c.sock.setsockopt(rawrpc.socket.SOL_SOCKET, rawrpc.socket.SO_RCVBUF, 64 * 1024)
            c.send(1, rawrpc.attach_request("open", 8 * SEC, SEC, [("pid", pid)]))
            while not c.seen.get(1):
                c.recv(10)
            check(c.seen[1][0].kind == "attached", f"open did not attach: {c.seen[1]}")
            loop.stdin.write(b"go\n")
            loop.stdin.flush()
            # stop reading for 5 s while the workload opens files as fast as it can
            peak = 0
            for _ in range(25):
                time.sleep(0.2)
                peak = max(peak, rawrpc.rss_kib(env.agent.pid))
            log(f"client not reading for 5 s: agent RSS {rss0} KiB -> peak {peak} KiB")
            # stated bound 64 MiB; measured ~45 MiB growth at ~400k opens/s (2 MiB ring, 1 MiB
            # pending output, the rest not yet attributed: likely malloc arenas of the frame
            # and zlib buffers churned per batch; see the issue note)
            rawrpc.check_rss_growth(env.agent.pid, peak - rss0, 64 * 1024, "slow client")
            st, seen = c.until_status(1, timeout=60)
            batches = [r for r in seen if r.kind == "events"]
            snaps = [r for r in seen if r.kind == "snapshot"]
            sent = sum(len(b.body.get(1, [])) for b in batches)
            told = sum(rawrpc.first(b.body, 2) for b in batches)
            summary = [s for s in snaps if rawrpc.first(s.body, 4)]
            dropped = rawrpc.first(summary[-1].body, 9) if summary else 0
            log(f"events received {sent}, drops announced in batches {told}, summary events_dropped {dropped}, "
                f"status {st}")
            check(st.code == 0, f"slow client's session ended {st}")
            check(dropped > 0, "no events were dropped for a client that stopped reading")
            check(told > 0, "the client was not told the drop count in an EventBatch")
            c.close()
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_concurrent(args):
    with Env(args) as env:
        try:
            base, _ = bpf_fds(env)
            conns = []
            t0 = time.monotonic()
            # Four probes on different hooks: the kernel allows at most 64 BPF programs per
            # perf-event tracepoint (BPF_TRACE_MAX_PROGS), machine-wide, so 64 tcp-latency
            # sessions fail with E2BIG as soon as anything else watches sock:sock_send_length.
            probes = ["tcp-latency", "runq-latency", "syscalls", "bio-latency"]
            for i in range(64):
                c = rawrpc.connect(env, timeout=60)
                c.send(1, rawrpc.attach_request(probes[i % 4], 4 * SEC, SEC))
                conns.append(c)
            held = 0
            for i, c in enumerate(conns):
                st, seen = c.until_status(1, timeout=60)
                kinds = [r.kind for r in seen]
                check(st.code == 0 and kinds[0] == "attached" and kinds.count("snapshot") >= 2,
                      f"session {i}: {kinds} {st}")
                held += 1
            log(f"64 concurrent sessions on 64 connections all served in {time.monotonic() - t0:.1f}s")
            for c in conns:
                c.close()
            check(wait_fds(env, base, 5) is not None, "BPF fds not released after 64 sessions")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_sigterm(args):
    with Env(args) as env:
        try:
            conns = []
            for i in range(4):
                c = rawrpc.connect(env)
                c.send(1, rawrpc.attach_request("tcp-latency", 0, SEC))
                c.send(3, rawrpc.attach_request("tcp-latency", 60 * SEC, SEC))
                conns.append(c)
            for c in conns:
                while len(c.seen.get(1, [])) < 1 or len(c.seen.get(3, [])) < 1:
                    c.recv(10)
            ids = prog_ids(env.agent.pid)
            env.agent.send_signal(signal.SIGTERM)
            for i, c in enumerate(conns):
                for stream in (1, 3):
                    st, seen = c.until_status(stream, timeout=5)
                    summaries = [r for r in seen if r.kind == "snapshot" and rawrpc.first(r.body, 4)]
                    check(st.code == rawrpc.UNAVAILABLE and "shutting down" in st.message and summaries,
                          f"connection {i} stream {stream}: {st}, {len(summaries)} summaries")
                c.close()
            rc = env.agent.wait(5)
            check(rc == 0, f"agent exited {rc} after SIGTERM")
            left = ids & kernel_prog_ids()
            check(not left, f"programs still loaded after the agent exited: {left}")
            log(f"SIGTERM: 8 sessions ended with summary + UNAVAILABLE 'agent shutting down', exit 0, "
                f"{len(ids)} programs unloaded")
        except Exception:
            env.failed = True
            raise


if __name__ == "__main__":
    sys.exit(run_tests({"sigkill": test_sigkill, "cycles": test_cycles, "slow": test_slow,
                        "concurrent": test_concurrent, "sigterm": test_sigterm}, __doc__))
