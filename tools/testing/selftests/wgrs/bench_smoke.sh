#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`'s program, once and short, on whatever kernel this is: every
# figure must produce a number for wireguard.ko and for wgrs.ko, so the
# benchmark cannot rot between runs of `make bench`. The numbers it prints
# are not results (debug kernel, one round of 2 s).
# ksft-timeout: 300
exec "$(dirname "$0")/bench.sh" --smoke
