#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs the given kselftest programs in order as one KTAP document, each
# program's own KTAP nested under its result line, like kselftest's runner.
# Prints a closing "N passed, N failed, N skipped" line; exits non-zero if any
# program failed or was skipped (a skip is not a pass).
#
# run_kselftest.sh [--queue DIR] PROG... : with --queue, a PROG "@queue"
# stands for the programs listed in DIR/list that no other runner has taken
# yet: this runner takes them one at a time (mkdir DIR/claimed.PROG, which
# only one runner sharing DIR can do) and records each one's exit status in
# DIR/claimed.PROG/rc. Two VM boots sharing DIR so split the work between
# them as they go, whichever is faster taking more.
cd "$(dirname "$0")" || exit 1
default_timeout=${KSFT_TIMEOUT:-1200}
queue=
if [ "${1:-}" = --queue ]; then
	queue=$2
	shift 2
fi
# Leak reports are about this suite only: forget what boot allocated. And
# no automatic scans: on the debug kernel under TCG each walk of memory
# takes minutes of CPU from the tests; kernel_health.sh scans at the end.
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan=off >/sys/kernel/debug/kmemleak
	echo clear >/sys/kernel/debug/kmemleak
fi
echo "TAP version 13"
# Without a queue the plan is known now; with one it comes at the end.
[ -n "$queue" ] || echo "1..$#"
n=0 pass=0 fail=0 skip=0
run_one() { # PROG: runs it, prints its result line; returns its exit status
	local t=$1 t_timeout timeout t_start rc
	n=$((n + 1))
	echo "# selftests: wgrs: $t"
	# A program may ask for more time than the default with a line
	# "# ksft-timeout: SECONDS".
	t_timeout=$(sed -n 's/^# ksft-timeout: \([0-9]*\)$/\1/p' "$t" | head -n 1)
	timeout=${t_timeout:-$default_timeout}
	t_start=$SECONDS
	timeout -k 5 "$timeout" "./$t" 2>&1 | sed 's/^/  /'
	rc=${PIPESTATUS[0]}
	echo "# $t took $((SECONDS - t_start)) s"
	case $rc in
	0) pass=$((pass + 1)); echo "ok $n selftests: wgrs: $t" ;;
	4) skip=$((skip + 1)); echo "ok $n selftests: wgrs: $t # SKIP" ;;
	124) fail=$((fail + 1)); echo "not ok $n selftests: wgrs: $t # TIMEOUT ${timeout}s" ;;
	*) fail=$((fail + 1)); echo "not ok $n selftests: wgrs: $t # exit=$rc" ;;
	esac
	return "$rc"
}
for t in "$@"; do
	if [ "$t" != @queue ]; then
		run_one "$t"
		continue
	fi
	if [ -z "$queue" ] || [ ! -r "$queue/list" ]; then
		# Nothing to take from: that is a failure, not an empty pass.
		n=$((n + 1)) fail=$((fail + 1))
		echo "not ok $n selftests: wgrs: @queue # no queue list"
		continue
	fi
	while read -r -u 3 q; do
		[ -n "$q" ] && mkdir "$queue/claimed.$q" 2>/dev/null || continue
		echo "# taken from the queue: $q"
		run_one "$q" 3<&-
		echo $? >"$queue/claimed.$q/rc"
	done 3<"$queue/list"
done
[ -z "$queue" ] || echo "1..$n"
echo "# kselftest wgrs: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] && [ $skip -eq 0 ]
