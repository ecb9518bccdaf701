# SPDX-License-Identifier: Apache-2.0
# A minimal tracectl wire client for tests: frames, a hand-rolled protobuf subset, raw sockets.
"""
Speaks the framing of proto/README.md over mutual TLS with Python's ssl module and
encodes/decodes just the protobuf fields the robustness, security and fault tests need,
so those tests can send what the real CLI never would (bad lengths, thousands of
streams, out-of-range fields) and watch the agent's answers. Standard library only.
"""
import os
import socket
import ssl
import struct
import time
import zlib

DATA, CANCEL, PING, PONG = 0, 1, 2, 3
HEADER = struct.Struct(">IBBI")

# Status codes (common/rpc.h)
OK, CANCELLED, INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED = 0, 1, 3, 5, 7
RESOURCE_EXHAUSTED, FAILED_PRECONDITION, INTERNAL, UNAVAILABLE = 8, 9, 13, 14


# ---- protobuf subset ---------------------------------------------------------------

def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def parse(buf):
    """Decodes one message level into {field number: [values]} (ints or bytes)."""
    out = {}
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = _read_varint(buf, i)
        elif wt == 2:
            n, i = _read_varint(buf, i)
            val, i = buf[i:i + n], i + n
        elif wt == 1:
            val, i = buf[i:i + 8], i + 8
        elif wt == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wt}")
        out.setdefault(num, []).append(val)
    return out


def _read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def first(msg, num, default=0):
    return msg.get(num, [default])[0]


def hello_request():
    return field_bytes(1, field_varint(1, 1) + field_bytes(2, "rawrpc"))


def list_probes_request(catalog_only=False):
    return field_bytes(2, field_varint(1, 1) if catalog_only else b"")


def status_request():
    return field_bytes(4, b"")


def attach_request(probe, duration_ns=0, interval_ns=1_000_000_000, params=()):
    body = field_bytes(1, probe) + field_varint(2, duration_ns) + field_varint(3, interval_ns)
    for name, value in params:
        body += field_bytes(5, field_bytes(1, name) + field_bytes(2, value))
    return field_bytes(3, body)


class Response:
    """A decoded Response: kind is one of hello, probes, attached, snapshot, events, status."""
    KINDS = {1: "hello", 2: "probes", 3: "attached", 4: "snapshot", 5: "events", 6: "agent_status",
             15: "status"}

    def __init__(self, stream, payload):
        self.stream = stream
        top = parse(payload)
        num = next(iter(top)) if top else 0
        self.kind = self.KINDS.get(num, f"field{num}")
        self.body = parse(top[num][0]) if top else {}

    # Status
    @property
    def code(self):
        v = first(self.body, 1)
        return v - (1 << 64) if v >= 1 << 63 else v

    @property
    def message(self):
        return first(self.body, 2, b"").decode("utf-8", "replace")

    def __repr__(self):
        if self.kind == "status":
            return f"<stream {self.stream} status {self.code} {self.message!r}>"
        return f"<stream {self.stream} {self.kind}>"


# ---- connection --------------------------------------------------------------------

def tls_context(ca, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    return ctx


class Conn:
    """One TLS connection to an agent. Frames go out with send(); responses come back
    from recv() (which answers nothing: the test decides)."""

    def __init__(self, port, ca, cert, key, timeout=10, source=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                       source_address=(source, 0) if source else None)
        self.sock = tls_context(ca, cert, key).wrap_socket(raw, server_hostname="localhost")
        self.buf = b""
        self.seen = {}  # stream -> every response received on it so far

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_frame(self, stream, kind, payload=b"", flags=0, length=None):
        self.sock.sendall(HEADER.pack(stream, kind, flags, len(payload) if length is None else length) + payload)

    def send(self, stream, payload):
        self.send_frame(stream, DATA, payload)

    def recv(self, timeout=10):
        """The next DATA Response (PONGs skipped); None when the agent closed."""
        deadline = time.monotonic() + timeout
        while True:
            while len(self.buf) >= HEADER.size:
                stream, kind, flags, length = HEADER.unpack_from(self.buf)
                if len(self.buf) < HEADER.size + length:
                    break
                payload = self.buf[HEADER.size:HEADER.size + length]
                self.buf = self.buf[HEADER.size + length:]
                if kind != DATA:
                    continue
                if flags & 1:
                    payload = zlib.decompress(payload)
                r = Response(stream, payload)
                self.seen.setdefault(stream, []).append(r)
                return r
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no response within {timeout}s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (ssl.SSLError, ConnectionResetError):
                return None
            if not chunk:
                return None
            self.buf += chunk

    def until_status(self, stream, timeout=10):
        """Reads until the Status of stream; returns (status, [every response of that stream])."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.seen.get(stream, [])
            if seen and seen[-1].kind == "status":
                return seen[-1], seen
            r = self.recv(max(0.1, deadline - time.monotonic()))
            if r is None:
                raise ConnectionError(f"agent closed the connection before the status of stream {stream}")


def connect(env, timeout=10, cert="client.pem", key="client.key", source=None):
    """A TLS connection to env's agent; source: the loopback address to connect from."""
    return Conn(env.port, env.path("ca.pem"), env.path(cert), env.path(key), timeout, source)


def closed_within(sock, seconds):
    """Seconds until the peer closed sock (reading and discarding), or None."""
    t0 = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - t0 < seconds:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError):
            return time.monotonic() - t0
        if not data:
            return time.monotonic() - t0
    return None


def agent_fds(pid):
    """Counts the agent's BPF fds by kind, from /proc (the kernel's own view)."""
    counts = {"bpf-prog": 0, "bpf-link": 0, "bpf-map": 0, "perf_event": 0, "total": 0}
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        counts["total"] += 1
        for kind in ("bpf-prog", "bpf-link", "bpf-map", "perf_event"):
            if kind in target:
                counts[kind] += 1
    return counts


def rss_kib(pid, field="VmRSS"):
    """A memory figure of /proc/PID/status in KiB: VmRSS now, VmHWM its peak so far."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """The process's user + system CPU time so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sanitized(pid):
    """True when the agent runs under ASan: its allocator's quarantine makes RSS bounds meaningless."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return "libasan" in f.read()
    except OSError:
        return False


def check_rss_growth(pid, grown_kib, bound_kib, what):
    """Fails when RSS grew past bound_kib, except under ASan (logged only)."""
    if sanitized(pid):
        print(f"e2e: {what}: RSS grew {grown_kib} KiB; not checked under ASan (bound {bound_kib} KiB)", flush=True)
        return
    if grown_kib > bound_kib:
        from harness import TestFailure
        raise TestFailure(f"{what}: agent RSS grew {grown_kib} KiB > bound {bound_kib} KiB")
