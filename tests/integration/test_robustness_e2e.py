#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# End-to-end bad-input tests: the agent answers or closes, never dies, and serves the next client.
"""
plaintext: HTTP and random bytes to the TLS port.
silent: a TCP client that never starts TLS, and a TLS client that never sends a frame,
are closed by the handshake deadline (--handshake-timeout 2s here).
hugelen: a frame announcing a 4 GiB payload: closed before anything is buffered.
streams: 10,000 Attach streams on one connection: --max-conn-sessions are served, the
rest refused with RESOURCE_EXHAUSTED; then 10,000 unary calls whose answers the client
does not read: the agent stops reading it instead of buffering without bound.
fields: an Attach with every field out of range, one at a time and all at once, and
malformed calls: each gets its own error status, the connection and its other streams go on.
trials: the first ListProbes trial-loads every probe (seconds on a busy machine): while it
runs, a 1 s session's windows keep arriving on time (gaps under WINDOW_GAP_MAX_S), Hellos on
another connection are answered within HELLO_MAX_S, and a connection sending 20 ListProbes
and a Status at once has them all answered with the same list as the CLI's; then SIGTERM
0.3 s into another agent's trials: the waiting call is answered, the agent exits 0. A
catalog_only ListProbes sent behind that waiting call is answered before it (names, kinds,
parameters; supported unset): the CLI's check of a command line waits for no trial load.
After each case a fresh client gets a Hello answered. Needs root (exits 77 otherwise).
"""
import os
import socket
import json
import signal
import struct
import sys
import threading
import time

import rawrpc
from harness import Env, check, log, run_tests

AGENT_ARGS = ["--handshake-timeout", "2s", "--max-conn-sessions", "8"]


def served(env, what):
    """The agent is alive and a new client gets a Hello answered."""
    check(env.agent.poll() is None, f"agent died after {what} (status {env.agent.returncode})")
    c = rawrpc.connect(env)
    try:
        c.send(1, rawrpc.hello_request())
        st, _ = c.until_status(1)
        check(st.code == 0, f"Hello after {what}: {st}")
    finally:
        c.close()
    log(f"after {what}: agent alive, next client served")


closed_within = rawrpc.closed_within


def test_plaintext(args):
    with Env(args, agent_args=AGENT_ARGS) as env:
        try:
            for payload in (b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", os.urandom(4096), b"\x16\x03\x01\xff\xff" + b"A" * 100):
                s = socket.create_connection(("127.0.0.1", env.port), timeout=5)
                s.sendall(payload)
                t = closed_within(s, 5)
                s.close()
                check(t is not None, f"agent kept a connection open after {payload[:16]!r}")
                log(f"{payload[:16]!r}...: closed after {t:.2f}s")
                served(env, f"plaintext {payload[:8]!r}")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_silent(args):
    with Env(args, agent_args=AGENT_ARGS) as env:
        try:
            s = socket.create_connection(("127.0.0.1", env.port), timeout=5)
            t = closed_within(s, 10)
            s.close()
            check(t is not None and 1.5 <= t <= 4, f"TCP client without TLS: closed after {t}, want ~2 s")
            log(f"TCP client that never starts TLS: closed after {t:.2f}s")
            c = rawrpc.connect(env)
            t = closed_within(c.sock, 10)
            c.close()
            check(t is not None and t <= 4, f"TLS client without a frame: closed after {t}, want ~2 s")
            log(f"TLS client that never sends a frame: closed after {t:.2f}s")
            served(env, "silent clients")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_hugelen(args):
    with Env(args, agent_args=AGENT_ARGS) as env:
        try:
            rss0 = rawrpc.rss_kib(env.agent.pid)
            for kind in (rawrpc.DATA, rawrpc.PING):
                c = rawrpc.connect(env)
                c.send_frame(1, kind, b"x" * 1000, length=0xFFFFFFFF)
                t = closed_within(c.sock, 5)
                c.close()
                check(t is not None, f"a 4 GiB length prefix (kind {kind}) did not close the connection")
                log(f"4 GiB length prefix, kind {kind}: closed after {t:.2f}s")
            rss1 = rawrpc.rss_kib(env.agent.pid)
            log(f"agent RSS {rss0} KiB -> {rss1} KiB")
            rawrpc.check_rss_growth(env.agent.pid, rss1 - rss0, 16 * 1024, "4 GiB length prefix")
            served(env, "4 GiB length prefix")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_streams(args):
    with Env(args, agent_args=AGENT_ARGS) as env:
        try:
            n = 10000
            c = rawrpc.connect(env, timeout=30)
            # Sessions long enough to outlast the 10,000 frames however slowly a busy
            # machine serves them (with 2 s, the first 8 ended mid-way and 8 more were
            # admitted); closing the connection ends them.
            attach = rawrpc.attach_request("tcp-latency", 120_000_000_000, 1_000_000_000)
            t0 = time.monotonic()
            c.sock.sendall(b"".join(rawrpc.HEADER.pack(2 * i + 1, rawrpc.DATA, 0, len(attach)) + attach
                                    for i in range(n)))
            # The refusals come as statuses; the 8 served sessions run on (no status) and
            # show as "attached" streams. Read until every stream has answered one way.
            codes, attached = {}, set()
            deadline = time.monotonic() + 60
            while len(attached) + sum(codes.values()) < n and time.monotonic() < deadline:
                r = c.recv(max(0.1, deadline - time.monotonic()))
                check(r is not None, f"agent closed the connection; statuses so far {codes}, attached {len(attached)}")
                if r.kind == "attached":
                    attached.add(r.stream)
                elif r.kind == "status":
                    codes[r.code] = codes.get(r.code, 0) + 1
                    attached.discard(r.stream)
                    if r.code == rawrpc.RESOURCE_EXHAUSTED:
                        check("connection at its limit of 8" in r.message, f"stream {r.stream}: {r}")
            log(f"{n} Attach streams on one connection in {time.monotonic() - t0:.1f}s: "
                f"{len(attached)} attached, status codes {codes}")
            check(len(attached) == 8 and codes == {rawrpc.RESOURCE_EXHAUSTED: n - 8},
                  f"want 8 attached and {n - 8} RESOURCE_EXHAUSTED, got {len(attached)} attached and {codes}")
            c.close()
            served(env, f"{n} Attach streams")

            # Unary calls whose answers are never read: bounded by pausing the reader.
            rss0 = rawrpc.rss_kib(env.agent.pid)
            c = rawrpc.connect(env, timeout=30)
            req = rawrpc.list_probes_request()
            c.sock.sendall(b"".join(rawrpc.HEADER.pack(2 * i + 1, rawrpc.DATA, 0, len(req)) + req for i in range(n)))
            time.sleep(2)
            rss1 = rawrpc.rss_kib(env.agent.pid)
            log(f"{n} ListProbes not read: agent RSS {rss0} -> {rss1} KiB")
            rawrpc.check_rss_growth(env.agent.pid, rss1 - rss0, 32 * 1024, "unread answers")
            got = 0
            for i in range(n):
                st, _ = c.until_status(2 * i + 1, timeout=60)
                check(st.code == 0, f"ListProbes {i}: {st}")
                got += 1
                c.seen.pop(2 * i + 1, None)
            log(f"read all {got} answers after resuming")
            c.close()
            served(env, f"{n} unread ListProbes")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


BAD_ATTACH = [
    # (what, probe, duration, interval, params, want code, want text)
    ("unknown probe", "no-such-probe", 1, 1_000_000_000, [], rawrpc.NOT_FOUND, "unknown probe"),
    ("empty probe", "", 1, 1_000_000_000, [], rawrpc.NOT_FOUND, "unknown probe"),
    ("long probe name", "x" * 5000, 1, 1_000_000_000, [], rawrpc.NOT_FOUND, "unknown probe"),
    ("interval 0", "tcp-latency", 1_000_000_000, 0, [], rawrpc.INVALID_ARGUMENT, "interval"),
    ("interval 2^64-1", "tcp-latency", 1_000_000_000, 2**64 - 1, [], rawrpc.INVALID_ARGUMENT, "interval"),
    ("duration 2^64-1", "tcp-latency", 2**64 - 1, 1_000_000_000, [], rawrpc.INVALID_ARGUMENT, "duration"),
    ("pid 0", "tcp-latency", 1, 1_000_000_000, [("pid", "0")], rawrpc.INVALID_ARGUMENT, "'pid'"),
    ("pid 2^33", "tcp-latency", 1, 1_000_000_000, [("pid", str(2**33))], rawrpc.INVALID_ARGUMENT, "'pid'"),
    ("pid -1", "tcp-latency", 1, 1_000_000_000, [("pid", "-1")], rawrpc.INVALID_ARGUMENT, "'pid'"),
    ("port 70000", "tcp-latency", 1, 1_000_000_000, [("port", "70000")], rawrpc.INVALID_ARGUMENT, "'port'"),
    ("comm 64 bytes", "tcp-latency", 1, 1_000_000_000, [("comm", "c" * 64)], rawrpc.INVALID_ARGUMENT, "'comm'"),
    ("pid twice", "tcp-latency", 1, 1_000_000_000, [("pid", "1"), ("pid", "2")], rawrpc.INVALID_ARGUMENT, "twice"),
    ("unknown param", "tcp-latency", 1, 1_000_000_000, [("bytecode", "\x7fELF")], rawrpc.INVALID_ARGUMENT, "unknown parameter"),
    ("target for tcp-latency", "tcp-latency", 1, 1_000_000_000, [("target", "/bin/sh:main")], rawrpc.INVALID_ARGUMENT, "unsupported parameter"),
    ("cgroup escape", "exec", 1, 1_000_000_000, [("cgroup", "/../../etc")], rawrpc.INVALID_ARGUMENT, "'cgroup'"),
    ("top 0", "func-count", 1, 1_000_000_000, [("top", "0")], rawrpc.INVALID_ARGUMENT, "'top'"),
    ("freq 10^6", "profile", 1, 1_000_000_000, [("freq", "1000000")], rawrpc.INVALID_ARGUMENT, "'freq'"),
    ("target 4 KiB", "func-count", 1, 1_000_000_000, [("target", "/" + "a" * 4096 + ":f")], rawrpc.INVALID_ARGUMENT, "target"),
    ("everything at once", "x" * 300, 2**64 - 1, 0, [("pid", "-5"), ("port", "0"), ("comm", ""), ("zz", "")],
     rawrpc.NOT_FOUND, "unknown probe"),
]


def test_fields(args):
    with Env(args, agent_args=AGENT_ARGS) as env:
        try:
            c = rawrpc.connect(env)
            # a good stream runs alongside all the bad ones
            c.send(1, rawrpc.attach_request("tcp-latency", 3_000_000_000, 1_000_000_000))
            stream = 3
            for what, probe, dur, ival, params, code, text in BAD_ATTACH:
                c.send(stream, rawrpc.attach_request(probe, dur, ival, params))
                st, _ = c.until_status(stream)
                log(f"{what}: {st.code} {st.message[:120]!r}")
                check(st.code == code and text in st.message, f"{what}: want code {code} with {text!r}, got {st}")
                stream += 2
            for what, payload, code in (
                    ("empty Request", b"", rawrpc.INVALID_ARGUMENT),
                    ("unknown call", rawrpc.field_bytes(9, b""), rawrpc.INVALID_ARGUMENT),
                    ("Hello version 99", rawrpc.field_bytes(1, rawrpc.field_varint(1, 99)), rawrpc.FAILED_PRECONDITION)):
                c.send(stream, payload)
                st, _ = c.until_status(stream)
                log(f"{what}: {st}")
                check(st.code == code, f"{what}: want {code}, got {st}")
                stream += 2
            c.send(stream - 2, rawrpc.list_probes_request())  # a stream id reused: still answered
            c.send(0, rawrpc.hello_request())
            st, _ = c.until_status(0)
            check(st.code == rawrpc.INVALID_ARGUMENT, f"stream 0: {st}")
            c.send_frame(1, rawrpc.CANCEL + 10)  # unknown frame kind: the one thing that closes
            seen = c.seen.get(1, [])
            check(seen and seen[0].kind == "attached", f"good stream 1 did not attach: {seen}")
            t = closed_within(c.sock, 5)
            check(t is not None, "an unknown frame kind did not close the connection")
            c.close()
            served(env, "out-of-range fields")

            # the good stream on its own connection runs to the end despite bad neighbours
            c = rawrpc.connect(env)
            c.send(1, rawrpc.attach_request("tcp-latency", 2_000_000_000, 1_000_000_000))
            c.send(3, rawrpc.attach_request("tcp-latency", 1, 0))
            c.send(5, rawrpc.attach_request("nope"))
            st, seen = c.until_status(1, timeout=10)
            check(st.code == 0 and seen[0].kind == "attached", f"good stream next to bad ones: {seen}")
            c.close()
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


# Windows of a 1 s session; on an agent that trial-loads on its event loop the gap is one
# interval plus the whole first ListProbes (2 s and more on this machine).
WINDOW_GAP_MAX_S = 1.5
HELLO_MAX_S = 0.5
FLOOD_LIST_PROBES = 20


def probe_flags(resp):
    """{name: (supported, reason)} of a ListProbes answer."""
    out = {}
    for raw in resp.body.get(1, []):
        info = rawrpc.parse(raw)
        out[rawrpc.first(info, 1, b"").decode()] = (bool(rawrpc.first(info, 4)),
                                                   rawrpc.first(info, 5, b"").decode())
    return out


def probes_cli(env):
    rc, out, err = env.run_cli("probes", env.cli_argv(env.path("ca.pem"), env.path("client.pem"),
                                                       env.path("client.key"), "probes",
                                                       f"127.0.0.1:{env.port}", "--output", "json"))
    check(rc == 0, f"probes exited {rc}: {err[-300:]!r}")
    return {p["probe"]: (p["supported"], p.get("unsupported_reason", ""))
            for p in map(json.loads, filter(str.strip, out.splitlines()))}


def test_trials(args):
    with Env(args, agent_args=AGENT_ARGS) as env:
        try:
            session = rawrpc.connect(env, timeout=30)
            session.send(1, rawrpc.attach_request("tcp-latency", 60_000_000_000, 1_000_000_000))
            arrivals, stop_reading = [], threading.Event()

            def read_windows():
                while not stop_reading.is_set():
                    try:
                        r = session.recv(0.5)
                    except TimeoutError:
                        continue
                    if r is None or r.kind == "status":
                        return
                    if r.kind == "snapshot":
                        arrivals.append(time.monotonic())

            reader = threading.Thread(target=read_windows)
            reader.start()
            deadline = time.monotonic() + 20
            while len(arrivals) < 2 and time.monotonic() < deadline and reader.is_alive():
                time.sleep(0.05)
            check(len(arrivals) >= 2, f"the session sent {len(arrivals)} windows before the test began")

            # many waiting calls on one connection: the agent stops reading it at its bound
            flood = rawrpc.connect(env, timeout=60)
            flood.sock.sendall(b"".join(rawrpc.HEADER.pack(2 * i + 1, rawrpc.DATA, 0, len(req)) + req
                                        for i, req in enumerate([rawrpc.list_probes_request()] *
                                                                FLOOD_LIST_PROBES + [rawrpc.status_request()])))
            cli_answer = {}
            t0 = time.monotonic()
            cli = threading.Thread(target=lambda: cli_answer.update(probes_cli(env), took=time.monotonic() - t0))
            cli.start()
            pinger = rawrpc.connect(env)
            hellos, stream = [], 1
            while cli.is_alive():
                time.sleep(0.1)
                h0 = time.monotonic()
                pinger.send(stream, rawrpc.hello_request())
                st, _ = pinger.until_status(stream, timeout=60)
                check(st.code == 0, f"Hello during the trials: {st}")
                hellos.append(time.monotonic() - h0)
                stream += 2
            cli.join()
            t1 = time.monotonic()
            took = cli_answer.pop("took", None)
            check(took is not None, "tracectl probes failed (see above)")
            answers = []
            for i in range(FLOOD_LIST_PROBES + 1):
                st, seen = flood.until_status(2 * i + 1, timeout=60)
                check(st.code == 0, f"flooded call {i}: {st}")
                answers.append(seen[0])
            # one interval more after the answer: a late window shows as a long gap
            while time.monotonic() < t1 + 2.2 and reader.is_alive():
                time.sleep(0.05)
            stop_reading.set()
            reader.join()
            session.close()
            flood.close()
            pinger.close()

            around = [t for t in arrivals if t0 - 1.5 <= t <= t1 + 2.2]
            gaps = [b - a for a, b in zip(around, around[1:])]
            log(f"MEASURED first ListProbes (tracectl probes) {took:.2f}s; {len(hellos)} Hellos meanwhile, "
                f"slowest {max(hellos, default=0) * 1000:.0f} ms; windows {len(around)} around it, "
                f"gaps {', '.join(f'{g:.2f}' for g in gaps)} s")
            supported = sorted(n for n, (ok, _) in cli_answer.items() if ok)
            log(f"{len(supported)} of {len(cli_answer)} probes supported: {' '.join(supported)}")
            check(len(cli_answer) >= 18 and "tcp-latency" in supported, f"probes answer: {cli_answer}")
            for i, r in enumerate(answers[:-1]):
                check(r.kind == "probes" and probe_flags(r) == cli_answer,
                      f"flooded ListProbes {i} differs from the CLI's: {r.kind} {probe_flags(r)}")
            available = sorted(v.decode() for v in answers[-1].body.get(7, []))
            check(answers[-1].kind == "agent_status" and available == supported,
                  f"Status lists {available}, ListProbes {supported}")
            check(len(around) >= 3 and max(gaps) < WINDOW_GAP_MAX_S,
                  f"windows late while the first ListProbes ran ({took:.2f}s): gaps {gaps}")
            check(max(hellos, default=0) < HELLO_MAX_S,
                  f"Hellos waited up to {max(hellos):.2f}s while the first ListProbes ran ({took:.2f}s)")
            served(env, "the first ListProbes")

            # SIGTERM while the trial thread runs: the waiting call is told why, the thread
            # ends after its load in progress, exit 0 (and no leak under ASan).
            agent, port = env.start_agent()
            c = rawrpc.Conn(port, env.path("ca.pem"), env.path("client.pem"), env.path("client.key"))
            c.send(1, rawrpc.list_probes_request())
            # a catalog_only ListProbes (the CLI's check of a command line) does not wait
            # for the trials: names, kinds and parameters now, supported unset
            t_cat = time.monotonic()
            c.send(3, rawrpc.list_probes_request(catalog_only=True))
            st, seen = c.until_status(3, timeout=10)
            took_cat = time.monotonic() - t_cat
            flags = probe_flags(seen[0]) if seen and seen[0].kind == "probes" else {}
            log(f"catalog_only ListProbes during the trials: {len(flags)} probes in {took_cat * 1000:.0f} ms")
            check(st.code == 0 and len(flags) >= 18 and "tcp-latency" in flags and
                  rawrpc.first(seen[0].body, 2) == 1 and not any(ok for ok, _ in flags.values()),
                  f"catalog_only ListProbes: {st}, {flags}")
            check(not c.seen.get(1), "the catalog_only answer came after the full one: it waited for the trials")
            time.sleep(0.3)
            t_term = time.monotonic()
            agent.send_signal(signal.SIGTERM)
            st, _ = c.until_status(1, timeout=10)
            c.close()
            rc = agent.wait(timeout=10)
            log(f"SIGTERM 0.3 s into the trials: ListProbes answered {st}, exit {rc} after "
                f"{time.monotonic() - t_term:.2f}s")
            check(st.code in (0, rawrpc.UNAVAILABLE) and rc == 0, f"SIGTERM during the trials: {st}, exit {rc}")
            env.agents = [a for a in env.agents if a[1] is not agent]
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


if __name__ == "__main__":
    sys.exit(run_tests({"plaintext": test_plaintext, "silent": test_silent, "hugelen": test_hugelen,
                        "streams": test_streams, "fields": test_fields,
                        "trials": test_trials}, __doc__))
