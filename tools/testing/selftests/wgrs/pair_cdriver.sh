#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# pair.sh's C side: wireguard.ko, in one of the two VM boots (see pair.sh).
# ksft-timeout: 900
exec "$(dirname "$0")/pair.sh" c
