#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The cookie path under load, on whatever kernel runs it (the debug kernel
# in `make check`). A flood cannot fill the handshake queue there, so the
# module is loaded with handshake_load=1: every device is under load all
# the time and answers any handshake message without a valid mac2 with a
# cookie reply. In network namespaces, A's wg0 (wgrs.ko) has three kinds of
# peer:
#   - wireguard-go on a TUN device in B (an independent implementation):
#     its first initiation must be answered with a cookie reply, its retry
#     with the cookie's mac2 must complete the handshake;
#   - a second wgrs device in C, also under load: cookies both ways (C's
#     initiation, then A's response), and the handshake still completes;
#   - wgrs-hsflood in B: initiations without cookies get only cookie
#     replies, never a handshake; with cookies they get handshakes, at
#     most as many as the per-source rate limiter allows (20 a second
#     after a burst of 5).
# Then the tunnels still carry traffic, the module unloads, and the kernel
# log has no splat.
#
#   ./cookie.sh
# ksft-timeout: 600
set -u
cd "$(dirname "$0")" && . ./lib.sh && . ./tunnel_lib.sh
require_root

ktap_header 11
tmp=$(mktemp -d)
on_exit "rm -rf $tmp"
nsA=wgrs-ck-a-$$ nsB=wgrs-ck-b-$$ nsC=wgrs-ck-c-$$
IF=wgck$$
IF=${IF:0:15}
A() { nsx $nsA "$@"; }
B() { nsx $nsB "$@"; }
C() { nsx $nsC "$@"; }
pidB=
on_exit stop_b

# The module refuses a threshold outside 1..4096, and says why.
modprobe -r wireguard "$WGRS_MODULE" 2>/dev/null
refused() { # VALUE
	dmesg_mark
	if modprobe "$WGRS_MODULE" handshake_load="$1" 2>&1; then
		echo "modprobe $WGRS_MODULE handshake_load=$1 succeeded"
		modprobe -r "$WGRS_MODULE"
		return 1
	fi
	module_loaded "$WGRS_MODULE" && { echo "the module is loaded"; return 1; }
	dmesg | sed -n "/$__dmesg_mark/,\$p" | grep -q "handshake_load=$1 refused" ||
		{ echo "no 'handshake_load=$1 refused' in the kernel log"; return 1; }
}
check "handshake_load=0 is refused, with a reason in the kernel log" refused 0
check "handshake_load=4097 is refused, with a reason in the kernel log" refused 4097

dmesg_mark
loaded() {
	load_only "$WGRS_MODULE" handshake_load=1 &&
		dmesg | sed -n "/$__dmesg_mark/,\$p" | grep -q "handshake_load=1: under load from 1 "
}
if ! check_here "$WGRS_MODULE loads with handshake_load=1 and says so" loaded; then
	for i in $(seq 4 11); do ktap_fail "case $i (the module did not load)"; done
	ktap_finish
fi
on_exit "modprobe -r $WGRS_MODULE"
netns_add $nsA $nsB $nsC

kA=$(new_key $tmp/kA) kB=$(new_key $tmp/kB) kC=$(new_key $tmp/kC)

# check_v DESC CMD...: check, with CMD's output shown either way (the
# figures of a passing case are worth keeping too).
check_v() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then ktap_ok "$desc"; else ktap_fail "$desc"; fi
	[ -n "$out" ] && printf '%s\n' "$out" | ktap_diag
	return 0
}

# Cookie replies (64-byte messages, UDP length 72) sent from NS's
# WireGuard port, counted by nftables: the proof that a device demanded a
# cookie, whatever the peer does with it.
count_creps() { # NS PORT
	nsx "$1" nft -f - <<-EOF
	table inet wgrsck {
		counter creps { }
		chain out {
			type filter hook output priority 0;
			udp sport $2 udp length 72 counter name creps
		}
	}
	EOF
}
creps() { nsx "$1" nft list counter inet wgrsck creps | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }

setup() {
	veth_pair $nsA vAB 192.168.83.1/24 $nsB vB 192.168.83.2/24 &&
		veth_pair $nsA vAC 192.168.84.1/24 $nsC vC 192.168.84.3/24 || return 1
	ip -n $nsA link add wg0 type wireguard &&
		A wg set wg0 private-key $tmp/kA listen-port 51870 \
			peer "$kB" allowed-ips 10.83.0.2/32 \
			peer "$kC" allowed-ips 10.83.0.3/32 &&
		ip -n $nsA addr add 10.83.0.1/24 dev wg0 && ip -n $nsA link set wg0 up || return 1
	ip -n $nsC link add wg0 type wireguard &&
		C wg set wg0 private-key $tmp/kC listen-port 51872 \
			peer "$kA" allowed-ips 10.83.0.1/32 endpoint 192.168.84.1:51870 &&
		ip -n $nsC addr add 10.83.0.3/24 dev wg0 && ip -n $nsC link set wg0 up || return 1
	WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error B wireguard-go -f $IF >$tmp/b.log 2>&1 &
	pidB=$!
	# A Go runtime starting on the debug kernel under TCG can take a while.
	wait_for 120 test -S /run/wireguard/$IF.sock || { echo "no UAPI socket after 120 s:"; cat $tmp/b.log; return 1; }
	wg set $IF private-key $tmp/kB listen-port 51871 \
		peer "$kA" allowed-ips 10.83.0.1/32 endpoint 192.168.83.1:51870 &&
		ip -n $nsB addr add 10.83.0.2/24 dev $IF && ip -n $nsB link set $IF up || return 1
	count_creps $nsA 51870 && count_creps $nsC 51872
}
if ! check_here "setup: wgrs wg0 in A, wireguard-go in B, wgrs wg0 in C, cookie-reply counters" setup; then
	for i in $(seq 5 11); do ktap_fail "case $i (no setup)"; done
	ktap_finish
fi

# wireguard-go initiates: refused with a cookie reply, through with the
# retry after REKEY_TIMEOUT (5 s) that carries the cookie's mac2.
go_through() {
	local t0=$SECONDS
	B ping -q -n -c 1 -W 30 10.83.0.1 || { echo "no ping through after 30 s"; return 1; }
	echo "through after $((SECONDS - t0)) s; A sent $(creps $nsA) cookie replies"
	[ "$(creps $nsA)" -ge 1 ] || { echo "A never demanded a cookie"; return 1; }
	[ "$(peer_field $nsA wg0 "$kB" 5)" != 0 ] || { echo "A shows no handshake with B"; return 1; }
}
check_v "wireguard-go gets a cookie reply, then through with the cookie's mac2" go_through

# C initiates to A: A demands a cookie (C's retry carries it), C demands
# one for A's response (A's next response carries it).
wgrs_through() {
	local t0=$SECONDS a0
	a0=$(creps $nsA)
	C ping -q -n -c 1 -W 40 10.83.0.1 || { echo "no ping through after 40 s"; return 1; }
	echo "through after $((SECONDS - t0)) s; cookie replies: A sent $(($(creps $nsA) - a0)), C sent $(creps $nsC)"
	[ "$(($(creps $nsA) - a0))" -ge 1 ] || { echo "A demanded no cookie of C"; return 1; }
	[ "$(creps $nsC)" -ge 1 ] || { echo "C demanded no cookie of A's response"; return 1; }
}
check_v "two wgrs devices under load: cookies both ways, then the handshake" wgrs_through

# The flood: four initiators' keys as A's peers, sent from B's address.
flood_peers() {
	local i args=()
	(umask 077 && : >$tmp/flood.keys) || return 1
	for i in 1 2 3 4; do
		k=$(wg genkey) && echo "$k" >>$tmp/flood.keys &&
			args+=(peer "$(wg pubkey <<<"$k")" allowed-ips "10.84.0.$i/32") || return 1
	done
	A wg set wg0 "${args[@]}"
}
flood() { # SECONDS [--cookies]: prints sent, cookie replies, responses
	local out tag l1 sent l2 creps l3 resp _rest
	out=$(B "$WGRS_BIN/wgrs-hsflood" --target 192.168.83.1:51870 \
		--server-public "$(A wg show wg0 public-key)" --keys $tmp/flood.keys \
		--sources 192.168.83.2 --seconds "$@" 2>$tmp/flood.err) || { cat $tmp/flood.err; return 1; }
	read -r tag l1 sent l2 creps l3 resp _rest <<<"$out"
	[ "$tag $l1 $l2 $l3" = "hsflood sent cookie_replies responses" ] || { echo "unexpected output: $out"; return 1; }
	echo "$sent $creps $resp"
}
flood_nocookie() {
	local sent creps resp
	local out
	flood_peers && out=$(flood 4) || { echo "$out"; return 1; }
	read -r sent creps resp <<<"$out"
	echo "$sent initiations, $creps cookie replies, $resp handshakes"
	[ "$sent" -ge 10 ] || { echo "too few initiations to judge"; return 1; }
	[ "$creps" -ge 1 ] && [ "$resp" = 0 ]
}
check_v "a flood without cookies gets cookie replies and no handshake" flood_nocookie

# Every handshake under load spends one of the source's tokens: at most
# the burst of 5 plus 20 a second (and 0.25 s for late responses).
flood_cookie() {
	local sent creps resp secs=6
	local out
	out=$(flood $secs --cookies) || { echo "$out"; return 1; }
	read -r sent creps resp <<<"$out"
	echo "$sent initiations, $creps cookie replies, $resp handshakes in $secs s from one source"
	[ "$creps" -ge 1 ] || { echo "no cookie reply"; return 1; }
	[ "$resp" -ge 1 ] || { echo "no handshake with cookies"; return 1; }
	[ "$resp" -le $((5 + 20 * (secs + 1))) ] || { echo "more than the rate limiter allows"; return 1; }
}
check_v "a flood with cookies gets handshakes, no more than the rate limiter allows" flood_cookie

still_up() {
	B ping -n -c 1 -W 10 10.83.0.1 && C ping -n -c 1 -W 10 10.83.0.1
}
check "after the floods, B and C still reach A through the tunnel" still_up

stop_b
unload() {
	local n
	for n in $nsA $nsC; do ip -n $n link del wg0 || return 1; done
	modprobe -r "$WGRS_MODULE" && ! module_loaded "$WGRS_MODULE"
}
check "the module unloads" unload
check "no splat in the kernel log" no_splat
ktap_finish
