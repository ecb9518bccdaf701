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
native: a scrape that asks for Prometheus' protobuf format gets it (delimited
MetricFamily messages): tcp-latency as classic buckets in seconds and as a native
histogram (schema 5) in nanoseconds whose buckets add up to its count, both grown by at
least the 100 requests, those in native buckets above 4.2 ms, every classic bucket
(le = 2^k ns) equal to the native buckets up to index 32k; a scrape that
asks for text, or nothing, still gets text.
"""
import os
import re
import struct
import subprocess
import sys
import urllib.request

from harness import Env, LineReader, check, free_port, log, run_tests
from rawrpc import _read_varint, parse as pb_parse

PROTOBUF_ACCEPT = ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;"
                   "q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")  # what Prometheus 2.42 sends

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


def fetch(port, accept=None):
    """(Content-Type, body) of one GET /metrics."""
    # loopback only: never through a proxy from the environment
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Accept": accept} if accept else {})
    with opener.open(req, timeout=10) as r:
        check(r.status == 200, f"status {r.status}")
        return r.headers.get("Content-Type", ""), r.read()


def scrape(port, accept=None):
    ctype, body = fetch(port, accept)
    check(ctype.startswith("text/plain"), f"Content-Type {ctype!r}, want text")
    return parse(body.decode())


def zigzag(n):
    return (n >> 1) ^ -(n & 1)


def scrape_protobuf(port):
    """{family name: (type, [(labels dict, histogram or value fields)])} of a protobuf scrape."""
    ctype, body = fetch(port, PROTOBUF_ACCEPT)
    check(ctype.startswith("application/vnd.google.protobuf") and "proto=io.prometheus.client.MetricFamily" in ctype
          and "encoding=delimited" in ctype, f"Content-Type {ctype!r}, want the delimited protobuf format")
    families, i = {}, 0
    while i < len(body):
        n, i = _read_varint(body, i)
        fam, i = pb_parse(body[i:i + n]), i + n
        metrics = []
        for raw in fam.get(4, []):
            m = pb_parse(raw)
            labels = {pb_parse(lp)[1][0].decode(): pb_parse(lp)[2][0].decode() for lp in m.get(1, [])}
            metrics.append((labels, pb_parse(m[7][0]) if 7 in m else m))
        families[fam[1][0].decode()] = (fam.get(3, [0])[0], metrics)
    return families


def native_buckets(h):
    """{Prometheus bucket index: count} of a native histogram message."""
    out, index, count, deltas = {}, 0, 0, [zigzag(d) for d in h.get(13, [])]
    for k, raw in enumerate(h.get(12, [])):
        span = pb_parse(raw)
        offset, length = zigzag(span.get(1, [0])[0]), span.get(2, [0])[0]
        index += offset
        for _ in range(length):
            count += deltas.pop(0)
            out[index] = count
            index += 1
    check(not deltas, "more deltas than span buckets")
    return out


def client_buckets(samples):
    return sorted((float(re.search(r'(?:^|,)le="([^"]+)"', k[1]).group(1)), v) for k, v in samples.items()
                  if k[0] == "tracectl_tcp_latency_seconds_bucket" and 'role="client"' in k[1])


def start_workload(env):
    """A server answering after 5 ms and a client for REQUESTS requests waiting for "go"."""
    tools = env.args.tools
    server = env.spawn("server", [os.path.join(tools, "latency_server"), "--listen", "127.0.0.1:0",
                                  "--delay-ms", "5", "--max-seconds", "60"], stdout=subprocess.PIPE,
                       stdin=subprocess.DEVNULL)
    sport = LineReader(server.stdout, "server").readline(10).split()[1]
    client = env.spawn("client", [os.path.join(tools, "latency_client"), "--connect", f"127.0.0.1:{sport}",
                                  "--wait-go", "--requests", str(REQUESTS)], stdout=subprocess.PIPE,
                       stdin=subprocess.PIPE)
    return client, LineReader(client.stdout, "client")


def test_scrape(args):
    mport = free_port()
    with Env(args, agent_args=["--metrics", f"127.0.0.1:{mport}", "--export", "tcp-latency,tcp-send"]) as env:
        client, out = start_workload(env)
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


def client_hist(families, name):
    m = [h for labels, h in families[name][1] if labels.get("role") == "client"]
    check(len(m) == 1, f"{name}: {len(m)} role=client series")
    return m[0]


def test_native(args):
    mport = free_port()
    with Env(args, agent_args=["--metrics", f"127.0.0.1:{mport}", "--export", "tcp-latency"]) as env:
        client, out = start_workload(env)
        out.readline(10)
        before = scrape_protobuf(mport)
        client.stdin.write(b"go\n")
        client.stdin.flush()
        check(out.readline(30) == f"done {REQUESTS}", "the client did not finish")
        after = scrape_protobuf(mport)
        HISTOGRAM, COUNTER = 4, 0
        check(after["tracectl_tcp_latency_nanoseconds"][0] == HISTOGRAM, "the native family is not a histogram")
        check(after["tracectl_agent_scrapes_total"][0] == COUNTER, "scrapes_total is not a counter")
        native = client_hist(after, "tracectl_tcp_latency_nanoseconds")
        classic = client_hist(after, "tracectl_tcp_latency_seconds")
        check(zigzag(native[5][0]) == 5, f"schema {zigzag(native[5][0])}, want 5")
        count = native[1][0]
        buckets = native_buckets(native)
        zero = native.get(7, [0])[0]
        check(sum(buckets.values()) + zero == count, f"native buckets add up to {sum(buckets.values()) + zero}, "
              f"count {count}")
        check(classic[1][0] == count and len(classic[3]) > 0, "classic and native counts differ")
        old = native_buckets(client_hist(before, "tracectl_tcp_latency_nanoseconds")) \
            if "tracectl_tcp_latency_nanoseconds" in before and before["tracectl_tcp_latency_nanoseconds"][1] else {}
        # bucket i is (2^((i-1)/32), 2^(i/32)] ns; no answer of the 5 ms server comes sooner
        # than 4.2 ms, and a loaded machine delays a few by tens of ms
        new = {i: c - old.get(i, 0) for i, c in buckets.items() if c != old.get(i, 0)}
        in_range = sum(c for i, c in new.items() if 2 ** ((i - 1) / 32) >= 2 ** 22)
        check(in_range >= REQUESTS, f"{in_range} new samples above 4.2 ms, want >= {REQUESTS}: {new}")
        # the classic bucket le=2^k s/1e9 holds exactly the native buckets up to index 32k
        for b in classic[3]:
            bucket = pb_parse(b)
            le_ns = round(struct.unpack("<d", bucket[2][0])[0] * 1e9)
            k = le_ns.bit_length() - 1
            below = zero + sum(c for i, c in buckets.items() if i <= 32 * k)
            check(bucket[1][0] == below, f"classic le={le_ns} ns holds {bucket[1][0]}, native up to 2^{k}: {below}")
        text = scrape(mport, "text/plain;version=0.0.4")
        check(("tracectl_tcp_latency_seconds_count", 'role="client"') in text, "text scrape lacks the histogram")
        scrape(mport)
        log(f"protobuf scrape: {len(after)} families; native count {count:.0f} in {len(buckets)} buckets, "
            f"+{in_range} above 4.2 ms; classic buckets equal the native ones summed; text still served to text and to no Accept")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"scrape": test_scrape, "prom": test_prom, "native": test_native}, __doc__))
