/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the in-tree driver's allowedips.c needs of a peer, and nothing
 * else: the list of its trie nodes and a reference count. Stands in for
 * drivers/net/wireguard/peer.h when allowedips.c is built on its own for
 * the benchmark (wg_aips_bench.c).
 */
#ifndef WG_AIPS_BENCH_PEER_H
#define WG_AIPS_BENCH_PEER_H

#include <linux/kref.h>
#include <linux/list.h>

struct wg_peer {
	struct kref refcount;
	struct list_head allowedips_list;
};

struct wg_peer *wg_peer_get_maybe_zero(struct wg_peer *peer);

#endif
