#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# End-to-end tests of the numbers a user reads: what is measured, which side, how hosts add up.
"""
self: tcp-latency aimed at the agent itself (--pid AGENT) and at a CLI attached to it
(--pid CLI) while a known workload runs: zero samples, since those are
tracectl's own TLS links; the same session's workload, attached alongside by --pid of
its server, is still measured (REQUESTS samples at the known service time).
preaccepted: a server whose connection was accepted BEFORE the attach answers after
DELAY_MS: with --pid of the server, role=server holds exactly REQUESTS samples near
DELAY_MS and role=client nothing (the probe did not see the accept: the socket tells).
Needs root (exits 77 otherwise).
"""
import os
import subprocess

from harness import Attach, Env, LineReader, check, log, run_tests, summaries

REQUESTS = 40
DELAY_MS = 30
TOLERANCE = 0.05


class Workload:
    """latency_server + one latency_client connected (and accepted) before any attach."""

    def __init__(self, env, requests=REQUESTS, delay_ms=DELAY_MS):
        tools = env.args.tools
        self.requests = requests
        self.server = env.spawn("latency_server", [
            os.path.join(tools, "latency_server"), "--listen", "127.0.0.1:0", "--delay-ms", str(delay_ms),
            "--max-seconds", "100"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = LineReader(self.server.stdout, "latency_server").readline(10)
        check(line and line.startswith("listening "), f"latency_server said {line!r}")
        self.client = env.spawn("latency_client", [
            os.path.join(tools, "latency_client"), "--connect", f"127.0.0.1:{line.split()[1]}", "--wait-go",
            "--requests", str(requests), "--timeout-seconds", "100"], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        self.out = LineReader(self.client.stdout, "latency_client")
        line = self.out.readline(10)
        check(line and line.startswith("ready "), f"latency_client said {line!r}")
        self.client_pid = int(line.split()[1])

    def run(self):
        self.client.stdin.write(b"go\n")
        self.client.stdin.flush()
        line = self.out.readline(60)
        check(line == f"done {self.requests}", f"latency_client said {line!r}, want 'done {self.requests}'")


def series_summary(objs, series):
    found = [o for o in summaries(objs) if o.get("series") == series]
    check(len(found) <= 1, f"{len(found)} summaries of {series}")
    return found[0] if found else {"count": 0}


def check_service_time(objs, what):
    server = series_summary(objs, "role=server")
    client = series_summary(objs, "role=client")
    log(f"MEASURED {what}: role=server count {server['count']} p50 {server.get('p50_ns', 0) / 1e6:.2f} ms, "
        f"role=client count {client['count']} (truth: {REQUESTS} requests, {DELAY_MS} ms each)")
    check(abs(server["count"] - REQUESTS) <= 1, f"{what}: role=server count {server['count']}, want {REQUESTS}")
    want = DELAY_MS * 1e6
    check(abs(server["p50_ns"] - want) <= TOLERANCE * want,
          f"{what}: role=server p50 {server['p50_ns']} ns, want {want:.0f} ns +/- 5%")
    check(client["count"] == 0, f"{what}: role=client has {client['count']} samples of a server's sockets")


def test_self(args):
    with Env(args) as env:
        try:
            work = Workload(env)
            # Three sessions at once: two aimed at tracectl itself (by pid: other agents may
            # share the machine, and each leaves out its own links), one at the workload.
            at_agent = Attach(env, "tcp-latency", ["--pid", str(env.agent.pid)], duration="6s")
            at_cli = Attach(env, "tcp-latency", ["--pid", str(at_agent.proc.pid)], duration="6s")
            sessions = [("pid-agent", at_agent), ("pid-cli", at_cli)]
            workload = Attach(env, "tcp-latency", ["--pid", str(work.server.pid)], duration="6s")
            work.run()
            for name, a in sessions:
                objs = a.result()
                counts = {o.get("series"): o["count"] for o in summaries(objs)}
                log(f"MEASURED {name}: summary counts {counts}")
                check(sum(counts.values()) == 0, f"{name}: tracectl's own connections measured: {counts}")
            check_service_time(workload.result(), "workload alongside")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_preaccepted(args):
    with Env(args) as env:
        try:
            work = Workload(env)
            a = Attach(env, "tcp-latency", ["--pid", str(work.server.pid)], duration="5s")
            work.run()
            check_service_time(a.result(), "accepted before the attach")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


TESTS = {"self": test_self, "preaccepted": test_preaccepted}

if __name__ == "__main__":
    raise SystemExit(run_tests(TESTS, __doc__))
