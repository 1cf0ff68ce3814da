#!/usr/bin/env bash
# Run the wgrs kselftest suite (KUnit included) inside test VMs against the
# freshly built wgrs.ko. Results: out/vm-tests/ (ktap.log, kunit.log, and
# per boot vmN/console.log).
#
# The suite runs in two VM boots at once (WGRS_VM_JOBS=1 for one): under
# TCG a boot running shell scripts keeps about one host core busy, and the
# machine has two. The boots share a work queue (out/vm-tests/queue, a 9p
# directory both mount): each takes the next program that the other has
# not taken, longest first, so neither idles while the other still has a
# backlog, however unevenly a loaded host slows the programs down.
# pair_cdriver.sh and pair_wgrs.sh (the two sides of one test) open the
# boots, and kernel_health.sh, which judges the whole boot (splats,
# kmemleak), closes each.
. "$(dirname "$0")/lib.sh"

sel=tools/testing/selftests/wgrs
finisher=kernel_health.sh
# WGRS_VM_PROGS="a.sh b.sh" runs those instead of TEST_PROGS.
# WGRS_VM_CPUS (default 2) sets each boot's vCPUs; WGRS_VM_TIMEOUT (default
# 4650 s, what `make check` can give within CI's 90 minutes) each boot's limit.
read -ra progs <<<"${WGRS_VM_PROGS:-$(sed -n 's/^TEST_PROGS := //p' "$WGRS_TOP/$sel/Makefile")}"
[ ${#progs[@]} -gt 0 ] || die "no TEST_PROGS in $sel/Makefile"
jobs=${WGRS_VM_JOBS:-2}
out="$WGRS_TOP/out/vm-tests"
rm -rf "$out"
mkdir -p "$out"

# The queue's order: the longest programs first (measured on the debug
# kernel, longest to shortest), so that the last ones to be taken are short
# and the two boots end close together; programs not named here follow in
# TEST_PROGS order.
longest_first=(upstream_netns.sh gate.sh interop.sh agent.sh cdriver_compare.sh
	bench_smoke.sh rx_handoff.sh netlink.sh kunit.sh wgquick.sh netns_devices.sh module.sh
	unload_live.sh)
queued=() has_finisher= pair=
for p in "${longest_first[@]}"; do
	[[ " ${progs[*]} " == *" $p "* ]] && queued+=("$p")
done
for p in "${progs[@]}"; do
	case $p in
	"$finisher") has_finisher=1 ;;
	pair_cdriver.sh | pair_wgrs.sh) pair=1 ;;
	*) [[ " ${longest_first[*]} " == *" $p "* ]] || queued+=("$p") ;;
	esac
done
fin=${has_finisher:+$finisher}
groups=()
nic1= nic2= failed_pair=
if [ "$jobs" -gt 1 ]; then
	q="$out/queue"
	mkdir -p "$q"
	printf '%s\n' "${queued[@]}" >"$q/list"
	export WGRS_VM_QUEUE=$q
	# pair.sh needs two boots joined by a link: the C side opens the
	# first, the wgrs side the second, so that both start at about the
	# same time.
	if [ -n "$pair" ]; then
		groups=("pair_cdriver.sh @queue $fin" "pair_wgrs.sh @queue $fin")
		p1=$((20000 + RANDOM % 20000))
		nic1="$p1:$((p1 + 1)):1" nic2="$((p1 + 1)):$p1:2"
	else
		groups=("@queue $fin" "@queue $fin")
	fi
else
	if [ -n "$pair" ]; then
		say "one VM boot only: pair_cdriver.sh and pair_wgrs.sh (wgrs.ko against wireguard.ko across two VMs) cannot run; the run fails"
		failed_pair=1
	fi
	groups=("${queued[*]} $fin")
fi

# One caller of this script at a time (its boots share the two cores); the
# boots themselves then skip vm.sh's own one-VM lock.
exec 9>"$WGRS_CACHE/vm.lock"
if ! flock -n 9; then
	say "another wgrs VM is running; waiting for it"
	flock 9
fi
export WGRS_VM_LOCKED=1
# Build or find the kernel and root once, not in each boot at the same time;
# the C driver's trie as a module of its own for bench_smoke.sh (seconds).
kdir=$("$WGRS_TOP/scripts/build-kernel.sh")
"$WGRS_TOP/scripts/make-rootfs.sh" >/dev/null
"$WGRS_TOP/scripts/build-c-allowedips.sh" "$kdir" "$WGRS_TOP/out/c-allowedips" >/dev/null

seed=$RANDOM$RANDOM$RANDOM
boot() { # N PROGRAMS...
	local n=$1 dir="$out/vm$1" nic
	shift
	mkdir -p "$dir"
	nic=nic$n
	VM_IO="$dir" WGRS_VM_NAME="vm$n" "$WGRS_TOP/scripts/vm.sh" --cpus "${WGRS_VM_CPUS:-2}" \
		--timeout "${WGRS_VM_TIMEOUT:-4650}" ${!nic:+--nic "${!nic}"} -- \
		env KUNIT_LOG=/mnt/io/kunit.log WGRS_BIN=/mnt/wgrs/userspace/target/release \
		WGRS_C_TRIE=/mnt/wgrs/out/c-allowedips/wg_aips_bench.ko \
		WGRS_PAIR_SEED="$seed" \
		"/mnt/wgrs/$sel/run_kselftest.sh" ${WGRS_VM_QUEUE:+--queue /mnt/queue} "$@" \
		>"$dir/console.log" 2>&1
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
	say "VM $((i + 1)) of ${#groups[@]} runs: ${g[*]/@queue/(programs from the queue)}"
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
# Every queued program must have been taken and have finished: a boot that
# died or timed out leaves its program without an exit status.
if [ -n "${WGRS_VM_QUEUE:-}" ]; then
	for p in "${queued[@]}"; do
		if [ ! -f "$WGRS_VM_QUEUE/claimed.$p/rc" ]; then
			say "$p: $([ -d "$WGRS_VM_QUEUE/claimed.$p" ] && echo "did not finish" || echo "never ran")"
			rc=1
		fi
	done
fi
exit "$rc"
