// SPDX-License-Identifier: GPL-2.0

//! The WireGuard interface: one per `ip link add … type wireguard`.

use crate::allowedips::AllowedIps;
use crate::crypto::{self, Secret, KEY_LEN};
use crate::netdev::{DropReason, NetDevice, SkBuff, TunnelSetup};
use crate::peer::{PeerId, Peers};
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

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

/// The device's own key pair.
#[derive(Default)]
pub(crate) struct Identity {
    /// Clamped. All zero until set.
    pub(crate) private: Secret,
    pub(crate) public: [u8; KEY_LEN],
    /// The private key is set and has a public key (not the zero point).
    pub(crate) has: bool,
}

/// A device's configuration, guarded by the device update lock.
pub(crate) struct Config {
    pub(crate) identity: Identity,
    pub(crate) listen_port: u16,
    pub(crate) fwmark: u32,
    pub(crate) peers: Peers,
    pub(crate) allowed: AllowedIps,
    /// Bumped by every SET_DEVICE; dumps spanning a change are flagged.
    pub(crate) generation: u32,
}

impl Config {
    fn new() -> Self {
        Self {
            identity: Identity::default(),
            listen_port: 0,
            fwmark: 0,
            peers: Peers::new(),
            allowed: AllowedIps::new(),
            generation: 0,
        }
    }

    /// Removes one peer and its allowed IPs.
    pub(crate) fn remove_peer(&mut self, id: PeerId) {
        self.allowed.remove_by_peer(id);
        self.peers.remove(id);
    }

    pub(crate) fn remove_all_peers(&mut self) {
        self.allowed.clear();
        self.peers.clear();
    }

    /// Sets the private key as the C driver does: unchanged keys are a no-op;
    /// a peer whose public key is the new one is removed; the key is stored
    /// clamped; a key without a public key (all zero) clears the identity.
    pub(crate) fn set_private_key(&mut self, key: &Secret) {
        if crypto::equal_ct(self.identity.private.bytes(), key.bytes()) {
            return;
        }
        let public = crypto::x25519_public(key.bytes());
        if let Some(public) = &public {
            if let Some(id) = self.peers.lookup(public) {
                self.remove_peer(id);
            }
        }
        let mut private = Secret(*key.bytes());
        crypto::clamp_secret(&mut private.0);
        self.identity.private = private;
        self.identity.has = public.is_some();
        self.identity.public = public.unwrap_or([0; KEY_LEN]);
    }
}

/// Driver state of one interface.
#[pin_data]
pub(crate) struct Device {
    /// The "device update lock": taken after RTNL, like the C driver's
    /// `device_update_lock`.
    #[pin]
    pub(crate) config: Mutex<Config>,
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
        Arc::pin_init(
            pin_init!(Self {
                config <- kernel::new_mutex!(Config::new(), "wgrs_device_update"),
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn open(&self) -> Result {
        Ok(())
    }

    pub(crate) fn stop(&self) {}

    /// Sends an inner packet. There is no data path yet: nothing is routable.
    pub(crate) fn xmit(&self, dev: &NetDevice, skb: SkBuff) {
        dev.count_tx_dropped();
        skb.drop_with(DropReason::NoRoute);
    }

    /// The device is going away: release what it holds.
    pub(crate) fn shutdown(&self) {
        self.config.lock().remove_all_peers();
    }
}
