#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`'s program, once and short, on whatever kernel this is: every
# figure must produce a number for wireguard.ko and for wgrs.ko, so the
# benchmark cannot rot between runs of `make bench`. The numbers it prints
# are not results (debug kernel, one round of 3 s). The handshake-flood
# figures (bench_flood.sh) are left out here: each flood lasts at least 8 s
# and their legitimate-peer deadline is tuned for the release kernel; they
# run in `make bench` only.
# ksft-timeout: 480
exec "$(dirname "$0")/bench.sh" --smoke --no-flood
