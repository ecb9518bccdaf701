#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tcp-send end to end: a client making exactly 500 send() calls on one connection is counted exactly.
"""
tcp_send: tcp_workload makes exactly SENDS send() calls of SIZE bytes on one TCP connection
to a loopback server of the test's own; `tracectl attach tcp-send --pid PID` must report,
in its summary, the row for that pid with sends == SENDS and bytes == SENDS * SIZE, and no
row for another process (the kernel filter holds). tcp_send_tracepoint: the same on an
agent started with --no-tp-btf (the sock:sock_send_length tracepoint program; before 6.3,
where neither exists, the same fexit or kprobe programs either way).
"""
import sys

from harness import Env, Attach, check, hook_refused, hook_used, log, summaries, run_tests
from net_workload import Client, start_server

SENDS = 500
SIZE = 100


def check_hook(objs, fallback):
    """The hook in use: tp_btf by default where the kernel takes it (else the hook says why
    not: before 6.3 there is no such tracepoint), never with --no-tp-btf."""
    hook = objs[0].get("hook", "")
    log(f"hook: {hook}")
    tp_btf = hook_used(hook).startswith("tp_btf")
    check(not tp_btf if fallback else tp_btf or hook_refused(hook, "tp_btf"),
          f"{'--no-tp-btf' if fallback else 'default'}: hook {hook!r}")


def run(args, fallback):
    with Env(args, agent_args=["--no-tp-btf"] if fallback else []) as env:
        port = start_server(env)
        client = Client(env, "send", port, "--count", str(SENDS), "--size", str(SIZE))
        with Attach(env, "tcp-send", ["--pid", str(client.pid)], duration="30s") as a:
            client.go()
            client.wait_done()
            # the workload is done and counted: end the session now (the duration is a bound)
            a.end()
        objs = a.result()
        check_hook(objs, fallback)
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


def test_tcp_send(args):
    run(args, fallback=False)


def test_tcp_send_tracepoint(args):
    run(args, fallback=True)


if __name__ == "__main__":
    sys.exit(run_tests({"tcp_send": test_tcp_send, "tcp_send_tracepoint": test_tcp_send_tracepoint}, __doc__))
