# SPDX-License-Identifier: Apache-2.0
# Shared by the TCP probe tests: starts tcp_workload's loopback server and a client that waits for "go".
import os
import subprocess

from harness import LineReader, check, log


def start_server(env, *extra):
    """tcp_workload serve on 127.0.0.1, a free port (extra: its options); returns its port."""
    tool = os.path.join(env.args.tools, "tcp_workload")
    server = env.spawn("tcp_server", [tool, "serve", "--listen", "127.0.0.1:0", "--timeout-seconds", "100", *extra],
                       stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    line = LineReader(server.stdout, "tcp_server").readline(10)
    check(line is not None and line.startswith("listening "), f"tcp_workload serve said {line!r}")
    port = int(line.split()[1])
    log(f"tcp_workload server (pid {server.pid}) listens on 127.0.0.1:{port}")
    return port


class Client:
    """tcp_workload MODE --wait-go: spawned ready (pid known), go() runs it, wait_done() checks it."""

    def __init__(self, env, mode, port, *extra):
        tool = os.path.join(env.args.tools, "tcp_workload")
        self.proc = env.spawn(f"tcp_{mode}", [tool, mode, "--connect", f"127.0.0.1:{port}", "--wait-go",
                                              "--timeout-seconds", "60", *extra],
                              stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        self.out = LineReader(self.proc.stdout, f"tcp_workload {mode}")
        line = self.out.readline(10)
        check(line is not None and line.startswith("ready "), f"tcp_workload {mode} said {line!r}")
        self.pid = int(line.split()[1])

    def go(self):
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def wait_done(self, timeout=20):
        line = self.out.readline(timeout)
        check(line is not None and line.startswith("done"), f"workload did not finish: {line!r}")
        rc = self.proc.wait(timeout=5)
        check(rc == 0, f"workload exited {rc}")
        log(f"workload (pid {self.pid}): {line}")
        return line
