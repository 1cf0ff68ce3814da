#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# cli_compat.sh (wgrs against wg, byte for byte) with the in-tree C
# wireguard.ko loaded, so the CLI is checked against the reference driver.
# Slow under QEMU/TCG on the debug kernel (two CLIs, dozens of commands per
# case, up to 130,560 allowed IPs): `make cli-compat` runs it, not make check.
# ksft-timeout: 3600
set -u
cd "$(dirname "$0")" && . ./lib.sh
require_root

wgrs=${WGRS:-${WGRS_BIN:+$WGRS_BIN/wgrs}}
wgrs=${wgrs:-$(command -v wgrs)}
if [ -z "$wgrs" ] || [ ! -x "$wgrs" ]; then
	ktap_header 1
	ktap_skip "cli_compat against wireguard.ko" "no wgrs binary (set WGRS or WGRS_BIN)"
	exit $KSFT_SKIP
fi
if ! modinfo wireguard >/dev/null 2>&1; then
	ktap_header 1
	ktap_skip "cli_compat against wireguard.ko" "no wireguard.ko installed"
	exit $KSFT_SKIP
fi
modprobe -r "$WGRS_MODULE" 2>/dev/null
modprobe wireguard || { ktap_header 1; ktap_fail "load wireguard.ko"; ktap_finish; }
echo "# wgrs CLI against the C driver $(modinfo -F filename wireguard)"
WGRS=$wgrs ./cli_compat.sh
rc=$?
modprobe -r wireguard
exit $rc
