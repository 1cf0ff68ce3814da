# SPDX-License-Identifier: GPL-2.0
# The handshake flood figures of the tunnel benchmark. Sourced by bench.sh
# (after lib.sh and tunnel_lib.sh; it uses bench.sh's nsx/A/B, bench, $tmp,
# $nsA, $nsB, $kA, $kB and $WGRS_BIN):
#
#   flood_figures DRIVER ROUND    (after tunnel_up: B's wg0 is the target)
#
# $WGRS_BIN/wgrs-hsflood, in namespace A, floods B's wg0 (192.168.77.2:51878)
# with handshake initiations from 16 initiators: 16 keys that B has as peers
# (no endpoint), each sending from its own address 192.168.77.100..115 on A's
# veth. Three floods, modes M:
#   light     new initiations only, mac1 only, for $flood_secs s (at least
#             8): one thread making initiations cannot outrun B, so B never
#             comes under load and answers every one (no cookies engaged);
#   nocookie  each new initiation also goes out $flood_replay more times as
#             it is (a copy costs the flood a send and B two X25519
#             operations before its timestamp check rejects it), so B's
#             handshake queue fills within a second and B requires cookies;
#             the attacker ignores cookie replies (mac1 only: B answers with
#             cookie replies and completes none once under load);
#   cookie    the same copies, and the attacker takes cookie replies (valid
#             mac2: only B's per-source rate limiter bounds it).
# The last two last at least 14 s. Meanwhile, from 1 s into each flood, A's
# real peer forgets its session (peer removed and added again) and pings B
# through the tunnel: the legitimate handshake has to get through the
# flood. Under load B answers it with a cookie reply first, and A's wg0
# retries with the cookie only after REKEY_TIMEOUT (5 s, plus up to a third
# of a second of jitter), and a retry can find B's queue full: the ping may
# wait until 2 s before the flood's end, two retries' worth.
#
# Records, for each mode M (FLOOD_CASES KTAP cases in all, one per record,
# whatever happens):
#   hs_flood_M       hs/s    flood handshakes completed per second (the
#                            responses wgrs-hsflood's consume_response takes);
#                            0 is a result here (every flood initiation
#                            refused), reported as such, not as a failure
#   hs_flood_sent_M  init/s  initiations the flood sent per second
#   hs_legit_ms_M    ms      the legitimate peer's fresh handshake plus one
#                            ping round trip, during the flood (ping's own
#                            time: from sending the echo request, which waits
#                            in wg0 for the handshake, to the reply)
#   hs_flood_creps_M reply/s cookie replies B sent to the flood per second
#                            (nocookie and cookie only); 0 fails: the flood
#                            did not bring B under load
#   hs_legit_lost_M  lost    1 if the legitimate peer got no ping through
#                            before the wait ended, else 0 (hs_legit_ms_M
#                            then has no value for the round); the table
#                            gives the sum over the rounds
#   hs_flood_ksys_M  %       share of all CPU time (every CPU, /proc/stat)
#                            spent in the kernel (system, irq, softirq) from
#                            the flood's start to wgrs-hsflood's exit; the
#                            flood itself keeps about one CPU busy in user
#                            space
# Everything added (B's flood peers, A's addresses) is removed afterwards;
# A's peer for B is the one added again during the measurement, with the
# same endpoint and allowed IPs.

FLOOD_CASES=17
flood_secs=${flood_secs:-8}
flood_n=16
flood_replay=100
flood_modes=(light nocookie cookie)

# flood_rate FIGURE DRIVER ROUND VALUE: bench with unit hs/s, except that a
# zero rate is a result (the flood ran and completed no handshake).
flood_rate() {
	if [[ $4 =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v v="$4" 'BEGIN { exit !(v == 0) }'; then
		echo "# BENCH $1 $2 $3 0 hs/s"
		ktap_ok "$2 round $3: $1 = 0 hs/s (the flood completed no handshake)"
	else
		bench "$1" "$2" "$3" "$4" hs/s
	fi
}

# The flood keys (made once per benchmark): private keys in
# $tmp/flood.keys, public keys in $tmp/flood.pubs, line by line.
flood_keys() {
	local i k
	[ -s $tmp/flood.pubs ] && return 0
	rm -f $tmp/flood.keys $tmp/flood.pubs
	(umask 077 && : >$tmp/flood.keys) || return 1
	for ((i = 0; i < flood_n; i++)); do
		k=$(wg genkey) && echo "$k" >>$tmp/flood.keys && wg pubkey <<<"$k" >>$tmp/flood.pubs || {
			rm -f $tmp/flood.keys $tmp/flood.pubs
			return 1
		}
	done
}

# The flood's peers on B and addresses on A; flood_unset undoes both (and
# whatever part of it was done).
flood_set() {
	local i args=() pub
	i=0
	while read -r pub; do
		i=$((i + 1))
		args+=(peer "$pub" allowed-ips "10.78.0.$i/32")
	done <$tmp/flood.pubs
	B wg set wg0 "${args[@]}" || return 1
	for ((i = 0; i < flood_n; i++)); do
		ip -n $nsA addr add "192.168.77.$((100 + i))/24" dev vB || return 1
	done
}
flood_unset() {
	local i args=() pub
	while read -r pub; do args+=(peer "$pub" remove); done <$tmp/flood.pubs
	[ ${#args[@]} -gt 0 ] && B wg set wg0 "${args[@]}"
	for ((i = 0; i < flood_n; i++)); do
		ip -n $nsA addr del "192.168.77.$((100 + i))/24" dev vB 2>/dev/null
	done
	# A's peer for B as tunnel_up made it (a no-op unless the measurement
	# failed between removing and adding it).
	A wg set wg0 peer "$kB" endpoint 192.168.77.2:51878 allowed-ips 10.77.0.2/32
}

# The legitimate peer through the flood: a new handshake and a ping, in ms
# (ping's time), within WAIT seconds; nothing if it did not get through.
flood_legit() { # WAIT
	A wg set wg0 peer "$kB" remove &&
		A wg set wg0 peer "$kB" endpoint 192.168.77.2:51878 allowed-ips 10.77.0.2/32 || return 1
	A ping -n -c 1 -W "$1" 10.77.0.2 2>/dev/null | sed -n 's/.* time=\([0-9.]*\) ms$/\1/p'
}

# One flood: MODE light|nocookie|cookie; DRIVER ROUND for the records.
flood_one() {
	local m=$1 d=$2 r=$3 secs=$flood_secs pid rc legit= k0 t0 k1 t1 ksys= i srcs= spub
	local tag= sent= creps= resp= fsecs= hps= sent_ps= creps_ps= nolegit= lost= l1= l2= l3= l4= l5=
	local -a opt=(--replay $flood_replay)
	local least=14
	case $m in
	light) opt=() least=8 ;;
	cookie) opt+=(--cookies) ;;
	esac
	[[ $secs =~ ^[0-9]+$ ]] && [ "$secs" -ge $least ] || secs=$least
	for ((i = 0; i < flood_n; i++)); do srcs+=${srcs:+,}192.168.77.$((100 + i)); done
	spub=$(B wg show wg0 public-key)
	rm -f $tmp/flood.out $tmp/flood.err
	A "$WGRS_BIN/wgrs-hsflood" --target 192.168.77.2:51878 --server-public "$spub" \
		--keys $tmp/flood.keys --sources "$srcs" --seconds "$secs" "${opt[@]}" \
		>$tmp/flood.out 2>$tmp/flood.err &
	pid=$!
	# Until its sockets are bound and the flood has begun (or it failed).
	while ! grep -q ' flooding ' $tmp/flood.err 2>/dev/null && kill -0 $pid 2>/dev/null; do
		sleep 0.1
	done
	read -r k0 _ t0 < <(cpu_ticks)
	if kill -0 $pid 2>/dev/null; then
		sleep 1
		legit=$(flood_legit $((secs - 2)))
		lost=0
		[ -n "$legit" ] || lost=1 nolegit="the legitimate peer got no ping through during the $m flood"
	else
		nolegit="no $m flood to measure the legitimate peer in"
	fi
	wait $pid
	rc=$?
	read -r k1 _ t1 < <(cpu_ticks)
	[ $rc = 0 ] && read -r tag l1 sent l2 creps l3 resp l4 fsecs l5 hps <$tmp/flood.out
	if [ "$tag $l1 $l2 $l3 $l4 $l5" = "hsflood sent cookie_replies responses seconds hs_per_s" ]; then
		sent_ps=$(awk -v n="$sent" -v s="$fsecs" 'BEGIN { if (s > 0 && n > 0) printf "%.1f", n / s }')
		creps_ps=$(awk -v n="$creps" -v s="$fsecs" 'BEGIN { if (s > 0 && n > 0) printf "%.1f", n / s }')
		[ "$creps" = 0 ] && [ $m != light ] &&
			echo "B sent the $m flood no cookie reply: it never came under load" | ktap_diag
		ksys=$(awk -v k=$((k1 - k0)) -v t=$((t1 - t0)) 'BEGIN { if (t > 0 && k > 0) printf "%.1f", 100 * k / t }')
		ktap_diag <$tmp/flood.err
		echo "$m flood: $sent initiations, $creps cookie replies, $resp handshakes in $fsecs s" | ktap_diag
	else
		hps=
		{
			echo "wgrs-hsflood ($m) exited $rc:"
			cat $tmp/flood.out $tmp/flood.err
		} 2>/dev/null | ktap_diag
	fi
	flood_rate "hs_flood_$m" "$d" "$r" "$hps"
	bench "hs_flood_sent_$m" "$d" "$r" "$sent_ps" init/s
	[ $m = light ] || bench "hs_flood_creps_$m" "$d" "$r" "$creps_ps" reply/s
	[ -n "$nolegit" ] && echo "$nolegit" | ktap_diag
	# Not getting through is a result of the flood, counted by itself.
	if [ "$lost" = 1 ]; then
		ktap_ok "$d round $r: hs_legit_ms_$m: none (the legitimate peer did not get through)"
	else
		bench "hs_legit_ms_$m" "$d" "$r" "$legit" ms
	fi
	if [ -n "$lost" ]; then
		echo "# BENCH hs_legit_lost_$m $d $r $lost lost"
		ktap_ok "$d round $r: hs_legit_lost_$m = $lost"
	else
		ktap_fail "$d round $r: hs_legit_lost_$m (no flood)"
	fi
	bench "hs_flood_ksys_$m" "$d" "$r" "$ksys" %
	return 0
}

flood_figures() { # DRIVER ROUND
	local d=$1 r=$2 m f out
	local why=
	if [ ! -x "$WGRS_BIN/wgrs-hsflood" ]; then
		why="no $WGRS_BIN/wgrs-hsflood"
	elif ! flood_keys; then
		why="cannot make the flood keys"
	elif ! out=$(flood_set 2>&1); then
		why="cannot set up the flood's peers and addresses"
		[ -n "$out" ] && printf '%s\n' "$out" | ktap_diag
	fi
	if [ -n "$why" ]; then
		for m in "${flood_modes[@]}"; do
			for f in hs_flood hs_flood_sent hs_flood_creps hs_legit_ms hs_legit_lost hs_flood_ksys; do
				[ $m = light ] && [ $f = hs_flood_creps ] && continue
				ktap_fail "$d round $r: ${f}_$m ($why)"
			done
		done
	else
		for m in "${flood_modes[@]}"; do
			flood_one "$m" "$d" "$r"
			# B stays "under load" for a second after its queue drains.
			sleep 1
		done
	fi
	[ -s $tmp/flood.pubs ] && flood_unset >/dev/null 2>&1
	A ping -q -c 1 -W 5 10.77.0.2 >/dev/null 2>&1 ||
		echo "after the flood figures, A no longer pings B through the tunnel" | ktap_diag
	return 0
}
