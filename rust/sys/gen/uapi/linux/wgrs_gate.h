/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/wgrs_gate.yaml */
/* YNL-GEN uapi header */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#ifndef _UAPI_LINUX_WGRS_GATE_H
#define _UAPI_LINUX_WGRS_GATE_H

#define WGRS_GATE_FAMILY_NAME		"wgrs_gate"
#define WGRS_GATE_FAMILY_VERSION	1

#define WGRS_GATE_KEY_LEN	32

/**
 * enum wgrs_gate_lock_reason - Why a peer is (or became) locked.
 * @WGRS_GATE_LOCK_REASON_IDLE: No activity from the peer for longer than the
 *   idle timeout.
 * @WGRS_GATE_LOCK_REASON_MAX_SESSION: The session is older than the maximum
 *   session length.
 * @WGRS_GATE_LOCK_REASON_REVOKED: Locked by ``revoke`` (administrator or the
 *   user's logout).
 * @WGRS_GATE_LOCK_REASON_NEW: The peer was added to the device (or existed
 *   when the gate was enabled) and has not been authorized since.
 */
enum wgrs_gate_lock_reason {
	WGRS_GATE_LOCK_REASON_IDLE = 1,
	WGRS_GATE_LOCK_REASON_MAX_SESSION,
	WGRS_GATE_LOCK_REASON_REVOKED,
	WGRS_GATE_LOCK_REASON_NEW,
};

/**
 * enum wgrs_gate_peer_state
 * @WGRS_GATE_PEER_STATE_LOCKED: Only traffic to the auth port passes.
 * @WGRS_GATE_PEER_STATE_AUTHORIZED: All traffic passes.
 */
enum wgrs_gate_peer_state {
	WGRS_GATE_PEER_STATE_LOCKED = 1,
	WGRS_GATE_PEER_STATE_AUTHORIZED,
};

enum {
	WGRS_GATE_A_DEVICE_IFINDEX = 1,
	WGRS_GATE_A_DEVICE_IDLE_TIMEOUT,
	WGRS_GATE_A_DEVICE_MAX_SESSION,
	WGRS_GATE_A_DEVICE_AUTH_PORT,
	WGRS_GATE_A_DEVICE_ENFORCING,
	WGRS_GATE_A_DEVICE_EVENTS_LOST,
	WGRS_GATE_A_DEVICE_PEER,

	__WGRS_GATE_A_DEVICE_MAX,
	WGRS_GATE_A_DEVICE_MAX = (__WGRS_GATE_A_DEVICE_MAX - 1)
};

enum {
	WGRS_GATE_A_PEER_PUBLIC_KEY = 1,
	WGRS_GATE_A_PEER_EXEMPT,
	WGRS_GATE_A_PEER_STATE,
	WGRS_GATE_A_PEER_LOCK_REASON,
	WGRS_GATE_A_PEER_IDLE_MS,
	WGRS_GATE_A_PEER_AUTHORIZED_AGE_MS,
	WGRS_GATE_A_PEER_SESSION_REMAINING_MS,
	WGRS_GATE_A_PEER_RX_DROPPED,
	WGRS_GATE_A_PEER_TX_DROPPED,
	WGRS_GATE_A_PEER_ENDPOINT,
	WGRS_GATE_A_PEER_INNER_SOURCE,

	__WGRS_GATE_A_PEER_MAX,
	WGRS_GATE_A_PEER_MAX = (__WGRS_GATE_A_PEER_MAX - 1)
};

enum {
	WGRS_GATE_CMD_SET_POLICY = 1,
	WGRS_GATE_CMD_PEER_SET,
	WGRS_GATE_CMD_GET,
	WGRS_GATE_CMD_AUTHORIZE,
	WGRS_GATE_CMD_REVOKE,
	WGRS_GATE_CMD_PEER_LOCKED,
	WGRS_GATE_CMD_PEER_KNOCK,
	WGRS_GATE_CMD_PEER_AUTHORIZED,

	__WGRS_GATE_CMD_MAX,
	WGRS_GATE_CMD_MAX = (__WGRS_GATE_CMD_MAX - 1)
};

#define WGRS_GATE_MCGRP_EVENTS	"events"

#endif /* _UAPI_LINUX_WGRS_GATE_H */
