#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# wg-quick(8), unchanged, on wgrs.ko: a client namespace C brings a tunnel
# up from a configuration file in full-tunnel mode (AllowedIPs = 0.0.0.0/0,
# ::/0: fwmark, policy routing, nftables rules), reaches addresses that only
# the server S has, through the tunnel, v4 and v6; `wg-quick down` leaves
# the namespace's routes and rules as they were. Then the same in
# split-tunnel mode (AllowedIPs = a few prefixes: plain routes in the main
# table, no fwmark, no rules).
set -u
cd "$(dirname "$0")" && . ./lib.sh && . ./tunnel_lib.sh
require_root
ktap_header 14

tmp=$(mktemp -d)
on_exit "rm -rf $tmp"
nsS=wgrs-wq-s-$$ nsC=wgrs-wq-c-$$
netns_add $nsS $nsC || exit 1
S() { nsx $nsS "$@"; }
# wg-quick runs as a user would run it: through `ip netns exec`.
C() { ip netns exec $nsC "$@"; }
load_only "$WGRS_MODULE" || { ktap_fail "load $WGRS_MODULE"; ktap_finish; }
on_exit "modprobe -r $WGRS_MODULE"
dmesg_mark
kS=$(new_key $tmp/kS) kC=$(new_key $tmp/kC)
conf=$tmp/wgq0.conf split=$tmp/wgq1.conf

setup() {
	veth_pair $nsS vC 192.168.90.1/24 $nsC vS 192.168.90.2/24 || return 1
	# "The internet": addresses only S has, behind the tunnel for C.
	ip -n $nsS addr add 203.0.113.1/32 dev lo && ip -n $nsS addr add 2001:db8:90::1/128 dev lo || return 1
	ip -n $nsS link add wg0 type wireguard &&
		S wg set wg0 private-key $tmp/kS listen-port 51860 peer "$kC" allowed-ips 10.90.0.2/32,fd90::2/128 &&
		ip -n $nsS addr add 10.90.0.1/24 dev wg0 && addr6 $nsS wg0 fd90::1/64 &&
		ip -n $nsS link set wg0 up || return 1
	cat >$conf <<-EOF
		[Interface]
		PrivateKey = $(cat $tmp/kC)
		Address = 10.90.0.2/24, fd90::2/64

		[Peer]
		PublicKey = $kS
		Endpoint = 192.168.90.1:51860
		AllowedIPs = 0.0.0.0/0, ::/0
	EOF
	# Split tunnel: only the tunnel's subnets and S's "internet" prefixes.
	sed 's|^AllowedIPs = .*|AllowedIPs = 10.90.0.0/24, 203.0.113.0/24, fd90::/64, 2001:db8:90::/48|' $conf >$split
	chmod 600 $conf $split
	# No default route in C: without the tunnel, C cannot reach S's
	# "internet" addresses at all.
	state >$tmp/state-before
}
# Everything wg-quick may touch in C: links, addresses, routes of every
# table, rules, nftables.
state() {
	ip -n $nsC -o link show | sed -E 's/^[0-9]+: //; s/ qlen [0-9]+//'
	ip -n $nsC -o addr show
	ip -n $nsC -4 route show table all
	ip -n $nsC -6 route show table all
	ip -n $nsC -4 rule show
	ip -n $nsC -6 rule show
	C nft list ruleset
}
check "server S (wgrs.ko, wg) and client C with a full-tunnel wg-quick file" setup
check "wg-quick up" eval "C wg-quick up $conf"
check "wg-quick's rules and fwmark are in place (table 51820, suppress_prefixlength 0, nft)" eval '
	C wg show wgq0 fwmark | grep -qx 0xca6c &&
	ip -n $nsC -4 rule show | grep -q "not from all fwmark 0xca6c lookup 51820" &&
	ip -n $nsC -4 rule show | grep -q "suppress_prefixlength 0" &&
	ip -n $nsC -6 rule show | grep -q "not from all fwmark 0xca6c lookup 51820" &&
	C nft list ruleset | grep -q "table ip wg-quick-wgq0"'
check "full tunnel v4: C reaches 203.0.113.1, which only S has" \
	nsx $nsC ping -q -c 3 -i 0.3 -w 15 203.0.113.1
check "full tunnel v6: C reaches 2001:db8:90::1" \
	nsx $nsC ping -q -c 3 -i 0.3 -w 15 2001:db8:90::1
check "the tunnel carried it: handshake and counters on S" eval '
	hs=$(peer_field $nsS wg0 "$kC" 5) rx=$(peer_field $nsS wg0 "$kC" 6) tx=$(peer_field $nsS wg0 "$kC" 7)
	echo "S: handshake $hs, rx $rx, tx $tx"
	[ "$hs" != 0 ] && [ "$rx" -gt 500 ] && [ "$tx" -gt 500 ]'
check "the outer packets bypass the tunnel (S sees C's real endpoint)" \
	eval '[ "$(peer_field $nsS wg0 "$kC" 3)" = 192.168.90.2:$(C wg show wgq0 listen-port) ]'
check "wg-quick down" eval "C wg-quick down $conf"
check "C's links, addresses, routes, rules and nftables are as before" eval "
	state >$tmp/state-after && diff -u $tmp/state-before $tmp/state-after"

check "split tunnel: wg-quick up" eval "C wg-quick up $split"
check "split tunnel: routes for the allowed prefixes in the main table, no fwmark, no rules" eval '
	ip -n $nsC -4 route show dev wgq1 | grep -q "^203.0.113.0/24" &&
	ip -n $nsC -6 route show dev wgq1 | grep -q "^2001:db8:90::/48" &&
	C wg show wgq1 fwmark | grep -qx off &&
	! ip -n $nsC -4 rule show | grep -q 51820 && ! ip -n $nsC -6 rule show | grep -q 51820 &&
	! C nft list ruleset | grep -q wg-quick'
check "split tunnel v4 and v6: C reaches 203.0.113.1 and 2001:db8:90::1" eval '
	nsx $nsC ping -q -c 3 -i 0.3 -w 15 203.0.113.1 && nsx $nsC ping -q -c 3 -i 0.3 -w 15 2001:db8:90::1'
check "split tunnel: an address outside the allowed prefixes has no route (not sent into the tunnel)" eval '
	! ip -n $nsC route get 198.51.100.1 >/dev/null 2>&1'
check "split tunnel: wg-quick down leaves C as it was" eval "
	C wg-quick down $split && state >$tmp/state-after && diff -u $tmp/state-before $tmp/state-after"
ktap_finish
