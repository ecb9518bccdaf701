#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the test guests' initramfs: load the 9p modules, mount the host's root
# read-only and switch into tests/vm/guest_init.sh there (named on the kernel command line).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do
	insmod "/modules/$m" || echo "initramfs: insmod $m failed"
done </modules/order
guest_init=
for arg in $(cat /proc/cmdline); do
	case "$arg" in tracectl.guest_init=*) guest_init="${arg#*=}" ;; esac
done
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 hostroot /newroot; then
	echo "initramfs: cannot mount the host root over 9p"
	poweroff -f
fi
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /bin/busybox sh "$guest_init"
