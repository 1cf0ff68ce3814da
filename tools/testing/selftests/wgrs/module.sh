#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# wgrs.ko loads, provides the `wireguard` link kind with the C driver's device
# properties, refuses to coexist with wireguard.ko, and unloads cleanly.
set -u
cd "$(dirname "$0")" && . ./lib.sh
require_root
ktap_header 13

no_autoload
modprobe -r "$WGRS_MODULE" wireguard 2>/dev/null
check "module loads" modprobe "$WGRS_MODULE"
check "module is live" test "$(cat /sys/module/$WGRS_MODULE/initstate 2>/dev/null)" = live

ns=wgrs-mod-$$
ip netns add $ns && on_exit "ip netns del $ns"
check "ip link add type wireguard" ip -n $ns link add wg0 type wireguard
check "link kind is wireguard" bash -c "ip -n $ns -d link show wg0 | grep -qw 'wireguard'"
check "MTU is 1420 like the C driver" test "$(ip netns exec $ns cat /sys/class/net/wg0/mtu)" = 1420
check "device type is ARPHRD_NONE (65534)" test "$(ip netns exec $ns cat /sys/class/net/wg0/type)" = 65534
check "POINTOPOINT and NOARP" bash -c "ip -n $ns link show wg0 | grep -q '<POINTOPOINT,NOARP>'"
# IFF_NO_QUEUE shows only once the device is up: a queueing device would
# get pfifo_fast (or the default qdisc) instead of noqueue.
check "up, it has no queue (noqueue)" bash -c \
	"ip -n $ns link set wg0 up && ip -n $ns link show wg0 | grep -q 'qdisc noqueue' && ip -n $ns link set wg0 down"
check "DEVTYPE=wireguard" bash -c "ip netns exec $ns grep -qx DEVTYPE=wireguard /sys/class/net/wg0/uevent"
check "ip link del removes it" bash -c "ip -n $ns link del wg0 && ! ip -n $ns link show wg0 2>/dev/null"

# Both drivers register the same link kind and cannot be loaded together.
if modinfo wireguard >/dev/null 2>&1; then
	# Refused for the right reason: its init finds the link kind taken
	# (rtnl_link_register: EEXIST), which the module loader hands to
	# userspace as EBUSY, EEXIST being reserved for "already loaded".
	# insmod of the file itself, so that the error is the loader's own.
	refuses() {
		local deps out
		deps=$(modinfo -F depends wireguard | tr , ' ')
		[ -z "$deps" ] || modprobe -a $deps || return 1
		if out=$(insmod "$(modinfo -n wireguard)" 2>&1); then
			echo "insmod wireguard.ko succeeded next to $WGRS_MODULE"
			return 1
		fi
		echo "$out"
		grep -q 'Device or resource busy' <<<"$out" && [ ! -e /sys/module/wireguard ]
	}
	check "wireguard.ko refuses to load next to wgrs (link kind taken: EBUSY)" refuses
	modprobe -r wireguard 2>/dev/null
else
	ktap_skip "wireguard.ko refuses to load next to wgrs" "no wireguard.ko installed"
fi

check "module unloads" modprobe -r "$WGRS_MODULE"
check_not "link kind is gone after unload" ip -n $ns link add wg1 type wireguard
ktap_finish
