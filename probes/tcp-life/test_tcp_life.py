#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tcp-life end to end: 50 connections with known byte counts, each held open for 20 ms, give
# exactly those 50 close events with those lifetimes.
"""
tcp_life: tcp_workload opens CONNS connections to a loopback server of the test's own;
connection i sends BASE+i bytes, half-closes, and reads the server's answer of 2*(BASE+i)
bytes. The server sleeps HOLD_MS after each accept() before it reads, so every
connection lives at least HOLD_MS; the client measures each connection's time from
before connect() to after close(). `tracectl attach tcp-life --pid PID` must print
exactly CONNS events, all for that pid and comm, from 127.0.0.1 to 127.0.0.1:PORT,
whose (tx_bytes, rx_bytes) are exactly {(BASE+i, 2*(BASE+i))}, and report no dropped
events. The bytes name the connection, so each event's duration_ns is checked against
that connection's own numbers:
- client: within [HOLD_MS, the client's own time]: the socket is born in connect()
  (SYN_SENT) and closes when the server's FIN arrives, which is after the server's hold
  and before the client's read of EOF returns;
- server: at least HOLD_MS (born before accept() returns, closed after its close(),
  which follows the hold) and at most the client's own time + LAST_ACK_ALLOWANCE_MS
  (its last state change waits for the client's ACK of its FIN, which loopback
  usually delivers before the client's read returns, but a busy softirq may defer).
tcp_life_passive: the same with --port PORT instead: the server's accepted sockets (born
in softirq) must carry the server's pid, not whoever was on the CPU: CONNS events for
the client as above and CONNS for the server with lport PORT and the byte counts swapped.
By default the server's owner is named when it closes the socket; tcp_life_passive_io
checks the same with --param measure=io, where it is named at its first send/receive,
and tcp_life_passive_io_tracepoint with that on an agent started with --no-tp-btf (the
sock:sock_send/recv_length tracepoint programs instead of tp_btf; before 6.3, where
neither exists, the same fexit or kprobe programs either way).
"""
import sys
import time

from harness import Env, Attach, check, events, hook_refused, hook_used, log, summaries, run_tests
from net_workload import Client, start_server

CONNS = 50
BASE = 1000
HOLD_MS = 20
LAST_ACK_ALLOWANCE_MS = 5
MS = 1_000_000


def check_side(evs, who, pid, want_pairs, lives, lport=None, rport=None, late_ns=0):
    """lives[(tx, rx)]: the client's own time for that connection; each duration must lie
    in [HOLD_MS, that + late_ns]."""
    check(len(evs) == CONNS, f"{who}: {len(evs)} events, want {CONNS}")
    for e in evs:
        check(e.get("comm") == "tcp_workload", f"{who}: comm {e.get('comm')!r} in {e}")
        check(e.get("laddr") == "127.0.0.1" and e.get("raddr") == "127.0.0.1", f"{who}: addresses in {e}")
        check(lport is None or e.get("lport") == lport, f"{who}: lport {e.get('lport')}, want {lport}")
        check(rport is None or e.get("rport") == rport, f"{who}: rport {e.get('rport')}, want {rport}")
    pairs = sorted((e["tx_bytes"], e["rx_bytes"]) for e in evs)
    check(pairs == sorted(want_pairs), f"{who}: (tx, rx) {pairs[:5]}..., want {sorted(want_pairs)[:5]}...")
    durs = sorted(e["duration_ns"] for e in evs)
    # How far each duration is from its connection's own bounds (the margins the test has).
    above_hold = min(e["duration_ns"] - HOLD_MS * MS for e in evs)
    below_own = min(lives[(e["tx_bytes"], e["rx_bytes"])] - e["duration_ns"] for e in evs)
    log(f"MEASURED {who} pid {pid}: {len(evs)} events, (tx, rx) from {pairs[0]} to {pairs[-1]} all exact, "
        f"duration min {durs[0] / MS:.3f} ms median {durs[len(durs) // 2] / MS:.3f} ms max {durs[-1] / MS:.3f} ms; "
        f"smallest margin above the {HOLD_MS} ms hold {above_hold / MS:.3f} ms, "
        f"below the client's own time {below_own / MS:.3f} ms")
    for e in evs:
        own = lives[(e["tx_bytes"], e["rx_bytes"])]
        check(HOLD_MS * MS <= e["duration_ns"] <= own + late_ns,
              f"{who}: duration_ns {e['duration_ns']} of {(e['tx_bytes'], e['rx_bytes'])}, want within "
              f"[{HOLD_MS * MS}, {own + late_ns}] (the hold, the client's own time + {late_ns})")


def run(args, passive, measure=None, fallback=False):
    with Env(args, agent_args=["--no-tp-btf"] if fallback else []) as env:
        port = start_server(env, "--hold-ms", str(HOLD_MS))
        server_pid = env.procs[-1][1].pid
        client = Client(env, "life", port, "--count", str(CONNS), "--base", str(BASE))
        extra = ["--port", str(port)] if passive else ["--pid", str(client.pid)]
        if measure:
            extra += ["--param", f"measure={measure}"]
        with Attach(env, "tcp-life", extra, duration="60s", timeout=90) as a:
            client.go()
            done = client.wait_done()
            time.sleep(0.2)  # the server's last socket closes on the client's last ACK: a moment for it
            a.end()
        objs = a.result()
        fields = done.split()
        check(len(fields) == 5 and fields[3] == "lives_ns", f"tcp_workload life said {done!r}")
        own = [int(x) for x in fields[4].split(",")]
        check(len(own) == CONNS, f"tcp_workload timed {len(own)} connections, want {CONNS}")
        lives = {(BASE + i, 2 * (BASE + i)): t for i, t in enumerate(own)}
        log(f"MEASURED client's own connection times: min {min(own) / MS:.3f} ms max {max(own) / MS:.3f} ms")
        hook = objs[0].get("hook", "")
        log(f"hook: {hook}")
        used = hook_used(hook)
        # the send hooks: the tracepoint, or before 6.3 the call it wraps (inet_sendmsg)
        check(("sock_send_length" in used or "inet_sendmsg" in used) == (measure == "io"),
              f"measure={measure} but hook {hook!r}")
        tp_btf = "tp_btf sock_send_length" in used
        check(tp_btf or hook_refused(hook, "tp_btf") if measure == "io" and not fallback else not tp_btf,
              f"fallback={fallback} but hook {hook!r}")
        evs = events(objs)
        sums = summaries(objs)
        check(len(sums) == 1, f"want one summary, got {len(sums)}")
        log(f"summary: events={sums[0].get('events')} events_dropped={sums[0].get('events_dropped')}")
        check(sums[0].get("events_dropped", 0) == 0, f"dropped events: {sums[0]}")
        check(sums[0].get("events") == len(evs), f"summary counts {sums[0].get('events')} events, "
              f"the CLI printed {len(evs)}")
        client_pairs = [(BASE + i, 2 * (BASE + i)) for i in range(CONNS)]
        mine = [e for e in evs if e.get("pid") == client.pid]
        check_side(mine, "client", client.pid, client_pairs, lives, rport=port)
        if passive:
            theirs = [e for e in evs if e.get("pid") == server_pid]
            mirrored = {(rx, tx): t for (tx, rx), t in lives.items()}
            check_side(theirs, "server", server_pid, [(rx, tx) for tx, rx in client_pairs], mirrored, lport=port,
                       late_ns=LAST_ACK_ALLOWANCE_MS * MS)
            others = [e for e in evs if e.get("pid") not in (client.pid, server_pid)]
            check(not others, f"events of other pids on port {port}: {others[:3]}")
        else:
            check(len(evs) == CONNS, f"{len(evs)} events in all, want only the client's {CONNS}")
        env.stop_agent_checked()


def test_tcp_life(args):
    run(args, passive=False)


def test_tcp_life_passive(args):
    run(args, passive=True)


def test_tcp_life_passive_io(args):
    run(args, passive=True, measure="io")


def test_tcp_life_passive_io_tracepoint(args):
    run(args, passive=True, measure="io", fallback=True)


if __name__ == "__main__":
    sys.exit(run_tests({"tcp_life": test_tcp_life, "tcp_life_passive": test_tcp_life_passive,
                            "tcp_life_passive_io": test_tcp_life_passive_io,
                            "tcp_life_passive_io_tracepoint": test_tcp_life_passive_io_tracepoint}, __doc__))
