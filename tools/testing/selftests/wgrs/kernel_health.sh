#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs last: the kernel must have stayed healthy through the whole suite.
# - no splat in the kernel log since boot (lockdep, KASAN, UBSAN, RCU,
#   sleeping in atomic context, WARN/BUG, hung tasks, soft lockups);
# - no leak reported by kmemleak after both modules are unloaded (the suite
#   clears kmemleak's list when it starts, so only objects allocated during
#   the tests count).
set -u
cd "$(dirname "$0")" && . ./lib.sh
require_root
ktap_header 3

splat='BUG:|WARNING:|INFO: (possible|suspicious|lockdep|task .* blocked)|KASAN|UBSAN|kmemleak:.*suspected|Call Trace|general protection|RCU detected|rcu_sched|soft lockup|hard lockup|sleeping function called|inconsistent lock state|possible recursive locking|circular locking|Oops'
log=$(dmesg --notime 2>/dev/null)
hits=$(printf '%s\n' "$log" | grep -E "$splat" | grep -vE 'kunit|KTAP|# Subtest|selftest' || true)
if [ -z "$hits" ]; then
	ktap_ok "no splat in the kernel log"
else
	ktap_fail "no splat in the kernel log"
	printf '%s\n' "$hits" | head -40 | ktap_diag
fi

modprobe -r wgrs wireguard 2>/dev/null
check "both modules unloaded" bash -c '! [ -d /sys/module/wgrs ] && ! [ -d /sys/module/wireguard ]'

km=/sys/kernel/debug/kmemleak
if [ ! -w "$km" ]; then
	ktap_fail "kmemleak finds no leak" 
	echo "# $km is not available: the test kernel must have CONFIG_DEBUG_KMEMLEAK" | ktap_diag
else
	# Objects must be older than kmemleak's minimum age and unreferenced
	# in two scans in a row to be reported.
	echo scan >"$km"; sleep 6; echo scan >"$km"
	report=$(cat "$km")
	if [ -z "$report" ]; then
		ktap_ok "kmemleak finds no leak"
	else
		ktap_fail "kmemleak finds no leak"
		printf '%s\n' "$report" | head -80 | ktap_diag
	fi
fi
ktap_finish
