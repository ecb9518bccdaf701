#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Fleet end-to-end tests: one CLI, many real agents on loopback, merged and per-host results, partial failure.
"""
fleet_merge: 8 agents share this kernel, so each sees the same workload (a client
making exactly 200 requests): the merged summary must count exactly 8 x 200 and each
host's own summary exactly 200, with host on every JSON object.
fleet_partial: 3 agents plus a closed port; one agent is killed with SIGKILL in the
middle of the session. The two others must still deliver complete, correct results,
both failures must be named, and the exit status must say "partial" (6).
"""
import os
import signal
import subprocess
import sys
import time

from harness import Attach, Env, LineReader, check, free_port, log, run_tests, summaries

REQUESTS = 200
DELAY_MS = 5
EXIT_PARTIAL = 6
EXIT_UNREACHABLE = 3


def start_workload(env):
    tools = env.args.tools
    server = env.spawn("latency_server", [os.path.join(tools, "latency_server"), "--listen", "127.0.0.1:0",
                                          "--delay-ms", str(DELAY_MS), "--max-seconds", "100"],
                       stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    line = LineReader(server.stdout, "latency_server").readline(10)
    check(line and line.startswith("listening "), f"latency_server said {line!r}")
    client = env.spawn("latency_client", [os.path.join(tools, "latency_client"), "--connect",
                                          f"127.0.0.1:{line.split()[1]}", "--wait-go", "--requests",
                                          str(REQUESTS), "--timeout-seconds", "100"],
                       stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    out = LineReader(client.stdout, "latency_client")
    line = out.readline(10)
    check(line and line.startswith("ready "), f"latency_client said {line!r}")
    return client, out, int(line.split()[1])


def go(client, out):
    client.stdin.write(b"go\n")
    client.stdin.flush()
    line = out.readline(60)
    check(line == f"done {REQUESTS}", f"latency_client said {line!r}, want 'done {REQUESTS}'")


def client_summary(objs, host):
    found = [o for o in summaries(objs) if o["host"] == host and o.get("series") == "role=client"]
    check(len(found) == 1, f"want one role=client summary for host {host}, got {len(found)}")
    return found[0]


def test_merge(args):
    with Env(args) as env:
        for _ in range(7):
            env.start_agent()
        hosts = [f"127.0.0.1:{port}" for _, _, port in env.agents]
        client, out, pid = start_workload(env)
        t0 = time.monotonic()
        with Attach(env, "tcp-latency", ["--pid", str(pid), "--per-host"], duration="4s",
                    hosts=",".join(hosts), expect_attached=len(hosts)) as a:
            log(f"all {len(hosts)} agents attached {time.monotonic() - t0:.2f}s after the command started")
            go(client, out)
        objs = a.result()
        check(all("host" in o for o in objs), "an object without host")
        merged = client_summary(objs, "*")
        log(f"merged summary: count {merged['count']} over {merged.get('hosts')} hosts, p50 {merged['p50_ns'] / 1e6:.3f} ms")
        check(merged["count"] == len(hosts) * REQUESTS,
              f"merged count {merged['count']}, want {len(hosts)} x {REQUESTS}")
        check(merged.get("hosts") == len(hosts) and merged.get("hosts_total") == len(hosts),
              f"merged summary says hosts={merged.get('hosts')}/{merged.get('hosts_total')}")
        for h in hosts:
            s = client_summary(objs, h)
            check(s["count"] == REQUESTS, f"{h}: count {s['count']}, want {REQUESTS}")
        # aligned windows: the merged per-interval counts add up to the merged summary
        windows = [o for o in objs if o["type"] == "snapshot" and o["host"] == "*" and o["series"] == "role=client"]
        total = sum(o["count"] for o in windows)
        check(total == merged["count"], f"merged windows add up to {total}, summary says {merged['count']}")
        fleet = [o for o in objs if o["type"] == "fleet"]
        check(len(fleet) == 1 and fleet[0]["hosts_answered"] == len(hosts), f"fleet line {fleet}")
        log(f"PASS merge: {len(hosts)} hosts x {REQUESTS} = {merged['count']}; {len(windows)} merged windows")
        env.stop_agent_checked()


def test_partial(args):
    with Env(args) as env:
        env.start_agent()
        victim, victim_port = env.start_agent()
        closed = free_port()
        hosts = [f"127.0.0.1:{port}" for _, _, port in env.agents] + [f"127.0.0.1:{closed}"]
        client, out, pid = start_workload(env)
        with Attach(env, "tcp-latency", ["--pid", str(pid)], duration="4s", hosts=",".join(hosts),
                    expect_attached=3) as a:
            go(client, out)
            time.sleep(0.3)
            log(f"killing agent on port {victim_port} (pid {victim.pid}) with SIGKILL")
            victim.send_signal(signal.SIGKILL)
            victim.wait(5)
        objs = a.result(want_exit=EXIT_PARTIAL)
        errors = {o["host"]: o for o in objs if o["type"] == "error"}
        log(f"errors: { {h: e['error'] for h, e in errors.items()} }")
        check(f"127.0.0.1:{closed}" in errors and errors[f"127.0.0.1:{closed}"]["exit_code"] == EXIT_UNREACHABLE,
              "the closed port is not named as unreachable")
        check(f"127.0.0.1:{victim_port}" in errors, "the killed agent is not named")
        merged = client_summary(objs, "*")
        survivors = len(hosts) - 2
        check(merged["count"] == survivors * REQUESTS,
              f"merged count {merged['count']}, want {survivors} x {REQUESTS} from the surviving hosts")
        fleet = [o for o in objs if o["type"] == "fleet"][0]
        check(fleet["hosts_answered"] == survivors and sorted(fleet["failed"]) ==
              sorted([f"127.0.0.1:{closed}", f"127.0.0.1:{victim_port}"]), f"fleet line {fleet}")
        log(f"PASS partial: {survivors} hosts answered with {merged['count']} samples; exit {EXIT_PARTIAL}")
        env.stop_agent_checked(skip=(victim,))


if __name__ == "__main__":
    sys.exit(run_tests({"merge": test_merge, "partial": test_partial}, __doc__))
