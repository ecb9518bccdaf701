#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# CLI features end to end: config host groups and default port, the live terminal view, the SVG flame graph.
"""
groups: a config file (certificates by relative path, "port = N", "group both = ...")
lets `tracectl status @both` reach two agents and `tracectl status 127.0.0.1` the
default port, without certificate flags.
live: on a terminal (a pty) interval output redraws in place under a status line;
piped, the same command prints plain appended text without escape sequences.
svg: `profile --output svg -o cpu.svg` writes a well-formed, self-contained SVG with
its zoom/search script and the spinning function by name; when Debian's chromium is
installed, it is also rendered headless to a PNG.
"""
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from harness import NOBODY, Env, LineReader, check, log, run_on_pty, run_tests, tail

SVG_NS = "{http://www.w3.org/2000/svg}"


def as_nobody(argv):
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *argv]


def test_groups(args):
    with Env(args) as env:
        _, p2 = env.start_agent()
        cfg = os.path.join(env.dir, "config")
        with open(cfg, "w") as f:
            f.write("# test config: paths relative to this file\n"
                    "ca = pki/ca.pem\ncert = pki/client.pem\nkey = pki/client.key\n"
                    f"port = {env.port}\n"
                    f"group both = 127.0.0.1:{env.port},127.0.0.1:{p2}\n")
        os.chmod(cfg, 0o644)
        res = subprocess.run(as_nobody([env.cli_path, "--config", cfg, "status", "@both", "--output", "json"]),
                             capture_output=True, timeout=30)
        out = res.stdout.decode()
        check(res.returncode == 0, f"status @both exited {res.returncode}: {res.stderr.decode()[-300:]}")
        hosts = sorted(l.split('"host":"')[1].split('"')[0] for l in out.splitlines() if '"type":"status"' in l)
        check(hosts == sorted([f"127.0.0.1:{env.port}", f"127.0.0.1:{p2}"]), f"status @both reached {hosts}")
        res = subprocess.run(as_nobody([env.cli_path, "--config", cfg, "status", "127.0.0.1", "--output", "json"]),
                             capture_output=True, timeout=30)
        check(res.returncode == 0 and '"type":"status"' in res.stdout.decode(),
              f"status with the config's default port failed: {res.stderr.decode()[-300:]}")
        res = subprocess.run(as_nobody([env.cli_path, "--config", cfg, "status", "@nosuchgroup"]),
                             capture_output=True, timeout=30)
        check(res.returncode == 2 and "nosuchgroup" in res.stderr.decode(),
              f"an unknown group: exit {res.returncode}, {res.stderr.decode()!r}")
        log(f"groups: @both reached {hosts}; default port {env.port} used for a bare host")
        env.stop_agent_checked()


def test_live(args):
    with Env(args) as env:
        argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"), "attach",
                            f"127.0.0.1:{env.port}", "tcp-latency", "--duration", "3s", "--interval", "1s")
        rc, data = run_on_pty(argv, 30)
        text = data.decode("utf-8", "replace")
        check(rc == 0, f"attach on a pty exited {rc}: {text[-300:]!r}")
        redraws = text.count("\x1b[H\x1b[2J")
        check(redraws >= 2, f"{redraws} redraws on a terminal, want one per interval")
        check("hosts answering" in text and "elapsed" in text, "no status line on the terminal")
        check("=== Summary" in text, "no summary after the live view")
        res = subprocess.run(argv, capture_output=True, timeout=30)
        check(res.returncode == 0, f"piped attach exited {res.returncode}")
        check(b"\x1b[" not in res.stdout, "escape sequences in piped output")
        log(f"live: {redraws} in-place redraws on a pty; piped output plain ({len(res.stdout)} bytes)")
        env.stop_agent_checked()


def test_svg(args):
    with Env(args) as env:
        wl = env.spawn("spin_workload", [os.path.join(args.tools, "spin_workload"), "--wait-go", "--seconds", "2",
                                         "--timeout-seconds", "60"], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        wl_out = LineReader(wl.stdout, "spin_workload")
        line = wl_out.readline(10)
        check(line and line.startswith("ready "), f"spin_workload said {line!r}")
        pid = int(line.split()[1])
        os.chmod(env.dir, 0o777)
        svg = os.path.join(env.dir, "cpu.svg")
        cli = env.spawn("cli-svg", env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"),
                                                "attach", f"127.0.0.1:{env.port}", "profile", "--pid", str(pid),
                                                "--freq", "99", "--duration", "4s", "--output", "svg", "-o", svg),
                        stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while "Attached" not in tail(os.path.join(env.dir, "cli-svg.log"), 5):
            check(time.monotonic() < deadline and cli.poll() is None, "the CLI did not attach")
            time.sleep(0.05)
        wl.stdin.write(b"go\n")
        wl.stdin.flush()
        check((wl_out.readline(30) or "").startswith("done"), "spin_workload did not finish")
        rc = cli.wait(timeout=30)
        wl.stdin.write(b"exit\n")
        wl.stdin.flush()
        wl.wait(timeout=10)
        check(rc == 0, f"profile --output svg exited {rc}: {tail(os.path.join(env.dir, 'cli-svg.log'), 5)}")
        root = ET.parse(svg).getroot()
        check(root.tag == SVG_NS + "svg", f"root element {root.tag}")
        titles = [t.text or "" for t in root.iter(SVG_NS + "title")]
        spin = [t for t in titles if t.startswith("spin_here ")]
        check(spin, f"no spin_here frame among {len(titles)} frames")
        check(any("function zoom" in (s.text or "") for s in root.iter(SVG_NS + "script")), "no zoom script")
        log(f"svg: {len(titles)} frames, {spin[0]!r}; {os.path.getsize(svg)} bytes")
        chromium = shutil.which("chromium")
        if chromium:
            png = os.path.join(env.dir, "cpu.png")
            res = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                                  "--disable-sync", f"--user-data-dir={env.dir}/chromium", f"--screenshot={png}",
                                  "--window-size=1200,800", "file://" + svg], capture_output=True, timeout=60)
            check(res.returncode == 0 and os.path.getsize(png) > 10000,
                  f"chromium did not render the SVG: {res.stderr.decode()[-300:]}")
            log(f"svg rendered by chromium headless: {os.path.getsize(png)} bytes of PNG")
        else:
            log("chromium is not installed: the SVG was checked as XML only (apt-get install chromium to render it)")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"groups": test_groups, "live": test_live, "svg": test_svg}, __doc__))
