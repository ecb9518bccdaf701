#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The result kind on the wire: idle histograms stay histograms, kind-less recordings still read, single-host windows are never late.
"""
oldrec: recordings as the CLI wrote them before the kind was on the wire (built here
byte by byte: no kind field anywhere): an idle bio-latency session reports "no samples"
and `gate --max p99=5ms --from` answers no data (exit 8) for that reason, not "event
probes offer ..."; an exec recording still reports its 7 events and 1 lost, and a
tcp-top one its table; a recording that carries the kind needs no inference.
idle: a live runq-latency session on a process that sleeps throughout (no wakeups, so no
samples): the Attached and the summary say histogram, gate exits 8 with "no samples",
and a recording of it reports the same.
phase: a recording of one host whose windows end 3 ms after and 1 ms before boundaries
that sit half an interval off the whole seconds: every window is shown once, in its own
view, and nothing is "late" (the CLI rounded window ends to whole intervals, so two
windows of one host fell in one bucket).
exec: a live `attach HOST exec -d 4s` started so that its boundaries sit half an
interval off the whole seconds, as in phase: no late-window warning.
"""
import gzip
import os
import re
import struct
import subprocess
import sys
import time

from harness import Attach, Env, check, log, parse_json_lines, run_tests, summaries
from rawrpc import field_bytes, field_varint, varint

EXIT_NO_DATA = 8
EXIT_GATE_FAILED = 7
SEC = 1_000_000_000
HIST, COUNTS, EVENTS = 1, 2, 3  # proto ResultKind


def field_double(num, value):
    return varint(num << 3 | 1) + struct.pack("<d", value)


def provenance(relative_error):
    """As agents send it: relative_error is set for histogram probes only."""
    body = field_bytes(1, "tracepoint block:block_rq_issue") + field_bytes(2, "6.18") + field_bytes(4, "0.1.0")
    body += field_varint(5, 1)
    if relative_error:
        body += field_double(6, relative_error)
    return body


def attached(first_end, relative_error, kind=0):
    body = field_varint(1, 1) + field_bytes(2, "hook") + field_varint(3, 1000)
    body += field_bytes(4, provenance(relative_error)) + field_varint(5, first_end)
    if kind:
        body += field_varint(6, kind)
    return field_bytes(3, body)


def snapshot(seq, start, end, summary=False, events=0, dropped=0, counts=None, relative_error=0.0, kind=0,
             series=()):
    body = field_varint(1, seq) + field_varint(2, start) + field_varint(3, end)
    if summary:
        body += field_varint(4, 1) + field_bytes(10, provenance(relative_error))
    for label, values in series:
        hist = field_varint(1, 5) + field_varint(3, len(values)) + field_varint(4, sum(values))
        hist += field_varint(5, max(values))
        for v in values:  # values below 32 have a bucket each (sub_bits 5)
            hist += field_bytes(2, field_varint(1, v) + field_varint(2, 1))
        body += field_bytes(5, field_bytes(1, label) + field_bytes(2, hist))
    if counts:
        table = field_bytes(1, "comm") + field_bytes(2, "bytes")
        for key, value in counts:
            table += field_bytes(3, field_bytes(1, key) + field_varint(2, value))
        body += field_bytes(7, table)
    if events:
        body += field_varint(8, events)
    if dropped:
        body += field_varint(9, dropped)
    if kind:
        body += field_varint(12, kind)
    return field_bytes(4, body)


def status_ok():
    return field_bytes(15, field_varint(1, 0) + field_bytes(2, "duration reached"))


def write_recording(path, probe, responses, start, interval=SEC, duration=3 * SEC, host="hostA"):
    header = field_varint(1, 1) + field_bytes(2, "0.1.0") + field_bytes(3, probe) + field_bytes(5, host)
    header += field_varint(6, start) + field_varint(7, interval) + field_varint(8, duration)
    with gzip.open(path, "wb") as f:
        f.write(b"TRACECTL-REC1\n")
        for host_index, payload in [(0, header)] + [(1, r) for r in responses]:
            f.write(struct.pack(">II", host_index, len(payload)) + payload)


def session(start, windows, relative_error, kind=0, **summary):
    """Attached, windows (each a dict of snapshot() arguments), summary, Status."""
    out = [attached(start + SEC, relative_error, kind)]
    end = start
    for i, w in enumerate(windows):
        end = start + (i + 1) * SEC
        out.append(snapshot(i + 1, end - SEC, end, kind=kind, **w))
    out.append(snapshot(len(windows) + 1, start, end, summary=True, relative_error=relative_error, kind=kind,
                        **summary))
    out.append(status_ok())
    return out


def cli(env, *argv, timeout=30):
    return env.run_cli(argv[0], env.cli_argv(env.path("ca.pem"), env.path("client.pem"),
                                             env.path("client.key"), *argv), timeout=timeout)


def check_idle_histogram_report(env, rec, probe):
    """report says the histogram had no samples; gate answers no data for that reason."""
    rc, out, err = cli(env, "report", rec)
    check(rc == 0, f"report exited {rc}: {err}")
    check("event(s)" not in out, f"an idle {probe} is reported as events: {out!r}")
    check(re.search(rf"=== Summary \S+ {probe} over [0-9.]+s ===\n  no samples\n", out),
          f"the summary does not say there were no samples: {out!r}")
    rc, out, err = cli(env, "report", rec, "--output", "json")
    summ = summaries(parse_json_lines(out.splitlines()))
    check(len(summ) == 1 and summ[0].get("count") == 0 and "events" not in summ[0],
          f"JSON summary of an idle {probe}: {summ}")
    rc, out, err = cli(env, "gate", "--max", "p99=5ms", "--from", rec)
    log(f"gate on the idle {probe} recording: exit {rc}: {out.strip()!r}")
    check(rc == EXIT_NO_DATA, f"gate on an idle {probe} exited {rc}, want {EXIT_NO_DATA} (no data)")
    check("event probes" not in out + err, f"gate took the idle {probe} for an event probe: {out!r}")
    check("no samples" in out, f"gate does not say there were no samples: {out!r}")


def test_oldrec(args):
    with Env(args) as env:
        start = (time.time_ns() // SEC - 100) * SEC
        rec = os.path.join(env.dir, "bio-old.trace")
        # before the kind: windows and summary of an idle histogram probe carry no series
        write_recording(rec, "bio-latency", session(start, [{}, {}, {}], 0.0156), start)
        os.chmod(rec, 0o644)
        check_idle_histogram_report(env, rec, "bio-latency")

        # the same with the kind on the wire and no relative error to infer from
        rec = os.path.join(env.dir, "bio-new.trace")
        write_recording(rec, "bio-latency", session(start, [{}, {}], 0.0, kind=HIST), start)
        os.chmod(rec, 0o644)
        check_idle_histogram_report(env, rec, "bio-latency")

        # an old event probe's recording: still events, with its numbers
        rec = os.path.join(env.dir, "exec-old.trace")
        write_recording(rec, "exec", session(start, [{"events": 3}, {"events": 4, "dropped": 1}], 0.0,
                                             events=7, dropped=1), start)
        os.chmod(rec, 0o644)
        rc, out, err = cli(env, "report", rec)
        check(rc == 0 and "=== Summary hostA exec: 7 event(s), 1 lost ===" in out,
              f"old exec recording: exit {rc}, {out!r}")
        rc, out, err = cli(env, "gate", "--max", "count=5", "--from", rec)
        check(rc == EXIT_GATE_FAILED, f"gate count=5 on 7 events exited {rc}: {out!r}")

        # an old histogram recording with samples, and an old count table
        rec = os.path.join(env.dir, "hist-old.trace")
        write_recording(rec, "bio-latency", session(start, [{"series": [("disk=vda", [10, 20])]}], 0.0156,
                                                    series=[("disk=vda", [10, 20])]), start)
        os.chmod(rec, 0o644)
        rc, out, err = cli(env, "report", rec, "--output", "json")
        summ = summaries(parse_json_lines(out.splitlines()))
        check(rc == 0 and len(summ) == 1 and summ[0]["count"] == 2 and summ[0]["max_ns"] == 20,
              f"old histogram recording: exit {rc}, {summ}")
        rec = os.path.join(env.dir, "top-old.trace")
        write_recording(rec, "tcp-top", session(start, [{"counts": [("a", 5)]}, {"counts": [("a", 2), ("b", 1)]}],
                                                0.0, counts=[("a", 7), ("b", 1)]), start)
        os.chmod(rec, 0o644)
        rc, out, err = cli(env, "gate", "--max", "bytes=7", "--from", rec)
        check(rc == EXIT_GATE_FAILED and re.search(r"bytes=7 +8 +>", out),
              f"gate bytes=7 on a table summing 8 exited {rc}: {out!r}")
        rc, out, err = cli(env, "report", rec, "--output", "json")
        rows = [o for o in parse_json_lines(out.splitlines()) if o.get("type") == "summary"]
        check(rc == 0 and len(rows) == 1 and
              {r["comm"]: r["bytes"] for r in rows[0].get("rows", [])} == {"a": 7, "b": 1},
              f"old tcp-top recording rows: {rows}")
        env.stop_agent_checked()


def test_idle(args):
    with Env(args) as env:
        sleeper = subprocess.Popen(["sleep", "60"])
        try:
            recdir = os.path.join(env.dir, "rec")  # the CLI runs as nobody
            os.mkdir(recdir)
            os.chmod(recdir, 0o777)
            rec = os.path.join(recdir, "idle.trace")
            with Attach(env, "runq-latency", ["--pid", str(sleeper.pid)], duration="3s") as a:
                objs = a.result()
            summ = summaries(objs)
            log(f"idle runq-latency: attached {a.attached}; summaries {summ}")
            check(len(summ) == 1 and summ[0].get("count") == 0 and "events" not in summ[0],
                  f"the summary of an idle histogram probe: {summ}")
            check(not [o for o in objs if "events" in o and o.get("type") in ("snapshot", "summary")],
                  "a window of an idle histogram probe was shown as event counts")
            rc, out, err = cli(env, "gate", f"127.0.0.1:{env.port}", "runq-latency", "--pid", str(sleeper.pid),
                               "--max", "p99=5ms", "-d", "2s")
            log(f"live gate: exit {rc}: {out.strip()!r}")
            check(rc == EXIT_NO_DATA and "no samples" in out and "event probes" not in out,
                  f"live gate on an idle histogram: exit {rc}, {out!r}")
            rc, out, err = cli(env, "record", f"127.0.0.1:{env.port}", "runq-latency", "--pid", str(sleeper.pid),
                               "-d", "2s", "-o", rec)
            check(rc == 0, f"record exited {rc}: {err}")
            os.chmod(rec, 0o644)
            check_idle_histogram_report(env, rec, "runq-latency")
        finally:
            sleeper.kill()
            sleeper.wait()
        env.stop_agent_checked()


def test_phase(args):
    with Env(args) as env:
        start = (time.time_ns() // SEC - 100) * SEC + SEC // 2  # boundaries at .5 s
        responses = [attached(start + SEC, 0.0, EVENTS)]
        # window ends jitter around the boundaries, as the agent's timer does
        ends = [start + SEC + 3_000_000, start + 2 * SEC - 1_000_000, start + 3 * SEC + 2_000_000,
                start + 4 * SEC - 500_000]
        prev = start
        for i, end in enumerate(ends):
            responses.append(snapshot(i + 1, prev, end, events=i + 1, kind=EVENTS))
            prev = end
        responses += [snapshot(9, start, prev, summary=True, events=10, kind=EVENTS), status_ok()]
        rec = os.path.join(env.dir, "phase.trace")
        write_recording(rec, "exec", responses, start, duration=4 * SEC)
        os.chmod(rec, 0o644)
        rc, out, err = cli(env, "report", rec, "--output", "json")
        objs = parse_json_lines(out.splitlines())
        shown = [o for o in objs if o.get("type") == "snapshot"]
        late = [o for o in shown if o.get("late")]
        log(f"MEASURED {len(shown)} windows shown, {len(late)} late; stderr {err.strip()!r}")
        check(rc == 0, f"report exited {rc}")
        check("arrived after" not in err and not late, f"one host's window came 'late': {err!r}, {late}")
        check([o["events"] for o in shown] == [1, 2, 3, 4], f"windows shown: {[o.get('events') for o in shown]}")
        env.stop_agent_checked()


def test_exec(args):
    with Env(args) as env:
        stop_at = time.monotonic() + 8
        workload = subprocess.Popen(["sh", "-c", "while [ $(date +%s) -lt $1 ]; do /bin/true; sleep 0.2; done",
                                     "sh", str(int(time.time()) + 8)])
        try:
            # the CLI aligns the first boundary half an interval from its start: started
            # at a whole second, the boundaries sit at .5 s, where rounding from whole
            # intervals flipped between buckets
            time.sleep(1 - time.time() % 1)
            rc, out, err = cli(env, "attach", f"127.0.0.1:{env.port}", "exec", "-d", "4s")
        finally:
            workload.wait(max(1, stop_at - time.monotonic() + 2))
        log(f"exec -d 4s: exit {rc}; stderr {err.strip()!r}")
        check(rc == 0, f"attach exited {rc}")
        check("=== Summary" in out and "event(s)" in out, f"no event summary: {out[-300:]!r}")
        check("arrived after" not in err, f"a late window with one host: {err!r}")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"oldrec": test_oldrec, "idle": test_idle, "phase": test_phase, "exec": test_exec},
                       __doc__.strip().splitlines()[0]))
