// SPDX-License-Identifier: GPL-2.0

//! Owned socket buffers, lists of them, and the per-packet steps of a
//! tunnel that need the skb's internals.
//!
//! The steps that walk scatter-gather lists or rewrite headers (segment,
//! encrypt, decrypt, validate) are one composite C call each (`sys/shim.c`):
//! a packet crosses into C a handful of times, not once per field. What the
//! steps decide (padding, nonces, keys, which checks fail) comes from the
//! caller; these wrappers only keep ownership straight.

use crate::abstractions::netdev::NetDevice;
use crate::abstractions::udp::Endpoint;
use crate::sys;
use core::ptr::{self, NonNull};
use kernel::prelude::*;

/// Why a packet is dropped; reported to the kernel's drop monitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// No peer's allowed IPs cover the destination.
    NoRoute,
    /// Not a well-formed IPv4/IPv6 packet, or a malformed message.
    Invalid,
    /// Shorter than its headers say.
    Truncated,
    /// A queue was full.
    QueueFull,
    /// The peer is being removed, or the device went down.
    Shutdown,
    /// No session to send with (and none coming), or no endpoint.
    NoKey,
    /// Waiting packets thrown away (handshake given up, device down).
    Purged,
    /// The inner source address is not among the peer's allowed IPs.
    SourceNotAllowed,
    /// Authentication or the replay check failed.
    Unauthenticated,
    /// Refused by the gate (a locked peer).
    Gate,
    /// Out of memory or an internal step failed.
    NoMem,
}

impl DropReason {
    fn raw(self) -> sys::skb_drop_reason {
        match self {
            DropReason::NoRoute => sys::skb_drop_reason_SKB_DROP_REASON_IP_OUTNOROUTES,
            DropReason::Invalid => sys::skb_drop_reason_SKB_DROP_REASON_INVALID_PROTO,
            DropReason::Truncated => sys::skb_drop_reason_SKB_DROP_REASON_PKT_TOO_SMALL,
            DropReason::QueueFull => sys::skb_drop_reason_SKB_DROP_REASON_FULL_RING,
            DropReason::Shutdown => sys::skb_drop_reason_SKB_DROP_REASON_DEV_READY,
            DropReason::NoKey => sys::skb_drop_reason_SKB_DROP_REASON_NO_TX_TARGET,
            DropReason::Purged => sys::skb_drop_reason_SKB_DROP_REASON_QUEUE_PURGE,
            DropReason::SourceNotAllowed => sys::skb_drop_reason_SKB_DROP_REASON_IP_RPFILTER,
            // No core reason names a failed AEAD tag; the counters tell.
            DropReason::Unauthenticated => sys::skb_drop_reason_SKB_DROP_REASON_NOT_SPECIFIED,
            DropReason::Gate => sys::skb_drop_reason_SKB_DROP_REASON_SECURITY_HOOK,
            DropReason::NoMem => sys::skb_drop_reason_SKB_DROP_REASON_NOMEM,
        }
    }
}

/// Per-packet data the tunnel keeps in `skb->cb` between its stages.
/// Integers only: any bit pattern is a valid value.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct PacketCb {
    /// The nonce (send) or counter (receive) of the data message.
    pub(crate) nonce: u64,
    /// Route MTU the packet was sent with (padding), 0 = unknown.
    pub(crate) mtu: u32,
    /// Outer DS field (ECN bits).
    pub(crate) ds: u8,
    /// 1 for a keepalive (no payload), which does not count as data sent.
    pub(crate) keepalive: u8,
}

const CB_LEN: usize = 48;
const _: () = assert!(core::mem::size_of::<PacketCb>() <= CB_LEN);

/// The address family and address of an IP packet's header field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IpAddr {
    /// IPv4, network order.
    V4([u8; 4]),
    /// IPv6, network order.
    V6([u8; 16]),
}

/// An `sk_buff` the driver owns.
///
/// # Invariants
///
/// `self.0` is a valid skb to which this value holds the only reference the
/// driver has, not linked into any list; it is released exactly once, by
/// one of the consuming methods or by `Drop`.
pub(crate) struct SkBuff(NonNull<sys::sk_buff>);

// SAFETY: an owned skb may be handed to and freed on another CPU.
unsafe impl Send for SkBuff {}

impl SkBuff {
    /// Takes ownership of an skb handed over by the stack.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid skb whose ownership passes to the returned
    /// value, and not on any list.
    pub(crate) unsafe fn from_raw(ptr: *mut sys::sk_buff) -> Option<Self> {
        NonNull::new(ptr).map(Self)
    }

    pub(crate) fn into_raw(self) -> *mut sys::sk_buff {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }

    fn raw(&self) -> *mut sys::sk_buff {
        self.0.as_ptr()
    }

    /// Bytes in the packet.
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: the skb is valid and ours (type invariant).
        unsafe { (*self.raw()).len }
    }

    /// The bytes of the linear part (the head), at most `len()`.
    pub(crate) fn head(&self) -> &[u8] {
        let skb = self.raw();
        // SAFETY: valid skb; `data` points to `len - data_len` readable
        // bytes of the head, which we do not change while borrowed.
        unsafe {
            let headlen = (*skb).len.saturating_sub((*skb).data_len);
            core::slice::from_raw_parts((*skb).data, headlen as usize)
        }
    }

    /// The packet's tunnel metadata.
    pub(crate) fn cb(&self) -> PacketCb {
        // SAFETY: `cb` is 48 bytes inside the valid skb; `PacketCb` fits and
        // accepts any bit pattern (integers only).
        unsafe { ptr::read_unaligned(ptr::addr_of!((*self.raw()).cb).cast::<PacketCb>()) }
    }

    /// Stores the packet's tunnel metadata.
    pub(crate) fn set_cb(&mut self, cb: PacketCb) {
        // SAFETY: as in `cb`; we own the skb.
        unsafe { ptr::write_unaligned(ptr::addr_of_mut!((*self.raw()).cb).cast::<PacketCb>(), cb) }
    }

    /// Frees the skb, telling the drop monitor why. Any context.
    pub(crate) fn drop_with(self, reason: DropReason) {
        // SAFETY: we own it (type invariant); `into_raw` ends our ownership.
        unsafe { sys::kfree_skb_reason(self.into_raw(), reason.raw()) }
    }

    /// Frees an skb that was handled successfully (not a drop).
    pub(crate) fn consume(self) {
        // SAFETY: as in `drop_with`.
        unsafe { sys::consume_skb(self.into_raw()) }
    }

    /// Detaches the skb from its sending socket's memory accounting, so a
    /// packet waiting for a handshake does not hold up its socket.
    pub(crate) fn orphan(&mut self) {
        // SAFETY: we own the valid skb.
        unsafe { sys::skb_orphan(self.raw()) }
    }

    /// Destination of an outgoing IP packet, if it is a well-formed one
    /// whose protocol field matches its header.
    pub(crate) fn ip_dst(&self) -> Option<IpAddr> {
        let mut addr = [0u8; 16];
        // SAFETY: valid skb; `addr` has the 16 bytes the shim may write.
        match unsafe { sys::wgrs_skb_ip_addr(self.raw(), addr.as_mut_ptr(), false) } {
            4 => Some(IpAddr::V4([addr[0], addr[1], addr[2], addr[3]])),
            6 => Some(IpAddr::V6(addr)),
            _ => None,
        }
    }

    /// Source of a received, decrypted inner packet (after
    /// [`Self::finish_inner`]).
    pub(crate) fn ip_src(&self) -> Option<IpAddr> {
        let mut addr = [0u8; 16];
        // SAFETY: as in `ip_dst`.
        match unsafe { sys::wgrs_skb_ip_addr(self.raw(), addr.as_mut_ptr(), true) } {
            4 => Some(IpAddr::V4([addr[0], addr[1], addr[2], addr[3]])),
            6 => Some(IpAddr::V6(addr)),
            _ => None,
        }
    }

    /// The MTU of the route the packet took (its dst), else the device's.
    pub(crate) fn route_mtu(&self, dev: &NetDevice) -> u32 {
        // SAFETY: valid skb and device.
        unsafe { sys::wgrs_skb_route_mtu(self.raw(), dev.as_ptr()) }
    }

    /// Outer DS byte for this inner packet: ECN bits only, no TOS leak.
    pub(crate) fn outer_ds(&self) -> u8 {
        // SAFETY: valid skb with an IP header (checked by `ip_dst` earlier).
        unsafe { sys::wgrs_skb_outer_ds(self.raw()) }
    }

    /// Answers the sender with ICMP/ICMPv6 "host/address unreachable"
    /// (the packet itself is not consumed).
    pub(crate) fn icmp_unreachable(&self) {
        // SAFETY: valid skb, process or softirq context.
        unsafe { sys::wgrs_skb_icmp_unreachable(self.raw()) }
    }

    /// Answers the sender with ICMP/ICMPv6 "administratively prohibited".
    pub(crate) fn icmp_prohibited(&self) {
        // SAFETY: as above.
        unsafe { sys::wgrs_skb_icmp_prohibited(self.raw()) }
    }

    /// Splits a GSO packet into its segments (or makes a one-packet list),
    /// each unshared, without its route. On failure the packet comes back.
    pub(crate) fn segment(self) -> core::result::Result<SkbList, (Error, SkBuff)> {
        let mut err: kernel::ffi::c_int = 0;
        let raw = self.raw();
        // SAFETY: we own the skb; the shim either consumes it (returning the
        // segments, a list linked through `next` that we now own, possibly
        // empty) or leaves it untouched and sets `err`.
        let segs = unsafe { sys::wgrs_skb_segment(raw, &mut err) };
        if err != 0 {
            return Err((Error::from_errno(err), self));
        }
        core::mem::forget(self);
        // SAFETY: `segs` is a null-terminated chain we own (shim contract).
        Ok(unsafe { SkbList::from_chain(segs) })
    }

    /// Encrypts the inner packet in place into a WireGuard data message:
    /// `padding` zero bytes appended, the 16-byte header (receiver index,
    /// nonce) prepended, ChaCha20-Poly1305 over the scatter-gather list, the
    /// tag appended; then the headers are reset for encapsulation.
    pub(crate) fn encrypt(&mut self, padding: u32, nonce: u64, receiver: u32, key: &[u8; 32]) -> bool {
        // SAFETY: we own the skb; `key` is 32 readable bytes.
        unsafe { sys::wgrs_skb_encrypt(self.raw(), padding, nonce, receiver, key.as_ptr()) }
    }

    /// Checks the outer headers of a packet from the UDP socket and points
    /// `data` at the WireGuard message (its first 4 bytes linear). Returns
    /// the message length and the outer DS byte.
    pub(crate) fn rx_prepare(&mut self) -> Option<(u32, u8)> {
        let mut ds = 0u8;
        // SAFETY: we own the skb, fresh from `encap_rcv`.
        let len = unsafe { sys::wgrs_skb_rx_prepare(self.raw(), &mut ds) };
        u32::try_from(len).ok().map(|len| (len, ds))
    }

    /// Makes the first `len` bytes of the message linear (readable through
    /// [`Self::head`]).
    pub(crate) fn pull_message(&mut self, len: u32) -> bool {
        // SAFETY: we own the skb, prepared by `rx_prepare`.
        unsafe { sys::wgrs_skb_pull_message(self.raw(), len) }
    }

    /// Decrypts a data message in place (`data` at its header); on success
    /// `data` points at the plaintext, the tag is trimmed off.
    pub(crate) fn decrypt(&mut self, nonce: u64, key: &[u8; 32]) -> bool {
        // SAFETY: we own the skb; `key` is 32 readable bytes.
        unsafe { sys::wgrs_skb_decrypt(self.raw(), nonce, key.as_ptr()) }
    }

    /// Where a received packet came from and was addressed to.
    pub(crate) fn endpoint(&self) -> Option<Endpoint> {
        let mut ep = Endpoint::default();
        // SAFETY: valid skb with its outer headers still in place.
        (unsafe { sys::wgrs_skb_endpoint(self.raw(), ep.as_raw_mut()) } == 0).then_some(ep)
    }

    /// Forgets everything about the outer packet (headers, route, marks)
    /// before the inner packet goes up the stack.
    pub(crate) fn reset_for_rx(&mut self) {
        // SAFETY: we own the skb.
        unsafe { sys::wgrs_skb_reset(self.raw(), false) }
    }

    /// Validates a decrypted, non-empty inner packet for delivery on `dev`:
    /// IPv4 or IPv6 header, total length within the plaintext (then trimmed
    /// to it), checksums marked verified, ECN decapsulated from `ds`.
    pub(crate) fn finish_inner(&mut self, dev: &NetDevice, ds: u8) -> core::result::Result<(), InnerError> {
        // SAFETY: we own the skb; `dev` is valid.
        match unsafe { sys::wgrs_skb_finish_inner(self.raw(), dev.as_ptr(), ds) } {
            0 => Ok(()),
            -1 => Err(InnerError::Type),
            -2 => Err(InnerError::Size),
            _ => Err(InnerError::NoMem),
        }
    }

    /// Makes the first `len` bytes of the packet (or all of it, if
    /// shorter) part of the head, so that [`Self::head`] shows its headers.
    /// `false` if memory ran out (the packet is unchanged then).
    pub(crate) fn pull_headers(&mut self, len: u32) -> bool {
        // SAFETY: we own the skb; `pskb_may_pull` may reallocate the head
        // (atomic allocation), which nothing borrows now (`&mut self`).
        unsafe { sys::wgrs_skb_pull_headers(self.raw(), len) }
    }

    /// An empty packet with room for the tunnel's headers, to be sent as a
    /// keepalive on `dev`.
    pub(crate) fn alloc_keepalive(dev: &NetDevice) -> Option<Self> {
        // SAFETY: valid device; atomic allocation.
        NonNull::new(unsafe { sys::wgrs_skb_alloc_keepalive(dev.as_ptr()) }).map(Self)
    }

    /// A packet holding `buf` (a handshake message), with headroom.
    pub(crate) fn from_buffer(buf: &[u8]) -> Option<Self> {
        // SAFETY: `buf` is readable for its length; atomic allocation.
        NonNull::new(unsafe { sys::wgrs_skb_from_buffer(buf.as_ptr().cast(), buf.len()) }).map(Self)
    }

    /// Hands the packet to `dev`'s GRO cells (softirq context).
    pub(crate) fn gro_receive(self, gro: &crate::abstractions::netdev::GroCells) {
        // SAFETY: the cells are initialised for the device the packet is
        // set to (`finish_inner`); ownership passes to the stack.
        unsafe { sys::gro_cells_receive(gro.as_ptr(), self.into_raw()) };
    }

    /// Gives the skb to C code that consumes it.
    pub(crate) fn into_stack(self) -> *mut sys::sk_buff {
        self.into_raw()
    }
}

impl Drop for SkBuff {
    fn drop(&mut self) {
        // SAFETY: we own the skb (type invariant); this is its only release.
        unsafe {
            sys::kfree_skb_reason(self.0.as_ptr(), sys::skb_drop_reason_SKB_DROP_REASON_NOT_SPECIFIED)
        }
    }
}

/// Why a decrypted packet cannot be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InnerError {
    /// Neither IPv4 nor IPv6.
    Type,
    /// Lengths do not add up.
    Size,
    /// Trimming the padding failed.
    NoMem,
}

/// A FIFO of owned skbs, linked through `skb->next`.
///
/// # Invariants
///
/// `head` is null (then `tail` is null and `len` 0) or the first of `len`
/// skbs owned by the list, linked through `next`, the last (`tail`) with a
/// null `next`. No skb of the list is referenced elsewhere.
pub(crate) struct SkbList {
    head: *mut sys::sk_buff,
    tail: *mut sys::sk_buff,
    len: u32,
}

// SAFETY: the list owns its skbs, which may move between CPUs.
unsafe impl Send for SkbList {}

fn next_of(skb: *mut sys::sk_buff) -> *mut sys::sk_buff {
    // SAFETY: callers pass valid skbs of a list they own.
    unsafe { (*skb).__bindgen_anon_1.__bindgen_anon_1.next }
}

fn set_next(skb: *mut sys::sk_buff, next: *mut sys::sk_buff) {
    // SAFETY: callers pass valid skbs they own.
    unsafe { (*skb).__bindgen_anon_1.__bindgen_anon_1.next = next }
}

impl SkbList {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self { head: ptr::null_mut(), tail: ptr::null_mut(), len: 0 }
    }

    /// Adopts a null-terminated chain.
    ///
    /// # Safety
    ///
    /// `head` is null or the first of a `next`-linked, null-terminated chain
    /// of valid skbs whose ownership passes to the list.
    pub(crate) unsafe fn from_chain(head: *mut sys::sk_buff) -> Self {
        let mut list = Self::new();
        let mut p = head;
        while !p.is_null() {
            let next = next_of(p);
            set_next(p, ptr::null_mut());
            // SAFETY: each skb of the chain is owned by us (caller guarantee).
            if let Some(skb) = unsafe { SkBuff::from_raw(p) } {
                list.push_back(skb);
            }
            p = next;
        }
        list
    }

    /// Number of packets.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Appends a packet.
    pub(crate) fn push_back(&mut self, skb: SkBuff) {
        let p = skb.into_raw();
        set_next(p, ptr::null_mut());
        if self.tail.is_null() {
            self.head = p;
        } else {
            set_next(self.tail, p);
        }
        self.tail = p;
        self.len = self.len.saturating_add(1);
    }

    /// Takes the first packet.
    pub(crate) fn pop_front(&mut self) -> Option<SkBuff> {
        let p = self.head;
        if p.is_null() {
            return None;
        }
        self.head = next_of(p);
        if self.head.is_null() {
            self.tail = ptr::null_mut();
        }
        set_next(p, ptr::null_mut());
        self.len = self.len.saturating_sub(1);
        // SAFETY: `p` was owned by the list and is unlinked now.
        unsafe { SkBuff::from_raw(p) }
    }

    /// Passes every packet through `f`, in order, and keeps what it gives
    /// back (a packet `f` keeps it has dropped or handed on).
    pub(crate) fn filter_map(mut self, mut f: impl FnMut(SkBuff) -> Option<SkBuff>) -> SkbList {
        let mut kept = SkbList::new();
        while let Some(skb) = self.pop_front() {
            if let Some(skb) = f(skb) {
                kept.push_back(skb);
            }
        }
        kept
    }

    /// Moves all of `other`'s packets to the end of this list.
    pub(crate) fn append(&mut self, other: &mut SkbList) {
        if other.head.is_null() {
            return;
        }
        if self.tail.is_null() {
            self.head = other.head;
        } else {
            set_next(self.tail, other.head);
        }
        self.tail = other.tail;
        self.len = self.len.saturating_add(other.len);
        // The packets belong to `self` now: empty `other` without running
        // its destructor over them.
        other.head = ptr::null_mut();
        other.tail = ptr::null_mut();
        other.len = 0;
    }

    /// Moves all of `other`'s packets to the front of this list.
    pub(crate) fn prepend(&mut self, other: &mut SkbList) {
        if other.head.is_null() {
            return;
        }
        if !self.head.is_null() {
            set_next(other.tail, self.head);
        } else {
            self.tail = other.tail;
        }
        self.head = other.head;
        self.len = self.len.saturating_add(other.len);
        other.head = ptr::null_mut();
        other.tail = ptr::null_mut();
        other.len = 0;
    }

    /// Runs `f` on the last packet, if any, leaving it in the list.
    pub(crate) fn with_back<R>(&self, f: impl FnOnce(&SkBuff) -> R) -> Option<R> {
        let tail = NonNull::new(self.tail)?;
        // A borrowed view: the list keeps owning the skb, so the view must
        // never be released.
        let view = core::mem::ManuallyDrop::new(SkBuff(tail));
        Some(f(&view))
    }

    /// The tunnel metadata of each packet, front to back.
    pub(crate) fn iter_cb(&self) -> impl Iterator<Item = PacketCb> + '_ {
        let mut p = self.head;
        core::iter::from_fn(move || {
            if p.is_null() {
                return None;
            }
            // SAFETY: `p` is one of the list's valid skbs (type invariant),
            // which stay linked while the list is borrowed; `cb` is 48 bytes
            // inside it and `PacketCb` fits and accepts any bit pattern.
            let cb = unsafe { ptr::read_unaligned(ptr::addr_of!((*p).cb).cast::<PacketCb>()) };
            p = next_of(p);
            Some(cb)
        })
    }

    /// Frees every packet, with `reason`; returns how many there were.
    pub(crate) fn purge(&mut self, reason: DropReason) -> u32 {
        let n = self.len;
        while let Some(skb) = self.pop_front() {
            skb.drop_with(reason);
        }
        n
    }
}

impl Drop for SkbList {
    fn drop(&mut self) {
        self.purge(DropReason::Shutdown);
    }
}
