#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Devices in several network namespaces: create, bring up, move between
# namespaces, transmit (dropped and counted while no peer exists), and delete
# a namespace with live devices in it.
set -u
cd "$(dirname "$0")" && . ./lib.sh
require_root
NS=4
ktap_header 9

modprobe "$WGRS_MODULE" || { ktap_fail "load $WGRS_MODULE"; ktap_finish; }
on_exit "modprobe -r $WGRS_MODULE"
for i in $(seq $NS); do ip netns add wgrs-ns$i && on_exit "ip netns del wgrs-ns$i"; done

create_all() {
	local i j
	for i in $(seq $NS); do
		for j in 0 1 2; do ip -n wgrs-ns$i link add wg$j type wireguard || return 1; done
	done
}
check "3 devices in each of $NS namespaces" create_all
count() {
	local n=0 i
	for i in $(seq $NS); do
		[ -e /run/netns/wgrs-ns$i ] || continue
		n=$((n + $(ip -n wgrs-ns$i -o link show type wireguard | wc -l)))
	done
	echo $n
}
check "$((NS * 3)) wireguard links exist" test "$(count)" = $((NS * 3))
check_not "a duplicate name is refused" ip -n wgrs-ns1 link add wg0 type wireguard

up_all() {
	local i
	for i in $(seq $NS); do
		ip -n wgrs-ns$i link set wg0 up && ip -n wgrs-ns$i addr add 10.9.$i.1/24 dev wg0 || return 1
	done
}
check "devices come up with addresses" up_all

# With no peer, every packet sent is dropped and counted as tx_dropped.
xmit_dropped() {
	local before after
	before=$(ip netns exec wgrs-ns1 cat /sys/class/net/wg0/statistics/tx_dropped)
	ip netns exec wgrs-ns1 ping -c 3 -i 0.2 -W 1 10.9.1.2 >/dev/null 2>&1
	after=$(ip netns exec wgrs-ns1 cat /sys/class/net/wg0/statistics/tx_dropped)
	echo "tx_dropped $before -> $after"
	[ "$after" -ge $((before + 3)) ]
}
check "packets without a peer are dropped and counted" xmit_dropped

move() {
	ip -n wgrs-ns1 link set wg1 netns wgrs-ns2 name wgmoved &&
		ip -n wgrs-ns2 link show wgmoved >/dev/null && ! ip -n wgrs-ns1 link show wg1 2>/dev/null
}
check "a device moves to another namespace" move
check "the moved device works there" ip -n wgrs-ns2 link set wgmoved up

check "deleting a namespace with live devices" ip netns del wgrs-ns3
check "its devices are gone" test "$(count)" = $((NS * 3 - 3))
ktap_finish
