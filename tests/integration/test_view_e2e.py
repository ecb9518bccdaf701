#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# What a user sees on a terminal (issue 19, points 8, 9, 10, 12): the live view fitted to the
# terminal, histogram rows, tables and events as people read them, the catalog's words.
# The CLI runs as nobody against a real agent; terminals are pseudo-terminals of a set size.
"""
live: cpu-top and runq-latency in an 80x24 and a 120x40 pseudo-terminal: no line wider than
the terminal, every frame no taller than it, opening with the status line (whole parts only,
never a word cut) and the table's header; tracectl probes wraps to 80 columns (nothing cut:
the last word of each description is there) and is not cut when piped; cpu-top --per-host on
two agents keeps the live view and ends with each host's summary.
hist: two clients of servers answering after 3 ms and 3 s: the text rows are powers of
two, the same in every window and the summary; the octaves between the two clients' own
extremes are drawn with count 0 (skipped when the machine is so loaded that the fast client's
own worst answer is within an octave of the slow ones); the first window says it is partial (JSON "partial":true,
no later window); "(bucket bound)" is gone, "max <=" is explained where shown.
units: cpu-top text gives %CPU and times in units (a spinner of 300 ms of CPU time: on_cpu its
own CPU time, %CPU that over the span), JSON keeps ns; exec events print in columns with a header, argv quoted as sh
would need it (an argument with a space, one with a quote, an empty one), set flags named
only ([argv_missing] on the failed execs, no zero flag anywhere); JSON flags are booleans.
catalog: probes says --output folded for profile, --target CATEGORY:PATTERN for tp-count,
BINARY:PATTERN for func-count and BINARY:FUNCTION for func-latency; the man page names the
five output formats only.
"""
import concurrent.futures
import json
import os
import re
import shlex
import signal
import subprocess

from harness import SKIP, Env, LineReader, check, log, run_on_pty, run_tests, stop

MAN_PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "man", "tracectl.1")
FRAME = "\x1b[H\x1b[2J"
ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
STATUS = re.compile(r"^tracectl (\S+):( \d+/\d+ hosts answering,( \S+( of \S+)? elapsed,"
                    r"( \d+ dropped(  \(Ctrl-C ends\))?)?)?)?$")


def cli(env, *rest):
    return env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), *rest)


def host(env):
    return f"127.0.0.1:{env.port}"


def run_on_terminal(argv, cols, rows, timeout=40):
    """Runs argv on a new pseudo-terminal of cols x rows; returns (exit status, text shown)."""
    rc, data = run_on_pty(argv, timeout, (cols, rows))
    return rc, data.decode("utf-8", "replace").replace("\r", "")


def visible_lines(text):
    return ESCAPE.sub("", text).split("\n")


def check_fits(what, text, cols):
    wide = [l for l in visible_lines(text) if len(l) > cols]
    check(not wide, f"{what}: {len(wide)} line(s) wider than {cols} columns, e.g. {wide[:2]}")


def frames_of(text):
    """The redrawn frames (each up to the summary that follows the last)."""
    return [ESCAPE.sub("", chunk).split("\n=== Summary")[0].rstrip("\n").split("\n")
            for chunk in text.split(FRAME)[1:]]


def check_live(what, text, cols, rows, probe, header):
    check_fits(what, text, cols)
    frames = frames_of(text)
    check(len(frames) >= 3, f"{what}: {len(frames)} frames, want one per interval")
    for i, frame in enumerate(frames):
        status = STATUS.match(frame[0])
        check(status is not None and status.group(1) == f"{probe}:"[:-1],
              f"{what}: frame {i} does not open with a whole status line: {frame[0]!r}")
        check(len(frame) <= rows - 1, f"{what}: frame {i} has {len(frame)} lines for {rows} rows")
        check(any(header in l for l in frame[:5]), f"{what}: frame {i} lacks its header {header!r}: {frame[:5]}")
    check("=== Summary" in text, f"{what}: no summary after the live view")
    return frames


def test_live(args):
    with Env(args) as env:
        burner = env.spawn("burn", [os.path.join(args.tools, "cpu_burn"), "--cpu-ms", "60000",
                                    "--timeout-seconds", "60"], stdout=subprocess.DEVNULL, stdin=subprocess.PIPE)
        # more processes running in every window than an 80x24 frame has rows, whatever else
        # this machine runs: 30 shells each waking 5 times a second (and their sleeps)
        for i in range(30):
            env.spawn(f"waker{i}", ["sh", "-c", "while :; do sleep 0.2; done"], stdout=subprocess.DEVNULL,
                      stdin=subprocess.DEVNULL)
        try:
            for cols, rows in ((80, 24), (120, 40)):
                for probe, header in (("cpu-top", "%CPU"), ("runq-latency", "distribution")):
                    what = f"{probe} at {cols}x{rows}"
                    rc, text = run_on_terminal(cli(env, "attach", host(env), probe, "-d", "4s", "-i", "1s"),
                                               cols, rows)
                    check(rc == 0, f"{what}: exit {rc}: {text[-300:]!r}")
                    frames = check_live(what, text, cols, rows, probe, header)
                    cut = sum(1 for f in frames if "a larger terminal shows them" in f[-1])
                    log(f"live: {what}: {len(frames)} frames of at most {max(len(f) for f in frames)} lines, "
                        f"{cut} cut to the height; status {frames[-1][0]!r}")
                    if probe == "cpu-top" and rows == 24:
                        # more processes than rows: the table is cut, as top does
                        check(cut >= 1, f"{what}: no frame was cut to 24 rows: {[len(f) for f in frames]}")

            # probes: wrapped on a terminal, whole when piped
            rc, piped, err = env.run_cli("probes-piped", cli(env, "probes", host(env)))
            check(rc == 0, f"probes piped: exit {rc}: {err!r}")
            widest = max(len(l) for l in piped.splitlines())
            check(widest > 200, f"probes piped: widest line {widest}: descriptions cut when not a terminal")
            rc, shown = run_on_terminal(cli(env, "probes", host(env)), 80, 24)
            check(rc == 0, f"probes on a terminal: exit {rc}")
            check_fits("probes at 80 columns", shown, 80)
            words = " ".join(visible_lines(shown)).split()
            for line in piped.splitlines():
                tail = line.split()[-1] if line.split() else ""
                check(tail in words, f"probes at 80 columns: {tail!r} (the end of {line[:60]!r}...) is missing")
            log(f"live: probes piped up to {widest} columns; on 80 columns {len(visible_lines(shown))} lines, "
                f"none wider")

            # --per-host on two agents: still a live view, then each host's summary
            _, port2 = env.start_agent()
            hosts = f"{host(env)},127.0.0.1:{port2}"
            rc, text = run_on_terminal(cli(env, "attach", hosts, "cpu-top", "--per-host", "-d", "4s", "-i", "1s"),
                                       80, 24)
            check(rc == 0, f"--per-host: exit {rc}: {text[-300:]!r}")
            frames = check_live("cpu-top --per-host at 80x24", text, 80, 24, "cpu-top", "%CPU")
            check(any("2/2 hosts answering" in f[0] for f in frames), f"--per-host: status lines {[f[0] for f in frames]}")
            for h in (host(env), f"127.0.0.1:{port2}"):
                check(f"=== Summary {h} cpu-top" in text, f"--per-host: no summary of {h}")
            log(f"live: --per-host on 2 agents: {len(frames)} frames, each host's summary after them")
        finally:
            stop(burner, "burn")
        env.stop_agent_checked()


def start_client(env, port, requests):
    c = env.spawn(f"client{port}", [os.path.join(env.args.tools, "latency_client"), "--connect", f"127.0.0.1:{port}",
                                    "--requests", str(requests), "--timeout-seconds", "60"],
                  stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return c


def start_server(env, delay_ms):
    s = env.spawn(f"server{delay_ms}", [os.path.join(env.args.tools, "latency_server"), "--listen", "127.0.0.1:0",
                                        "--delay-ms", str(delay_ms), "--max-seconds", "60"],
                  stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    line = LineReader(s.stdout, f"server{delay_ms}").readline(10)
    check(line and line.startswith("listening "), f"latency_server said {line!r}")
    return int(line.split()[1])


def client_extremes(env, proc, port):
    """(min, max) in ns of the latencies latency_client measured itself (its last words)."""
    proc.wait(60)
    with open(os.path.join(env.dir, f"client{port}.log")) as f:
        said = f.read()
    m = re.search(r"latency min ([\d.]+) ms .* max ([\d.]+) ms", said)
    check(m is not None, f"latency_client said {said!r}")
    return float(m.group(1)) * 1e6, float(m.group(2)) * 1e6


UNIT = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}


def to_ns(text):
    m = re.fullmatch(r"([\d.]+)(ns|us|ms|s)", text)
    check(m is not None, f"not a duration: {text!r}")
    return float(m.group(1)) * UNIT[m.group(2)]


def hist_blocks(text, series):
    """[(header, [(lo, hi, count)])] for each window and the summary of series, in order."""
    lines = text.split("\n")
    blocks = []
    for i, line in enumerate(lines):
        if f"tcp-latency {series}" not in line or "no samples" in line:
            continue
        rows = []
        for row in lines[i + 1:]:
            m = re.match(r"^  \[(\S+), (\S+)\) +(\d+) \|", row)
            if m:
                rows.append((to_ns(m.group(1)), to_ns(m.group(2)), int(m.group(3))))
            elif rows or not row.startswith("  "):
                break
        blocks.append((line, lines[i + 1:i + 3], rows))
    return blocks


def test_hist(args):
    with Env(args) as env:
        # far apart, so that a loaded machine's worst 3 ms answers (860 ms seen under ASan and
        # four other test sessions) stay octaves below the slow ones
        fast_port, slow_port = start_server(env, 3), start_server(env, 3000)
        # both outlast the two runs (7 s, 3 s): 3 ms x 4000 and 3 s x 4
        fast = start_client(env, fast_port, 4000)
        slow = start_client(env, slow_port, 4)
        rc, out, err = env.run_cli("hist", cli(env, "attach", host(env), "tcp-latency", "--comm", "latency_client",
                                               "-d", "7s", "-i", "1s"))
        check(rc == 0, f"tcp-latency: exit {rc}: {err!r}")
        rc, jout, err = env.run_cli("hist-json", cli(env, "attach", host(env), "tcp-latency", "--comm",
                                                     "latency_client", "-d", "3s", "-i", "1s", "--output", "json"))
        check(rc == 0, f"tcp-latency json: exit {rc}: {err!r}")
        fast_min, fast_max = client_extremes(env, fast, fast_port)
        slow_min, slow_max = client_extremes(env, slow, slow_port)
        log(f"hist: the clients' own latencies: fast {fast_min / 1e6:.2f}..{fast_max / 1e6:.2f} ms, "
            f"slow {slow_min / 1e6:.2f}..{slow_max / 1e6:.2f} ms")
        print("----- text output -----\n" + out + "-----------------------", flush=True)

        blocks = hist_blocks(out, "role=client")
        check(len(blocks) >= 4, f"{len(blocks)} role=client windows and summary in {out[:500]!r}")
        summary = [b for b in blocks if b[0].startswith("=== Summary")]
        check(len(summary) == 1, f"{len(summary)} role=client summaries")
        summary_rows = summary[0][2]
        for header, _, rows in blocks:
            check(rows, f"no rows under {header!r}")
            for lo, hi, _ in rows:
                # powers of two: each row one octave (printed to 3 digits)
                check(abs(hi / lo - 2) < 0.02, f"{header!r}: row [{lo}, {hi}) is not one power of two")
            for (lo1, hi1, _), (lo2, _, _) in zip(rows, rows[1:]):
                check(abs(lo2 - hi1) / hi1 < 0.01, f"{header!r}: rows skip from {hi1} to {lo2}: empty rows not drawn")
            # the same grouping as the summary: its rows are a run of the summary's
            bounds = [round(lo) for lo, _, _ in summary_rows]
            check(all(round(lo) in bounds for lo, _, _ in rows),
                  f"{header!r}: rows {[r[0] for r in rows]} are not the summary's {bounds}")
        # the octaves above the fast client's own maximum and below the slow one's minimum hold nothing
        between = [r for r in summary_rows if r[0] > fast_max and r[1] <= slow_min]
        if not between:
            # the fast client's own worst answer came within an octave of the slow ones: nothing to judge
            print(f"SKIP: the machine is too loaded: a 3 ms answer took {fast_max / 1e6:.0f} ms", flush=True)
            raise SystemExit(SKIP)
        check(all(r[2] == 0 for r in between), f"octaves between the clients hold samples: {between}")
        check(summary_rows[0][2] > 0 and summary_rows[-1][2] > 0, f"summary rows {summary_rows}")
        log(f"hist: summary rows {[(f'{lo / 1e6:.3g}ms', c) for lo, _, c in summary_rows]}; "
            f"{len(between)} empty octave(s) drawn between the clients")

        # every window's header, those with no samples too (the first, short one may have none)
        windows = [l for l in out.split("\n") if "tcp-latency role=client" in l and not l.startswith("===")]
        # The first window runs from the attach to the first boundary the CLI set: short when the
        # attach beat that boundary, else it takes the next one and is whole. A short one says so.
        note = re.search(r"\(partial window: (\S+) of 1\.00s\)", windows[0])
        check(note is None or to_ns(note.group(1)) < 0.95e9, f"first window: {windows[0]!r}")
        check(all("partial" not in h for h in windows[1:]), f"a later window is said to be partial: {windows}")
        check("(bucket bound)" not in out, "the unexplained '(bucket bound)' is still printed")
        for header, stats, _ in blocks:
            if "max <=" in stats[0]:
                check("exact maximum is unknown" in stats[1], f"'max <=' unexplained under {header!r}: {stats}")
        objs = [json.loads(l) for l in jout.splitlines() if l.strip()]
        snaps = [o for o in objs if o.get("type") == "snapshot"]
        # a window is flagged partial exactly when it is shorter than the interval (by 5%),
        # which only the first can be
        flags = [(o["seq"], o["end_unix_ns"] - o["start_unix_ns"], o.get("partial", False)) for o in snaps]
        check(len(snaps) >= 3 and all(p == (span < 0.95e9) for _, span, p in flags) and
              not any(p for seq, _, p in flags if seq > 1), f"JSON (seq, span, partial): {flags}")
        log(f"hist: first window {windows[0]!r}; JSON (seq, span ns, partial): {flags[:3]}")
        env.stop_agent_checked()


def traced(env, name, argv, workload, until_done=None):
    """Runs the CLI (argv) and, once it has attached, lets workload go; returns its output
    lines. until_done() returns once the workload is done: the session ends then (Ctrl-C,
    the summary follows) rather than at its duration."""
    proc = env.spawn(name, argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    reader = LineReader(proc.stdout, name)
    first = reader.readline(30)
    check(first is not None and "ttached" in first, f"{name}: first line {first!r}")
    workload.stdin.write(b"go\n")
    workload.stdin.flush()
    if until_done is not None:
        until_done()
        proc.send_signal(signal.SIGINT)
    while reader.readline(30) is not None:
        pass
    check(proc.wait(10) == 0, f"{name}: exit {proc.returncode}")
    return reader.lines


def spawn_ready(env, name, argv):
    """A workload started with --wait-go; returns (process, its reader, its pid)."""
    proc = env.spawn(name, argv, stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    reader = LineReader(proc.stdout, name)
    ready = reader.readline(10)
    check(ready and ready.startswith("ready "), f"{name} said {ready!r}")
    return proc, reader, ready.split()[1]


SPIN_MS = 300


def test_units(args):
    with Env(args) as env:
        tools = args.tools
        # cpu-top: a spinner of exactly SPIN_MS of CPU time, all of it inside the run
        results, own_ns = {}, {}
        for fmt in ("text", "json"):
            burn, burn_out, pid = spawn_ready(env, f"burn-{fmt}", [os.path.join(tools, "cpu_burn"), "--cpu-ms",
                                                                   str(SPIN_MS), "--wait-go", "--timeout-seconds", "60"])
            said = []
            results[fmt] = traced(env, f"cpu-top-{fmt}", cli(env, "attach", host(env), "cpu-top", "--pid", pid,
                                                             "-d", "8s", "-i", "1s", "--output", fmt), burn,
                                  lambda: said.extend((burn_out.readline(10), burn_out.readline(10))))
            done, own = said
            check(done and done.startswith("done ") and own and own.startswith("cpu "),
                  f"cpu_burn did not finish its {SPIN_MS} ms within the 8 s run: {done!r} {own!r}")
            # its CPU time from "ready" on: all it ran while traced
            own_ns[fmt] = int(own.split()[1])
            stop(burn, f"burn-{fmt}")
        lines = results["text"]
        check(all("on_cpu_ns" not in l for l in lines), "cpu-top text still titles on_cpu_ns")
        heads = [i for i, l in enumerate(lines) if "%CPU" in l]
        check(heads and lines[heads[-1] - 1].startswith("=== Summary"), f"no cpu-top summary table: {lines}")
        i = heads[-1]
        titles, row = lines[i].split(), lines[i + 1].split()
        check(titles[:4] == ["pid", "comm", "%CPU", "on_cpu"] and row[1] == "cpu_burn", f"row {row} under {titles}")
        cells = dict(zip(titles, row))
        on_cpu = to_ns(cells["on_cpu"])
        span = to_ns(re.search(r" over (\S+) ===", lines[i - 1]).group(1))
        # the scheduler's accounting is to a tick at each of its context switches: 10% + 20 ms
        check(abs(on_cpu - own_ns["text"]) <= 0.1 * own_ns["text"] + 20e6,
              f"on_cpu {cells['on_cpu']} for a spinner that used {own_ns['text']} ns of CPU")
        check(abs(float(cells["%CPU"]) - 100 * on_cpu / span) <= 0.2 + 100 * on_cpu / span * 0.01,
              f"%CPU {cells['%CPU']} is not on_cpu {on_cpu} over the span {span}")
        rows = [json.loads(l)["row"] for l in results["json"] if '"type":"row"' in l and '"summary"' in l]
        check(rows and type(rows[0]["on_cpu_ns"]) is int and
              abs(rows[0]["on_cpu_ns"] - own_ns["json"]) <= 0.1 * own_ns["json"] + 20e6, f"JSON summary rows {rows}")
        log(f"units: cpu-top summary {lines[i + 1].strip()!r} over {span / 1e9:.2f}s (spinner's own {own_ns} ns); "
            f"JSON on_cpu_ns {rows[0]['on_cpu_ns']}")

        # exec: columns, quoted argv, set flags only
        argv_tail = ["a b", "it's", ""]
        loop_argv = [os.path.join(tools, "exec_loop"), "--program", "/bin/true", "--count", "3", "--missing-path",
                     "/nonexistent/tracectl-view", "--missing-count", "2", "--wait-go", "--", *argv_tail]
        out = {}
        for fmt in ("text", "json"):
            loop, loop_out, loop_pid = spawn_ready(env, f"exec-loop-{fmt}", loop_argv)
            out[fmt] = traced(env, f"exec-{fmt}", cli(env, "attach", host(env), "exec", "--pid", loop_pid, "-d", "10s",
                                                      "--output", fmt), loop, lambda: loop_out.readline(10))
            stop(loop, f"exec-loop-{fmt}")
        # the workload's identity ends a line where the test runs in a container or a service
        text = [re.sub(r"( (container|pod|service)=\S+)+$", "", l) for l in out["text"]]
        quoted = "/bin/true " + " ".join(shlex.quote(a) for a in argv_tail)
        header = [l for l in text if l.startswith("TIME ")]
        check(len(header) == 1 and header[0].split()[1:4] == ["PID", "PPID", "UID"] and
              header[0].split()[-1] == "ARGV", f"exec header {header}")
        ok = [l for l in text if l.endswith(" " + quoted)]
        failed = [l for l in text if "/nonexistent/tracectl-view" in l]
        check(len(ok) == 3, f"{len(ok)} exec lines end with argv {quoted!r}: {text}")
        check(shlex.split(ok[0][ok[0].index(quoted):]) == ["/bin/true", *argv_tail], f"argv: {ok[0]!r}")
        check(len(failed) == 2 and all(l.endswith(" [argv_missing]") and " -2 " in l for l in failed),
              f"failed execs: {failed}")
        check(not any("=0" in l or "_missing=" in l or "argv_truncated" in l for l in text),
              f"zero flags printed: {[l for l in text if '=0' in l]}")
        events = [o for o in (json.loads(l) for l in out["json"] if l.strip()) if o.get("type") == "event"]
        flags = ("filename_missing", "argv_truncated", "argv_missing", "argv_from_image")
        check(len(events) == 5 and all(type(e[f]) is bool for e in events for f in flags),
              f"JSON flags are not booleans: {[{f: e.get(f) for f in flags} for e in events]}")
        check(sum(e["argv_missing"] for e in events) == 2 and
              sum(shlex.split(e["argv"])[1:] == argv_tail for e in events) == 3, f"JSON exec events {events}")
        log(f"units: exec text {header[0]!r} / {ok[0]!r} / {failed[0]!r}; JSON flags booleans")
        env.stop_agent_checked()


def test_catalog(args):
    with Env(args) as env:
        rc, out, err = env.run_cli("probes", cli(env, "probes", host(env)))
        check(rc == 0, f"probes: exit {rc}: {err!r}")
        check("--output folded" in out and "-o folded" not in out, "profile's description does not say --output folded")
        blocks = {}
        name = None
        for line in out.splitlines():
            if line[:1].strip():
                name = line.split()[0]
            blocks.setdefault(name, []).append(line)
        forms = {}
        for probe in ("tp-count", "func-count", "func-latency"):
            m = re.search(r"--target \((\S+)\)", "\n".join(blocks.get(probe, [])))
            forms[probe] = m.group(1) if m else None
        check(forms == {"tp-count": "CATEGORY:PATTERN", "func-count": "BINARY:PATTERN",
                        "func-latency": "BINARY:FUNCTION"}, f"--target forms {forms}")
        with open(MAN_PAGE) as f:
            man = f.read()
        entry = man.split('.BI \\-\\-output " FORMAT"', 1)[1].split("\n.TP", 1)[0]
        formats = re.findall(r"^\\fB(\w+)\\fR(?: \(default\))?:", entry, re.M)
        check(formats == ["text", "json", "folded", "svg", "prom"], f"man page output formats {formats}")
        log(f"catalog: --target forms {forms}; man page formats {formats}")
        env.stop_agent_checked()


TESTS = {"live": test_live, "hist": test_hist, "units": test_units, "catalog": test_catalog}

if __name__ == "__main__":
    raise SystemExit(run_tests(TESTS, __doc__))
