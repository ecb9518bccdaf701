#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tcp-send end to end: a client making exactly 500 send() calls on one connection is counted exactly.
"""
tcp_send: tcp_workload makes exactly SENDS send() calls of SIZE bytes on one TCP connection
to a loopback server of the test's own; `tracectl attach tcp-send --pid PID` must report,
in its summary, the row for that pid with sends == SENDS and bytes == SENDS * SIZE, and no
row for another process (the kernel filter holds).
"""
import sys

from harness import Env, Attach, check, log, summaries, run_tests
from net_workload import Client, start_server

SENDS = 500
SIZE = 100


def test_tcp_send(args):
    with Env(args) as env:
        port = start_server(env)
        client = Client(env, "send", port, "--count", str(SENDS), "--size", str(SIZE))
        with Attach(env, "tcp-send", ["--pid", str(client.pid)], duration="4s") as a:
            client.go()
            client.wait_done()
        objs = a.result()
        sums = summaries(objs)
        check(len(sums) == 1, f"want one summary, got {len(sums)}")
        rows = sums[0].get("rows", [])
        log(f"summary rows: {rows}")
        check(all(r.get("pid") == client.pid for r in rows), f"rows of other processes leaked: {rows}")
        mine = [r for r in rows if r.get("pid") == client.pid]
        check(len(mine) == 1, f"want one row for pid {client.pid}, got {mine}")
        row = mine[0]
        check(row.get("comm") == "tcp_workload", f"comm {row.get('comm')!r}, want 'tcp_workload'")
        check(row.get("sends") == SENDS, f"sends {row.get('sends')}, want {SENDS}")
        check(row.get("bytes") == SENDS * SIZE, f"bytes {row.get('bytes')}, want {SENDS * SIZE}")
        log(f"measured: sends={row['sends']} bytes={row['bytes']} (ground truth {SENDS}, {SENDS * SIZE})")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"tcp_send": test_tcp_send}, __doc__))
