// SPDX-License-Identifier: GPL-2.0
/*
 * The only C in wgrs: what Rust cannot express, and the per-packet steps that
 * are a string of static inline kernel helpers over sk_buff internals, kept
 * as one call each so a packet crosses the language boundary a few times,
 * not dozens.
 *
 * - Ops tables the kernel writes on registration (rtnl_link_ops,
 *   genl_family, pernet_operations) are ordinary writable C data.
 * - ndo_start_xmit returns the C enum netdev_tx_t: under kCFI a Rust
 *   function stored there would carry an integer-returning type hash and
 *   trap, so every callback in these tables is a C trampoline that calls
 *   the Rust entry point directly.
 * - Fields inside struct groups, bitfields and unions, and macros.
 *
 * Decisions (which peer, which key, what to drop, padding, nonces) are made
 * in Rust; this file only performs them.
 */
#include "wgrs_sys.h"

#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/inetdevice.h>
#include <linux/cpumask.h>
#include <net/icmp.h>
#include <net/ip_tunnels.h>
#include <net/inet_ecn.h>
#include <net/gso.h>
#include <net/addrconf.h>
#include <net/route.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/dst_metadata.h>
#include <net/hotdata.h>

/* ---- module parameter ---- */

static bool wgrs_debug;
module_param_named(debug, wgrs_debug, bool, 0644);
MODULE_PARM_DESC(debug, "Log the creation and destruction of interfaces, peers and keypairs");

bool wgrs_debug_enabled(void)
{
	return READ_ONCE(wgrs_debug);
}

/* ---- sizes ---- */

/* Outer IP (the larger, v6) + UDP, plus the link-layer reserve. */
#define WGRS_SKB_HEADER_LEN (sizeof(struct ipv6hdr) + sizeof(struct udphdr) + NET_SKB_PAD)
/* A data message's own header on top. */
#define WGRS_DATA_HEADROOM ALIGN(16 + WGRS_SKB_HEADER_LEN, 4)
#define WGRS_AUTHTAG_LEN 16
#define WGRS_DATA_HEADER_LEN 16

unsigned int wgrs_net_skb_pad(void)
{
	return NET_SKB_PAD;
}

/* ---- the device ---- */

/*
 * The shape of a tunnel device. The numbers are the driver's (Rust)
 * decision; the fields sit in struct groups, unions and bitfields that
 * bindgen exposes only through generated anonymous names, so they are
 * written here.
 */
void wgrs_setup_tunnel(struct net_device *dev, u16 headroom, u16 tailroom,
		       unsigned int mtu, unsigned int max_mtu)
{
	const netdev_features_t features = NETIF_F_HW_CSUM | NETIF_F_RXCSUM |
		NETIF_F_SG | NETIF_F_GSO | NETIF_F_GSO_SOFTWARE | NETIF_F_HIGHDMA;

	dev->header_ops = &ip_tunnel_header_ops;
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

bool wgrs_netif_running(const struct net_device *dev)
{
	return netif_running(dev);
}

struct net *wgrs_dev_net(const struct net_device *dev)
{
	return dev_net(dev);
}

void wgrs_dev_tx_dropped(struct net_device *dev, unsigned int n)
{
	DEV_STATS_ADD(dev, tx_dropped, n);
}

void wgrs_dev_rx_dropped(struct net_device *dev, unsigned int n)
{
	DEV_STATS_ADD(dev, rx_dropped, n);
}

void wgrs_dev_rx_add(struct net_device *dev, unsigned int packets, u64 bytes)
{
	struct pcpu_dstats *dstats;

	local_bh_disable();
	dstats = this_cpu_ptr(dev->dstats);
	u64_stats_update_begin(&dstats->syncp);
	u64_stats_add(&dstats->rx_packets, packets);
	u64_stats_add(&dstats->rx_bytes, bytes);
	u64_stats_update_end(&dstats->syncp);
	local_bh_enable();
}

void wgrs_dev_count_error(struct net_device *dev, int which)
{
	switch (which) {
	case 0:
		DEV_STATS_INC(dev, tx_errors);
		break;
	case 1:
		DEV_STATS_INC(dev, rx_errors);
		DEV_STATS_INC(dev, rx_frame_errors);
		break;
	default:
		DEV_STATS_INC(dev, rx_errors);
		DEV_STATS_INC(dev, rx_length_errors);
		break;
	}
}

/* A point-to-point tunnel neither sends redirects nor wants an IPv6
 * link-local address generated for it. Called under RTNL. */
void wgrs_dev_inet_defaults(struct net_device *dev)
{
	struct in_device *in4 = __in_dev_get_rtnl(dev);
	struct inet6_dev *in6 = __in6_dev_get(dev);

	if (in4) {
		IN_DEV_CONF_SET(in4, SEND_REDIRECTS, false);
		IPV4_DEVCONF_ALL(dev_net(dev), SEND_REDIRECTS) = false;
	}
	if (in6)
		in6->cnf.addr_gen_mode = IN6_ADDR_GEN_MODE_NONE;
}

bool wgrs_net_capable_admin(struct net *net)
{
	return ns_capable(net->user_ns, CAP_NET_ADMIN);
}

struct net *wgrs_maybe_get_net(struct net *net)
{
	return maybe_get_net(net);
}

void wgrs_put_net(struct net *net)
{
	put_net(net);
}

/* ---- rtnl link kind and per-namespace hook ---- */

static int wgrs_open(struct net_device *dev)
{
	return wgrs_link_open(dev);
}

static int wgrs_stop(struct net_device *dev)
{
	wgrs_link_stop(dev);
	return 0;
}

static netdev_tx_t wgrs_xmit(struct sk_buff *skb, struct net_device *dev)
{
	/*
	 * The driver always consumes the skb (sends, queues or frees it). A
	 * negative errno, like the C driver's, reaches a local sender: with
	 * no peer for the destination, ping says "Required key not available".
	 */
	return (netdev_tx_t)wgrs_link_xmit(skb, dev);
}

static const struct net_device_ops wgrs_netdev_ops = {
	.ndo_open	= wgrs_open,
	.ndo_stop	= wgrs_stop,
	.ndo_start_xmit	= wgrs_xmit,
};

/* Same DEVTYPE as the C driver: udev rules and networkd key on it. */
static const struct device_type wgrs_device_type = { .name = "wireguard" };

/*
 * The private area: the Rust driver state, and the device's place in the
 * list of all our devices (under RTNL), which the namespace exit hook walks
 * because a device's sockets live in the namespace that created it, wherever
 * the device itself has moved since.
 */
struct wgrs_priv {
	void *driver;
	struct net_device *dev;
	struct list_head list;
};

static LIST_HEAD(wgrs_devices);

static void wgrs_destruct(struct net_device *dev)
{
	struct wgrs_priv *priv = netdev_priv(dev);

	rtnl_lock();
	list_del(&priv->list);
	rtnl_unlock();
	wgrs_link_destruct(dev);
	free_netdev(dev);
}

static void wgrs_setup(struct net_device *dev)
{
	dev->netdev_ops = &wgrs_netdev_ops;
	SET_NETDEV_DEVTYPE(dev, &wgrs_device_type);
	wgrs_link_setup(dev);
}

static int wgrs_newlink(struct net_device *dev, struct rtnl_newlink_params *params,
			struct netlink_ext_ack *extack)
{
	int ret = wgrs_link_newlink(dev, rtnl_newlink_link_net(params));

	if (ret)
		return ret;
	ret = register_netdevice(dev);
	if (ret) {
		/*
		 * register_netdevice() runs priv_destructor on some of its
		 * failure paths. Like the C driver we only install it once
		 * registration succeeded, so on failure the driver state is
		 * released here, exactly once.
		 */
		wgrs_link_destruct(dev);
		return ret;
	}
	dev->priv_destructor = wgrs_destruct;
	((struct wgrs_priv *)netdev_priv(dev))->dev = dev;
	list_add(&((struct wgrs_priv *)netdev_priv(dev))->list, &wgrs_devices);
	wgrs_link_registered(dev);
	return 0;
}

/* The Rust-owned state of a device. */
void **wgrs_netdev_slot(struct net_device *dev)
{
	return &((struct wgrs_priv *)netdev_priv(dev))->driver;
}

static struct rtnl_link_ops wgrs_link_ops;

/* Devices of our kind only: compared by ops table, not by kind string. */
bool wgrs_netdev_is_ours(const struct net_device *dev)
{
	return dev->rtnl_link_ops == &wgrs_link_ops;
}

static struct rtnl_link_ops wgrs_link_ops __read_mostly = {
	.kind		= "wireguard",
	.priv_size	= sizeof(struct wgrs_priv),
	.setup		= wgrs_setup,
	.newlink	= wgrs_newlink,
};

static void __net_exit wgrs_netns_exit_rtnl(struct net *net, struct list_head *dev_kill_list)
{
	struct wgrs_priv *priv;

	ASSERT_RTNL();
	list_for_each_entry(priv, &wgrs_devices, list)
		wgrs_link_netns_exit(priv->dev, net);
}

static struct pernet_operations wgrs_pernet_ops __read_mostly = {
	.exit_rtnl = wgrs_netns_exit_rtnl,
};

int wgrs_rtnl_register(void)
{
	int ret = register_pernet_device(&wgrs_pernet_ops);

	if (ret)
		return ret;
	ret = rtnl_link_register(&wgrs_link_ops);
	if (ret)
		unregister_pernet_device(&wgrs_pernet_ops);
	return ret;
}

void wgrs_rtnl_unregister(void)
{
	/* Deletes every device of this kind, in every namespace, under RTNL. */
	rtnl_link_unregister(&wgrs_link_ops);
	unregister_pernet_device(&wgrs_pernet_ops);
}

/* ---- per-packet steps ---- */

/* The skb's protocol field and its IP header agree (and it has one). */
static bool wgrs_ip_protocol_ok(struct sk_buff *skb)
{
	__be16 real = ip_tunnel_parse_protocol(skb);

	return real && skb->protocol == real;
}

/* Source or destination address of a well-formed IP packet: returns 4 or 6
 * (and fills 4 or 16 bytes of @addr), or 0. */
int wgrs_skb_ip_addr(struct sk_buff *skb, u8 *addr, bool source)
{
	if (!wgrs_ip_protocol_ok(skb))
		return 0;
	if (skb->protocol == htons(ETH_P_IP)) {
		const struct iphdr *ip = ip_hdr(skb);

		memcpy(addr, source ? &ip->saddr : &ip->daddr, 4);
		return 4;
	}
	if (skb->protocol == htons(ETH_P_IPV6)) {
		const struct ipv6hdr *ip6 = ipv6_hdr(skb);

		memcpy(addr, source ? &ip6->saddr : &ip6->daddr, 16);
		return 6;
	}
	return 0;
}

u32 wgrs_skb_route_mtu(struct sk_buff *skb, struct net_device *dev)
{
	return skb_valid_dst(skb) ? dst_mtu(skb_dst(skb)) : READ_ONCE(dev->mtu);
}

/* Outer DS: only the ECN bits of the inner packet, no TOS leaks out. */
u8 wgrs_skb_outer_ds(struct sk_buff *skb)
{
	return ip_tunnel_ecn_encap(0, ip_hdr(skb), skb);
}

void wgrs_skb_icmp_unreachable(struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		icmp_ndo_send(skb, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0);
	else if (skb->protocol == htons(ETH_P_IPV6))
		icmpv6_ndo_send(skb, ICMPV6_DEST_UNREACH, ICMPV6_ADDR_UNREACH, 0);
}

void wgrs_skb_icmp_prohibited(struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		icmp_ndo_send(skb, ICMP_DEST_UNREACH, ICMP_PKT_FILTERED, 0);
	else if (skb->protocol == htons(ETH_P_IPV6))
		icmpv6_ndo_send(skb, ICMPV6_DEST_UNREACH, ICMPV6_ADM_PROHIBITED, 0);
}

/*
 * GSO packets become their segments; every packet is then made private
 * (unshared) and loses its route, which only ICMP errors needed. Returns
 * the list (linked through ->next), consuming @skb; or sets *err and leaves
 * @skb alone.
 */
struct sk_buff *wgrs_skb_segment(struct sk_buff *skb, int *err)
{
	struct sk_buff *segs, *s, *next, *head = NULL, **tail = &head;

	*err = 0;
	if (!skb_is_gso(skb)) {
		skb_mark_not_on_list(skb);
		segs = skb;
	} else {
		segs = skb_gso_segment(skb, 0);
		if (IS_ERR_OR_NULL(segs)) {
			*err = segs ? PTR_ERR(segs) : -EINVAL;
			return NULL;
		}
		consume_skb(skb);
	}
	skb_list_walk_safe(segs, s, next) {
		skb_mark_not_on_list(s);
		s = skb_share_check(s, GFP_ATOMIC);
		if (unlikely(!s))
			continue;
		skb_dst_drop(s);
		*tail = s;
		tail = &s->next;
	}
	return head;
}

/* Forget the packet's layer-2/3 identity, keeping (when encapsulating) the
 * flow hash and timestamp type so flow analysis stays stable. */
void wgrs_skb_reset(struct sk_buff *skb, bool encapsulating)
{
	const u8 l4_hash = skb->l4_hash, sw_hash = skb->sw_hash;
	const u8 tstamp_type = skb->tstamp_type;
	const u32 hash = skb->hash;

	skb_scrub_packet(skb, true);
	memset(&skb->headers, 0, sizeof(skb->headers));
	if (encapsulating) {
		skb->l4_hash = l4_hash;
		skb->sw_hash = sw_hash;
		skb->hash = hash;
		skb->tstamp_type = tstamp_type;
	}
	skb->queue_mapping = 0;
	skb->nohdr = 0;
	skb->peeked = 0;
	skb->mac_len = 0;
	skb->dev = NULL;
#ifdef CONFIG_NET_SCHED
	skb->tc_index = 0;
#endif
	skb_reset_redirect(skb);
	skb->hdr_len = skb_headroom(skb);
	skb_reset_mac_header(skb);
	skb_reset_network_header(skb);
	skb_reset_transport_header(skb);
	skb_probe_transport_header(skb);
	skb_reset_inner_headers(skb);
}

/*
 * Inner packet -> data message, in place: @padding zero bytes and room for
 * the tag at the end, the 16-byte header in front, ChaCha20-Poly1305 over
 * the scatter-gather list of header-less plaintext. As in C, skb_cow_data
 * first makes the data writable: page fragments are copied into the head
 * (pages count as not writable), a frag list is kept and walked.
 */
bool wgrs_skb_encrypt(struct sk_buff *skb, unsigned int padding, u64 nonce,
		      u32 receiver, const u8 *key)
{
	struct scatterlist sg[MAX_SKB_FRAGS + 8];
	unsigned int trailer_len = padding + WGRS_AUTHTAG_LEN;
	unsigned int plaintext_len = skb->len + padding;
	struct sk_buff *trailer;
	__le32 *hdr;
	int nfrags;

	/* The flow hash of the inner packet, before it disappears. */
	skb_get_hash(skb);
	if (unlikely(skb_cow_head(skb, WGRS_DATA_HEADROOM) < 0))
		return false;
	if (unlikely(skb->ip_summed == CHECKSUM_PARTIAL && skb_checksum_help(skb)))
		return false;
	nfrags = skb_cow_data(skb, trailer_len, &trailer);
	if (unlikely(nfrags < 0 || nfrags > ARRAY_SIZE(sg)))
		return false;
	memset(skb_tail_pointer(trailer), 0, padding);
	skb_set_inner_network_header(skb, 0);
	hdr = (__le32 *)skb_push(skb, WGRS_DATA_HEADER_LEN);
	hdr[0] = cpu_to_le32(4);
	hdr[1] = cpu_to_le32(receiver);
	put_unaligned_le64(nonce, &hdr[2]);
	pskb_put(skb, trailer, trailer_len);
	sg_init_table(sg, nfrags);
	if (skb_to_sgvec(skb, sg, WGRS_DATA_HEADER_LEN,
			 plaintext_len + WGRS_AUTHTAG_LEN) <= 0)
		return false;
	if (!chacha20poly1305_encrypt_sg_inplace(sg, plaintext_len, NULL, 0, nonce, key))
		return false;
	wgrs_skb_reset(skb, true);
	return true;
}

/*
 * Checks what the UDP layer handed us and points ->data at the WireGuard
 * message: the IP header agrees with skb->protocol, the UDP header lies in
 * the packet and its length does not lie; the packet is trimmed to it and
 * at least 4 bytes (the type) are linear. Returns the message length, or
 * -1. *ds gets the outer DS byte.
 */
int wgrs_skb_rx_prepare(struct sk_buff *skb, u8 *ds)
{
	size_t off, len;
	struct udphdr *udp;

	if (unlikely(!wgrs_ip_protocol_ok(skb) ||
		     skb_transport_header(skb) < skb->head ||
		     skb_transport_header(skb) + sizeof(struct udphdr) > skb_tail_pointer(skb)))
		return -1;
	udp = udp_hdr(skb);
	off = (u8 *)udp - skb->data;
	if (unlikely(off > U16_MAX || off + sizeof(struct udphdr) > skb->len))
		return -1;
	len = ntohs(udp->len);
	if (unlikely(len < sizeof(struct udphdr) || len > skb->len - off))
		return -1;
	len -= sizeof(struct udphdr);
	off += sizeof(struct udphdr);
	if (unlikely(len < 4 || !pskb_may_pull(skb, off + 4) || pskb_trim(skb, off + len) < 0))
		return -1;
	*ds = ip_tunnel_get_dsfield(ip_hdr(skb), skb);
	skb_pull(skb, off);
	if (unlikely(skb->len != len))
		return -1;
	return len;
}

/* Makes the first @len bytes of the message linear, keeping the outer
 * headers in front of it intact (the endpoint is read from them later). */
bool wgrs_skb_pull_message(struct sk_buff *skb, unsigned int len)
{
	int off = skb->data - skb_network_header(skb);

	if (unlikely(off < 0))
		return false;
	__skb_push(skb, off);
	if (unlikely(!pskb_may_pull(skb, off + len)))
		return false;
	__skb_pull(skb, off);
	return true;
}

/* Data message -> plaintext, in place (->data at the message header). */
bool wgrs_skb_decrypt(struct sk_buff *skb, u64 nonce, const u8 *key)
{
	struct scatterlist sg[MAX_SKB_FRAGS + 8];
	struct sk_buff *trailer;
	unsigned int off;
	int nfrags;

	/* skb_cow_data must keep the outer headers (the endpoint), so it runs
	 * with ->data at the network header. */
	off = -skb_network_offset(skb);
	skb_push(skb, off);
	nfrags = skb_cow_data(skb, 0, &trailer);
	off += WGRS_DATA_HEADER_LEN;
	skb_pull(skb, off);
	if (unlikely(nfrags < 0 || nfrags > ARRAY_SIZE(sg)))
		return false;
	sg_init_table(sg, nfrags);
	if (skb_to_sgvec(skb, sg, 0, skb->len) <= 0)
		return false;
	if (!chacha20poly1305_decrypt_sg_inplace(sg, skb->len, NULL, 0, nonce, key))
		return false;
	skb_push(skb, off);
	if (pskb_trim(skb, skb->len - WGRS_AUTHTAG_LEN))
		return false;
	skb_pull(skb, off);
	return true;
}

/* Where a received packet came from, and the local address it came to. */
int wgrs_skb_endpoint(const struct sk_buff *skb, struct wgrs_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (skb->protocol == htons(ETH_P_IP)) {
		struct sockaddr_in a = {
			.sin_family = AF_INET,
			.sin_port = udp_hdr(skb)->source,
			.sin_addr.s_addr = ip_hdr(skb)->saddr,
		};

		memcpy(ep->addr, &a, sizeof(a));
		memcpy(ep->src, &ip_hdr(skb)->daddr, 4);
		ep->src_if4 = skb->skb_iif;
		return 0;
	}
	if (skb->protocol == htons(ETH_P_IPV6)) {
		struct sockaddr_in6 a = {
			.sin6_family = AF_INET6,
			.sin6_port = udp_hdr(skb)->source,
			.sin6_addr = ipv6_hdr(skb)->saddr,
			.sin6_scope_id = ipv6_iface_scope_id(&ipv6_hdr(skb)->saddr, skb->skb_iif),
		};

		memcpy(ep->addr, &a, sizeof(a));
		memcpy(ep->src, &ipv6_hdr(skb)->daddr, 16);
		return 0;
	}
	return -EINVAL;
}

/*
 * A decrypted, non-empty plaintext becomes a packet of @dev: it must start
 * with an IPv4 or IPv6 header whose length fits; it is trimmed to that
 * length (padding goes), its checksums count as verified (the AEAD tag
 * covered every byte) and ECN is decapsulated. 0, or -1 (not IP), -2 (bad
 * size), -3 (trim failed).
 */
int wgrs_skb_finish_inner(struct sk_buff *skb, struct net_device *dev, u8 ds)
{
	unsigned int len;

	if (unlikely(skb_network_header(skb) < skb->head))
		return -2;
	if (unlikely(!(pskb_network_may_pull(skb, sizeof(struct iphdr)) &&
		       (ip_hdr(skb)->version == 4 ||
			(ip_hdr(skb)->version == 6 &&
			 pskb_network_may_pull(skb, sizeof(struct ipv6hdr)))))))
		return -1;
	skb->dev = dev;
	skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb->csum_level = ~0;
	skb->protocol = ip_tunnel_parse_protocol(skb);
	if (skb->protocol == htons(ETH_P_IP)) {
		len = ntohs(ip_hdr(skb)->tot_len);
		if (unlikely(len < sizeof(struct iphdr)))
			return -2;
		INET_ECN_decapsulate(skb, ds, ip_hdr(skb)->tos);
	} else if (skb->protocol == htons(ETH_P_IPV6)) {
		len = ntohs(ipv6_hdr(skb)->payload_len) + sizeof(struct ipv6hdr);
		INET_ECN_decapsulate(skb, ds, ipv6_get_dsfield(ipv6_hdr(skb)));
	} else {
		return -1;
	}
	if (unlikely(len > skb->len))
		return -2;
	if (unlikely(pskb_trim(skb, len)))
		return -3;
	return 0;
}

struct sk_buff *wgrs_skb_alloc_keepalive(struct net_device *dev)
{
	struct sk_buff *skb = alloc_skb(WGRS_DATA_HEADROOM + WGRS_DATA_HEADER_LEN +
					WGRS_AUTHTAG_LEN, GFP_ATOMIC);

	if (unlikely(!skb))
		return NULL;
	skb_reserve(skb, WGRS_DATA_HEADROOM);
	skb->dev = dev;
	return skb;
}

struct sk_buff *wgrs_skb_from_buffer(const void *buf, size_t len)
{
	struct sk_buff *skb = alloc_skb(len + WGRS_SKB_HEADER_LEN, GFP_ATOMIC);

	if (unlikely(!skb))
		return NULL;
	skb_reserve(skb, WGRS_SKB_HEADER_LEN);
	skb_set_inner_network_header(skb, 0);
	skb_put_data(skb, buf, len);
	return skb;
}

/* ---- UDP tunnel sockets ---- */

/* ---- Receive cells ----
 * gro_cells' pattern with our own poll: the socket's receive callback
 * queues a data message on this CPU's list and schedules the cell's NAPI,
 * which runs once the softirq has delivered what it had (a veth backlog
 * or a NIC's poll), so the driver sees that run's messages together and
 * can hand a peer's train to another CPU as one job. */
struct wgrs_rx_cell {
	struct sk_buff_head skbs;
	struct napi_struct napi;
	local_lock_t bh_lock;
	struct wgrs_rx_cells *owner;
};

struct wgrs_rx_cells {
	struct wgrs_rx_cell __percpu *cells;
	wgrs_rx_batch_t batch;
	void *data;
	struct rcu_head rcu;
};

static int wgrs_rx_cell_poll(struct napi_struct *napi, int budget)
{
	struct wgrs_rx_cell *cell = container_of(napi, struct wgrs_rx_cell, napi);
	struct sk_buff *head = NULL, **tail = &head, *skb;
	int done = 0;

	__local_lock_nested_bh(&cell->bh_lock);
	while (done < budget && (skb = __skb_dequeue(&cell->skbs))) {
		skb->next = NULL;
		*tail = skb;
		tail = &skb->next;
		done++;
	}
	__local_unlock_nested_bh(&cell->bh_lock);
	if (head)
		cell->owner->batch(cell->owner->data, head);
	if (done < budget)
		napi_complete_done(napi, done);
	return done;
}

struct wgrs_rx_cells *wgrs_rx_cells_create(struct net_device *dev,
					   wgrs_rx_batch_t batch, void *data)
{
	struct wgrs_rx_cells *cells;
	int i;

	cells = kzalloc_obj(*cells, GFP_KERNEL);
	if (!cells)
		return NULL;
	cells->cells = alloc_percpu(struct wgrs_rx_cell);
	if (!cells->cells) {
		kfree(cells);
		return NULL;
	}
	cells->batch = batch;
	cells->data = data;
	for_each_possible_cpu(i) {
		struct wgrs_rx_cell *cell = per_cpu_ptr(cells->cells, i);

		__skb_queue_head_init(&cell->skbs);
		local_lock_init(&cell->bh_lock);
		cell->owner = cells;
		set_bit(NAPI_STATE_NO_BUSY_POLL, &cell->napi.state);
		netif_napi_add(dev, &cell->napi, wgrs_rx_cell_poll);
		napi_enable(&cell->napi);
	}
	return cells;
}

/* Bottom halves off (the socket's receive callback). False: this CPU's
 * list is full (netdev_max_backlog); the caller still owns the skb. */
bool wgrs_rx_cells_queue(struct wgrs_rx_cells *cells, struct sk_buff *skb)
{
	struct wgrs_rx_cell *cell;
	bool queued = false;

	local_lock_nested_bh(&cells->cells->bh_lock);
	cell = this_cpu_ptr(cells->cells);
	if (skb_queue_len(&cell->skbs) <= READ_ONCE(net_hotdata.max_backlog)) {
		__skb_queue_tail(&cell->skbs, skb);
		if (skb_queue_len(&cell->skbs) == 1)
			napi_schedule(&cell->napi);
		queued = true;
	}
	local_unlock_nested_bh(&cells->cells->bh_lock);
	return queued;
}

static void wgrs_rx_cells_free(struct rcu_head *rcu)
{
	struct wgrs_rx_cells *cells = container_of(rcu, struct wgrs_rx_cells, rcu);

	free_percpu(cells->cells);
	kfree(cells);
}

/* Process context, once nothing queues any more (the sockets are gone).
 * Netpoll may still walk the device's NAPI list under RCU: the memory
 * goes after a grace period. */
void wgrs_rx_cells_destroy(struct wgrs_rx_cells *cells)
{
	int i;

	if (!cells)
		return;
	for_each_possible_cpu(i) {
		struct wgrs_rx_cell *cell = per_cpu_ptr(cells->cells, i);

		napi_disable(&cell->napi);
		__netif_napi_del(&cell->napi);
		__skb_queue_purge_reason(&cell->skbs, SKB_DROP_REASON_DEV_READY);
	}
	call_rcu(&cells->rcu, wgrs_rx_cells_free);
}

int wgrs_socket_create(struct net *net, u16 port, bool v6, wgrs_encap_rcv_t rcv,
		       void *user_data, struct socket **out)
{
	struct udp_tunnel_sock_cfg cfg = {
		.sk_user_data = user_data,
		.encap_type = 1,
		.encap_rcv = rcv,
	};
	struct udp_port_cfg pcfg = { .local_udp_port = htons(port) };
	struct socket *sock;
	int ret;

	if (v6) {
		if (!ipv6_mod_enabled())
			return -EAFNOSUPPORT;
		pcfg.family = AF_INET6;
		pcfg.local_ip6 = in6addr_any;
		pcfg.use_udp6_tx_checksums = true;
		pcfg.use_udp6_rx_checksums = true;
		pcfg.ipv6_v6only = true;
	} else {
		pcfg.family = AF_INET;
		pcfg.local_ip.s_addr = htonl(INADDR_ANY);
		pcfg.use_udp_checksums = true;
	}
	ret = udp_sock_create(net, &pcfg, &sock);
	if (ret < 0)
		return ret;
	/* Sending happens in atomic context and must not block on buffers. */
	sock->sk->sk_allocation = GFP_ATOMIC;
	sock->sk->sk_sndbuf = INT_MAX;
	sk_set_memalloc(sock->sk);
	setup_udp_tunnel_sock(net, sock->sk, &cfg);
	*out = sock;
	return 0;
}

/* Clears the user data, waits for receivers, then closes. */
void wgrs_socket_release(struct socket *sock)
{
	sk_clear_memalloc(sock->sk);
	udp_tunnel_sock_release(sock->sk);
}

u16 wgrs_socket_port(struct socket *sock)
{
	return ntohs(inet_sk(sock->sk)->inet_sport);
}

void *wgrs_sk_user_data(struct sock *sk)
{
	return rcu_dereference_sk_user_data(sk);
}

int wgrs_dst_cache_init(struct dst_cache *cache)
{
	return dst_cache_init(cache, GFP_KERNEL);
}

/* Forget a cached source address that stopped working. */
static void wgrs_endpoint_clear_src(struct wgrs_endpoint *ep, struct dst_cache *cache)
{
	memset(ep->src, 0, sizeof(ep->src));
	ep->src_if4 = 0;
	if (cache)
		dst_cache_reset(cache);
}

static int wgrs_send4(struct sock *sk, struct sk_buff *skb, struct wgrs_endpoint *ep,
		      u8 ds, u32 mark, struct dst_cache *cache)
{
	struct sockaddr_in to;
	struct flowi4 fl = { .flowi4_mark = mark, .flowi4_proto = IPPROTO_UDP };
	struct rtable *rt = NULL;

	memcpy(&to, ep->addr, sizeof(to));
	memcpy(&fl.saddr, ep->src, 4);
	fl.daddr = to.sin_addr.s_addr;
	fl.fl4_dport = to.sin_port;
	fl.fl4_sport = inet_sk(sk)->inet_sport;

	if (cache)
		rt = dst_cache_get_ip4(cache, &fl.saddr);
	if (!rt) {
		security_sk_classify_flow(sk, flowi4_to_flowi_common(&fl));
		/* The sticky source is only kept while it is ours. */
		if (unlikely(!inet_confirm_addr(sock_net(sk), NULL, 0, fl.saddr, RT_SCOPE_HOST))) {
			wgrs_endpoint_clear_src(ep, cache);
			fl.saddr = 0;
		}
		rt = ip_route_output_flow(sock_net(sk), &fl, sk);
		/* ... and while the route still leaves where it arrived. */
		if (unlikely(ep->src_if4 && ((IS_ERR(rt) && PTR_ERR(rt) == -EINVAL) ||
				(!IS_ERR(rt) && rt->dst.dev->ifindex != ep->src_if4)))) {
			wgrs_endpoint_clear_src(ep, cache);
			fl.saddr = 0;
			if (!IS_ERR(rt))
				ip_rt_put(rt);
			rt = ip_route_output_flow(sock_net(sk), &fl, sk);
		}
		if (IS_ERR(rt)) {
			kfree_skb(skb);
			return PTR_ERR(rt);
		}
		if (cache)
			dst_cache_set_ip4(cache, &rt->dst, fl.saddr);
	}
	skb->ignore_df = 1;
	udp_tunnel_xmit_skb(rt, sk, skb, fl.saddr, fl.daddr, ds,
			    ip4_dst_hoplimit(&rt->dst), 0, fl.fl4_sport,
			    fl.fl4_dport, false, false, 0);
	return 0;
}

static int wgrs_send6(struct sock *sk, struct sk_buff *skb, struct wgrs_endpoint *ep,
		      u8 ds, u32 mark, struct dst_cache *cache)
{
	struct sockaddr_in6 to;
	struct flowi6 fl = { .flowi6_mark = mark, .flowi6_proto = IPPROTO_UDP };
	struct dst_entry *dst = NULL;

	memcpy(&to, ep->addr, sizeof(to));
	memcpy(&fl.saddr, ep->src, 16);
	fl.daddr = to.sin6_addr;
	fl.fl6_dport = to.sin6_port;
	fl.flowi6_oif = to.sin6_scope_id;
	fl.fl6_sport = inet_sk(sk)->inet_sport;

	if (cache)
		dst = dst_cache_get_ip6(cache, &fl.saddr);
	if (!dst) {
		security_sk_classify_flow(sk, flowi6_to_flowi_common(&fl));
		if (unlikely(!ipv6_addr_any(&fl.saddr) &&
			     !ipv6_chk_addr(sock_net(sk), &fl.saddr, NULL, 0))) {
			wgrs_endpoint_clear_src(ep, cache);
			fl.saddr = in6addr_any;
		}
		dst = ip6_dst_lookup_flow(sock_net(sk), sk, &fl, NULL);
		if (IS_ERR(dst)) {
			kfree_skb(skb);
			return PTR_ERR(dst);
		}
		if (cache)
			dst_cache_set_ip6(cache, dst, &fl.saddr);
	}
	skb->ignore_df = 1;
	udp_tunnel6_xmit_skb(dst, sk, skb, skb->dev, &fl.saddr, &fl.daddr, ds,
			     ip6_dst_hoplimit(dst), 0, fl.fl6_sport,
			     fl.fl6_dport, false, 0);
	return 0;
}

/* Route and send one message; consumes @skb. The caller holds the RCU read
 * lock that keeps @sock alive; bottom halves are disabled here. */
int wgrs_socket_send(struct socket *sock, struct sk_buff *skb,
		     struct net_device *dev, struct wgrs_endpoint *ep, u8 ds,
		     u32 mark, struct dst_cache *cache)
{
	u16 family;
	int ret;

	memcpy(&family, ep->addr, sizeof(family));
	skb_mark_not_on_list(skb);
	skb->dev = dev;
	skb->mark = mark;
	local_bh_disable();
	if (family == AF_INET) {
		ret = wgrs_send4(sock->sk, skb, ep, ds, mark, cache);
	} else if (IS_ENABLED(CONFIG_IPV6) && family == AF_INET6) {
		ret = wgrs_send6(sock->sk, skb, ep, ds, mark, cache);
	} else {
		kfree_skb(skb);
		ret = -EAFNOSUPPORT;
	}
	local_bh_enable();
	return ret;
}

/* ---- locks, queues, time ---- */

void wgrs_spin_lock_bh(spinlock_t *lock)
{
	spin_lock_bh(lock);
}

void wgrs_spin_unlock_bh(spinlock_t *lock)
{
	spin_unlock_bh(lock);
}

int wgrs_spin_trylock_bh(spinlock_t *lock)
{
	return spin_trylock_bh(lock);
}

struct workqueue_struct *wgrs_alloc_workqueue(const char *name, unsigned int flags)
{
	return alloc_workqueue("%s", flags, 0, name);
}

int wgrs_next_online_cpu(int prev)
{
	int cpu = cpumask_next(prev, cpu_online_mask);

	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(cpu_online_mask);
	return cpu;
}

int wgrs_choose_online_cpu(int stored, u64 id)
{
	/* Keep the peer's CPU while it is online; otherwise the id-th online
	 * one (wrapping), as the C driver picks a peer's serial CPU. */
	if (stored >= 0 && stored < nr_cpu_ids && cpu_online(stored))
		return stored;
	return cpumask_nth(id % num_online_cpus(), cpu_online_mask);
}

void wgrs_local_bh_disable(void)
{
	local_bh_disable();
}

void wgrs_local_bh_enable(void)
{
	local_bh_enable();
}

unsigned int wgrs_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

u64 wgrs_jiffies(void)
{
	return get_jiffies_64();
}

void wgrs_cond_resched(void)
{
	cond_resched();
}

/* ---- generic netlink family "wireguard" ---- */

/*
 * The same policies and ops as the C driver's
 * (Documentation/netlink/specs/wireguard.yaml), handlers in Rust.
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

/* ---- generic netlink family "wgrs_gate" ---- */

/*
 * Policies and the ops table are generated from
 * Documentation/netlink/specs/wgrs_gate.yaml by the kernel's YNL generator
 * (scripts/gen-netlink.sh); included here so that the generated static
 * tables are part of this unit. The handlers it names are trampolines into
 * Rust (kCFI, as above). Each op has its own policy, and the genl core
 * parses into a table of that policy's size (maxattr + 1), so each
 * trampoline passes the size of its own.
 */
#include "gen/wgrs_gate_nl.c"

int wgrs_gate_nl_set_policy_doit(struct sk_buff *skb, struct genl_info *info)
{
	return wgrs_rust_gate_doit(skb, info, WGRS_GATE_CMD_SET_POLICY,
				   ARRAY_SIZE(wgrs_gate_set_policy_nl_policy));
}

int wgrs_gate_nl_peer_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	return wgrs_rust_gate_doit(skb, info, WGRS_GATE_CMD_PEER_SET,
				   ARRAY_SIZE(wgrs_gate_peer_set_nl_policy));
}

int wgrs_gate_nl_authorize_doit(struct sk_buff *skb, struct genl_info *info)
{
	return wgrs_rust_gate_doit(skb, info, WGRS_GATE_CMD_AUTHORIZE,
				   ARRAY_SIZE(wgrs_gate_authorize_nl_policy));
}

int wgrs_gate_nl_revoke_doit(struct sk_buff *skb, struct genl_info *info)
{
	return wgrs_rust_gate_doit(skb, info, WGRS_GATE_CMD_REVOKE,
				   ARRAY_SIZE(wgrs_gate_revoke_nl_policy));
}

int wgrs_gate_nl_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	return wgrs_rust_gate_dumpit(skb, cb);
}

/* The generator drops the spec's flags on multicast groups: joining the
 * events group needs CAP_NET_ADMIN in the namespace's user namespace. */
static const struct genl_multicast_group wgrs_gate_mcgrps[] = {
	[WGRS_GATE_NLGRP_EVENTS] = {
		.name = WGRS_GATE_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

static struct genl_family wgrs_gate_family __ro_after_init = {
	.name		= WGRS_GATE_FAMILY_NAME,
	.version	= WGRS_GATE_FAMILY_VERSION,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.split_ops	= wgrs_gate_nl_ops,
	.n_split_ops	= ARRAY_SIZE(wgrs_gate_nl_ops),
	.mcgrps		= wgrs_gate_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(wgrs_gate_mcgrps),
};

int wgrs_gate_register(void)
{
	return genl_register_family(&wgrs_gate_family);
}

void wgrs_gate_unregister(void)
{
	genl_unregister_family(&wgrs_gate_family);
}

void *wgrs_gate_dump_put(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd)
{
	void *hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				&wgrs_gate_family, NLM_F_MULTI, cmd);

	if (hdr)
		genl_dump_check_consistent(cb, hdr);
	return hdr;
}

struct sk_buff *wgrs_gate_event_new(u8 cmd, bool atomic, void **hdr)
{
	struct sk_buff *skb = genlmsg_new(NLMSG_DEFAULT_SIZE, atomic ? GFP_ATOMIC : GFP_KERNEL);

	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &wgrs_gate_family, 0, cmd);
	if (!*hdr) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

/* Consumes @skb. 0 also when nobody listens. */
int wgrs_gate_event_send(struct sk_buff *skb, void *hdr, struct net *net, bool atomic)
{
	int ret;

	genlmsg_end(skb, hdr);
	ret = genlmsg_multicast_netns(&wgrs_gate_family, net, skb, 0,
				      WGRS_GATE_NLGRP_EVENTS, atomic ? GFP_ATOMIC : GFP_KERNEL);
	return ret == -ESRCH ? 0 : ret;
}

void wgrs_nlmsg_free(struct sk_buff *skb)
{
	nlmsg_free(skb);
}

/* Whether @addr (4 or 16 bytes) is an address of @dev. RCU read side. */
bool wgrs_dev_has_addr(struct net_device *dev, bool v6, const u8 *addr)
{
	if (!v6) {
		struct in_device *in_dev = __in_dev_get_rcu(dev);
		const struct in_ifaddr *ifa;
		__be32 a;

		if (!in_dev)
			return false;
		memcpy(&a, addr, 4);
		in_dev_for_each_ifa_rcu(ifa, in_dev) {
			if (ifa->ifa_local == a)
				return true;
		}
		return false;
	}
#if IS_ENABLED(CONFIG_IPV6)
	return ipv6_chk_addr(dev_net(dev), (const struct in6_addr *)addr, dev, 0);
#else
	return false;
#endif
}

/* Makes the first @len bytes (at most the packet) of a received inner
 * packet linear, so its IP and transport headers can be read. */
bool wgrs_skb_pull_headers(struct sk_buff *skb, unsigned int len)
{
	return pskb_may_pull(skb, min(len, skb->len));
}
