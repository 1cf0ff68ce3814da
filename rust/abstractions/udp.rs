// SPDX-License-Identifier: GPL-2.0

//! UDP tunnel sockets (`udp_tunnel`), endpoints and per-peer route caches.

use crate::abstractions::netdev::{Net, NetDevice};
use crate::abstractions::skb::SkBuff;
use crate::sys;
use core::ptr::NonNull;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::Opaque;

/// `AF_INET`, as stored in `sa_family`.
pub(crate) const AF_INET: u16 = sys::AF_INET as u16;
/// `AF_INET6`, as stored in `sa_family`.
pub(crate) const AF_INET6: u16 = sys::AF_INET6 as u16;
const SOCKADDR_IN_LEN: usize = 16;
const SOCKADDR_IN6_LEN: usize = 28;

/// Where a peer is: its address (`sockaddr_in`/`sockaddr_in6`, as userspace
/// sees it) and the local source address and interface that reached it
/// last (reused for replies and sticky source selection).
#[derive(Clone, Copy, Default)]
pub(crate) struct Endpoint(sys::wgrs_endpoint);

impl Endpoint {
    pub(crate) fn as_raw_mut(&mut self) -> *mut sys::wgrs_endpoint {
        &mut self.0
    }

    /// `AF_INET`, `AF_INET6`, or 0 when unset.
    pub(crate) fn family(&self) -> u16 {
        u16::from_ne_bytes([self.0.addr[0], self.0.addr[1]])
    }

    /// An endpoint from a `sockaddr` given by userspace: exactly a
    /// `sockaddr_in` of family `AF_INET` or a `sockaddr_in6` of `AF_INET6`;
    /// anything else is `None`. The source address is left unset.
    pub(crate) fn from_sockaddr(bytes: &[u8]) -> Option<Self> {
        let family = u16::from_ne_bytes([*bytes.first()?, *bytes.get(1)?]);
        let ok = (family == AF_INET && bytes.len() == SOCKADDR_IN_LEN)
            || (family == AF_INET6 && bytes.len() == SOCKADDR_IN6_LEN);
        if !ok {
            return None;
        }
        let mut ep = Self::default();
        ep.0.addr.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(ep)
    }

    /// The address as a `sockaddr_in`/`sockaddr_in6`, or `None` if unset.
    pub(crate) fn sockaddr(&self) -> Option<&[u8]> {
        match self.family() {
            AF_INET => self.0.addr.get(..SOCKADDR_IN_LEN),
            AF_INET6 => self.0.addr.get(..SOCKADDR_IN6_LEN),
            _ => None,
        }
    }

    /// The same address, source and interface (for IPv6 also scope): the
    /// C driver's `endpoint_eq`. Two unset endpoints are the same.
    pub(crate) fn same_as(&self, other: &Endpoint) -> bool {
        match (self.family(), other.family()) {
            (AF_INET, AF_INET) => {
                self.0.addr[..8] == other.0.addr[..8]
                    && self.0.src[..4] == other.0.src[..4]
                    && self.0.src_if4 == other.0.src_if4
            }
            (AF_INET6, AF_INET6) => {
                // Port, address and scope id; flow info is ignored.
                self.0.addr[2..4] == other.0.addr[2..4]
                    && self.0.addr[8..28] == other.0.addr[8..28]
                    && self.0.src == other.0.src
            }
            (0, 0) => true,
            _ => false,
        }
    }

    /// Forgets the cached source address and interface.
    pub(crate) fn clear_src(&mut self) {
        self.0.src = [0; 16];
        self.0.src_if4 = 0;
    }

    /// Whether the source part differs from `other`'s.
    pub(crate) fn src_differs(&self, other: &Endpoint) -> bool {
        self.0.src != other.0.src || self.0.src_if4 != other.0.src_if4
    }

    /// The address bytes (4 or 16) and port, for cookies and rate limits.
    pub(crate) fn ip_and_port(&self) -> Option<(&[u8], u16)> {
        let port = u16::from_be_bytes([self.0.addr[2], self.0.addr[3]]);
        match self.family() {
            AF_INET => Some((self.0.addr.get(4..8)?, port)),
            AF_INET6 => Some((self.0.addr.get(8..24)?, port)),
            _ => None,
        }
    }
}

/// A per-peer route cache (`struct dst_cache`).
///
/// # Invariants
///
/// `cache` was set up by `dst_cache_init` (which succeeded) and is torn
/// down once, in `drop`.
#[pin_data(PinnedDrop)]
pub(crate) struct DstCache {
    #[pin]
    cache: Opaque<sys::dst_cache>,
}

// SAFETY: the cache is per-CPU and used with bottom halves disabled on each
// CPU; `reset` is a single store.
unsafe impl Send for DstCache {}
// SAFETY: as above.
unsafe impl Sync for DstCache {}

impl DstCache {
    /// A new, empty cache.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        // SAFETY: `slot` is valid for writes; on failure nothing was set up
        // and the initialiser reports the error.
        let init = unsafe {
            pin_init::pin_init_from_closure(|slot: *mut Opaque<sys::dst_cache>| {
                kernel::error::to_result(sys::wgrs_dst_cache_init(Opaque::cast_into(slot)))
            })
        };
        pin_init!(Self { cache <- init }? Error)
    }

    fn as_ptr(&self) -> *mut sys::dst_cache {
        self.cache.get()
    }

    /// Invalidates cached routes lazily (each CPU drops its entry on next
    /// use). Any context.
    pub(crate) fn reset(&self) {
        // SAFETY: initialised (type invariant); a single store of a stamp.
        unsafe { sys::dst_cache_reset(self.as_ptr()) }
    }

    /// Releases every cached route now, so that none pins a namespace.
    ///
    /// # Safety-relevant contract
    ///
    /// Callers make sure nothing sends with this cache meanwhile (the
    /// device's sockets are closed): the entries of other CPUs are freed.
    pub(crate) fn reset_now_unused(&self) {
        // SAFETY: initialised; the caller guarantees no concurrent user
        // (documented above), so freeing other CPUs' entries races nothing.
        unsafe { sys::dst_cache_reset_now(self.as_ptr()) }
    }
}

#[pinned_drop]
impl PinnedDrop for DstCache {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: initialised (type invariant), destroyed once; works in
        // any context (per-CPU free and `dst_release`).
        unsafe { sys::dst_cache_destroy(self.as_ptr()) }
    }
}

/// Receives what arrives on a tunnel socket (`encap_rcv`).
pub(crate) trait EncapReceiver: Send + Sync + 'static {
    /// A UDP packet arrived for us; softirq context.
    fn receive(this: ArcBorrow<'_, Self>, skb: SkBuff);
}

unsafe extern "C" fn encap_rcv<T: EncapReceiver>(
    sk: *mut sys::sock,
    skb: *mut sys::sk_buff,
) -> kernel::ffi::c_int {
    // SAFETY: the UDP layer passes an skb whose ownership moves to us.
    let Some(skb) = (unsafe { SkBuff::from_raw(skb) }) else {
        return 0;
    };
    // SAFETY: `sk` is the tunnel socket (valid during the callback); its
    // user data is null or the `T` the socket keeps alive (see
    // `UdpSocket::create`), cleared and waited for before it is released.
    let owner = unsafe { sys::wgrs_sk_user_data(sk) }.cast::<T>();
    if owner.is_null() {
        drop(skb);
        return 0;
    }
    // SAFETY: see above: the socket holds a reference (`Arc::into_raw`)
    // for as long as this callback can run.
    T::receive(unsafe { ArcBorrow::from_raw(owner) }, skb);
    0
}

/// A kernel UDP socket set up as a tunnel socket whose packets go to an
/// [`EncapReceiver`].
///
/// # Invariants
///
/// `sock` came from `wgrs_socket_create` and is released once, in `drop`;
/// its user data is `owner`, an `Arc::into_raw` kept alive (and released by
/// `drop_owner`) until after the socket is released.
pub(crate) struct UdpSocket {
    sock: NonNull<sys::socket>,
    owner: *const kernel::ffi::c_void,
    drop_owner: unsafe fn(*const kernel::ffi::c_void),
}

// SAFETY: a kernel socket may be used and released from any CPU; `owner`
// is an `Arc` of a `Send + Sync` type.
unsafe impl Send for UdpSocket {}
// SAFETY: sending on a kernel UDP socket from several CPUs is supported.
unsafe impl Sync for UdpSocket {}

unsafe fn drop_arc<T: Send + Sync>(p: *const kernel::ffi::c_void) {
    // SAFETY: `p` came from `Arc::into_raw` in `create` (type invariant).
    drop(unsafe { Arc::from_raw(p.cast::<T>()) });
}

impl UdpSocket {
    /// Binds a socket in `net` on `port` (0 = any free port), IPv6-only
    /// when `v6`, handing received packets to `owner`. `EADDRINUSE` when the
    /// port is taken. Process context.
    pub(crate) fn create<T: EncapReceiver>(net: &Net, port: u16, v6: bool, owner: Arc<T>) -> Result<Self> {
        let owner = Arc::into_raw(owner).cast::<kernel::ffi::c_void>();
        let mut sock: *mut sys::socket = core::ptr::null_mut();
        // SAFETY: `net` is valid for the call; `owner` stays valid until
        // `drop_owner` runs, after the socket is released; `encap_rcv::<T>`
        // matches the callback type and only reads `owner` as a `T`.
        let ret = unsafe {
            sys::wgrs_socket_create(net.as_ptr(), port, v6, Some(encap_rcv::<T>), owner.cast_mut(), &mut sock)
        };
        let Some(sock) = NonNull::new(sock).filter(|_| ret == 0) else {
            // SAFETY: no socket holds `owner`; take the reference back.
            unsafe { drop_arc::<T>(owner) };
            return Err(if ret < 0 { Error::from_errno(ret) } else { ENOMEM });
        };
        // INVARIANT: see the fields' documentation above.
        Ok(Self { sock, owner, drop_owner: drop_arc::<T> })
    }

    /// The bound port.
    pub(crate) fn port(&self) -> u16 {
        // SAFETY: the socket is valid (type invariant).
        unsafe { sys::wgrs_socket_port(self.sock.as_ptr()) }
    }

    /// Sends a WireGuard message (`skb`, data at the message) to `ep` from
    /// `dev`, with outer DS byte `ds` and `mark`, routing through `cache`
    /// when given. If the cached source address in `ep` no longer works it
    /// is cleared (the caller saves `ep` back). Consumes the skb; on error
    /// it was freed. Call with the RCU read lock held.
    pub(crate) fn send(
        &self,
        skb: SkBuff,
        dev: &NetDevice,
        ep: &mut Endpoint,
        ds: u8,
        mark: u32,
        cache: Option<&DstCache>,
    ) -> Result {
        let cache = cache.map_or(core::ptr::null_mut(), DstCache::as_ptr);
        // SAFETY: the socket, device and cache are valid; the skb's
        // ownership passes to the shim, which sends or frees it.
        let ret = unsafe {
            sys::wgrs_socket_send(self.sock.as_ptr(), skb.into_stack(), dev.as_ptr(), ep.as_raw_mut(), ds, mark, cache)
        };
        kernel::error::to_result(ret)
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        // SAFETY: released once (type invariant); this clears the user data
        // and waits for running receivers before closing. Process context:
        // sockets are only dropped there (`RcuCell::replace_sync`).
        unsafe { sys::wgrs_socket_release(self.sock.as_ptr()) };
        // SAFETY: the socket is gone, so nothing reads `owner` any more.
        unsafe { (self.drop_owner)(self.owner) };
    }
}
