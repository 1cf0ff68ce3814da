#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# wgrs.ko against the in-tree C wireguard.ko, directly: the same
# configurations (and the same traffic) applied to each module in turn, one
# loaded at a time, with the same keys, names and addresses; what wg(8) and
# ip(8) report — `wg showconf`, `wg show dump`, `wg show`, `ip -d link`,
# device counters, exit codes and error messages — must be the same, byte
# for byte (handshake times, which are wall-clock, only as "set or not").
# Each case also checks that the C run did what the case is about, so two
# identical failures cannot pass.
set -u
cd "$(dirname "$0")" && . ./lib.sh && . ./tunnel_lib.sh
require_root

# WGRS_CMP_CASES="order rxorder" runs only those (when chasing one);
# WGRS_CMP_PARAMS="name=value ..." loads wgrs.ko with those module
# parameters (rx_handoff.sh).
read -ra cases <<<"${WGRS_CMP_CASES:-empty config change setconf errors link live garbage order rxorder}"
ktap_header $((${#cases[@]} + 2))

tmp=$(mktemp -d)
on_exit "rm -rf $tmp"
nsA=wgrs-cmp-a-$$ nsB=wgrs-cmp-b-$$
kA=$(new_key $tmp/kA) kB=$(new_key $tmp/kB)
p1=$(new_key $tmp/p1) p2=$(new_key $tmp/p2) p3=$(new_key $tmp/p3)
(umask 077 && wg genpsk >$tmp/psk)
A() { nsx $nsA "$@"; }
B() { nsx $nsB "$@"; }

# run CMD...: runs it in A, recording the command, its output (stdout and
# stderr) and its exit status in the transcript.
run() {
	local out rc
	out=$(A "$@" 2>&1)
	rc=$?
	printf '$ %s\n%s\n[exit %d]\n' "$*" "$out" "$rc"
}
# Latest-handshake columns (wall-clock seconds) become "set" or "0".
mask_dump() { awk -F'\t' 'BEGIN { OFS = "\t" } NR > 1 && $5 != 0 { $5 = "set" } { print }'; }
show_all() { # what wg reports about A's wg0
	run wg showconf wg0
	echo "$ wg show wg0 dump"
	A wg show wg0 dump | mask_dump
	echo "$ wg show wg0"
	A wg show wg0 | sed -E 's/^(  latest handshake: ).*/\1(set)/'
}
link_all() { # what ip reports about A's wg0 (the ifindex aside)
	echo "$ ip -d link show wg0"
	ip -n $nsA -d link show wg0 | sed -E 's/^[0-9]+: /N: /'
}

case_empty() {
	A true && ip -n $nsA link add wg0 type wireguard && show_all && link_all
}
configure() {
	ip -n $nsA link add wg0 type wireguard &&
		run wg set wg0 private-key $tmp/kA listen-port 51830 fwmark 0x42 \
			peer "$p1" preshared-key $tmp/psk endpoint 192.0.2.1:51820 \
			allowed-ips 10.1.0.0/16,10.2.3.4/32,fd00::/64,10.9.9.9/8 persistent-keepalive 25 \
			peer "$p2" endpoint "[2001:db8::1]:51821" allowed-ips 10.1.2.0/24,0.0.0.0/0,::/0 \
			peer "$p3" allowed-ips 10.1.0.0/16,fd00::1/128
}
case_config() { configure && show_all; }
case_change() {
	configure >/dev/null &&
		run wg set wg0 peer "$p2" remove &&
		run wg set wg0 peer "$p1" allowed-ips 10.7.0.0/16 persistent-keepalive off endpoint 198.51.100.7:9 &&
		run wg set wg0 fwmark 0 peer "$p3" preshared-key /dev/null &&
		run wg set wg0 peer "$p2" remove &&
		run wg set wg0 listen-port 51831 &&
		show_all
}
case_setconf() {
	configure >/dev/null || return 1
	cat >$tmp/conf <<-EOF
		[Interface]
		PrivateKey = $(cat $tmp/kB)
		ListenPort = 51832

		[Peer]
		PublicKey = $p3
		AllowedIPs = 10.3.0.0/16, fd03::/48
		Endpoint = 192.0.2.3:3

		[Peer]
		PublicKey = $p2
		AllowedIPs = 10.4.0.0/16
	EOF
	run wg setconf wg0 $tmp/conf && show_all &&
		printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.5.0.0/16\n' "$p1" >$tmp/add &&
		run wg addconf wg0 $tmp/add && show_all
}
case_errors() {
	# A port that another device of the namespace holds (sockets exist
	# while a device is up); the device keeps its old state.
	ip -n $nsA link add wg0 type wireguard && ip -n $nsA link add wg1 type wireguard || return 1
	run wg set wg0 listen-port 51833
	run wg set wg1 listen-port 51834
	run ip link set wg0 up
	run ip link set wg1 up
	run wg set wg1 listen-port 51833
	run wg show wg1 listen-port
	run ip link set wg1 down
	run wg set wg1 listen-port 51833
	run ip link set wg1 up
	run wg set wg0 peer "$p1" remove
	run ip link set wg0 mtu 67
	run ip link set wg0 mtu 1000000
	run ip link set wg0 address 02:00:00:00:00:01
	run ip link set wg0 type wireguard
	run ip link add wg0 type wireguard
}
case_link() {
	ip -n $nsA link add wg0 type wireguard &&
		ip -n $nsA link set wg0 mtu 1380 && ip -n $nsA addr add 10.0.0.1/24 dev wg0 &&
		ip -n $nsA link set wg0 up && link_all &&
		echo "$ ip -6 addr show wg0" && ip -n $nsA -6 addr show dev wg0 | sed -E 's/^[0-9]+: /N: /' &&
		for f in addr_gen_mode disable_ipv6; do echo "ipv6 $f: $(A sysctl -n net.ipv6.conf.wg0.$f)"; done &&
		for f in send_redirects accept_redirects; do echo "ipv4 $f: $(A sysctl -n net.ipv4.conf.wg0.$f)"; done
}
# Two namespaces, one tunnel, one handshake and one ping each way (fixed
# sizes): the transfer counters and the device counters are exact.
tunnel() {
	ip netns add $nsB || return 1
	on_exit "ip netns del $nsB"
	veth_pair $nsA vA 192.168.77.1/24 $nsB vB 192.168.77.2/24 || return 1
	ip -n $nsA link add wg0 type wireguard && ip -n $nsB link add wg0 type wireguard || return 1
	# Only the test's pings cross the tunnel: the kernel's own IPv6
	# chatter on a new link (router solicitations, MLD reports; no peer
	# takes them) would add counts at times that differ run to run.
	local ns
	for ns in $nsA $nsB; do
		nsx $ns nft -f - <<-'EOF' || return 1
			table inet wgrs_cmp {
				chain out {
					type filter hook output priority 0
					oifname "wg0" meta l4proto ipv6-icmp icmpv6 type != { echo-request, echo-reply } drop
				}
			}
		EOF
	done
	A wg set wg0 private-key $tmp/kA listen-port 51840 peer "$(wg pubkey <$tmp/kB)" \
		allowed-ips 10.77.0.2/32,fd77::2/128 endpoint 192.168.77.2:51841 &&
		B wg set wg0 private-key $tmp/kB listen-port 51841 peer "$(wg pubkey <$tmp/kA)" \
			allowed-ips 10.77.0.1/32,fd77::1/128 endpoint 192.168.77.1:51840 || return 1
	ip -n $nsA addr add 10.77.0.1/24 dev wg0 && addr6 $nsA wg0 fd77::1/64 &&
		ip -n $nsB addr add 10.77.0.2/24 dev wg0 && addr6 $nsB wg0 fd77::2/64 &&
		ip -n $nsA link set wg0 up && ip -n $nsB link set wg0 up
}
counters() {
	for ns in $nsA $nsB; do
		echo "counters in ${ns%%-[0-9]*}: $(ip -n $ns -s -j link show wg0 | jq -c '.[0].stats64 | {rx: .rx | {bytes, packets, errors, dropped}, tx: .tx | {bytes, packets, errors, dropped}}')"
	done
}
case_live() {
	tunnel || return 1
	run ping -c 1 -s 100 -w 10 -q 10.77.0.2 | sed -E 's/, time [0-9]+ms//; /^rtt/d'
	run ping -c 1 -s 1000 -w 10 -q fd77::2 | sed -E 's/, time [0-9]+ms//; /^rtt/d'
	# The counters once the timers are done: A owes B one passive
	# keepalive 10 s after B's last reply, and then nothing may happen (a
	# new handshake would come 15 s after A's last data, some 5 s after
	# the keepalive; wait past that too).
	local txA rxB
	txA=$(peer_field $nsA wg0 "$kB" 7) rxB=$(peer_field $nsB wg0 "$kA" 6)
	wait_for 60 eval '[ "$(peer_field $nsA wg0 "$kB" 7)" != "$txA" ] &&
		[ "$(peer_field $nsB wg0 "$kA" 6)" != "$rxB" ]' ||
		echo "no passive keepalive from A within 60 s"
	sleep 7
	show_all
	echo "$ B: wg show wg0 dump"
	B wg show wg0 dump | mask_dump
	counters
}
# The same 2000 junk datagrams (gate_net.py garbage: every message type,
# whole and truncated, with random contents) to A's listen port, after a
# handshake: what each driver counts for them, and the tunnel still works.
case_garbage() {
	tunnel && A ping -c 1 -w 10 -q 10.77.0.2 >/dev/null || return 1
	run echo handshake done
	B python3 ./gate_net.py garbage 192.168.77.1 51840 2000
	sleep 3
	# A's receive side only: a passive keepalive from A may or may not
	# have gone out by now, depending on how long the garbage took.
	echo "A's wg0 receive counters: $(ip -n $nsA -s -j link show wg0 | jq -c '.[0].stats64.rx')"
	echo "A's received from B: $(peer_field $nsA wg0 "$(wg pubkey <$tmp/kB)" 6)"
	run ping -c 2 -i 0.5 -w 10 -q 10.77.0.2 | sed -E 's/, time [0-9]+ms//; /^rtt/d'
}
# One thread sends 3000 small datagrams into the tunnel as fast as it can;
# captured on B's side of the link, the data messages must carry rising
# counters: the send path keeps nonce order however it batches and
# spreads the work (a reordered packet costs a receiver's replay window a
# slot, and TCP a retransmission signal).
case_order() {
	tunnel && A ping -c 1 -w 10 -q 10.77.0.2 >/dev/null || return 1
	# Not through B(): a signal must reach tcpdump, not a subshell.
	nsenter --net=/run/netns/$nsB -- tcpdump -Z root -i vB -s 128 -U -w $tmp/order.pcap \
		udp dst port 51841 2>$tmp/tcpdump.err &
	local td=$!
	if ! wait_for 20 grep -q "listening on" $tmp/tcpdump.err; then
		kill $td
		cat $tmp/tcpdump.err
		return 1
	fi
	A python3 ./gate_net.py flood 10.77.0.2 9 3000 >/dev/null
	sleep 2
	kill -INT $td
	wait_for 10 eval "! kill -0 $td" || kill -KILL $td
	wait $td
	python3 ./gate_net.py order $tmp/order.pcap |
		awk '{ print ($1 >= 1000 ? "at least 1000" : "fewer than 1000 (" $1 ")"), "data messages,", $4, "out of order" }'
}
# The receive side's order: one thread sends 3000 numbered datagrams,
# small and large alternately, into the tunnel; B's receiver must get them
# in the order they were sent (on one veth, the order they arrive in).
# The C driver decrypts on workers spread over the CPUs and restores the
# order before delivery; whatever wgrs.ko hands to other CPUs (the sizes
# differ so that a split by size would show) must not reorder either.
case_rxorder() {
	tunnel && A ping -c 1 -w 10 -q 10.77.0.2 >/dev/null || return 1
	B python3 ./gate_net.py seqsink 9 >$tmp/seqsink.out 2>&1 &
	local sink=$!
	if ! wait_for 20 grep -q listening $tmp/seqsink.out; then
		kill $sink
		cat $tmp/seqsink.out
		return 1
	fi
	A python3 ./gate_net.py seqflood 10.77.0.2 9 3000 >/dev/null
	wait $sink
	sed -n '2p' $tmp/seqsink.out |
		awk '{ print ($1 >= 1000 ? "at least 1000" : "fewer than 1000 (" $1 ")"), "datagrams,", $3, "out of order" }'
}
# What the C run must show for each case, so that the case did something.
expect_empty='^interface: wg0'
expect_config='^FwMark = 0x42'
expect_change='endpoint: 198.51.100.7:9'
expect_setconf='AllowedIPs = 10.5.0.0/16'
expect_errors='Address already in use'
expect_link='mtu 1380'
expect_live='transfer: [0-9.]+ [KMG]?i?B received'
expect_garbage=' 2 received'
expect_order='^at least 1000 data messages, 0 out of order$'
expect_rxorder='^at least 1000 datagrams, 0 out of order$'

run_all() { # MODULE: every case, transcripts in $tmp/MODULE/
	local m=$1 c
	mkdir -p $tmp/$m
	if [ "$m" = "$WGRS_MODULE" ]; then
		# shellcheck disable=SC2086 # one word per parameter
		load_only $m ${WGRS_CMP_PARAMS:-} || return 1
	else
		load_only $m || return 1
	fi
	for c in "${cases[@]}"; do
		ip netns add $nsA || return 1
		"case_$c" >$tmp/$m/$c 2>&1
		echo "[case status $?]" >>$tmp/$m/$c
		ip netns del $nsA
		ip netns del $nsB 2>/dev/null
	done
	modprobe -r $m
}
# Nothing may load a driver behind our back (`ip link add` would).
no_autoload
check "the cases on wireguard.ko (the C driver)" run_all wireguard
check "the same cases on $WGRS_MODULE.ko" run_all "$WGRS_MODULE"
same() { # CASE
	local c=$1 e
	e=expect_$c
	if ! grep -q -E -- "${!e}" $tmp/wireguard/$c; then
		echo "the C run did not show /${!e}/:"
		cat $tmp/wireguard/$c
		return 1
	fi
	diff -u --label wireguard.ko --label "$WGRS_MODULE.ko" $tmp/wireguard/$c $tmp/$WGRS_MODULE/$c && return 0
	echo "--- full C transcript:"
	cat $tmp/wireguard/$c
	return 1
}
for c in "${cases[@]}"; do
	check "$c: wgrs.ko reports what wireguard.ko reports" same $c
done
# For the record: what both reported after the traffic.
sed -n '/^\$ wg show wg0$/,$p' $tmp/$WGRS_MODULE/live 2>/dev/null | ktap_diag
ktap_finish
