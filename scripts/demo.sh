#!/bin/bash
# `make run`'s story, inside the VM (scripts/run-demo.sh boots it): wgrs.ko
# carries a tunnel between a "server" and a "laptop" namespace, then the
# gate locks the laptop's peer, the laptop's user opens the auth page through
# the tunnel and types the code from their authenticator app, and the peer
# is unlocked; idle again, it is locked again; wg-quick's PostUp way
# (`wgrs gate login`) unlocks it once more. The "app" is
# tools/testing/selftests/wgrs/gate_totp.py, computing the code from the
# secret that enrollment printed.
set -eu
T=/mnt/wgrs/tools/testing/selftests/wgrs
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { local p=$1; shift; printf '\033[36m%s\033[0m %s\n' "$p" "$*"; }
run() { show "#" "$@"; "$@"; }
srv() { show "server#" "$@"; ip netns exec server "$@"; }
lap() { show "laptop#" "$@"; ip netns exec laptop "$@"; }

work=$(mktemp -d)
cleanup() {
	[ -n "${agent:-}" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
	ip netns del server 2>/dev/null
	ip netns del laptop 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

step "wgrs.ko, a WireGuard driver in Rust, in place of wireguard.ko"
run modprobe wgrs
run modinfo -F description wgrs

step "a server and a laptop (network namespaces) joined by a veth pair, a tunnel between them"
ip netns add server
ip netns add laptop
ip link add eth0 netns server type veth peer name eth0 netns laptop
for n in server laptop; do ip -n $n link set lo up; ip -n $n link set eth0 up; done
ip -n server addr add 192.168.50.1/24 dev eth0
ip -n laptop addr add 192.168.50.2/24 dev eth0
umask 077
wgrs genkey >"$work/server.key"
wgrs genkey >"$work/laptop.key"
laptop_pub=$(wgrs pubkey <"$work/laptop.key")
server_pub=$(wgrs pubkey <"$work/server.key")
srv ip link add wg0 type wireguard
srv wgrs set wg0 private-key "$work/server.key" listen-port 51820 peer "$laptop_pub" allowed-ips 10.50.0.2/32
srv ip addr add 10.50.0.1/24 dev wg0
srv ip link set wg0 up
lap ip link add wg0 type wireguard
lap wgrs set wg0 private-key "$work/laptop.key" peer "$server_pub" endpoint 192.168.50.1:51820 allowed-ips 10.50.0.0/24
lap ip addr add 10.50.0.2/24 dev wg0
lap ip link set wg0 up
lap ping -c 2 -i 0.3 10.50.0.1
srv wgrs show wg0

step "the gate: the agent's configuration (idle timeout 20 s for the demo; an hour is typical)"
cat >"$work/gated.toml" <<EOF
[[device]]
name = "wg0"
state_db = "$work/state.db"
auth_port = 51821
idle_timeout = 20
max_session = 0
EOF
cat "$work/gated.toml"
run wgrs-gated --check-config "$work/gated.toml"

step "enroll the laptop's user: they scan the QR code with their authenticator app"
srv wgrs gate --config "$work/gated.toml" enroll wg0 "$laptop_pub" | tee "$work/enroll"
secret=$(sed -n 's/^Manual entry: \([A-Z2-7]*\) .*/\1/p' "$work/enroll")
# The app's current code; a code already used waits for the next 30-s step.
code() {
	echo "(the authenticator app: a new code every 30 s, waiting for one not used yet)" >&2
	python3 "$T/gate_totp.py" "$secret" "$work/used"
}
step "they confirm with the first code their app shows (until then, nothing is locked)"
srv wgrs gate --config "$work/gated.toml" confirm wg0 "$laptop_pub" "$(code)"

step "the agent starts: it pushes the policy and serves the auth page on the server's tunnel address"
ip netns exec server wgrs-gated --config "$work/gated.toml" >"$work/audit.log" 2>"$work/agent.err" &
agent=$!
for _ in $(seq 100); do ip netns exec server ss -ltn | grep -q ':51821 ' && break; sleep 0.2; done
sleep 1
srv wgrs gate --config "$work/gated.toml" status wg0

step "locked: the laptop's traffic is dropped by the kernel, except to the auth page"
lap ping -c 2 -W 1 10.50.0.1 || echo "(no answer: the peer is locked)"
lap curl -s http://10.50.0.1:51821/ | sed -e 's/<style>.*<\/style>//' -e 's/<[^>]*>/ /g' -e 's/  */ /g' -e '/^ *$/d' | head -n 15

step "the user types the six digits from their app into the page's form"
c=$(code)
echo "(the app shows $c)"
lap curl -s -d "code=$c" http://10.50.0.1:51821/login | sed -e 's/<style>.*<\/style>//' -e 's/<[^>]*>/ /g' -e 's/  */ /g' -e '/^ *$/d' | head -n 5
lap ping -c 2 -i 0.3 10.50.0.1
srv wgrs gate --config "$work/gated.toml" status wg0

step "the same code again is refused (no replay)"
lap curl -s -o /dev/null -w 'HTTP %{http_code}\n' -d "code=$c" http://10.50.0.1:51821/login

step "20 s without traffic (idle time, not network blips, is what counts): the kernel locks the peer again"
run sleep 25
srv wgrs gate --config "$work/gated.toml" status wg0

step "wg-quick's way: PostUp = wgrs gate login %i (prompts on a terminal; --code here)"
lap wgrs gate login wg0 --code "$(code)"
lap ping -c 2 -i 0.3 10.50.0.1

step "the agent's audit log (JSON lines, for journald)"
cat "$work/audit.log"
echo
echo "wgrs.ko carried the tunnel; the gate locked an idle peer and let it back in after a TOTP code."
