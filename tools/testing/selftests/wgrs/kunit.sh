#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Loads wgrs.ko, whose KUnit suites run on load, and reports each suite's
# result from the KTAP the kernel logged. Fails if no suite ran.
set -u
cd "$(dirname "$0")" && . ./lib.sh
require_root

modprobe -r "$WGRS_MODULE" 2>/dev/null
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

mapfile -t suites < <(printf '%s\n' "$log" | sed -nE 's/^(not )?ok [0-9]+ (wgrs_[A-Za-z0-9_]+).*/\2/p')
if [ ${#suites[@]} -eq 0 ]; then
	ktap_header 1
	ktap_fail "KUnit suites of $WGRS_MODULE ran"
	printf '%s\n' "$log" | tail -n 30 | ktap_diag
	ktap_finish
fi
ktap_header ${#suites[@]}
for s in "${suites[@]}"; do
	totals=$(printf '%s\n' "$log" | sed -nE "s/^# $s: (pass:[0-9]+ fail:[0-9]+ skip:[0-9]+ total:[0-9]+)/\1/p" | tail -n 1)
	if printf '%s\n' "$log" | grep -qE "^not ok [0-9]+ $s\b"; then
		ktap_fail "kunit $s ($totals)"
		# The suite's failing cases and their assertion messages.
		printf '%s\n' "$log" | sed -n "/# Subtest: $s\$/,/^\(not \)\?ok [0-9]* $s\b/p" |
			grep -E 'not ok|ASSERTION|Expected|#' | ktap_diag
	elif [[ "$totals" =~ skip:[1-9] ]]; then
		ktap_skip "kunit $s ($totals)" "some cases skipped"
	elif [[ "$totals" =~ total:0 ]] || [ -z "$totals" ]; then
		ktap_fail "kunit $s ran no case"
	else
		ktap_ok "kunit $s ($totals)"
	fi
done
ktap_finish
