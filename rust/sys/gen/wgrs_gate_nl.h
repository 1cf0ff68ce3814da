/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/wgrs_gate.yaml */
/* YNL-GEN kernel header */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#ifndef _LINUX_WGRS_GATE_GEN_H
#define _LINUX_WGRS_GATE_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/wgrs_gate.h>

/* Common nested types */
extern const struct nla_policy wgrs_gate_peer_nl_policy[WGRS_GATE_A_PEER_INNER_SOURCE + 1];

/* Ops table for wgrs_gate */
extern const struct genl_split_ops wgrs_gate_nl_ops[5];

int wgrs_gate_nl_set_policy_doit(struct sk_buff *skb, struct genl_info *info);
int wgrs_gate_nl_peer_set_doit(struct sk_buff *skb, struct genl_info *info);
int wgrs_gate_nl_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int wgrs_gate_nl_authorize_doit(struct sk_buff *skb, struct genl_info *info);
int wgrs_gate_nl_revoke_doit(struct sk_buff *skb, struct genl_info *info);

enum {
	WGRS_GATE_NLGRP_EVENTS,
};

#endif /* _LINUX_WGRS_GATE_GEN_H */
