#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# What a new user meets (issue 19): refusals before attaching, error messages that say what to do,
# gate verdicts, help and status text. The CLI runs as nobody against a real agent.
"""
formats: an output format the probe's kind cannot show (svg or folded of a histogram,
prom of events) is refused before attaching: exit 2 at once, no file written; a format
that fits still runs.
errors: a probe name typo gets the nearest name; --measure is an option; unknown
options say tracectl:, not the binary's path; gate --max p95 names the unknown
metric; --sort names no column: refused with the columns; a port that is not an
agent gets "is this a tracectl-agent?"; probes HOST PROBE shows that probe only.
gate: against a server answering after 20 ms, a failed --max row reads "measured > limit",
a failed --min "measured < limit", a passed one "<="; JUnit class names have no dots inside
the host or series and carry time attributes (the 6 s run); a gate stopped with Ctrl-C
says it was interrupted and exits 8 with no verdict.
text: --help gives tp-count's --target as CATEGORY:PATTERN; the man page lists --sort and
--per-host once each; status labels a session's two times ("running for", "left") and
prints uptime in units; with -o FILE a status line shows on the terminal (stderr) while
the output goes to the file.
json: a histogram summary carries p999_ns (p99 <= p999 <= max), the figure a gate's
--max p999 judges.
"""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

from harness import Env, LineReader, check, log, run_tests, tail
from test_cli_e2e import run_on_pty
from test_gate_e2e import Workload, traced_run

MAN_PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "man", "tracectl.1")


def cli(env, *rest):
    return env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), *rest)


def writable_dir(env):
    """A directory nobody may write into, for -o files."""
    d = os.path.join(env.dir, "out")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o777)
    return d


def host(env):
    return f"127.0.0.1:{env.port}"


def test_formats(args):
    with Env(args) as env:
        out = writable_dir(env)
        cases = [("tcp-latency", "svg", "histogram"), ("tcp-latency", "folded", "histogram"),
                 ("exec", "prom", "events"), ("exec", "svg", "events")]
        for probe, fmt, kind in cases:
            path = os.path.join(out, f"{probe}.{fmt}")
            t0 = time.monotonic()
            rc, stdout, err = env.run_cli(f"{probe}-{fmt}", cli(env, "attach", host(env), probe, "-d", "20s",
                                                                "--output", fmt, "-o", path))
            took = time.monotonic() - t0
            check(rc == 2, f"{probe} --output {fmt}: exit {rc}, want 2 (refused); stderr {err!r}")
            check(took < 10, f"{probe} --output {fmt}: refused after {took:.1f}s of a 20 s run, not before attaching")
            check(f"--output {fmt}" in err and kind in err,
                  f"{probe} --output {fmt}: the refusal names neither the format nor the kind {kind}: {err!r}")
            check(not os.path.exists(path), f"{probe} --output {fmt}: {path} was written although refused")
            check(stdout == "", f"{probe} --output {fmt}: printed {stdout[:200]!r}")
            log(f"formats: {probe} --output {fmt} refused in {took:.2f}s, exit 2, no file: {err.strip()!r}")
        # formats that fit the kind still run and write their file
        for probe, fmt in (("syscalls", "prom"), ("syscalls", "folded")):
            path = os.path.join(out, f"{probe}.{fmt}")
            rc, _, err = env.run_cli(f"{probe}-{fmt}", cli(env, "attach", host(env), probe, "-d", "1s",
                                                           "--output", fmt, "-o", path))
            check(rc == 0, f"{probe} --output {fmt}: exit {rc}, want 0; {err!r}")
            size = os.path.getsize(path) if os.path.exists(path) else -1
            check(size > 0, f"{probe} --output {fmt}: {path} has {size} bytes")
            log(f"formats: {probe} --output {fmt} runs, {size} bytes written")
        env.stop_agent_checked()


def serve_not_an_agent(reply):
    """A loopback TCP server that answers every connection with reply (b'' closes at once)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                if reply:
                    conn.sendall(reply)
                    time.sleep(0.2)
        srv.close()

    threading.Thread(target=loop, daemon=True).start()
    return srv.getsockname()[1], stop


def test_errors(args):
    with Env(args) as env:
        # a typo, plain and with a format that makes the CLI look the probe up first
        for extra in ([], ["--output", "svg"]):
            rc, _, err = env.run_cli("typo", cli(env, "attach", host(env), "tcp-latncy", "-d", "1s", *extra))
            check(rc == 5, f"tcp-latncy {extra}: exit {rc}, want 5")
            check("did you mean tcp-latency?" in err, f"tcp-latncy {extra}: no suggestion in {err!r}")
            check(err.count("unknown probe") == 1, f"tcp-latncy {extra}: said twice: {err!r}")
        log(f"errors: typo answered with {err.strip()!r}")

        # --measure, as 'probes' lists it, is an option
        rc, out, err = env.run_cli("measure", cli(env, "attach", host(env), "syscalls", "--measure", "count",
                                                  "-d", "1s", "--output", "json"))
        check(rc == 0, f"syscalls --measure count: exit {rc}, {err!r}")
        check(any(json.loads(l).get("type") == "summary" for l in out.splitlines() if l.strip()),
              "syscalls --measure count printed no summary")
        # every parameter 'probes' lists as --NAME is an option of the CLI
        rc, out, err = env.run_cli("params", cli(env, "probes", host(env), "--output", "json"))
        check(rc == 0, f"probes exited {rc}: {err!r}")
        listed = sorted({n for l in out.splitlines() if l.strip() for n in json.loads(l)["params"]})
        sample = {"pid": "1", "comm": "a", "port": "1", "top": "1", "freq": "1", "target": "a:b", "by": "pid",
                  "cgroup": "/", "measure": "count"}
        for name in listed:
            rc, _, err = env.run_cli(f"opt-{name}", [env.cli_path, f"--{name}", sample.get(name, "1"), "--help"])
            check(rc == 0, f"probes lists --{name}, the CLI refuses it: exit {rc}, {err!r}")
        log(f"errors: every listed parameter is an option: {listed}")
        rc, _, err = env.run_cli("bogus", cli(env, "attach", host(env), "syscalls", "--bogus"))
        check(rc == 2 and err.startswith("tracectl: unknown option '--bogus'"),
              f"--bogus: exit {rc}, {err!r}")
        check(env.cli_path not in err, f"the message names the binary's path: {err!r}")
        # --NAME VALUE is a probe parameter only if the agent's catalog has one of that name
        rc, out, err = env.run_cli("bogus-value", cli(env, "attach", host(env), "syscalls", "--bogus", "3", "-d", "1s"))
        check(rc == 2 and err.startswith("tracectl: unknown option '--bogus' (nor a parameter of any probe"),
              f"--bogus 3: exit {rc}, {err!r}")
        check("Attached" not in out, f"--bogus 3: attached anyway: {out[:200]!r}")
        log(f"errors: --measure accepted; {err.splitlines()[0]!r}")

        # gate: a percentile it does not compute is named, with the ones it does
        rc, _, err = env.run_cli("p95", cli(env, "gate", host(env), "tcp-latency", "-d", "1s", "--max", "p95=1ms"))
        check(rc == 2 and "unknown metric 'p95'" in err and "p99" in err and "p999" in err,
              f"--max p95=1ms: exit {rc}, {err!r}")
        check("not a number" not in err, f"--max p95=1ms still says 'not a number': {err!r}")
        log(f"errors: {err.strip()!r}")

        # --sort by a column the table does not have: refused, the columns listed, nothing shown
        t0 = time.monotonic()
        rc, out, err = env.run_cli("sort", cli(env, "attach", host(env), "syscalls", "--sort", "cpu", "-d", "20s"))
        took = time.monotonic() - t0
        check(rc == 2, f"--sort cpu: exit {rc}, want 2; {err!r}")
        check("no column 'cpu'" in err and "count" in err, f"--sort cpu: the columns are not listed: {err!r}")
        check(took < 10, f"--sort cpu: refused after {took:.1f}s of a 20 s run")
        shown = [line for line in out.splitlines() if line.strip() and not line.startswith("Attached ")]
        check(not shown, f"--sort cpu: something was printed after attaching: {out[:300]!r}")
        log(f"errors: --sort cpu refused after {took:.2f}s: {err.strip().splitlines()[-1]!r}")

        # something that is not an agent on the port
        for reply in (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", b""):
            port, stop = serve_not_an_agent(reply)
            try:
                rc, _, err = env.run_cli("not-agent", cli(env, "status", f"127.0.0.1:{port}",
                                                          "--connect-timeout", "3s"))
            finally:
                stop.set()
            check(rc in (3, 4), f"a non-TLS port ({reply[:8]!r}): exit {rc}")
            check("is this a tracectl-agent?" in err, f"a non-TLS port ({reply[:8]!r}): no hint in {err!r}")
            log(f"errors: not an agent ({reply[:8]!r}): {err.strip()!r}")

        # probes HOST PROBE: one probe, not a second host
        rc, out, err = env.run_cli("probes-one", cli(env, "probes", host(env), "tcp-latency", "--output", "json"))
        names = [json.loads(l)["probe"] for l in out.splitlines() if l.strip()]
        check(rc == 0 and names == ["tcp-latency"], f"probes HOST tcp-latency: exit {rc}, listed {names}; {err!r}")
        rc, out, err = env.run_cli("probes-typo", cli(env, "probes", host(env), "tcp-latncy"))
        check(rc == 5 and "did you mean tcp-latency?" in err, f"probes HOST tcp-latncy: exit {rc}, {err!r}")
        log("errors: probes HOST tcp-latency lists that probe only")
        env.stop_agent_checked()


def test_gate(args):
    with Env(args) as env:
        w20 = Workload(env, 20)
        junit = os.path.join(writable_dir(env), "gate.xml")
        rc, lines = traced_run(env, w20, "gate", ["--max", "p99=1ms", "--max", "p50=1s", "--min", "count=100000",
                                                  "--junit", junit, "--series", "role=client"], go=True)
        text = "\n".join(lines)
        check(rc == 7, f"gate exited {rc}, want 7; output {text[-800:]!r}")
        rows = {name: next((l for l in lines if name in l), None) for name in ("p99=1ms", "p50=1s", "count=100000")}
        check(all(rows.values()), f"a verdict row is missing: {rows}")
        check(re.search(r"FAIL .*p99=1ms +\S+ +> +1\.00ms", rows["p99=1ms"]) is not None,
              f"the failed max row does not read 'measured > limit': {rows['p99=1ms']!r}")
        check(re.search(r"FAIL .*count=100000 +\d+ +< +100000", rows["count=100000"]) is not None,
              f"the failed min row does not read 'measured < limit': {rows['count=100000']!r}")
        check(re.search(r"pass .*p50=1s +\S+ +<= +1\.00s", rows["p50=1s"]) is not None,
              f"the passed max row does not read 'measured <= limit': {rows['p50=1s']!r}")
        log("gate rows:\n" + "\n".join(rows.values()))
        suite = ET.parse(junit).getroot().find("testsuite")
        check(3.0 < float(suite.get("time", "0")) < 12.0, f"testsuite time {suite.get('time')!r}, want the ~6 s run")
        for case in suite.findall("testcase"):
            parts = case.get("classname").split(".")
            check(len(parts) == 4 and parts[:2] == ["tracectl", "tcp-latency"] and
                  parts[2] == f"127_0_0_1:{env.port}" and parts[3] == "role=client",
                  f"classname {case.get('classname')!r} is not tracectl.PROBE.HOST.SERIES with dot-free parts")
            check(3.0 < float(case.get("time", "0")) < 12.0, f"testcase time {case.get('time')!r}")
        log(f"gate junit: classname {suite.find('testcase').get('classname')!r}, time {suite.get('time')}")

        # Ctrl-C in the middle of a 20 s gate: no verdict on 2 s of it
        argv = cli(env, "gate", host(env), "tcp-latency", "-d", "20s", "--max", "p99=1s", "--output", "json",
                   "--junit", junit + ".2")
        proc = env.spawn("cli-gate-int", argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        reader = LineReader(proc.stdout, "gate-int")
        first = reader.readline(30)
        check(first is not None and '"attached"' in first, f"gate: first line {first!r}")
        time.sleep(2)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        while reader.readline(30) is not None:
            pass
        rc = proc.wait(30)
        took = time.monotonic() - t0
        err = tail(os.path.join(env.dir, "cli-gate-int.log"), 5)
        objs = [json.loads(l) for l in reader.lines if l.strip()]
        gates = [o for o in objs if o.get("type") == "gate"]
        check(rc == 8, f"interrupted gate exited {rc}, want 8; stderr {err!r}")
        check("interrupted" in err, f"interrupted gate does not say so: {err!r}")
        check(not any(o.get("type") == "verdict" for o in objs), "interrupted gate printed verdicts")
        check(len(gates) == 1 and gates[0]["result"] == "interrupted" and gates[0]["exit_code"] == 8,
              f"interrupted gate's gate object: {gates}")
        check(not os.path.exists(junit + ".2"), "interrupted gate wrote a JUnit verdict")
        check(took < 10, f"interrupted gate took {took:.1f}s to exit")
        log(f"gate: Ctrl-C after 2 s -> exit 8 in {took:.2f}s: {err.strip()!r}")
        env.stop_agent_checked()


def test_text(args):
    with Env(args) as env:
        rc, out, _ = env.run_cli("help", [env.cli_path, "--help"])
        check(rc == 0 and "tp-count: CATEGORY:PATTERN" in out and "--measure" in out,
              "--help does not give tp-count's --target as CATEGORY:PATTERN or lacks --measure")
        with open(MAN_PAGE) as f:
            man = f.read().splitlines()
        sort_entries = [l for l in man if l.startswith('.BI \\-\\-sort ')]
        per_host_entries = [l for l in man if l == ".B \\-\\-per\\-host"]
        check(len(sort_entries) == 1 and len(per_host_entries) == 1,
              f"man page: --sort listed {len(sort_entries)} times, --per-host {len(per_host_entries)}")

        # a session to show: its age and time left are labelled
        argv = cli(env, "attach", host(env), "syscalls", "-d", "30s", "--output", "json")
        proc = env.spawn("cli-session", argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        reader = LineReader(proc.stdout, "session")
        first = reader.readline(30)
        check(first is not None and '"attached"' in first, f"session: first line {first!r}")
        rc, out, err = env.run_cli("status", cli(env, "status", host(env)))
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        check(rc == 0, f"status exited {rc}: {err!r}")
        up = re.search(r", up (\S+)\n", out)
        check(up and re.fullmatch(r"\d+(\.\d+)?(s|ms|us)|\d+m \d\ds|\d+h \d\dm|\d+d \d+h", up.group(1)),
              f"status uptime is not in units: {out!r}")
        session = re.search(r"session \d+: syscalls by .* from .*, running for (\S+), (\S+) left", out)
        check(session is not None, f"status does not label the session's age and time left: {out!r}")
        log(f"text: status says {out.strip()!r}")

        # -o FILE on a terminal: the output in the file, a status line on the terminal
        out_dir = writable_dir(env)
        path = os.path.join(out_dir, "syscalls.txt")
        rc, shown = run_on_pty(cli(env, "attach", host(env), "syscalls", "-d", "3s", "-i", "1s", "-o", path), 30)
        shown = shown.decode("utf-8", "replace")
        check(rc == 0, f"-o FILE on a terminal: exit {rc}: {shown[-300:]!r}")
        check("tracectl syscalls: 1/1 hosts answering" in shown and "of 3.00s elapsed" in shown,
              f"-o FILE: no status line on the terminal: {shown[-500:]!r}")
        with open(path) as f:
            written = f.read()
        check("syscalls" in written and "tracectl syscalls:" not in written,
              f"-o FILE: the file holds {written[:300]!r}")
        log(f"text: -o FILE left {len(written)} bytes in the file; the terminal showed "
            f"{shown.strip().splitlines()[-1][-120:]!r}")
        env.stop_agent_checked()


def test_json(args):
    with Env(args) as env:
        w20 = Workload(env, 20)
        rc, lines = traced_run(env, w20, "gate", ["--output", "json", "--max", "p999=100s", "--series", "role=client"])
        objs = [json.loads(l) for l in lines if l.strip()]
        check(rc == 0, f"gate exited {rc}")
        summary = [o for o in objs if o.get("type") == "summary" and o.get("series") == "role=client"]
        verdicts = [o for o in objs if o.get("type") == "verdict"]
        check(len(summary) == 1 and len(verdicts) == 1, f"{len(summary)} summaries, {len(verdicts)} verdicts")
        s, v = summary[0], verdicts[0]
        check("p999_ns" in s, f"the summary has no p999_ns: {sorted(s)}")
        check(s["p99_ns"] <= s["p999_ns"] <= s["max_ns"], f"p99 {s['p99_ns']}, p999 {s['p999_ns']}, max {s['max_ns']}")
        # every answer of the server takes at least 20 ms
        check(s["p999_ns"] >= 19e6, f"client-side p999 {s['p999_ns']} ns for a 20 ms server")
        check(v["measured"] == s["p999_ns"], f"the gate judged p999 {v['measured']}, the summary says {s['p999_ns']}")
        log(f"json: role=client p99 {s['p99_ns']} p999 {s['p999_ns']} max {s['max_ns']} ns over {s['count']} samples")
        env.stop_agent_checked()


TESTS = {"formats": test_formats, "errors": test_errors, "gate": test_gate, "text": test_text, "json": test_json}

if __name__ == "__main__":
    raise SystemExit(run_tests(TESTS, __doc__))
