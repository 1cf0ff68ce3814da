#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# wgrs.ko against the C wireguard.ko, across two VMs. The two modules
# cannot be loaded in one kernel (same link kind, same netlink family), so
# scripts/vm-tests.sh boots two VMs joined by a virtual link (QEMU dgram
# netdev) and runs pair_cdriver.sh in one and pair_wgrs.sh in the other,
# first in both boots. The two sides keep step through barriers: one line
# each way over TCP on the link (barrier below).
#
#   pair.sh c|w     (c: wireguard.ko at 192.168.200.1, w: wgrs.ko at .2)
#
# C initiates (wgrs has no endpoint), then wgrs initiates (C has none):
# ping v4/v6 both ways each time; iperf3 both ways (byte counters compared
# across the two: what one side received, the other sent); wgrs roams and
# C follows; C roams and wgrs follows.
# ksft-timeout: 900
set -u
cd "$(dirname "$0")" && . ./lib.sh && . ./tunnel_lib.sh
require_root
role=${1:-}
case $role in
c) me=1 other=2 mod=wireguard name="wireguard.ko" ;;
w) me=2 other=1 mod=$WGRS_MODULE name="$WGRS_MODULE.ko" ;;
*) echo "usage: pair.sh c|w" >&2; exit 2 ;;
esac
nic=${WGRS_PAIR_NIC:-eth0}
seed=${WGRS_PAIR_SEED:-}
# Outside scripts/vm-tests.sh (say, a kselftest run on one machine) there is
# no other side: a skip, which the wgrs harness itself counts as a failure.
if [ -z "$seed" ]; then
	ktap_header 1
	ktap_skip "pair.sh $role" "needs two VMs joined by a link (scripts/vm-tests.sh sets WGRS_PAIR_SEED)"
	exit $KSFT_SKIP
fi
ktap_header 10
dmesg_mark
ns=wgrs-pair
tmp=$(mktemp -d)
on_exit "rm -rf $tmp"
N() { nsx $ns "$@"; }
port_of() { echo $((51900 + $1)); }

# Both sides derive both keys from the seed vm-tests.sh gives both boots.
key_of() { python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).decode())' "wgrs-pair-$seed-$1"; }
# barrier NAME [MESSAGE]: waits for the other side to reach NAME too;
# exchanges one line (prints the other's). Side c listens, side w connects,
# on addresses of their own (192.168.201.x) that roaming never touches.
barrier() {
	# Once the other side failed to turn up, do not wait for it again.
	[ -e $tmp/gone ] && { echo "barrier $1: the other VM is gone" >&2; return 1; }
	N python3 - "$role" "$1" "${2:-}" <<-'EOF'
		import socket, sys, time
		role, name, msg = sys.argv[1:4]
		deadline = time.time() + 300
		line = ("%s %s\n" % (name, msg)).encode()
		def exchange(s):
		    s.sendall(line)
		    s.shutdown(socket.SHUT_WR)
		    data = b""
		    while True:
		        b = s.recv(4096)
		        if not b:
		            break
		        data += b
		    got = data.decode().strip().split(" ", 1)
		    if got[0] != name:
		        sys.exit("barrier %s: the other side is at %r" % (name, got[0]))
		    print(got[1] if len(got) > 1 else "")
		if role == "c":
		    srv = socket.socket()
		    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		    srv.bind(("192.168.201.1", 7700))
		    srv.listen(1)
		    srv.settimeout(300)
		    conn, _ = srv.accept()
		    conn.settimeout(60)
		    exchange(conn)
		else:
		    while True:
		        try:
		            s = socket.create_connection(("192.168.201.1", 7700), timeout=5)
		            break
		        except OSError:
		            if time.time() > deadline:
		                sys.exit("barrier %s: the other VM never answered" % name)
		            time.sleep(0.5)
		    s.settimeout(60)
		    exchange(s)
	EOF
	[ $? = 0 ] || { touch $tmp/gone; return 1; }
}

underlay() {
	ip link show "$nic" >/dev/null 2>&1 || { echo "no $nic: this boot has no link to the other VM"; return 1; }
	ip netns add $ns && on_exit "ip netns del $ns" &&
		ip link set "$nic" netns $ns && ip -n $ns link set lo up && ip -n $ns link set "$nic" up &&
		ip -n $ns addr add 192.168.200.$me/24 dev "$nic" &&
		ip -n $ns addr add 192.168.201.$me/24 dev "$nic" || return 1
	modprobe -r wireguard "$WGRS_MODULE" 2>/dev/null
	modprobe $mod && on_exit "modprobe -r $mod" || return 1
	key_of $role >$tmp/priv && key_of $( [ $role = c ] && echo w || echo c) >$tmp/other-priv &&
		pub_other=$(wg pubkey <$tmp/other-priv) || return 1
	ip -n $ns link add wg0 type wireguard &&
		N wg set wg0 private-key $tmp/priv listen-port $(port_of $me) &&
		ip -n $ns addr add 10.200.0.$me/24 dev wg0 && addr6 $ns wg0 fd20::$me/64 &&
		ip -n $ns link set wg0 up || return 1
	[ "$(barrier up "$name")" != "" ]
}
check_here "[$role] $name in this VM, the link to the other VM up, both sides there" underlay

# peer_fresh [ENDPOINT]: the other side as a fresh peer (no session).
peer_fresh() {
	N wg set wg0 peer "$pub_other" remove &&
		N wg set wg0 peer "$pub_other" allowed-ips 10.200.0.$other/32,fd20::$other/128 ${1:+endpoint $1}
}
hs() { peer_field $ns wg0 "$pub_other" 5; }
pings() { N ping -q -c 3 -i 0.3 -w 20 "$1"; }
# initiates SIDE: SIDE has the other's endpoint and pings first; the other
# side, without an endpoint, waits for the handshake and pings back.
initiates() {
	if [ $role = $1 ]; then
		peer_fresh 192.168.200.$other:$(port_of $other) && barrier "fresh-$1" >/dev/null &&
			pings 10.200.0.$other && pings fd20::$other || { barrier "done-$1" fail; return 1; }
		[ "$(barrier "done-$1" ok)" = ok ]
	else
		peer_fresh && barrier "fresh-$1" >/dev/null &&
			wait_for 60 eval '[ "$(hs)" != 0 ]' && pings 10.200.0.$other && pings fd20::$other ||
			{ barrier "done-$1" fail; return 1; }
		[ "$(barrier "done-$1" ok)" = ok ]
	fi
}
check_here "[$role] C initiates (wgrs has no endpoint): ping v4/v6 both ways" initiates c
check_here "[$role] wgrs initiates (C has no endpoint): ping v4/v6 both ways" initiates w
# Where packets are dropped while iperf runs (the skb:kfree_skb
# tracepoint: location and drop reason), shown with the iperf case.
tr=/sys/kernel/tracing
[ -d $tr/events ] || mount -t tracefs tracefs $tr 2>/dev/null
drops_begin() {
	[ -w $tr/events/skb/kfree_skb/enable ] || return 0
	echo >$tr/trace
	echo 1 >$tr/events/skb/kfree_skb/enable
}
drops_report() {
	[ -w $tr/events/skb/kfree_skb/enable ] || return 0
	echo 0 >$tr/events/skb/kfree_skb/enable
	echo "drops here (count, location, reason):"
	grep -o 'location=[^ ]* .*reason: [A-Z_]*' $tr/trace | sed 's/ protocol=[^ ]*//; s/ rx_sk=[^ ]*//' |
		sort | uniq -c | sort -rn | head -n 12
	echo "devices and UDP counters here:"
	N cat /proc/net/dev | sed 1d
	N grep '^Udp:' /proc/net/snmp
}
# iperf3: the server on w; c runs the client both ways.
iperf_both() {
	drops_begin
	iperf_both_ && { drops_report; return 0; }
	drops_report
	return 1
}
iperf_both_() {
	if [ $role = w ]; then
		N iperf3 -s -D -I $tmp/iperf.pid >/dev/null 2>&1 && wait_for 60 eval "N ss -ltn | grep -q ':5201 '" ||
			{ barrier iperf-ready fail; return 1; }
		barrier iperf-ready ok >/dev/null
		local r
		r=$(barrier iperf-done)
		kill "$(cat $tmp/iperf.pid)" 2>/dev/null
		[ "$r" = ok ]
	else
		[ "$(barrier iperf-ready)" = ok ] || { barrier iperf-done fail; return 1; }
		local a b
		a=$(N iperf3 -c 10.200.0.2 -t 3 -J | jq '.end.sum_received.bytes')
		b=$(N iperf3 -c 10.200.0.2 -t 3 -J -R | jq '.end.sum_received.bytes')
		echo "received: c -> w $a bytes, w -> c $b bytes"
		if [ "${a:-0}" -gt 100000 ] && [ "${b:-0}" -gt 100000 ]; then barrier iperf-done ok; else barrier iperf-done fail; return 1; fi
	fi
}
# Full-size inner packets (1420 bytes, the tunnel's MTU, so the outer
# frame is a full Ethernet frame too). A real NIC driver may hand such
# frames over with only the headers in the skb's linear part and the rest
# in page fragments (virtio-net does under load: the iperf case below
# caught wgrs.ko dropping data messages whose tag was not linear).
bigpings() {
	drops_begin
	bigpings_ && { drops_report; return 0; }
	drops_report
	return 1
}
bigpings_() {
	N ping -q -c 3 -i 0.3 -w 20 -M do -s 1392 10.200.0.$other || { barrier big fail; return 1; }
	[ "$(barrier big ok)" = ok ]
}
check_here "[$role] full-size packets (1420 bytes, DF) both ways" bigpings

check_here "[$role] iperf3 TCP both ways through the tunnel (over 100 kB each)" iperf_both
# Both count like C, so what one side received the other sent (the link
# may lose datagrams: received <= sent, and not much less).
counters() {
	local rx tx o orx otx
	rx=$(peer_field $ns wg0 "$pub_other" 6) tx=$(peer_field $ns wg0 "$pub_other" 7)
	o=$(barrier counters "$rx $tx") || return 1
	read -r orx otx <<<"$o"
	echo "here: rx $rx tx $tx; other side: rx $orx tx $otx"
	# (Slack of a few keepalives: the two sides read at slightly
	# different times.)
	[ "$orx" -le $((tx + 1024)) ] && [ "$orx" -ge $((tx * 95 / 100)) ] &&
		[ "$rx" -le $((otx + 1024)) ] && [ "$rx" -ge $((otx * 95 / 100)) ]
}
check_here "[$role] byte counters: each side received what the other sent" counters
# roams SIDE NEW-ADDRESS: SIDE moves to NEW-ADDRESS and pings; the other
# side's endpoint for it follows.
roams() {
	local r
	if [ $role = $1 ]; then
		ip -n $ns addr del 192.168.200.$me/24 dev "$nic" && ip -n $ns addr add 192.168.200.$2/24 dev "$nic" || return 1
		pings 10.200.0.$other || { barrier "roamed-$1" fail; return 1; }
		barrier "pinged-$1" >/dev/null
		r=$(barrier "roamed-$1" ok)
		echo "the other side's endpoint for us: $r"
		# Back, and a ping so the other side follows back.
		ip -n $ns addr del 192.168.200.$2/24 dev "$nic" && ip -n $ns addr add 192.168.200.$me/24 dev "$nic" &&
			pings 10.200.0.$other
		barrier "back-$1" >/dev/null
		[ "$r" = 192.168.200.$2:$(port_of $me) ]
	else
		# Read after the roaming side pinged from its new address.
		barrier "pinged-$1" >/dev/null
		r=$(barrier "roamed-$1" "$(peer_field $ns wg0 "$pub_other" 3)")
		barrier "back-$1" >/dev/null
		[ "$r" = ok ]
	fi
}
check_here "[$role] wgrs roams to 192.168.200.12: C follows" roams w 12
check_here "[$role] C roams to 192.168.200.11: wgrs follows" roams c 11
check_here "[$role] the tunnel still works both ways (v4, v6)" eval '
	pings 10.200.0.$other && pings fd20::$other && [ "$(barrier end ok)" = ok ]'
check "[$role] no kernel splat" no_splat
ktap_finish
