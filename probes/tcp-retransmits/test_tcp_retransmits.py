#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tcp-retransmits ground truth: one segment whose copies a link the test owns drops for a while.
"""
lost_segment: two network namespaces the test creates, joined by a veth pair (198.18.0.1
and 198.18.0.2). lost_segment connects from the first to a server in the second; then the
second drops every packet from the first (an `ip rule ... blackhole` ahead of the local
table, which the kernel counts as IP InAddrErrors there), the client sends one 100-byte
segment on "go", and 1.5 s later the rule goes. Each copy the rule dropped is the first
send or a retransmission; the copy after it got through, and nothing else was sent: the
retransmissions are exactly the packets dropped (and the client's own TCP_INFO
total_retrans agrees). tcp-retransmits --port SERVER_PORT must report exactly that many
for the connection's 4-tuple (laddr 198.18.0.1:CLIENT_PORT, raddr 198.18.0.2:SERVER_PORT)
and nothing else; a second attach with --port of another port must not see it.

tracepoint: the same through the tracepoint program (agent --no-tp-btf), which reads the
record's err where the kernel has it.
"""
import os
import shutil
import subprocess
import sys
import time

from harness import SKIP, Attach, Env, LineReader, check, log, run_tests, summary_rows

CLIENT, SERVER = "198.18.0.1", "198.18.0.2"
LOSS_SECONDS = 1.5


def ip(*argv):
    subprocess.run(["ip", *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=10)


def in_addr_errors(ns):
    """IP packets namespace ns dropped for want of a route: the blackholed copies."""
    out = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"], check=True, capture_output=True,
                         text=True, timeout=10).stdout
    names, values = [line.split() for line in out.splitlines() if line.startswith("Ip:")][:2]
    return int(dict(zip(names, values))["InAddrErrors"])


def make_link(client_ns, server_ns):
    """A veth pair between the two namespaces; the server's local table after a free rule slot."""
    ip("netns", "add", client_ns)
    ip("netns", "add", server_ns)
    ip("link", "add", "rtx0", "netns", client_ns, "type", "veth", "peer", "name", "rtx1", "netns", server_ns)
    ip("-n", client_ns, "addr", "add", f"{CLIENT}/24", "dev", "rtx0")
    ip("-n", server_ns, "addr", "add", f"{SERVER}/24", "dev", "rtx1")
    ip("-n", client_ns, "link", "set", "rtx0", "up")
    ip("-n", server_ns, "link", "set", "rtx1", "up")
    # Local delivery is looked up first (rule 0): move it after the rule that drops.
    ip("-n", server_ns, "rule", "add", "priority", "200", "lookup", "local")
    ip("-n", server_ns, "rule", "del", "priority", "0")


def run(args, agent_args, want_hook):
    if not shutil.which("ip"):
        print("SKIP: no ip (iproute2) to make the network namespaces", flush=True)
        sys.exit(SKIP)
    tool = os.path.join(args.tools, "lost_segment")
    client_ns, server_ns = f"tracectl-rtx-{os.getpid()}-c", f"tracectl-rtx-{os.getpid()}-s"
    try:
        try:
            make_link(client_ns, server_ns)
        except subprocess.CalledProcessError as e:
            print(f"SKIP: cannot make the namespaces and veth pair: {e.stderr.decode().strip()}", flush=True)
            sys.exit(SKIP)
        with Env(args, agent_args) as env:
            server = env.spawn("lost_segment_server", ["ip", "netns", "exec", server_ns, tool, "serve", SERVER],
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
            server_out = LineReader(server.stdout, "lost_segment serve")
            line = server_out.readline(10)
            check(line is not None and line.startswith("listening "), f"lost_segment serve said {line!r}")
            port = int(line.split()[1])
            client = env.spawn("lost_segment_client", ["ip", "netns", "exec", client_ns, tool, "send", SERVER,
                                                       str(port)], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
            client_out = LineReader(client.stdout, "lost_segment send")
            line = client_out.readline(10)
            check(line is not None and line.startswith("ready "), f"lost_segment send said {line!r}")
            client_port = int(line.split()[1])
            other_port = port + 1 if port + 1 != client_port else port + 2
            with Attach(env, "tcp-retransmits", ["--port", str(port)], duration="30s") as mine, \
                    Attach(env, "tcp-retransmits", ["--port", str(other_port)], duration="30s") as other:
                hook = mine.attached.get("hook", "")
                log(f"hook: {hook}")
                check(hook.startswith(want_hook), f"hook {hook!r}, want {want_hook}")
                ip("-n", server_ns, "rule", "add", "from", CLIENT, "priority", "100", "blackhole")
                before = in_addr_errors(server_ns)
                client.stdin.write(b"go\n")
                client.stdin.flush()
                time.sleep(LOSS_SECONDS)
                ip("-n", server_ns, "rule", "del", "priority", "100")
                acked = client_out.readline(20)
                check(acked is not None and acked.startswith("acked "), f"lost_segment send said {acked!r}")
                dropped = in_addr_errors(server_ns) - before
                kernel_total = int(acked.split()[1])
                check(client.wait(timeout=10) == 0, f"lost_segment send exited {client.returncode}")
                time.sleep(1.5)  # one more interval: the window with the last copy is delivered
                mine.end()
                other.end()
                rows = summary_rows(mine, f"tcp-retransmits --port {port}")
                other_rows = summary_rows(other, f"tcp-retransmits --port {other_port}")
            log(f"MEASURED dropped copies {dropped}, TCP_INFO total_retrans {kernel_total}, rows {rows}")
            check(dropped >= 3, f"only {dropped} copies dropped in {LOSS_SECONDS} s: the test proves little")
            check(kernel_total == dropped, f"TCP_INFO total_retrans {kernel_total}, {dropped} copies dropped")
            want = [{"laddr": f"{CLIENT}:{client_port}", "raddr": f"{SERVER}:{port}", "retransmits": dropped}]
            check(rows == want, f"rows {rows}, want {want}")
            check(all(r.get("laddr") != want[0]["laddr"] for r in other_rows),
                  f"--port {other_port} saw the connection: {other_rows}")
            env.stop_agent_checked()
    finally:
        for ns in (client_ns, server_ns):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL, timeout=10)


def test_lost_segment(args):
    run(args, (), "tp_btf")


def test_tracepoint(args):
    run(args, ["--no-tp-btf"], "tracepoint")


if __name__ == "__main__":
    sys.exit(run_tests({"lost_segment": test_lost_segment, "tracepoint": test_tracepoint}, __doc__))
