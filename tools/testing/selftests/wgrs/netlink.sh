#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The `wireguard` generic netlink family of wgrs.ko, beyond what cli_compat
# covers: keys, peer removal and replacement, allowed-IPs semantics, dumps
# over many messages, and the C driver's error codes.
set -u
cd "$(dirname "$0")" && . ./lib.sh
require_root
ktap_header 26

modprobe -r wireguard 2>/dev/null
modprobe "$WGRS_MODULE" || { ktap_fail "load $WGRS_MODULE"; ktap_finish; }
on_exit "modprobe -r $WGRS_MODULE"
no_autoload
ns=wgrs-nl-$$
ip netns add $ns || { ktap_fail "create netns"; ktap_finish; }
on_exit "ip netns del $ns"
tmp=$(mktemp -d)
on_exit "rm -rf $tmp"
N() { ip netns exec $ns "$@"; }
N ip link add wg0 type wireguard
N ip link set lo up

umask 077
K1=$(wg genkey) K2=$(wg genkey)
P1=$(printf '%s\n' "$K1" | wg pubkey) P2=$(printf '%s\n' "$K2" | wg pubkey)
printf '%s\n' "$K1" >"$tmp/k1"
printf '%s\n' "$K2" >"$tmp/k2"
PA=$(wg genkey | wg pubkey) PB=$(wg genkey | wg pubkey) PC=$(wg genkey | wg pubkey)

check "wg set on a wgrs.ko device" N wg set wg0 private-key "$tmp/k1" listen-port 51820 fwmark 0x77 \
	peer "$PA" endpoint 192.0.2.1:1 allowed-ips 10.0.0.0/24
check "public key is curve25519 of the private key" test "$(N wg show wg0 public-key)" = "$P1"
check "private key reads back" test "$(N wg show wg0 private-key)" = "$K1"
check "listen-port and fwmark read back" test "$(N wg show wg0 listen-port)/$(N wg show wg0 fwmark)" = "51820/0x77"
check "no handshake, no traffic" test "$(N wg show wg0 dump | sed -n 2p | cut -f5-7)" = "$(printf '0\t0\t0')"

# 32 bytes of 0xff, clamped: f8 ff..ff 7f.
{ printf '\377%.0s' {1..32}; } | base64 >"$tmp/kff"
clamped=$({ printf '\370'; printf '\377%.0s' {1..30}; printf '\177'; } | base64)
check "private key is stored clamped" sh -c "ip netns exec $ns wg set wg0 private-key $tmp/kff &&
	test \"\$(ip netns exec $ns wg show wg0 private-key)\" = '$clamped'"
N wg set wg0 private-key "$tmp/k1"

check "a peer with the device's own public key is ignored" sh -c "ip netns exec $ns wg set wg0 peer $P1 &&
	! ip netns exec $ns wg show wg0 peers | grep -qF -- '$P1'"
N wg set wg0 peer "$P2" allowed-ips 10.2.0.0/16
check "setting a private key removes the peer with its public key" sh -c "
	ip netns exec $ns wg show wg0 peers | grep -qF -- '$P2' &&
	ip netns exec $ns wg set wg0 private-key $tmp/k2 &&
	! ip netns exec $ns wg show wg0 peers | grep -qF -- '$P2' &&
	! ip netns exec $ns wg show wg0 allowed-ips | grep -q 10.2.0.0"

check "host bits beyond the prefix are cleared" sh -c "ip netns exec $ns wg set wg0 peer $PA allowed-ips 10.1.2.3/16 &&
	ip netns exec $ns wg show wg0 allowed-ips | grep -q '10.1.0.0/16'"
check "allowed-ips replace the peer's list" test "$(N wg show wg0 allowed-ips | grep -c 10.0.0.0/24)" = 0
N wg set wg0 peer "$PA" allowed-ips 10.5.0.0/16,10.6.0.0/16 peer "$PB" allowed-ips 10.7.0.0/16
N wg set wg0 peer "$PB" allowed-ips +10.5.0.0/16
check "an allowed IP moves to the peer it is added to" sh -c "
	test \"\$(ip netns exec $ns wg show wg0 allowed-ips | grep -F -- '$PA' | cut -f2)\" = '10.6.0.0/16' &&
	test \"\$(ip netns exec $ns wg show wg0 allowed-ips | grep -F -- '$PB' | cut -f2)\" = '10.7.0.0/16 10.5.0.0/16'"
N wg set wg0 peer "$PB" allowed-ips -10.6.0.0/16
check "removing another peer's allowed IP does nothing" sh -c "
	ip netns exec $ns wg show wg0 allowed-ips | grep -F -- '$PA' | grep -q 10.6.0.0/16"
hex() { printf '%s' "$1" | base64 -d | od -An -tx1 | tr -d ' \n'; }
# WGPEER_F_UPDATE_ONLY (4); not every wg(8) has `update-only`.
check "update-only does not create a peer" sh -c "
	test \"\$(ip netns exec $ns ./genl.pl set-peer-flags wg0 $(hex "$PC") 4)\" = 0 &&
	! ip netns exec $ns wg show wg0 peers | grep -qF -- '$PC'"
check "update-only updates an existing peer" sh -c "
	test \"\$(ip netns exec $ns ./genl.pl set-peer-flags wg0 $(hex "$PB") 4)\" = 0 &&
	ip netns exec $ns wg show wg0 allowed-ips | grep -F -- '$PB' | grep -q 10.99.0.0/16"
check "a peer is removed with its allowed IPs" sh -c "ip netns exec $ns wg set wg0 peer $PA remove &&
	! ip netns exec $ns wg show wg0 peers | grep -qF -- '$PA' &&
	! ip netns exec $ns wg show wg0 allowed-ips | grep -q 10.6.0.0"

printf '[Interface]\nListenPort = 7\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.0/16\n' "$PC" >"$tmp/replace.conf"
check "setconf replaces all peers" sh -c "ip netns exec $ns wg setconf wg0 $tmp/replace.conf &&
	test \"\$(ip netns exec $ns wg show wg0 peers)\" = '$PC' &&
	test \"\$(ip netns exec $ns wg show wg0 listen-port)\" = 7"

many() {
	# One generator process: under TCG on the debug kernel every fork and
	# exec costs most of a second, and a shell loop here took minutes.
	python3 - "$tmp/many.conf" <<-'PY' || return 1
		import base64, os, sys
		with open(sys.argv[1], "w") as f:
		    f.write("[Interface]\n")
		    for i in range(1, 301):
		        ips = ["10.%d.%d.0/24" % (i // 256, i % 256)]
		        ips += ["fd00:%x:%x::/48" % (i, j) for j in range(1, 21)]
		        f.write("[Peer]\nPublicKey = %s\nAllowedIPs = %s\n"
		                % (base64.b64encode(os.urandom(32)).decode(), ", ".join(ips)))
	PY
	N wg setconf wg0 "$tmp/many.conf" || return 1
	local peers ips
	peers=$(N wg show wg0 peers | wc -l) ips=$(N wg show wg0 allowed-ips | wc -w)
	echo "peers $peers, words in allowed-ips $ips"
	[ "$peers" = 300 ] && [ "$ips" = $((300 * 22)) ] || return 1
	# Same configuration back, across many dump messages.
	N wg showconf wg0 >"$tmp/back.conf" && N wg setconf wg0 "$tmp/back.conf" &&
		N wg showconf wg0 | cmp -s - "$tmp/back.conf"
}
check "300 peers with 21 allowed IPs each dump over many messages" many

idx=$(N cat /sys/class/net/wg0/ifindex)
lo=$(N cat /sys/class/net/lo/ifindex)
check "GET by ifindex" test "$(N ./genl.pl get-index "$idx")" = 0
check "unknown ifindex: ENODEV" test "$(N ./genl.pl get-index 999999)" = 19
check "SET by unknown ifindex: ENODEV" test "$(N ./genl.pl set-index 999999)" = 19
check "not a wireguard device: EOPNOTSUPP" test "$(N ./genl.pl get-index "$lo")" = 95
check "both ifindex and ifname: EBADR" test "$(N ./genl.pl get-both "$idx" wg0)" = 53
check "neither ifindex nor ifname: EBADR" test "$(N ./genl.pl get-none)" = 53
check "protocol version 2: EPFNOSUPPORT" test "$(N ./genl.pl set-peer-version wg0 "$(hex "$PB")" 2)" = 96

check "without CAP_NET_ADMIN: EPERM for GET and SET" sh -c "
	ip netns exec $ns setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
		wg show wg0 2>&1 | grep -q 'Operation not permitted' &&
	ip netns exec $ns setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
		wg set wg0 listen-port 9 2>&1 | grep -q 'Operation not permitted' &&
	test \"\$(ip netns exec $ns wg show wg0 listen-port)\" != 9"
check "deleting a configured device" N ip link del wg0
ktap_finish
