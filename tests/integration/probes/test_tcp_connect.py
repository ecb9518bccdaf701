#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tcp-connect end to end: exactly 50 connects to a loopback listener give exactly 50 latency samples.
"""
tcp_connect: tcp_workload makes exactly CONNECTS connect() calls to a loopback listener of
the test's own; `tracectl attach tcp-connect --pid PID` must report, in its summary for
series "all", exactly CONNECTS samples, with 0 < p50 <= max < 1 s.
tcp_connect_by_remote: the same with --by remote: exactly one series,
"remote=127.0.0.1:PORT", with exactly CONNECTS samples.
"""
import sys

from harness import Env, Attach, check, log, summaries, run_tests
from net_workload import Client, start_server

CONNECTS = 50
SECOND = 1_000_000_000


def run(args, by_remote):
    with Env(args) as env:
        port = start_server(env)
        client = Client(env, "connect", port, "--count", str(CONNECTS))
        extra = ["--pid", str(client.pid)] + (["--by", "remote"] if by_remote else [])
        with Attach(env, "tcp-connect", extra, duration="4s") as a:
            client.go()
            client.wait_done()
        objs = a.result()
        sums = {o["series"]: o for o in summaries(objs)}
        log(f"summary series: { {k: (v['count'], v['p50_ns'], v['p99_ns'], v['max_ns']) for k, v in sums.items()} }")
        want = f"remote=127.0.0.1:{port}" if by_remote else "all"
        check(list(sums) == [want], f"want exactly the series {want!r}, got {sorted(sums)}")
        s = sums[want]
        check(s["count"] == CONNECTS, f"series {want}: {s['count']} samples, want {CONNECTS}")
        check(0 < s["p50_ns"] <= s["max_ns"] < SECOND, f"series {want}: p50 {s['p50_ns']} max {s['max_ns']}")
        log(f"measured: {want}: samples={s['count']} p50={s['p50_ns']}ns p99={s['p99_ns']}ns max={s['max_ns']}ns")
        env.stop_agent_checked()


def test_tcp_connect(args):
    run(args, by_remote=False)


def test_tcp_connect_by_remote(args):
    run(args, by_remote=True)


if __name__ == "__main__":
    sys.exit(run_tests({"tcp_connect": test_tcp_connect, "tcp_connect_by_remote": test_tcp_connect_by_remote},
                       __doc__))
