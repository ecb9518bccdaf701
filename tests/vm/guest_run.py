#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""
Runs inside a test guest: the tests listed in SHARE/tests.json (ctest's own command
lines, from `ctest --show-only=json-v1` on the host), one after another, each bounded by
its ctest TIMEOUT. Writes SHARE/NAME.log per test and SHARE/results.json:
{name: {"status": "passed|failed|skipped|timeout", "seconds": s, "hook": ..., "reason": ...}}.
"""
import json
import os
import re
import subprocess
import sys
import time


def reason_of(text):
    """The line that says why a test failed or was skipped (FAIL ... / SKIP ...), if any."""
    for line in reversed(text.splitlines()):
        if line.startswith(("FAIL", "SKIP")):
            return line.strip()[:300]
    tail = [l for l in text.splitlines() if l.strip()]
    return tail[-1][:300] if tail else ""


def main(share):
    with open(os.path.join(share, "tests.json")) as f:
        tests = json.load(f)
    results = {}
    for t in tests:
        results[t["name"]] = run_one(t, share)
        if results[t["name"]]["status"] in ("failed", "timeout"):
            # Once more, as on the host: a test that passes only now is flaky, and said so.
            first = results[t["name"]]
            again = run_one(t, share, ".retry")
            if again["status"] == "passed":
                again["status"] = "flaky"
                again["reason"] = "passed only on retry; first: " + first["reason"]
            results[t["name"]] = again
        print(f"guest: {t['name']}: {results[t['name']]['status']} ({results[t['name']]['seconds']}s)", flush=True)
        with open(os.path.join(share, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
    return 0


def run_one(t, share, suffix=""):
    """Runs one test (its log in SHARE/NAME.log, or NAME.retry.log); returns its result."""
    started = time.monotonic()
    log_path = os.path.join(share, t["name"] + suffix + ".log")
    with open(log_path, "wb") as log:
        try:
            env = dict(os.environ, TRACECTL_E2E_UNSUPPORTED_SKIPS="1")
            p = subprocess.run(t["command"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               timeout=t["timeout"], cwd="/tmp", env=env)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = None
    with open(log_path, errors="replace") as f:
        text = f.read()
    status = ("timeout" if rc is None else "passed" if rc == 0 else
              "skipped" if rc == t.get("skip_code", 77) else "failed")
    if status == "skipped" and "SKIP: unsupported:" in text:
        status = "unsupported"
    hooks = sorted(set(re.findall(r"hook: (.+)", text)))
    return {"status": status, "seconds": round(time.monotonic() - started, 1),
            "hook": "; ".join(hooks), "reason": "" if status == "passed" else reason_of(text)}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
