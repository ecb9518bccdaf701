#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# What the traced host names reaches the agent's memory, its log and the operator's terminal bounded and escaped.
"""
rows: file-top --top 20 at 100 ms on a process writing 100 bytes to each of 50,000
distinct files: no window and no summary has more than 21 rows (the top 20 and one
"[other]" row), the columns still add up exactly (50,000 writes, 5,000,000 bytes in the
summary and over the windows), and the agent's RSS grows by less than 6 MiB while the
session runs (the table held every file before: 88 k files grew it by 22 MB).
metrics: the same workload under tracectl-agent --export file-top: /metrics has at most
1,001 series per column, among them the "[other]" row, and the workload's 50,000 writes
are all counted (the writes column sums to at least 50,000).
escapes: a process named "\\x1b]0;pwn\\x07\\x1b[8m" writes a file named
"\\x1b[1A\\x1b[2Kinnocent"; file-top as a table, file-top --output folded and the open
events as text and file-top --output prom show both names escaped, as does a profile
--output svg of a process with that comm (its root frame) (\\x1b...) and no control byte but newlines.
log: an attach with --comm "\\n12:00:00.000 x" is logged with the newline escaped: every
line of the agent's log starts with its own time stamp and "tracectl-agent", none with
the forged "12:00:00.000 x".
"""
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

from harness import (Attach, Env, LineReader, TestFailure, check, free_port, log, run_tests, stop,
                     summaries)
from rawrpc import check_rss_growth, rss_kib

FILES, BYTES, TOP = 50000, 100, 20
EVIL_COMM = b"\x1b]0;pwn\x07\x1b[8m"
EVIL_FILE = b"\x1b[1A\x1b[2Kinnocent"
FORGED_COMM = "\n12:00:00.000 x"


def start_files(env, directory, files, extra=()):
    """file_names waiting for "go"; returns (process, pid)."""
    wl = env.spawn("file_names", [os.path.join(env.args.tools, "file_names"), "--dir", directory,
                                  "--files", str(files), "--bytes", str(BYTES), "--wait-go", *extra],
                   stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    out = LineReader(wl.stdout, "file_names")
    line = out.readline(10)
    check(line is not None and line.startswith("ready "), f"file_names said {line!r}")
    return wl, int(line.split()[1])


def go_and_wait(wl, timeout=90):
    wl.stdin.write(b"go\n")
    wl.stdin.flush()
    t0 = time.monotonic()
    try:
        rc = wl.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"file_names did not finish within {timeout}s")
    check(rc == 0, f"file_names exited {rc}")
    return time.monotonic() - t0


def column_sum(rows, column):
    return sum(int(r[column]) for r in rows)


def test_rows(args):
    # a deliberate storm of new files: the overhead budget (which ASan builds exceed) is not the point here
    with Env(args, agent_args=["--max-overhead", "off"]) as env:
        directory = os.path.join(env.dir, "files")
        os.mkdir(directory)
        wl, pid = start_files(env, directory, FILES)
        with Attach(env, "file-top", ["--pid", str(pid), "--top", str(TOP)], duration="120s",
                    interval="100ms", timeout=150) as a:
            time.sleep(0.5)  # the first windows: the attach itself is not what is measured
            rss0 = peak = rss_kib(env.agent.pid)
            wl.stdin.write(b"go\n")
            wl.stdin.flush()
            t0 = time.monotonic()
            while wl.poll() is None:
                check(time.monotonic() - t0 < 90, "file_names did not finish within 90 s")
                peak = max(peak, rss_kib(env.agent.pid))
                time.sleep(0.05)
            check(wl.returncode == 0, f"file_names exited {wl.returncode}")
            took = time.monotonic() - t0
            time.sleep(0.5)  # the last writes' window
            peak = max(peak, rss_kib(env.agent.pid))
            a.end()  # ends the session: last window, then the summary
            objs = a.result()
        windows = [o for o in objs if o.get("type") == "snapshot"]
        summ = summaries(objs)
        check(len(summ) == 1, f"want one summary, got {len(summ)}")
        rows = summ[0]["rows"]
        other = [r for r in rows if r["pid"] == "[other]"]
        log(f"MEASURED file-top over {FILES} files in {took:.1f} s: {len(windows)} windows, at most "
            f"{max(len(w['rows']) for w in windows)} rows each; summary {len(rows)} rows, rows_omitted "
            f"{summ[0]['rows_omitted']}, other {other}; agent RSS {rss0} KiB -> peak {peak} KiB "
            f"(+{peak - rss0} KiB); session cost {summ[0].get('cost')}")
        check(len(rows) <= TOP + 1, f"summary has {len(rows)} rows, want at most {TOP + 1}")
        check(len(other) == 1 and rows[-1] is other[0], f"want one [other] row, last: {rows[-3:]}")
        check(summ[0]["rows_omitted"] >= FILES - TOP, f"rows_omitted {summ[0]['rows_omitted']}")
        for w in windows:
            check(len(w["rows"]) <= TOP + 1, f"window {w['seq']} has {len(w['rows'])} rows")
        for column, want in (("writes", FILES), ("write_bytes", FILES * BYTES)):
            got = column_sum(rows, column)
            check(got == want, f"summary {column} add up to {got}, want {want}")
            got = sum(column_sum(w["rows"], column) for w in windows)
            check(got == want, f"windows' {column} add up to {got}, want {want}")
        check_rss_growth(env.agent.pid, peak - rss0, 6 * 1024, "file-top over 50k files")
        env.stop_agent_checked()


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def test_metrics(args):
    mport = free_port()
    with Env(args, agent_args=["--metrics", f"127.0.0.1:{mport}", "--export", "file-top"]) as env:
        directory = os.path.join(env.dir, "files")
        os.mkdir(directory)
        wl, _ = start_files(env, directory, FILES)
        scrape(mport)
        took = go_and_wait(wl)
        text = scrape(mport)
        series = {}
        writes = 0
        for line in text.splitlines():
            m = re.match(r"tracectl_file_top_(\w+)_total\{(.*)\} (\d+)$", line)
            if m:
                series.setdefault(m.group(1), []).append(m.group(2))
                if m.group(1) == "writes":
                    writes += int(m.group(3))
        others = [s for s in series.get("writes", []) if 'pid="[other]"' in s]
        log(f"MEASURED /metrics after {FILES} files in {took:.1f} s: "
            f"{ {k: len(v) for k, v in series.items()} } series, writes sum {writes}, other: {others}")
        check(series.get("writes"), "no tracectl_file_top_writes_total series")
        for column, labels in series.items():
            check(len(labels) <= 1001, f"{column}: {len(labels)} series, want at most 1001")
        check(len(others) == 1, f"want one [other] series, got {others}")
        check(writes >= FILES, f"writes sum to {writes}, want at least {FILES}")
        env.stop_agent_checked()


# Sets its own comm (bytes from argv[1]) and burns CPU for profile once told to go.
SPINNER = r"""
import ctypes, os, sys, time
ctypes.CDLL(None).prctl(15, os.fsencode(sys.argv[1]), 0, 0, 0)
print("ready", os.getpid(), flush=True)
sys.stdin.readline()
end = time.monotonic() + 1.5
while time.monotonic() < end:
    pass
"""


def control_bytes(data):
    """Bytes a terminal acts on, but the newlines that end lines."""
    return sorted({b for b in data if (b < 0x20 and b != 0x0A) or b == 0x7F or 0x80 <= b < 0xA0})


def test_escapes(args):
    with Env(args) as env:
        wl, pid = start_files(env, env.dir, 1, ["--prefix", EVIL_FILE.decode(), "--comm", EVIL_COMM.decode()])
        spinner = env.spawn("spinner", [sys.executable, "-c", SPINNER, EVIL_COMM.decode()],
                            stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        line = LineReader(spinner.stdout, "spinner").readline(10)
        check(line is not None and line.startswith("ready "), f"spinner said {line!r}")
        spinner_pid = int(line.split()[1])
        for p in (pid, spinner_pid):
            with open(f"/proc/{p}/comm", "rb") as f:
                check(f.read().rstrip(b"\n") == EVIL_COMM, "the workload's comm was not set")
        clis = []
        for name, probe, output, target in (
                ("cli-table", "file-top", "text", pid), ("cli-folded", "file-top", "folded", pid),
                ("cli-events", "open", "text", pid), ("cli-prom", "file-top", "prom", pid),
                ("cli-svg", "profile", "svg", spinner_pid)):
            out_path = os.path.join(env.dir, f"{name}.out")
            argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                                f"127.0.0.1:{env.port}", probe, "--pid", str(target), "--duration", "30s",
                                "--interval", "1s", "--output", output)
            with open(out_path, "wb") as out:
                proc = env.spawn(name, argv, stdout=out, stdin=subprocess.DEVNULL)
            clis.append((name, proc, out_path))
        deadline = time.monotonic() + 30
        for name, proc, out_path in clis:
            # the status line: on stdout for text, on stderr (the .log) for folded, prom and svg
            while not any(b"Attached" in open(p, "rb").read()
                          for p in (out_path, os.path.join(env.dir, f"{name}.log"))):
                check(proc.poll() is None, f"{name} exited {proc.returncode} before attaching")
                check(time.monotonic() < deadline, f"{name} did not attach within 30 s")
                time.sleep(0.05)
        spinner.stdin.write(b"go\n")
        spinner.stdin.flush()
        go_and_wait(wl)
        check(spinner.wait(timeout=30) == 0, f"spinner exited {spinner.returncode}")
        # Ctrl-C once the workloads are done, not a set duration: a CLI that asks for the
        # catalog first can attach seconds after the others (the agent's first ListProbes
        # waits for its trial loads), and a 3 s session started before it was over by then
        time.sleep(1.2)  # one 1 s window after the work, as a set duration would have had
        outputs = {}
        for name, proc, out_path in clis:
            proc.send_signal(signal.SIGINT)
        for name, proc, out_path in clis:
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop(proc, name)
                raise TestFailure(f"{name} did not end within 30 s of Ctrl-C")
            check(rc == 0, f"{name} exited {rc}")
            with open(out_path, "rb") as f:
                outputs[name] = f.read()
        comm_esc, file_esc = b"\\x1b]0;pwn\\x07\\x1b[8m", b"\\x1b[1A\\x1b[2Kinnocent"
        want = {name: [comm_esc, file_esc] for name in outputs}
        # a Prometheus label value's backslash is doubled once more
        want["cli-prom"] = [w.replace(b"\\", b"\\\\") for w in want["cli-prom"]]
        # stacks name no files; the comm is their root frame, with ';' made '_'
        want["cli-svg"] = [comm_esc.replace(b";", b"_")]
        for name, data in outputs.items():
            bad = control_bytes(data)
            log(f"MEASURED {name}: {len(data)} bytes, control bytes {bad}, escaped names found "
                f"{[data.count(w) for w in want[name]]} times")
            check(not bad, f"{name} wrote control bytes {bad} to the terminal: {data[-600:]!r}")
            for w in want[name]:
                check(w in data, f"{name} does not show {w!r}: {data[-600:]!r}")
        env.stop_agent_checked()


def test_log(args):
    with Env(args) as env:
        rc, _, _ = env.run_cli("cli-forged-comm", env.cli_argv(
            env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
            f"127.0.0.1:{env.port}", "file-top", "--comm", FORGED_COMM, "--duration", "1s",
            "--interval", "1s", "--output", "json"))
        check(rc == 0, f"the attach exited {rc}")
        env.stop_agent_checked()
        with open(os.path.join(env.dir, "agent.log"), "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        header = re.compile(r"^\d\d:\d\d:\d\d\.\d\d\d tracectl-agent (error|warn|info|debug): ")
        forged = [l for l in lines if l.startswith("12:00:00.000 x")]
        unheaded = [l for l in lines if not header.match(l)]
        escaped = [l for l in lines if "comm='\\x0a12:00:00.000 x'" in l]
        log(f"MEASURED agent log: {len(lines)} lines, {len(forged)} forged, {len(unheaded)} without a header, "
            f"{len(escaped)} with the comm escaped")
        check(not forged, f"forged log lines: {forged}")
        check(not unheaded, f"log lines without the agent's header: {unheaded[:5]}")
        check(len(escaped) == 1, f"want the attach line with comm='\\x0a12:00:00.000 x', got {escaped}")


if __name__ == "__main__":
    sys.exit(run_tests({"rows": test_rows, "metrics": test_metrics, "escapes": test_escapes, "log": test_log},
                       __doc__))
