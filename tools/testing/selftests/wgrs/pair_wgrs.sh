#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# pair.sh's wgrs side: wgrs.ko, in the other VM boot (see pair.sh).
# ksft-timeout: 900
exec "$(dirname "$0")/pair.sh" w
