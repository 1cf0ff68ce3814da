#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Loads wgrs.ko, whose KUnit suites run on load, and reports each suite's
# result from the KTAP the kernel logged. Fails if no suite ran.
# The test VM boots with a kunit.filter_glob that matches no suite, so that
# the other scripts' many loads do not rerun the suites; this load widens it
# to the module's suites and puts the boot value back afterwards.
set -u
cd "$(dirname "$0")" && . ./lib.sh
require_root

glob=/sys/module/kunit/parameters/filter_glob
modprobe -r "$WGRS_MODULE" 2>/dev/null
if [ -w "$glob" ]; then
	old_glob=$(cat "$glob")
	# printf, not echo: the kernel keeps a trailing newline as part of the glob.
	printf %s 'wgrs_*' >"$glob"
	on_exit "printf %s '$old_glob' > $glob"
fi
dmesg -C
if ! modprobe "$WGRS_MODULE"; then
	ktap_header 1
	ktap_fail "load $WGRS_MODULE"
	ktap_finish
fi
modprobe -r "$WGRS_MODULE"
log=$(dmesg --notime)
# Keep the raw KTAP for the harness to archive.
[ -n "${KUNIT_LOG:-}" ] && printf '%s\n' "$log" >"$KUNIT_LOG"

# One result per KUnit case: "<status> <suite>.<case>", status ok/fail/skip.
# Suites are nested one level in the kernel's KTAP; cases two levels.
results=$(printf '%s\n' "$log" | awk '
	/^    # Subtest: wgrs_/ { suite = $3; next }
	/^(not )?ok [0-9]+ wgrs_/ { suite = ""; next }
	suite != "" && /^        (not )?ok [0-9]+ / { next }   # parameterised sub-cases
	suite != "" && /^    ok [0-9]+ / {
		st = ($0 ~ /# SKIP/) ? "skip" : "ok"; print st, suite "." $3; next }
	suite != "" && /^    not ok [0-9]+ / { print "fail", suite "." $4; next }')
n=$(printf '%s\n' "$results" | grep -c .)
if [ "$n" -eq 0 ]; then
	ktap_header 1
	ktap_fail "KUnit suites of $WGRS_MODULE ran"
	printf '%s\n' "$log" | tail -n 30 | ktap_diag
	ktap_finish
fi
ktap_header "$n"
while read -r st name; do
	case $st in
	ok) ktap_ok "kunit $name" ;;
	skip) ktap_skip "kunit $name" "skipped by the test" ;;
	*)
		ktap_fail "kunit $name"
		# The failing case's assertion messages.
		printf '%s\n' "$log" | grep -E "# ${name#*.}: |Expected|ASSERTION" | ktap_diag
		;;
	esac
done <<<"$results"
printf '%s\n' "$log" | grep -E '^# (wgrs_[a-z0-9_]+|Totals): ' | ktap_diag
ktap_finish
