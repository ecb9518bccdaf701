#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# End-to-end tests of the numbers a user reads: what is measured, which side, how hosts add up.
"""
self: tcp-latency aimed at the agent itself (--pid AGENT) and at a CLI attached to it
(--pid CLI, then that CLI interrupted: its cancel is answered) while a known workload
runs: zero samples, since those are
tracectl's own TLS links; the same session's workload, attached alongside by --pid of
its server, is still measured (REQUESTS samples at the known service time).
preaccepted: a server whose connection was accepted BEFORE the attach answers after
DELAY_MS: with --pid of the server, role=server holds exactly REQUESTS samples near
DELAY_MS and role=client nothing (the probe did not see the accept: the socket tells).
late: two agents, and the CLI stopped (SIGSTOP) for STOP_S mid-run so that one host's
windows come after their merged view was printed: they are shown on their own, marked
late, and the merged windows plus the late ones add up exactly to the merged summary
(both hosts see the same client: 2 x REQUESTS samples).
fleetdeath: two agents, one killed with SIGKILL mid-run: the merged summary keeps what
the dead host sent (it equals the sum of the merged windows shown) and says one host
died; the dead host's own summary (--per-host) is marked and not empty.
sigkill: the only agent killed with SIGKILL mid-run: the CLI prints the summary of what
arrived (equal to the windows it showed, marked died), then the error, and exits 3;
in JSON (the error object last) and in text (stdout and stderr in one stream).
Needs root (exits 77 otherwise).
"""
import os
import signal
import subprocess
import time

from harness import Attach, Env, LineReader, check, log, run_tests, summaries

REQUESTS = 40
DELAY_MS = 30
TOLERANCE = 0.05
STOP_S = 3
EXIT_UNREACHABLE = 3
EXIT_PARTIAL = 6


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

    def go(self):
        self.client.stdin.write(b"go\n")
        self.client.stdin.flush()

    def run(self):
        self.go()
        self.wait()

    def stop(self):
        """Ends client and server before their requests are done."""
        for proc in (self.client, self.server):
            proc.kill()
            proc.wait(5)

    def wait(self):
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
        work = Workload(env)
        # A CLI that will be interrupted: its cancel and the answer to it are its only
        # request/response after the attach, which a probe aimed at it must not measure.
        target = Attach(env, "tcp-latency", ["--pid", str(work.server.pid)], duration="30s")
        # Aimed at tracectl itself (by pid: other agents may share the machine, and each
        # leaves out its own links), and at the workload, all at once.
        at_agent = Attach(env, "tcp-latency", ["--pid", str(env.agent.pid)], duration="30s")
        at_cli = Attach(env, "tcp-latency", ["--pid", str(target.proc.pid)], duration="30s")
        sessions = [("pid-agent", at_agent), ("pid-cli", at_cli)]
        workload = Attach(env, "tcp-latency", ["--pid", str(work.server.pid)], duration="30s")
        work.run()
        target.end()
        target.result()
        # the workload is done: the other sessions end now too (their own cancels are
        # tracectl's connections as well, which they must not measure either)
        for a in (at_agent, at_cli, workload):
            a.end()
        for name, a in sessions:
            objs = a.result()
            counts = {o.get("series"): o["count"] for o in summaries(objs)}
            log(f"MEASURED {name}: summary counts {counts}")
            check(sum(counts.values()) == 0, f"{name}: tracectl's own connections measured: {counts}")
        check_service_time(workload.result(), "workload alongside")
        env.stop_agent_checked()


def test_preaccepted(args):
    with Env(args) as env:
        work = Workload(env)
        a = Attach(env, "tcp-latency", ["--pid", str(work.server.pid)], duration="30s")
        work.run()
        a.end()  # every request was answered and measured
        check_service_time(a.result(), "accepted before the attach")
        env.stop_agent_checked()


def shown_count(objs, host, series="role=client"):
    """Samples shown in the windows of host (the merged view's) plus the late windows."""
    merged = sum(o["count"] for o in objs if o["type"] == "snapshot" and o["host"] == host
                 and o.get("series") == series and not o.get("late"))
    late = sum(o["count"] for o in objs if o["type"] == "snapshot" and o.get("late")
               and o.get("series") == series)
    return merged, late


def summary_of(objs, host, series="role=client"):
    found = [o for o in summaries(objs) if o["host"] == host and o.get("series") == series]
    check(len(found) == 1, f"want one {series} summary of {host}, got {len(found)}")
    return found[0]


def test_late(args):
    with Env(args) as env:
        env.start_agent()
        hosts = ",".join(f"127.0.0.1:{port}" for _, _, port in env.agents)
        requests = 600
        work = Workload(env, requests=requests, delay_ms=5)
        a = Attach(env, "tcp-latency", ["--pid", str(work.client_pid)], duration="30s", hosts=hosts,
                   expect_attached=2)
        work.go()
        time.sleep(1.2)
        log(f"stopping the CLI (pid {a.proc.pid}) for {STOP_S} s")
        a.proc.send_signal(signal.SIGSTOP)
        time.sleep(STOP_S)
        a.proc.send_signal(signal.SIGCONT)
        work.wait()
        a.end()  # every request was answered and measured
        objs = a.result()
        merged, late = shown_count(objs, "*")
        summ = summary_of(objs, "*")["count"]
        nlate = len([o for o in objs if o.get("late")])
        log(f"MEASURED merged windows {merged} + late windows {late} ({nlate} late objects) = {merged + late}; "
            f"summary {summ}; truth 2 x {requests}")
        check(nlate > 0, f"no window came late although the CLI was stopped {STOP_S} s")
        check(merged + late == summ, f"windows shown add up to {merged} + {late} late, summary says {summ}")
        check(summ == 2 * requests, f"merged summary {summ}, want 2 x {requests}")
        env.stop_agent_checked()


def test_fleetdeath(args):
    with Env(args) as env:
        victim, victim_port = env.start_agent()
        hosts = [f"127.0.0.1:{port}" for _, _, port in env.agents]
        work = Workload(env, requests=400, delay_ms=10)
        a = Attach(env, "tcp-latency", ["--pid", str(work.client_pid), "--per-host"], duration="30s",
                   hosts=",".join(hosts), expect_attached=2)
        work.go()
        time.sleep(2.5)
        log(f"killing agent on port {victim_port} (pid {victim.pid}) with SIGKILL")
        victim.send_signal(signal.SIGKILL)
        victim.wait(5)
        work.wait()
        a.end()  # every request was answered and measured
        objs = a.result(want_exit=EXIT_PARTIAL)
        merged, late = shown_count(objs, "*")
        summ = summary_of(objs, "*")
        dead = summary_of(objs, f"127.0.0.1:{victim_port}")
        alive = summary_of(objs, hosts[0])
        log(f"MEASURED merged windows {merged} + late {late}; merged summary {summ['count']} "
            f"(hosts_died {summ.get('hosts_died')}); alive host {alive['count']}, dead host {dead['count']} "
            f"(hosts_died {dead.get('hosts_died')})")
        check(merged + late == summ["count"], f"windows shown add up to {merged} + {late} late, "
              f"the merged summary says {summ['count']}")
        check(summ.get("hosts_died") == 1, f"the merged summary does not say one host died: {summ}")
        check(dead.get("hosts_died") == 1 and dead["count"] > 0, f"the dead host's summary: {dead}")
        check(alive["count"] == 400 and "hosts_died" not in alive, f"the live host's summary: {alive}")
        check(summ["count"] == alive["count"] + dead["count"], "merged summary is not alive + dead")
        env.stop_agent_checked(skip=(victim,))


def test_sigkill(args):
    with Env(args) as env:
        work = Workload(env, requests=600, delay_ms=10)
        # JSON: summary of what arrived, then the error object, exit 3
        a = Attach(env, "tcp-latency", ["--pid", str(work.client_pid)], duration="10s")
        work.go()
        time.sleep(2.5)
        env.agent.send_signal(signal.SIGKILL)
        env.agent.wait(5)
        objs = a.result(want_exit=EXIT_UNREACHABLE)
        host = f"127.0.0.1:{env.port}"
        merged, late = shown_count(objs, host)
        summ = summary_of(objs, host)
        log(f"MEASURED json: windows {merged} + late {late}; summary {summ['count']} "
            f"(hosts_died {summ.get('hosts_died')}); last object {objs[-1].get('type')}")
        check(summ["count"] > 0 and summ["count"] == merged + late,
              f"summary {summ['count']}, windows shown {merged} + {late}")
        check(summ.get("hosts_died") == 1, f"the summary does not say the host died: {summ}")
        check(objs[-1]["type"] == "error" and objs[-1]["exit_code"] == EXIT_UNREACHABLE,
              f"the error is not the last object: {objs[-1]}")
        check(all(o["type"] != "error" for o in objs[:-1]), "an error before the summary")
        work.stop()

        # text: stdout and stderr in one stream, the summary before the error
        agent, port = env.start_agent()
        work = Workload(env, requests=600, delay_ms=10)
        argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                            f"127.0.0.1:{port}", "tcp-latency", "--duration", "10s", "--interval", "1s",
                            "--pid", str(work.client_pid))
        cli = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        env.procs.append(("cli-text", cli))
        out = LineReader(cli.stdout, "cli-text")
        line = out.readline(30)
        check(line is not None and line.startswith("Attached"), f"the text CLI said {line!r}")
        work.go()
        time.sleep(2.5)
        agent.send_signal(signal.SIGKILL)
        agent.wait(5)
        while out.readline(30) is not None:
            pass
        rc = cli.wait(10)
        text = "\n".join(out.lines)
        print("----- text output -----\n" + text + "\n-----------------------", flush=True)
        check(rc == EXIT_UNREACHABLE, f"text CLI exited {rc}, want {EXIT_UNREACHABLE}")
        heads = [i for i, l in enumerate(out.lines) if l.startswith("=== Summary") and "role=client" in l]
        errors = [i for i, l in enumerate(out.lines) if l.startswith("tracectl: ")]
        check(len(heads) == 1 and "died" in out.lines[heads[0]], f"no summary marked died: {heads}")
        count_line = out.lines[heads[0] + 1].split()
        check(count_line[0] == "count" and int(count_line[1]) > 0, f"summary line {count_line}")
        check(errors and errors[-1] > heads[0], "the error is not printed after the summary")
        log(f"MEASURED text: summary count {count_line[1]}, error line: {out.lines[errors[-1]]!r}")
        work.stop()
        env.stop_agent_checked(skip=(env.agent, agent))


TESTS = {"self": test_self, "preaccepted": test_preaccepted, "late": test_late, "fleetdeath": test_fleetdeath,
         "sigkill": test_sigkill}

if __name__ == "__main__":
    raise SystemExit(run_tests(TESTS, __doc__))
