//! Numbers of the `wgrs_gate` family, as laid down by
//! `Documentation/netlink/specs/wgrs_gate.yaml` (the YNL spec is the source
//! of truth; these mirror the uapi header `linux/wgrs_gate.h` it generates).

#![allow(missing_docs)]

pub const WGRS_GATE_FAMILY_NAME: &str = "wgrs_gate";
pub const WGRS_GATE_FAMILY_VERSION: u8 = 1;
pub const WGRS_GATE_MCGRP_EVENTS: &str = "events";
pub const WGRS_GATE_KEY_LEN: usize = 32;

pub const WGRS_GATE_LOCK_REASON_IDLE: u8 = 1;
pub const WGRS_GATE_LOCK_REASON_MAX_SESSION: u8 = 2;
pub const WGRS_GATE_LOCK_REASON_REVOKED: u8 = 3;
pub const WGRS_GATE_LOCK_REASON_NEW: u8 = 4;

pub const WGRS_GATE_PEER_STATE_LOCKED: u8 = 1;
pub const WGRS_GATE_PEER_STATE_AUTHORIZED: u8 = 2;

pub const WGRS_GATE_A_DEVICE_IFINDEX: u16 = 1;
pub const WGRS_GATE_A_DEVICE_IDLE_TIMEOUT: u16 = 2;
pub const WGRS_GATE_A_DEVICE_MAX_SESSION: u16 = 3;
pub const WGRS_GATE_A_DEVICE_AUTH_PORT: u16 = 4;
pub const WGRS_GATE_A_DEVICE_ENFORCING: u16 = 5;
pub const WGRS_GATE_A_DEVICE_EVENTS_LOST: u16 = 6;
pub const WGRS_GATE_A_DEVICE_PEER: u16 = 7;

pub const WGRS_GATE_A_PEER_PUBLIC_KEY: u16 = 1;
pub const WGRS_GATE_A_PEER_EXEMPT: u16 = 2;
pub const WGRS_GATE_A_PEER_STATE: u16 = 3;
pub const WGRS_GATE_A_PEER_LOCK_REASON: u16 = 4;
pub const WGRS_GATE_A_PEER_IDLE_MS: u16 = 5;
pub const WGRS_GATE_A_PEER_AUTHORIZED_AGE_MS: u16 = 6;
pub const WGRS_GATE_A_PEER_SESSION_REMAINING_MS: u16 = 7;
pub const WGRS_GATE_A_PEER_RX_DROPPED: u16 = 8;
pub const WGRS_GATE_A_PEER_TX_DROPPED: u16 = 9;
pub const WGRS_GATE_A_PEER_ENDPOINT: u16 = 10;
pub const WGRS_GATE_A_PEER_INNER_SOURCE: u16 = 11;

pub const WGRS_GATE_CMD_SET_POLICY: u8 = 1;
pub const WGRS_GATE_CMD_PEER_SET: u8 = 2;
pub const WGRS_GATE_CMD_GET: u8 = 3;
pub const WGRS_GATE_CMD_AUTHORIZE: u8 = 4;
pub const WGRS_GATE_CMD_REVOKE: u8 = 5;
pub const WGRS_GATE_CMD_PEER_LOCKED: u8 = 6;
pub const WGRS_GATE_CMD_PEER_KNOCK: u8 = 7;
pub const WGRS_GATE_CMD_PEER_AUTHORIZED: u8 = 8;
