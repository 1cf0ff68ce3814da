#!/usr/bin/env bash
# Boot the test kernel under QEMU (TCG: KVM does not work on these machines)
# with the cached Debian sid root over 9p, and run a command inside it.
#
#   scripts/vm.sh [--cpus N] [--mem MiB] [--timeout S] [--nic LPORT:RPORT:N]
#                 [--interactive] [--] CMD...
#
# The kernel is the debug one unless WGRS_KERNEL=release.
# WGRS_QEMU_PLUGIN="PATH.so,arg=value,..." loads a TCG plugin (make bench's
# instruction counter, scripts/build-plugin.sh).
# --nic gives the guest a virtio NIC (eth0, MAC 52:54:00:12:34:N) whose
# frames travel as UDP datagrams from 127.0.0.1:LPORT to 127.0.0.1:RPORT:
# two boots with mirrored ports share a link (pair.sh).
#
# Inside the VM: the checkout is at /mnt/wgrs (read-only), the kernel's
# selftests at /mnt/ksrc and its YNL tools (tools/net/ynl) at /mnt/ynl
# (read-only), other WireGuard implementations (scripts/build-tools.sh) at
# /mnt/tools if built, the kernel's modules plus wgrs.ko at /lib/modules, and
# /mnt/io is a writable directory shared with the host ($VM_IO if set, else
# a temporary one), which is also the working directory; with
# WGRS_VM_QUEUE set, that host directory is also writable at /mnt/queue.
# The command's exit status becomes this script's.
. "$(dirname "$0")/lib.sh"

cpus=2 mem=2048 timeout=1800 interactive= nic=
while [ $# -gt 0 ]; do
	case "$1" in
	--cpus) cpus=$2; shift 2 ;;
	--nic) nic=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--interactive) interactive=1; shift ;;
	--) shift; break ;;
	-*) die "vm.sh: unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || [ -n "$interactive" ] || die "vm.sh: no command given"

# One VM at a time on this machine: they share two cores, and TCG is slow
# enough already. A second caller waits here.
# (vm-tests.sh holds the lock itself for the boots it runs side by side
# and says so with WGRS_VM_LOCKED=1.)
if [ -z "${WGRS_VM_LOCKED:-}" ]; then
	exec 9>"$WGRS_CACHE/vm.lock"
	if ! flock -n 9; then
		say "another wgrs VM is running; waiting for it"
		flock 9
	fi
fi

kdir=$("$WGRS_TOP/scripts/build-kernel.sh")
root=$("$WGRS_TOP/scripts/make-rootfs.sh")
src=$("$WGRS_TOP/scripts/fetch-kernel.sh")
kver=$(cat "$kdir/include/config/kernel.release")

# Per-run directory: staged modules and the shared /io.
run=$(mktemp -d "$WGRS_CACHE/vm-run.XXXXXX")
trap 'rm -rf "$run"' EXIT
# Runs of earlier, interrupted boots.
find "$WGRS_CACHE" -maxdepth 1 -name 'vm-run.*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true
io=${VM_IO:-$run/io}
mkdir -p "$io" "$run/modules/lib/modules"
cp -al "$kdir/modinst/lib/modules/$kver" "$run/modules/lib/modules/$kver"
rm -f "$run/modules/lib/modules/$kver/"{build,source}
# WGRS_KO: a wgrs.ko built elsewhere (the benchmark's, for the release kernel).
ko=${WGRS_KO:-$WGRS_TOP/wgrs.ko}
if [ -f "$ko" ]; then
	mkdir -p "$run/modules/lib/modules/$kver/extra"
	cp "$ko" "$run/modules/lib/modules/$kver/extra/wgrs.ko"
fi
depmod -b "$run/modules" "$kver"

# The guest's PID 1; kept in the root so the kernel can exec it before any
# other file system is mounted.
# Renamed into place, so that a boot starting beside this one never execs a
# half-written file.
install -m 0755 "$WGRS_TOP/scripts/vm-init.sh" "$root/sbin/.wgrs-init.$$"
mv -f "$root/sbin/.wgrs-init.$$" "$root/sbin/wgrs-init"
# Mount points the read-only root must already have.
mkdir -p "$root/usr/lib/modules" "$root/etc/wireguard"

if [ $# -gt 0 ]; then
	printf '%q ' "$@" >"$io/.cmd"
	echo >>"$io/.cmd"
fi
rm -f "$io/.rc"
[ -n "$interactive" ] && touch "$io/.interactive" || rm -f "$io/.interactive"

share() { # tag path [ro]
	echo "-fsdev local,id=$1,path=$2,security_model=none${3:+,readonly=on}"
	echo "-device virtio-9p-pci,fsdev=$1,mount_tag=$1"
}
mapfile -t shares < <(
	share wgrsroot "$root" ro
	share wgrsmods "$run/modules/lib/modules" ro
	share wgrssrc "$WGRS_TOP" ro
	share wgrsksrc "$src/tools/testing/selftests" ro
	share wgrsynl "$src/tools/net/ynl" ro
	share wgrsio "$io"
	[ -d "$WGRS_CACHE/tools" ] && share wgrstools "$WGRS_CACHE/tools" ro
	# vm-tests.sh's work queue, shared by the boots it runs side by side.
	[ -n "${WGRS_VM_QUEUE:-}" ] && share wgrsqueue "$WGRS_VM_QUEUE"
)
args=()
for s in "${shares[@]}"; do read -ra a <<<"$s"; args+=("${a[@]}"); done

append="console=ttyS0 root=wgrsroot rootfstype=9p ro"
append+=" rootflags=trans=virtio,version=9p2000.L,cache=loose,msize=512000"
append+=" init=/sbin/wgrs-init panic=-1 oops=panic panic_on_warn=1 loglevel=4"
append+=" printk.devkmsg=on"
# KUnit runs a module's suites whenever it is loaded; on the debug kernel that
# is ~50 s per `modprobe wgrs`, and the suites load the module dozens of times.
# No suite matches this glob: kunit.sh widens it around its own modprobe.
append+=" kunit.filter_glob=on-demand-only"

say "booting $kver under QEMU/TCG with $cpus CPUs, ${mem} MiB"
qemu=(qemu-system-x86_64 -accel tcg -cpu "${WGRS_QEMU_CPU:-max,la57=off}" -smp "$cpus" -m "$mem" -no-reboot
	-kernel "$kdir/arch/x86/boot/bzImage" -append "$append"
	-device virtio-rng-pci "${args[@]}")
[ -n "${WGRS_QEMU_PLUGIN:-}" ] && qemu+=(-plugin "$WGRS_QEMU_PLUGIN")
if [ -n "$nic" ]; then
	IFS=: read -r lport rport nicn <<<"$nic"
	qemu+=(-netdev "dgram,id=pair,local.type=inet,local.host=127.0.0.1,local.port=$lport,remote.type=inet,remote.host=127.0.0.1,remote.port=$rport"
		-device "virtio-net-pci,netdev=pair,mac=52:54:00:12:34:$(printf %02x "$nicn")")
fi
console_log="$WGRS_CACHE/vm-last-console${WGRS_VM_NAME:+-$WGRS_VM_NAME}.log"
set +e
if [ -n "$interactive" ]; then
	# Ctrl-A X leaves QEMU; `exit` in the shell powers the VM off.
	"${qemu[@]}" -nographic
	qrc=$?
else
	timeout -k 10 "$timeout" "${qemu[@]}" -display none -monitor none -serial stdio \
		</dev/null 2>&1 | tee "$console_log"
	qrc=${PIPESTATUS[0]}
fi
set -e
if [ ! -f "$io/.rc" ]; then
	[ "$qrc" = 124 ] && say "VM timed out after ${timeout}s"
	if [ -z "$interactive" ]; then
		grep -E 'Kernel panic|BUG:|WARNING:|Oops|Call Trace' "$console_log" | head -20 >&2 || true
	fi
	die "the VM stopped before the command finished (qemu exit $qrc; console: $console_log)"
fi
rc=$(cat "$io/.rc")
exit "$rc"
