#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Devices in several network namespaces: create, bring up, move between
# namespaces, transmit (refused and counted while no peer exists, compared
# with the C driver), and delete a namespace with live devices in it.
set -u
cd "$(dirname "$0")" && . ./lib.sh
require_root
NS=4
ktap_header 10

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

# With no peer for the destination, every packet sent is refused the way the
# C driver refuses it: the sender's sendmsg fails with ENOKEY ("Required key
# not available"), an ICMP "host unreachable" goes back (the ICMP MIB counts
# it) and each packet counts once in tx_errors. (iputils ping reports none
# of this, with either driver: UDP from python3 shows the errno.)
icmp_unreach() { ip netns exec "$1" awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["OutDestUnreachs"] }' /proc/net/snmp; }
# refusal NS: what 3 UDP packets to 10.9.1.2 through NS's wg0 give.
refusal() {
	local ns=$1 e0 e1 i0 i1 out
	e0=$(ip netns exec $ns cat /sys/class/net/wg0/statistics/tx_errors)
	i0=$(icmp_unreach $ns)
	out=$(ip netns exec $ns python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    try:
        s.sendto(b"x", ("10.9.1.2", 9))
        print("sent")
    except OSError as e:
        print(e.strerror)
' | sort | uniq -c | tr -s ' ')
	e1=$(ip netns exec $ns cat /sys/class/net/wg0/statistics/tx_errors)
	i1=$(icmp_unreach $ns)
	echo "sendto:$out; tx_errors +$((e1 - e0)); OutDestUnreachs +$((i1 - i0))"
}
want="sendto: 3 Required key not available; tx_errors +3; OutDestUnreachs +3"
# check runs its command in a subshell: the result is kept in a file.
refusal_file=$(mktemp)
on_exit "rm -f $refusal_file"
xmit_refused() {
	refusal wgrs-ns1 >"$refusal_file"
	cat "$refusal_file"
	[ "$(cat "$refusal_file")" = "$want" ]
}
check "packets without a peer: ENOKEY, ICMP unreachable, tx_errors" xmit_refused

move() {
	ip -n wgrs-ns1 link set wg1 netns wgrs-ns2 name wgmoved &&
		ip -n wgrs-ns2 link show wgmoved >/dev/null && ! ip -n wgrs-ns1 link show wg1 2>/dev/null
}
check "a device moves to another namespace" move
check "the moved device works there" ip -n wgrs-ns2 link set wgmoved up

check "deleting a namespace with live devices" ip netns del wgrs-ns3
check "its devices are gone" test "$(count)" = $((NS * 3 - 3))

# The same refusal on the C driver, measured, not assumed.
c_refusal() {
	modprobe -r "$WGRS_MODULE" && modprobe wireguard || return 1
	ip -n wgrs-ns1 link add wg0 type wireguard && ip -n wgrs-ns1 addr add 10.9.1.1/24 dev wg0 &&
		ip -n wgrs-ns1 link set wg0 up || return 1
	local c
	c=$(refusal wgrs-ns1)
	ip -n wgrs-ns1 link del wg0
	modprobe -r wireguard
	echo "wireguard.ko: $c"
	echo "wgrs.ko:      $(cat "$refusal_file")"
	[ "$c" = "$(cat "$refusal_file")" ]
}
if modinfo wireguard >/dev/null 2>&1; then
	check "wireguard.ko refuses packets without a peer the same way" c_refusal
else
	ktap_skip "wireguard.ko refuses packets without a peer the same way" "no wireguard.ko installed"
fi
ktap_finish
