#!/usr/bin/env bash
# Run the wgrs kselftest suite (KUnit included) inside test VMs against the
# freshly built wgrs.ko. Results: out/vm-tests/ (ktap.log, kunit.log, and
# per boot vmN/console.log).
#
# The suite runs in two VM boots at once (WGRS_VM_JOBS=1 for one): under
# TCG a boot running shell scripts keeps about one host core busy, and the
# machine has two. The programs named in WGRS_VM_BOOT1 (default: the
# upstream netns.sh, the longest, the interop run, netlink.sh and agent.sh:
# about half of the suite's time) run in one boot, the rest in the other;
# kernel_health.sh, which judges the whole boot (splats, kmemleak), ends
# each boot.
. "$(dirname "$0")/lib.sh"

sel=tools/testing/selftests/wgrs
finisher=kernel_health.sh
# WGRS_VM_PROGS="a.sh b.sh" runs those instead of TEST_PROGS.
# WGRS_VM_CPUS (default 2) sets each boot's vCPUs; WGRS_VM_TIMEOUT (default
# 4650 s, what `make check` can give within CI's 90 minutes) each boot's limit.
read -ra progs <<<"${WGRS_VM_PROGS:-$(sed -n 's/^TEST_PROGS := //p' "$WGRS_TOP/$sel/Makefile")}"
[ ${#progs[@]} -gt 0 ] || die "no TEST_PROGS in $sel/Makefile"
read -ra boot1 <<<"${WGRS_VM_BOOT1-interop.sh netlink.sh upstream_netns.sh agent.sh}"
jobs=${WGRS_VM_JOBS:-2}
out="$WGRS_TOP/out/vm-tests"
rm -rf "$out"
mkdir -p "$out"

# Partition: group 1 gets the WGRS_VM_BOOT1 programs, group 2 the rest, in the
# order TEST_PROGS gives; the finisher closes both.
g1=() g2=() has_finisher= pair=
for p in "${progs[@]}"; do
	if [ "$p" = "$finisher" ]; then
		has_finisher=1
	elif [ "$p" = pair_cdriver.sh ] || [ "$p" = pair_wgrs.sh ]; then
		# The two sides of pair.sh: first in each boot (below).
		pair=1
	elif [ "$jobs" -gt 1 ] && [[ " ${boot1[*]} " == *" $p "* ]]; then
		g1+=("$p")
	else
		g2+=("$p")
	fi
done
# pair.sh needs two boots joined by a link: the C side opens the first,
# the wgrs side the second, so that both start at about the same time.
nic1= nic2= failed_pair=
if [ -n "$pair" ] && [ "$jobs" -gt 1 ]; then
	g1=(pair_cdriver.sh "${g1[@]}") g2=(pair_wgrs.sh "${g2[@]}")
	p1=$((20000 + RANDOM % 20000))
	nic1="$p1:$((p1 + 1)):1" nic2="$((p1 + 1)):$p1:2"
elif [ -n "$pair" ]; then
	say "one VM boot only: pair_cdriver.sh and pair_wgrs.sh (wgrs.ko against wireguard.ko across two VMs) cannot run; the run fails"
	failed_pair=1
fi
if [ ${#g1[@]} -eq 0 ] || [ ${#g2[@]} -eq 0 ]; then
	g2=("${g1[@]}" "${g2[@]}") g1=()
fi
groups=()
[ ${#g1[@]} -gt 0 ] && groups+=("${g1[*]}${has_finisher:+ $finisher}")
groups+=("${g2[*]}${has_finisher:+ $finisher}")

# One caller of this script at a time (its boots share the two cores); the
# boots themselves then skip vm.sh's own one-VM lock.
exec 9>"$WGRS_CACHE/vm.lock"
if ! flock -n 9; then
	say "another wgrs VM is running; waiting for it"
	flock 9
fi
export WGRS_VM_LOCKED=1
# Build or find the kernel and root once, not in each boot at the same time.
"$WGRS_TOP/scripts/build-kernel.sh" >/dev/null
"$WGRS_TOP/scripts/make-rootfs.sh" >/dev/null

seed=$RANDOM$RANDOM$RANDOM
boot() { # N PROGRAMS...
	local n=$1 dir="$out/vm$1" nic
	shift
	mkdir -p "$dir"
	nic=nic$n
	VM_IO="$dir" WGRS_VM_NAME="vm$n" "$WGRS_TOP/scripts/vm.sh" --cpus "${WGRS_VM_CPUS:-2}" \
		--timeout "${WGRS_VM_TIMEOUT:-4650}" ${!nic:+--nic "${!nic}"} -- \
		env KUNIT_LOG=/mnt/io/kunit.log WGRS_BIN=/mnt/wgrs/userspace/target/release \
		WGRS_PAIR_SEED="$seed" \
		"/mnt/wgrs/$sel/run_kselftest.sh" "$@" >"$dir/console.log" 2>&1
}

pids=() tails=()
# The boots' directories exist before the boots and the progress tails start:
# each boot runs in the background, so its own mkdir may come too late.
for i in "${!groups[@]}"; do
	mkdir -p "$out/vm$((i + 1))"
	: >"$out/vm$((i + 1))/console.log"
done
for i in "${!groups[@]}"; do
	read -ra g <<<"${groups[i]}"
	say "VM $((i + 1)) of ${#groups[@]} runs: ${g[*]}"
	boot $((i + 1)) "${g[@]}" &
	pids+=($!)
done
trap 'kill "${pids[@]}" "${tails[@]}" 2>/dev/null' EXIT
# Progress: every boot's console, each line tagged with its boot.
for i in "${!groups[@]}"; do
	tail -n +1 -F --pid="${pids[i]}" "$out/vm$((i + 1))/console.log" 2>/dev/null |
		sed -u "s/^/[vm$((i + 1))] /" &
	tails+=($!)
done

rc=0
for i in "${!pids[@]}"; do
	if ! wait "${pids[i]}"; then
		say "VM $((i + 1)) failed"
		rc=1
	fi
done
wait "${tails[@]}" 2>/dev/null || true
trap - EXIT

# The KTAP documents, without kernel console noise, for the record.
for i in "${!groups[@]}"; do
	d="$out/vm$((i + 1))"
	sed -n '/^TAP version 13/,$p' "$d/console.log" >>"$out/ktap.log" || true
	[ -f "$d/kunit.log" ] && cp "$d/kunit.log" "$out/kunit.log"
done
[ -z "$failed_pair" ] || rc=1
exit "$rc"
