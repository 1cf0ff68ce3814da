#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The receive hand-off (module parameter rx_handoff): values it refuses,
# then cdriver_compare.sh's traffic cases with wgrs.ko loaded with
# rx_handoff=2, so that every train of two or more received packets of a
# session is decrypted by a crypt worker on some CPU and delivered by the
# peer's receive stage: what wg(8) and the counters report, and the order
# in which numbered datagrams and data messages arrive, must still be what
# wireguard.ko gives. On the debug kernel (lockdep, KASAN, kmemleak).
set -u
cd "$(dirname "$0")" && . ./lib.sh && . ./tunnel_lib.sh
require_root

ktap_header 5
no_autoload
dmesg_mark

refused() { # VALUE
	modprobe -r "$WGRS_MODULE" 2>/dev/null
	if modprobe "$WGRS_MODULE" rx_handoff="$1" 2>&1; then
		echo "modprobe $WGRS_MODULE rx_handoff=$1 succeeded"
		modprobe -r "$WGRS_MODULE"
		return 1
	fi
	dmesg | sed -n "/$__dmesg_mark/,\$p" | grep -q "rx_handoff=$1 refused" ||
		{ echo "no 'rx_handoff=$1 refused' in the kernel log"; return 1; }
}
check "rx_handoff=1 is refused, with a reason in the kernel log" refused 1
check "rx_handoff=65 is refused, with a reason in the kernel log" refused 65

loaded() {
	load_only "$WGRS_MODULE" rx_handoff=2 &&
		dmesg | sed -n "/$__dmesg_mark/,\$p" | grep -q "rx_handoff=2: received trains of 2 or more"
}
check "$WGRS_MODULE loads with rx_handoff=2 and says so" loaded
modprobe -r "$WGRS_MODULE"

cases="live order rxorder"
compare() {
	local out n_ok n_plan
	out=$(WGRS_CMP_CASES="$cases" WGRS_CMP_PARAMS="rx_handoff=2" ./cdriver_compare.sh 2>&1)
	printf '%s\n' "$out" | sed 's/^/# /'
	n_plan=$(printf '%s\n' "$out" | sed -n 's/^1\.\.\([0-9]*\)$/\1/p' | head -1)
	n_ok=$(printf '%s\n' "$out" | grep -c '^ok ')
	[ -n "$n_plan" ] && [ "$n_ok" = "$n_plan" ] ||
		{ echo "cdriver_compare.sh: $n_ok of ${n_plan:-?} ok"; return 1; }
}
check "cdriver_compare.sh ($cases) with rx_handoff=2: wgrs.ko reports what wireguard.ko reports" compare
check "no splat in the kernel log" no_splat
ktap_finish
