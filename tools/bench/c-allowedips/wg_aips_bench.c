// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's comparison trie: the in-tree WireGuard driver's allowed-IPs
 * trie (drivers/net/wireguard/allowedips.c, compiled into this module by
 * inclusion, so its static lookup functions are reachable), timed the way
 * wgrs.ko's bench=1 times its own trie (rust/bench.rs): the same
 * xorshift64* stream gives n random IPv4 prefixes (/8 to /32), then random
 * addresses are looked up, one RCU read-side section each, in the flavour
 * the C driver's data path uses (rcu_read_lock_bh). One log line per
 * figure:
 *
 *   wg_aips_bench: allowedips_<n> <ns>.<tenth> ns (<m> of <l> lookups matched)
 *
 * The match count comes from a second, untimed pass through the driver's
 * own lookup(): wgrs.ko reports the same count for the same stream, which
 * the benchmark checks (both tries must agree). Loading runs the figures;
 * the module does nothing else and is removed right after.
 */

#define pr_fmt(fmt) "wg_aips_bench: " fmt

#include "allowedips.c"

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

static bool quick;
module_param(quick, bool, 0444);
MODULE_PARM_DESC(quick, "fewer lookups and no 1M-prefix trie (make check's smoke run)");

struct wg_peer *wg_peer_get_maybe_zero(struct wg_peer *peer)
{
	if (unlikely(!peer || !kref_get_unless_zero(&peer->refcount)))
		return NULL;
	return peer;
}

static void bench_peer_release(struct kref *kref)
{
}

/* xorshift64*, seeded as rust/bench.rs seeds it. */
static u64 rng_next(u64 *s)
{
	u64 x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static __be32 rng_v4(u64 *s)
{
	return cpu_to_be32((u32)rng_next(s));
}

static int bench_trie(u32 n, u32 lookups)
{
	struct wg_peer peer = { .allowedips_list = LIST_HEAD_INIT(peer.allowedips_list) };
	u64 rng = 0x9e3779b97f4a7c15ULL, rng_lookups, start, ns, tenths;
	struct allowedips table;
	struct wg_peer *found;
	struct mutex lock;
	u32 i, matched = 0;
	int ret = 0;

	mutex_init(&lock);
	kref_init(&peer.refcount);
	wg_allowedips_init(&table);
	mutex_lock(&lock);
	for (i = 0; i < n; i++) {
		u8 cidr = 8 + rng_next(&rng) % 25;
		__be32 ip = rng_v4(&rng);

		ret = wg_allowedips_insert_v4(&table, (struct in_addr *)&ip, cidr, &peer, &lock);
		if (ret)
			break;
		if (!(i & 0xffff))
			cond_resched();
	}
	mutex_unlock(&lock);
	if (ret) {
		pr_warn("allowedips_%u skipped: insert failed (%d)\n", n, ret);
		goto out;
	}

	rng_lookups = rng;
	start = ktime_get_ns();
	for (i = 0; i < lookups; i++) {
		u8 key[16] __aligned(__alignof(u64));
		__be32 ip = rng_v4(&rng);
		struct allowedips_node *node;

		swap_endian(key, (const u8 *)&ip, 32);
		rcu_read_lock_bh();
		node = find_node(rcu_dereference_bh(table.root4), 32, key);
		rcu_read_unlock_bh();
		/* Keeps the walk from being optimised away. */
		OPTIMIZER_HIDE_VAR(node);
	}
	ns = ktime_get_ns() - start;

	rng = rng_lookups;
	for (i = 0; i < lookups; i++) {
		__be32 ip = rng_v4(&rng);

		found = lookup(table.root4, 32, &ip);
		if (found) {
			matched++;
			kref_put(&found->refcount, bench_peer_release);
		}
	}
	tenths = div_u64(ns * 10, max(lookups, 1U));
	pr_info("allowedips_%u %llu.%llu ns (%u of %u lookups matched)\n",
		n, tenths / 10, tenths % 10, matched, lookups);
out:
	mutex_lock(&lock);
	wg_allowedips_free(&table, &lock);
	mutex_unlock(&lock);
	mutex_destroy(&lock);
	return ret;
}

static int __init wg_aips_bench_init(void)
{
	static const u32 sizes[] = { 1, 1000, 1000000 };
	u32 lookups = quick ? 1U << 16 : 1U << 20;
	unsigned int i;
	int ret;

	ret = wg_allowedips_slab_init();
	if (ret)
		return ret;
	pr_info("starting (%s)\n", quick ? "quick" : "full");
	for (i = 0; i < ARRAY_SIZE(sizes) - (quick ? 1 : 0); i++)
		bench_trie(sizes[i], lookups);
	pr_info("done\n");
	return 0;
}

static void __exit wg_aips_bench_exit(void)
{
	wg_allowedips_slab_uninit();
}

module_init(wg_aips_bench_init);
module_exit(wg_aips_bench_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("The in-tree WireGuard allowed-IPs trie, timed for wgrs's make bench");
