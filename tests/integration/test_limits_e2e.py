#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A self-limiting agent end to end: leases, measured cost, the overhead budget, provenance on results.
"""
cost: syscalls on a process making exactly 10000 getppid calls: the summary carries
the kernel's own run-time statistics (at least 2 x 10000 program runs, enter and exit,
a plausible cost per run), the agent's CPU time, and provenance (hook, kernel, BTF,
agent version, sampling, error bound).
budget: a deliberately hot probe (syscalls, system-wide) on a getppid loop with
--max-overhead 1%: the agent first samples (1 in 4, 16, 64; reported as provenance
changes, counts scaled), then detaches with a reason naming the budget; the client
still gets the summary.
lease: with tracectl-agent --max-duration 2s, a session asked to run "until
cancelled" ends by itself after about 2 s with "lease expired".
"""
import json
import os
import subprocess
import sys
import time

from harness import Attach, Env, LineReader, check, log, parse_json_lines, run_tests, summaries

EXIT_REJECTED = 5


def syscall_loop(env, count):
    wl = env.spawn("syscall_loop", [os.path.join(env.args.tools, "syscall_loop"), "--count", str(count),
                                    "--wait-go", "--timeout-seconds", "60"],
                   stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    out = LineReader(wl.stdout, "syscall_loop")
    line = out.readline(10)
    check(line and line.startswith("ready "), f"syscall_loop said {line!r}")
    return wl, out, int(line.split()[1])


def test_cost(args):
    with Env(args) as env:
        wl, out, pid = syscall_loop(env, 10000)
        with Attach(env, "syscalls", ["--pid", str(pid)], duration="30s") as a:
            wl.stdin.write(b"go\n")
            wl.stdin.flush()
            check((out.readline(30) or "").startswith("done"), "syscall_loop did not finish")
            a.end()  # every call was counted: the session ends now (the duration is a bound)
        s = summaries(a.result())[0]
        cost, prov = s.get("cost", {}), s.get("provenance", {})
        log(f"cost {cost}; provenance {prov}")
        check(cost.get("kernel_stats") is True, "the kernel's BPF run-time statistics were not used")
        check(cost["runs"] >= 2 * 10000, f"{cost['runs']} program runs, want >= 20000 (enter + exit)")
        check(10 < cost["ns_per_run"] < 20000, f"{cost['ns_per_run']} ns per run is not plausible")
        check(cost["agent_cpu_ns"] > 0, "no agent CPU time")
        check(cost["events"] == cost["runs"] and cost["ns_per_event"] == cost["ns_per_run"],
              f"the former names events/ns_per_event do not repeat runs/ns_per_run: {cost}")
        check("sys_enter" in prov.get("hook", "") and "sys_exit" in prov.get("hook", ""), f"hook {prov.get('hook')}")
        check(prov.get("kernel") == os.uname().release, f"kernel {prov.get('kernel')}")
        check(prov.get("btf") == "/sys/kernel/btf/vmlinux" and prov.get("agent_version"), f"provenance {prov}")
        check(prov.get("sample_one_in") == 1, f"sampling {prov.get('sample_one_in')}, want every event")
        rows = [r for r in s["rows"] if r.get("syscall") == "getppid"]
        check(rows and rows[0]["count"] == 10000, f"getppid rows {rows}")
        log(f"cost: {cost['runs']} runs at {cost['ns_per_run']:.0f} ns, agent CPU {cost['agent_cpu_ns']} ns")
        env.stop_agent_checked()


def test_budget(args):
    with Env(args) as env:
        wl, out, pid = syscall_loop(env, 100_000_000)
        argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                            f"127.0.0.1:{env.port}", "syscalls", "--max-overhead", "1%", "--duration", "20s",
                            "--output", "json")
        wl.stdin.write(b"go\n")
        wl.stdin.flush()
        t0 = time.monotonic()
        res = subprocess.run(argv, capture_output=True, timeout=60)
        took = time.monotonic() - t0
        wl.kill()
        wl.wait(5)
        objs = parse_json_lines(res.stdout.decode().splitlines())
        changes = [o["provenance"]["sample_one_in"] for o in objs if o["type"] == "provenance"]
        costs = [o["cost"]["overhead_pct"] for o in objs if o["type"] == "snapshot" and "cost" in o]
        err = res.stderr.decode()
        log(f"exit {res.returncode} after {took:.1f}s; sampling steps {changes}; window overheads {costs}; {err.strip()!r}")
        check(changes[:1] == [4], f"the agent did not degrade to sampling first: {changes}")
        check(res.returncode == EXIT_REJECTED and "budget" in err,
              f"the hot session was not detached for its budget: exit {res.returncode}, {err!r}")
        check(took < 15, f"detached only after {took:.1f}s")
        s = summaries(objs)
        check(s and s[0]["provenance"]["sample_one_in"] == changes[-1], "the summary does not say it was sampled")
        env.stop_agent_checked()


def test_lease(args):
    with Env(args, agent_args=["--max-duration", "2s"]) as env:
        argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                            f"127.0.0.1:{env.port}", "tcp-latency", "--output", "json")
        t0 = time.monotonic()
        res = subprocess.run(argv, capture_output=True, timeout=30)
        took = time.monotonic() - t0
        check(res.returncode == 0, f"exit {res.returncode}: {res.stderr.decode()[-300:]}")
        check(1.5 < took < 6, f"the lease ended after {took:.1f}s, want about 2s")
        check(summaries(parse_json_lines(res.stdout.decode().splitlines())), "no summary at the lease's end")
        with open(os.path.join(env.dir, "agent.log")) as f:
            check("lease expired" in f.read(), "the agent did not log the lease's end")
        log(f"lease: an open-ended session ended by itself after {took:.1f}s (agent --max-duration 2s)")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"cost": test_cost, "budget": test_budget, "lease": test_lease}, __doc__))
