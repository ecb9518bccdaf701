#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# End-to-end tests of authorization and authentication: policy denials, the audit log, refused certificates.
"""
policy: an agent with --policy and --audit. A denied Attach gets PERMISSION_DENIED naming
the rule while the connection's other stream goes on; the CLI exits 5; limits
(max-duration, max-sessions) are enforced; the audit log has one JSON line per decision
and per session end.
certs: with --crl, client certificates that are expired, not yet valid, revoked, from
another CA or for the wrong purpose are refused, each logged with its reason; a valid
client still gets service.
Needs root (exits 77 otherwise).
"""
import json
import os
import subprocess
import sys
import time

import rawrpc
from harness import Env, TestFailure, check, log, make_pki, run_tests, tail

POLICY = """\
# test policy
[cn:tracectl-dev-client]
allow tcp-latency
deny exec
max-duration 30s
max-sessions 1

[*]
allow-kind counts
"""


def write_policy(env):
    path = os.path.join(env.dir, "policy")
    with open(path, "w") as f:
        f.write(POLICY)
    env.audit = os.path.join(env.dir, "audit.jsonl")
    return ["--policy", path, "--audit", env.audit]


def audit_lines(env):
    with open(env.audit) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_policy(args):
    with Env(args, setup=write_policy) as env:
        try:
            policy = os.path.join(env.dir, "policy")
            # One connection, two streams: the denied one does not disturb the allowed one.
            c = rawrpc.connect(env)
            c.send(1, rawrpc.hello_request())
            st, _ = c.until_status(1)
            check(st.code == 0, f"Hello: {st}")
            c.send(3, rawrpc.attach_request("tcp-latency", 3_000_000_000, 1_000_000_000))
            c.send(5, rawrpc.attach_request("exec", 3_000_000_000, 1_000_000_000))
            st, _ = c.until_status(5)
            log(f"exec on stream 5: {st}")
            check(st.code == rawrpc.PERMISSION_DENIED, f"exec: want PERMISSION_DENIED (7), got {st}")
            check(f"{policy}:4" in st.message and "deny exec" in st.message,
                  f"denial does not name the rule {policy}:4: {st.message!r}")
            # max-sessions 1: a second session of the same identity is refused
            c.send(7, rawrpc.attach_request("tcp-latency", 3_000_000_000, 1_000_000_000))
            st, _ = c.until_status(7)
            check(st.code == rawrpc.PERMISSION_DENIED and f"{policy}:6" in st.message, f"max-sessions: {st}")
            # unlimited duration against max-duration 30s
            c.send(9, rawrpc.attach_request("tcp-latency", 0, 1_000_000_000))
            st, _ = c.until_status(9)
            check(st.code == rawrpc.PERMISSION_DENIED and f"{policy}:5" in st.message, f"max-duration: {st}")
            st, seen = c.until_status(3, timeout=15)
            kinds = [r.kind for r in seen]
            log(f"tcp-latency on stream 3: {kinds} then {st}")
            check(st.code == 0 and kinds[0] == "attached" and kinds.count("snapshot") >= 3,
                  f"allowed stream 3 did not run to its end: {kinds} {st}")
            c.close()

            # The CLI: exit 5 with the rule in its message.
            rc, out, err = env.run_cli("cli-exec-denied", env.cli_argv(
                env.path("ca.pem"), env.path("client.pem"), env.path("client.key"),
                "attach", f"127.0.0.1:{env.port}", "exec", "--duration", "2s"))
            check(rc == 5, f"CLI attach exec exited {rc}, want 5 (request rejected)")
            check("deny exec" in err, f"CLI stderr does not name the rule: {err!r}")

            lines = audit_lines(env)
            for line in lines:
                log(f"audit: {json.dumps(line)}")
            attach = [l for l in lines if l["event"] == "attach"]
            ends = [l for l in lines if l["event"] == "session_end"]
            allowed = [l for l in attach if l["decision"] == "allowed"]
            denied = [l for l in attach if l["decision"] == "denied"]
            check(len(allowed) == 1 and len(denied) == 4, f"audit: want 1 allowed and 4 denied, got {len(allowed)}/{len(denied)}")
            a = allowed[0]
            for key in ("time", "peer", "identity", "probe", "params", "session_id", "rule"):
                check(key in a, f"audit attach line lacks {key}: {a}")
            check(a["identity"] == "tracectl-dev-client" and a["probe"] == "tcp-latency", f"audit: {a}")
            check(all("rule" in d and "reason" in d for d in denied), f"denied lines lack rule/reason: {denied}")
            check(len(ends) == 1 and ends[0]["session_id"] == a["session_id"] and ends[0]["reason"] == "duration reached"
                  and ends[0]["snapshots"] >= 4, f"audit session_end: {ends}")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


CA_CONF = """\
[ca]
default_ca = tca
[tca]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/new
certificate = {ca}/ca.pem
private_key = {ca}/ca.key
serial = {d}/serial
crlnumber = {d}/crlnumber
default_md = sha256
default_days = 2
default_crl_days = 2
policy = pol
unique_subject = no
[pol]
commonName = supplied
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
"""


def openssl(*argv):
    subprocess.run(["openssl", *argv], check=True, timeout=60, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def make_bad_certs(env):
    """Leaf certificates signed by the test CA with `openssl ca`, and a CRL revoking one."""
    d = os.path.join(env.dir, "ca-db")
    os.makedirs(os.path.join(d, "new"))
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    with open(os.path.join(d, "crlnumber"), "w") as f:
        f.write("1000\n")
    conf = os.path.join(d, "ca.cnf")
    with open(conf, "w") as f:
        f.write(CA_CONF.format(d=d, ca=env.pki))
    env.bad = {}

    def leaf(name, ext, dates=()):
        key, csr, pem = (os.path.join(env.pki, f"{name}.{x}") for x in ("key", "csr", "pem"))
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-subj", f"/CN={name}", "-out", csr)
        openssl("ca", "-batch", "-config", conf, "-in", csr, "-out", pem, "-extensions", ext, "-notext", *dates)
        os.chmod(key, 0o644)
        env.bad[name] = (pem, key)

    leaf("expired", "client_ext", ("-startdate", "20200101000000Z", "-enddate", "20200201000000Z"))
    leaf("notyet", "client_ext", ("-startdate", "20990101000000Z", "-enddate", "20990201000000Z"))
    leaf("revoked", "client_ext")
    leaf("serveronly", "server_ext")
    openssl("ca", "-config", conf, "-revoke", env.bad["revoked"][0])
    crl = os.path.join(env.pki, "ca.crl")
    openssl("ca", "-config", conf, "-gencrl", "-out", crl)
    env.audit = os.path.join(env.dir, "audit.jsonl")
    return ["--crl", crl, "--audit", env.audit]


def refused(env, cert, key):
    try:
        c = rawrpc.Conn(env.port, env.path("ca.pem"), cert, key, timeout=5)
    except (OSError, rawrpc.ssl.SSLError) as e:
        return f"handshake: {e}"
    try:
        # TLS 1.3: the client's handshake ends before the agent checks its certificate
        c.send(1, rawrpc.hello_request())
        r = c.recv(5)
        return None if r is not None else "closed"
    except (OSError, rawrpc.ssl.SSLError) as e:
        return f"after handshake: {e}"
    finally:
        c.close()


def test_certs(args):
    with Env(args, setup=make_bad_certs) as env:
        try:
            other = os.path.join(env.dir, "other-pki")
            os.mkdir(other)
            make_pki(args.pki, other, readable_keys=True)
            env.bad["otherca"] = (os.path.join(other, "client.pem"), os.path.join(other, "client.key"))
            want = {
                "expired": "certificate has expired",
                "notyet": "certificate is not yet valid",
                "revoked": "certificate revoked",
                "serveronly": "unsuitable certificate purpose",
                "otherca": "unable to get local issuer certificate",
            }
            agent_log = os.path.join(env.dir, "agent.log")
            for name, reason in want.items():
                pem, key = env.bad[name]
                got = refused(env, pem, key)
                log(f"{name}: refused: {got}")
                check(got is not None, f"the agent accepted the {name} client certificate")
                deadline = time.monotonic() + 5  # the agent logs after the client sees the close
                while True:
                    with open(agent_log) as f:
                        text = f.read()
                    if reason in text or time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                check(reason in text, f"agent log does not say '{reason}' for {name}:\n{tail(agent_log, 5)}")
                # the next client is still served
                c = rawrpc.connect(env)
                c.send(1, rawrpc.hello_request())
                st, _ = c.until_status(1)
                check(st.code == 0, f"valid client after {name}: {st}")
                c.close()
            lines = audit_lines(env)
            refusals = [l for l in lines if l["event"] == "tls_refused"]
            log(f"audit tls_refused lines: {len(refusals)}")
            for reason in want.values():
                check(any(reason in l["reason"] for l in refusals), f"audit lacks a tls_refused line with '{reason}'")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


if __name__ == "__main__":
    sys.exit(run_tests({"policy": test_policy, "certs": test_certs}, __doc__))
