#!/usr/bin/env bash
# Configure and build the Rust-enabled test kernel, cached by kernel version,
# configuration and toolchain. Prints the build directory on stdout.
#
#   scripts/build-kernel.sh [debug|release]     (default: $WGRS_KERNEL or debug)
#
# debug   what `make check` boots: lockdep, PROVE_RCU, KASAN, kmemleak, kCFI,
#         Rust debug assertions and overflow checks (scripts/kconfig/debug.config)
# release the same kernel without the debug options, for `make bench`
. "$(dirname "$0")/lib.sh"

flavor=${1:-${WGRS_KERNEL:-debug}}
case "$flavor" in
debug | release) ;;
*) die "build-kernel.sh: flavour must be debug or release, not '$flavor'" ;;
esac

src=$("$WGRS_TOP/scripts/fetch-kernel.sh")
version=$(make -s -C "$src" kernelversion)
up="$src/tools/testing/selftests/wireguard/qemu"
frags=("$WGRS_TOP/scripts/kconfig/wgrs.config")
[ "$flavor" = debug ] && frags+=("$WGRS_TOP/scripts/kconfig/debug.config")

key=$( {
	echo "$version $flavor"
	cat "$up/kernel.config" "$up/arch/x86_64.config" "${frags[@]}"
	[ "$flavor" = debug ] && cat "$up/debug.config"
	rustc --version; bindgen --version; clang$LLVM_SUFFIX --version | head -n1
} | sha256sum | cut -c1-16)
build="$WGRS_CACHE/kernel-$flavor-$version-$key"

if [ -f "$build/.wgrs-ready" ]; then
	say "$flavor kernel $version cached in $build"
	echo "$build"
	exit 0
fi

mk() { make -C "$src" O="$build" LLVM="$LLVM_SUFFIX" "$@"; }

say "configuring the $flavor kernel $version in $build"
rm -rf "$build"
mkdir -p "$build"
# The upstream fragment's CMDLINE belongs to its own harness; we pass our own.
grep -v '^CONFIG_CMDLINE' "$up/arch/x86_64.config" >"$build/upstream-arch.config"
merge=("$up/kernel.config" "$build/upstream-arch.config" "$WGRS_TOP/scripts/kconfig/wgrs.config")
if [ "$flavor" = debug ]; then
	grep -v '^CONFIG_DEBUG_INFO' "$up/debug.config" >"$build/upstream-debug.config"
	merge+=("$build/upstream-debug.config" "$WGRS_TOP/scripts/kconfig/debug.config")
fi
mk -s allnoconfig >/dev/null
(cd "$build" && "$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" \
	"${merge[@]}" >"$build/merge.log" 2>&1) ||
	{ cat "$build/merge.log" >&2; die "merge_config.sh failed"; }
mk -s olddefconfig >/dev/null

mk -s rustavailable >&2 || die "the Rust toolchain is not usable for this kernel (see above)"
# Every option we asked for must have stuck; Kconfig drops unmet ones silently.
# Later fragments override earlier ones, so check the last word on each option.
bad=0
declare -A want=()
for f in "${frags[@]}"; do
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) want[${line%%=*}]=${line#*=} ;; esac
	done <"$f"
done
for opt in "${!want[@]}"; do
	w=${want[$opt]}
	if [ "$w" = n ]; then
		grep -q "^$opt=" "$build/.config" && { say "$opt is set, wanted off"; bad=1; }
	else
		grep -qx "$opt=$w" "$build/.config" || { say "$opt is not $w: $(grep "^$opt=\|# $opt " "$build/.config")"; bad=1; }
	fi
done
[ $bad = 0 ] || die "kernel configuration is missing options wgrs needs"

say "building the $flavor kernel $version (bzImage + modules, ~20-30 min on 2 cores; log: $build/build.log)"
run_logged "$build/build.log" mk -j"$(nproc)" bzImage modules
run_logged "$build/modules_install.log" mk INSTALL_MOD_PATH="$build/modinst" INSTALL_MOD_STRIP=1 modules_install
touch "$build/.wgrs-ready"
# Builds of this flavour from another configuration or toolchain are never
# used again (the other flavour's cache stays). WGRS_KEEP_OLD_KERNELS=1
# keeps them (while another checkout still boots the old one).
if [ -z "${WGRS_KEEP_OLD_KERNELS:-}" ]; then
	find "$WGRS_CACHE" -maxdepth 1 \( -name "kernel-$flavor-*" -o -name 'kernel-7*' \) ! -path "$build" -exec rm -rf {} +
fi
say "$flavor kernel $version built"
echo "$build"
