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
#include <crypto/utils.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>
#include <uapi/linux/wireguard.h>

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

/* Generic netlink family `wireguard` (shim.c): registration, the policies
 * (nla_policy is bitfields and unions), and helpers for C macros. */
int wgrs_genl_register(void);
void wgrs_genl_unregister(void);
extern const struct nla_policy wgrs_wgpeer_policy[WGPEER_A_MAX + 1];
extern const struct nla_policy wgrs_wgallowedip_policy[WGALLOWEDIP_A_MAX + 1];
void *wgrs_genl_dump_put(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd);
struct net *wgrs_skb_net(struct sk_buff *skb);
bool wgrs_netdev_is_ours(const struct net_device *dev);

/* Implemented in Rust (rust/genetlink.rs), called from the genl ops. */
int wgrs_rust_genl_get_start(struct netlink_callback *cb);
int wgrs_rust_genl_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int wgrs_rust_genl_get_done(struct netlink_callback *cb);
int wgrs_rust_genl_set_doit(struct sk_buff *skb, struct genl_info *info);

void wgrs_setup_tunnel(struct net_device *dev, u16 headroom, u16 tailroom,
		       unsigned int mtu, unsigned int max_mtu);

#endif
