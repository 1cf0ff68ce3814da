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
umask 077
pp sh -c "wgrs genkey > /tmp/wg0.key; wgrs genpsk > /tmp/wg0.psk; wgrs genkey | wgrs pubkey > /tmp/peer.pub"
pp wgrs set wg0 private-key /tmp/wg0.key listen-port 51820 \
	peer "$(cat /tmp/peer.pub)" preshared-key /tmp/wg0.psk endpoint 127.0.0.1:51821 \
	persistent-keepalive 25 allowed-ips 10.0.0.2/32,fd00::2/128
pp ip link set wg0 up
pp wgrs show wg0
pp wgrs showconf wg0
pp ip -brief link show type wireguard
pp ip link del wg0
echo
echo "wgrs.ko made a wireguard device, the wgrs CLI configured it through the"
echo "wireguard netlink API, and it was removed. (No traffic yet: the data path"
echo "is the next step.)"
'
if [ -t 0 ] && [ -t 1 ]; then
	exec "$WGRS_TOP/scripts/vm.sh" --interactive -- bash -c "$demo"
else
	exec "$WGRS_TOP/scripts/vm.sh" -- bash -c "$demo"
fi
