#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# End-to-end attacks on the agent's network side: each asserts the bound it must keep, in numbers.
"""
request: ten pipelined 4 KB compressed Requests that inflate to 4 MiB of empty repeated
Params (2.1 M of them): the agent refuses the first (requests are capped at 64 KiB), its
peak RSS (VmHWM) and CPU stay small, and another client's PINGs are answered quickly
meanwhile; then 20,000 pipelined PINGs on one connection do not delay that client either.
handshake: a client trickling a ClientHello byte by byte is closed at the 2 s deadline;
more connections in the handshake than --max-handshakes(-per-source) are closed at once.
fdflood: the agent limited to 64 file descriptors, 80 idle connections: little CPU and a
bounded number of log lines while out of descriptors, and a client is served afterwards.
metrics: an endless header line to /metrics is cut off early, RSS stays put; of 40 idle
connections at most 16 are taken in; only GET /metrics is answered (405 for other
methods, 404 for other paths).
auditflood: 300 bare connect/close pairs write at most 10 tls_refused audit lines and
one line that counts the rest. Needs root (exits 77 otherwise).
"""
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib

import rawrpc
from harness import Env, check, free_port, log, run_tests

closed_within = rawrpc.closed_within
cpu_seconds = rawrpc.cpu_seconds


def vm_hwm_kib(pid):
    return rawrpc.rss_kib(pid, "VmHWM")


def hello_ok(env, source="127.0.0.1", timeout=10):
    c = rawrpc.connect(env, timeout=timeout, source=source)
    try:
        c.send(1, rawrpc.hello_request())
        st, _ = c.until_status(1, timeout)
        return st.code == 0
    finally:
        c.close()


class Pinger(threading.Thread):
    """A well-behaved client pinging every 20 ms, keeping each round trip's latency."""

    def __init__(self, env):
        super().__init__(daemon=True)
        self.conn = rawrpc.connect(env)
        self.conn.send(1, rawrpc.hello_request())
        st, _ = self.conn.until_status(1)
        check(st.code == 0, f"pinger Hello: {st}")
        self.rtts = []
        self.error = None
        self.done = threading.Event()

    def pong(self, deadline):
        while True:
            while len(self.conn.buf) >= rawrpc.HEADER.size:
                _, kind, _, length = rawrpc.HEADER.unpack_from(self.conn.buf)
                if len(self.conn.buf) < rawrpc.HEADER.size + length:
                    break
                self.conn.buf = self.conn.buf[rawrpc.HEADER.size + length:]
                if kind == rawrpc.PONG:
                    return
            self.conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.conn.sock.recv(65536)
            if not chunk:
                raise ConnectionError("agent closed the pinger")
            self.conn.buf += chunk

    def run(self):
        try:
            while not self.done.is_set():
                t0 = time.monotonic()
                self.conn.send_frame(0, rawrpc.PING)
                self.pong(t0 + 10)
                self.rtts.append(time.monotonic() - t0)
                time.sleep(0.02)
        except Exception as e:  # reported by stop()
            self.error = e

    def stop(self):
        self.done.set()
        self.join(15)
        self.conn.close()
        check(self.error is None, f"pinger: {self.error!r}")
        check(self.rtts, "pinger got no PONG")
        return max(self.rtts), sorted(self.rtts)[len(self.rtts) // 2]


def bomb_frame():
    """A 4 KB compressed Attach whose 4 MiB inflate to 2.1 M empty repeated Params."""
    n = ((4 << 20) - 64) // 2
    body = rawrpc.field_bytes(1, "tcp-latency") + b"\x2a\x00" * n  # field 5, length 0
    payload = zlib.compress(rawrpc.field_bytes(3, body), 9)
    return rawrpc.HEADER.pack(1, rawrpc.DATA, 1, len(payload)) + payload, n


def test_request(args):
    with Env(args) as env:
        try:
            pid = env.agent.pid
            frame, nparams = bomb_frame()
            hwm0, cpu0 = vm_hwm_kib(pid), cpu_seconds(pid)
            pinger = Pinger(env)
            pinger.start()
            time.sleep(0.3)
            c = rawrpc.connect(env, timeout=30)
            t0 = time.monotonic()
            try:
                c.sock.sendall(frame * 10)
                log(f"sent 10 pipelined frames of {len(frame)} bytes ({nparams} empty Params each, 4 MiB inflated)")
                closed = closed_within(c.sock, 20)
            except (OSError, ssl.SSLError) as e:  # closed before the last frame was sent
                closed = time.monotonic() - t0
                log(f"sending 10 pipelined frames of {len(frame)} bytes ({nparams} empty Params each): {e}")
            c.close()
            time.sleep(0.5)
            worst, median = pinger.stop()
            hwm1, cpu1 = vm_hwm_kib(pid), cpu_seconds(pid)
            log(f"attacker closed after {closed}s; agent VmHWM {hwm0} -> {hwm1} KiB, CPU {cpu1 - cpu0:.3f}s; "
                f"other client's PING: median {median * 1000:.1f} ms, worst {worst * 1000:.1f} ms "
                f"({time.monotonic() - t0:.1f}s of attack)")
            check(closed is not None and closed < 2, f"the agent did not refuse the oversize request ({closed})")
            rawrpc.check_rss_growth(pid, hwm1 - hwm0, 8 * 1024, "compressed request: peak RSS (VmHWM)")
            check(cpu1 - cpu0 < 0.3, f"agent spent {cpu1 - cpu0:.3f}s of CPU on the compressed requests")
            check(worst < 0.15, f"another client's PING took {worst * 1000:.0f} ms during the attack")

            # one connection's backlog of cheap frames is served in turns, not all at once
            pinger = Pinger(env)
            pinger.start()
            time.sleep(0.3)
            c = rawrpc.connect(env, timeout=30)
            cpu0 = cpu_seconds(pid)
            c.sock.sendall(rawrpc.HEADER.pack(0, rawrpc.PING, 0, 0) * 20000)
            got = 0
            deadline = time.monotonic() + 30
            c.sock.settimeout(1)
            while got < 20000 * rawrpc.HEADER.size and time.monotonic() < deadline:
                chunk = c.sock.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
            c.close()
            worst, median = pinger.stop()
            log(f"20000 pipelined PINGs: {got // rawrpc.HEADER.size} PONGs, agent CPU "
                f"{cpu_seconds(pid) - cpu0:.3f}s; other client's PING: median {median * 1000:.1f} ms, "
                f"worst {worst * 1000:.1f} ms")
            check(got == 20000 * rawrpc.HEADER.size, f"{got} bytes of PONGs, want {20000 * rawrpc.HEADER.size}")
            check(worst < 0.15, f"another client's PING took {worst * 1000:.0f} ms behind 20000 PINGs")
            check(hello_ok(env), "a new client is not served after the attack")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def client_hello_bytes():
    """The bytes of a real TLS ClientHello, made without a peer."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def idle_conns(port, n, source):
    """n TCP connections from source that never speak; those the agent closes at once are counted."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
    time.sleep(0.5)
    closed = sum(1 for s in socks if closed_within(s, 0.05) is not None)
    return socks, closed


def test_handshake(args):
    agent_args = ["--handshake-timeout", "2s", "--max-handshakes", "6", "--max-handshakes-per-source", "4"]
    with Env(args, agent_args=agent_args) as env:
        try:
            hello = client_hello_bytes()
            s = socket.create_connection(("127.0.0.1", env.port), timeout=5)
            s.setblocking(False)
            t0 = time.monotonic()
            sent, closed_at = 0, None
            while sent < len(hello) and time.monotonic() - t0 < 8:
                try:
                    s.send(hello[sent:sent + 1])
                    sent += 1
                except OSError:
                    closed_at = time.monotonic() - t0
                    break
                try:
                    if s.recv(4096) == b"":
                        closed_at = time.monotonic() - t0
                        break
                except BlockingIOError:
                    pass
                except OSError:
                    closed_at = time.monotonic() - t0
                    break
                time.sleep(0.25)
            s.close()
            log(f"ClientHello trickled at 4 bytes/s ({sent} of {len(hello)} bytes sent): closed after {closed_at}s")
            check(closed_at is not None and 1.8 <= closed_at <= 3.0,
                  f"a trickling client stayed {closed_at or '>8'}s against a 2 s handshake deadline")

            a, a_closed = idle_conns(env.port, 10, "127.0.0.1")
            b, b_closed = idle_conns(env.port, 3, "127.0.0.2")
            log(f"10 idle connections from 127.0.0.1: {a_closed} closed at once; 3 from 127.0.0.2: {b_closed}")
            check(a_closed == 6, f"per-source cap 4: want 6 of 10 closed at once, got {a_closed}")
            check(b_closed == 1, f"global cap 6: want 1 of 3 from another source closed, got {b_closed}")
            for sock in a + b:
                sock.close()
            time.sleep(0.3)
            check(hello_ok(env), "a client is not served after the idle connections left")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_fdflood(args):
    agent_args = ["--max-handshakes", "1000", "--max-handshakes-per-source", "1000", "--handshake-timeout", "60s"]
    with Env(args, agent_args=agent_args) as env:
        try:
            pid = env.agent.pid
            subprocess.run(["prlimit", f"--pid={pid}", "--nofile=64:64"], check=True, timeout=10)
            nfds = len(os.listdir(f"/proc/{pid}/fd"))
            agent_log = os.path.join(env.dir, "agent.log")
            lines0 = sum(1 for _ in open(agent_log, errors="replace"))
            socks = [socket.create_connection(("127.0.0.1", env.port), timeout=5) for _ in range(80)]
            time.sleep(0.5)
            cpu0 = cpu_seconds(pid)
            time.sleep(3)
            cpu = cpu_seconds(pid) - cpu0
            with open(agent_log, errors="replace") as f:
                lines = f.readlines()[lines0:]
            accept_lines = sum("accept failed" in line for line in lines)
            log(f"fd limit 64 ({nfds} open at the start), 80 idle connections: agent CPU {cpu:.3f}s in 3 s, "
                f"{len(lines)} log lines ({accept_lines} 'accept failed')")
            check(cpu < 0.3, f"the agent spent {cpu:.2f}s of CPU in 3 s while out of file descriptors")
            check(len(lines) < 100 and accept_lines <= 2, f"{len(lines)} log lines ({accept_lines} accept failures)")
            for s in socks:
                s.close()
            t0 = time.monotonic()
            check(hello_ok(env, timeout=10), "no client served after the flood ended")
            log(f"a client was served {time.monotonic() - t0:.2f}s after the flood ended")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_metrics(args):
    mport = free_port()
    with Env(args, agent_args=["--metrics", f"127.0.0.1:{mport}"]) as env:
        try:
            pid = env.agent.pid
            hwm0, cpu0 = vm_hwm_kib(pid), cpu_seconds(pid)
            s = socket.create_connection(("127.0.0.1", mport), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ")
            chunk, sent, limit = b"a" * (1 << 20), 0, 200 << 20
            s.settimeout(2)
            try:
                while sent < limit:
                    s.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass  # refused: the agent closed the connection
            reply = b""
            try:
                reply = s.recv(200)
            except OSError:
                pass
            s.close()
            time.sleep(0.3)
            hwm1 = vm_hwm_kib(pid)
            log(f"header line: {sent >> 20} MiB sent before the agent refused ({reply[:40]!r}); "
                f"peak RSS (VmHWM) {hwm0} -> {hwm1} KiB, CPU {cpu_seconds(pid) - cpu0:.3f}s")
            check(sent < limit and reply.startswith(b"HTTP/1.1 4"), "the agent took a 200 MiB header line")
            # the peak, not RSS afterwards: what was buffered is freed once the connection ends
            rawrpc.check_rss_growth(pid, hwm1 - hwm0, 4 * 1024, "200 MiB header line: peak RSS (VmHWM)")
            # idle connections: at most 16 are taken in, the rest wait in the backlog
            fds0 = len(os.listdir(f"/proc/{pid}/fd"))
            idle = [socket.create_connection(("127.0.0.1", mport), timeout=5) for _ in range(40)]
            time.sleep(0.5)
            fds1 = len(os.listdir(f"/proc/{pid}/fd"))
            for sock in idle:
                sock.close()
            t0 = time.monotonic()
            s = socket.create_connection(("127.0.0.1", mport), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            status = s.recv(64).split(b" ")[1].decode()
            s.close()
            log(f"40 idle connections to /metrics: agent fds {fds0} -> {fds1}; after they left, "
                f"a scrape got {status} in {time.monotonic() - t0:.2f}s")
            check(fds1 - fds0 <= 16, f"the agent took {fds1 - fds0} idle /metrics connections, want at most 16")
            check(status == "200" and time.monotonic() - t0 < 3, f"scrape after the idle connections: {status}")
            for method, path, want in (("GET", "/metrics", 200), ("POST", "/metrics", 405), ("DELETE", "/metrics", 405),
                                       ("GET", "/", 404), ("GET", "/metrics/x", 404)):
                s = socket.create_connection(("127.0.0.1", mport), timeout=5)
                s.sendall(f"{method} {path} HTTP/1.0\r\nContent-Length: 0\r\n\r\n".encode())
                status = s.recv(64).split(b" ")[1].decode()
                s.close()
                log(f"{method} {path}: {status}")
                check(status == str(want), f"{method} {path}: {status}, want {want}")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_auditflood(args):
    audit = {}

    def setup(env):
        audit["path"] = os.path.join(env.dir, "audit.jsonl")
        return ["--audit", audit["path"]]

    with Env(args, setup=setup) as env:
        try:
            for _ in range(300):
                socket.create_connection(("127.0.0.1", env.port), timeout=5).close()
            time.sleep(1)
            check(hello_ok(env), "a client is not served after 300 refused connections")
            env.stop_agent_checked()  # the agent reports what it suppressed on the way out
            with open(audit["path"]) as f:
                lines = [json.loads(line) for line in f]
            refused = [l for l in lines if l["event"] == "tls_refused"]
            summary = [l for l in lines if l["event"] == "tls_refused_suppressed"]
            suppressed = sum(l["suppressed"] for l in summary)
            log(f"300 connect/close pairs: {len(refused)} tls_refused lines, {len(summary)} summary line(s) "
                f"counting {suppressed} more")
            check(len(refused) == 10, f"{len(refused)} tls_refused lines, want 10 (the per-source burst)")
            # 301: the harness's own readiness probe is a bare connect/close too
            check(len(summary) == 1 and summary[0]["peer"] == "127.0.0.1" and suppressed == 291,
                  f"want one summary of 291 suppressed refusals, got {summary}")
        except Exception:
            env.failed = True
            raise


if __name__ == "__main__":
    sys.exit(run_tests({"request": test_request, "handshake": test_handshake, "fdflood": test_fdflood,
                        "metrics": test_metrics, "auditflood": test_auditflood}, __doc__))
