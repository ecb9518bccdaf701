#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tcp-top ground truth: one loopback connection sends exactly 3 MiB and receives exactly 1 MiB.
"""
ipv4, ipv6: tcp_bulk opens one connection to a listener of its own (127.0.0.1 or ::1),
then, on "go", its client sends exactly 3 MiB, the server thread reads them and
answers exactly 1 MiB. tcp-top filtered by the workload's pid, with one interval
covering the whole transfer, must show exactly two rows: the client's
(laddr = client port, raddr = server port, sent 3 MiB, received 1 MiB) and the
server's (the mirror image), with addresses printed as a.b.c.d:port or [v6]:port,
in the interval's snapshot and in the summary, to the byte.
"""
import os
import subprocess
import sys

from harness import Attach, Env, LineReader, check, log, run_tests, summaries

MIB = 1 << 20
SEND, RECV = 3 * MIB, 1 * MIB


def run(args, family):
    host = "127.0.0.1" if family == 4 else "[::1]"
    with Env(args) as env:
        wl = env.spawn("tcp_bulk", [os.path.join(args.tools, "tcp_bulk"), "--wait-go", "--family", str(family),
                                    "--send", str(SEND), "--recv", str(RECV), "--timeout-seconds", "60"],
                       stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        out = LineReader(wl.stdout, "tcp_bulk")
        line = out.readline(10)
        check(line is not None and line.startswith("ready "), f"tcp_bulk said {line!r}")
        pid, cport, sport = (int(x) for x in line.split()[1:4])
        with Attach(env, "tcp-top", ["--pid", str(pid)], duration="30s", interval="4s") as a:
            log(f"hook: {a.attached.get('hook')}")
            wl.stdin.write(b"go\n")
            wl.stdin.flush()
            done = out.readline(30)
            check(done == f"done {SEND} {RECV}", f"tcp_bulk said {done!r}")
            check(wl.wait(timeout=10) == 0, f"tcp_bulk exited {wl.returncode}")
            # the workload is done and counted: end the session now (the duration is a bound)
            a.end()
            objs = a.result()
        client = f"{host}:{cport}"
        server = f"{host}:{sport}"
        want = sorted([
            {"pid": pid, "comm": "tcp_bulk", "laddr": client, "raddr": server,
             "bytes": SEND + RECV, "sent_bytes": SEND, "received_bytes": RECV},
            {"pid": pid, "comm": "tcp_bulk", "laddr": server, "raddr": client,
             "bytes": SEND + RECV, "sent_bytes": RECV, "received_bytes": SEND},
        ], key=lambda r: r["laddr"])
        snaps = [o for o in objs if o.get("type") == "snapshot" and o.get("rows")]
        summ = summaries(objs)
        check(len(summ) == 1, f"want one summary, got {len(summ)}")
        for what, rows in [("summary", summ[0]["rows"])] + [(f"snapshot {s.get('seq')}", s["rows"]) for s in snaps]:
            log(f"MEASURED tcp-top IPv{family} {what}: {rows}")
        got = sorted(summ[0]["rows"], key=lambda r: r["laddr"])
        check(got == want, f"summary rows {got}, want {want}")
        env.stop_agent_checked()


def test_ipv4(args):
    run(args, 4)


def test_ipv6(args):
    run(args, 6)


if __name__ == "__main__":
    sys.exit(run_tests({"ipv4": test_ipv4, "ipv6": test_ipv6}, __doc__))
