#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unloading wgrs while devices exist (up, with addresses, in several
# namespaces) removes them all, and the module loads again afterwards.
set -u
cd "$(dirname "$0")" && . ./lib.sh
require_root
ktap_header 5

modprobe "$WGRS_MODULE" || { ktap_fail "load $WGRS_MODULE"; ktap_finish; }
for i in 1 2 3; do ip netns add wgrs-ul$i && on_exit "ip netns del wgrs-ul$i"; done
make_live() {
	local i
	for i in 1 2 3; do
		ip -n wgrs-ul$i link add wgA type wireguard &&
			ip -n wgrs-ul$i link add wgB type wireguard &&
			ip -n wgrs-ul$i addr add 10.8.$i.1/24 dev wgA &&
			ip -n wgrs-ul$i link set wgA up || return 1
	done
	ip link add wginit type wireguard && ip link set wginit up
}
check "7 live devices in 4 namespaces" make_live
check "rmmod with live devices succeeds" rmmod "$WGRS_MODULE"
gone() {
	local i
	for i in 1 2 3; do [ -z "$(ip -n wgrs-ul$i -o link show type wireguard)" ] || return 1; done
	! ip link show wginit 2>/dev/null
}
check "every device was removed" gone
check "module loads again" modprobe "$WGRS_MODULE"
check "and creates devices again" bash -c "ip -n wgrs-ul1 link add wgC type wireguard && ip -n wgrs-ul1 link del wgC"
modprobe -r "$WGRS_MODULE"
ktap_finish
