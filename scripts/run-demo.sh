#!/usr/bin/env bash
# `make run`: boot the VM and tell wgrs's story (scripts/demo.sh): a tunnel
# on wgrs.ko, then the gate locking an idle peer and a TOTP code letting it
# back in. With a terminal attached, stay in a shell inside the VM
# afterwards.
. "$(dirname "$0")/lib.sh"

demo=/mnt/wgrs/scripts/demo.sh
if [ -t 0 ] && [ -t 1 ]; then
	exec "$WGRS_TOP/scripts/vm.sh" --interactive -- bash "$demo"
else
	exec "$WGRS_TOP/scripts/vm.sh" -- bash "$demo"
fi
