# SPDX-License-Identifier: Apache-2.0
# Shared harness of the end-to-end tests: PKI, a root agent, the CLI as user nobody, bounded waits.
"""
Every e2e test starts a real tracectl-agent (root) with a fresh dev PKI in a temp dir,
runs the real CLI as user nobody over mutual TLS against a workload whose answer the
test knows, and stops everything it started within bounded time. Standard library only.
Set TRACECTL_E2E_KEEP=1 to keep the temporary directory for inspection.
"""
import argparse
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

SKIP = 77
NOBODY = 65534
EXIT_TLS = 4  # the CLI's exit code for TLS / certificate failures


class TestFailure(Exception):
    pass


_STARTED = time.monotonic()


def log(msg):
    # seconds since the test started: where a slow test spends its time
    print(f"e2e {time.monotonic() - _STARTED:6.2f}s: {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


class LineReader:
    """Reads lines from a pipe with a deadline, without Python's buffering in the way."""

    def __init__(self, fileobj, name):
        self.fd = fileobj.fileno()
        self.name = name
        self.buf = b""
        self.eof = False
        self.lines = []  # every line read, for the failure report

    def readline(self, timeout):
        """Returns the next line (without newline), or None at EOF; raises on timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.eof:
                if self.buf:
                    line, self.buf = self.buf, b""
                    return self._keep(line)
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure(f"timed out after {timeout:.0f}s waiting for a line from {self.name}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                if chunk:
                    self.buf += chunk
                else:
                    self.eof = True
        line, self.buf = self.buf.split(b"\n", 1)
        return self._keep(line)

    def _keep(self, line):
        text = line.decode("utf-8", "replace")
        self.lines.append(text)
        return text


def stop(proc, name, sig=signal.SIGTERM, timeout=5.0):
    """Stops proc with sig, then SIGKILL; bounded. Returns its exit status."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"{name} did not exit {timeout:.0f}s after signal {sig}, killing it")
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log(f"{name} (pid {proc.pid}) survived SIGKILL for 5s")
        except ProcessLookupError:
            pass
    return proc.returncode


def tail(path, lines=40):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"({path}: {e})"



def run_on_pty(argv, timeout, size=None):
    """Runs argv with stdout and stderr on a new pseudo-terminal (size: (cols, rows) set on
    it, else the pty's default); returns (exit status, the bytes it wrote)."""
    master, slave = pty.openpty()
    if size:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
            elif proc.poll() is not None:
                break
        rc = proc.wait(timeout=10)
    finally:
        stop(proc, "cli-pty")
        os.close(master)
    return rc, data


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_pki(script, directory, readable_keys):
    subprocess.run(["bash", script, directory, "--days", "2"], check=True, timeout=60,
                   stdout=subprocess.DEVNULL)
    if readable_keys:
        # Only in the test's own directory: the CLI runs as nobody and must read them.
        for name in os.listdir(directory):
            os.chmod(os.path.join(directory, name), 0o644)


class Env:
    """A temp dir with a PKI, a running agent, and helpers; everything is torn down on exit."""

    def __init__(self, args, agent_args=(), setup=None, builtin_policy=False):
        """agent_args: extra agent options; setup(env) runs after the PKI exists and
        before the agent starts (e.g. to write a policy file), and may return more options.
        builtin_policy: no --policy, so the agent uses its built-in default."""
        self.builtin_policy = builtin_policy
        self.args = args
        self.agent_args = list(agent_args)
        self.setup = setup
        self.procs = []  # (name, Popen), stopped in reverse order
        self.agent = None
        self.agents = []  # (name, Popen, port)
        self.failed = False

    def __enter__(self):
        base = "/tmp" if os.path.isdir("/tmp") else None
        self.dir = tempfile.mkdtemp(prefix="tracectl-e2e-", dir=base)
        os.chmod(self.dir, 0o755)
        self.pki = os.path.join(self.dir, "pki")
        os.mkdir(self.pki)
        os.chmod(self.pki, 0o755)
        make_pki(self.args.pki, self.pki, readable_keys=True)
        # A copy of the CLI in the test dir, so nobody can run it wherever the build tree is.
        self.cli_path = os.path.join(self.dir, "tracectl")
        shutil.copy2(self.args.cli, self.cli_path)
        os.chmod(self.cli_path, 0o755)
        if self.setup:
            self.agent_args += list(self.setup(self) or [])
        self.start_agent()
        return self

    def __exit__(self, exc_type, exc, tb):
        for name, proc in reversed(self.procs):
            stop(proc, name)
        if exc_type is not None or self.failed:
            self.report()
        if os.environ.get("TRACECTL_E2E_KEEP"):
            log(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def report(self):
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".log"):
                print(f"----- {name} (last lines) -----\n{tail(os.path.join(self.dir, name))}", flush=True)

    def path(self, name):
        return os.path.join(self.pki, name)

    def spawn(self, name, argv, **kw):
        log(f"start {name}: {' '.join(argv)}")
        stderr = open(os.path.join(self.dir, f"{name}.log"), "wb")
        try:
            proc = subprocess.Popen(argv, stderr=stderr, bufsize=0, **kw)
        finally:
            stderr.close()
        self.procs.append((name, proc))
        return proc

    def start_agent(self, extra=None):
        """Starts one more agent on a free loopback port; the first one is self.agent/self.port."""
        port = free_port()
        name = "agent" if not self.agents else f"agent{len(self.agents)}"
        extra = list(self.agent_args if extra is None else extra)
        if "--policy" not in extra and not self.builtin_policy:
            # Probe tests are not about authorization: without a policy of their own, the
            # agent grants every probe (its built-in default refuses event and func-* probes).
            allow_all = os.path.join(self.dir, "policy-allow-all")
            with open(allow_all, "w") as f:
                f.write("[*]\nallow *\n")
            extra += ["--policy", allow_all]
        proc = self.spawn(name, [
            self.args.agent, "--listen", f"127.0.0.1:{port}",
            "--cert", self.path("agent.pem"), "--key", self.path("agent.key"),
            "--ca", self.path("ca.pem"), *extra],
            stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            check(proc.poll() is None, f"{name} exited with status {proc.returncode} at startup")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TestFailure(f"{name} does not accept on 127.0.0.1:{port} after 20s")
                time.sleep(0.05)
        log(f"{name} (pid {proc.pid}) accepts on 127.0.0.1:{port}")
        self.agents.append((name, proc, port))
        if self.agent is None:
            self.agent, self.port = proc, port
        return proc, port

    def cli_argv(self, ca, cert, key, *rest):
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
                self.cli_path, "--ca", ca, "--cert", cert, "--key", key, *rest]

    def run_cli(self, name, argv, timeout=30):
        log(f"run {name}: {' '.join(argv)}")
        try:
            res = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure(f"{name}: CLI did not finish within {timeout}s")
        out = res.stdout.decode("utf-8", "replace")
        err = res.stderr.decode("utf-8", "replace")
        log(f"{name}: exit {res.returncode}; stderr: {err.strip()[-500:]!r}")
        return res.returncode, out, err

    def stop_agent_checked(self, skip=()):
        """Every agent (but those in skip) survived and exits 0 on SIGTERM within 5 s."""
        for name, proc, _ in self.agents:
            if proc in skip:
                continue
            check(proc.poll() is None, f"{name} died during the test (status {proc.returncode})")
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raise TestFailure(f"{name} did not exit within 5 s of SIGTERM")
            check(rc == 0, f"{name} exited with status {rc} after SIGTERM, want 0")
        log("agents exited 0 after SIGTERM")


def parse_json_lines(lines):
    objs = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise TestFailure(f"CLI output line {i + 1} is not JSON ({e}): {line!r}")
        check(isinstance(obj, dict), f"CLI output line {i + 1} is not an object: {line!r}")
        check("host" in obj and "probe" in obj, f"CLI output line {i + 1} lacks host/probe: {line!r}")
        objs.append(obj)
    return attach_rows(objs)


def attach_rows(objs):
    """Count probes print a window object, then one "row" object per row (with its host
    and window). For the tests' convenience, each window object also gets its rows as a
    list under "rows" (each row's columns), checked to be complete."""
    last = {}
    rows = []
    for o in objs:
        if o.get("type") in ("snapshot", "summary") and "nrows" in o:
            prev = last.get((o["host"], o["type"]))
            check(prev is None or len(prev["rows"]) == prev["nrows"],
                  f"window says {prev and prev['nrows']} rows, {prev and len(prev['rows'])} followed")
            o["rows"] = []
            last[(o["host"], o["type"])] = o
        elif o.get("type") == "row":
            rows.append(o)
            w = last.get((o["host"], o["window"]))
            check(w is not None and w["seq"] == o["seq"], f"a row without its window: {o}")
            w["rows"].append(o["row"])
    for w in last.values():
        check(len(w["rows"]) == w["nrows"], f"window says {w['nrows']} rows, {len(w['rows'])} followed")
    return [o for o in objs if o.get("type") != "row"]




def common_args(description):
    """The arguments every e2e script takes (paths from CMake)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--agent", required=True)
    p.add_argument("--cli", required=True)
    p.add_argument("--pki", required=True, help="deploy/dev-pki.sh")
    p.add_argument("--tools", help="directory of the ground-truth workload programs")
    p.add_argument("--test", help="which test of the script to run")
    return p


def require_root():
    """Exits 77 (ctest: skipped) with the reason when not root."""
    if os.geteuid() != 0:
        print("SKIP: needs root to start tracectl-agent (it loads BPF programs)", flush=True)
        sys.exit(SKIP)


class Attach:
    """`tracectl attach` running in the background as nobody with --output json.

    Usage: with Attach(env, "tcp-send", ["--pid", "123"], duration="5s") as a:
               ... run the workload ...
           objs = a.result()   # waits for the CLI to exit; JSON objects, checked
    The constructor returns once the CLI printed expect_attached "attached" lines (one
    per host), so a workload started afterwards is fully traced.
    """

    def __init__(self, env, probe, extra, duration="5s", interval="1s", timeout=60, hosts=None,
                 expect_attached=1, skip_unsupported_anywhere=False):
        self.env = env
        self.name = f"cli-{probe}"
        self.timeout = timeout
        argv = env.cli_argv(env.path("ca.pem"), env.path("client.pem"), env.path("client.key"),
                            "attach", hosts or f"127.0.0.1:{env.port}", probe, "--duration", duration,
                            "--interval", interval, "--output", "json", *extra)
        self.proc = env.spawn(self.name, argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.reader = LineReader(self.proc.stdout, self.name)
        self.attached_all = []  # one "attached" object per host
        while len(self.attached_all) < expect_attached:
            line = self.reader.readline(30)
            if line is None:  # (the message waits for the exit status: build it only here)
                code, stderr = self.proc.wait(5), tail(os.path.join(env.dir, self.name + '.log'), 5)
                skip_if_unsupported(code, stderr, skip_unsupported_anywhere)
                raise TestFailure(f"{self.name} exited ({code}) before attaching; stderr: {stderr}")
            if '"attached"' in line:
                self.attached_all.append(json.loads(line))
        self.attached = self.attached_all[0]
        # From here on read in the background: a test waiting on its workload reads nothing,
        # and a CLI whose stdout pipe is full blocks in write(), neither reading nor pinging,
        # until both ends give up after 20 s of silence (a slow guest's runq-latency did).
        self.drain = threading.Thread(target=self._read_to_eof, daemon=True)
        self.drain.start()

    def _read_to_eof(self):
        try:
            while self.reader.readline(self.timeout + 3600) is not None:
                pass
        except TestFailure:
            pass  # result() reports the CLI that never ended

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            stop(self.proc, self.name)
        return False

    def end(self):
        """Ctrl-C: the CLI cancels the session and still prints its summary. For a session
        that ends when its workload is done, not at a set time a loaded machine can outrun."""
        self.proc.send_signal(signal.SIGINT)

    def result(self, want_exit=0):
        """Reads the rest of the output, waits for the exit and returns the JSON objects."""
        deadline = time.monotonic() + self.timeout
        self.drain.join(timeout=self.timeout)
        check(not self.drain.is_alive(), f"{self.name}: no end of its output within {self.timeout} s")
        rc = self.proc.wait(timeout=max(1, deadline - time.monotonic()))
        check(rc == want_exit, f"{self.name} exited {rc}, want {want_exit}; stderr: "
              f"{tail(os.path.join(self.env.dir, self.name + '.log'), 5)}")
        return parse_json_lines(self.reader.lines)


def cgroup_workload_environ():
    """The environment of a workload whose cgroup is traced: in the sanitizer build
    LeakSanitizer's exit check runs in a task of its own (not of the workload's pid, but of
    its cgroup) that makes syscalls, switches and run-queue waits: not part of the ground truth."""
    return dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")


def wait_blocked_on_stdin(pid, name, timeout=30):
    """Until pid is off its CPU inside read(0, ...): /proc/PID/syscall shows the syscall
    only once the task has been switched out (the kernel waits for it to be inactive),
    and "running" before, so the switch the probe sees has happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/syscall") as f:
            fields = f.read().split()
        if fields[:2] == ["0", "0x0"]:  # read (x86_64 syscall 0) on fd 0
            return
        time.sleep(0.01)
    check(False, f"{name} did not block reading stdin within {timeout} s: /proc/{pid}/syscall {fields[:2]}")


def wait_for_text(path, text, timeout):
    """Waits until the file at path has a line with text and returns it; TestFailure with
    the file's tail otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, "r", errors="replace") as f:
                for line in f:
                    if text in line:
                        return line.rstrip("\n")
        except OSError:
            pass
        time.sleep(0.05)
    raise TestFailure(f"no {text!r} in {path} after {timeout}s: {tail(path, 5)}")


class FoldedAttach:
    """`tracectl attach PROBE ... --output folded` (stack probes: profile, offcpu) as nobody.

    The constructor returns once the CLI said "Attached" (on stderr, its log: folded
    output is data only), that line in .attached (it names the hook). lines() waits for the CLI's exit and returns the summary's
    "comm;frame;...;frame value" lines, echoed to the test's output; stop() ends it
    where the test failed before.
    """

    def __init__(self, env, probe, extra, duration, interval="1s", timeout=30):
        self.env, self.name = env, f"cli-{probe}"
        self.proc = env.spawn(self.name, env.cli_argv(
            env.path("ca.pem"), env.path("client.pem"), env.path("client.key"),
            "attach", f"127.0.0.1:{env.port}", probe, *extra, "--duration", duration,
            "--interval", interval, "--output", "folded"),
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.attached = wait_for_text(os.path.join(env.dir, self.name + ".log"), "Attached", timeout)

    def lines(self):
        try:
            reader = LineReader(self.proc.stdout, self.name)
            while reader.readline(30) is not None:
                pass
            rc = self.proc.wait(timeout=10)
        finally:
            stop(self.proc, self.name)
        folded = [l for l in reader.lines if l.strip()]
        print("----- folded output -----\n" + "\n".join(folded) + "\n-------------------------", flush=True)
        check(rc == 0, f"{self.name} exited {rc}; stderr: {tail(os.path.join(self.env.dir, self.name + '.log'), 5)}")
        return folded

    def end(self):
        """Ctrl-C: the session ends now (its workload is done) and the summary follows."""
        self.proc.send_signal(signal.SIGINT)

    def stop(self):
        stop(self.proc, self.name)


def cgroup2_root():
    """Where cgroup v2 is mounted under /sys/fs/cgroup (the agent only takes paths there)."""
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2" and (fields[1] + "/").startswith("/sys/fs/cgroup/"):
                return fields[1]
    return None


class TestCgroups:
    """Fresh cgroup v2 directories for a test: parent, its child and an empty sibling of
    the parent, under the cgroup2 mount; removed on exit (once the reaped workloads left).
    Exits the test as skipped where no cgroup v2 is mounted under /sys/fs/cgroup."""

    def __init__(self, name):
        root = cgroup2_root()
        if root is None:
            print("SKIP: no cgroup v2 hierarchy mounted under /sys/fs/cgroup", flush=True)
            sys.exit(SKIP)
        self.parent = os.path.join(root, f"tracectl-{name}-{os.getpid()}")
        self.child = os.path.join(self.parent, "child")
        self.sibling = os.path.join(root, f"tracectl-{name}-{os.getpid()}-empty")
        self.made = []

    def __enter__(self):
        for d in (self.parent, self.child, self.sibling):
            os.mkdir(d)
            self.made.append(d)
        return self

    def __exit__(self, exc_type, exc, tb):
        for d in reversed(self.made):
            for _ in range(50):  # the reaped workload may take a moment to leave
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                log(f"could not remove {d}")
        return False

    def filter_after_move(self, cgroup):
        """For a test that starts its workload and then the CLI: pid -> the options
        --cgroup CGROUP (parent or sibling), once process pid moved into the child."""
        def extra(pid):
            with open(os.path.join(self.child, "cgroup.procs"), "w") as f:
                f.write(str(pid))
            return ["--cgroup", cgroup[len("/sys/fs/cgroup"):]]
        return extra


def hook_used(hook):
    """The hook a probe used, without the agent's note on the cheaper variants this kernel
    refused: "HOOK (not used here: VARIANT: reason; ...)"."""
    return hook.split(" (not used here: ")[0]


def hook_refused(hook, variant):
    """True when the hook's note says this kernel refused the probe's variant (e.g. "tp_btf")."""
    note = hook.partition(" (not used here: ")[2]
    return any(part.startswith(variant + ":") for part in note.split("; "))


def skip_if_unsupported(cli_status, cli_stderr, anywhere=False):
    """In the kernel matrix (TRACECTL_E2E_UNSUPPORTED_SKIPS=1, set by tests/vm), a probe the
    agent reports unsupported on this kernel, with its reason, is a result of the matrix:
    the test exits 77 saying so. On the build machine's own kernel it stays a failure,
    unless anywhere: for probes whose hooks some kernels lack altogether (the
    kernel-function probes without kprobes, as on the build machine)."""
    if cli_status == 5 and "is not supported on this kernel" in cli_stderr and \
            (anywhere or os.environ.get("TRACECTL_E2E_UNSUPPORTED_SKIPS") == "1"):
        print(f"SKIP: unsupported: {cli_stderr.strip().splitlines()[-1]}", flush=True)
        sys.exit(SKIP)


def summary_rows(attach, label):
    """The rows of a counts session's one summary (it waits for the CLI to exit), logged
    as MEASURED under label with the count of rows and those omitted."""
    summ = summaries(attach.result())
    check(len(summ) == 1, f"{label}: want one summary, got {len(summ)}")
    rows = summ[0]["rows"]
    log(f"MEASURED {label}: {len(rows)} rows, rows_omitted {summ[0].get('rows_omitted')}")
    return rows


def summaries(objs):
    return [o for o in objs if o.get("type") == "summary"]


def events(objs):
    return [o for o in objs if o.get("type") == "event"]


def run_tests(tests, description):
    """main(): runs the test named by --test (or all), prints a verdict, returns the exit code."""
    parser = common_args(description)
    args = parser.parse_args()
    require_root()
    names = [args.test] if args.test else list(tests)
    for name in names:
        if name not in tests:
            print(f"unknown test {name!r}; known: {', '.join(tests)}", flush=True)
            return 2
        try:
            tests[name](args)
        except TestFailure as e:
            print(f"FAIL {name}: {e}", flush=True)
            return 1
        log(f"PASS {name}")
    return 0
