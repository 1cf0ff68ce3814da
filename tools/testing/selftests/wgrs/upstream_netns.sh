#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel's own WireGuard selftest, tools/testing/selftests/wireguard/
# netns.sh, run unmodified against wgrs.ko (lifetime log lines on, so its
# final leak check pairs real "created"/"destroyed" lines). One KTAP case;
# on failure the step that failed and the tail of its output.
# ksft-timeout: 2400
set -u
cd "$(dirname "$0")" && . ./lib.sh
require_root
ktap_header 1

netns=${UPSTREAM_NETNS:-/mnt/ksrc/wireguard/netns.sh}
if [ ! -r "$netns" ]; then
	ktap_fail "upstream netns.sh against $WGRS_MODULE"
	echo "# $netns not found (set UPSTREAM_NETNS)" | ktap_diag
	ktap_finish
fi
modprobe -r wireguard "$WGRS_MODULE" 2>/dev/null
if ! modprobe "$WGRS_MODULE" debug=1; then
	ktap_fail "upstream netns.sh against $WGRS_MODULE"
	ktap_finish
fi
log=$(mktemp)
start=$SECONDS
bash "$netns" >"$log" 2>&1
rc=$?
clean=$(sed -e 's/\x1b\[[0-9;]*m//g' -e 's/\r$//' "$log")
echo "# netns.sh exit $rc after $((SECONDS - start)) s"
if [ $rc = 0 ] && grep -q "Objects that were created were also destroyed" <<<"$clean"; then
	ktap_ok "upstream netns.sh against $WGRS_MODULE"
	grep -c '^\[+\]' <<<"$clean" | sed 's/^/# steps run: /'
else
	ktap_fail "upstream netns.sh against $WGRS_MODULE"
	# Its clean-up starts by deleting NS0's wg0: the step before it failed.
	awk '/^\[\+\] NS0: ip link del dev wg0$/ { print "failing step: " step; exit }
	     /^\[\+\] / { step = $0 }' <<<"$clean" | ktap_diag
	tail -n 40 <<<"$clean" | ktap_diag
fi
rm -f "$log"
modprobe -r "$WGRS_MODULE" 2>/dev/null
ktap_finish
