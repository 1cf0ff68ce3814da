# SPDX-License-Identifier: GPL-2.0
#
# wgrs: `make` builds the module, `make check` builds and tests everything
# (installing what is missing), `make run` boots a VM and shows the gate's story.
# Kbuild reads ./Kbuild, not this file, when it builds the module.

SHELL := /bin/bash
S := scripts

.PHONY: all module kernel rootfs userspace tools check test-userspace vm-tests run \
	upstream-netns cli-compat fuzz bench clean setup help

all: module userspace

help:
	@echo "make                  build wgrs.ko and the userspace tools"
	@echo "make check            install what is missing, build everything, run all tests"
	@echo "make run              boot a VM and show the story: tunnel, idle lock, TOTP unlock"
	@echo "make upstream-netns MODULE=wireguard|wgrs   upstream netns.sh against a module"
	@echo "make cli-compat       wgrs against wg byte for byte, on wireguard.ko and on wgrs.ko"
	@echo "make fuzz [FUZZ_SECONDS=300]   run the protocol fuzz targets longer"
	@echo "make bench [BENCH_ROUNDS=5 BENCH_SECONDS=10]   wgrs.ko against wireguard.ko, release kernel"
	@echo "KDIR=/path/to/kernel/build make   build against another Rust-enabled kernel"

setup:
	@$(S)/setup-host.sh

kernel: setup
	@$(S)/build-kernel.sh >/dev/null

rootfs: setup
	@$(S)/make-rootfs.sh >/dev/null

module: setup
	@$(S)/build-module.sh >/dev/null

userspace: setup
	@$(S)/build-userspace.sh

test-userspace: setup
	@$(S)/test-userspace.sh

tools: setup
	@$(S)/build-tools.sh >/dev/null

vm-tests: module userspace rootfs tools
	@$(S)/vm-tests.sh

check:
	@$(S)/check.sh

run: module userspace rootfs
	@$(S)/run-demo.sh

MODULE ?= wgrs
upstream-netns: module rootfs
	@$(S)/upstream-netns.sh $(MODULE)

cli-compat: module userspace rootfs
	@WGRS_VM_TIMEOUT=7500 WGRS_VM_PROGS="cli_compat_cdriver.sh cli_compat_wgrs.sh" $(S)/vm-tests.sh

BENCH_ROUNDS ?= 5
BENCH_SECONDS ?= 10
bench: setup
	@$(S)/bench.sh $(BENCH_ROUNDS) $(BENCH_SECONDS)

FUZZ_SECONDS ?= 300
fuzz: setup
	@$(S)/fuzz.sh $(FUZZ_SECONDS)

clean:
	@if [ -n "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi
	rm -rf wgrs.ko *.o *.mod* Module.symvers modules.order rust/*.o rust/sys/*.o \
		rust/sys/bindings_generated.rs rust/sys/static_wrappers.c .*.cmd rust/.*.cmd \
		rust/sys/.*.cmd userspace/target
