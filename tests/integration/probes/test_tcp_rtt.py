#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tcp-rtt end to end: loopback traffic on the test's own port has smoothed RTT samples, all below 1 ms.
"""
tcp_rtt: tcp_workload sends 500 x 1000 bytes to a loopback server of the test's own, which
answers with twice that; `tracectl attach tcp-rtt --port PORT` must report, in its summary
for series "all", samples > 0 and p50 < 1 ms (loopback RTTs are tens of microseconds).
tcp_rtt_by_remote: the same with --by remote: a series "remote=127.0.0.1:PORT" (the client's
view of the server) with samples > 0 and p50 < 1 ms, and every series label is remote=...
tcp_rtt_tracepoint: the first again on an agent started with --no-tp-btf: the same
answers from the tcp:tcp_probe tracepoint program (the hook says which ran).
"""
import sys

from harness import Env, Attach, check, log, summaries, run_tests
from net_workload import Client, start_server

SENDS = 500
SIZE = 1000
MS = 1_000_000


def check_hook(objs, fallback):
    """The hook in use: tp_btf by default on this kernel, the fallback with --no-tp-btf."""
    hook = objs[0].get("hook", "")
    log(f"hook: {hook}")
    check(hook.startswith("tp_btf") != fallback, f"{'--no-tp-btf' if fallback else 'default'}: hook {hook!r}")


def run(args, by_remote, fallback=False):
    with Env(args, agent_args=["--no-tp-btf"] if fallback else []) as env:
        port = start_server(env)
        client = Client(env, "send", port, "--count", str(SENDS), "--size", str(SIZE))
        extra = ["--port", str(port)] + (["--by", "remote"] if by_remote else [])
        with Attach(env, "tcp-rtt", extra, duration="4s") as a:
            client.go()
            client.wait_done()
        objs = a.result()
        check_hook(objs, fallback)
        sums = {o["series"]: o for o in summaries(objs)}
        log(f"summary series: { {k: (v['count'], v['p50_ns'], v['p99_ns'], v['max_ns']) for k, v in sums.items()} }")
        want = f"remote=127.0.0.1:{port}" if by_remote else "all"
        check(want in sums, f"no summary series {want!r}; got {sorted(sums)}")
        if by_remote:
            check(all(k.startswith("remote=127.0.0.1:") for k in sums), f"unexpected series {sorted(sums)}")
        s = sums[want]
        check(s["count"] > 0, f"series {want}: no samples")
        check(0 < s["p50_ns"] < MS, f"series {want}: p50 {s['p50_ns']} ns, want (0, 1 ms)")
        log(f"measured: {want}: samples={s['count']} p50={s['p50_ns']}ns p99={s['p99_ns']}ns max={s['max_ns']}ns")
        env.stop_agent_checked()


def test_tcp_rtt(args):
    run(args, by_remote=False)


def test_tcp_rtt_by_remote(args):
    run(args, by_remote=True)


def test_tcp_rtt_tracepoint(args):
    run(args, by_remote=False, fallback=True)


if __name__ == "__main__":
    sys.exit(run_tests({"tcp_rtt": test_tcp_rtt, "tcp_rtt_by_remote": test_tcp_rtt_by_remote,
                            "tcp_rtt_tracepoint": test_tcp_rtt_tracepoint}, __doc__))
