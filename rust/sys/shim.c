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
