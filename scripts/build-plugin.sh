#!/usr/bin/env bash
# Build the QEMU TCG plugin that counts guest instructions (tools/qemu/), for
# `make bench`'s deterministic figure, and the guest's marker program.
# QEMU's plugin API header ships in no binary package: it is taken from the
# source tarball of the installed QEMU, fetched through a private APT
# configuration (deb-src, derived from the host's debian.sources).
# Prints the directory holding wgrs_insn.so and wgrs-mark on stdout.
. "$(dirname "$0")/lib.sh"

qver=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null) ||
	die "qemu-system-x86 is not installed (scripts/setup-host.sh installs it)"
upstream=${qver#*:}
upstream=${upstream%%-*}
hdrdir="$WGRS_CACHE/qemu-plugin-api-$upstream"
if [ ! -f "$hdrdir/qemu-plugin.h" ]; then
	aptdir="$WGRS_CACHE/apt-src-bookworm-backports"
	private_apt_conf bookworm-backports "$aptdir" deb-src
	say "fetching the source of QEMU $qver for its plugin API header (~40 MB, once)"
	APT_CONFIG="$aptdir/apt.conf" apt-get update >"$aptdir/update.log" 2>&1 ||
		die "apt-get update (deb-src bookworm-backports) failed: see $aptdir/update.log"
	dl="$aptdir/source"
	mkdir -p "$dl"
	# The snapshot may lack the .dsc and the Debian diff: only the upstream
	# tarball is needed, so judge by the tarball, not by the exit status.
	(cd "$dl" && APT_CONFIG="$aptdir/apt.conf" apt-get source --download-only "qemu=$qver" \
		>"$aptdir/source.log" 2>&1) || true
	tarball=$(ls "$dl"/qemu_"$upstream"*.orig.tar.* 2>/dev/null | head -n 1)
	[ -n "$tarball" ] || die "could not download QEMU's source tarball (see $aptdir/source.log)"
	tmp="$hdrdir.tmp"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	tar -C "$tmp" -xf "$tarball" --wildcards --strip-components=3 '*/include/qemu/qemu-plugin.h'
	[ -f "$tmp/qemu-plugin.h" ] || die "no include/qemu/qemu-plugin.h in $tarball"
	rm -rf "$hdrdir"
	mv "$tmp" "$hdrdir"
	rm -f "$tarball"
fi

out="$WGRS_CACHE/qemu-plugin"
mkdir -p "$out"
cflags=(-O2 -Wall -Wextra -Werror -I"$hdrdir")
read -ra glib < <(pkg-config --cflags glib-2.0) ||
	die "glib-2.0 headers missing (libglib2.0-dev; scripts/setup-host.sh installs it)"
gcc "${cflags[@]}" "${glib[@]}" -shared -fPIC -o "$out/wgrs_insn.so.tmp" "$WGRS_TOP/tools/qemu/wgrs_insn.c"
mv "$out/wgrs_insn.so.tmp" "$out/wgrs_insn.so"
# The guest runs the marker: static, so it needs nothing from the VM's root.
gcc -O2 -Wall -Wextra -Werror -static -o "$out/wgrs-mark.tmp" "$WGRS_TOP/tools/qemu/wgrs_mark.c"
mv "$out/wgrs-mark.tmp" "$out/wgrs-mark"
echo "$out"
