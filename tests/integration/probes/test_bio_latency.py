#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Ground truth for bio-latency: N direct-I/O writes to a loop device the test creates.
"""
bio_latency: attaches a loop device to a file in /tmp (losetup --direct-io=on), makes
exactly N synchronous O_DIRECT 4 KiB writes to it, and checks that bio-latency saw at
least N completions on that disk: in series "disk=loopX" by default, and as writes in
"disk=loopX op=write" with --by disk-op; by_disk_tracepoint repeats the first on an agent
started with --no-tp-btf (the block:block_rq_* tracepoint programs). The loop device is
detached in any case.
Needs losetup (Debian package "mount") and loop devices; otherwise exits 77 (skipped).
"""
import mmap
import os
import shutil
import subprocess
import sys
import tempfile

from harness import Env, Attach, check, log, summaries, run_tests, SKIP

WRITES = 200
BLOCK = 4096


class LoopDevice:
    """A loop device over a sparse file in /tmp, detached and removed on exit."""

    def __enter__(self):
        self.dev = None
        fd, self.file = tempfile.mkstemp(prefix="tracectl-bio-", suffix=".img", dir="/tmp")
        os.ftruncate(fd, 16 * 1024 * 1024)
        os.close(fd)
        try:
            res = subprocess.run(["losetup", "--find", "--show", "--direct-io=on", self.file],
                                 capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            res = None
        if res is None or res.returncode != 0 or not res.stdout.strip().startswith("/dev/loop"):
            os.unlink(self.file)
            why = "timed out" if res is None else f"exit {res.returncode}: {res.stderr.strip()}"
            print(f"SKIP: cannot attach a loop device (losetup {why})", flush=True)
            sys.exit(SKIP)
        self.dev = res.stdout.strip()
        self.name = os.path.basename(self.dev)
        log(f"loop device {self.dev} over {self.file}")
        return self

    def __exit__(self, *exc):
        if self.dev:
            res = subprocess.run(["losetup", "--detach", self.dev], capture_output=True, text=True, timeout=20)
            if res.returncode != 0:
                log(f"losetup --detach {self.dev}: {res.stderr.strip()}")
        os.unlink(self.file)
        return False


def direct_writes(dev, n):
    """Exactly n synchronous O_DIRECT writes of one 4 KiB page-aligned block each."""
    buf = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT requires
    buf.write(b"t" * BLOCK)
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    try:
        for i in range(n):
            put = os.pwrite(fd, buf, (i % 1024) * BLOCK)
            check(put == BLOCK, f"write {i} to {dev} wrote {put} bytes")
    finally:
        os.close(fd)
        buf.close()


def run(args, by, series_of, fallback=False):
    if shutil.which("losetup") is None:
        print("SKIP: losetup not installed (Debian package: mount)", flush=True)
        sys.exit(SKIP)
    with LoopDevice() as loop, Env(args, agent_args=["--no-tp-btf"] if fallback else []) as env:
        try:
            extra = ["--by", by] if by else []
            with Attach(env, "bio-latency", extra, duration="4s") as a:
                direct_writes(loop.dev, WRITES)
            objs = a.result()
            hook = objs[0].get("hook", "")
            log(f"hook: {hook}")
            check(hook.startswith("tp_btf") != fallback, f"fallback={fallback} but hook {hook!r}")
            summ = {o.get("series"): o for o in summaries(objs)}
            series = series_of(loop.name)
            check(series in summ, f"no summary for {series!r} (series: {list(summ)})")
            s = summ[series]
            log(f"MEASURED {series} count={s['count']} (ground truth: {WRITES} O_DIRECT writes) "
                f"p50={s['p50_ns'] / 1e3:.1f}us p99={s['p99_ns'] / 1e3:.1f}us max={s['max_ns'] / 1e3:.1f}us")
            check(s["count"] >= WRITES, f"{series}: {s['count']} completions, want at least {WRITES}")
            check(s["p50_ns"] > 0, f"{series}: p50 is 0")
            env.stop_agent_checked()
        except Exception:
            env.failed = True
            raise


def test_by_disk(args):
    run(args, None, lambda name: f"disk={name}")


def test_by_disk_tracepoint(args):
    run(args, None, lambda name: f"disk={name}", fallback=True)


def test_by_disk_op(args):
    run(args, "disk-op", lambda name: f"disk={name} op=write")


if __name__ == "__main__":
    sys.exit(run_tests({"by_disk": test_by_disk, "by_disk_tracepoint": test_by_disk_tracepoint, "by_disk_op": test_by_disk_op}, __doc__))
