/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces wgrs uses, as one header for bindgen. The kernel's own
 * `bindings` crate only covers rust/bindings/bindings_helper.h, which has no
 * networking; everything here is turned into Rust at module build time with the
 * same C flags Kbuild gives our C objects, so the layouts always match the
 * kernel we build against.
 */
#ifndef WGRS_SYS_H
#define WGRS_SYS_H

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <net/rtnetlink.h>
#include <net/dropreason-core.h>
#include <crypto/blake2s.h>
#include <crypto/chacha20poly1305.h>
#include <crypto/curve25519.h>

/* Shims: defined in shim.c, implemented there because they fill C ops tables
 * whose callbacks return C enums (netdev_tx_t), which Rust function pointers
 * cannot match under kCFI, or because they wrap C macros. */
int wgrs_rtnl_register(void);
void wgrs_rtnl_unregister(void);
void **wgrs_netdev_slot(struct net_device *dev);

/* Implemented in Rust (rust/rtnl.rs), called from the shim's ops tables. */
void wgrs_rust_setup(struct net_device *dev);
int wgrs_rust_newlink(struct net_device *dev, struct netlink_ext_ack *extack);
void wgrs_rust_destruct(struct net_device *dev);
int wgrs_rust_open(struct net_device *dev);
int wgrs_rust_stop(struct net_device *dev);
void wgrs_rust_xmit(struct sk_buff *skb, struct net_device *dev);

void wgrs_setup_tunnel(struct net_device *dev, u16 headroom, u16 tailroom,
		       unsigned int mtu, unsigned int max_mtu);

#endif
