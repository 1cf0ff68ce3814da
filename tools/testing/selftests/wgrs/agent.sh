#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The second factor end to end, through real tunnels on wgrs.ko: wgrs-gated
# in the server namespace S, the `wgrs gate` CLI, and two users C and D in
# namespaces of their own, each behind a wgrs device. Codes are computed
# from the enrolled secrets as an authenticator app would (gate_totp.py).
#
# enroll → confirm → locked (new, then idle) → wrong code refused → right
# code unlocks → traffic flows → the same code again refused, also after an
# agent restart → D cannot unlock C (spoofing C's inner address is dropped
# by the kernel; D's own login unlocks only D) → 20 parallel wrong guesses:
# all but the bucket's allowance refused before the code is looked at →
# agent killed: peers stay locked, a restart recovers the state → a state
# database with open permissions refused → malformed HTTP (huge body,
# slow headers, bad UTF-8) refused, the agent still serving → `wgrs gate
# login` (wg-quick's PostUp) unlocks through the tunnel → a real browser
# (Debian's headless Chromium, driven by gate_browser.py) in D's namespace
# types D's code into the page and submits the form: D unlocked, a
# screenshot of the answer page kept.
# ksft-timeout: 1200
set -u
cd "$(dirname "$0")" && . ./lib.sh && . ./tunnel_lib.sh
require_root
ktap_header 25

BIN=${WGRS_BIN:-/mnt/wgrs/userspace/target/release}
GATED=$BIN/wgrs-gated WGRS=$BIN/wgrs
TOTP=$PWD/gate_totp.py BROWSER=$PWD/gate_browser.py
tmp=$(mktemp -d)
on_exit "rm -rf $tmp"
nsS=wgrs-ag-s-$$ nsC=wgrs-ag-c-$$ nsD=wgrs-ag-d-$$
netns_add $nsS $nsC $nsD || exit 1
S() { nsx $nsS "$@"; }
C() { nsx $nsC "$@"; }
D() { nsx $nsD "$@"; }
load_only "$WGRS_MODULE" || { ktap_fail "load $WGRS_MODULE"; ktap_finish; }
on_exit "modprobe -r $WGRS_MODULE"
dmesg_mark
kS=$(new_key $tmp/kS) kC=$(new_key $tmp/kC) kD=$(new_key $tmp/kD)
conf=$tmp/gated.toml db=$tmp/state.db audit=$tmp/audit.log
agent_pid=
on_exit 'stop_agent'

gate() { S "$WGRS" gate --config $conf "$@"; }
setup() {
	[ -x "$GATED" ] && [ -x "$WGRS" ] || { echo "no $GATED or $WGRS (build-userspace.sh)"; return 1; }
	veth_pair $nsS vC 192.168.70.1/24 $nsC vS 192.168.70.2/24 &&
		veth_pair $nsS vD 192.168.71.1/24 $nsD vS 192.168.71.2/24 || return 1
	local n
	for n in $nsS $nsC $nsD; do ip -n $n link add wg0 type wireguard || return 1; done
	S wg set wg0 private-key $tmp/kS listen-port 51870 \
		peer "$kC" allowed-ips 10.70.0.2/32 peer "$kD" allowed-ips 10.70.0.3/32 &&
		C wg set wg0 private-key $tmp/kC peer "$kS" endpoint 192.168.70.1:51870 allowed-ips 10.70.0.0/24 &&
		D wg set wg0 private-key $tmp/kD peer "$kS" endpoint 192.168.71.1:51870 allowed-ips 10.70.0.0/24 || return 1
	ip -n $nsS addr add 10.70.0.1/24 dev wg0 && ip -n $nsC addr add 10.70.0.2/24 dev wg0 &&
		ip -n $nsD addr add 10.70.0.3/24 dev wg0 || return 1
	for n in $nsS $nsC $nsD; do ip -n $n link set wg0 up || return 1; done
	cat >$conf <<-EOF
		[rate]
		burst = 5
		refill_seconds = 20

		[http]
		header_timeout_seconds = 5

		[[device]]
		name = "wg0"
		state_db = "$db"
		auth_port = 51821
		idle_timeout = 20
		max_session = 0
	EOF
	"$GATED" --check-config $conf
}
check_here "S (wgrs.ko, gated), users C and D; wgrs-gated --check-config accepts the file" setup

# enroll NAME PUBKEY: `wgrs gate enroll`; keeps the base32 secret it
# printed for the "app" (secret NAME).
enroll() {
	gate enroll wg0 "$2" >$tmp/enroll-$1 || return 1
	sed -n 's/^Manual entry: \([A-Z2-7]*\) .*/\1/p' $tmp/enroll-$1 >$tmp/secret-$1
	[ -s $tmp/secret-$1 ] && grep -q '^otpauth://totp/' $tmp/enroll-$1
}
secret() { cat $tmp/secret-$1; }
next_code() { python3 "$TOTP" "$(secret $1)" $tmp/used-$1; }
wrong_code() { python3 "$TOTP" --wrong "$(secret $1)"; }
check "enroll C and D (otpauth URI and manual secret printed)" eval "enroll C '$kC' && enroll D '$kD'"
check "confirm both with a code from the secret" eval '
	gate confirm wg0 "$kC" "$(next_code C)" && gate confirm wg0 "$kD" "$(next_code D)"'

# The agent runs as a direct child (nsenter execs it), so that $! is the
# agent itself and a signal reaches it.
start_agent() {
	if pgrep -f "$GATED --config $conf" >/dev/null; then
		echo "an agent is still running:"; pgrep -af "$GATED --config $conf"; return 1
	fi
	nsenter --net=/run/netns/$nsS -- "$GATED" --config $conf >>$audit 2>>$tmp/agent.err &
	agent_pid=$!
	wait_for 60 eval "S ss -ltn | grep -q ':51821 '" ||
		{ echo "agent not listening:"; S ss -ltn; cat $tmp/agent.err; return 1; }
	S ss -ltn | grep ':51821 '
}
stop_agent() { # [SIGNAL]
	[ -n "$agent_pid" ] || return 0
	kill -"${1:-TERM}" "$agent_pid" 2>/dev/null
	wait "$agent_pid" 2>/dev/null
	agent_pid=
	! pgrep -f "$GATED --config $conf" >/dev/null
}
# audited EVENT [JQ-CONDITION]: the agent's log has such a line.
audited() { jq -e -s --arg e "$1" "[.[] | select(.event == \$e and (${2:-true}))] | length > 0" $audit >/dev/null 2>&1; }
hex() { base64 -d <<<"$1" | od -An -tx1 -v | tr -d ' \n'; }
kstate() { # PUBKEY: the kernel's gate state of that peer, from `wgrs gate status`
	gate status wg0 2>/dev/null | awk -v k="$1" 'index($0, "peer: " k) == 1 { f = 1; next } f && $1 == "gate:" { print $2; exit }'
}
check_here "agent starts: policy pushed, auth page listening on S's tunnel address" start_agent
check "C and D start locked; the agent logs it" eval '
	wait_for 60 audited locked ".peer == \"$kC\"" && wait_for 60 audited locked ".peer == \"$kD\"" &&
	[ "$(kstate "$kC")" = locked ] || { gate status wg0; cat $audit; false; }'
check "locked C: ping to S dropped, the auth page answers" eval '
	! C ping -q -c 2 -w 3 10.70.0.1 && C curl -s -m 20 http://10.70.0.1:51821/ | grep -q "<form"'

# post NS BODY: POST /login as JSON; prints the HTTP status.
post() { nsx "$1" curl -s -m 20 -o $tmp/body -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary "$2" http://10.70.0.1:51821/login; }
check "a wrong code: 401, still locked, audited (wrong_code)" eval '
	[ "$(post $nsC "{\"code\":\"$(wrong_code C)\"}")" = 401 ] && ! C ping -q -c 1 -w 2 10.70.0.1 &&
	audited login_failed ".reason == \"wrong_code\""'
# D takes C's inner address: S's allowed-ips check drops it before any
# socket sees it, so the login never arrives.
check "D spoofing C's inner address cannot reach the page" eval '
	ip -n $nsD addr add 10.70.0.2/32 dev wg0 &&
	! D curl -s -m 8 --interface 10.70.0.2 http://10.70.0.1:51821/ >/dev/null;
	r=$?; ip -n $nsD addr del 10.70.0.2/32 dev wg0; [ $r = 0 ] && [ "$(kstate "$kC")" = locked ]'
code_c=
login_c() {
	code_c=$(next_code C)
	local st
	st=$(post $nsC "{\"code\":\"$code_c\"}")
	echo "POST /login: $st $(cat $tmp/body)"
	[ "$st" = 200 ] && C ping -q -c 2 -w 10 10.70.0.1 && [ "$(kstate "$kC")" = authorized ] &&
		audited login_ok ".peer == \"$kC\""
}
check_here "the right code: 200, C unlocked, traffic flows, audited" login_c
check "the same code again: 401 (replay)" eval '
	[ "$(post $nsC "{\"code\":\"$code_c\"}")" = 401 ] && audited login_failed ".reason == \"replay\""'
check "D is still locked" eval '! D ping -q -c 1 -w 2 10.70.0.1 && [ "$(kstate "$kD")" = locked ]'
check "D's own code unlocks D only (C's session is C's)" eval '
	[ "$(post $nsD "{\"code\":\"$(next_code D)\"}")" = 200 ] && D ping -q -c 1 -w 5 10.70.0.1 &&
	[ "$(kstate "$kD")" = authorized ]'
check "C idle for 20 s: locked (idle) by the kernel, the agent logs it" eval '
	wait_for 60 audited locked ".peer == \"$kC\" and .reason == \"idle\"" && [ "$(kstate "$kC")" = locked ]'
check "the old code after the lock: still a replay" eval '[ "$(post $nsC "{\"code\":\"$code_c\"}")" = 401 ]'
check_here "agent restart: C stays locked, the old code is still a replay" eval '
	stop_agent && start_agent && [ "$(kstate "$kC")" = locked ] &&
	[ "$(post $nsC "{\"code\":\"$code_c\"}")" = 401 ]'

# The bucket: 5 tokens, one more every 20 s; every attempt costs one. Of
# 20 parallel wrong guesses from D at most the tokens it has (5) plus what
# refills meanwhile are looked at (401); the rest are refused before the
# code is looked at (429).
guesses() {
	local i w t0=$SECONDS
	w=$(wrong_code D)
	for i in $(seq 20); do
		{ post $nsD "{\"code\":\"$w\"}"; echo; } >$tmp/guess-$i &
	done
	wait
	local n401 n429 limit=$((5 + (SECONDS - t0) / 20 + 1))
	n401=$(cat $tmp/guess-* | grep -c 401) n429=$(cat $tmp/guess-* | grep -c 429)
	echo "20 parallel wrong codes in $((SECONDS - t0)) s: $n401 checked (401, at most $limit), $n429 refused unchecked (429)"
	echo "statuses: $(cat $tmp/guess-* | sort | uniq -c | tr -s ' \n' ' ')"
	[ $((n401 + n429)) = 20 ] || { tail -n 5 $audit; tail -n 5 $tmp/agent.err; }
	[ "$n401" -le "$limit" ] && [ $((n401 + n429)) = 20 ] &&
		audited login_failed ".reason == \"rate_limited\" and .peer == \"$kD\""
}
check "20 parallel wrong guesses: all but the bucket's allowance refused before checking (429)" guesses
check_here "agent killed (SIGKILL): C stays locked in the kernel" eval '
	stop_agent KILL && [ "$(kstate "$kC")" = locked ] && ! C ping -q -c 1 -w 2 10.70.0.1'
check "a state database with open permissions is refused, clearly" eval '
	chmod 0644 $db; out=$(S timeout 30 "$GATED" --config $conf 2>&1); r=$?; chmod 0600 $db
	echo "$out"; [ $r != 0 ] && grep -qi "permission" <<<"$out"'
check_here "restarted after the kill: the state is recovered (C locked, enrolled)" eval '
	start_agent && [ "$(kstate "$kC")" = locked ] && gate list wg0 | grep -qF "$kC"'

# Malformed HTTP, from C (locked, so only the auth port is reachable).
check "a huge body: 413" eval '
	head -c 100000 /dev/zero | tr "\0" a >$tmp/huge &&
	[ "$(C curl -s -m 20 -o /dev/null -w "%{http_code}" --data-binary @$tmp/huge http://10.70.0.1:51821/login)" = 413 ]'
check "slow headers: the connection is closed by the agent" \
	C python3 -c '
import socket, sys, time
s = socket.create_connection(("10.70.0.1", 51821), timeout=20)
s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\n")
t = time.time()
data = s.recv(4096)   # the server closes (or answers) within its header timeout
print("closed after %.1f s: %r" % (time.time() - t, data[:40]))
sys.exit(0 if time.time() - t < 15 else 1)'
check "bad UTF-8 in a form: 400" eval '
	[ "$(C curl -s -m 20 -o /dev/null -w "%{http_code}" -H "Content-Type: application/x-www-form-urlencoded" \
		--data-binary $'"'"'code=\xff\xfe'"'"' http://10.70.0.1:51821/login)" = 400 ]'
check "wgrs gate login from C (wg-quick's PostUp) unlocks C through the tunnel" eval '
	C "$WGRS" gate login wg0 --code "$(next_code C)" && C ping -q -c 2 -w 10 10.70.0.1 &&
	[ "$(kstate "$kC")" = authorized ]'
# The screenshot goes where the harness collects files (/mnt/io in the VM:
# out/vm-tests/vmN/ on the host), else into the test's temporary directory.
shots=/mnt/io
[ -d $shots ] && [ -w $shots ] || shots=$tmp
browser_login() {
	# D has been idle since its login: locked again first.
	wait_for 90 eval '[ "$(kstate "$kD")" = locked ]' || { echo "D is not locked: $(kstate "$kD")"; return 1; }
	# The code is read once the page is up (gate_browser.py runs this).
	HOME=$tmp D python3 "$BROWSER" http://10.70.0.1:51821/ \
		"python3 '$TOTP' '$(secret D)' '$tmp/used-D'" $shots/agent-browser-login.png || return 1
	D ping -q -c 2 -w 10 10.70.0.1 && [ "$(kstate "$kD")" = authorized ] &&
		audited login_ok ".peer == \"$kD\""
}
check_here "headless Chromium in D's namespace: the page through the tunnel, the code typed and submitted, D unlocked" browser_login
check "no kernel splat" no_splat
ktap_finish
