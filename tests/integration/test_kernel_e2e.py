#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A kernel without BTF, and the operator's --btf file, with the agent in a mount namespace of
# the test's own where /sys/kernel/btf is an empty directory.
"""
nobtf: the agent starts, says once in its log that no probe can run and why (no kernel BTF,
give --btf FILE), `tracectl probes` lists every probe as unsupported with that reason, and an
attach is refused with it (exit 5).
btf_file: the same kernel view, the agent given --btf with a copy of this kernel's BTF:
tcp-send is supported again and counts exactly SENDS sends of the test's client; its hook is
not tp_btf (that needs the kernel's own BTF, which this view hides), and provenance names the
file as the BTF source.
"""
import argparse
import json
import os
import shutil
import stat
import subprocess
import sys

from harness import Attach, Env, check, hook_refused, hook_used, log, run_tests, summaries, tail

from net_workload import Client, start_server  # the TCP probe tests' workload

SENDS = 500
SIZE = 100
EXIT_UNSUPPORTED = 5
SYSFS_BTF = "/sys/kernel/btf/vmlinux"


def hidden_btf_agent(args, directory):
    """A copy of args whose agent runs in a new mount namespace with /sys/kernel/btf emptied."""
    wrapper = os.path.join(directory, "agent-without-btf")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n"
                "# the agent as on a kernel built without BTF: only this namespace sees the tmpfs\n"
                f"exec unshare --mount --propagation private sh -c "
                f"'mount -t tmpfs -o ro,size=4k none /sys/kernel/btf && exec \"$0\" \"$@\"' "
                f"{args.agent} \"$@\"\n")
    os.chmod(wrapper, stat.S_IRWXU)
    copy = argparse.Namespace(**vars(args))
    copy.agent = wrapper
    return copy


def require_hiding():
    """Skips (77) with the reason when this host cannot hide /sys/kernel/btf in a mount namespace."""
    if not os.path.exists(SYSFS_BTF) or not shutil.which("unshare"):
        print("SKIP: needs /sys/kernel/btf/vmlinux and unshare(1) to hide it", flush=True)
        sys.exit(77)
    res = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                          "mount -t tmpfs -o ro,size=4k none /sys/kernel/btf && test ! -e " + SYSFS_BTF],
                         capture_output=True, timeout=30)
    if res.returncode != 0:
        print(f"SKIP: cannot hide /sys/kernel/btf in a mount namespace here: "
              f"{res.stderr.decode(errors='replace').strip()[-200:]}", flush=True)
        sys.exit(77)


def probes_json(env):
    rc, out, err = env.run_cli("probes", env.cli_argv(env.path("ca.pem"), env.path("client.pem"),
                                                       env.path("client.key"), "probes",
                                                       f"127.0.0.1:{env.port}", "--output", "json"))
    check(rc == 0, f"probes exited {rc}: {err[-300:]!r}")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def scratch_dir():
    d = os.path.join("/tmp", f"tracectl-kernel-{os.getpid()}")
    os.makedirs(d, exist_ok=True)
    return d


def test_nobtf(args):
    require_hiding()
    d = scratch_dir()
    try:
        with Env(hidden_btf_agent(args, d)) as env:
            probes = probes_json(env)
            check(len(probes) >= 18, f"probes listed {len(probes)}")
            for p in probes:
                check(p["supported"] is False and "no kernel BTF" in p["unsupported_reason"] and
                      "--btf FILE" in p["unsupported_reason"], f"{p['probe']}: {p['supported']}, "
                      f"{p['unsupported_reason']!r}")
            log(f"{len(probes)} probes unsupported: {probes[0]['unsupported_reason']!r}")
            rc, _, err = env.run_cli("attach", env.cli_argv(env.path("ca.pem"), env.path("client.pem"),
                                                             env.path("client.key"), "attach",
                                                             f"127.0.0.1:{env.port}", "tcp-send", "-d", "2s"))
            check(rc == EXIT_UNSUPPORTED and "no kernel BTF" in err, f"attach: exit {rc}, {err[-300:]!r}")
            agent_log = tail(os.path.join(env.dir, "agent.log"), 200)
            said = agent_log.count("no probe can run on this kernel")
            check(said == 1, f"the agent said it {said} times in its log, want once: {agent_log[-600:]!r}")
            env.stop_agent_checked()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_btf_file(args):
    require_hiding()
    d = scratch_dir()
    btf = os.path.join(d, "vmlinux.btf")
    shutil.copyfile(SYSFS_BTF, btf)
    try:
        with Env(hidden_btf_agent(args, d), agent_args=["--btf", btf]) as env:
            info = [p for p in probes_json(env) if p["probe"] == "tcp-send"]
            check(info and info[0]["supported"], f"tcp-send with --btf: {info}")
            port = start_server(env)
            client = Client(env, "send", port, "--count", str(SENDS), "--size", str(SIZE))
            with Attach(env, "tcp-send", ["--pid", str(client.pid)], duration="30s") as a:
                client.go()
                client.wait_done()
                a.end()  # every send was counted: the session ends now (the duration is a bound)
            objs = a.result()
            hook = objs[0].get("hook", "")
            check(not hook_used(hook).startswith("tp_btf"), f"hook {hook!r}: tp_btf without kernel BTF")
            rows = [r for s in summaries(objs) for r in s.get("rows", []) if r.get("pid") == client.pid]
            check(len(rows) == 1 and rows[0]["sends"] == SENDS and rows[0]["bytes"] == SENDS * SIZE,
                  f"rows {rows}, want sends {SENDS}, bytes {SENDS * SIZE}")
            prov = [o["provenance"] for o in objs if "provenance" in o]
            check(prov and all(p["btf"] == btf for p in prov), f"provenance btf: {[p.get('btf') for p in prov]}")
            log(f"with --btf {btf}: hook {hook_used(hook)!r}, sends {rows[0]['sends']}, "
                f"tp_btf refused: {hook_refused(hook, 'tp_btf')}")
            env.stop_agent_checked()
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_tests({"nobtf": test_nobtf, "btf_file": test_btf_file}, __doc__))
