#!/usr/bin/env bash
# Install what building and testing wgrs needs on a Debian 12 host, and nothing
# that is already there. Safe to run again.
. "$(dirname "$0")/lib.sh"

HOST_PKGS=(
	make git xz-utils rsync file
	clang-19 lld-19 llvm-19 libclang-19-dev   # kernel and module: one LLVM for C and Rust
	flex bison bc libelf-dev libssl-dev cpio kmod dwarves
	mmdebstrap                                # the VM's root file system
	python3-yaml python3-jsonschema          # the kernel's YNL generator (gen-netlink.sh)
	python3-docutils                          # the documentation check (check-docs.sh)
	libglib2.0-dev pkg-config libc6-dev      # make bench's QEMU plugin and guest marker (build-plugin.sh)
)
QEMU_PKGS=(qemu-system-x86)

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
	done
}

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return
	say "apt-get update"
	run_logged "$WGRS_CACHE/apt-update.log" apt-get update
	apt_updated=1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

mapfile -t need < <(missing "${HOST_PKGS[@]}")
if [ ${#need[@]} -gt 0 ]; then
	apt_update
	say "installing: ${need[*]}"
	run_logged "$WGRS_CACHE/apt-install.log" as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${need[@]}"
fi

# QEMU comes from bookworm-backports (10.x), which this image already uses for
# qemu-utils. The source entry is derived from the host's own debian.sources.
mapfile -t need < <(missing "${QEMU_PKGS[@]}")
if [ ${#need[@]} -gt 0 ]; then
	bpo=/etc/apt/sources.list.d/wgrs-bookworm-backports.sources
	if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		say "adding bookworm-backports (derived from the host's debian.sources) for QEMU"
		awk '/^[[:space:]]*$/ { if (seen) exit; next }
		     /^Suites:/ { print "Suites: bookworm-backports"; seen=1; next }
		     { print; seen=1 }' /etc/apt/sources.list.d/debian.sources | as_root tee "$bpo" >/dev/null
		apt_updated=
	fi
	apt_update
	say "installing from bookworm-backports: ${need[*]}"
	run_logged "$WGRS_CACHE/apt-install-qemu.log" as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends -t bookworm-backports "${need[@]}"
fi

# Rust: the kernel needs the standard library's source for its own core build.
command -v rustup >/dev/null || die "rustup not found: install the Rust toolchain with rustup first"
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	say "rustup component add rust-src"
	rustup component add rust-src
fi

# bindgen generates the kernel's and our module's bindings.
if ! command -v bindgen >/dev/null || ! bindgen --version | grep -q '0\.7[1-9]\|0\.[89][0-9]'; then
	say "cargo install bindgen-cli (about 3 minutes)"
	run_logged "$WGRS_CACHE/bindgen-install.log" cargo install --locked bindgen-cli --version '^0.73'
fi

say "host tools ready: $(clang${LLVM_SUFFIX} --version | head -n1); $(rustc --version); $(bindgen --version); $(qemu-system-x86_64 --version | head -n1)"
