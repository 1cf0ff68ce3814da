#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# cli_compat.sh (wgrs against wg, byte for byte), unchanged, with wgrs.ko
# loaded: both CLIs configure and read wgrs.ko devices through its
# `wireguard` generic netlink family.
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
	ktap_skip "cli_compat against $WGRS_MODULE.ko" "no wgrs binary (set WGRS or WGRS_BIN)"
	exit $KSFT_SKIP
fi
modprobe -r wireguard 2>/dev/null
modprobe "$WGRS_MODULE" || { ktap_header 1; ktap_fail "load $WGRS_MODULE.ko"; ktap_finish; }
no_autoload
echo "# wgrs CLI and wg against $(modinfo -F filename "$WGRS_MODULE")"
WGRS=$wgrs ./cli_compat.sh
rc=$?
modprobe -r "$WGRS_MODULE"
exit $rc
