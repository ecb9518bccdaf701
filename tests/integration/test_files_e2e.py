#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# End-to-end tests of what the root agent opens and shows for a client: target files, Status.
"""
symlink_swap: a policy allows func-count under target-prefix DIR. A thread swaps the
symlink DIR/link between DIR/app and a copy of the same binary outside DIR, as fast as
it can, while 40 attach requests name DIR/link:work_unit and a process of the outside
copy calls work_unit all along. Each request is either denied (the file opened is
outside the prefix) or allowed; an allowed session must count 0 calls (its uprobe is on
DIR/app, which nobody runs), and its audit line must name DIR/app by path and inode. A
control session on DIR/app then counts an exact number of calls.
denied_untouched: under the built-in default policy (func-* denied), requests naming an
existing binary in a root-only directory, a missing file, a device node, a FIFO, a
directory, a glob that matches and one that does not, all get the same code and
message, audited as denied; the FIFO's writer is never woken (the agent never opened
it).
status_scope: two identities each run a session; Status shows each only its own, and
an identity with 'allow status-all' sees both.
Needs root (exits 77 otherwise).
"""
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import rawrpc
from harness import Env, LineReader, check, log, run_tests

SECOND = 1_000_000_000


def audit_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def varints(data):
    """The values of a packed repeated varint field."""
    out, i = [], 0
    while i < len(data):
        n, i = rawrpc._read_varint(data, i)
        out.append(n)
    return out


def count_values(snapshot):
    """Sum of the first value column of a count snapshot (Snapshot.counts.rows[].values[0])."""
    total = 0
    for table in snapshot.body.get(7, []):
        for row in rawrpc.parse(table).get(3, []):
            values = rawrpc.parse(row).get(2, [])
            flat = [v for raw in values for v in (varints(raw) if isinstance(raw, bytes) else [raw])]
            total += flat[0] if flat else 0
    return total


def write_file(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def start_workload(env, binary, name, calls, sleep_us):
    wl = env.spawn(name, [binary, "--wait-go", "--calls", str(calls), "--sleep-us", str(sleep_us),
                          "--timeout-seconds", "90"], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    out = LineReader(wl.stdout, name)
    line = out.readline(10)
    check(line is not None and line.startswith("ready "), f"{name} said {line!r}")
    wl.stdin.write(b"go\n")
    wl.stdin.flush()
    return wl, out


def test_symlink_swap(args):
    state = {}

    def setup(env):
        allowed = os.path.join(env.dir, "allowed")
        outside = os.path.join(env.dir, "outside")
        os.mkdir(allowed)
        os.mkdir(outside)
        os.chmod(allowed, 0o755)
        os.chmod(outside, 0o755)
        state["app"] = os.path.join(allowed, "app")
        state["other"] = os.path.join(outside, "other")
        state["link"] = os.path.join(allowed, "link")
        for path in (state["app"], state["other"]):
            shutil.copy2(os.path.join(args.tools, "func_workload"), path)
            os.chmod(path, 0o755)
        os.symlink(state["app"], state["link"])
        policy = os.path.join(env.dir, "policy")
        write_file(policy, f"[*]\nallow func-count\ntarget-prefix {allowed}\n")
        env.audit = os.path.join(env.dir, "audit.jsonl")
        return ["--policy", policy, "--audit", env.audit]

    with Env(args, setup=setup) as env:
        app, other, link = state["app"], state["other"], state["link"]
        app_ino, other_ino = os.stat(app).st_ino, os.stat(other).st_ino
        # the outside copy runs work_unit (1 ms each) during the whole race
        start_workload(env, other, "other_workload", 60000, 1000)

        stop = threading.Event()
        swaps = [0]

        def swapper():
            tmp = link + ".tmp"
            while not stop.is_set():
                for target in (other, app):
                    os.symlink(target, tmp)
                    os.replace(tmp, link)
                    swaps[0] += 1

        thread = threading.Thread(target=swapper, daemon=True)
        thread.start()
        results = {}  # stream -> (status, calls counted)
        try:
            c = rawrpc.connect(env, timeout=30)
            stream = 1
            for batch in range(5):
                streams = []
                for _ in range(8):
                    c.send(stream, rawrpc.attach_request("func-count", SECOND, SECOND,
                                                         [("target", f"{link}:work_unit")]))
                    streams.append(stream)
                    stream += 2
                for s in streams:
                    st, seen = c.until_status(s, timeout=30)
                    results[s] = (st, sum(count_values(r) for r in seen if r.kind == "snapshot"))
        finally:
            stop.set()
            thread.join(5)
        log(f"symlink swaps during the requests: {swaps[0]}")
        allowed = {s: calls for s, (st, calls) in results.items() if st.code == rawrpc.OK}
        denied = {s: st for s, (st, _) in results.items() if st.code == rawrpc.PERMISSION_DENIED}
        others = {s: st for s, (st, _) in results.items() if st.code not in (rawrpc.OK, rawrpc.PERMISSION_DENIED)}
        log(f"MEASURED symlink race: {len(results)} requests, {len(allowed)} allowed, {len(denied)} denied, "
            f"{len(others)} other; calls counted by allowed sessions: {sorted(allowed.values())}")
        check(not others, f"requests neither allowed nor denied: {others}")
        check(allowed and denied, f"the race never went both ways ({len(allowed)} allowed, {len(denied)} denied): "
              "the test did not exercise the swap")
        landed = {s: n for s, n in allowed.items() if n}
        check(not landed, f"allowed sessions counted the outside binary's calls (uprobe on the other file): {landed}")
        for st in denied.values():
            check("outside every target-prefix" in st.message and other in st.message
                  and f"inode {other_ino}" in st.message, f"denial does not name the file opened: {st.message!r}")

        lines = [l for l in audit_lines(env.audit) if l["event"] == "attach"]
        for l in lines:
            if l["decision"] == "allowed":
                check(l.get("target_resolved") == app and l.get("target_inode") == app_ino,
                      f"allowed attach not audited with {app} inode {app_ino}: {l}")
            else:
                check(l["decision"] == "denied" and l.get("target_resolved") == other
                      and l.get("target_inode") == other_ino, f"denied attach audit line: {l}")
        check(len(lines) == len(results), f"{len(lines)} audit lines for {len(results)} requests")

        # control: a session on DIR/app counts the calls of DIR/app exactly
        os.replace(link, link + ".old")
        os.symlink(app, link)
        c.send(stream, rawrpc.attach_request("func-count", 3 * SECOND, SECOND, [("target", f"{link}:work_unit")]))
        first = c.recv(30)
        check(first is not None and first.kind == "attached", f"control attach: {first}")
        wl, out = start_workload(env, app, "app_workload", 200, 1000)
        line = out.readline(30)
        check(line is not None and line.startswith("done 200 "), f"app_workload: {line!r}")
        st, seen = c.until_status(stream, timeout=30)
        calls = sum(count_values(r) for r in seen if r.kind == "snapshot" and rawrpc.first(r.body, 4))
        log(f"MEASURED control session on {app}: {calls} calls (want 200), {st}")
        check(st.code == 0 and calls == 200, f"control session counted {calls} calls of 200: {st}")
        c.close()
        env.stop_agent_checked()


def test_denied_untouched(args):
    state = {}

    def setup(env):
        secret = os.path.join(env.dir, "secret")
        os.mkdir(secret)
        os.chmod(secret, 0o700)
        state["binary"] = os.path.join(secret, "app")
        shutil.copy2(os.path.join(args.tools, "func_workload"), state["binary"])
        state["fifo"] = os.path.join(env.dir, "fifo")
        os.mkfifo(state["fifo"], 0o666)
        env.audit = os.path.join(env.dir, "audit.jsonl")
        return ["--audit", env.audit]

    with Env(args, setup=setup, builtin_policy=True) as env:
        binary, fifo, secret = state["binary"], state["fifo"], os.path.dirname(state["binary"])
        woken = threading.Event()

        def fifo_writer():
            # blocks until a reader opens the FIFO: only the agent could
            fd = os.open(fifo, os.O_WRONLY)
            woken.set()
            os.close(fd)

        writer = threading.Thread(target=fifo_writer, daemon=True)
        writer.start()
        targets = {
            "existing root-only binary": f"{binary}:work_unit",
            "glob matching": f"{binary}:work_*",
            "glob matching nothing": f"{binary}:zz_no_such_*",
            "missing file": f"{secret}/missing:work_unit",
            "device node": "/dev/zero:main",
            "FIFO": f"{fifo}:main",
            "directory": f"{secret}:main",
        }
        c = rawrpc.connect(env)
        answers = {}
        stream = 1
        for probe in ("func-count", "func-latency"):
            for what, target in targets.items():
                c.send(stream, rawrpc.attach_request(probe, SECOND, SECOND, [("target", target)]))
                st, _ = c.until_status(stream)
                answers[(probe, what)] = (st.code, st.message)
                log(f"{probe} {what}: {st}")
                stream += 2
        c.close()
        for probe in ("func-count", "func-latency"):
            got = {what: answers[(probe, what)] for what in targets}
            distinct = set(got.values())
            log(f"MEASURED {probe}: {len(targets)} targets, {len(distinct)} distinct answers")
            check(len(distinct) == 1, f"{probe}: answers differ with the file system: {got}")
            code, message = distinct.pop()
            check(code == rawrpc.PERMISSION_DENIED and "deny func-*" in message, f"{probe}: {code} {message!r}")
        time.sleep(0.5)
        check(not woken.is_set(), "the agent opened the FIFO of a denied request")
        lines = [l for l in audit_lines(env.audit) if l["event"] == "attach"]
        check(len(lines) == 2 * len(targets) and all(l["decision"] == "denied" for l in lines),
              f"audit: want {2 * len(targets)} denied lines, got {[l['decision'] for l in lines]}")
        # release the writer thread
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        writer.join(5)
        os.close(fd)
        env.stop_agent_checked()


def second_identity(env, cn):
    """A client certificate with subject CN cn, signed by the test CA."""
    key, csr, pem, ext = (os.path.join(env.pki, f"{cn}.{x}") for x in ("key", "csr", "pem", "ext"))
    write_file(ext, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
               "extendedKeyUsage=clientAuth\n")
    for argv in (["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", key, "-subj", f"/CN={cn}", "-out", csr],
                 ["x509", "-req", "-in", csr, "-CA", env.path("ca.pem"), "-CAkey", env.path("ca.key"),
                  "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", pem]):
        subprocess.run(["openssl", *argv], check=True, timeout=60, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return f"{cn}.pem", f"{cn}.key"


def status_sessions(conn, stream):
    conn.send(stream, rawrpc.status_request())
    st, seen = conn.until_status(stream)
    check(st.code == 0, f"Status: {st}")
    body = [r for r in seen if r.kind == "agent_status"][0].body
    sessions = [rawrpc.parse(s) for s in body.get(9, [])]
    return rawrpc.first(body, 5), sorted((rawrpc.first(s, 2, b"").decode(), rawrpc.first(s, 4, b"").decode())
                                         for s in sessions)


def test_status_scope(args):
    def setup(env):
        policy = os.path.join(env.dir, "policy")
        write_file(policy, "[cn:auditor]\nallow-kind histogram\nallow status-all\n[*]\nallow-kind histogram\n")
        return ["--policy", policy]

    with Env(args, setup=setup) as env:
        other = second_identity(env, "other-client")
        auditor = second_identity(env, "auditor")
        a = rawrpc.connect(env)
        b = rawrpc.connect(env, cert=other[0], key=other[1])
        a.send(1, rawrpc.attach_request("tcp-latency", 20 * SECOND, SECOND))
        b.send(1, rawrpc.attach_request("runq-latency", 20 * SECOND, SECOND))
        for conn in (a, b):
            r = conn.recv(30)
            check(r is not None and r.kind == "attached", f"attach: {r}")
        mine_a = status_sessions(a, 3)
        mine_b = status_sessions(b, 3)
        c = rawrpc.connect(env, cert=auditor[0], key=auditor[1])
        everyone = status_sessions(c, 1)
        log(f"MEASURED Status: client sees {mine_a}, other-client sees {mine_b}, auditor sees {everyone}")
        check(mine_a == (1, [("tracectl-dev-client", "tcp-latency")]), f"client's Status: {mine_a}")
        check(mine_b == (1, [("other-client", "runq-latency")]), f"other-client's Status: {mine_b}")
        check(everyone == (2, [("other-client", "runq-latency"), ("tracectl-dev-client", "tcp-latency")]),
              f"auditor's Status (allow status-all): {everyone}")
        for conn in (a, b, c):
            conn.close()
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"symlink_swap": test_symlink_swap, "denied_untouched": test_denied_untouched,
                        "status_scope": test_status_scope}, __doc__))
