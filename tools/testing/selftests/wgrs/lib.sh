# SPDX-License-Identifier: GPL-2.0
# Helpers for the wgrs selftests: KTAP output and clean-up. Source it.

WGRS_MODULE=${WGRS_MODULE:-wgrs}
KSFT_PASS=0 KSFT_FAIL=1 KSFT_SKIP=4
__ktap_n=0 __ktap_fail=0 __ktap_skip=0 __ktap_plan=
__cleanup=()

ktap_header() { __ktap_plan=$1; echo "TAP version 13"; echo "1..$1"; }
ktap_diag() { sed 's/^/# /'; }
# ok DESC / fail DESC / skip DESC REASON
# A case that took 20 s or more says so in a diagnostic line after its
# result: where the suite's time goes (TCG, debug kernel) stays visible.
__ktap_t=$SECONDS
__ktap_took() {
	[ $((SECONDS - __ktap_t)) -lt 20 ] || echo "# case $__ktap_n took $((SECONDS - __ktap_t)) s"
	__ktap_t=$SECONDS
}
ktap_ok() { __ktap_n=$((__ktap_n + 1)); echo "ok $__ktap_n $*"; __ktap_took; }
ktap_fail() { __ktap_n=$((__ktap_n + 1)); __ktap_fail=$((__ktap_fail + 1)); echo "not ok $__ktap_n $*"; __ktap_took; }
ktap_skip() { __ktap_n=$((__ktap_n + 1)); __ktap_skip=$((__ktap_skip + 1)); echo "ok $__ktap_n $1 # SKIP $2"; __ktap_took; }

# check DESC CMD...: one test case from a command's status; its output is
# shown as diagnostics when it fails.
check() {
	local desc=$1 out; shift
	if out=$("$@" 2>&1); then
		ktap_ok "$desc"
	else
		ktap_fail "$desc"
		printf '%s\n' "$out" | ktap_diag
	fi
}

# check_here DESC CMD...: like check, but CMD runs in this shell, not in a
# subshell, so what it sets (variables, clean-ups, background processes)
# stays set.
check_here() {
	local desc=$1 out
	shift
	out=$(mktemp)
	if "$@" >"$out" 2>&1; then
		ktap_ok "$desc"
	else
		ktap_fail "$desc"
		ktap_diag <"$out"
	fi
	rm -f "$out"
}

# check_not DESC CMD...: passes when the command fails.
check_not() {
	local desc=$1 out; shift
	if out=$("$@" 2>&1); then
		ktap_fail "$desc"
		printf 'unexpectedly succeeded: %s\n' "$out" | ktap_diag
	else
		ktap_ok "$desc"
	fi
}

on_exit() { __cleanup+=("$*"); }
__run_cleanup() {
	local i
	for ((i = ${#__cleanup[@]} - 1; i >= 0; i--)); do eval "${__cleanup[i]}" >/dev/null 2>&1; done
}
trap __run_cleanup EXIT

ktap_finish() {
	# A test that stops early, or reports more than it planned, has failed:
	# the cases it did not reach would otherwise look like passes.
	if [ "$__ktap_n" != "$__ktap_plan" ]; then
		echo "# planned $__ktap_plan cases but reported $__ktap_n"
		__ktap_fail=$((__ktap_fail + 1))
	fi
	echo "# $__ktap_n tests: $((__ktap_n - __ktap_fail - __ktap_skip)) passed, $__ktap_fail failed, $__ktap_skip skipped"
	[ "$__ktap_fail" -eq 0 ] || exit $KSFT_FAIL
	[ "$__ktap_skip" -eq 0 ] || exit $KSFT_SKIP
	exit $KSFT_PASS
}

require_root() {
	if [ "$(id -u)" != 0 ]; then
		ktap_header 1
		ktap_skip "${0##*/}" "needs root"
		exit $KSFT_SKIP
	fi
}

module_loaded() { [ -d "/sys/module/$1" ]; }

# Keeps `ip link add … type wireguard` from auto-loading a module while a
# test needs to know exactly which driver answers.
no_autoload() {
	local old
	old=$(cat /proc/sys/kernel/modprobe)
	on_exit "echo '$old' > /proc/sys/kernel/modprobe"
	echo /bin/false >/proc/sys/kernel/modprobe
}

# The driver behind a link, as the kernel reports it in sysfs.
link_driver() { basename "$(readlink -f "/sys/class/net/$1/device/driver" 2>/dev/null)" 2>/dev/null; }

# Numeric link attribute from sysfs, in the current namespace.
link_attr() { cat "/sys/class/net/$1/$2"; }
