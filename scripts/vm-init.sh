#!/bin/bash
# PID 1 of the test VM (installed as /sbin/wgrs-init by scripts/vm.sh).
# Mounts what a test needs, runs /io/.cmd (or a shell), records its exit
# status in /io/.rc and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/mnt/wgrs/userspace/target/release
export HOME=/root TERM=${TERM:-linux}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
for d in /tmp /run /root /var/tmp /var/log /var/lib /etc/wireguard /mnt; do
	mount -t tmpfs -o mode=0755 tmpfs "$d"
done
chmod 1777 /tmp /var/tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
p9=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /run/netns
mount -t 9p -o "$p9,ro,cache=loose" wgrsmods /lib/modules
mkdir -p /mnt/wgrs /mnt/ksrc /mnt/ynl /mnt/io
mount -t 9p -o "$p9,ro" wgrssrc /mnt/wgrs
mount -t 9p -o "$p9,ro,cache=loose" wgrsksrc /mnt/ksrc
mount -t 9p -o "$p9" wgrsio /mnt/io
# The kernel's YNL CLI (tools/net/ynl), which gate.sh drives the gate with.
mount -t 9p -o "$p9,ro,cache=loose" wgrsynl /mnt/ynl
# Other WireGuard implementations for interop.sh (scripts/build-tools.sh),
# when the host has built them.
mkdir -p /mnt/tools
mount -t 9p -o "$p9,ro,cache=loose" wgrstools /mnt/tools 2>/dev/null || rmdir /mnt/tools
# The work queue that boots running side by side share (scripts/vm-tests.sh);
# uncached, so that each boot sees the other's claims at once.
mkdir -p /mnt/queue
mount -t 9p -o "$p9" wgrsqueue /mnt/queue 2>/dev/null || rmdir /mnt/queue
hostname wgrs-vm
ip link set lo up

poweroff_now() {
	sync
	# reboot(2) with LINUX_REBOOT_CMD_POWER_OFF; the image has perl-base but
	# no init system to ask.
	perl -e 'syscall(169, 0xfee1dead, 672274793, 0x4321fedc)'
	sleep 5
	exit "$1"
}

cd /mnt/io || poweroff_now 1
if [ -f /mnt/io/.interactive ]; then
	echo "wgrs test VM: kernel $(uname -r). The checkout is at /mnt/wgrs; 'exit' powers off."
	[ -f /mnt/io/.cmd ] && bash /mnt/io/.cmd
	setsid -c bash -i </dev/ttyS0 >/dev/ttyS0 2>&1
	echo $? >/mnt/io/.rc
else
	bash /mnt/io/.cmd
	echo $? >/mnt/io/.rc
fi
poweroff_now 0
