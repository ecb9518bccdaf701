#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Ground truth for tcp-rtt: a loopback server that answers each request 5 ms later and
# delays its ACKs until then, so every RTT sample of the client lies in [5 ms, the round].
"""
tcp_workload serve --echo-after-ms ECHO_MS sets TCP_QUICKACK 0 (delayed ACKs) on each
connection, sends a 1-byte greeting, then answers each read with the same bytes ECHO_MS
later: the ACK of a request rides on its answer. tcp_workload pingpong reads the
greeting and makes ROUNDS rounds of one SIZE-byte request and its answer, timing each
round and connect() on CLOCK_MONOTONIC, and reads the kernel's own smoothed RTT
(TCP_INFO) at the end. So the client socket's RTT samples are known to lie in
[ECHO_MS, that round's time] (the handshake's in [0, connect()'s time]), and the smoothed
RTT the probe reports (the kernel's srtt = srtt + (sample - srtt) / 8 at each new ACK,
read by tcp_probe before the segment's ACK is taken) is bounded, segment by segment, by
running that recurrence on the lower and on the upper ends.

Two sessions run at once on --port PORT: one with --by remote, one without. Checked:
- series remote=127.0.0.1:PORT (the client's view): exactly ROUNDS + 1 samples (the
  greeting and the answers; a delayed-ACK timer could add a pure ACK, but only in a round
  that lasted DELACK_MIN_MS, and those are counted from the client's own times);
- its p50 within the order statistics of the bounds (rank +- 1, and the extra ACKs),
  widened by the histogram's stated relative error and TRUNC_NS (the kernel keeps srtt
  in 1/8 us and tcp_probe reports whole us);
- the kernel's own final srtt (TCP_INFO) within the recurrence's bounds after ROUNDS
  rounds: the model the bounds come from agrees with the kernel;
- series "all" of the other session holds exactly the samples of all the --by remote
  series together, bucket by bucket, and every --by remote series is 127.0.0.1:*.
  Both sessions end once no socket of the port is established any more (tcp_probe
  fires only on established sockets), not after a fixed pause that could let the
  server's last segment fall between the two sessions' ends.
tcp_rtt_tracepoint: the same on an agent started with --no-tp-btf (the
tcp:tcp_probe tracepoint program instead of tp_btf; the hook says which ran).
"""
import sys
import time

from harness import Env, Attach, check, log, summaries, run_tests
from net_workload import Client, start_server

ROUNDS = 100
SIZE = 100  # one segment each way
ECHO_MS = 5
DELACK_MIN_MS = 30  # TCP_DELACK_MIN is 40 ms, less one jiffy at HZ >= 100
TRUNC_NS = 2000
MS = 1_000_000


def check_hook(objs, fallback):
    """The hook in use: tp_btf by default on this kernel, the fallback with --no-tp-btf."""
    hook = objs[0].get("hook", "")
    log(f"hook: {hook}")
    check(hook.startswith("tp_btf") != fallback, f"{'--no-tp-btf' if fallback else 'default'}: hook {hook!r}")


def wait_not_established(port, timeout=20):
    """Until no IPv4 socket with local or remote port PORT is ESTABLISHED (/proc/net/tcp)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            rows = [line.split() for line in f.readlines()[1:]]
        # local and remote are HEXADDR:HEXPORT, state 01 is TCP_ESTABLISHED
        if not any(r[3] == "01" and port in (int(r[1].split(":")[1], 16), int(r[2].split(":")[1], 16))
                   for r in rows):
            return
        time.sleep(0.01)
    check(False, f"a connection of port {port} is still established after {timeout} s")


def srtt_bounds(first_hi, samples_lo, samples_hi):
    """The kernel's srtt after 0..n samples, run on the low and the high ends of each sample."""
    lo, hi = [0.0], [float(first_hi)]
    for a, b in zip(samples_lo, samples_hi):
        lo.append(lo[-1] + (a - lo[-1]) / 8)
        hi.append(hi[-1] + (b - hi[-1]) / 8)
    return lo, hi


def run(args, fallback=False):
    with Env(args, agent_args=["--no-tp-btf"] if fallback else []) as env:
        port = start_server(env, "--echo-after-ms", str(ECHO_MS))
        client = Client(env, "pingpong", port, "--count", str(ROUNDS), "--size", str(SIZE))
        with Attach(env, "tcp-rtt", ["--port", str(port)], duration="60s", timeout=90) as plain, \
                Attach(env, "tcp-rtt", ["--port", str(port), "--by", "remote"], duration="60s", timeout=90) as by_remote:
            client.go()
            done = client.wait_done()
            # The client's segments were all taken before its last recv() returned; the server's
            # last one (the client's FIN) is taken while its socket is still established:
            # tcp_probe fires only there, so once no socket of the port is, nothing more comes.
            wait_not_established(port)
            plain.end()
            by_remote.end()
        fields = done.split()
        check(len(fields) == 9 and [fields[i] for i in (2, 3, 5, 7)] == ["rounds", "connect_ns", "srtt_us", "rounds_ns"],
              f"tcp_workload pingpong said {done!r}")
        connect_ns, kernel_srtt_ns = int(fields[4]), int(fields[6]) * 1000
        rounds = [int(x) for x in fields[8].split(",")]
        check(len(rounds) == ROUNDS, f"tcp_workload timed {len(rounds)} rounds, want {ROUNDS}")
        check(min(rounds) >= ECHO_MS * MS, f"a round took {min(rounds)} ns, less than the server's {ECHO_MS} ms")
        long_rounds = sum(r >= DELACK_MIN_MS * MS for r in rounds)
        srt = sorted(rounds)
        log(f"MEASURED client's own rounds: min {srt[0] / MS:.3f} ms p50 {srt[ROUNDS // 2] / MS:.3f} ms "
            f"max {srt[-1] / MS:.3f} ms ({long_rounds} of at least {DELACK_MIN_MS} ms); connect() "
            f"{connect_ns / 1e3:.1f} us; kernel's final srtt {kernel_srtt_ns / MS:.3f} ms")

        lo, hi = srtt_bounds(connect_ns, [ECHO_MS * MS] * ROUNDS, rounds)
        check(lo[-1] - TRUNC_NS <= kernel_srtt_ns <= hi[-1] + TRUNC_NS,
              f"the kernel's srtt {kernel_srtt_ns} ns outside its bounds [{lo[-1]:.0f}, {hi[-1]:.0f}]")

        objs = by_remote.result()
        check_hook(objs, fallback)
        remote = {o["series"]: o for o in summaries(objs)}
        check(all(k.startswith("remote=127.0.0.1:") for k in remote), f"unexpected series {sorted(remote)}")
        want = f"remote=127.0.0.1:{port}"
        check(want in remote, f"no summary series {want!r}; got {sorted(remote)}")
        s = remote[want]
        rel = s["relative_error"]
        # The greeting reads srtt after the handshake, answer k after k - 1 rounds.
        seg_lo, seg_hi = sorted([lo[0]] + lo[:ROUNDS]), sorted([hi[0]] + hi[:ROUNDS])
        n, extra = s["count"], s["count"] - (ROUNDS + 1)
        rank = (n - 1) // 2
        p50_lo = seg_lo[max(0, rank - 1 - max(extra, 0))] * (1 - rel) - TRUNC_NS
        p50_hi = seg_hi[min(ROUNDS, rank + 1)] * (1 + rel) + TRUNC_NS
        log(f"MEASURED {want}: count={n} p50={s['p50_ns'] / MS:.3f}ms p99={s['p99_ns'] / MS:.3f}ms "
            f"max={s['max_ns'] / MS:.3f}ms; p50 bounds [{p50_lo / MS:.3f}, {p50_hi / MS:.3f}] ms "
            f"(relative error {rel}); other series "
            f"{ {k: (v['count'], v['p50_ns']) for k, v in remote.items() if k != want} }")
        check(0 <= extra <= long_rounds,
              f"{want}: {n} samples, want {ROUNDS + 1} (+ at most {long_rounds} delayed-ACK timer ACKs)")
        check(p50_lo <= s["p50_ns"] <= p50_hi, f"{want}: p50 {s['p50_ns']} ns outside [{p50_lo:.0f}, {p50_hi:.0f}]")
        check(s["max_ns"] <= max(hi) * (1 + rel) + TRUNC_NS, f"{want}: max {s['max_ns']} ns above every bound")

        objs = plain.result()
        check_hook(objs, fallback)
        alls = {o["series"]: o for o in summaries(objs)}
        check(list(alls) == ["all"], f"series without --by: {sorted(alls)}")
        merged = {}
        for v in remote.values():
            for b in v.get("buckets", []):
                merged[(b["lo_ns"], b["hi_ns"])] = merged.get((b["lo_ns"], b["hi_ns"]), 0) + b["count"]
        got = {(b["lo_ns"], b["hi_ns"]): b["count"] for b in alls["all"].get("buckets", [])}
        log(f"MEASURED all: count={alls['all']['count']}, the --by remote series add up to "
            f"{sum(v['count'] for v in remote.values())}")
        check(got == merged, f"series all's buckets {sorted(got.items())} != the --by remote series' "
              f"{sorted(merged.items())}")
        env.stop_agent_checked()


def test_tcp_rtt(args):
    run(args)


def test_tcp_rtt_tracepoint(args):
    run(args, fallback=True)


if __name__ == "__main__":
    sys.exit(run_tests({"tcp_rtt": test_tcp_rtt, "tcp_rtt_tracepoint": test_tcp_rtt_tracepoint}, __doc__))
