// SPDX-License-Identifier: GPL-2.0

//! Generic netlink abstractions for the `wireguard` family.
//!
//! The family, its attribute policies and its ops table are C data in
//! `sys/shim.c` (the kernel writes the family on registration; policies are
//! bitfields and unions). The ops call the `extern "C"` entry points here,
//! which wrap the raw pointers in the safe types below and hand over to the
//! driver's [`WireguardFamily`] handlers:
//!
//! - [`Attrs`] / [`Attr`]: a parsed attribute table and one attribute of a
//!   request, read by copying (never by reference, so that secrets can be
//!   wiped in place, as the C driver does);
//! - [`Dump`] / [`Msg`]: one `dumpit` call and the message it builds, with
//!   nests that are checked against the message they belong to;
//! - the per-dump state, a `KBox<T::DumpState>` kept in `cb->args[0]`.

use crate::abstractions::netdev::Net;
use crate::sys;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::error::to_result;
use kernel::prelude::*;

pub(crate) use sys::{
    wg_cmd as cmd, wgallowedip_attribute as allowedip_attr, wgallowedip_flag as allowedip_flag,
    wgdevice_attribute as device_attr, wgdevice_flag as device_flag,
    wgpeer_attribute as peer_attr, wgpeer_flag as peer_flag,
};

/// Address families as they appear in `WGALLOWEDIP_A_FAMILY` and `sa_family`.
pub(crate) const AF_INET: u16 = sys::AF_INET as u16;
pub(crate) const AF_INET6: u16 = sys::AF_INET6 as u16;
/// Size of an interface name buffer, with its terminating NUL.
pub(crate) const IFNAMSIZ: usize = sys::IFNAMSIZ as usize;

pub(crate) use super::errno;

/// Largest attribute table we parse into (the peer policy has 11 entries).
const MAX_ATTRS: usize = 16;
/// Attribute table sizes of the two ops, as in their policies in shim.c.
const GET_ATTRS: usize = device_attr::WGDEVICE_A_IFNAME as usize + 1;
const SET_ATTRS: usize = device_attr::WGDEVICE_A_PEERS as usize + 1;
const _: () = assert!(GET_ATTRS <= MAX_ATTRS && SET_ATTRS <= MAX_ATTRS);
const _: () = assert!((peer_attr::WGPEER_A_PROTOCOL_VERSION as usize) < MAX_ATTRS);
const _: () = assert!((allowedip_attr::WGALLOWEDIP_A_FLAGS as usize) < MAX_ATTRS);

/// Keeps the `wireguard` generic netlink family registered.
pub(crate) struct FamilyRegistration;

impl FamilyRegistration {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: called once from module init; the family is static C data
        // and its ops call into this module, which outlives the registration.
        to_result(unsafe { sys::wgrs_genl_register() })?;
        Ok(Self)
    }
}

impl Drop for FamilyRegistration {
    fn drop(&mut self) {
        // SAFETY: registered in `register`. Unregistering waits for running
        // handlers; dumps in flight hold a module reference.
        unsafe { sys::wgrs_genl_unregister() };
    }
}

/// Which nested policy to validate against.
#[derive(Clone, Copy)]
pub(crate) enum Policy {
    /// One element of `WGDEVICE_A_PEERS`.
    Peer,
    /// One element of `WGPEER_A_ALLOWEDIPS`.
    AllowedIp,
    /// `WGRS_GATE_A_DEVICE_PEER` of the gate family.
    GatePeer,
}

/// One attribute of a request being handled.
///
/// # Invariants
///
/// `ptr` points to an attribute whose header and payload (`nla_len` bytes)
/// the netlink core has validated, inside a request skb that outlives `'a`
/// and that nothing else accesses while the handler runs. No Rust reference
/// to the payload is ever created: it is read by copying, so it may also be
/// overwritten in place ([`Attr::zeroize`]).
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a> {
    ptr: NonNull<sys::nlattr>,
    _msg: PhantomData<&'a ()>,
}

impl<'a> Attr<'a> {
    /// Payload length in bytes.
    pub(crate) fn len(&self) -> usize {
        // SAFETY: `ptr` is a valid attribute (type invariant).
        let len = unsafe { sys::nla_len(self.ptr.as_ptr()) };
        usize::from(len)
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: `ptr` is a valid attribute (type invariant).
        unsafe { sys::nla_data(self.ptr.as_ptr()) }.cast()
    }

    /// Copies the first `out.len()` payload bytes; `EINVAL` if shorter.
    pub(crate) fn read(&self, out: &mut [u8]) -> Result {
        if self.len() < out.len() {
            return Err(EINVAL);
        }
        // SAFETY: the payload holds at least `out.len()` bytes (checked) and
        // is not referenced by Rust (type invariant); `out` is a distinct
        // local buffer.
        unsafe { core::ptr::copy_nonoverlapping(self.data(), out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    /// The payload if it is exactly `N` bytes long.
    pub(crate) fn array<const N: usize>(&self) -> Option<[u8; N]> {
        let mut out = [0u8; N];
        (self.len() == N && self.read(&mut out).is_ok()).then_some(out)
    }

    pub(crate) fn u8(&self) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read(&mut b)?;
        Ok(b[0])
    }

    pub(crate) fn u16(&self) -> Result<u16> {
        let mut b = [0u8; 2];
        self.read(&mut b)?;
        Ok(u16::from_ne_bytes(b))
    }

    pub(crate) fn u32(&self) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read(&mut b)?;
        Ok(u32::from_ne_bytes(b))
    }

    /// A NUL-terminated string of at most `N - 1` bytes, NUL-padded to `N`.
    pub(crate) fn c_string<const N: usize>(&self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        let n = self.len().min(N);
        self.read(&mut out[..n])?;
        let end = out.iter().position(|&b| b == 0).ok_or(EINVAL)?;
        out[end..].fill(0);
        Ok(out)
    }

    /// Overwrites the payload with zeros (for keys in requests).
    pub(crate) fn zeroize(&self) {
        // SAFETY: the payload is `len()` writable bytes of the request skb,
        // which no Rust reference points into (type invariant).
        unsafe { sys::memzero_explicit(self.data().cast(), self.len()) }
    }

    /// The attributes nested in this one, in order.
    pub(crate) fn nested(&self) -> Nested<'a> {
        Nested {
            pos: self.data().cast(),
            rem: kernel::ffi::c_int::try_from(self.len()).unwrap_or(0),
            _msg: PhantomData,
        }
    }

    /// Parses the attributes nested in this one against `policy`.
    pub(crate) fn parse_nested(&self, policy: Policy) -> Result<Attrs<'a>> {
        let (policy, max) = match policy {
            Policy::Peer => (
                core::ptr::addr_of!(sys::wgrs_wgpeer_policy).cast::<sys::nla_policy>(),
                peer_attr::WGPEER_A_PROTOCOL_VERSION,
            ),
            Policy::AllowedIp => (
                core::ptr::addr_of!(sys::wgrs_wgallowedip_policy).cast::<sys::nla_policy>(),
                allowedip_attr::WGALLOWEDIP_A_FLAGS,
            ),
            Policy::GatePeer => (
                core::ptr::addr_of!(sys::wgrs_gate_peer_nl_policy).cast::<sys::nla_policy>(),
                gate::A_PEER_MAX,
            ),
        };
        let mut attrs = Attrs::empty();
        // SAFETY: `tb` has room for `max + 1` pointers (const-asserted); the
        // attribute is valid (type invariant); the policy has `max + 1`
        // entries (shim.c); a null extack is allowed.
        let ret = unsafe {
            sys::nla_parse_nested(
                attrs.tb.as_mut_ptr(),
                max as kernel::ffi::c_int,
                self.ptr.as_ptr(),
                policy,
                core::ptr::null_mut(),
            )
        };
        to_result(ret)?;
        attrs.n = max as usize + 1;
        Ok(attrs)
    }
}

/// Iterator over nested attributes.
///
/// # Invariants
///
/// `pos` and `rem` describe the unread rest of a validated attribute payload
/// of the request that outlives `'a`.
pub(crate) struct Nested<'a> {
    pos: *const sys::nlattr,
    rem: kernel::ffi::c_int,
    _msg: PhantomData<&'a ()>,
}

impl<'a> Iterator for Nested<'a> {
    type Item = Attr<'a>;

    fn next(&mut self) -> Option<Attr<'a>> {
        // SAFETY: `pos`/`rem` describe readable payload (type invariant);
        // nla_ok only reads a header after checking `rem` covers it.
        if unsafe { sys::nla_ok(self.pos, self.rem) } == 0 {
            return None;
        }
        let cur = NonNull::new(self.pos.cast_mut())?;
        // SAFETY: `pos` is a complete attribute (nla_ok); nla_next steps over
        // it and reduces `rem` by what it consumed.
        self.pos = unsafe { sys::nla_next(self.pos, &mut self.rem) };
        // INVARIANT: nla_ok checked that the attribute lies within the payload.
        Some(Attr { ptr: cur, _msg: PhantomData })
    }
}

/// A parsed attribute table: entry `i` is the attribute of type `i`, if any.
///
/// # Invariants
///
/// The first `n` entries are null or valid attributes of a request that
/// outlives `'a`; `n <= MAX_ATTRS`.
pub(crate) struct Attrs<'a> {
    tb: [*mut sys::nlattr; MAX_ATTRS],
    n: usize,
    _msg: PhantomData<&'a ()>,
}

impl<'a> Attrs<'a> {
    fn empty() -> Self {
        Self { tb: [core::ptr::null_mut(); MAX_ATTRS], n: 0, _msg: PhantomData }
    }

    /// Copies the table the genl core parsed for a request.
    ///
    /// # Safety
    ///
    /// `tb` must point to `n` entries, each null or a validated attribute of
    /// a request that outlives `'a`.
    unsafe fn from_raw(tb: *mut *mut sys::nlattr, n: usize) -> Self {
        let mut attrs = Self::empty();
        if tb.is_null() {
            return attrs;
        }
        attrs.n = n.min(MAX_ATTRS);
        for (i, slot) in attrs.tb[..attrs.n].iter_mut().enumerate() {
            // SAFETY: `i < n`, and the caller guarantees `n` readable entries.
            *slot = unsafe { *tb.add(i) };
        }
        attrs
    }

    /// The attribute of type `ty`, if present.
    pub(crate) fn get(&self, ty: u32) -> Option<Attr<'a>> {
        let ptr = *self.tb[..self.n].get(usize::try_from(ty).ok()?)?;
        // INVARIANT: non-null entries are validated attributes (type invariant).
        NonNull::new(ptr).map(|ptr| Attr { ptr, _msg: PhantomData })
    }
}

/// What a `dumpit` call achieved.
pub(crate) enum DumpStatus {
    /// Everything has been dumped.
    Done,
    /// The message is full; call again for the rest.
    More,
}

/// One call of a dump's `dumpit`: the skb to fill and its callback.
///
/// # Invariants
///
/// `skb` and `cb` are the valid arguments of the running `dumpit` call.
pub(crate) struct Dump<'a> {
    skb: NonNull<sys::sk_buff>,
    cb: NonNull<sys::netlink_callback>,
    gate: bool,
    _call: PhantomData<&'a ()>,
}

impl Dump<'_> {
    /// Starts the call's message (`NLM_F_MULTI`) for `command`. `generation`
    /// is the state's change counter: if it moved since the previous call,
    /// the message is flagged `NLM_F_DUMP_INTR` so userspace restarts.
    pub(crate) fn begin(&mut self, command: u32, generation: u32) -> Result<Msg<'_>> {
        // SAFETY: `cb` is valid and owned by this call (type invariant).
        unsafe { (*self.cb.as_ptr()).seq = generation };
        let command = u8::try_from(command).map_err(|_| EINVAL)?;
        // SAFETY: `skb`/`cb` are this call's (type invariant), of the
        // family the dump belongs to.
        let hdr = unsafe {
            if self.gate {
                sys::wgrs_gate_dump_put(self.skb.as_ptr(), self.cb.as_ptr(), command)
            } else {
                sys::wgrs_genl_dump_put(self.skb.as_ptr(), self.cb.as_ptr(), command)
            }
        };
        let hdr = NonNull::new(hdr).ok_or(EMSGSIZE)?;
        Ok(Msg { skb: self.skb, hdr: Some(hdr), _dump: PhantomData })
    }

    /// Where a dump stands, kept between its calls (`cb->args[1..3]`; the
    /// gate family's dumps only, whose `args[0]` nothing else uses either).
    pub(crate) fn cursor(&mut self) -> [u64; 2] {
        // SAFETY: `cb` is this call's (type invariant); `args` is an array
        // of longs the dump owns.
        unsafe {
            let a = &(*self.cb.as_ptr()).__bindgen_anon_1.args;
            [a[1] as u64, a[2] as u64]
        }
    }

    /// Stores the dump's position for its next call.
    pub(crate) fn set_cursor(&mut self, c: [u64; 2]) {
        // SAFETY: as in `cursor`.
        unsafe {
            let a = &mut (*self.cb.as_ptr()).__bindgen_anon_1.args;
            a[1] = c[0] as kernel::ffi::c_long;
            a[2] = c[1] as kernel::ffi::c_long;
        }
    }
}

/// A generic netlink message being built in a dump skb. Dropped without
/// [`Msg::end`], it is cancelled (removed from the skb).
///
/// # Invariants
///
/// `skb` is the running `dumpit` call's skb; `hdr`, while `Some`, is the
/// header `genlmsg_put` returned for this message in it.
pub(crate) struct Msg<'a> {
    skb: NonNull<sys::sk_buff>,
    hdr: Option<NonNull<kernel::ffi::c_void>>,
    _dump: PhantomData<&'a mut ()>,
}

/// An open nested attribute of a [`Msg`].
pub(crate) struct Nest(NonNull<sys::nlattr>);

/// An attribute type as the C API takes it.
fn attr_type(ty: u32) -> Result<kernel::ffi::c_int> {
    kernel::ffi::c_int::try_from(ty).map_err(|_| EINVAL)
}

fn put_result(ret: kernel::ffi::c_int) -> Result {
    if ret == 0 { Ok(()) } else { Err(EMSGSIZE) }
}

impl Msg<'_> {
    /// Appends an attribute; `EMSGSIZE` when the message is full.
    pub(crate) fn put(&mut self, ty: u32, data: &[u8]) -> Result {
        let len = kernel::ffi::c_int::try_from(data.len()).map_err(|_| EMSGSIZE)?;
        let ty = attr_type(ty)?;
        // SAFETY: `skb` is valid (type invariant); `data` is readable for
        // `len` bytes; nla_put checks tailroom.
        put_result(unsafe { sys::nla_put(self.skb.as_ptr(), ty, len, data.as_ptr().cast()) })
    }

    pub(crate) fn put_u8(&mut self, ty: u32, v: u8) -> Result {
        self.put(ty, &[v])
    }

    pub(crate) fn put_u16(&mut self, ty: u32, v: u16) -> Result {
        self.put(ty, &v.to_ne_bytes())
    }

    pub(crate) fn put_u32(&mut self, ty: u32, v: u32) -> Result {
        self.put(ty, &v.to_ne_bytes())
    }

    /// A 64-bit value, aligned with a `pad` attribute where needed.
    pub(crate) fn put_u64(&mut self, ty: u32, v: u64, pad: u32) -> Result {
        let (ty, pad) = (attr_type(ty)?, attr_type(pad)?);
        // SAFETY: `skb` is valid (type invariant); nla_put_u64_64bit checks
        // tailroom.
        put_result(unsafe { sys::nla_put_u64_64bit(self.skb.as_ptr(), ty, v, pad) })
    }

    /// Opens a nested attribute.
    pub(crate) fn nest_start(&mut self, ty: u32) -> Result<Nest> {
        let ty = attr_type(ty)?;
        // SAFETY: `skb` is valid (type invariant).
        let nest = unsafe { sys::nla_nest_start(self.skb.as_ptr(), ty) };
        NonNull::new(nest).map(Nest).ok_or(EMSGSIZE)
    }

    /// Whether `nest` lies in this message's skb, below its tail.
    fn owns(&self, nest: &Nest) -> bool {
        let skb = self.skb.as_ptr();
        // SAFETY: `skb` is valid (type invariant).
        let (data, tail) = unsafe { ((*skb).data, sys::skb_tail_pointer(skb)) };
        let start = nest.0.as_ptr().cast::<u8>();
        let hdr = core::mem::size_of::<sys::nlattr>();
        start >= data && (start as usize).saturating_add(hdr) <= tail as usize
    }

    /// Closes a nested attribute, fixing up its length.
    pub(crate) fn nest_end(&mut self, nest: Nest) {
        if self.owns(&nest) {
            // SAFETY: `nest` is a header inside this skb's data (checked).
            unsafe { sys::nla_nest_end(self.skb.as_ptr(), nest.0.as_ptr()) };
        }
    }

    /// Removes a nested attribute and everything after it.
    pub(crate) fn nest_cancel(&mut self, nest: Nest) {
        if self.owns(&nest) {
            // SAFETY: `nest` is inside this skb's data (checked); trimming to
            // it only shortens the skb.
            unsafe { sys::nla_nest_cancel(self.skb.as_ptr(), nest.0.as_ptr()) };
        }
    }

    /// Finishes the message.
    pub(crate) fn end(mut self) {
        if let Some(hdr) = self.hdr.take() {
            // SAFETY: `hdr` is this message's header in `skb` (type invariant).
            unsafe { sys::genlmsg_end(self.skb.as_ptr(), hdr.as_ptr()) };
        }
    }
}

impl Drop for Msg<'_> {
    fn drop(&mut self) {
        if let Some(hdr) = self.hdr.take() {
            // SAFETY: `hdr` is this message's header in `skb` (type invariant).
            unsafe { sys::genlmsg_cancel(self.skb.as_ptr(), hdr.as_ptr()) };
        }
    }
}

/// The dump state slot: `cb->args[0]`.
///
/// # Safety
///
/// `cb` must be the valid callback of a `wireguard` GET dump.
unsafe fn state_slot(cb: *mut sys::netlink_callback) -> *mut kernel::ffi::c_long {
    // SAFETY: `cb` is valid (caller); `args` (in a union with `ctx`, which
    // nothing else uses for our family) is ours for the whole dump.
    unsafe { core::ptr::addr_of_mut!((*cb).__bindgen_anon_1.args).cast() }
}

/// The handlers of the `wireguard` family, implemented by the driver.
pub(crate) trait WireguardFamily: 'static {
    /// What a GET dump keeps between its messages.
    type DumpState: Send;
    /// A GET dump begins: find the device the request names.
    fn get_start(attrs: &Attrs<'_>, net: &Net) -> Result<Self::DumpState>;
    /// Fill one dump message.
    fn get_dumpit(state: &mut Self::DumpState, dump: &mut Dump<'_>) -> Result<DumpStatus>;
    /// SET_DEVICE.
    fn set_device(attrs: &Attrs<'_>, net: &Net) -> Result;
}

/// Turns the family's C callbacks into calls of a [`WireguardFamily`].
pub(crate) struct Adapter<T>(PhantomData<T>);

impl<T: WireguardFamily> Adapter<T> {
    /// # Safety
    ///
    /// The `start` callback of a GET dump of our family.
    pub(crate) unsafe fn get_start(cb: *mut sys::netlink_callback) -> kernel::ffi::c_int {
        // SAFETY: `start` is called with a valid callback of a genl dump,
        // whose `data` is the genl core's dump info with the request's
        // attributes, parsed against the GET policy (GET_ATTRS entries),
        // valid for the dump.
        let (attrs, net) = unsafe {
            let info = sys::genl_info_dump(cb);
            let attrs = Attrs::from_raw((*info).attrs, GET_ATTRS);
            (attrs, Net::from_raw(sys::wgrs_skb_net((*cb).skb)))
        };
        let state = match T::get_start(&attrs, net).and_then(|s| Ok(KBox::new(s, GFP_KERNEL)?)) {
            Ok(state) => state,
            Err(e) => return e.to_errno(),
        };
        // SAFETY: `cb` is valid; the slot is zero (the core clears `cb`) and
        // from now on holds this box until `done` takes it back.
        unsafe { *state_slot(cb) = KBox::into_raw(state) as kernel::ffi::c_long };
        0
    }

    /// # Safety
    ///
    /// The `dumpit` callback of a GET dump of our family.
    pub(crate) unsafe fn get_dumpit(skb: *mut sys::sk_buff, cb: *mut sys::netlink_callback) -> kernel::ffi::c_int {
        // SAFETY: `dumpit` gets a valid callback; the slot holds null or the
        // box `start` stored, which only this dump's calls (serialised by
        // the netlink core) use.
        let state = unsafe { (*state_slot(cb) as *mut T::DumpState).as_mut() };
        let (Some(state), Some(skb_nn), Some(cb_nn)) = (state, NonNull::new(skb), NonNull::new(cb)) else {
            return EINVAL.to_errno();
        };
        // INVARIANT: the arguments of this `dumpit` call.
        let mut dump = Dump { skb: skb_nn, cb: cb_nn, gate: false, _call: PhantomData };
        match T::get_dumpit(state, &mut dump) {
            Ok(DumpStatus::Done) => 0,
            // SAFETY: `skb` is valid for this call.
            Ok(DumpStatus::More) => (unsafe { (*skb).len }) as kernel::ffi::c_int,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// The `done` callback of a GET dump of our family.
    pub(crate) unsafe fn get_done(cb: *mut sys::netlink_callback) -> kernel::ffi::c_int {
        // SAFETY: `done` gets the dump's valid callback, once, after the
        // last `dumpit`; the slot holds null or the box `start` stored.
        let raw = unsafe { core::mem::replace(&mut *state_slot(cb), 0) } as *mut T::DumpState;
        if !raw.is_null() {
            // SAFETY: `raw` came from `KBox::into_raw` in `start` and is
            // released only here (the slot is now zero).
            drop(unsafe { KBox::from_raw(raw) });
        }
        0
    }

    /// # Safety
    ///
    /// The `doit` callback of SET_DEVICE.
    pub(crate) unsafe fn set_doit(skb: *mut sys::sk_buff, info: *mut sys::genl_info) -> kernel::ffi::c_int {
        // SAFETY: `doit` gets the request skb and its info, whose attributes
        // the genl core parsed against the SET policy (SET_ATTRS entries);
        // both stay valid, and the request is ours, until we return.
        let (attrs, net) = unsafe {
            (Attrs::from_raw((*info).attrs, SET_ATTRS), Net::from_raw(sys::wgrs_skb_net(skb)))
        };
        match T::set_device(&attrs, net) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }
}

/// Emits the entry points `sys/shim.c` calls for the `wireguard` family,
/// for the driver type `$t`.
macro_rules! wireguard_family {
    ($t:ty) => {
        #[no_mangle]
        extern "C" fn wgrs_rust_genl_get_start(cb: *mut $crate::sys::netlink_callback) -> kernel::ffi::c_int {
            // SAFETY: the GET dump's `start` (shim.c).
            unsafe { $crate::abstractions::genetlink::Adapter::<$t>::get_start(cb) }
        }
        #[no_mangle]
        extern "C" fn wgrs_rust_genl_get_dumpit(
            skb: *mut $crate::sys::sk_buff,
            cb: *mut $crate::sys::netlink_callback,
        ) -> kernel::ffi::c_int {
            // SAFETY: the GET dump's `dumpit` (shim.c).
            unsafe { $crate::abstractions::genetlink::Adapter::<$t>::get_dumpit(skb, cb) }
        }
        #[no_mangle]
        extern "C" fn wgrs_rust_genl_get_done(cb: *mut $crate::sys::netlink_callback) -> kernel::ffi::c_int {
            // SAFETY: the GET dump's `done` (shim.c).
            unsafe { $crate::abstractions::genetlink::Adapter::<$t>::get_done(cb) }
        }
        #[no_mangle]
        extern "C" fn wgrs_rust_genl_set_doit(
            skb: *mut $crate::sys::sk_buff,
            info: *mut $crate::sys::genl_info,
        ) -> kernel::ffi::c_int {
            // SAFETY: SET_DEVICE's `doit` (shim.c).
            unsafe { $crate::abstractions::genetlink::Adapter::<$t>::set_doit(skb, info) }
        }
    };
}
pub(crate) use wireguard_family;

/// The `wgrs_gate` family's constants (generated UAPI header).
pub(crate) mod gate {
    use crate::sys;
    pub(crate) const A_DEVICE_IFINDEX: u32 = sys::WGRS_GATE_A_DEVICE_IFINDEX as u32;
    pub(crate) const A_DEVICE_IDLE_TIMEOUT: u32 = sys::WGRS_GATE_A_DEVICE_IDLE_TIMEOUT as u32;
    pub(crate) const A_DEVICE_MAX_SESSION: u32 = sys::WGRS_GATE_A_DEVICE_MAX_SESSION as u32;
    pub(crate) const A_DEVICE_AUTH_PORT: u32 = sys::WGRS_GATE_A_DEVICE_AUTH_PORT as u32;
    pub(crate) const A_DEVICE_ENFORCING: u32 = sys::WGRS_GATE_A_DEVICE_ENFORCING as u32;
    pub(crate) const A_DEVICE_EVENTS_LOST: u32 = sys::WGRS_GATE_A_DEVICE_EVENTS_LOST as u32;
    pub(crate) const A_DEVICE_PEER: u32 = sys::WGRS_GATE_A_DEVICE_PEER as u32;
    pub(crate) const A_PEER_PUBLIC_KEY: u32 = sys::WGRS_GATE_A_PEER_PUBLIC_KEY as u32;
    pub(crate) const A_PEER_EXEMPT: u32 = sys::WGRS_GATE_A_PEER_EXEMPT as u32;
    pub(crate) const A_PEER_STATE: u32 = sys::WGRS_GATE_A_PEER_STATE as u32;
    pub(crate) const A_PEER_LOCK_REASON: u32 = sys::WGRS_GATE_A_PEER_LOCK_REASON as u32;
    pub(crate) const A_PEER_IDLE_MS: u32 = sys::WGRS_GATE_A_PEER_IDLE_MS as u32;
    pub(crate) const A_PEER_AUTHORIZED_AGE_MS: u32 = sys::WGRS_GATE_A_PEER_AUTHORIZED_AGE_MS as u32;
    pub(crate) const A_PEER_SESSION_REMAINING_MS: u32 = sys::WGRS_GATE_A_PEER_SESSION_REMAINING_MS as u32;
    pub(crate) const A_PEER_RX_DROPPED: u32 = sys::WGRS_GATE_A_PEER_RX_DROPPED as u32;
    pub(crate) const A_PEER_TX_DROPPED: u32 = sys::WGRS_GATE_A_PEER_TX_DROPPED as u32;
    pub(crate) const A_PEER_ENDPOINT: u32 = sys::WGRS_GATE_A_PEER_ENDPOINT as u32;
    pub(crate) const A_PEER_INNER_SOURCE: u32 = sys::WGRS_GATE_A_PEER_INNER_SOURCE as u32;
    pub(crate) const A_PEER_MAX: u32 = sys::WGRS_GATE_A_PEER_MAX as u32;
    pub(crate) const CMD_SET_POLICY: u32 = sys::WGRS_GATE_CMD_SET_POLICY as u32;
    pub(crate) const CMD_PEER_SET: u32 = sys::WGRS_GATE_CMD_PEER_SET as u32;
    pub(crate) const CMD_GET: u32 = sys::WGRS_GATE_CMD_GET as u32;
    pub(crate) const CMD_AUTHORIZE: u32 = sys::WGRS_GATE_CMD_AUTHORIZE as u32;
    pub(crate) const CMD_REVOKE: u32 = sys::WGRS_GATE_CMD_REVOKE as u32;
    pub(crate) const CMD_PEER_LOCKED: u32 = sys::WGRS_GATE_CMD_PEER_LOCKED as u32;
    pub(crate) const CMD_PEER_KNOCK: u32 = sys::WGRS_GATE_CMD_PEER_KNOCK as u32;
    pub(crate) const CMD_PEER_AUTHORIZED: u32 = sys::WGRS_GATE_CMD_PEER_AUTHORIZED as u32;
    pub(crate) const PEER_STATE_LOCKED: u8 = sys::wgrs_gate_peer_state_WGRS_GATE_PEER_STATE_LOCKED as u8;
    pub(crate) const PEER_STATE_AUTHORIZED: u8 = sys::wgrs_gate_peer_state_WGRS_GATE_PEER_STATE_AUTHORIZED as u8;
    pub(crate) const LOCK_REASON_IDLE: u8 = sys::wgrs_gate_lock_reason_WGRS_GATE_LOCK_REASON_IDLE as u8;
    pub(crate) const LOCK_REASON_MAX_SESSION: u8 = sys::wgrs_gate_lock_reason_WGRS_GATE_LOCK_REASON_MAX_SESSION as u8;
    pub(crate) const LOCK_REASON_REVOKED: u8 = sys::wgrs_gate_lock_reason_WGRS_GATE_LOCK_REASON_REVOKED as u8;
    pub(crate) const LOCK_REASON_NEW: u8 = sys::wgrs_gate_lock_reason_WGRS_GATE_LOCK_REASON_NEW as u8;
}

/// Keeps the `wgrs_gate` family registered.
pub(crate) struct GateRegistration;

impl GateRegistration {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: called once from module init; the family is static C data
        // whose ops call into this module, which outlives the registration.
        to_result(unsafe { sys::wgrs_gate_register() })?;
        Ok(Self)
    }
}

impl Drop for GateRegistration {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; waits for running handlers.
        unsafe { sys::wgrs_gate_unregister() };
    }
}

/// The handlers of the `wgrs_gate` family, implemented by the driver.
pub(crate) trait GateFamily: 'static {
    /// A `do` command (`cmd` is one of `gate::CMD_*`).
    fn doit(cmd: u32, attrs: &Attrs<'_>, net: &Net) -> Result;
    /// One call of the `get` dump; `dump.cursor()` keeps its position.
    fn dumpit(attrs: &Attrs<'_>, net: &Net, dump: &mut Dump<'_>) -> Result<DumpStatus>;
}

/// Turns the gate family's C callbacks into calls of a [`GateFamily`].
pub(crate) struct GateAdapter<T>(PhantomData<T>);

impl<T: GateFamily> GateAdapter<T> {
    /// # Safety
    ///
    /// A `doit` callback of the gate family, its attributes parsed against
    /// the op's own policy into a table of `nattrs` entries (the policy's
    /// maxattr + 1; ops differ).
    pub(crate) unsafe fn doit(
        skb: *mut sys::sk_buff,
        info: *mut sys::genl_info,
        cmd: u8,
        nattrs: kernel::ffi::c_uint,
    ) -> kernel::ffi::c_int {
        let n = usize::try_from(nattrs).unwrap_or(0);
        // SAFETY: the genl core passes the request and its parsed
        // attributes (`n` entries, the caller guarantees), valid until we
        // return.
        let (attrs, net) = unsafe { (Attrs::from_raw((*info).attrs, n), Net::from_raw(sys::wgrs_skb_net(skb))) };
        match T::doit(u32::from(cmd), &attrs, net) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// The `dumpit` callback of the gate family's `get`.
    pub(crate) unsafe fn dumpit(skb: *mut sys::sk_buff, cb: *mut sys::netlink_callback) -> kernel::ffi::c_int {
        let (Some(skb_nn), Some(cb_nn)) = (NonNull::new(skb), NonNull::new(cb)) else {
            return EINVAL.to_errno();
        };
        // SAFETY: a dump's callback: its dump info holds the request's
        // attributes parsed against the `get` policy, valid for the dump.
        let (attrs, net) = unsafe {
            let info = sys::genl_info_dump(cb);
            (Attrs::from_raw((*info).attrs, gate::A_DEVICE_IFINDEX as usize + 1), Net::from_raw(sys::wgrs_skb_net((*cb).skb)))
        };
        // INVARIANT: the arguments of this `dumpit` call.
        let mut dump = Dump { skb: skb_nn, cb: cb_nn, gate: true, _call: PhantomData };
        match T::dumpit(&attrs, net, &mut dump) {
            Ok(DumpStatus::Done) => 0,
            // SAFETY: `skb` is valid for this call.
            Ok(DumpStatus::More) => (unsafe { (*skb).len }) as kernel::ffi::c_int,
            Err(e) => e.to_errno(),
        }
    }
}

/// Emits the entry points `sys/shim.c` calls for the `wgrs_gate` family.
macro_rules! gate_family {
    ($t:ty) => {
        #[no_mangle]
        extern "C" fn wgrs_rust_gate_doit(
            skb: *mut $crate::sys::sk_buff,
            info: *mut $crate::sys::genl_info,
            cmd: u8,
            nattrs: kernel::ffi::c_uint,
        ) -> kernel::ffi::c_int {
            // SAFETY: a gate `doit` (shim.c), `nattrs` the size of the
            // table the op's policy was parsed into.
            unsafe { $crate::abstractions::genetlink::GateAdapter::<$t>::doit(skb, info, cmd, nattrs) }
        }
        #[no_mangle]
        extern "C" fn wgrs_rust_gate_dumpit(
            skb: *mut $crate::sys::sk_buff,
            cb: *mut $crate::sys::netlink_callback,
        ) -> kernel::ffi::c_int {
            // SAFETY: the gate `get` dump (shim.c).
            unsafe { $crate::abstractions::genetlink::GateAdapter::<$t>::dumpit(skb, cb) }
        }
    };
}
pub(crate) use gate_family;

/// A notification of the gate family being built, multicast on its
/// `events` group by [`Event::send`].
///
/// # Invariants
///
/// `skb` is a message buffer we own and `hdr` its genetlink header.
pub(crate) struct Event {
    skb: NonNull<sys::sk_buff>,
    hdr: NonNull<kernel::ffi::c_void>,
    atomic: bool,
}

impl Event {
    /// A new notification `cmd` (`gate::CMD_PEER_*`); `atomic` when called
    /// where sleeping is not allowed.
    pub(crate) fn new(cmd: u32, atomic: bool) -> Option<Self> {
        let cmd = u8::try_from(cmd).ok()?;
        let mut hdr: *mut kernel::ffi::c_void = core::ptr::null_mut();
        // SAFETY: `hdr` is a valid out parameter.
        let skb = NonNull::new(unsafe { sys::wgrs_gate_event_new(cmd, atomic, &mut hdr) })?;
        match NonNull::new(hdr) {
            Some(hdr) => Some(Self { skb, hdr, atomic }),
            None => {
                // SAFETY: ours, not sent.
                unsafe { sys::wgrs_nlmsg_free(skb.as_ptr()) };
                None
            }
        }
    }

    /// The message, to add attributes to.
    pub(crate) fn msg(&mut self) -> Msg<'_> {
        // INVARIANT: our skb; no header handed out, so `Msg` neither ends
        // nor cancels it.
        Msg { skb: self.skb, hdr: None, _dump: PhantomData }
    }

    /// Multicasts the notification to `net`'s listeners (none is not an
    /// error); `Err` when it could not be delivered to some.
    pub(crate) fn send(self, net: &Net) -> Result {
        let (skb, hdr, atomic) = (self.skb, self.hdr, self.atomic);
        core::mem::forget(self);
        // SAFETY: our message and header; sending consumes the skb.
        to_result(unsafe { sys::wgrs_gate_event_send(skb.as_ptr(), hdr.as_ptr(), net.as_ptr(), atomic) })
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: ours and not sent (`send` forgets `self`).
        unsafe { sys::wgrs_nlmsg_free(self.skb.as_ptr()) };
    }
}

// SAFETY: an unsent message buffer may be freed on any CPU.
unsafe impl Send for Event {}
