// SPDX-License-Identifier: GPL-2.0
/*
 * The only C in wgrs: ops tables and values Rust cannot express directly.
 *
 * - net_device_ops.ndo_start_xmit returns the C enum netdev_tx_t. Under kCFI
 *   a Rust function stored there would carry the type hash of an integer
 *   return and trap; a C trampoline makes the indirect call C-to-C and calls
 *   Rust directly.
 * - rtnl_link_ops is written by the kernel on registration (its list head),
 *   so it lives here as ordinary writable C data rather than in a Rust static.
 * - NETIF_F_* and friends are macro expressions bindgen cannot evaluate.
 * - The generic netlink family is written by the kernel on registration (id,
 *   mcgrp offset, list), so it is writable C data too; its attribute policies
 *   are built from NLA_POLICY_* macros over bitfields and unions, and its ops
 *   call Rust through trampolines (kCFI, as above).
 *
 * Every function here only forwards; all decisions are made in Rust.
 */
#include "wgrs_sys.h"

/*
 * The shape of a tunnel device. The numbers are the driver's (Rust) decision;
 * the fields sit in struct groups, unions and bitfields that bindgen exposes
 * only through generated anonymous names, so they are written here.
 */
void wgrs_setup_tunnel(struct net_device *dev, u16 headroom, u16 tailroom,
		       unsigned int mtu, unsigned int max_mtu)
{
	const netdev_features_t features = NETIF_F_HW_CSUM | NETIF_F_RXCSUM |
		NETIF_F_SG | NETIF_F_GSO | NETIF_F_GSO_SOFTWARE | NETIF_F_HIGHDMA;

	dev->hard_header_len = 0;
	dev->addr_len = 0;
	dev->needed_headroom = headroom;
	dev->needed_tailroom = tailroom;
	dev->type = ARPHRD_NONE;
	dev->flags = IFF_POINTOPOINT | IFF_NOARP;
	dev->priv_flags |= IFF_NO_QUEUE;
	dev->lltx = true;
	dev->features |= features;
	dev->hw_features |= features;
	dev->hw_enc_features |= features;
	dev->mtu = mtu;
	dev->max_mtu = max_mtu;
	dev->pcpu_stat_type = NETDEV_PCPU_STAT_DSTATS;
	/* ICMP errors for tunnelled packets need the route kept on the skb. */
	netif_keep_dst(dev);
	netif_set_tso_max_size(dev, GSO_MAX_SIZE);
}

static int wgrs_open(struct net_device *dev)
{
	return wgrs_rust_open(dev);
}

static int wgrs_stop(struct net_device *dev)
{
	return wgrs_rust_stop(dev);
}

static netdev_tx_t wgrs_xmit(struct sk_buff *skb, struct net_device *dev)
{
	/* The driver always consumes the skb (sends, queues or frees it). */
	wgrs_rust_xmit(skb, dev);
	return NETDEV_TX_OK;
}

static const struct net_device_ops wgrs_netdev_ops = {
	.ndo_open	= wgrs_open,
	.ndo_stop	= wgrs_stop,
	.ndo_start_xmit	= wgrs_xmit,
};

/* Same DEVTYPE as the C driver: udev rules and networkd key on it. */
static const struct device_type wgrs_device_type = { .name = "wireguard" };

static void wgrs_destruct(struct net_device *dev)
{
	wgrs_rust_destruct(dev);
	free_netdev(dev);
}

static void wgrs_setup(struct net_device *dev)
{
	dev->netdev_ops = &wgrs_netdev_ops;
	SET_NETDEV_DEVTYPE(dev, &wgrs_device_type);
	wgrs_rust_setup(dev);
}

static int wgrs_newlink(struct net_device *dev, struct rtnl_newlink_params *params,
			struct netlink_ext_ack *extack)
{
	int ret = wgrs_rust_newlink(dev, extack);

	if (ret)
		return ret;
	ret = register_netdevice(dev);
	if (ret) {
		/* register_netdevice does not run priv_destructor on failure. */
		wgrs_rust_destruct(dev);
		return ret;
	}
	/* Set only now, so a failed register does not free the Rust state twice. */
	dev->priv_destructor = wgrs_destruct;
	return 0;
}

/* The device's private area holds one pointer to the Rust-owned state. */
void **wgrs_netdev_slot(struct net_device *dev)
{
	return netdev_priv(dev);
}

static struct rtnl_link_ops wgrs_link_ops;

/* Devices of our kind only: compared by ops table, not by kind string. */
bool wgrs_netdev_is_ours(const struct net_device *dev)
{
	return dev->rtnl_link_ops == &wgrs_link_ops;
}

static struct rtnl_link_ops wgrs_link_ops __read_mostly = {
	.kind		= "wireguard",
	.priv_size	= sizeof(void *),
	.setup		= wgrs_setup,
	.newlink	= wgrs_newlink,
};

int wgrs_rtnl_register(void)
{
	return rtnl_link_register(&wgrs_link_ops);
}

void wgrs_rtnl_unregister(void)
{
	/* Deletes every device of this kind, in every namespace, under RTNL. */
	rtnl_link_unregister(&wgrs_link_ops);
}

/*
 * Generic netlink family "wireguard": the same policies and ops as the C
 * driver's (Documentation/netlink/specs/wireguard.yaml), handlers in Rust
 * (rust/genetlink.rs, then rust/netlink.rs).
 */
const struct nla_policy wgrs_wgallowedip_policy[WGALLOWEDIP_A_MAX + 1] = {
	[WGALLOWEDIP_A_FAMILY] = { .type = NLA_U16 },
	[WGALLOWEDIP_A_IPADDR] = NLA_POLICY_MIN_LEN(4),
	[WGALLOWEDIP_A_CIDR_MASK] = { .type = NLA_U8 },
	[WGALLOWEDIP_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, WGALLOWEDIP_F_REMOVE_ME),
};

const struct nla_policy wgrs_wgpeer_policy[WGPEER_A_MAX + 1] = {
	[WGPEER_A_PUBLIC_KEY] = NLA_POLICY_EXACT_LEN(WG_KEY_LEN),
	[WGPEER_A_PRESHARED_KEY] = NLA_POLICY_EXACT_LEN(WG_KEY_LEN),
	[WGPEER_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, WGPEER_F_REMOVE_ME |
					   WGPEER_F_REPLACE_ALLOWEDIPS | WGPEER_F_UPDATE_ONLY),
	[WGPEER_A_ENDPOINT] = NLA_POLICY_MIN_LEN(sizeof(struct sockaddr)),
	[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL] = { .type = NLA_U16 },
	[WGPEER_A_LAST_HANDSHAKE_TIME] = NLA_POLICY_EXACT_LEN(sizeof(struct __kernel_timespec)),
	[WGPEER_A_RX_BYTES] = { .type = NLA_U64 },
	[WGPEER_A_TX_BYTES] = { .type = NLA_U64 },
	[WGPEER_A_ALLOWEDIPS] = NLA_POLICY_NESTED_ARRAY(wgrs_wgallowedip_policy),
	[WGPEER_A_PROTOCOL_VERSION] = { .type = NLA_U32 },
};

static const struct nla_policy wgrs_get_device_policy[WGDEVICE_A_IFNAME + 1] = {
	[WGDEVICE_A_IFINDEX] = { .type = NLA_U32 },
	[WGDEVICE_A_IFNAME] = { .type = NLA_NUL_STRING, .len = IFNAMSIZ - 1 },
};

static const struct nla_policy wgrs_set_device_policy[WGDEVICE_A_MAX + 1] = {
	[WGDEVICE_A_IFINDEX] = { .type = NLA_U32 },
	[WGDEVICE_A_IFNAME] = { .type = NLA_NUL_STRING, .len = IFNAMSIZ - 1 },
	[WGDEVICE_A_PRIVATE_KEY] = NLA_POLICY_EXACT_LEN(WG_KEY_LEN),
	[WGDEVICE_A_PUBLIC_KEY] = NLA_POLICY_EXACT_LEN(WG_KEY_LEN),
	[WGDEVICE_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, WGDEVICE_F_REPLACE_PEERS),
	[WGDEVICE_A_LISTEN_PORT] = { .type = NLA_U16 },
	[WGDEVICE_A_FWMARK] = { .type = NLA_U32 },
	[WGDEVICE_A_PEERS] = NLA_POLICY_NESTED_ARRAY(wgrs_wgpeer_policy),
};

static int wgrs_genl_get_start(struct netlink_callback *cb)
{
	return wgrs_rust_genl_get_start(cb);
}

static int wgrs_genl_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	return wgrs_rust_genl_get_dumpit(skb, cb);
}

static int wgrs_genl_get_done(struct netlink_callback *cb)
{
	return wgrs_rust_genl_get_done(cb);
}

static int wgrs_genl_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	return wgrs_rust_genl_set_doit(skb, info);
}

static const struct genl_split_ops wgrs_genl_ops[] = {
	{
		.cmd		= WG_CMD_GET_DEVICE,
		.start		= wgrs_genl_get_start,
		.dumpit		= wgrs_genl_get_dumpit,
		.done		= wgrs_genl_get_done,
		.policy		= wgrs_get_device_policy,
		.maxattr	= WGDEVICE_A_IFNAME,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= WG_CMD_SET_DEVICE,
		.doit		= wgrs_genl_set_doit,
		.policy		= wgrs_set_device_policy,
		.maxattr	= WGDEVICE_A_MAX,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
};

/* Written by genl_register_family (id, list): not const, not a Rust static. */
static struct genl_family wgrs_genl_family __ro_after_init = {
	.split_ops	= wgrs_genl_ops,
	.n_split_ops	= ARRAY_SIZE(wgrs_genl_ops),
	.name		= WG_GENL_NAME,
	.version	= WG_GENL_VERSION,
	.module		= THIS_MODULE,
	.netnsok	= true,
};

int wgrs_genl_register(void)
{
	return genl_register_family(&wgrs_genl_family);
}

void wgrs_genl_unregister(void)
{
	genl_unregister_family(&wgrs_genl_family);
}

/* One multipart message of a GET_DEVICE dump: NETLINK_CB() is a macro. */
void *wgrs_genl_dump_put(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd)
{
	void *hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				&wgrs_genl_family, NLM_F_MULTI, cmd);

	if (hdr)
		genl_dump_check_consistent(cb, hdr);
	return hdr;
}

/* The network namespace of a request's socket (sk sits in a union). */
struct net *wgrs_skb_net(struct sk_buff *skb)
{
	return sock_net(skb->sk);
}
