# SPDX-License-Identifier: GPL-2.0
# Helpers for the wgrs selftests that carry traffic (gate.sh): waiting,
# keys, veth pairs, namespaces, counters, the kernel log.
# Source it after lib.sh.

# A test stopped by kselftest's timeout still cleans up (lib.sh's EXIT trap).
trap 'exit 143' TERM

# load_only MODULE [PARAM=VALUE...]: MODULE loaded (with those
# parameters), wireguard.ko and wgrs.ko otherwise not, and no module
# auto-loading from here on: `ip link add type wireguard` must never
# quietly load the other driver when MODULE failed to load.
load_only() {
	modprobe -r wireguard "$WGRS_MODULE" 2>/dev/null
	[ "$(cat /proc/sys/kernel/modprobe)" = /bin/false ] || no_autoload
	if ! modprobe "$@" || ! module_loaded "$1"; then
		echo "cannot load $1"
		return 1
	fi
}

# stop_b: stops the userspace WireGuard (wireguard-go, boringtun) that a
# test started in the background as $pidB on the TUN device $IF, and
# removes its UAPI socket. Nothing to do when $pidB is empty.
stop_b() {
	[ -n "$pidB" ] || return 0
	kill "$pidB" 2>/dev/null
	wait "$pidB" 2>/dev/null
	pidB=
	rm -f /run/wireguard/$IF.sock
}

# netns_add NS...: new network namespaces, deleted again when the test ends.
# Runs in the test's own shell (the clean-up list lives there).
netns_add() {
	local n
	for n; do
		ip netns add "$n" || return 1
		on_exit "ip netns del $n"
	done
}

# wait_for SECONDS CMD...: polls CMD until it succeeds, quickly at first,
# then once a second. (A poll forks: on the debug kernel under TCG that is
# costly, and a long wait polling five times a second would take CPU from
# the test VM next to this one.)
wait_for() {
	local deadline=$((SECONDS + $1)) i=0
	local -a pause=(0.2 0.2 0.5 0.5 1)
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep "${pause[i]}"
		i=$((i < 4 ? i + 1 : 4))
	done
}

# new_key FILE: a fresh private key in FILE; prints its public key.
new_key() {
	(umask 077 && wg genkey >"$1") && wg pubkey <"$1"
}

# veth_pair NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair between two namespaces,
# each end up with its address (CIDR; v6 addresses skip DAD).
veth_pair() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" || return 1
	ip -n "$1" link set lo up && ip -n "$4" link set lo up &&
		ip -n "$1" link set "$2" up && ip -n "$4" link set "$5" up &&
		ip -n "$1" addr add "$3" dev "$2" && ip -n "$4" addr add "$6" dev "$5"
}

# addr6 NS IF ADDR: an IPv6 address without duplicate address detection.
addr6() { ip -n "$1" addr add "$3" dev "$2" nodad; }

# nsx NS CMD...: CMD in NS's network namespace only. Unlike `ip netns exec`
# it makes no mount namespace and remounts no /sys (so CMD must not read
# /sys/class/net), and it is one light exec: under TCG with a debug kernel
# every process counts.
nsx() { local n=$1; shift; nsenter --net="/run/netns/$n" -- "$@"; }

# ns_anchor NS: a sleeping process in NS, whose /proc/PID/net/dev gives
# NS's device counters without starting anything (dev_stat below).
declare -A __anchor=()
ns_anchor() {
	nsx "$1" sleep 100000 &
	__anchor[$1]=$!
	# Until nsenter has switched (the same nsfs inode as the name).
	local i
	for ((i = 0; i < 100; i++)); do
		[ "/proc/$!/ns/net" -ef "/run/netns/$1" ] && return 0
		sleep 0.1
	done
	return 1
}
ns_unanchor() {
	[ -n "${__anchor[$1]:-}" ] && kill "${__anchor[$1]}" 2>/dev/null
	unset "__anchor[$1]"
	return 0
}

# dev_stat NS DEV COUNTER: rx_bytes rx_packets rx_errors rx_dropped
# tx_bytes tx_packets tx_errors tx_dropped, from /proc/net/dev (through
# NS's anchor if it has one, else in NS).
dev_stat() {
	local col line name
	case $3 in
	rx_bytes) col=1 ;; rx_packets) col=2 ;; rx_errors) col=3 ;; rx_dropped) col=4 ;;
	tx_bytes) col=9 ;; tx_packets) col=10 ;; tx_errors) col=11 ;; tx_dropped) col=12 ;;
	*) ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; return ;;
	esac
	local -a f
	if [ -n "${__anchor[$1]:-}" ]; then
		while IFS= read -r line; do
			name=${line%%:*}
			name=${name// /}
			[ "$name" = "$2" ] || continue
			read -ra f <<<"${line#*:}"
			echo "${f[col - 1]}"
			return 0
		done <"/proc/${__anchor[$1]}/net/dev"
		return 1
	fi
	nsx "$1" cat /proc/net/dev | awk -v d="$2:" -v c=$col '$1 == d { print $(c + 1) }'
}

# peer_field NS IF PUB COL: a column of `wg show IF dump` for the peer PUB
# (as in wg(8): 2 preshared key, 3 endpoint, 4 allowed IPs, 5 latest
# handshake, 6 rx, 7 tx); "none" if there is no such peer. NS "-" runs wg
# where we are (a userspace device's UAPI socket is found by name).
peer_field() {
	local out line
	if [ "$1" = - ]; then out=$(wg show "$2" dump); else out=$(nsx "$1" wg show "$2" dump); fi
	local -a f
	local first=1
	while IFS= read -r line; do
		[ -n "$first" ] && { first=; continue; }
		IFS=$'\t' read -ra f <<<"$line"
		[ "${f[0]}" = "$3" ] || continue
		echo "${f[$4 - 1]}"
		return 0
	done <<<"$out"
	echo none
}

# The kernel log from this program's start on: dmesg_mark writes a marker,
# no_splat fails (printing what it found) if anything after it looks like a
# kernel bug report. The VM runs with panic_on_warn, so most of these would
# have ended the run already; this catches the rest (and runs elsewhere).
SPLAT_RE='BUG:|WARNING:|KASAN|UBSAN|Call Trace|general protection fault|Oops'
dmesg_mark() {
	__dmesg_mark="wgrs-selftest-mark-${0##*/}-$$-$RANDOM"
	echo "$__dmesg_mark" >/dev/kmsg
}
no_splat() {
	local s
	s=$(dmesg | sed -n "/$__dmesg_mark/,\$p" | grep -E "$SPLAT_RE")
	[ -z "$s" ] && return 0
	printf '%s\n' "$s" | head -n 40
	return 1
}
