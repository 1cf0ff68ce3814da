// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/wgrs_gate.yaml */
/* YNL-GEN kernel source */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "wgrs_gate_nl.h"

#include <uapi/linux/wgrs_gate.h>

/* Common nested types */
const struct nla_policy wgrs_gate_peer_nl_policy[WGRS_GATE_A_PEER_INNER_SOURCE + 1] = {
	[WGRS_GATE_A_PEER_PUBLIC_KEY] = NLA_POLICY_EXACT_LEN(WGRS_GATE_KEY_LEN),
	[WGRS_GATE_A_PEER_EXEMPT] = NLA_POLICY_MAX(NLA_U8, 1),
	[WGRS_GATE_A_PEER_STATE] = NLA_POLICY_RANGE(NLA_U8, 1, 2),
	[WGRS_GATE_A_PEER_LOCK_REASON] = NLA_POLICY_RANGE(NLA_U8, 1, 4),
	[WGRS_GATE_A_PEER_IDLE_MS] = { .type = NLA_U64, },
	[WGRS_GATE_A_PEER_AUTHORIZED_AGE_MS] = { .type = NLA_U64, },
	[WGRS_GATE_A_PEER_SESSION_REMAINING_MS] = { .type = NLA_U64, },
	[WGRS_GATE_A_PEER_RX_DROPPED] = { .type = NLA_U64, },
	[WGRS_GATE_A_PEER_TX_DROPPED] = { .type = NLA_U64, },
	[WGRS_GATE_A_PEER_ENDPOINT] = NLA_POLICY_MIN_LEN(16),
	[WGRS_GATE_A_PEER_INNER_SOURCE] = NLA_POLICY_MIN_LEN(4),
};

/* WGRS_GATE_CMD_SET_POLICY - do */
static const struct nla_policy wgrs_gate_set_policy_nl_policy[WGRS_GATE_A_DEVICE_AUTH_PORT + 1] = {
	[WGRS_GATE_A_DEVICE_IFINDEX] = { .type = NLA_U32, },
	[WGRS_GATE_A_DEVICE_IDLE_TIMEOUT] = { .type = NLA_U32, },
	[WGRS_GATE_A_DEVICE_MAX_SESSION] = { .type = NLA_U32, },
	[WGRS_GATE_A_DEVICE_AUTH_PORT] = { .type = NLA_U16, },
};

/* WGRS_GATE_CMD_PEER_SET - do */
static const struct nla_policy wgrs_gate_peer_set_nl_policy[WGRS_GATE_A_DEVICE_PEER + 1] = {
	[WGRS_GATE_A_DEVICE_IFINDEX] = { .type = NLA_U32, },
	[WGRS_GATE_A_DEVICE_PEER] = NLA_POLICY_NESTED(wgrs_gate_peer_nl_policy),
};

/* WGRS_GATE_CMD_GET - dump */
static const struct nla_policy wgrs_gate_get_nl_policy[WGRS_GATE_A_DEVICE_IFINDEX + 1] = {
	[WGRS_GATE_A_DEVICE_IFINDEX] = { .type = NLA_U32, },
};

/* WGRS_GATE_CMD_AUTHORIZE - do */
static const struct nla_policy wgrs_gate_authorize_nl_policy[WGRS_GATE_A_DEVICE_PEER + 1] = {
	[WGRS_GATE_A_DEVICE_IFINDEX] = { .type = NLA_U32, },
	[WGRS_GATE_A_DEVICE_PEER] = NLA_POLICY_NESTED(wgrs_gate_peer_nl_policy),
};

/* WGRS_GATE_CMD_REVOKE - do */
static const struct nla_policy wgrs_gate_revoke_nl_policy[WGRS_GATE_A_DEVICE_PEER + 1] = {
	[WGRS_GATE_A_DEVICE_IFINDEX] = { .type = NLA_U32, },
	[WGRS_GATE_A_DEVICE_PEER] = NLA_POLICY_NESTED(wgrs_gate_peer_nl_policy),
};

/* Ops table for wgrs_gate */
const struct genl_split_ops wgrs_gate_nl_ops[5] = {
	{
		.cmd		= WGRS_GATE_CMD_SET_POLICY,
		.doit		= wgrs_gate_nl_set_policy_doit,
		.policy		= wgrs_gate_set_policy_nl_policy,
		.maxattr	= WGRS_GATE_A_DEVICE_AUTH_PORT,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= WGRS_GATE_CMD_PEER_SET,
		.doit		= wgrs_gate_nl_peer_set_doit,
		.policy		= wgrs_gate_peer_set_nl_policy,
		.maxattr	= WGRS_GATE_A_DEVICE_PEER,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= WGRS_GATE_CMD_GET,
		.dumpit		= wgrs_gate_nl_get_dumpit,
		.policy		= wgrs_gate_get_nl_policy,
		.maxattr	= WGRS_GATE_A_DEVICE_IFINDEX,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= WGRS_GATE_CMD_AUTHORIZE,
		.doit		= wgrs_gate_nl_authorize_doit,
		.policy		= wgrs_gate_authorize_nl_policy,
		.maxattr	= WGRS_GATE_A_DEVICE_PEER,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= WGRS_GATE_CMD_REVOKE,
		.doit		= wgrs_gate_nl_revoke_doit,
		.policy		= wgrs_gate_revoke_nl_policy,
		.maxattr	= WGRS_GATE_A_DEVICE_PEER,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
};

static const struct genl_multicast_group wgrs_gate_nl_mcgrps[] = {
	[WGRS_GATE_NLGRP_EVENTS] = { "events", },
};
