#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The tunnel benchmark: wireguard.ko (C) and wgrs.ko measured alternately in
# this one boot, on the same namespaces and the same veth pair, several
# rounds. Each measurement prints a line
#
#   # BENCH <figure> <driver> <round> <value> <unit>
#
# which scripts/bench.sh turns into medians and ratios. Figures: iperf3 TCP
# with 1 and 4 streams in both directions (Mbit/s), UDP packets per second
# received with 64-byte payloads, ping round-trip time p50 and p99 (us).
#
#   bench.sh [--smoke] [--rounds N] [--seconds S]
#
# --smoke (what `make check` runs, on the debug kernel): one round of 3 s
# runs (about two minutes there, under TCG); the KTAP cases check that every figure produced a number for both
# drivers, so the benchmark cannot rot. It measures nothing worth keeping.
# ksft-timeout: 300
set -u
cd "$(dirname "$0")" && . ./lib.sh && . ./tunnel_lib.sh
require_root

rounds=5 secs=10 pings=500 smoke=
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 rounds=1 secs=3 pings=20; shift ;;
	--rounds) rounds=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	*) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
drivers=(wireguard "$WGRS_MODULE")
figures=(tcp1_ab tcp1_ba tcp4_ab tcp4_ba udp64_pps rtt_p50 rtt_p99)
ktap_header $((${#drivers[@]} * (1 + ${#figures[@]}) * rounds))

tmp=$(mktemp -d)
on_exit "rm -rf $tmp"
nsA=wgrs-bench-a-$$ nsB=wgrs-bench-b-$$
netns_add $nsA $nsB || exit 1
A() { nsx $nsA "$@"; }
B() { nsx $nsB "$@"; }
on_exit "modprobe -r wireguard $WGRS_MODULE"
veth_pair $nsA vB 192.168.77.1/24 $nsB vA 192.168.77.2/24 || { ktap_fail "veth pair"; ktap_finish; }
kA=$(new_key $tmp/kA) kB=$(new_key $tmp/kB)

# The same two-peer tunnel for either driver: A 10.77.0.1, B 10.77.0.2.
tunnel_up() {
	load_only "$1" || return 1
	ip -n $nsA link add wg0 type wireguard && ip -n $nsB link add wg0 type wireguard || return 1
	A wg set wg0 private-key $tmp/kA listen-port 51877 \
		peer "$kB" endpoint 192.168.77.2:51878 allowed-ips 10.77.0.2/32 &&
		B wg set wg0 private-key $tmp/kB listen-port 51878 \
			peer "$kA" endpoint 192.168.77.1:51877 allowed-ips 10.77.0.1/32 || return 1
	ip -n $nsA addr add 10.77.0.1/24 dev wg0 && ip -n $nsB addr add 10.77.0.2/24 dev wg0 &&
		ip -n $nsA link set wg0 up && ip -n $nsB link set wg0 up || return 1
	A ping -q -c 1 -W 5 10.77.0.2 >/dev/null || A ping -q -c 3 -W 5 10.77.0.2 >/dev/null || return 1
	B iperf3 -s -D -I $tmp/iperf.pid >/dev/null 2>&1 &&
		wait_for 20 eval "B ss -ltn | grep -q ':5201 '"
}
tunnel_down() {
	[ -f $tmp/iperf.pid ] && kill "$(cat $tmp/iperf.pid)" 2>/dev/null
	rm -f $tmp/iperf.pid
	sleep 0.5
	ip -n $nsA link del wg0 2>/dev/null
	ip -n $nsB link del wg0 2>/dev/null
	modprobe -r "$1"
}

# bench FIGURE DRIVER ROUND VALUE UNIT: the record, and a case for it.
bench() {
	if [[ $4 =~ ^[0-9]+(\.[0-9]+)?$ ]] && [ "$4" != 0 ]; then
		echo "# BENCH $1 $2 $3 $4 $5"
		ktap_ok "$2 round $3: $1 = $4 $5"
	else
		ktap_fail "$2 round $3: $1 produced no number ('$4')"
		# What the measuring tool said, if it was iperf3.
		[ -s $tmp/last.json ] && jq -c '{error, sum_received: .end.sum_received, sum: .end.sum}' $tmp/last.json | ktap_diag
	fi
	rm -f $tmp/last.json
}

# iperf3 from A to B's server; "ba" runs it reversed (B sends).
tcp() { # STREAMS ab|ba
	local rev=
	[ "$2" = ba ] && rev=-R
	A iperf3 -c 10.77.0.2 -t "$secs" -P "$1" $rev -J >$tmp/last.json 2>/dev/null
	jq -r '.end.sum_received.bits_per_second / 1e6 | . * 1000 | floor / 1000' $tmp/last.json 2>/dev/null
}
# Datagrams of 64 bytes, as fast as iperf3 can send them: what B received,
# per second.
udp_pps() {
	A iperf3 -c 10.77.0.2 -u -l 64 -b 0 -t "$secs" -J >$tmp/last.json 2>/dev/null
	jq -r '.end.sum | (.packets - .lost_packets) / .seconds | floor' $tmp/last.json 2>/dev/null
}
# Round-trip times of $pings pings, 10 ms apart, sorted, in microseconds.
rtts() {
	A ping -n -c "$pings" -i 0.01 -W 1 10.77.0.2 2>/dev/null |
		sed -n 's/.* time=\([0-9.]*\) ms$/\1/p' | awk '{ printf "%d\n", $1 * 1000 }' | sort -n
}
pct() { # P: the P-th percentile of sorted numbers on stdin
	awk -v p="$1" '{ v[NR] = $1 } END { if (NR) { i = int((NR * p + 99) / 100); if (i < 1) i = 1; print v[i] } }'
}

for ((r = 1; r <= rounds; r++)); do
	# Alternate which driver goes first, so that a slow drift of the
	# machine does not favour one of them.
	order=("${drivers[@]}")
	((r % 2 == 0)) && order=("${drivers[1]}" "${drivers[0]}")
	for d in "${order[@]}"; do
		if ! out=$(tunnel_up "$d" 2>&1); then
			ktap_fail "$d round $r: tunnel up"
			printf '%s\n' "$out" | ktap_diag
			for f in "${figures[@]}"; do ktap_fail "$d round $r: $f (no tunnel)"; done
			tunnel_down "$d" >/dev/null 2>&1
			continue
		fi
		ktap_ok "$d round $r: tunnel up, first ping through"
		bench tcp1_ab "$d" $r "$(tcp 1 ab)" Mbit/s
		bench tcp1_ba "$d" $r "$(tcp 1 ba)" Mbit/s
		bench tcp4_ab "$d" $r "$(tcp 4 ab)" Mbit/s
		bench tcp4_ba "$d" $r "$(tcp 4 ba)" Mbit/s
		bench udp64_pps "$d" $r "$(udp_pps)" pkt/s
		rtts >$tmp/rtt
		bench rtt_p50 "$d" $r "$(pct 50 <$tmp/rtt)" us
		bench rtt_p99 "$d" $r "$(pct 99 <$tmp/rtt)" us
		tunnel_down "$d" >/dev/null 2>&1
	done
done
ktap_finish
