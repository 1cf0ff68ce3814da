#!/usr/bin/env bash
# Run the kernel's own tools/testing/selftests/wireguard/netns.sh, unmodified,
# against one module: `wireguard` (the in-tree C driver) or `wgrs`.
. "$(dirname "$0")/lib.sh"

module=${1:-wgrs}
case "$module" in
wireguard | wgrs) ;;
*) die "MODULE must be wireguard or wgrs, not '$module'" ;;
esac
other=wireguard
[ "$module" = wireguard ] && other=wgrs

out="$WGRS_TOP/out/upstream-netns-$module"
rm -rf "$out"
mkdir -p "$out"
say "upstream netns.sh against $module.ko (about 3 minutes under TCG)"
start=$SECONDS
set +e
VM_IO="$out" "$WGRS_TOP/scripts/vm.sh" --cpus 2 --timeout 1500 -- bash -c "
	modprobe -r $other 2>/dev/null
	# Lifetime log lines on, so netns.sh's leak check has something to
	# pair up (the debug kernel builds wireguard.ko with them too).
	if [ $module = wgrs ]; then modprobe wgrs debug=1; else modprobe $module; fi ||
		{ echo 'cannot load $module'; exit 1; }
	echo \"# netns.sh against \$(modinfo -F filename $module)\"
	bash /mnt/ksrc/wireguard/netns.sh
	rc=\$?
	echo \"# netns.sh exit status \$rc\"
	exit \$rc" 2>&1 | tee "$out/console.log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" = 0 ]; then
	say "upstream netns.sh PASSED against $module.ko in $((SECONDS - start))s"
else
	# netns.sh's clean-up always begins by deleting NS0's wg0: the step
	# before it is the one that failed.
	last=$(sed -e 's/\x1b\[[0-9;]*m//g' -e 's/\r$//' "$out/console.log" | awk '
		/^\[\+\] NS0: ip link del dev wg0$/ { print step; exit }
		/^\[\+\] / { step = $0 }')
	say "upstream netns.sh FAILED against $module.ko (exit $rc) after $((SECONDS - start))s"
	say "failing step: ${last:-unknown (see $out/console.log)}"
fi
exit "$rc"
