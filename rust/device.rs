// SPDX-License-Identifier: GPL-2.0

//! The WireGuard interface: one per `ip link add … type wireguard`.

use crate::netdev::{DropReason, NetDevice, SkBuff, TunnelSetup};
use kernel::prelude::*;
use kernel::sync::Arc;

/// Largest WireGuard header before the payload: a transport data message.
const MESSAGE_DATA_HEADER: u16 = 16;
/// Poly1305 tag after the payload.
const AUTH_TAG: u16 = 16;
/// Payloads are padded to a multiple of this.
const PADDING_MULTIPLE: u16 = 16;
const UDP_HEADER: u16 = 8;
const IPV6_HEADER: u16 = 40;
/// Link-layer room the underlying route may need (as the C driver reserves).
const LL_RESERVED: u16 = 32;
/// Outer headers and WireGuard framing: what the tunnel costs per packet.
const OVERHEAD: u16 = MESSAGE_DATA_HEADER + AUTH_TAG + UDP_HEADER + IPV6_HEADER;
const ETH_DATA_LEN: u32 = 1500;

/// Driver state of one interface.
pub(crate) struct Device {
    // Peers, keys, sockets and the gate land here in later steps.
    _private: (),
}

impl Device {
    /// How the netdev is set up before registration.
    pub(crate) fn tunnel_setup() -> TunnelSetup {
        let overhead = u32::from(OVERHEAD);
        // The largest MTU whose padded size still fits in an int, less overhead.
        let max = (i32::MAX as u32) / u32::from(PADDING_MULTIPLE) * u32::from(PADDING_MULTIPLE);
        TunnelSetup {
            headroom: MESSAGE_DATA_HEADER + UDP_HEADER + IPV6_HEADER + LL_RESERVED,
            tailroom: PADDING_MULTIPLE + AUTH_TAG,
            mtu: ETH_DATA_LEN - overhead,
            max_mtu: max - overhead,
        }
    }

    pub(crate) fn new(_dev: &NetDevice) -> Result<Arc<Self>> {
        Ok(Arc::new(Self { _private: () }, GFP_KERNEL)?)
    }

    pub(crate) fn open(&self) -> Result {
        Ok(())
    }

    pub(crate) fn stop(&self) {}

    /// Sends an inner packet. No peers exist yet, so nothing is routable.
    pub(crate) fn xmit(&self, dev: &NetDevice, skb: SkBuff) {
        dev.count_tx_dropped();
        skb.drop_with(DropReason::NoRoute);
    }

    /// The device is going away: release what it holds.
    pub(crate) fn shutdown(&self) {}
}
