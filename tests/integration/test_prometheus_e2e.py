#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A real Prometheus scrapes two agents' native histograms while a workload with a known delay runs.
"""
native: Prometheus (Debian's 2.42, --enable-feature=native-histograms) runs on loopback
with its own config and storage in the test dir and scrapes two agents every second,
each exporting tcp-latency filtered to the port of a server answering after 10 ms, while
a client makes exactly 201 requests and a tracectl session on both agents watches the
same port. Through Prometheus' HTTP API: histogram_count of each agent's role=client
series is exactly 201 and of their sum exactly 402; histogram_quantile(0.99, ...) and
(0.5, ...) of sum(rate(...)) over the workload's window are within 2% of tracectl's own
merged summary, and per host of each host's. Skips (77) with the reason when the
prometheus binary is missing.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from harness import Attach, Env, LineReader, check, free_port, log, run_tests, summaries

# Odd: q x count is then no whole number for p99 and p50 per host (198.99, 100.5) nor p99
# of the two (397.98), so Prometheus' rank (q x count, scaled by rate()) and tracectl's
# nearest rank (its ceiling) name the same sample. At 200, 0.99 x 400 = 396 exactly: a
# cumulative count of 396 x rate's factor, rounded below the rank, sent Prometheus on to
# the next non-empty bucket of a sparse tail (11.1 ms against tracectl's 10.3: 7.87%).
REQUESTS = 201
DELAY_MS = 10
SERIES = 'tracectl_tcp_latency_nanoseconds{role="client"}'
PROMETHEUS = "prometheus"


def http_get(url, timeout=5):
    # loopback only: never through a proxy from the environment
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as r:
        return r.status, r.read()


class Prometheus:
    """The server on a free loopback port, scraping targets every second; stopped with the Env."""

    def __init__(self, env, binary, targets):
        self.port = free_port()
        config = os.path.join(env.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: tracectl\n    static_configs:\n"
                    f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")
        self.proc = env.spawn("prometheus", [
            binary, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(env.dir, 'tsdb')}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--enable-feature=native-histograms",
            "--storage.tsdb.retention.time=1h"], stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.wait(lambda: http_get(f"http://127.0.0.1:{self.port}/-/ready")[0] == 200, 30, "ready")

    def wait(self, cond, seconds, what):
        deadline = time.monotonic() + seconds
        while True:
            check(self.proc.poll() is None, f"prometheus exited with {self.proc.returncode}")
            try:
                if cond():
                    return
            except OSError:
                pass
            check(time.monotonic() < deadline, f"prometheus: not {what} within {seconds} s")
            time.sleep(0.2)

    def query(self, promql):
        """{instance or '': value} of an instant query now."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        status, body = http_get(url)
        res = json.loads(body)
        check(status == 200 and res["status"] == "success", f"query {promql!r}: {body[:300]!r}")
        return {r["metric"].get("instance", ""): float(r["value"][1]) for r in res["data"]["result"]}


def test_native(args):
    binary = shutil.which(PROMETHEUS)
    if not binary:
        print(f"SKIP: no {PROMETHEUS} binary in PATH (Debian: apt-get install prometheus)", flush=True)
        sys.exit(77)
    metrics = [free_port(), free_port()]
    state = {}

    def setup(env):
        server = env.spawn("server", [os.path.join(args.tools, "latency_server"), "--listen", "127.0.0.1:0",
                                      "--delay-ms", str(DELAY_MS), "--max-seconds", "120"],
                           stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = LineReader(server.stdout, "server").readline(10)
        check(line and line.startswith("listening "), f"latency_server said {line!r}")
        state["port"] = int(line.split()[1])
        return ["--metrics", f"127.0.0.1:{metrics[0]}", "--export", f"tcp-latency:port={state['port']}"]

    with Env(args, setup=setup) as env:
        sport = state["port"]
        env.start_agent(["--metrics", f"127.0.0.1:{metrics[1]}", "--export", f"tcp-latency:port={sport}"])
        targets = [f"127.0.0.1:{m}" for m in metrics]
        prom = Prometheus(env, binary, targets)
        # both agents scraped (their series at 0) before the workload starts
        prom.wait(lambda: len(prom.query(f"histogram_count({SERIES})")) == 2, 30, "scraping both agents")
        time.sleep(2)
        client = env.spawn("client", [os.path.join(args.tools, "latency_client"), "--connect",
                                      f"127.0.0.1:{sport}", "--wait-go", "--requests", str(REQUESTS),
                                      "--timeout-seconds", "60"], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        out = LineReader(client.stdout, "client")
        check(out.readline(10).startswith("ready "), "latency_client is not ready")
        hosts = ",".join(f"127.0.0.1:{port}" for _, _, port in env.agents)
        t_go = time.time()
        with Attach(env, "tcp-latency", ["--port", str(sport), "--per-host"], duration="120s", hosts=hosts,
                    expect_attached=2, timeout=60) as a:
            client.stdin.write(b"go\n")
            client.stdin.flush()
            check(out.readline(60) == f"done {REQUESTS}", "the client did not finish")
            a.end()
        objs = a.result()
        own = {o["host"]: o for o in summaries(objs) if o.get("series") == "role=client"}
        check(own["*"]["count"] == 2 * REQUESTS, f"tracectl merged count {own['*']['count']}, want {2 * REQUESTS}")

        counts = {}

        def all_counted():
            counts.update(prom.query(f"histogram_count({SERIES})"))
            return len(counts) == 2 and all(v >= REQUESTS for v in counts.values())
        prom.wait(all_counted, 20, f"counting {REQUESTS} on both agents")
        check(all(v == REQUESTS for v in counts.values()), f"histogram_count per agent {counts}, want {REQUESTS}")
        fleet_count = prom.query(f"histogram_count(sum({SERIES}))")
        check(list(fleet_count.values()) == [2 * REQUESTS], f"fleet histogram_count {fleet_count}")

        window = int(time.time() - t_go) + 3  # from a scrape before "go" to now
        rate = f"rate({SERIES}[{window}s])"
        report = [f"histogram_count {counts} (fleet {fleet_count['']:.0f})"]
        for q, key in ((0.99, "p99_ns"), (0.5, "p50_ns")):
            fleet = prom.query(f"histogram_quantile({q}, sum({rate}))")[""]
            per_host = prom.query(f"histogram_quantile({q}, sum by (instance) ({rate}))")
            rel = abs(fleet - own["*"][key]) / own["*"][key]
            check(rel <= 0.02, f"fleet {key}: Prometheus {fleet:.0f} ns, tracectl {own['*'][key]} ns ({rel:.2%})")
            report.append(f"{key} fleet Prometheus {fleet / 1e6:.3f} ms vs tracectl {own['*'][key] / 1e6:.3f} ms "
                          f"({rel:.2%})")
            for (_, _, port), target in zip(env.agents, targets):
                host = own[f"127.0.0.1:{port}"][key]
                rel = abs(per_host[target] - host) / host
                check(rel <= 0.02, f"{target} {key}: Prometheus {per_host[target]:.0f}, tracectl {host} ({rel:.2%})")
        log("; ".join(report))
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"native": test_native}, __doc__))
