#!/usr/bin/env bash
# Configure and build the minimal Rust-enabled test kernel, cached by kernel
# version, configuration and toolchain. Prints the build directory on stdout.
. "$(dirname "$0")/lib.sh"

src=$("$WGRS_TOP/scripts/fetch-kernel.sh")
version=$(make -s -C "$src" kernelversion)
up="$src/tools/testing/selftests/wireguard/qemu"
ours="$WGRS_TOP/scripts/kconfig/wgrs.config"

key=$( {
	echo "$version"
	cat "$up/kernel.config" "$up/arch/x86_64.config" "$ours"
	rustc --version; bindgen --version; clang$LLVM_SUFFIX --version | head -n1
} | sha256sum | cut -c1-16)
build="$WGRS_CACHE/kernel-$version-$key"

if [ -f "$build/.wgrs-ready" ]; then
	say "kernel $version cached in $build"
	echo "$build"
	exit 0
fi

mk() { make -C "$src" O="$build" LLVM="$LLVM_SUFFIX" "$@"; }

say "configuring kernel $version in $build"
rm -rf "$build"
mkdir -p "$build"
# The upstream fragment's CMDLINE belongs to its own harness; we pass our own.
grep -v '^CONFIG_CMDLINE' "$up/arch/x86_64.config" >"$build/upstream-arch.config"
mk -s allnoconfig >/dev/null
(cd "$build" && "$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" \
	"$up/kernel.config" "$build/upstream-arch.config" "$ours" >"$build/merge.log" 2>&1) ||
	{ cat "$build/merge.log" >&2; die "merge_config.sh failed"; }
mk -s olddefconfig >/dev/null

mk -s rustavailable >&2 || die "the Rust toolchain is not usable for this kernel (see above)"
# Every option we asked for must have stuck; Kconfig drops unmet ones silently.
bad=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue ;; esac
	opt=${line%%=*} want=${line#*=}
	if [ "$want" = n ]; then
		grep -q "^$opt=" "$build/.config" && { say "$opt is set, wanted off"; bad=1; }
	else
		grep -qx "$opt=$want" "$build/.config" || { say "$opt is not $want: $(grep "^$opt=\|# $opt " "$build/.config")"; bad=1; }
	fi
done <"$ours"
[ $bad = 0 ] || die "kernel configuration is missing options wgrs needs"

say "building kernel $version (bzImage + modules, ~20 min on 2 cores; log: $build/build.log)"
run_logged "$build/build.log" mk -j"$(nproc)" bzImage modules
run_logged "$build/modules_install.log" mk INSTALL_MOD_PATH="$build/modinst" INSTALL_MOD_STRIP=1 modules_install
touch "$build/.wgrs-ready"
# Builds from another configuration or toolchain are never used again.
find "$WGRS_CACHE" -maxdepth 1 -name 'kernel-*' ! -path "$build" -exec rm -rf {} +
say "kernel $version built"
echo "$build"
