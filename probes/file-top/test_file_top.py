#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# file-top ground truth: 5,000 blocks of 4 KiB written to a uniquely named file, 2,000 read back.
"""
counts: file_io writes exactly 5000 blocks of 4096 bytes to a file named
tracectl_filetop_<random> (rotating write, pwrite64, writev) and reads the first 2000
back (read, pread64, readv). file-top, filtered by the workload's pid, must show one
row for that file with reads=2000, writes=5000, read_bytes=8192000,
write_bytes=20480000, type R and comm file_io, and no other row may name the file.
"""
import os
import secrets
import subprocess
import sys

from harness import Attach, Env, LineReader, check, log, run_tests, summaries

BLOCK, WRITES, READS = 4096, 5000, 2000


def test_counts(args):
    with Env(args) as env:
        name = f"tracectl_filetop_{secrets.token_hex(4)}"
        path = os.path.join(env.dir, name)
        wl = env.spawn("file_io", [os.path.join(args.tools, "file_io"), "--wait-go", "--path", path,
                                   "--block", str(BLOCK), "--writes", str(WRITES), "--reads", str(READS),
                                   "--timeout-seconds", "60"],
                       stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        out = LineReader(wl.stdout, "file_io")
        line = out.readline(10)
        check(line is not None and line.startswith("ready "), f"file_io said {line!r}")
        pid = int(line.split()[1])
        with Attach(env, "file-top", ["--pid", str(pid)], duration="30s", interval="1s") as a:
            log(f"hook: {a.attached.get('hook')}")
            wl.stdin.write(b"go\n")
            wl.stdin.flush()
            done = out.readline(30)
            check(done == f"done {WRITES} {READS}", f"file_io said {done!r}")
            check(wl.wait(timeout=10) == 0, f"file_io exited {wl.returncode}")
            # the workload is done and counted: end the session now (the duration is a bound)
            a.end()
            objs = a.result()
        summ = summaries(objs)
        check(len(summ) == 1, f"want one summary, got {len(summ)}")
        log(f"MEASURED file-top summary rows: {summ[0]['rows']}")
        for s in objs:
            if s.get("type") == "snapshot" and s.get("rows"):
                log(f"MEASURED file-top snapshot {s.get('seq')}: {[r for r in s['rows'] if r['file'] == name]}")
        rows = [r for r in summ[0]["rows"] if r["file"] == name]
        want = {"pid": pid, "comm": "file_io", "file": name, "type": "R", "reads": READS, "writes": WRITES,
                "read_bytes": READS * BLOCK, "write_bytes": WRITES * BLOCK}
        check(rows == [want], f"rows for {name}: {rows}, want [{want}]")
        env.stop_agent_checked()


if __name__ == "__main__":
    sys.exit(run_tests({"counts": test_counts}, __doc__))
