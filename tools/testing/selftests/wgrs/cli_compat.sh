#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# cli_compat.sh - wgrs (Rust CLI) must behave like wg(8), byte for byte.
#
# Run as root inside the test VM, with either wireguard.ko or wgrs.ko already
# loaded (this script never loads modules):
#
#   WGRS=/path/to/wgrs ./cli_compat.sh
#
# Optional: WG=/path/to/wg (default: wg from PATH), WGRS_CLI_HUGE=0 to skip
# the 130560-allowed-IP case. Everything happens in two private network
# namespaces ("A": configured by wg, "B": configured by wgrs) that are
# removed on exit; the devices are never brought up, so no packet is sent.
# Output is KTAP; the exit status is 0 if all cases pass, 1 otherwise, and
# 4 (kselftest "skip") if the environment cannot run the test.

# Functions are called indirectly (case table, traps).
# shellcheck disable=SC2317

set -u

WGRS=${WGRS:-wgrs}
WG=${WG:-wg}
HUGE=${WGRS_CLI_HUGE:-1}
KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

nsA="wgrs-cli-a-$$"
nsB="wgrs-cli-b-$$"
tmp=""

diag() { printf '# %s\n' "$*"; }

cleanup() {
	ip netns del "$nsA" 2>/dev/null
	ip netns del "$nsB" 2>/dev/null
	[[ -n $tmp ]] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

skip_all() {
	echo "TAP version 13"
	echo "1..0 # SKIP $*"
	exit "$KSFT_SKIP"
}

[[ $(id -u) -eq 0 ]] || skip_all "must be run as root"
command -v ip >/dev/null || skip_all "ip (iproute2) not found"
command -v "$WG" >/dev/null || skip_all "wg not found (set WG=)"
command -v "$WGRS" >/dev/null || skip_all "wgrs not found (set WGRS=)"
WG=$(command -v "$WG")
WGRS=$(command -v "$WGRS")
tmp=$(mktemp -d) || skip_all "mktemp failed"
ip netns add "$nsA" || skip_all "cannot create network namespaces"
ip netns add "$nsB" || skip_all "cannot create network namespaces"
ip -n "$nsA" link add wg0 type wireguard 2>/dev/null ||
	skip_all "cannot create a wireguard link (is a wireguard module loaded?)"
ip -n "$nsB" link add wg0 type wireguard || skip_all "cannot create a wireguard link"

A() { ip netns exec "$nsA" "$@"; }
B() { ip netns exec "$nsB" "$@"; }

# Recreates wg0 (empty) in both namespaces.
fresh() {
	local ns
	for ns in "$nsA" "$nsB"; do
		ip -n "$ns" link del wg0 2>/dev/null
		ip -n "$ns" link add wg0 type wireguard || return 1
	done
}

# same DESC FILE1 FILE2: compare, with a short diff as diagnostics.
same() {
	cmp -s "$2" "$3" && return 0
	diag "$1 differs (wg vs wgrs):"
	diff -u "$2" "$3" | head -n 40 | sed 's/^/# /'
	return 1
}

# Runs "$@" in namespace A with wg and with wgrs, comparing stdout and the
# exit status. Usage: cmp_out NAME [env VAR=..] SUBCOMMAND ARGS...
cmp_out() {
	local name=$1 rc_wg rc_rs
	shift
	local pre=()
	while [[ ${1:-} == *=* ]]; do pre+=("$1"); shift; done
	A env "${pre[@]}" "$WG" "$@" >"$tmp/$name.wg" 2>"$tmp/$name.wg.err"
	rc_wg=$?
	A env "${pre[@]}" "$WGRS" "$@" >"$tmp/$name.rs" 2>"$tmp/$name.rs.err"
	rc_rs=$?
	if [[ $rc_wg -ne $rc_rs ]]; then
		diag "$name: exit status wg=$rc_wg wgrs=$rc_rs"
		sed 's/^/# wgrs stderr: /' "$tmp/$name.rs.err" | head -n 5
		return 1
	fi
	same "$name ($*)" "$tmp/$name.wg" "$tmp/$name.rs"
}

# showconf of wg0 in namespace A and B as wg sees it.
conf_A() { A "$WG" showconf wg0; }
conf_B() { B "$WG" showconf wg0; }

# Both namespaces' wg0 are configured identically (checked with wg itself).
same_device() {
	conf_A >"$tmp/devA" 2>&1
	conf_B >"$tmp/devB" 2>&1
	same "${1:-device}" "$tmp/devA" "$tmp/devB" || return 1
	A "$WG" show wg0 dump >"$tmp/dumpA" 2>&1
	B "$WG" show wg0 dump >"$tmp/dumpB" 2>&1
	same "${1:-device} dump" "$tmp/dumpA" "$tmp/dumpB"
}

# ---------------------------------------------------------------- fixtures

umask 077
PRIV=$("$WG" genkey)
PRIV2=$("$WG" genkey)
PSK=$("$WG" genpsk)
printf '%s\n' "$PRIV2" >"$tmp/priv2"
printf '%s\n' "$PSK" >"$tmp/psk"
: >"$tmp/empty"
PUB=()
for i in $(seq 0 59); do
	PUB[i]=$("$WG" genkey | "$WG" pubkey)
done

cat >"$tmp/basic.conf" <<CONF
# basic: IPv4 and IPv6 endpoints, PSK, keepalive, fwmark, listen port
[Interface]
PrivateKey = $PRIV
ListenPort = 51820
FwMark = 0x1234

[Peer]
PublicKey = ${PUB[0]}
PresharedKey = $PSK
AllowedIPs = 10.0.0.1/32, fd00::1/128, 10.10.0.0/16
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25

[Peer]
PublicKey = ${PUB[1]}
AllowedIPs = 10.0.1.0/24
Endpoint = [2001:db8::1]:12345

[peer]
publickey = ${PUB[2]}
allowedips = 10.0.2.0/24,fd00:2::/64   # lower case keys, comment
endpoint = [::ffff:198.51.100.7]:9
persistentkeepalive = 65535

[Peer]
PublicKey = ${PUB[3]}
CONF

{
	echo "[Interface]"
	echo "PrivateKey = $PRIV"
	echo "ListenPort = 1"
	for i in $(seq 0 49); do
		echo
		echo "[Peer]"
		echo "PublicKey = ${PUB[i]}"
		echo "AllowedIPs = 10.1.$i.0/24, fd01:$i::/64"
		((i % 2)) && echo "Endpoint = 203.0.113.$i:$((10000 + i))"
		((i % 3)) || echo "PresharedKey = $PSK"
		((i % 5)) || echo "PersistentKeepalive = $((i + 1))"
	done
} >"$tmp/many.conf"

{
	echo "[Interface]"
	echo "PrivateKey = $PRIV"
	echo "[Peer]"
	echo "PublicKey = ${PUB[5]}"
	printf 'AllowedIPs = 10.2.0.1/32'
	printf ', 10.%s.1/32' {3..18}.{0..255}
	printf ', fd02::%s/128' {1..2000}
	echo
	echo "[Peer]"
	echo "PublicKey = ${PUB[6]}"
	echo "AllowedIPs = 10.200.0.0/16"
} >"$tmp/large.conf"

if [[ $HUGE != 0 ]]; then
	# Like upstream's netns.sh: one peer with 255 * 256 * 2 allowed IPs.
	huge_ips=$(printf '%s.0.0/16, ' {1..255}.{0..255}; printf 'fd00:%s::/48, ' {1..255}:{0..255})
	{
		echo "[Interface]"
		echo "PrivateKey = $PRIV"
		echo "[Peer]"
		echo "PublicKey = ${PUB[7]}"
		echo "AllowedIPs = ${huge_ips%, }"
	} >"$tmp/huge.conf"
	unset huge_ips
fi

# ------------------------------------------------------------------- cases

case_keys() {
	local k p1 p2 psk bytes ok=0
	k=$("$WGRS" genkey) || return 1
	[[ ${#k} -eq 44 && $k == *= ]] || { diag "genkey: bad format '$k'"; ok=1; }
	bytes=$(printf '%s' "$k" | base64 -d | od -An -tu1 | tr -s ' \n' ' ')
	read -r -a b <<<"$bytes"
	if ((b[0] & 7 || b[31] & 128 || !(b[31] & 64))); then
		diag "genkey not clamped: first=${b[0]} last=${b[31]}"
		ok=1
	fi
	p1=$(printf '%s\n' "$k" | "$WG" pubkey)
	p2=$(printf '%s\n' "$k" | "$WGRS" pubkey)
	[[ -n $p1 && $p1 == "$p2" ]] || { diag "pubkey: wg=$p1 wgrs=$p2"; ok=1; }
	k=$("$WG" genkey)
	p1=$(printf '%s' "$k" | "$WG" pubkey)
	p2=$(printf '%s' "$k" | "$WGRS" pubkey)
	[[ $p1 == "$p2" ]] || { diag "pubkey of wg key: wg=$p1 wgrs=$p2"; ok=1; }
	psk=$("$WGRS" genpsk)
	[[ ${#psk} -eq 44 ]] || { diag "genpsk: bad '$psk'"; ok=1; }
	printf 'garbage\n' | "$WGRS" pubkey >/dev/null 2>&1 && { diag "pubkey accepted garbage"; ok=1; }
	printf '%s x\n' "$k" | "$WGRS" pubkey >/dev/null 2>&1 && { diag "pubkey accepted trailing data"; ok=1; }
	return "$ok"
}

# All read-only output of a device configured by wg.
compare_show() {
	local conf=$1 p ok=0
	{ fresh && A "$WG" setconf wg0 "$tmp/$conf.conf"; } || { diag "wg setconf $conf failed"; return 1; }
	cmp_out showconf showconf wg0 || ok=1
	cmp_out dump show all dump || ok=1
	cmp_out dump1 show wg0 dump || ok=1
	cmp_out pretty show wg0 || ok=1
	cmp_out pretty_all show all || ok=1
	cmp_out noargs || ok=1
	cmp_out color WG_COLOR_MODE=always show wg0 || ok=1
	cmp_out nocolor WG_COLOR_MODE=never show wg0 || ok=1
	cmp_out keys WG_HIDE_KEYS=never show all || ok=1
	for p in public-key private-key listen-port fwmark peers preshared-keys endpoints \
		allowed-ips latest-handshakes transfer persistent-keepalive dump; do
		cmp_out "param-$p" show wg0 "$p" || ok=1
		cmp_out "param-all-$p" show all "$p" || ok=1
	done
	cmp_out interfaces show interfaces || ok=1
	return "$ok"
}

# wgrs setconf gives the same device as wg setconf.
compare_setconf() {
	local conf=$1
	fresh || return 1
	A "$WG" setconf wg0 "$tmp/$conf.conf" || { diag "wg setconf failed"; return 1; }
	B "$WGRS" setconf wg0 "$tmp/$conf.conf" 2>"$tmp/err" || {
		diag "wgrs setconf failed: $(head -c 300 "$tmp/err")"
		return 1
	}
	same_device "setconf $conf"
}

case_show_basic() { compare_show basic; }
case_show_many() { compare_show many; }
case_show_large() { compare_show large; }
case_show_huge() { compare_show huge; }
case_setconf_basic() { compare_setconf basic; }
case_setconf_many() { compare_setconf many; }
case_setconf_large() { compare_setconf large; }
case_setconf_huge() { compare_setconf huge; }

case_two_devices() {
	local ok=0
	fresh && A "$WG" setconf wg0 "$tmp/basic.conf" || return 1
	ip -n "$nsA" link add wg1 type wireguard || return 1
	A "$WG" set wg1 private-key "$tmp/priv2" listen-port 2 peer "${PUB[9]}" allowed-ips 10.9.0.0/16 || ok=1
	cmp_out ifs show interfaces || ok=1
	cmp_out all show all || ok=1
	cmp_out alldump show all dump || ok=1
	cmp_out allpeers show all peers || ok=1
	cmp_out noargs2 || ok=1
	ip -n "$nsA" link del wg1
	return "$ok"
}

# run_both ARGS...: `wg ARGS` in A and `wgrs ARGS` in B, then compare.
run_both() {
	local rc_wg rc_rs
	A "$WG" "$@" >"$tmp/rb.wg" 2>&1
	rc_wg=$?
	B "$WGRS" "$@" >"$tmp/rb.rs" 2>&1
	rc_rs=$?
	if [[ $rc_wg -ne $rc_rs ]]; then
		diag "'$*': exit status wg=$rc_wg wgrs=$rc_rs"
		sed 's/^/# wgrs: /' "$tmp/rb.rs" | head -n 5
		return 1
	fi
	same_device "after '$*'"
}

case_set() {
	fresh || return 1
	run_both setconf wg0 "$tmp/basic.conf" || return 1
	run_both set wg0 listen-port 4242 fwmark 0x99 || return 1
	run_both set wg0 fwmark off listen-port 0 || return 1
	run_both set wg0 private-key "$tmp/priv2" || return 1
	run_both set wg0 private-key "$tmp/empty" || return 1
	run_both set wg0 peer "${PUB[10]}" endpoint 192.0.2.10:1000 persistent-keepalive 15 \
		allowed-ips 10.20.0.0/16,fd20::/64 preshared-key "$tmp/psk" || return 1
	run_both set wg0 peer "${PUB[10]}" endpoint '[2001:db8::10]:1001' persistent-keepalive off || return 1
	run_both set wg0 peer "${PUB[10]}" preshared-key "$tmp/empty" || return 1
	run_both set wg0 peer "${PUB[0]}" remove peer "${PUB[11]}" allowed-ips 10.21.0.1 || return 1
	run_both set wg0 peer "${PUB[1]}" allowed-ips '10.30.0.0/24, 10.31.0.0/24' || return 1
	run_both set wg0 peer "${PUB[1]}" allowed-ips '' || return 1
}

case_allowedips_incremental() {
	fresh || return 1
	run_both setconf wg0 "$tmp/basic.conf" || return 1
	run_both set wg0 peer "${PUB[0]}" allowed-ips -10.10.0.0/16 || return 1
	run_both set wg0 peer "${PUB[0]}" allowed-ips +10.40.0.0/16,-fd00::1/128 || return 1
	run_both set wg0 peer "${PUB[0]}" allowed-ips -10.0.0.1,+10.41.0.0/16,10.42.0.0/16 || return 1
	A "$WG" show wg0 allowed-ips | grep -q '10.10.0.0/16' && { diag "removal did not happen"; return 1; }
	return 0
}

case_set_thousands() {
	local list
	list=$(printf '10.%s.1/32,' {50..60}.{0..255})
	list+=$(printf 'fd50::%s/128,' {1..1000})
	list=${list%,}
	fresh || return 1
	run_both set wg0 private-key "$tmp/priv2" peer "${PUB[12]}" allowed-ips "$list" || return 1
	run_both set wg0 peer "${PUB[12]}" allowed-ips "-10.55.0.1/32,+10.99.0.0/16" || return 1
}

case_addconf() {
	cat >"$tmp/add.conf" <<CONF
[Peer]
PublicKey = ${PUB[0]}
AllowedIPs = 10.77.0.0/16
[Peer]
PublicKey = ${PUB[20]}
Endpoint = 192.0.2.20:20
AllowedIPs = 10.78.0.0/16
CONF
	fresh || return 1
	run_both setconf wg0 "$tmp/basic.conf" || return 1
	run_both addconf wg0 "$tmp/add.conf" || return 1
}

case_syncconf() {
	cat >"$tmp/sync.conf" <<CONF
[Interface]
PrivateKey = $PRIV
ListenPort = 51820
[Peer]
PublicKey = ${PUB[0]}
AllowedIPs = 10.0.0.1/32
Endpoint = 192.0.2.1:51820
[Peer]
PublicKey = ${PUB[21]}
AllowedIPs = 10.79.0.0/16
CONF
	fresh || return 1
	run_both setconf wg0 "$tmp/many.conf" || return 1
	run_both syncconf wg0 "$tmp/sync.conf" || return 1
	run_both syncconf wg0 "$tmp/basic.conf" || return 1
	# Back to a file without PSK and keepalive for a peer that has both.
	run_both syncconf wg0 "$tmp/sync.conf"
}

case_setconf_empty() {
	printf '[Interface]\n' >"$tmp/emptydev.conf"
	fresh || return 1
	run_both setconf wg0 "$tmp/basic.conf" || return 1
	run_both setconf wg0 "$tmp/emptydev.conf" || return 1
}

# expect_fail DESC [PATTERN] -- ARGS...: wgrs ARGS in B fails with a message
# on stderr (matching PATTERN if given) and leaves wg0 exactly as it was.
expect_fail() {
	local desc=$1 pattern=$2 rc
	shift 3
	conf_B >"$tmp/before" 2>&1
	B env WG_ENDPOINT_RESOLUTION_RETRIES=0 "$WGRS" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	conf_B >"$tmp/after" 2>&1
	if [[ $rc -eq 0 ]]; then
		diag "$desc: wgrs $* exited 0"
		return 1
	fi
	if [[ ! -s $tmp/err ]]; then
		diag "$desc: no message on stderr"
		return 1
	fi
	if [[ -n $pattern ]] && ! grep -qE -- "$pattern" "$tmp/err"; then
		diag "$desc: stderr does not match /$pattern/:"
		sed 's/^/# /' "$tmp/err" | head -n 5
		return 1
	fi
	same "$desc: device changed" "$tmp/before" "$tmp/after"
}

bad_setup() {
	ip -n "$nsB" link del wg0 2>/dev/null
	ip -n "$nsB" link add wg0 type wireguard && B "$WG" setconf wg0 "$tmp/basic.conf"
}

case_bad_key() {
	bad_setup || return 1
	expect_fail "bad key" "Key is not the correct length or format" -- set wg0 peer 'not-a-key' allowed-ips 10.0.0.0/8 &&
		expect_fail "bad key in file" "" -- set wg0 private-key "$tmp/basic.conf" &&
		expect_fail "missing key file" "fopen" -- set wg0 private-key "$tmp/does-not-exist" &&
		expect_fail "bad key, valid peers first" "Key is not" -- set wg0 listen-port 7 peer "${PUB[30]}" allowed-ips 10.3.0.0/16 peer "${PUB[31]%=}x"
}

case_bad_cidr() {
	bad_setup || return 1
	expect_fail "cidr /33" "AllowedIP is not in the correct format" -- set wg0 peer "${PUB[0]}" allowed-ips 10.0.0.0/33 &&
		expect_fail "cidr /129" "AllowedIP" -- set wg0 peer "${PUB[0]}" allowed-ips fd00::/129 &&
		expect_fail "bad ip" "Unable to parse IP address" -- set wg0 peer "${PUB[0]}" allowed-ips 10.0.0.0/8,10.0.0.256/32 &&
		expect_fail "cidr letters" "AllowedIP" -- set wg0 peer "${PUB[0]}" allowed-ips 10.0.0.0/a
}

case_bad_endpoint() {
	bad_setup || return 1
	expect_fail "endpoint without port" "Unable to find port of endpoint" -- set wg0 peer "${PUB[0]}" endpoint 192.0.2.1 &&
		expect_fail "endpoint brace" "matching brace" -- set wg0 peer "${PUB[0]}" endpoint '[2001:db8::1:5' &&
		expect_fail "endpoint unresolvable" "" -- set wg0 peer "${PUB[0]}" endpoint no-such-host.invalid:51820 &&
		expect_fail "endpoint empty" "empty endpoint" -- set wg0 peer "${PUB[0]}" endpoint ''
}

case_bad_scalars() {
	bad_setup || return 1
	expect_fail "port" "" -- set wg0 listen-port no-such-service-name &&
		expect_fail "fwmark" "Fwmark is neither" -- set wg0 fwmark 0x100000000 &&
		expect_fail "keepalive" "Persistent keepalive" -- set wg0 peer "${PUB[0]}" persistent-keepalive 65536 &&
		expect_fail "unknown argument" "Invalid argument: frobnicate" -- set wg0 frobnicate 1 &&
		expect_fail "set usage" "Usage:" -- set wg0
}

case_bad_config_line() {
	bad_setup || return 1
	cat >"$tmp/bad1.conf" <<CONF
[Interface]
PrivateKey = $PRIV

[Peer]
Bogus = 1
CONF
	cat >"$tmp/bad2.conf" <<CONF
[Interface]
ListenPort = 999
[Peer]
PublicKey = ${PUB[40]}
AllowedIPs = 10.50.0.0/16
[Peer]
PublicKey = ${PUB[41]}
AllowedIPs = 10.51.0.0/16, 10.52.0.0/99
CONF
	printf '[Peer]\nAllowedIPs = 10.0.0.0/8\n' >"$tmp/bad3.conf"
	local c
	for c in setconf addconf syncconf; do
		expect_fail "$c bad line" "bad1.conf:5: Line unrecognized" -- "$c" wg0 "$tmp/bad1.conf" || return 1
		expect_fail "$c bad value" "bad2.conf:8: AllowedIP" -- "$c" wg0 "$tmp/bad2.conf" || return 1
		expect_fail "$c no public key" "bad3.conf:1: A peer is missing a public key" -- "$c" wg0 "$tmp/bad3.conf" || return 1
		expect_fail "$c missing file" "fopen" -- "$c" wg0 "$tmp/nope.conf" || return 1
	done
}

case_unknown_interface() {
	local ok=0 c
	bad_setup || return 1
	expect_fail "set unknown" "No such device" -- set nosuchwg0 listen-port 1 || ok=1
	expect_fail "setconf unknown" "No such device" -- setconf nosuchwg0 "$tmp/basic.conf" || ok=1
	expect_fail "show unknown" "No such device" -- show nosuchwg0 || ok=1
	expect_fail "showconf unknown" "No such device" -- showconf nosuchwg0 || ok=1
	expect_fail "not wireguard" "" -- set lo listen-port 1 || ok=1
	cmp_out badparam show wg0 bogus-param || ok=1
	for c in "show nosuchwg0" "showconf nosuchwg0" "set nosuchwg0 listen-port 1" "show lo"; do
		# shellcheck disable=SC2086
		cmp_out stderr-check $c || ok=1
		same "stderr of '$c'" "$tmp/stderr-check.wg.err" "$tmp/stderr-check.rs.err" || ok=1
	done
	return "$ok"
}

case_eperm() {
	command -v setpriv >/dev/null || { diag "setpriv not found"; return 2; }
	bad_setup || return 1
	local ok=0 unpriv=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)
	# The binary may live where nobody cannot reach it: use a copy.
	chmod 0711 "$tmp"
	install -m 0755 "$WGRS" "$tmp/wgrs-unpriv" || return 1
	B "${unpriv[@]}" "$tmp/wgrs-unpriv" --version >/dev/null 2>&1 || { diag "cannot run wgrs unprivileged"; return 2; }
	B "${unpriv[@]}" "$tmp/wgrs-unpriv" set wg0 listen-port 5 >/dev/null 2>"$tmp/err" && { diag "unprivileged set succeeded"; ok=1; }
	grep -q "Operation not permitted" "$tmp/err" || { diag "set: $(cat "$tmp/err")"; ok=1; }
	B "${unpriv[@]}" "$tmp/wgrs-unpriv" show wg0 >/dev/null 2>"$tmp/err" && { diag "unprivileged show succeeded"; ok=1; }
	grep -q "Operation not permitted" "$tmp/err" || { diag "show: $(cat "$tmp/err")"; ok=1; }
	conf_B >"$tmp/after" 2>&1
	B "$WG" setconf wg0 "$tmp/basic.conf"
	conf_B >"$tmp/before" 2>&1
	same "EPERM left device" "$tmp/before" "$tmp/after" || ok=1
	return "$ok"
}

CASES=(
	"case_keys|genkey/genpsk/pubkey interoperate with wg and clamp"
	"case_show_basic|show/showconf/dump output identical (IPv4+IPv6 endpoints, PSK, keepalive, fwmark)"
	"case_show_many|show/showconf/dump output identical (50 peers)"
	"case_show_large|show/showconf/dump output identical (peer with 6097 allowed IPs)"
	"case_setconf_basic|wgrs setconf == wg setconf (basic)"
	"case_setconf_many|wgrs setconf == wg setconf (50 peers)"
	"case_setconf_large|wgrs setconf == wg setconf (6097 allowed IPs)"
	"case_two_devices|show all / interfaces with two devices"
	"case_set|wgrs set == wg set (port, fwmark, keys, peers, endpoints, keepalive, remove)"
	"case_allowedips_incremental|allowed-ips +/- incremental changes"
	"case_set_thousands|set with thousands of allowed IPs on the command line"
	"case_addconf|wgrs addconf == wg addconf"
	"case_syncconf|wgrs syncconf == wg syncconf"
	"case_setconf_empty|setconf of an empty configuration"
	"case_bad_key|bad keys rejected, device unchanged"
	"case_bad_cidr|bad CIDRs rejected, device unchanged"
	"case_bad_endpoint|bad endpoints rejected, device unchanged"
	"case_bad_scalars|bad port/fwmark/keepalive/arguments rejected, device unchanged"
	"case_bad_config_line|bad config lines rejected with file:line, device unchanged"
	"case_unknown_interface|unknown or non-wireguard interface: same errors as wg"
	"case_eperm|no CAP_NET_ADMIN: EPERM reported, device unchanged"
)
if [[ $HUGE != 0 ]]; then
	CASES+=(
		"case_show_huge|show/showconf identical (peer with 130560 allowed IPs)"
		"case_setconf_huge|wgrs setconf == wg setconf (130560 allowed IPs, split messages)"
	)
fi

echo "TAP version 13"
echo "1..${#CASES[@]}"
diag "wg: $WG ($("$WG" --version 2>&1))"
diag "wgrs: $WGRS ($("$WGRS" --version 2>&1))"
n=0
failed=0
skipped=0
for c in "${CASES[@]}"; do
	n=$((n + 1))
	fn=${c%%|*}
	desc=${c#*|}
	"$fn"
	rc=$?
	if [[ $rc -eq 0 ]]; then
		echo "ok $n - $desc"
	elif [[ $rc -eq 2 ]]; then
		echo "ok $n - $desc # SKIP"
		skipped=$((skipped + 1))
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
	fi
done
diag "$((n - failed - skipped)) passed, $failed failed, $skipped skipped"
if [[ $failed -ne 0 ]]; then
	exit "$KSFT_FAIL"
fi
# A skipped case did not pass: the run as a whole is a skip, which the
# harness (and make check) counts as a failure.
if [[ $skipped -ne 0 ]]; then
	exit "$KSFT_SKIP"
fi
exit "$KSFT_PASS"
