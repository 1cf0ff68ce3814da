#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The tunnel benchmark: wireguard.ko (C) and wgrs.ko measured alternately in
# this one boot, on the same namespaces and the same veth pair, several
# rounds. Each measurement prints a line
#
#   # BENCH <figure> <driver> <round> <value> <unit>
#
# which scripts/bench.sh turns into medians and ratios. Figures: iperf3 TCP
# with 1 and 4 streams in both directions (Mbit/s) and the CPUs each kept
# busy (tcp*_cpus: all CPU time but idle and iowait, /proc/stat, as a number
# of CPUs; not a throughput figure, the explanation of one), how often the
# receiving TCP queued a segment out of order and the sending TCP sent one
# again (tcp*_ofo, tcp*_retx, per MB received; nstat in each namespace: the
# order in which the tunnel delivers), UDP packets per second
# received with 64-byte payloads (and its udp64_pps_cpus), ping round-trip time p50 and p99 (us),
# handshakes completed per second under an initiation flood (one too light
# to bring the responder under load, and two that do, by an attacker that
# ignores cookies and by one that answers them) and a legitimate peer's
# handshake time meanwhile (bench_flood.sh);
# for wgrs.ko also the same TCP and UDP figures with the gate on and the
# peers authorized (*_gate: what the gate costs), and, once, the in-module
# microbenchmarks (`modprobe wgrs bench=1`: lib/crypto ChaCha20-Poly1305
# MB/s, allowed-IPs lookup ns at 1, 1k and 1M prefixes) next to the C
# driver's trie timed the same way (wg_aips_bench.ko, built from the
# kernel's allowedips.c by scripts/build-c-allowedips.sh; both tries must
# match the same number of lookups).
#
#   bench.sh [--smoke] [--rounds N] [--seconds S] [--insn FILE] [--no-flood]
#            [--c-trie KO]
#
# --c-trie KO: the C trie module (default: $WGRS_C_TRIE); without one its
# figures fail.
#
# --insn FILE: the VM runs under the wgrs_insn QEMU plugin (tools/qemu/),
# which appends its readings to FILE (shared with the host) when
# ./wgrs-mark in FILE's directory asks. Adds the deterministic figure
# insn_per_mb (guest instructions, all vCPUs, per MB sent through the
# tunnel by one TCP stream A to B), insn_per_kpkt (the same per 1000 UDP
# datagrams of 64 bytes that reached B, sent at a rate both drivers carry)
# and, in the last round, per-block profiles of kernel code for each
# driver, of the TCP and of the UDP transfer (PROF lines in FILE, with the
# driver's /proc/kallsyms beside it for scripts/bench.sh to resolve).
#
# --smoke (what `make check` runs, on the debug kernel): one round of 3 s
# runs (about two minutes there, under TCG) and the quick microbenchmarks
# (bench=2); the KTAP cases check that every figure produced a number for
# both drivers, so the benchmark cannot rot. It measures nothing worth
# keeping.
# ksft-timeout: 480
set -u
cd "$(dirname "$0")" && . ./lib.sh && . ./tunnel_lib.sh && . ./bench_flood.sh
require_root

rounds=5 secs=10 pings=500 smoke= insn= micro=1 insn_mb=64 flood=1 c_trie=${WGRS_C_TRIE:-}
# The counted UDP transfer: datagrams and their rate (under TCG the C driver
# carries about 17,000 per second and wgrs.ko 8,600, so neither drops).
insn_pkts=20000 insn_pps=4000
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 rounds=1 secs=3 pings=20 micro=2; shift ;;
	--rounds) rounds=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	--insn) insn=$2; shift 2 ;;
	--no-flood) flood=; shift ;;
	--c-trie) c_trie=$2; shift 2 ;;
	*) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
drivers=(wireguard "$WGRS_MODULE")
figures=(tcp1_ab tcp1_ab_cpus tcp1_ab_ofo tcp1_ab_retx tcp1_ba tcp1_ba_cpus tcp1_ba_ofo tcp1_ba_retx
	tcp4_ab tcp4_ab_cpus tcp4_ab_ofo tcp4_ab_retx tcp4_ba tcp4_ba_cpus tcp4_ba_ofo tcp4_ba_retx
	udp64_pps udp64_pps_cpus rtt_p50 rtt_p99)
[ -n "$insn" ] && figures+=(insn_per_mb insn_per_kpkt)
gate_figures=(tcp1_ab_gate udp64_pps_gate)
[ -n "$insn" ] && gate_figures+=(insn_per_mb_gate insn_per_kpkt_gate)
micro_figures=(crypto_seal crypto_open allowedips_1 allowedips_1000)
[ "$micro" = 1 ] && micro_figures+=(allowedips_1000000)
c_figures=(allowedips_1 allowedips_1000)
[ "$micro" = 1 ] && c_figures+=(allowedips_1000000)
# Per round: tunnel up and the figures for each driver, the gate's set-up
# and figures for wgrs; once: the microbenchmarks' load and figures, and
# with --insn two profiles per driver; the C trie's load, and its figures
# each with the check that both tries matched alike.
nprof=0
[ -n "$insn" ] && nprof=$((2 * ${#drivers[@]}))
[ -n "$flood" ] || FLOOD_CASES=0
ktap_header $(((${#drivers[@]} * (1 + ${#figures[@]} + FLOOD_CASES) + 1 + ${#gate_figures[@]}) * rounds +
	1 + ${#micro_figures[@]} + nprof + 1 + 2 * ${#c_figures[@]}))

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

# Kernel, busy (all but idle and iowait) and total CPU time so far, in
# ticks, all CPUs (bench_flood.sh uses the kernel share too).
cpu_ticks() {
	local _cpu u n s i w q sq st _rest
	read -r _cpu u n s i w q sq st _rest </proc/stat
	echo "$((s + q + sq)) $((u + n + s + q + sq + st)) $((u + n + s + i + w + q + sq + st))"
}

# BUSY TOTAL (tick deltas): the CPUs kept busy, two decimals.
busy_cpus() {
	awk -v b="$1" -v t="$2" -v n="$(nproc)" 'BEGIN { if (t > 0 && b > 0) printf "%.2f\n", n * b / t }'
}

# TCP's counters of segments queued out of order and sent again, in the
# namespace of the caller's function (A or B): "OFO RETX".
tcp_counts() { # A|B
	"$1" nstat -asz TcpExtTCPOFOQueue TcpRetransSegs |
		awk '$1 == "TcpExtTCPOFOQueue" { o = $2 } $1 == "TcpRetransSegs" { r = $2 }
		     END { if (o != "" && r != "") print o, r }'
}
# EVENTS BYTES: events per MB, two decimals (nothing if BYTES is not positive).
per_mb() {
	awk -v e="$1" -v b="$2" 'BEGIN { if (e != "" && b > 0) printf "%.2f\n", e * 1000000 / b }'
}

# iperf3 from A to B's server; "ba" runs it reversed (B sends). The CPUs it
# kept busy (a number of CPUs, two decimals) go to $tmp/cpus; per MB that
# arrived, the segments the receiver queued out of order to $tmp/ofo and
# those the sender sent again to $tmp/retx.
# A run that moved no byte at all (seen on the loaded debug kernel with 4
# streams, through either driver: iperf3 reports 0 bytes, no error) is tried
# again, twice as long each time (at most three tries), and says so.
tcp() { # STREAMS ab|ba
	local rev= v try t b0 t0 b1 t1 tx=A rx=B o0 r0 o1 r1 bytes
	[ "$2" = ba ] && rev=-R tx=B rx=A
	rm -f $tmp/cpus $tmp/ofo $tmp/retx
	for try in 1 2 3; do
		t=$((secs << (try - 1)))
		read -r o0 _ < <(tcp_counts $rx)
		read -r _ r0 < <(tcp_counts $tx)
		read -r _ b0 t0 < <(cpu_ticks)
		A iperf3 -c 10.77.0.2 -t $t -P "$1" $rev -J >$tmp/last.json 2>/dev/null
		read -r _ b1 t1 < <(cpu_ticks)
		read -r o1 _ < <(tcp_counts $rx)
		read -r _ r1 < <(tcp_counts $tx)
		busy_cpus $((b1 - b0)) $((t1 - t0)) >$tmp/cpus
		bytes=$(jq -r '.end.sum_received.bytes // 0 | floor' $tmp/last.json 2>/dev/null)
		if [ -n "${o0:-}" ] && [ -n "${o1:-}" ] && [ -n "${r0:-}" ] && [ -n "${r1:-}" ]; then
			per_mb $((o1 - o0)) "${bytes:-0}" >$tmp/ofo
			per_mb $((r1 - r0)) "${bytes:-0}" >$tmp/retx
		fi
		v=$(jq -r '.end.sum_received.bits_per_second / 1e6 | . * 1000 | floor / 1000' $tmp/last.json 2>/dev/null)
		[[ $v =~ ^[0-9.]+$ ]] && [ "$v" != 0 ] && break
		[ $try -lt 3 ] && echo "# tcp $1 $2: no bytes in $t s ('$v'), once more" >&2
		sleep 1
	done
	echo "$v"
}
# Datagrams of 64 bytes, as fast as iperf3 can send them: what B received,
# per second; the CPUs kept busy to $tmp/cpus.
udp_pps() {
	local b0 t0 b1 t1
	rm -f $tmp/cpus
	read -r _ b0 t0 < <(cpu_ticks)
	A iperf3 -c 10.77.0.2 -u -l 64 -b 0 -t "$secs" -J >$tmp/last.json 2>/dev/null
	read -r _ b1 t1 < <(cpu_ticks)
	busy_cpus $((b1 - b0)) $((t1 - t0)) >$tmp/cpus
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

# The instruction counter (--insn): every request gets a label of its own
# (kept in a file: mark runs in command substitutions, i.e. subshells).
echo $((RANDOM * 256)) >$tmp/label
mark() { # CMD: the plugin's reading for a new label, on stdout (MARK only)
	local label
	label=$(($(cat $tmp/label) + 1))
	echo $label >$tmp/label
	"$(dirname "$insn")/wgrs-mark" "$1" $label || return 1
	[ "$1" = mark ] && sed -n "s/^MARK $label \([0-9]*\)$/\1/p" "$insn"
	return 0
}
# Instructions per MB of one TCP stream A to B sending $insn_mb MB.
insn_per_mb() {
	local before after
	before=$(mark mark) || return
	A iperf3 -c 10.77.0.2 -n "${insn_mb}M" -J >$tmp/last.json 2>/dev/null || return
	after=$(mark mark) || return
	[ -n "$before" ] && [ -n "$after" ] && echo $(((after - before) / insn_mb))
}
# The counted UDP transfer: $insn_pkts datagrams of 64 bytes at
# $insn_pps per second, A to B; its JSON in $tmp/last.json.
udp_counted() {
	A iperf3 -c 10.77.0.2 -u -l 64 -b $((insn_pps * 64 * 8)) -n $((insn_pkts * 64)) -J >$tmp/last.json 2>/dev/null
}
udp_received() {
	jq -r '.end.sum | .packets - .lost_packets' $tmp/last.json 2>/dev/null
}
# Instructions per 1000 datagrams that reached B.
insn_per_kpkt() {
	local before after got
	before=$(mark mark) || return
	udp_counted || return
	after=$(mark mark) || return
	got=$(udp_received)
	[ -n "$before" ] && [ -n "$after" ] && [[ $got =~ ^[0-9]+$ ]] && [ "$got" -gt 0 ] &&
		echo $(((after - before) * 1000 / got))
}
# The same transfers under the kernel profile; keeps the symbols to resolve
# them, and for UDP the number of datagrams received.
profile_tcp() { # DRIVER
	local dir
	dir=$(dirname "$insn")
	mark prof-start && A iperf3 -c 10.77.0.2 -n "${insn_mb}M" >/dev/null 2>&1 &&
		mark prof-stop && cp /proc/kallsyms "$dir/kallsyms-$1.txt" &&
		cp $tmp/label "$dir/profile-$1.label"
}
profile_udp() { # DRIVER
	local dir
	dir=$(dirname "$insn")
	mark prof-start && udp_counted && mark prof-stop && cp /proc/kallsyms "$dir/kallsyms-$1-udp.txt" &&
		cp $tmp/label "$dir/profile-$1-udp.label" &&
		udp_received >"$dir/profile-$1-udp.count" && [[ $(cat "$dir/profile-$1-udp.count") =~ ^[1-9][0-9]*$ ]]
}

# The gate on both ends, each peer authorized (the state the data path
# checks most cheaply but for gate off).
gate_on() {
	local ns peer
	for ns in $nsA $nsB; do
		[ $ns = $nsA ] && peer=$kB || peer=$kA
		nsx $ns "$WGRS_BIN/wgrs" gate policy wg0 idle-timeout 3600 auth-port 8080 >/dev/null &&
			nsx $ns "$WGRS_BIN/wgrs" gate authorize wg0 "$peer" >/dev/null || return 1
	done
	A ping -q -c 1 -W 5 10.77.0.2 >/dev/null
}

# The in-module microbenchmarks: their kernel log lines as BENCH records.
micro_bench() {
	local log
	modprobe -r "$WGRS_MODULE" 2>/dev/null
	dmesg -C
	if ! modprobe "$WGRS_MODULE" bench=$micro; then
		ktap_fail "modprobe $WGRS_MODULE bench=$micro"
		for f in "${micro_figures[@]}"; do ktap_fail "$WGRS_MODULE: $f (not loaded)"; done
		return
	fi
	log=$(dmesg --notime)
	modprobe -r "$WGRS_MODULE"
	ktap_ok "modprobe $WGRS_MODULE bench=$micro"
	printf '%s\n' "$log" | grep 'wgrs: bench:' | ktap_diag
	micro_log=$log
	for f in "${micro_figures[@]}"; do
		read -r v u < <(printf '%s\n' "$log" | sed -n "s/.*wgrs: bench: $f \([0-9.]*\) \([^ ]*\).*/\1 \2/p")
		bench "$f" "$WGRS_MODULE" 1 "${v:-}" "${u:-?}"
	done
}

# The C driver's trie, timed as wgrs.ko times its own (after micro_bench,
# whose log gives wgrs's match counts): figures for "wireguard", and a
# check per figure that both tries matched the same lookups.
c_trie_bench() {
	local log f v u mc mw why=
	if [ -z "$c_trie" ] || [ ! -f "$c_trie" ]; then
		why="no C trie module (${c_trie:-neither --c-trie nor WGRS_C_TRIE given})"
	else
		dmesg -C
		insmod "$c_trie" quick=$([ "$micro" = 2 ] && echo 1 || echo 0) || why="insmod $c_trie failed"
	fi
	if [ -n "$why" ]; then
		ktap_fail "load the C trie module ($why)"
		for f in "${c_figures[@]}"; do
			ktap_fail "wireguard round 1: $f ($why)"
			ktap_fail "$f: both tries matched alike ($why)"
		done
		return
	fi
	log=$(dmesg --notime)
	rmmod wg_aips_bench
	ktap_ok "load the C trie module (${c_trie##*/})"
	printf '%s\n' "$log" | grep 'wg_aips_bench:' | ktap_diag
	for f in "${c_figures[@]}"; do
		read -r v u < <(printf '%s\n' "$log" | sed -n "s/.*wg_aips_bench: $f \([0-9.]*\) \([^ ]*\).*/\1 \2/p")
		bench "$f" wireguard 1 "${v:-}" "${u:-?}"
		mc=$(printf '%s\n' "$log" | sed -n "s/.*wg_aips_bench: $f .*(\([0-9]* of [0-9]*\) lookups matched).*/\1/p")
		mw=$(printf '%s\n' "${micro_log:-}" | sed -n "s/.*wgrs: bench: $f .*(\([0-9]* of [0-9]*\) lookups matched).*/\1/p")
		if [ -n "$mc" ] && [ "$mc" = "$mw" ]; then
			ktap_ok "$f: both tries matched $mc lookups"
		else
			ktap_fail "$f: both tries matched alike (C: ${mc:-?}, wgrs: ${mw:-?})"
		fi
	done
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
			for ((f = 0; f < FLOOD_CASES; f++)); do ktap_fail "$d round $r: handshake flood figure $f (no tunnel)"; done
			[ -n "$insn" ] && [ $r = "$rounds" ] && ktap_fail "$d: kernel profile of TCP (no tunnel)" &&
				ktap_fail "$d: kernel profile of UDP (no tunnel)"
			if [ "$d" = "$WGRS_MODULE" ]; then
				ktap_fail "$d round $r: gate on (no tunnel)"
				for f in "${gate_figures[@]}"; do ktap_fail "$d round $r: $f (no tunnel)"; done
			fi
			tunnel_down "$d" >/dev/null 2>&1
			continue
		fi
		ktap_ok "$d round $r: tunnel up, first ping through"
		bench tcp1_ab "$d" $r "$(tcp 1 ab)" Mbit/s
		bench tcp1_ab_cpus "$d" $r "$(cat $tmp/cpus)" CPUs
		bench tcp1_ab_ofo "$d" $r "$(cat $tmp/ofo 2>/dev/null)" ofo/MB
		bench tcp1_ab_retx "$d" $r "$(cat $tmp/retx 2>/dev/null)" retx/MB
		bench tcp1_ba "$d" $r "$(tcp 1 ba)" Mbit/s
		bench tcp1_ba_cpus "$d" $r "$(cat $tmp/cpus)" CPUs
		bench tcp1_ba_ofo "$d" $r "$(cat $tmp/ofo 2>/dev/null)" ofo/MB
		bench tcp1_ba_retx "$d" $r "$(cat $tmp/retx 2>/dev/null)" retx/MB
		bench tcp4_ab "$d" $r "$(tcp 4 ab)" Mbit/s
		bench tcp4_ab_cpus "$d" $r "$(cat $tmp/cpus)" CPUs
		bench tcp4_ab_ofo "$d" $r "$(cat $tmp/ofo 2>/dev/null)" ofo/MB
		bench tcp4_ab_retx "$d" $r "$(cat $tmp/retx 2>/dev/null)" retx/MB
		bench tcp4_ba "$d" $r "$(tcp 4 ba)" Mbit/s
		bench tcp4_ba_cpus "$d" $r "$(cat $tmp/cpus)" CPUs
		bench tcp4_ba_ofo "$d" $r "$(cat $tmp/ofo 2>/dev/null)" ofo/MB
		bench tcp4_ba_retx "$d" $r "$(cat $tmp/retx 2>/dev/null)" retx/MB
		bench udp64_pps "$d" $r "$(udp_pps)" pkt/s
		bench udp64_pps_cpus "$d" $r "$(cat $tmp/cpus)" CPUs
		rtts >$tmp/rtt
		bench rtt_p50 "$d" $r "$(pct 50 <$tmp/rtt)" us
		bench rtt_p99 "$d" $r "$(pct 99 <$tmp/rtt)" us
		[ -n "$insn" ] && bench insn_per_mb "$d" $r "$(insn_per_mb)" insn/MB
		[ -n "$insn" ] && bench insn_per_kpkt "$d" $r "$(insn_per_kpkt)" insn/kpkt
		[ -n "$flood" ] && flood_figures "$d" $r
		if [ -n "$insn" ] && [ $r = "$rounds" ]; then
			if profile_tcp "$d"; then ktap_ok "$d: kernel profile of ${insn_mb} MB of TCP"; else ktap_fail "$d: kernel profile of TCP"; fi
			if profile_udp "$d"; then
				ktap_ok "$d: kernel profile of $(cat "$(dirname "$insn")/profile-$d-udp.count") UDP datagrams"
			else
				ktap_fail "$d: kernel profile of UDP"
			fi
		fi
		if [ "$d" = "$WGRS_MODULE" ]; then
			if out=$(gate_on 2>&1); then
				ktap_ok "$d round $r: gate on, peers authorized, ping through"
				bench tcp1_ab_gate "$d" $r "$(tcp 1 ab)" Mbit/s
				bench udp64_pps_gate "$d" $r "$(udp_pps)" pkt/s
				[ -n "$insn" ] && bench insn_per_mb_gate "$d" $r "$(insn_per_mb)" insn/MB
				[ -n "$insn" ] && bench insn_per_kpkt_gate "$d" $r "$(insn_per_kpkt)" insn/kpkt
			else
				ktap_fail "$d round $r: gate on"
				printf '%s\n' "$out" | ktap_diag
				for f in "${gate_figures[@]}"; do ktap_fail "$d round $r: $f (no gate)"; done
			fi
		fi
		tunnel_down "$d" >/dev/null 2>&1
	done
done
micro_bench
c_trie_bench
ktap_finish
