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
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/rtnetlink.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/timer.h>
#include <linux/workqueue.h>
#include <linux/rcupdate.h>
#include <linux/jiffies.h>
#include <linux/timekeeping.h>
#include <linux/siphash.h>
#include <net/rtnetlink.h>
#include <net/dropreason-core.h>
#include <net/dst_cache.h>
#include <net/gro_cells.h>
#include <net/udp_tunnel.h>
#include <net/net_namespace.h>
#include <crypto/blake2s.h>
#include <crypto/chacha20poly1305.h>
#include <crypto/curve25519.h>
#include <crypto/utils.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>
#include <uapi/linux/wireguard.h>
#include <uapi/linux/wgrs_gate.h>
#include "gen/wgrs_gate_nl.h"

/*
 * A peer's endpoint: the remote address as userspace sees it (a sockaddr_in
 * or sockaddr_in6 in the first 16 or 28 bytes, the family says which), the
 * local source address last used or seen (4 or 16 bytes) and, for IPv4, the
 * interface it was seen on. Plain bytes, so that bindgen gives Rust a plain
 * struct; shim.c converts.
 */
struct wgrs_endpoint {
	u8 addr[28];
	u8 src[16];
	int src_if4;
};

/* ---- shim.c: device and link kind ---- */
int wgrs_rtnl_register(void);
void wgrs_rtnl_unregister(void);
void **wgrs_netdev_slot(struct net_device *dev);
bool wgrs_netdev_is_ours(const struct net_device *dev);
void wgrs_setup_tunnel(struct net_device *dev, u16 headroom, u16 tailroom,
		       unsigned int mtu, unsigned int max_mtu);
unsigned int wgrs_net_skb_pad(void);
bool wgrs_netif_running(const struct net_device *dev);
struct net *wgrs_dev_net(const struct net_device *dev);
void wgrs_dev_tx_dropped(struct net_device *dev, unsigned int n);
void wgrs_dev_rx_dropped(struct net_device *dev, unsigned int n);
void wgrs_dev_rx_add(struct net_device *dev, unsigned int packets, u64 bytes);
void wgrs_dev_count_error(struct net_device *dev, int which);
void wgrs_dev_inet_defaults(struct net_device *dev);
bool wgrs_net_capable_admin(struct net *net);
struct net *wgrs_maybe_get_net(struct net *net);
void wgrs_put_net(struct net *net);

/* Implemented in Rust (emitted by link_driver!), called from the ops. */
void wgrs_link_setup(struct net_device *dev);
int wgrs_link_newlink(struct net_device *dev, struct net *net);
void wgrs_link_registered(struct net_device *dev);
void wgrs_link_destruct(struct net_device *dev);
int wgrs_link_open(struct net_device *dev);
void wgrs_link_stop(struct net_device *dev);
int wgrs_link_xmit(struct sk_buff *skb, struct net_device *dev);
void wgrs_link_netns_exit(struct net_device *dev, struct net *net);

/* ---- shim.c: generic netlink family `wireguard` ---- */
int wgrs_genl_register(void);
void wgrs_genl_unregister(void);
extern const struct nla_policy wgrs_wgpeer_policy[WGPEER_A_MAX + 1];
extern const struct nla_policy wgrs_wgallowedip_policy[WGALLOWEDIP_A_MAX + 1];
void *wgrs_genl_dump_put(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd);
struct net *wgrs_skb_net(struct sk_buff *skb);

/* Implemented in Rust (emitted by wireguard_family!), called from the ops. */
int wgrs_rust_genl_get_start(struct netlink_callback *cb);
int wgrs_rust_genl_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int wgrs_rust_genl_get_done(struct netlink_callback *cb);
int wgrs_rust_genl_set_doit(struct sk_buff *skb, struct genl_info *info);

/* ---- shim.c: per-packet steps ---- */
int wgrs_skb_ip_addr(struct sk_buff *skb, u8 *addr, bool source);
u32 wgrs_skb_route_mtu(struct sk_buff *skb, struct net_device *dev);
u8 wgrs_skb_outer_ds(struct sk_buff *skb);
void wgrs_skb_icmp_unreachable(struct sk_buff *skb);
void wgrs_skb_icmp_prohibited(struct sk_buff *skb);
struct sk_buff *wgrs_skb_segment(struct sk_buff *skb, int *err);
bool wgrs_skb_encrypt(struct sk_buff *skb, unsigned int padding, u64 nonce,
		      u32 receiver, const u8 *key);
int wgrs_skb_rx_prepare(struct sk_buff *skb, u8 *ds);
bool wgrs_skb_pull_message(struct sk_buff *skb, unsigned int len);
bool wgrs_skb_decrypt(struct sk_buff *skb, u64 nonce, const u8 *key);
int wgrs_skb_endpoint(const struct sk_buff *skb, struct wgrs_endpoint *ep);
void wgrs_skb_reset(struct sk_buff *skb, bool encapsulating);
int wgrs_skb_finish_inner(struct sk_buff *skb, struct net_device *dev, u8 ds);
struct sk_buff *wgrs_skb_alloc_keepalive(struct net_device *dev);
struct sk_buff *wgrs_skb_from_buffer(const void *buf, size_t len);

/* ---- shim.c: receive cells ---- */
/* Per-CPU lists and NAPI instances that gather the data messages one
 * softirq run receives; each poll hands what it took to `batch` as a
 * null-terminated chain (skb->next), which the callee then owns. */
struct wgrs_rx_cells;
typedef void (*wgrs_rx_batch_t)(void *data, struct sk_buff *chain);
struct wgrs_rx_cells *wgrs_rx_cells_create(struct net_device *dev,
					   wgrs_rx_batch_t batch, void *data);
bool wgrs_rx_cells_queue(struct wgrs_rx_cells *cells, struct sk_buff *skb);
void wgrs_rx_cells_destroy(struct wgrs_rx_cells *cells);

/* ---- shim.c: UDP tunnel sockets ---- */
typedef int (*wgrs_encap_rcv_t)(struct sock *sk, struct sk_buff *skb);
int wgrs_socket_create(struct net *net, u16 port, bool v6, wgrs_encap_rcv_t rcv,
		       void *user_data, struct socket **out);
void wgrs_socket_release(struct socket *sock);
u16 wgrs_socket_port(struct socket *sock);
int wgrs_socket_send(struct socket *sock, struct sk_buff *skb,
		     struct net_device *dev, struct wgrs_endpoint *ep, u8 ds,
		     u32 mark, struct dst_cache *cache);
void *wgrs_sk_user_data(struct sock *sk);
int wgrs_dst_cache_init(struct dst_cache *cache);

/* ---- shim.c: locks, queues, time, module parameters ---- */
void wgrs_spin_lock_bh(spinlock_t *lock);
void wgrs_spin_unlock_bh(spinlock_t *lock);
int wgrs_spin_trylock_bh(spinlock_t *lock);
struct workqueue_struct *wgrs_alloc_workqueue(const char *name, unsigned int flags);
int wgrs_next_online_cpu(int prev);
int wgrs_choose_online_cpu(int stored, u64 id);
unsigned int wgrs_nr_cpu_ids(void);
void wgrs_local_bh_disable(void);
void wgrs_local_bh_enable(void);
u64 wgrs_jiffies(void);
void wgrs_cond_resched(void);
bool wgrs_debug_enabled(void);

/* ---- shim.c: generic netlink family `wgrs_gate` ---- */
int wgrs_gate_register(void);
void wgrs_gate_unregister(void);
void *wgrs_gate_dump_put(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd);
struct sk_buff *wgrs_gate_event_new(u8 cmd, bool atomic, void **hdr);
int wgrs_gate_event_send(struct sk_buff *skb, void *hdr, struct net *net, bool atomic);
void wgrs_nlmsg_free(struct sk_buff *skb);
bool wgrs_dev_has_addr(struct net_device *dev, bool v6, const u8 *addr);
bool wgrs_skb_pull_headers(struct sk_buff *skb, unsigned int len);

/* Implemented in Rust (emitted by gate_family!), called from the ops. */
int wgrs_rust_gate_doit(struct sk_buff *skb, struct genl_info *info, u8 cmd,
			unsigned int nattrs);
int wgrs_rust_gate_dumpit(struct sk_buff *skb, struct netlink_callback *cb);

#endif
