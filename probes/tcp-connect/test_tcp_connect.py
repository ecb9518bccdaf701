#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tcp-connect end to end: exactly 50 connects to a loopback listener give exactly 50 latency
# samples, each between the kernel's own handshake RTT and the workload's own connect() time.
"""
tcp_connect: tcp_workload makes exactly CONNECTS connect() calls to a loopback listener of
the test's own, timing each call on CLOCK_MONOTONIC and reading the handshake's RTT the
kernel measured (TCP_INFO right after connect(): the first sample is the srtt). The probe
times SYN_SENT to ESTABLISHED: the kernel stamps the SYN after the first and takes the
SYN-ACK's RTT before the second, and both lie inside the connect() call, so each sample
is within [that RTT - 1 us (whole-us stamps), that call's time]. `tracectl attach
tcp-connect --pid PID` must report, in its summary for series "all", exactly CONNECTS
samples, a sum within the sums of those bounds, and p50 and max within the same order
statistics of the bounds (p50: rank +- 1), widened by the histogram's relative error.
tcp_connect_by_remote: the same with --by remote: exactly one series,
"remote=127.0.0.1:PORT".
"""
import sys

from harness import Env, Attach, check, log, summaries, run_tests
from net_workload import Client, start_server

CONNECTS = 50
STAMP_NS = 1000  # the kernel's TCP timestamps are whole microseconds


def run(args, by_remote):
    with Env(args) as env:
        port = start_server(env)
        client = Client(env, "connect", port, "--count", str(CONNECTS))
        extra = ["--pid", str(client.pid)] + (["--by", "remote"] if by_remote else [])
        with Attach(env, "tcp-connect", extra, duration="60s", timeout=90) as a:
            client.go()
            done = client.wait_done()
            a.end()  # each socket was established before its connect() returned
        objs = a.result()
        fields = done.split()
        check(len(fields) == 5 and fields[3] == "connect_ns/rtt_us", f"tcp_workload connect said {done!r}")
        pairs = [x.split("/") for x in fields[4].split(",")]
        check(len(pairs) == CONNECTS, f"tcp_workload timed {len(pairs)} connects, want {CONNECTS}")
        own = sorted(int(c) for c, _ in pairs)
        rtt = sorted(int(r) * 1000 - STAMP_NS for _, r in pairs)
        check(all(int(r) * 1000 - STAMP_NS <= int(c) for c, r in pairs), f"an RTT longer than its connect(): {pairs}")
        log(f"MEASURED workload's own connect(): sum {sum(own) / 1e3:.1f} us p50 {own[CONNECTS // 2] / 1e3:.1f} us "
            f"max {own[-1] / 1e3:.1f} us; kernel's handshake RTT: sum {sum(rtt) / 1e3:.1f} us "
            f"p50 {rtt[CONNECTS // 2] / 1e3:.1f} us max {rtt[-1] / 1e3:.1f} us (less {STAMP_NS} ns each)")
        sums = {o["series"]: o for o in summaries(objs)}
        log(f"summary series: { {k: (v['count'], v['p50_ns'], v['p99_ns'], v['max_ns']) for k, v in sums.items()} }")
        want = f"remote=127.0.0.1:{port}" if by_remote else "all"
        check(list(sums) == [want], f"want exactly the series {want!r}, got {sorted(sums)}")
        s = sums[want]
        check(s["count"] == CONNECTS, f"series {want}: {s['count']} samples, want {CONNECTS}")
        rel = s["relative_error"]
        rank = (CONNECTS - 1) // 2
        p50_lo, p50_hi = rtt[max(0, rank - 1)] * (1 - rel), own[min(CONNECTS - 1, rank + 1)] * (1 + rel)
        log(f"MEASURED {want}: samples={s['count']} sum={s['sum_ns'] / 1e3:.1f}us p50={s['p50_ns'] / 1e3:.1f}us "
            f"(bounds [{p50_lo / 1e3:.1f}, {p50_hi / 1e3:.1f}]) p99={s['p99_ns'] / 1e3:.1f}us "
            f"max={s['max_ns'] / 1e3:.1f}us (relative error {rel})")
        check(sum(rtt) <= s["sum_ns"] <= sum(own),
              f"series {want}: sum {s['sum_ns']} ns outside [{sum(rtt)}, {sum(own)}] (the kernel's RTTs, the calls)")
        check(p50_lo <= s["p50_ns"] <= p50_hi, f"series {want}: p50 {s['p50_ns']} ns outside [{p50_lo:.0f}, {p50_hi:.0f}]")
        check(rtt[-1] * (1 - rel) <= s["max_ns"] <= own[-1] * (1 + rel),
              f"series {want}: max {s['max_ns']} ns outside [{rtt[-1] * (1 - rel):.0f}, {own[-1] * (1 + rel):.0f}]")
        env.stop_agent_checked()


def test_tcp_connect(args):
    run(args, by_remote=False)


def test_tcp_connect_by_remote(args):
    run(args, by_remote=True)


if __name__ == "__main__":
    sys.exit(run_tests({"tcp_connect": test_tcp_connect, "tcp_connect_by_remote": test_tcp_connect_by_remote},
                       __doc__))
