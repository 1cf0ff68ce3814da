#!/usr/bin/env bash
# Run the wgrs kselftest suite (KUnit included) inside the test VM against
# the freshly built wgrs.ko. Results: out/vm-tests/ (ktap.log, kunit.log).
. "$(dirname "$0")/lib.sh"

sel=tools/testing/selftests/wgrs
# WGRS_VM_PROGS="a.sh b.sh" runs those instead of TEST_PROGS.
read -ra progs <<<"${WGRS_VM_PROGS:-$(sed -n 's/^TEST_PROGS := //p' "$WGRS_TOP/$sel/Makefile")}"
[ ${#progs[@]} -gt 0 ] || die "no TEST_PROGS in $sel/Makefile"
out="$WGRS_TOP/out/vm-tests"
rm -rf "$out"
mkdir -p "$out"
say "running ${#progs[@]} kselftest programs in the VM: ${progs[*]}"
set +e
VM_IO="$out" "$WGRS_TOP/scripts/vm.sh" --cpus 2 --timeout "${WGRS_VM_TIMEOUT:-4200}" -- \
	env KUNIT_LOG=/mnt/io/kunit.log WGRS_BIN=/mnt/wgrs/userspace/target/release \
	"/mnt/wgrs/$sel/run_kselftest.sh" "${progs[@]}" | tee "$out/console.log"
rc=${PIPESTATUS[0]}
set -e
# The KTAP document, without kernel console noise, for the record.
sed -n '/^TAP version 13/,$p' "$out/console.log" >"$out/ktap.log" || true
exit "$rc"
