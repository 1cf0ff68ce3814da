#!/usr/bin/env bash
# `make run`: boot the VM, load wgrs.ko and show a wireguard device made by it.
# With a terminal attached, stay in a shell inside the VM afterwards.
. "$(dirname "$0")/lib.sh"

demo='
set -e
pp() { printf "\n\033[1m# %s\033[0m\n" "$*"; "$@"; }
pp modprobe wgrs
pp cat /sys/module/wgrs/initstate
pp ip link add wg0 type wireguard
pp ip -d link show wg0
pp ip link set wg0 up
pp ip -brief link show type wireguard
pp ip link del wg0
echo; echo "wgrs.ko made and removed a wireguard device."
if command -v wgrs >/dev/null; then
	pp sh -c "wgrs genkey | tee /tmp/key | wgrs pubkey"
	echo "(the wgrs CLI is on PATH; it configures devices of the C driver today, and"
	echo " of wgrs.ko once its wireguard netlink family lands)"
fi
'
if [ -t 0 ] && [ -t 1 ]; then
	exec "$WGRS_TOP/scripts/vm.sh" --interactive -- bash -c "$demo"
else
	exec "$WGRS_TOP/scripts/vm.sh" -- bash -c "$demo"
fi
