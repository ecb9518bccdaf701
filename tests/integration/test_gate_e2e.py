#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Gate and record/report end-to-end tests against a server that answers after a known delay.
"""
gate: with a server answering after 20 ms, --max p99=10ms fails with exit 7 and a JUnit
file holding one failure that carries the measured p99; --max p99=50ms passes with 0;
a run with no data exits 8. A baseline saved from a 20 ms run makes a 30 ms run fail
--max-regression p50=10% and a second 20 ms run pass (the median: a p99 of 200 samples
is their 3rd-highest, which a busy machine moves by more than 10% between two runs).
record: record then report gives the same summary numbers as the live run; a
truncated copy reports what came before the cut and names the damage.
oldrec: a recording in the earlier log-linear layout (fixtures/, made by that build) is
read by report and gate --from: the same count, sum and max, percentiles within the two
layouts' bounds of that build's own report, and gate verdicts on its p99.
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from harness import Env, LineReader, check, log, parse_json_lines, run_tests, summaries

EXIT_GATE_FAILED = 7
EXIT_NO_DATA = 8
REQUESTS = 200  # p99 by nearest rank is then the 3rd-highest sample, not the max


class Workload:
    """latency_server with a delay, and a latency_client waiting for "go"."""

    def __init__(self, env, delay_ms):
        tools = env.args.tools
        self.env = env
        name = f"server{delay_ms}"
        self.server = env.spawn(name, [os.path.join(tools, "latency_server"), "--listen", "127.0.0.1:0",
                                       "--delay-ms", str(delay_ms), "--max-seconds", "100"],
                                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = LineReader(self.server.stdout, name).readline(10)
        check(line and line.startswith("listening "), f"latency_server said {line!r}")
        self.port = int(line.split()[1])

    def client(self, name="client"):
        c = self.env.spawn(name, [os.path.join(self.env.args.tools, "latency_client"), "--connect",
                                      f"127.0.0.1:{self.port}", "--wait-go", "--requests", str(REQUESTS),
                                      "--timeout-seconds", "60"],
                           stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        out = LineReader(c.stdout, name)
        line = out.readline(10)
        check(line and line.startswith("ready "), f"latency_client said {line!r}")
        return c, out, int(line.split()[1])


def traced_run(env, workload, command, extra, go=True, name=None):
    """Runs `tracectl COMMAND host tcp-latency ... extra` while the client makes its requests;
    name: for the logs of runs side by side."""
    name = name or command
    client, out, pid = workload.client(f"client-{name}")
    argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), command,
                        f"127.0.0.1:{env.port}", "tcp-latency", "--pid", str(pid), "--duration", "6s",
                        "--interval", "1s", *extra)
    proc = env.spawn(f"cli-{name}", argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    reader = LineReader(proc.stdout, name)
    if go:
        # the first line (attached, or a window) means the probe is in place
        first = reader.readline(30)
        check(first is not None, f"{name}: no output")
        client.stdin.write(b"go\n")
        client.stdin.flush()
        line = out.readline(60)
        check(line == f"done {REQUESTS}", f"latency_client said {line!r}")
    while reader.readline(60) is not None:
        pass
    rc = proc.wait(30)
    client.kill()
    client.wait(5)
    return rc, reader.lines


def only_summary(objs, series="role=client"):
    s = [o for o in summaries(objs) if o.get("series") == series]
    check(len(s) == 1, f"want one {series} summary, got {len(s)}")
    return s[0]


def side_by_side(*runs):
    """Runs (env, workload, command, extra, ...) tuples of traced_run at once: each has
    its own client and CLI, so only their total time is the longest one's."""
    with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
        futures = [pool.submit(traced_run, *run[:4], **run[4]) for run in runs]
        return [f.result() for f in futures]


def test_gate(args):
    with Env(args) as env:
        w20, w30 = Workload(env, 20), Workload(env, 30)
        junit = os.path.join(env.dir, "report.xml")
        base = os.path.join(env.dir, "base.json")
        # world-writable files for the CLI running as nobody
        os.chmod(env.dir, 0o777)

        # three independent gates at once, then the two that need the baseline
        (rc, lines), (rc_pass, lines_pass), (rc_nodata, _) = side_by_side(
            (env, w20, "gate", ["--output", "json", "--max", "p99=10ms", "--junit", junit], {"name": "fail"}),
            (env, w20, "gate", ["--output", "json", "--max", "p99=50ms", "--save-baseline", base], {"name": "pass"}),
            (env, w20, "gate", ["--output", "json", "--max", "p99=50ms"], {"name": "nodata", "go": False}))
        check(rc == EXIT_GATE_FAILED, f"--max p99=10ms exited {rc}, want {EXIT_GATE_FAILED}")
        verdicts = [o for o in parse_json_lines(lines) if o["type"] == "verdict"]
        failed = [v for v in verdicts if v["result"] == "fail"]
        check(len(failed) == 1 and failed[0]["threshold"] == "p99=10ms", f"verdicts {verdicts}")
        p99 = failed[0]["measured"]
        check(19e6 < p99 < 30e6, f"measured p99 {p99} ns is not near 20 ms")
        suite = ET.parse(junit).getroot().find("testsuite")
        failures = suite.findall("testcase/failure")
        check(suite.get("failures") == "1" and len(failures) == 1, f"JUnit: {ET.tostring(suite)[:300]}")
        check("measured 2" in failures[0].get("message") and "ms" in failures[0].get("message"),
              f"JUnit failure message lacks the measured p99: {failures[0].get('message')!r}")
        log(f"p99=10ms: exit {rc}, measured p99 {p99 / 1e6:.2f} ms, JUnit: {failures[0].get('message')!r}")

        check(rc_pass == 0, f"--max p99=50ms exited {rc_pass}, want 0; verdicts: "
              f"{[o for o in parse_json_lines(lines_pass) if o['type'] in ('verdict', 'error')]}")
        check(os.path.getsize(base) > 0, "no baseline written")
        log("p99=50ms: exit 0; baseline saved")

        check(rc_nodata == EXIT_NO_DATA, f"a run without data exited {rc_nodata}, want {EXIT_NO_DATA}")
        log(f"no data: exit {rc_nodata}")

        regression = ["--output", "json", "--baseline", base, "--max-regression", "p50=10%"]
        (rc, lines), (rc_same, _) = side_by_side((env, w30, "gate", regression, {"name": "slower"}),
                                                 (env, w20, "gate", regression, {"name": "same"}))
        check(rc == EXIT_GATE_FAILED, f"30 ms against a 20 ms baseline exited {rc}, want {EXIT_GATE_FAILED}; "
              f"{[o for o in parse_json_lines(lines) if o['type'] in ('verdict', 'summary')]}")
        v = [o for o in parse_json_lines(lines) if o["type"] == "verdict" and o["result"] == "fail"]
        log(f"regression 30 ms vs 20 ms baseline: exit {rc}: measured {v[0]['measured'] / 1e6:.2f} ms > "
            f"limit {v[0]['limit'] / 1e6:.2f} ms")

        check(rc_same == 0, f"a second 20 ms run against the baseline exited {rc_same}, want 0")
        log("regression 20 ms vs 20 ms baseline: exit 0")
        env.stop_agent_checked()


def record_and_report(env, delay_ms):
    """Records a run against a server answering after delay_ms; returns the trace's path,
    the live output lines and the CompletedProcess of `report` on it."""
    workload = Workload(env, delay_ms)
    os.chmod(env.dir, 0o777)
    trace = os.path.join(env.dir, "run.trace")
    rc, lines = traced_run(env, workload, "record", ["--output", "json", "-o", trace])
    check(rc == 0, f"record exited {rc}")
    res = subprocess.run([env.cli_path, "report", trace, "--output", "json"], capture_output=True, timeout=30)
    check(res.returncode == 0, f"report exited {res.returncode}: {res.stderr.decode()[-300:]}")
    return trace, lines, res


def test_record(args):
    with Env(args) as env:
        trace, lines, res = record_and_report(env, 20)
        live = only_summary(parse_json_lines(lines))
        replay = only_summary(parse_json_lines(res.stdout.decode().splitlines()))
        for key in ("count", "sum_ns", "p50_ns", "p90_ns", "p99_ns", "max_ns", "buckets"):
            check(live[key] == replay[key], f"report {key} {replay[key]} != live {live[key]}")
        check(live["count"] == REQUESTS, f"live count {live['count']}, want {REQUESTS}")
        log(f"record/report: same summary (count {live['count']}, p50 {live['p50_ns'] / 1e6:.3f} ms)")

        size = os.path.getsize(trace)
        cut = os.path.join(env.dir, "cut.trace")
        with open(trace, "rb") as src, open(cut, "wb") as dst:
            dst.write(src.read(size * 2 // 3))
        res = subprocess.run([env.cli_path, "report", cut, "--output", "json"], capture_output=True, timeout=30)
        err = res.stderr.decode()
        check(res.returncode != 0, "a truncated recording reported success")
        check("truncated at byte" in err or "damaged at byte" in err, f"the damage is not named: {err!r}")
        windows = [o for o in parse_json_lines(res.stdout.decode().splitlines()) if o["type"] == "snapshot"]
        check(windows, "nothing from before the cut was reported")
        log(f"truncated copy ({size * 2 // 3} of {size} bytes): {len(windows)} window(s) reported; "
            f"{err.strip().splitlines()[0]!r}")
        env.stop_agent_checked()


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def test_oldrec(args):
    trace = os.path.join(FIXTURES, "loglinear-20ms.trace")
    with open(os.path.join(FIXTURES, "loglinear-20ms.report.json")) as f:
        old = only_summary(parse_json_lines(f.read().splitlines()))
    res = subprocess.run([args.cli, "report", trace, "--output", "json"], capture_output=True, timeout=30)
    check(res.returncode == 0, f"report exited {res.returncode}: {res.stderr.decode()[-300:]}")
    new = only_summary(parse_json_lines(res.stdout.decode().splitlines()))
    for key in ("count", "sum_ns", "max_ns"):
        check(new[key] == old[key], f"report {key} {new[key]} != {old[key]} of the build that recorded it")
    check(sum(b["count"] for b in new["buckets"]) == old["count"], "converted buckets do not add up")
    # the old midpoint is within 1.6% of the value, the new bucket of that midpoint 2.2% wide
    for key in ("p50_ns", "p90_ns", "p99_ns"):
        rel = abs(new[key] - old[key]) / old[key]
        check(rel <= 0.016 + 0.022, f"{key} {new[key]} vs {old[key]} of the old build: {rel:.2%} apart")
    p99 = old["p99_ns"]
    for limit_ns, want in ((p99 * 1.1, 0), (p99 * 0.9, EXIT_GATE_FAILED)):
        res = subprocess.run([args.cli, "gate", "--from", trace, "--max", f"p99={limit_ns / 1e6:.3f}ms",
                              "--output", "json"], capture_output=True, timeout=30)
        check(res.returncode == want, f"gate --from --max p99={limit_ns / 1e6:.3f}ms exited {res.returncode}, "
              f"want {want}: {res.stderr.decode()[-300:]}")
    log(f"old layout: count {new['count']}, p50 {new['p50_ns']} vs {old['p50_ns']}, p99 {new['p99_ns']} vs "
        f"{old['p99_ns']} ns; gate --from passes at 1.1x p99, fails at 0.9x")


if __name__ == "__main__":
    sys.exit(run_tests({"gate": test_gate, "record": test_record, "oldrec": test_oldrec}, __doc__))
