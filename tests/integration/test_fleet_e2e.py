#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Fleet end-to-end tests: one CLI, many real agents on loopback, merged and per-host results, partial failure.
"""
fleet_merge: 8 agents share this kernel, so each sees the same workload (a client
making exactly 500 TCP sends): a pid is one host's, so the merged tcp-send table keeps
the host in its key: 8 rows for that pid, one per host, of exactly 500 each (never one
row of 8 x 500), and each host's own summary exactly 500, with host on every JSON object.
fleet_partial: 3 agents plus a closed port; one agent is killed with SIGKILL in the
middle of the session. The two others must still deliver complete, correct results,
both failures must be named, the merged summary keeps what the killed host sent before
it died (marked), and the exit status must say "partial" (6).
fleet_fd_limit: 100 hosts (one agent, 99 closed ports) from a CLI started with a soft
open-file limit of 64: it raises the limit itself, reaches every host (the agent answers,
the 99 others are named unreachable, none "Too many open files"); with the hard limit at
64 too, it refuses before connecting, naming the 116 files needed and the 64 allowed.
"""
import os
import resource
import signal
import subprocess
import sys
import time

from harness import Attach, Env, LineReader, check, free_port, log, run_tests, summaries

from net_workload import Client as TcpClient, start_server as start_tcp_server

REQUESTS = 200
SENDS = 500
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


def send_row(objs, host, pid):
    found = [o for o in summaries(objs) if o["host"] == host]
    check(len(found) == 1, f"want one summary for host {host}, got {len(found)}")
    rows = [r for r in found[0].get("rows", []) if r.get("pid") == pid]
    check(len(rows) == 1, f"{host}: want one row for pid {pid}, got {found[0].get('rows')}")
    return found[0], rows[0]


def test_merge(args):
    with Env(args) as env:
        for _ in range(7):
            env.start_agent()
        hosts = [f"127.0.0.1:{port}" for _, _, port in env.agents]
        port = start_tcp_server(env)
        client = TcpClient(env, "send", port, "--count", str(SENDS), "--size", "100")
        t0 = time.monotonic()
        with Attach(env, "tcp-send", ["--pid", str(client.pid), "--per-host"], duration="4s",
                    hosts=",".join(hosts), expect_attached=len(hosts)) as a:
            log(f"all {len(hosts)} agents attached {time.monotonic() - t0:.2f}s after the command started")
            client.go()
            client.wait_done()
        objs = a.result()
        check(all("host" in o for o in objs), "an object without host")
        merged = [o for o in summaries(objs) if o["host"] == "*"]
        check(len(merged) == 1, f"want one merged summary, got {len(merged)}")
        merged = merged[0]
        rows = {r.get("host"): r for r in merged.get("rows", []) if r.get("pid") == client.pid}
        log(f"merged summary over {merged.get('hosts')} hosts: pid {client.pid} rows "
            f"{ {h: r['sends'] for h, r in rows.items()} }")
        check(len([r for r in merged["rows"] if r.get("pid") == client.pid]) == len(hosts) and sorted(rows) == sorted(hosts),
              f"merged rows of pid {client.pid}: want one per host {hosts}, got {merged['rows']}")
        for h, r in rows.items():
            check(r["sends"] == SENDS, f"merged row of {h}: sends {r['sends']}, want {SENDS}")
        check(merged.get("hosts") == len(hosts) and merged.get("hosts_total") == len(hosts),
              f"merged summary says hosts={merged.get('hosts')}/{merged.get('hosts_total')}")
        for h in hosts:
            _, r = send_row(objs, h, client.pid)
            check(r["sends"] == SENDS, f"{h}: sends {r['sends']}, want {SENDS}")
            check("host" not in r, f"{h}: a per-host view with a host column: {r}")
        # aligned windows: the merged per-interval rows add up to the merged summary, host by host
        for h in hosts:
            total = sum(r["sends"] for o in objs if o["type"] == "snapshot" and o["host"] == "*"
                        for r in o.get("rows", []) if r.get("pid") == client.pid and r.get("host") == h)
            check(total == SENDS, f"merged windows of {h} add up to {total}, summary says {SENDS}")
        fleet = [o for o in objs if o["type"] == "fleet"]
        check(len(fleet) == 1 and fleet[0]["hosts_answered"] == len(hosts), f"fleet line {fleet}")
        log(f"PASS merge: {len(hosts)} hosts, one merged row each of {SENDS} sends for pid {client.pid}")
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
        # the killed host's part is what it sent before it died, as the merged windows showed it
        shown = sum(o["count"] for o in objs if o["type"] == "snapshot" and o.get("series") == "role=client"
                    and (o["host"] == "*" or o.get("late")))
        check(merged["count"] == shown and merged["count"] >= survivors * REQUESTS,
              f"merged count {merged['count']}, want the {shown} shown: {survivors} x {REQUESTS} from the "
              f"surviving hosts and what the killed one sent")
        check(merged.get("hosts_died") == 1, f"the merged summary does not say a host died: {merged}")
        fleet = [o for o in objs if o["type"] == "fleet"][0]
        check(fleet["hosts_answered"] == survivors and sorted(fleet["failed"]) ==
              sorted([f"127.0.0.1:{closed}", f"127.0.0.1:{victim_port}"]), f"fleet line {fleet}")
        log(f"PASS partial: {survivors} hosts answered with {merged['count']} samples; exit {EXIT_PARTIAL}")
        env.stop_agent_checked(skip=(victim,))


def test_fd_limit(args):
    with Env(args) as env:
        closed = set()
        while len(closed) < 99:
            closed.add(free_port())
        hosts = [f"127.0.0.1:{env.port}"] + [f"127.0.0.1:{p}" for p in sorted(closed)]
        inventory = os.path.join(env.dir, "inventory")
        with open(inventory, "w") as f:
            f.write("\n".join(hosts) + "\n")
        os.chmod(inventory, 0o644)
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        attach = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                              "@" + inventory, "tp-count", "--target", "sched:sched_process_exec",
                              "--duration", "1s", "--output", "json")
        rc, out, err = env.run_cli("raised", ["prlimit", f"--nofile=64:{hard}", "--"] + attach)
        check("Too many open files" not in out + err and "open files" not in err,
              f"the CLI did not raise its soft limit of 64 for 100 hosts: {err[-300:]}")
        errors = [line for line in out.splitlines() if '"type":"error"' in line]
        check(rc == EXIT_PARTIAL and len(errors) == 99 and all("cannot connect" in e for e in errors),
              f"exit {rc}, {len(errors)} errors, want {EXIT_PARTIAL} and the 99 closed ports: {errors[:2]}")
        rc, out, err = env.run_cli("refused", ["prlimit", "--nofile=64:64", "--"] + attach)
        check(rc == 2 and "100 hosts need 116 open files" in err and "at most 64" in err and not out,
              f"exit {rc}, want 2 and a refusal naming 116 files needed and 64 allowed: {err[-300:]!r}")
        log("PASS fd_limit: soft 64 raised for 100 hosts; hard 64 refused: " + err.strip().splitlines()[-1])
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"merge": test_merge, "partial": test_partial, "fd_limit": test_fd_limit}, __doc__))
