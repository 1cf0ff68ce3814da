#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The idle gate, end to end through real tunnels, driven only by the
# kernel's own YNL against our spec
# (Documentation/netlink/specs/wgrs_gate.yaml): its CLI
# (tools/net/ynl/pyynl/cli.py) for every command at least once and for the
# event listeners, its library (what the CLI runs, kept running by
# gate_ynl.py, since each CLI start costs seconds under TCG) for the rest.
#
# Three namespaces: S runs the gated wgrs device with two peers, C and D,
# each in a namespace of its own with a plain wgrs device. S offers an
# "auth service" on port 8080 and an ordinary one on 9090 (TCP and UDP, v4
# and v6, gate_net.py); C offers the same. A YNL listener in S records the
# events, one in C must never see S's.
#
# idle → locked (event) → only the auth port passes, both directions, TCP
# and UDP, v4 and v6 → authorize → traffic flows → revoke → locked; idle
# expiry with keepalives running; max-session; exempt peer; new peer starts
# locked; a knock flood gives a few events; garbage and unauthenticated
# packets give none; a link blip and roaming do not lock; the gate off
# after on unlocks nobody; a full listener's losses are counted; bad input,
# unprivileged and wrong-namespace commands are refused and change nothing;
# a device moved to another namespace announces there only; peer and device
# removal and module unload with locked peers and a listener attached.
# ksft-timeout: 1500
set -u
cd "$(dirname "$0")" && . ./lib.sh && . ./tunnel_lib.sh
require_root

ktap_header 62

YNL=${WGRS_YNL:-/mnt/ynl/pyynl/cli.py}
SPEC=${WGRS_GATE_SPEC:-$(cd ../../../.. && pwd)/Documentation/netlink/specs/wgrs_gate.yaml}
NET=$PWD/gate_net.py
YNLSRV=$PWD/gate_ynl.py
nsS=wgrs-gate-s-$$ nsC=wgrs-gate-c-$$ nsD=wgrs-gate-d-$$
tmp=$(mktemp -d)
on_exit "rm -rf $tmp"
pids=()
on_exit 'kill ${pids[*]} 2>/dev/null'
netns_add $nsS $nsC $nsD || exit 1
S() { nsx $nsS "$@"; }
C() { nsx $nsC "$@"; }
D() { nsx $nsD "$@"; }

modprobe -r wireguard 2>/dev/null
modprobe "$WGRS_MODULE"
on_exit "modprobe -r $WGRS_MODULE"
dmesg_mark

# ynl_cli NS ARGS...: the kernel's YNL CLI for our family, in NS.
ynl_cli() {
	local ns=$1
	shift
	nsx "$ns" python3 "$YNL" --spec "$SPEC" --no-schema --output-json "$@"
}
# The same YNL library, kept running in S (gate_ynl.py) and spoken to over
# two FIFOs: under TCG each start of the CLI costs about ten seconds.
start_ynl_server() {
	mkfifo $tmp/ynl.in $tmp/ynl.out || return 1
	nsx $nsS python3 "$YNLSRV" "$(dirname "$YNL")" "$SPEC" <$tmp/ynl.in >$tmp/ynl.out 2>$tmp/ynl.err &
	local pid=$! line
	pids+=($pid)
	exec {YIN}>$tmp/ynl.in {YOUT}<$tmp/ynl.out
	if ! IFS= read -r -t 120 line <&$YOUT || [ "$line" != '{"ready": true}' ]; then
		echo "YNL server did not start: $line $(cat $tmp/ynl.err)"
		return 1
	fi
	YNLS_PID=$pid
}
# ynl NS --do|--dump OP --json JSON: like ynl_cli (same output, same error
# text, same exit status); requests in S go to the server.
ynl() {
	local ns=$1
	if [ "$ns" != "$nsS" ] || [ $# != 5 ] || [ "$4" != --json ] || [ -z "${YNLS_PID:-}" ]; then
		ynl_cli "$@"
		return
	fi
	local mode=${2#--} line
	printf '{"mode": "%s", "op": "%s", "attrs": %s}\n' "$mode" "$3" "$5" >&$YIN
	IFS= read -r -t 120 line <&$YOUT || { echo "YNL server gone: $(cat $tmp/ynl.err)"; return 1; }
	if jq -e 'has("error")' <<<"$line" >/dev/null; then
		jq -r .error <<<"$line"
		return 1
	fi
	jq -c .reply <<<"$line"
}
hexkey() { base64 -d <<<"$1" | od -An -tx1 -v | tr -d ' \n'; }
ifindex() { ip -n "$1" -o link show "$2" | cut -d: -f1; }

# gate_dump NS IFINDEX: the `get` dump as JSON (a list of messages).
gate_dump() { ynl "$1" --dump get --json "{\"ifindex\": $2}"; }
# peer_gate FIELD HEXKEY: a field of that peer in S's dump ("" if absent).
peer_gate() {
	gate_dump $nsS "$IFS_" | jq -r --arg k "$2" --arg f "$1" \
		'.[] | select(.peer? and (.peer["public-key"] | gsub(" "; "")) == $k) | .peer[$f] // ""'
}
dev_gate() { gate_dump $nsS "$IFS_" | jq -r --arg f "$1" '.[0][$f] // ""'; }

# Events S's listener has seen: ev_count NAME HEXKEY [REASON].
ev_count() {
	jq -c --arg n "$1" --arg k "$2" --arg r "${3:-}" \
		'select(type == "object" and .name == $n and (.msg.peer["public-key"] // "" | gsub(" "; "")) == $k
			and ($r == "" or .msg.peer["lock-reason"] == $r))' "$tmp/events" 2>/dev/null | wc -l
}
ev_total() { jq -c 'select(type == "object")' "$1" 2>/dev/null | wc -l; }
# wait_ev SECONDS NAME HEXKEY [REASON] [MIN]: until at least MIN (1) such.
ev_at_least() { [ "$(ev_count "$1" "$2" "$3")" -ge "$4" ]; }
wait_ev() {
	local t=$1 min=${5:-1}
	shift
	# The count is taken anew on every poll.
	wait_for "$t" ev_at_least "$1" "$2" "${3:-}" "$min"
}
expect_state() { # HEXKEY STATE [REASON]
	local st r
	st=$(peer_gate state "$1") r=$(peer_gate lock-reason "$1")
	echo "state=$st reason=$r"
	[ "$st" = "$2" ] && { [ -z "${3:-}" ] || [ "$r" = "$3" ]; }
}
probe() { nsx "$1" python3 "$NET" probe "$2" "$3" "$4"; }
probe_ok() { local out; out=$(probe "$@") && [ "$out" = "$4-ok" ] || { echo "$out"; return 1; }; }
probe_fails() { # NS PROTO HOST PORT [EXPECTED-ERROR]
	local out
	if out=$(probe "$1" "$2" "$3" "$4"); then echo "answered: $out"; return 1; fi
	echo "$out"
	[ -z "${5:-}" ] || [ "$out" = "$5" ]
}
pings() { nsx "$1" ping -q -c 2 -i 0.3 -w 10 "$2"; }
no_ping() { ! nsx "$1" ping -q -c 2 -i 0.3 -w 3 "$2"; }
# ynl_fails NS ERROR-TEXT ARGS...: the command fails with that error.
ynl_fails() {
	local ns=$1 want=$2 out
	shift 2
	if out=$(ynl "$ns" "$@" 2>&1); then echo "succeeded: $out"; return 1; fi
	grep -q -- "$want" <<<"$out" || { echo "wanted '$want', got: $out"; return 1; }
}

# --- topology -------------------------------------------------------------
kS=$(new_key $tmp/kS) kC=$(new_key $tmp/kC) kD=$(new_key $tmp/kD) kE=$(new_key $tmp/kE)
hC=$(hexkey "$kC") hD=$(hexkey "$kD") hE=$(hexkey "$kE")
setup() {
	veth_pair $nsS vC 192.168.66.1/24 $nsC vS 192.168.66.2/24 &&
		veth_pair $nsS vD 192.168.67.1/24 $nsD vS 192.168.67.2/24 || return 1
	local n
	for n in $nsS $nsC $nsD; do ip -n $n link add wg0 type wireguard || return 1; done
	S wg set wg0 private-key $tmp/kS listen-port 51820 \
		peer "$kC" allowed-ips 10.66.0.2/32,fd66::2/128 \
		peer "$kD" allowed-ips 10.66.0.3/32,fd66::3/128 &&
		C wg set wg0 private-key $tmp/kC listen-port 51821 \
			peer "$kS" endpoint 192.168.66.1:51820 allowed-ips 10.66.0.0/24,fd66::/64 &&
		D wg set wg0 private-key $tmp/kD listen-port 51822 \
			peer "$kS" endpoint 192.168.67.1:51820 allowed-ips 10.66.0.0/24,fd66::/64 || return 1
	ip -n $nsS addr add 10.66.0.1/24 dev wg0 && addr6 $nsS wg0 fd66::1/64 &&
		ip -n $nsC addr add 10.66.0.2/24 dev wg0 && addr6 $nsC wg0 fd66::2/64 &&
		ip -n $nsD addr add 10.66.0.3/24 dev wg0 && addr6 $nsD wg0 fd66::3/64 || return 1
	for n in $nsS $nsC $nsD; do ip -n $n link set wg0 up || return 1; done
	local f
	for n in $nsS $nsC; do
		f=$tmp/srv-$n
		nsx $n python3 "$NET" serve 8080 9090 >"$f" 2>&1 &
		pids+=($!)
		wait_for 120 grep -q ready "$f" || { cat "$f"; return 1; }
	done
	start_ynl_server
}
check_here "three namespaces with wgrs tunnels, services on 8080 and 9090" setup
IFS_=$(ifindex $nsS wg0)

start_listener() { # NS IFINDEX FILE
	PYTHONUNBUFFERED=1 nsx "$1" python3 "$YNL" --spec "$SPEC" --no-schema --output-json \
		--subscribe events --dump get --json "{\"ifindex\": $2}" >"$3" 2>&1 &
	pids+=($!)
	# The dump is printed after the subscription: then nothing is missed.
	wait_for 180 test -s "$3" || { cat "$3"; return 1; }
	head -c 2 "$3" | grep -q '\[' || { cat "$3"; return 1; }
}
check_here "YNL listeners subscribed to events in S and in C" \
	eval 'start_listener $nsS $IFS_ $tmp/events && start_listener $nsC "$(ifindex $nsC wg0)" $tmp/events-C'

check "gate off: C and D reach S (v4, v6), everything passes" \
	eval "pings $nsC 10.66.0.1 && pings $nsC fd66::1 && pings $nsD 10.66.0.1 && probe_ok $nsC tcp 10.66.0.1 9090"
check "gate off: dump says not enforcing, peers locked (new)" \
	eval '[ "$(dev_gate enforcing)" = 0 ] && expect_state $hC locked new'

# --- bad input changes nothing --------------------------------------------
veth_idx=$(ifindex $nsS vC)
check "set-policy without ifindex: EINVAL" ynl_fails $nsS "Invalid argument" --do set-policy --json '{"idle-timeout": 5}'
check "set-policy on an unknown device: ENODEV" ynl_fails $nsS "No such device" --do set-policy --json '{"ifindex": 99999, "idle-timeout": 5, "auth-port": 8080}'
check "set-policy on a veth (not ours): EOPNOTSUPP" ynl_fails $nsS "not supported" --do set-policy --json "{\"ifindex\": $veth_idx, \"idle-timeout\": 5, \"auth-port\": 8080}"
check "idle-timeout beyond a year: ERANGE" ynl_fails $nsS "out of range" --do set-policy --json "{\"ifindex\": $IFS_, \"idle-timeout\": 40000000, \"auth-port\": 8080}"
check "gate on without an auth port: EINVAL" ynl_fails $nsS "Invalid argument" --do set-policy --json "{\"ifindex\": $IFS_, \"idle-timeout\": 5}"
check "set-policy with nothing to set: EINVAL" ynl_fails $nsS "Invalid argument" --do set-policy --json "{\"ifindex\": $IFS_}"
check "authorize an unknown peer: ENOENT" ynl_fails $nsS "No such file" --do authorize --json "{\"ifindex\": $IFS_, \"peer\": {\"public-key\": \"$hE\"}}"
check "authorize with a 31-byte key: ERANGE from the spec's policy" ynl_fails $nsS "binary attribute size out of range" --do authorize --json "{\"ifindex\": $IFS_, \"peer\": {\"public-key\": \"${hC:2}\"}}"
check "authorize without a peer: EINVAL" ynl_fails $nsS "Invalid argument" --do authorize --json "{\"ifindex\": $IFS_}"
check "peer-set without exempt: EINVAL" ynl_fails $nsS "Invalid argument" --do peer-set --json "{\"ifindex\": $IFS_, \"peer\": {\"public-key\": \"$hC\"}}"
check "unprivileged set-policy, get and subscribe refused" eval "
	nsx $nsS setpriv --reuid=65534 --regid=65534 --clear-groups python3 '$YNL' --spec '$SPEC' --no-schema --do set-policy --json '{\"ifindex\": $IFS_, \"idle-timeout\": 5, \"auth-port\": 8080}' 2>&1 | grep -q 'not permitted' &&
	nsx $nsS setpriv --reuid=65534 --regid=65534 --clear-groups python3 '$YNL' --spec '$SPEC' --no-schema --dump get --json '{\"ifindex\": $IFS_}' 2>&1 | grep -q 'not permitted' &&
	! nsx $nsS setpriv --reuid=65534 --regid=65534 --clear-groups timeout 20 python3 '$YNL' --spec '$SPEC' --no-schema --subscribe events --duration 1 >/dev/null 2>&1"
# C's namespace has a wgrs device too, probably with the same ifindex as
# S's: a command from C can reach only C's own device, never S's.
check "authorize from another namespace does not reach S's peer" eval "
	! ynl $nsC --do authorize --json '{\"ifindex\": $IFS_, \"peer\": {\"public-key\": \"$hC\"}}' >/dev/null 2>&1 &&
	expect_state $hC locked new"
check "refused commands changed nothing (policy still off, no events)" \
	eval '[ "$(dev_gate idle-timeout)" = 0 ] && [ "$(dev_gate auth-port)" = 0 ] && [ "$(ev_total $tmp/events)" = 0 ]'

# --- gate on: existing peers are locked ------------------------------------
check "set-policy idle-timeout 60, auth-port 8080 (YNL CLI)" ynl_cli $nsS --do set-policy --json "{\"ifindex\": $IFS_, \"idle-timeout\": 60, \"auth-port\": 8080}"
check "turning the gate on announces C and D as locked (new)" eval "wait_ev 20 peer-locked $hC new && wait_ev 20 peer-locked $hD new"
check "dump: enforcing, policy, C locked (new)" \
	eval '[ "$(dev_gate enforcing)" = 1 ] && [ "$(dev_gate idle-timeout)" = 60 ] && [ "$(dev_gate auth-port)" = 8080 ] && expect_state $hC locked new'

# --- locked: only the auth port -------------------------------------------
check "locked C: ping to S dropped (v4, v6)" eval "no_ping $nsC 10.66.0.1 && no_ping $nsC fd66::1"
check "locked C: TCP to S's auth port passes (v4)" probe_ok $nsC tcp 10.66.0.1 8080
check "locked C: TCP to S's auth port passes (v6)" probe_ok $nsC tcp fd66::1 8080
check "locked C: UDP to S's auth port passes (v4, v6)" eval "probe_ok $nsC udp 10.66.0.1 8080 && probe_ok $nsC udp fd66::1 8080"
check "locked C: TCP to S's port 9090 dropped (v4, v6)" eval "probe_fails $nsC tcp 10.66.0.1 9090 timeout && probe_fails $nsC tcp fd66::1 9090 timeout"
check "locked C: UDP to S's port 9090 dropped" probe_fails $nsC udp 10.66.0.1 9090 timeout
check "S to locked C: refused with ICMP admin-prohibited (v4 EHOSTUNREACH, v6 EACCES)" \
	eval "probe_fails $nsS tcp 10.66.0.2 9090 EHOSTUNREACH && probe_fails $nsS tcp fd66::2 9090 EACCES"
check "S to locked C: ping gets 'filtered' / 'prohibited'" \
	eval "S ping -c 1 -W 3 10.66.0.2 2>&1 | grep -qi 'filtered\\|prohibited'"
check "dump counts gated drops both ways" \
	eval 'rx=$(peer_gate rx-dropped $hC) tx=$(peer_gate tx-dropped $hC); echo "rx=$rx tx=$tx"; [ "$rx" -ge 4 ] && [ "$tx" -ge 2 ]'
check "S's device counts them as dropped" \
	eval '[ "$(dev_stat $nsS wg0 rx_dropped)" -ge 4 ] && [ "$(dev_stat $nsS wg0 tx_dropped)" -ge 2 ]'
check "knock event for C with its inner source" \
	eval "wait_ev 10 peer-knock $hC && jq -e 'select(type == \"object\" and .name == \"peer-knock\") | .msg.peer[\"inner-source\"]' $tmp/events | grep -q '10.66.0.2\\|fd66::2'"
check "tunnel stays up while locked (handshake seen by wg show)" \
	eval "[ \"\$(peer_field $nsS wg0 $kC 5)\" != 0 ]"

# --- authorize / revoke ---------------------------------------------------
auth() { ynl $nsS --do authorize --json "{\"ifindex\": $IFS_, \"peer\": {\"public-key\": \"$1\"}}"; }
revoke() { ynl $nsS --do revoke --json "{\"ifindex\": $IFS_, \"peer\": {\"public-key\": \"$1\"}}"; }
set_policy() { ynl $nsS --do set-policy --json "{\"ifindex\": $IFS_, $1}"; }
check "authorize C (YNL CLI)" ynl_cli $nsS --do authorize --json "{\"ifindex\": $IFS_, \"peer\": {\"public-key\": \"$hC\"}}"
check "peer-authorized event" wait_ev 10 peer-authorized $hC
check "authorized C: everything flows (ping v4/v6, TCP/UDP 9090 both ways)" eval "
	pings $nsC 10.66.0.1 && pings $nsC fd66::1 && probe_ok $nsC tcp 10.66.0.1 9090 &&
	probe_ok $nsC udp fd66::1 9090 && probe_ok $nsS tcp 10.66.0.2 9090 && probe_ok $nsS tcp fd66::2 9090"
check "dump: C authorized, idle and age reported" \
	eval 'expect_state $hC authorized && [ -n "$(peer_gate idle-ms $hC)" ] && [ -n "$(peer_gate authorized-age-ms $hC)" ]'
check "D is still locked" no_ping $nsD 10.66.0.1
check "revoke C (YNL CLI): peer-locked (revoked)" eval "ynl_cli $nsS --do revoke --json '{\"ifindex\": $IFS_, \"peer\": {\"public-key\": \"$hC\"}}' && wait_ev 10 peer-locked $hC revoked && expect_state $hC locked revoked"
check "revoked C: traffic dropped again" no_ping $nsC 10.66.0.1

# --- idle expiry: keepalives are not activity ------------------------------
check "C sends persistent keepalives every second" C wg set wg0 peer "$kS" persistent-keepalive 1
# Earlier TCP probes may leave C with closing connections whose
# retransmissions are real inbound data (activity): wait until C sends
# nothing but keepalives.
tcp_busy() { C ss -Htn state syn-sent state established state fin-wait-1 state fin-wait-2 state closing state last-ack state close-wait | grep -q .; }
# 10 s, not less: on a slow host the YNL CLI alone can take seconds between
# the authorization and the first ping, which would then find C locked again.
check "idle-timeout 10 s; authorize C; C's TCP is quiet" \
	eval 'set_policy "\"idle-timeout\": 10" && auth $hC && pings $nsC 10.66.0.1 && wait_for 60 eval "! tcp_busy"'
idle_locked() {
	wait_ev 40 peer-locked $hC idle && expect_state $hC locked idle && return 0
	echo "no idle lock: state $(peer_gate state $hC), idle-ms $(peer_gate idle-ms $hC)"
	C ss -tan
	return 1
}
check "idle C (only keepalives) is locked on time by the timer: peer-locked (idle)" idle_locked
check "idle-locked C: ping dropped, auth port reachable" eval "no_ping $nsC 10.66.0.1 && probe_ok $nsC tcp 10.66.0.1 8080"
C wg set wg0 peer "$kS" persistent-keepalive 0

# --- a blip or roaming does not lock --------------------------------------
endpoint_is() { [ "$(peer_field $nsS wg0 $kC 3)" = "$1" ]; }
blip() {
	set_policy '"idle-timeout": 10' && auth $hC || return 1
	local before
	before=$(ev_count peer-locked $hC)
	C ping -q -i 0.5 -c 40 10.66.0.1 >/dev/null 2>&1 &
	local p=$!
	sleep 1
	# The outer link goes down for 2 s, then C moves to a new outer address.
	ip -n $nsC link set vS down && sleep 2 && ip -n $nsC link set vS up &&
		ip -n $nsC addr del 192.168.66.2/24 dev vS && ip -n $nsC addr add 192.168.66.22/24 dev vS
	sleep 1
	pings $nsC 10.66.0.1 || { kill $p; return 1; }
	kill $p 2>/dev/null
	wait_for 10 endpoint_is 192.168.66.22:51821 || { echo "endpoint: $(peer_field $nsS wg0 $kC 3)"; return 1; }
	expect_state $hC authorized && [ "$(ev_count peer-locked $hC)" = "$before" ]
}
check "link down/up and roaming while authorized: not locked, endpoint follows" blip

# --- max-session ----------------------------------------------------------
maxsession() {
	# C's authorization from the blip case may be older than 10 s, and a
	# policy change locks what has run out at once: start from a revoke,
	# so the only max-session lock is the one of the session begun here.
	revoke $hC && set_policy '"idle-timeout": 60, "max-session": 10' || return 1
	local before
	before=$(ev_count peer-locked $hC max-session)
	auth $hC || return 1
	[ -n "$(peer_gate session-remaining-ms $hC)" ] || { echo "no session-remaining-ms"; return 1; }
	# Busy all along: max-session locks it anyway.
	C ping -q -i 0.3 -c 150 10.66.0.1 >/dev/null 2>&1 &
	local p=$!
	wait_ev 40 peer-locked $hC max-session $((before + 1))
	local r=$?
	kill $p 2>/dev/null
	[ $r = 0 ] && expect_state $hC locked max-session
}
check "max-session 10 s locks a busy peer: peer-locked (max-session)" maxsession
check "max-session 0 again" set_policy '"max-session": 0'

# --- exempt ---------------------------------------------------------------
peer_set() { ynl $nsS --do peer-set --json "{\"ifindex\": $IFS_, \"peer\": {\"public-key\": \"$1\", \"exempt\": $2}}"; }
check "exempt D (peer-set, YNL CLI) passes without authorization" eval "ynl_cli $nsS --do peer-set --json '{\"ifindex\": $IFS_, \"peer\": {\"public-key\": \"$hD\", \"exempt\": 1}}' && pings $nsD 10.66.0.1 && pings $nsD fd66::1 && [ \"\$(peer_gate exempt $hD)\" = 1 ]"
check "exempt D is never locked by idleness" eval "set_policy '\"idle-timeout\": 2' && sleep 4 && pings $nsD 10.66.0.1"
check "D no longer exempt: locked again, announced" \
	eval "before=\$(ev_count peer-locked $hD); peer_set $hD 0 && no_ping $nsD 10.66.0.1 && wait_ev 10 peer-locked $hD '' \$((before + 1))"
set_policy '"idle-timeout": 60' >/dev/null

# --- a new peer starts locked ---------------------------------------------
check "a peer added while the gate is on: peer-locked (new), locked in the dump" \
	eval "S wg set wg0 peer '$kE' allowed-ips 10.66.0.5/32 && wait_ev 10 peer-locked $hE new && expect_state $hE locked new"

# --- knock rate -----------------------------------------------------------
flood() {
	local before after t0=$SECONDS
	sleep 6  # the knock interval of earlier packets passes
	before=$(ev_count peer-knock $hC)
	C python3 "$NET" flood 10.66.0.1 9090 10000 || return 1
	sleep 2
	after=$(ev_count peer-knock $hC)
	local n=$((after - before)) limit=$(((SECONDS - t0) / 5 + 2))
	echo "knock events for 10000 packets in $((SECONDS - t0)) s: $n (at most $limit allowed)"
	[ "$n" -ge 1 ] && [ "$n" -le "$limit" ]
}
check "10,000 packets from a locked peer: at most one knock per 5 s" flood

# --- garbage never knocks ---------------------------------------------------
garbage() {
	sleep 6
	local before after
	before=$(ev_total $tmp/events)
	C python3 "$NET" garbage 192.168.66.1 51820 2000 || return 1
	sleep 3
	after=$(ev_total $tmp/events)
	[ "$after" = "$before" ] || { echo "events: $before -> $after"; tail -n 3 $tmp/events; return 1; }
}
check "garbage and unauthenticated data messages to the listen port: no event" garbage
check "the tunnel still works after the garbage" eval "auth $hC && pings $nsC 10.66.0.1"

# --- turning the gate off after on ------------------------------------------
# D is locked (no longer exempt, above). Off stops enforcing but unlocks
# nobody: D stays locked in the dump, no peer-authorized is announced, and
# on again enforces D's lock (and announces it) at once.
gate_off() {
	local before
	before=$(ev_count peer-authorized $hD)
	set_policy '"idle-timeout": 0' || return 1
	[ "$(dev_gate enforcing)" = 0 ] || { echo "still enforcing"; return 1; }
	pings $nsD 10.66.0.1 && pings $nsD fd66::1 || return 1
	expect_state $hD locked || return 1
	sleep 1
	[ "$(ev_count peer-authorized $hD)" = "$before" ] || { echo "D was announced authorized"; return 1; }
}
check "gate off after on: D's traffic passes, the dump says not enforcing and D still locked, nothing announced" gate_off
gate_on_again() {
	local before
	before=$(ev_count peer-locked $hD)
	set_policy '"idle-timeout": 60' && wait_ev 10 peer-locked $hD '' $((before + 1)) || return 1
	[ "$(dev_gate enforcing)" = 1 ] && no_ping $nsD 10.66.0.1 && expect_state $hD locked
}
check "gate on again: D announced locked and dropped at once" gate_on_again

# --- a listener whose buffer is full ----------------------------------------
# It asked for delivery errors (NETLINK_BROADCAST_ERROR, as wgrs-gated
# does) and reads nothing: what does not fit is counted in events-lost, the
# listener gets ENOBUFS when it reads again, the other listener misses
# nothing.
full_listener() {
	mkfifo $tmp/stuck.in $tmp/stuck.out || return 1
	nsx $nsS python3 "$YNLSRV" "$(dirname "$YNL")" "$SPEC" --stuck <$tmp/stuck.in >$tmp/stuck.out 2>$tmp/stuck.err &
	pids+=($!)
	local sin sout line lost0 lost1 auth0 lock0 i
	exec {sin}>$tmp/stuck.in {sout}<$tmp/stuck.out
	if ! IFS= read -r -t 120 line <&$sout || [ "$line" != '{"ready": true}' ]; then
		echo "stuck listener did not start: $line $(cat $tmp/stuck.err)"
		return 1
	fi
	lost0=$(dev_gate events-lost) auth0=$(ev_count peer-authorized $hD) lock0=$(ev_count peer-locked $hD revoked)
	for i in 1 2 3; do
		auth $hD >/dev/null && revoke $hD >/dev/null || return 1
	done
	lost1=$(dev_gate events-lost)
	echo "events-lost: $lost0 -> $lost1"
	[ "$lost1" -gt "$lost0" ] || return 1
	wait_ev 10 peer-authorized $hD '' $((auth0 + 3)) && wait_ev 10 peer-locked $hD revoked $((lock0 + 3)) ||
		{ echo "the reading listener missed events"; return 1; }
	echo >&$sin
	IFS= read -r -t 60 line <&$sout
	exec {sin}>&- {sout}<&-
	echo "stuck listener's next receive: $line"
	[ "$line" = '{"recv": "ENOBUFS"}' ]
}
check_here "a full listener: events-lost counts what did not fit, it gets ENOBUFS, the other listener misses nothing" full_listener

# --- namespaces -------------------------------------------------------------
check "C's listener saw none of S's events" eval '[ "$(ev_total $tmp/events-C)" = 0 ]'

# --- removal with locked peers ----------------------------------------------
check "removing locked peer E and D" eval "S wg set wg0 peer '$kE' remove peer '$kD' remove && [ -z \"\$(peer_gate state $hE)\" ]"
# --- moved to another namespace: its events go there ----------------------
nsM=wgrs-gate-m-$$
moved() {
	ip netns add $nsM || return 1
	on_exit "ip netns del $nsM"
	ip -n $nsS link set wg0 netns $nsM || return 1
	local idx before
	idx=$(ifindex $nsM wg0)
	start_listener $nsM "$idx" $tmp/events-M || return 1
	before=$(ev_total $tmp/events)
	# Authorized first, so the revoke surely changes its state (and is
	# announced) even if the idle timeout ran out during the move.
	ynl_cli $nsM --do authorize --json "{\"ifindex\": $idx, \"peer\": {\"public-key\": \"$hC\"}}" &&
		ynl_cli $nsM --do revoke --json "{\"ifindex\": $idx, \"peer\": {\"public-key\": \"$hC\"}}" || return 1
	if ! wait_for 30 eval "jq -e 'select(type == \"object\" and .name == \"peer-locked\")' $tmp/events-M"; then
		echo "no peer-locked in the new namespace:"
		cat $tmp/events-M
		return 1
	fi
	[ "$(ev_total $tmp/events)" = "$before" ] || { echo "S's listener heard the moved device"; return 1; }
}
check_here "device moved to another namespace: a revoke there is heard there, not in S" moved
check "deleting the gated device with a locked peer and listeners attached" \
	eval "ip -n $nsM link del wg0"
check "module unloads with the listener still attached" eval "ip -n $nsC link del wg0 && ip -n $nsD link del wg0 && modprobe -r $WGRS_MODULE && ! module_loaded $WGRS_MODULE"
check "no kernel splat" no_splat

ktap_finish
