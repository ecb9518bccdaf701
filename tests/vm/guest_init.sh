#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# Runs in a test guest after switch_root into the host's read-only root: makes the
# writable places a test needs, mounts what the agent expects (tracefs, bpffs, cgroup2,
# the kernel's config in /boot for libbpf), runs /mnt/cmd.sh from the results share,
# records its output and status there, and powers off.
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
for d in /run /var/tmp /boot /root /var/log; do
	$B mount -t tmpfs tmpfs "$d"
done
# The host's /tmp, before the guest's own covers it: a tree or build directory the host
# keeps there (a clone in /tmp) is bound back at its own path below.
$B mkdir -p /run/host-tmp
$B mount -o bind /tmp /run/host-tmp
# /tmp on ext4 (a sparse virtio disk): tests write there with O_DIRECT, which tmpfs refuses.
if /usr/sbin/mkfs.ext4 -q -F /dev/vda >/dev/null 2>&1 && $B mount -t ext4 /dev/vda /tmp; then
	$B chmod 1777 /tmp
else
	echo "guest_init: no ext4 scratch disk, /tmp is tmpfs"
	$B mount -t tmpfs tmpfs /tmp
fi
$B mkdir -p /dev/pts /dev/shm
$B mount -t devpts devpts /dev/pts
$B mount -t tmpfs tmpfs /dev/shm
$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results /mnt
while read -r path; do
	case "$path" in
	/tmp/?*)
		$B mkdir -p "$path" && $B mount -o bind "/run/host-tmp/${path#/tmp/}" "$path" ||
			echo "guest_init: cannot bind the host's $path into the guest"
		;;
	esac
done </mnt/host_paths
$B cp /mnt/config "/boot/config-$($B uname -r)"
$B mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
$B mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
$B mount -t bpf bpf /sys/fs/bpf
$B mount -t cgroup2 cgroup2 /sys/fs/cgroup
$B ip link set lo up
$B hostname tracectl-guest
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export PYTHONDONTWRITEBYTECODE=1 TMPDIR=/tmp
cd /tmp
/bin/sh /mnt/cmd.sh >/mnt/output 2>&1 </dev/null
echo $? >/mnt/status
$B sync
$B poweroff -f
