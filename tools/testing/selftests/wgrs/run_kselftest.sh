#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs the given kselftest programs in order as one KTAP document, each
# program's own KTAP nested under its result line, like kselftest's runner.
# Prints a closing "N passed, N failed, N skipped" line; exits non-zero if any
# program failed or was skipped (a skip is not a pass).
cd "$(dirname "$0")" || exit 1
default_timeout=${KSFT_TIMEOUT:-1200}
# Leak reports are about this suite only: forget what boot allocated. And
# no automatic scans: on the debug kernel under TCG each walk of memory
# takes minutes of CPU from the tests; kernel_health.sh scans at the end.
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan=off >/sys/kernel/debug/kmemleak
	echo clear >/sys/kernel/debug/kmemleak
fi
echo "TAP version 13"
echo "1..$#"
n=0 pass=0 fail=0 skip=0
for t in "$@"; do
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
done
echo "# kselftest wgrs: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] && [ $skip -eq 0 ]
