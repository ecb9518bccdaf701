#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""
Boots Debian's own kernels under QEMU with this machine's root file system, so the real
agent, CLI and ground-truth tests run on the kernels fleets run.

  vm.py fetch KERNEL...            download and unpack the newest package of each line
  vm.py run KERNEL -- CMD [ARG...] boot KERNEL, run CMD as root in the guest, print its
                                   output, exit with its status

KERNEL names a line of KERNELS below (5.10, 6.1, 6.12, 7). Packages come from the
mirror this machine's apt already uses, through a private apt state under the cache
folder (--cache, default /var/cache/tracectl-vm): nothing is installed on the host, and
a second run fetches nothing new unless the archive moved on.

The guest: a tiny initramfs (static busybox, the kernel's own 9p/virtio modules)
mounts the host's root read-only over virtio-9p, a writable 9p share on /mnt for
results, then switch_root's into guest_init.sh, which mounts proc, sys, tmpfs (/tmp,
/run, /var/tmp, /boot with that kernel's config), tracefs, bpffs and cgroup2, runs the
command and powers off. QEMU runs under TCG, single-threaded: the /dev/kvm here is a
nested-virtualization module under which stock kernels barely progress, and
multi-threaded TCG mishandled a static-key flip (an int3 Oops in a 6.12 guest).
Standard library only.
"""
import argparse
import glob
import lzma
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (Debian suites to look in, regex of the image package; the newest match wins)
KERNELS = {
    "5.10": (["bullseye", "bullseye-security"], r"^linux-image-5\.10\.0-\d+-amd64$"),
    "6.1": (["bookworm", "bookworm-security"], r"^linux-image-6\.1\.0-\d+-amd64$"),
    "6.12": (["bookworm", "bookworm-security"], r"^linux-image-6\.12\.\d+\+deb12-amd64$"),
    "7": (["trixie-backports"], r"^linux-image-7\.\d+\.\d+\+deb13-amd64$"),
}
# What the initramfs loads (each module's depends= first): the 9p root, and what tests use
# (loop devices for bio-latency, veth for network namespaces, a virtio disk for /tmp).
GUEST_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "loop", "veth", "virtio_blk", "crc32c_generic", "ext4"]
SCRATCH_BYTES = 4 << 30  # sparse: the guest's /tmp, ext4 on a virtio disk (tmpfs refuses O_DIRECT)


def log(msg):
    print(f"vm: {msg}", file=sys.stderr, flush=True)


class VmError(Exception):
    pass


def run(argv, **kw):
    return subprocess.run(argv, check=True, **kw)


# ---------------------------------------------------------------- fetching kernels

def apt_mirrors():
    """(archive URI, security URI) from this machine's apt sources."""
    uris = []
    for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
        with open(path) as f:
            uris += re.findall(r"^URIs:\s*(\S+)", f.read(), re.M)
    for path in ["/etc/apt/sources.list"] + glob.glob("/etc/apt/sources.list.d/*.list"):
        if os.path.exists(path):
            with open(path) as f:
                uris += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", f.read(), re.M)
    main = next((u for u in uris if "security" not in u), None)
    sec = next((u for u in uris if "security" in u), None)
    if not main or not sec:
        raise VmError(f"cannot find the Debian archive and security mirrors in /etc/apt (found {uris})")
    return main.rstrip("/"), sec.rstrip("/")


class Apt:
    """apt-get/apt-cache with a private state: its own sources, lists and cache."""

    def __init__(self, cache):
        self.dir = os.path.join(cache, "apt")
        for d in ("lists/partial", "archives/partial", "etc"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        self.sources = os.path.join(self.dir, "etc", "sources.list")
        self.opts = ["-o", f"Dir::Etc::SourceList={self.sources}", "-o", "Dir::Etc::SourceParts=/dev/null",
                     "-o", f"Dir::State::Lists={self.dir}/lists", "-o", f"Dir::Cache={self.dir}",
                     "-o", f"Dir::Cache::archives={self.dir}/archives",
                     "-o", "Dir::State::status=/var/lib/dpkg/status", "-o", "APT::Sandbox::User=root"]
        self.updated = False

    def update(self):
        if self.updated:
            return
        main, sec = apt_mirrors()
        suites = sorted({s for ss, _ in KERNELS.values() for s in ss})
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        with open(self.sources, "w") as f:
            for s in suites:
                f.write(f"deb [signed-by={keyring}] {sec if s.endswith('-security') else main} {s} main\n")
        log("apt-get update (private state)")
        run(["apt-get", *self.opts, "-q", "update"], stdout=subprocess.DEVNULL)
        self.updated = True

    def names(self):
        out = subprocess.run(["apt-cache", *self.opts, "pkgnames", "linux-"], check=True,
                             capture_output=True, text=True).stdout
        return out.split()

    def download(self, pkgs, dest):
        run(["apt-get", *self.opts, "-q", "download", *pkgs], cwd=dest, stdout=subprocess.DEVNULL)


def version_key(name):
    return [int(x) for x in re.findall(r"\d+", name)]


_fetched = {}  # (name, cache) -> folder: one archive look-up per kernel and process


def fetch(name, cache):
    """Unpacks the newest package of kernel line `name`; returns its folder (cached)."""
    if (name, cache) not in _fetched:
        _fetched[(name, cache)] = fetch_newest(name, cache)
    return _fetched[(name, cache)]


def fetch_newest(name, cache):
    if name not in KERNELS:
        raise VmError(f"unknown kernel {name!r} (known: {', '.join(KERNELS)})")
    apt = Apt(cache)
    apt.update()
    _, pattern = KERNELS[name]
    matches = sorted((n for n in apt.names() if re.match(pattern, n)), key=version_key)
    if not matches:
        raise VmError(f"no package matches {pattern} in the {'/'.join(KERNELS[name][0])} suites")
    image = matches[-1]
    kver = image[len("linux-image-"):]
    root = os.path.join(cache, "kernels", kver)
    if os.path.exists(os.path.join(root, ".complete")):
        if read_text(os.path.join(root, "initramfs.modules")) != " ".join(GUEST_MODULES):
            prepare(root, kver)  # the module list changed since this kernel was fetched
        return root
    # Newer lines split the image into binary/modules/base packages of the same version.
    pkgs = [image] + [n for n in apt.names()
                      if n in (f"linux-binary-{kver}", f"linux-modules-{kver}", f"linux-base-{kver}")]
    dl = os.path.join(cache, "debs", kver)
    os.makedirs(dl, exist_ok=True)
    log(f"{name}: downloading {', '.join(pkgs)}")
    apt.download(pkgs, dl)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    for deb in glob.glob(os.path.join(dl, "*.deb")):
        run(["dpkg-deb", "-x", deb, root])
    prepare(root, kver)
    open(os.path.join(root, ".complete"), "w").close()
    shutil.rmtree(dl, ignore_errors=True)
    return root


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def decompress(data, path):
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
    if path.endswith(".gz"):
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    return data


def module_depends(data):
    m = re.search(rb"(?:^|\0)depends=([^\0]*)", data)
    return [d for d in m.group(1).decode().split(",") if d] if m else []


def extract_vmlinux(bzimage):
    """The uncompressed ELF inside a bzImage (saves ~8 s of decompression per TCG boot), or None."""
    with open(bzimage, "rb") as f:
        data = f.read()
    for magic, fn in ((b"\xfd7zXZ\x00", lambda d: lzma.LZMADecompressor().decompress(d)),
                      (b"\x1f\x8b\x08", lambda d: zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(d)),
                      (b"\x28\xb5\x2f\xfd", lambda d: subprocess.run(["zstd", "-dc"], input=d,
                                                                        capture_output=True).stdout)):
        pos = data.find(magic)
        while pos >= 0:
            try:
                out = fn(data[pos:])
            except Exception:
                out = b""
            if out[:4] == b"\x7fELF":
                return out
            pos = data.find(magic, pos + 1)
    return None


def kernel_path(root, kver, what):
    """The image ("vmlinuz"), "config" or "modules" folder of an unpacked kernel: in /boot
    and /lib/modules up to Debian 12, all in /usr/lib/modules/KVER from 13's split packages."""
    candidates = {
        "vmlinuz": [f"boot/vmlinuz-{kver}", f"usr/lib/modules/{kver}/vmlinuz"],
        "config": [f"boot/config-{kver}", f"usr/lib/modules/{kver}/config"],
        "modules": [f"lib/modules/{kver}", f"usr/lib/modules/{kver}"],
    }[what]
    for rel in candidates:
        if os.path.exists(os.path.join(root, rel)):
            return os.path.join(root, rel)
    raise VmError(f"{kver}: no {what} in the kernel packages (looked for {', '.join(candidates)})")


def write_cpio(top, out):
    """Writes the tree under top as a newc cpio archive (what the kernel unpacks as initramfs)."""
    def entry(name, st, data=b""):
        fields = [len(entries) + 1, st.st_mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        hdr = b"070701" + b"".join(b"%08x" % v for v in fields)
        blob = hdr + name.encode() + b"\0"
        blob += b"\0" * (-len(blob) % 4) + data
        entries.append(blob + b"\0" * (-len(blob) % 4))

    entries = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for n in sorted(dirnames) + sorted(filenames):
            path = os.path.join(dirpath, n)
            st = os.lstat(path)
            data = b""
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    data = f.read()
            entry(os.path.relpath(path, top), st, data)
    entries.append(None)
    entries[-1] = b""
    out.write(b"".join(entries))
    trailer = b"070701" + b"".join(b"%08x" % v for v in [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0]) + b"TRAILER!!!\0"
    out.write(trailer + b"\0" * (-len(trailer) % 4))


def prepare(root, kver):
    """Builds root/initramfs.cpio and root/vmlinux (when extractable)."""
    moddir = kernel_path(root, kver, "modules")
    files = {}
    for path in glob.glob(os.path.join(moddir, "**", "*.ko*"), recursive=True):
        base = os.path.basename(path).split(".ko")[0].replace("-", "_")
        files[base] = path
    order, seen = [], set()

    def add(mod):
        if mod in seen:
            return
        seen.add(mod)
        if mod not in files:
            return  # built in
        with open(files[mod], "rb") as f:
            data = decompress(f.read(), files[mod])
        for dep in module_depends(data):
            add(dep.replace("-", "_"))
        order.append((mod, data))

    for mod in GUEST_MODULES:
        add(mod)
    staging = tempfile.mkdtemp(prefix="tracectl-initramfs-")
    try:
        for d in ("bin", "dev", "proc", "sys", "newroot", "modules"):
            os.makedirs(os.path.join(staging, d))
        shutil.copy("/bin/busybox", os.path.join(staging, "bin", "busybox"))
        with open(os.path.join(staging, "modules", "order"), "w") as f:
            for i, (mod, data) in enumerate(order):
                name = f"{i:02d}-{mod}.ko"
                with open(os.path.join(staging, "modules", name), "wb") as m:
                    m.write(data)
                f.write(name + "\n")
        shutil.copy(os.path.join(HERE, "initramfs_init.sh"), os.path.join(staging, "init"))
        os.chmod(os.path.join(staging, "init"), 0o755)
        with open(os.path.join(root, "initramfs.cpio"), "wb") as out:
            write_cpio(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    with open(os.path.join(root, "initramfs.modules"), "w") as f:
        f.write(" ".join(GUEST_MODULES))
    vmlinux = None if os.path.exists(os.path.join(root, "vmlinux")) else \
        extract_vmlinux(kernel_path(root, kver, "vmlinuz"))
    if vmlinux:
        with open(os.path.join(root, "vmlinux"), "wb") as f:
            f.write(vmlinux)
    have_vmlinux = os.path.exists(os.path.join(root, "vmlinux"))
    log(f"{kver}: initramfs with {', '.join(m for m, _ in order)}; "
        f"{'uncompressed vmlinux' if have_vmlinux else 'bzImage only'}")


def kernel_version(root):
    return os.path.basename(os.path.normpath(root))


# ---------------------------------------------------------------- booting

def boot(root, argv, timeout, memory="1536M", cpus=2, share=None, host_paths=()):
    """Boots the kernel in root, runs argv in the guest; returns (exit status or None, console text).
    host_paths: host directories the guest needs besides this tree (a build directory); where
    one lies under /tmp, which the guest covers with its own scratch disk, it is bound back."""
    kver = kernel_version(root)
    share = share or tempfile.mkdtemp(prefix="tracectl-vm-")
    with open(os.path.join(share, "cmd.sh"), "w") as f:
        f.write(shlex.join(argv) + "\n")
    with open(os.path.join(share, "host_paths"), "w") as f:
        for path in (os.path.dirname(os.path.dirname(HERE)), *host_paths):
            f.write(os.path.abspath(path) + "\n")
    shutil.copy(kernel_path(root, kver, "config"), os.path.join(share, "config"))
    for name in ("status", "output"):
        if os.path.exists(os.path.join(share, name)):
            os.unlink(os.path.join(share, name))
    scratch = os.path.join(share, "scratch.img")
    with open(scratch, "wb") as f:
        f.truncate(SCRATCH_BYTES)
    kernel = os.path.join(root, "vmlinux")
    if not os.path.exists(kernel):
        kernel = kernel_path(root, kver, "vmlinuz")
    qemu = ["qemu-system-x86_64", "-accel", "tcg,thread=single", "-cpu", "max", "-smp", str(cpus),
            "-m", memory, "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
            "-kernel", kernel, "-initrd", os.path.join(root, "initramfs.cpio"),
            "-append", f"console=ttyS0 panic=-1 quiet loglevel=4 tracectl.guest_init={os.path.join(HERE, 'guest_init.sh')}",
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={share},mount_tag=results,security_model=none,multidevs=remap",
            "-drive", f"file={scratch},if=virtio,format=raw,cache=unsafe"]
    started = time.monotonic()
    try:
        p = subprocess.run(qemu, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        console = p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        console = (e.stdout or b"").decode(errors="replace") + f"\n[vm: killed after {timeout}s]\n"
    status = None
    try:
        with open(os.path.join(share, "status")) as f:
            status = int(f.read().strip())
    except (OSError, ValueError):
        pass
    os.unlink(scratch)
    log(f"{kver}: guest ran {time.monotonic() - started:.1f}s, status {status}")
    return status, console, share


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", default=os.environ.get("TRACECTL_VM_CACHE", "/var/cache/tracectl-vm"))
    p.add_argument("--timeout", type=int, default=600, help="seconds a guest may run (default 600)")
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch")
    f.add_argument("kernels", nargs="+")
    r = sub.add_parser("run")
    r.add_argument("kernel")
    r.add_argument("argv", nargs=argparse.REMAINDER)
    args = p.parse_args()
    try:
        if args.cmd == "fetch":
            for k in args.kernels:
                print(fetch(k, args.cache))
            return 0
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not argv:
            p.error("run: no command")
        status, console, share = boot(fetch(args.kernel, args.cache), argv, args.timeout)
        out = os.path.join(share, "output")
        sys.stdout.write(open(out).read() if os.path.exists(out) else console)
        if status is None:
            sys.stderr.write(console[-3000:])
        return 1 if status is None else status
    except (VmError, subprocess.CalledProcessError) as e:
        print(f"vm: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
