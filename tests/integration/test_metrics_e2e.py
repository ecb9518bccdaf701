#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Prometheus export end to end: standing probes on /metrics move with a known workload; --output prom parses.
"""
scrape: tracectl-agent --metrics 127.0.0.1:PORT --export tcp-latency,tcp-send; a client
makes exactly 100 requests to a server answering after 5 ms. Between two scrapes, the
client's tcp-send counter grows by exactly 100, the tcp-latency role=client histogram
count by at least 100 with those samples in the 4-8 ms buckets; every line parses as the
text exposition format, buckets are cumulative and le="+Inf" equals _count.
prom: `tracectl attach ... --output prom` prints one snapshot in the same format.
"""
import os
import re
import subprocess
import sys
import urllib.request

from harness import Env, LineReader, check, free_port, log, run_tests

LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\])*"'
LINE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>' + LABEL + r'(?:,' + LABEL + r')*)?\})? '
                  r'(?P<value>\S+)$')
REQUESTS = 100


def parse(text):
    """{(name, labels-string): value}, checking every line's syntax."""
    samples = {}
    for i, line in enumerate(text.splitlines()):
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = LINE.match(line)
        check(m, f"line {i + 1} is not exposition format: {line!r}")
        samples[(m.group("name"), m.group("labels") or "")] = float(m.group("value"))
    return samples


def scrape(port):
    # loopback only: never through a proxy from the environment
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        check(r.status == 200 and r.headers.get("Content-Type", "").startswith("text/plain"), "bad response")
        return parse(r.read().decode())


def client_buckets(samples):
    return sorted((float(re.search(r'(?:^|,)le="([^"]+)"', k[1]).group(1)), v) for k, v in samples.items()
                  if k[0] == "tracectl_tcp_latency_seconds_bucket" and 'role="client"' in k[1])


def test_scrape(args):
    mport = free_port()
    with Env(args, agent_args=["--metrics", f"127.0.0.1:{mport}", "--export", "tcp-latency,tcp-send"]) as env:
        tools = args.tools
        server = env.spawn("server", [os.path.join(tools, "latency_server"), "--listen", "127.0.0.1:0",
                                      "--delay-ms", "5", "--max-seconds", "60"], stdout=subprocess.PIPE,
                           stdin=subprocess.DEVNULL)
        sport = LineReader(server.stdout, "server").readline(10).split()[1]
        client = env.spawn("client", [os.path.join(tools, "latency_client"), "--connect", f"127.0.0.1:{sport}",
                                      "--wait-go", "--requests", str(REQUESTS)], stdout=subprocess.PIPE,
                           stdin=subprocess.PIPE)
        out = LineReader(client.stdout, "client")
        pid = int(out.readline(10).split()[1])
        before = scrape(mport)
        client.stdin.write(b"go\n")
        client.stdin.flush()
        check(out.readline(30) == f"done {REQUESTS}", "the client did not finish")
        after = scrape(mport)
        key = ("tracectl_tcp_send_sends_total", f'pid="{pid}",comm="latency_client"')
        check(after.get(key) == REQUESTS and before.get(key, 0) == 0,
              f"tcp-send for pid {pid}: {before.get(key)} -> {after.get(key)}, want 0 -> {REQUESTS}")
        count = ("tracectl_tcp_latency_seconds_count", 'role="client"')
        grew = after[count] - before.get(count, 0)
        check(grew >= REQUESTS, f"tcp-latency count grew by {grew}, want >= {REQUESTS}")
        b0, b1 = dict(client_buckets(before)), client_buckets(after)
        values = [v for _, v in b1]
        check(values == sorted(values), "buckets are not cumulative")
        check(b1[-1][0] == float("inf") and b1[-1][1] == after[count], "+Inf bucket differs from _count")
        # 5 ms answers land above 4.2 ms; the bound above leaves room for a loaded (sanitizer) build
        hi = 0.016777216
        in_range = dict(b1)[hi] - dict(b1)[0.004194304] - (b0.get(hi, 0) - b0.get(0.004194304, 0))
        check(in_range >= REQUESTS, f"{in_range} new samples in (4.2 ms, 16.8 ms], want >= {REQUESTS}")
        check(after[("tracectl_agent_exported_probes", "")] == 2, "health metrics missing")
        log(f"scrape: tcp-send {before.get(key, 0)} -> {after[key]}; tcp-latency count +{grew:.0f}, "
            f"+{in_range:.0f} in (4.2, 16.8] ms; {len(after)} samples parsed")
        env.stop_agent_checked()


def test_prom(args):
    with Env(args) as env:
        argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                            f"127.0.0.1:{env.port}", "cpu-top", "--duration", "1s", "--output", "prom")
        res = subprocess.run(argv, capture_output=True, timeout=30)
        check(res.returncode == 0, f"exit {res.returncode}: {res.stderr.decode()[-200:]}")
        samples = parse(res.stdout.decode())
        names = {k[0] for k in samples}
        check("tracectl_cpu_top_on_cpu_ns_total" in names, f"metrics {sorted(names)[:5]}")
        log(f"--output prom: {len(samples)} samples of {sorted(names)}")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"scrape": test_scrape, "prom": test_prom}, __doc__))
