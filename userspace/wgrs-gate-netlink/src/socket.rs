//! The real client: `netlink-sys` sockets, family and multicast group
//! resolution through the generic netlink controller (`GenlCtrl` of
//! `netlink-packet-generic`), acknowledged requests, the `get` dump and the
//! `events` subscription.

use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    NetlinkSerializable, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::{GenlCtrlAttrs, McastGrpAttrs};
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_sys::{protocols, Socket, SocketAddr};

use crate::codec;
use crate::consts::*;
use crate::message::GateMessage;
use crate::model::*;
use crate::{Error, EventStream, GateKernel};

const ENOENT: i32 = libc::ENOENT;
const EINTR: i32 = libc::EINTR;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSG_HDRLEN: usize = 16;
/// How long a request waits for the kernel's answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Receive buffer of the event socket: room for bursts of notifications.
const EVENT_RCVBUF: usize = 1 << 20;

fn io(context: &str, error: std::io::Error) -> Error {
    Error::Io {
        context: context.to_owned(),
        error,
    }
}

fn set_rcvtimeo(sock: &Socket, t: Duration) -> Result<(), Error> {
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::from(t.subsec_micros()),
    };
    // SAFETY: valid fd, option value is a live timeval of the given size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io(
            "setsockopt SO_RCVTIMEO",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// The extended-ACK message (`NLMSGERR_ATTR_MSG`) of an error: `flags`
/// of the `NLMSG_ERROR` message, `payload` after its errno.
pub fn extack_message(flags: u16, payload: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let skip = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        let len = u32::from_ne_bytes(payload.get(0..4)?.try_into().ok()?);
        crate::align4(usize::try_from(len).ok()?)
    };
    let tlvs = payload.get(skip..)?;
    for nla in netlink_packet_core::NlasIterator::new(tlvs) {
        let nla = nla.ok()?;
        if nla.kind() == NLMSGERR_ATTR_MSG {
            let v = nla.value();
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            return Some(String::from_utf8_lossy(&v[..end]).into_owned());
        }
    }
    None
}

struct NlSocket {
    sock: Socket,
    seq: u32,
}

impl NlSocket {
    fn open() -> Result<Self, Error> {
        let mut sock =
            Socket::new(protocols::NETLINK_GENERIC).map_err(|e| io("netlink socket", e))?;
        sock.bind_auto().map_err(|e| io("netlink bind", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| io("netlink connect", e))?;
        // Best effort: older kernels lack these; errors then carry no text.
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        set_rcvtimeo(&sock, REQUEST_TIMEOUT)?;
        Ok(Self { sock, seq: 1 })
    }

    fn send<I: NetlinkSerializable>(&mut self, flags: u16, inner: I) -> Result<u32, Error> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut m = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(inner));
        m.finalize();
        let mut buf = vec![0u8; m.buffer_len()];
        m.serialize(&mut buf);
        self.sock.send(&buf, 0).map_err(|e| io("netlink send", e))?;
        Ok(self.seq)
    }

    /// Receives until request `seq` is finished (ACK, error or `DONE`),
    /// handing each data message with its netlink flags to `f`.
    fn recv<I, F>(&mut self, op: &'static str, seq: u32, mut f: F) -> Result<(), Error>
    where
        I: NetlinkDeserializable,
        F: FnMut(u16, I) -> Result<(), Error>,
    {
        loop {
            let (buf, _) = self.sock.recv_from_full().map_err(|e| {
                if e.kind() == std::io::ErrorKind::WouldBlock {
                    Error::Timeout(op)
                } else {
                    io("netlink recv", e)
                }
            })?;
            let mut off = 0;
            while off < buf.len() {
                let rest = &buf[off..];
                let len = NetlinkBuffer::new_checked(rest)
                    .map_err(|e| Error::Decode(e.to_string()))?
                    .length() as usize;
                let raw = rest
                    .get(..len)
                    .ok_or_else(|| Error::Decode("truncated netlink message".into()))?;
                let m = NetlinkMessage::<I>::deserialize(raw)
                    .map_err(|e| Error::Decode(e.to_string()))?;
                off += crate::align4(len.max(NLMSG_HDRLEN));
                if m.header.sequence_number != seq {
                    continue;
                }
                let flags = m.header.flags;
                match m.payload {
                    NetlinkPayload::InnerMessage(inner) => f(flags, inner)?,
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(()),
                            Some(code) => Err(Error::Kernel {
                                op,
                                errno: code.get().saturating_abs(),
                                message: extack_message(flags, &e.header),
                            }),
                        };
                    }
                    NetlinkPayload::Done(d) => {
                        return if d.code == 0 {
                            Ok(())
                        } else {
                            Err(Error::Kernel {
                                op,
                                errno: d.code.saturating_abs(),
                                message: None,
                            })
                        };
                    }
                    NetlinkPayload::Overrun(_) => {
                        return Err(Error::Decode("netlink overrun".into()))
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Resolved ids of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyIds {
    pub family_id: u16,
    pub events_group: u32,
}

/// Resolves a generic netlink family and one of its multicast groups
/// through the controller (`CTRL_CMD_GETFAMILY`).
pub fn resolve_family(name: &str, group: &str) -> Result<FamilyIds, Error> {
    resolve(&mut NlSocket::open()?, name, group)
}

fn resolve(nl: &mut NlSocket, name: &str, group: &str) -> Result<FamilyIds, Error> {
    let req = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(name.to_owned())],
    });
    let seq = nl.send(NLM_F_REQUEST | NLM_F_ACK, req)?;
    let mut family_id = None;
    let mut events_group = None;
    let res = nl.recv("resolve family", seq, |_, m: GenlMessage<GenlCtrl>| {
        for a in &m.payload.nlas {
            match a {
                GenlCtrlAttrs::FamilyId(id) => family_id = Some(*id),
                GenlCtrlAttrs::McastGroups(groups) => {
                    for g in groups {
                        let name = g.iter().find_map(|a| match a {
                            McastGrpAttrs::Name(n) => Some(n.as_str()),
                            _ => None,
                        });
                        let id = g.iter().find_map(|a| match a {
                            McastGrpAttrs::Id(i) => Some(*i),
                            _ => None,
                        });
                        if name == Some(group) {
                            events_group = id;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    });
    match res {
        Err(Error::Kernel { errno: ENOENT, .. }) => {
            return Err(Error::FamilyMissing(name.to_owned()))
        }
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    Ok(FamilyIds {
        family_id: family_id
            .ok_or_else(|| Error::Decode("controller reply without family id".into()))?,
        events_group: events_group.ok_or_else(|| {
            Error::Decode(format!("family {name} has no {group:?} multicast group"))
        })?,
    })
}

/// A client of the `wgrs_gate` family. One socket, used under a lock.
pub struct GateClient {
    nl: Mutex<NlSocket>,
    ids: FamilyIds,
}

impl GateClient {
    /// Opens a socket and resolves the family; [`Error::FamilyMissing`] if
    /// the module with the gate is not loaded.
    pub fn open() -> Result<Self, Error> {
        let mut nl = NlSocket::open()?;
        let ids = resolve(&mut nl, WGRS_GATE_FAMILY_NAME, WGRS_GATE_MCGRP_EVENTS)?;
        Ok(Self {
            nl: Mutex::new(nl),
            ids,
        })
    }

    /// The resolved family and group ids.
    pub fn ids(&self) -> FamilyIds {
        self.ids
    }

    fn request<F>(
        &self,
        op: &'static str,
        extra: u16,
        m: GateMessage,
        mut f: F,
    ) -> Result<(), Error>
    where
        F: FnMut(u16, GateMessage) -> Result<(), Error>,
    {
        let mut nl = self.nl.lock().map_err(|_| Error::Poisoned)?;
        let req = GenlMessage::from_payload(m);
        let mut req = req;
        req.set_resolved_family_id(self.ids.family_id);
        let seq = nl.send(NLM_F_REQUEST | NLM_F_ACK | extra, req)?;
        nl.recv(op, seq, |flags, r: GenlMessage<GateMessage>| {
            f(flags, r.payload)
        })
    }

    fn do_op(&self, op: &'static str, m: GateMessage) -> Result<(), Error> {
        self.request(op, 0, m, |_, _| Ok(()))
    }
}

impl GateKernel for GateClient {
    fn set_policy(&self, ifindex: u32, update: &PolicyUpdate) -> Result<(), Error> {
        self.do_op("set-policy", codec::set_policy(ifindex, update))
    }

    fn peer_set(&self, ifindex: u32, key: &Key, exempt: bool) -> Result<(), Error> {
        self.do_op("peer-set", codec::peer_set(ifindex, key, exempt))
    }

    fn get(&self, ifindex: u32) -> Result<GateStatus, Error> {
        loop {
            let mut s = GateStatus::default();
            let mut interrupted = false;
            let res = self.request("get", NLM_F_DUMP, codec::get(ifindex), |flags, m| {
                interrupted |= flags & NLM_F_DUMP_INTR != 0;
                codec::decode_get_reply(&m, &mut s)
            });
            match res {
                Err(Error::Kernel { errno: EINTR, .. }) => continue,
                Err(e) => return Err(e),
                Ok(()) if interrupted => continue,
                Ok(()) => return Ok(s),
            }
        }
    }

    fn authorize(&self, ifindex: u32, key: &Key) -> Result<(), Error> {
        self.do_op("authorize", codec::authorize(ifindex, key))
    }

    fn revoke(&self, ifindex: u32, key: &Key) -> Result<(), Error> {
        self.do_op("revoke", codec::revoke(ifindex, key))
    }

    fn events(&self) -> Result<Box<dyn EventStream>, Error> {
        Ok(Box::new(Subscription::open(self.ids)?))
    }
}

/// A socket joined to the `events` group.
pub struct Subscription {
    sock: Socket,
    family_id: u16,
    queue: VecDeque<GateEvent>,
}

impl Subscription {
    /// Joins the group; events that happen from now on are delivered.
    pub fn open(ids: FamilyIds) -> Result<Self, Error> {
        let mut sock =
            Socket::new(protocols::NETLINK_GENERIC).map_err(|e| io("netlink socket", e))?;
        sock.bind_auto().map_err(|e| io("netlink bind", e))?;
        let _ = sock.set_rx_buf_sz(EVENT_RCVBUF);
        // Ask for delivery errors: a notification that does not fit in our
        // buffer is then counted by the kernel in the device's `events-lost`
        // (we learn of it anyway, as ENOBUFS on the next receive).
        sock.set_broadcast_error(true)
            .map_err(|e| io("netlink NETLINK_BROADCAST_ERROR", e))?;
        sock.add_membership(ids.events_group)
            .map_err(|e| io("join the wgrs_gate events group", e))?;
        Ok(Self {
            sock,
            family_id: ids.family_id,
            queue: VecDeque::new(),
        })
    }

    fn parse_datagram(&mut self, buf: &[u8]) -> Result<(), Error> {
        let events = decode_notifications(buf, self.family_id)?;
        self.queue.extend(events);
        Ok(())
    }
}

/// The gate notifications in one datagram of the `events` socket; messages
/// of other families or types are skipped.
pub fn decode_notifications(buf: &[u8], family_id: u16) -> Result<Vec<GateEvent>, Error> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        let rest = &buf[off..];
        let nb = NetlinkBuffer::new_checked(rest).map_err(|e| Error::Decode(e.to_string()))?;
        let len = nb.length() as usize;
        let kind = nb.message_type();
        let raw = rest
            .get(..len)
            .ok_or_else(|| Error::Decode("truncated netlink message".into()))?;
        off += crate::align4(len.max(NLMSG_HDRLEN));
        if kind != family_id {
            continue;
        }
        let m = NetlinkMessage::<GenlMessage<GateMessage>>::deserialize(raw)
            .map_err(|e| Error::Decode(e.to_string()))?;
        if let NetlinkPayload::InnerMessage(g) = m.payload {
            if let Some(ev) = codec::decode_event(&g.payload)? {
                out.push(ev);
            }
        }
    }
    Ok(out)
}

impl EventStream for Subscription {
    fn next_event(&mut self) -> Result<GateEvent, Error> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Ok(e);
            }
            match self.sock.recv_from_full() {
                Ok((buf, _)) => {
                    if self.parse_datagram(&buf).is_err() {
                        // A notification we cannot read is as good as lost:
                        // the listener re-reads the state.
                        self.queue.clear();
                        return Ok(GateEvent::Lost);
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => return Ok(GateEvent::Lost),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io("receive wgrs_gate events", e)),
            }
        }
    }
}

/// The index of interface `name` (`if_nametoindex`).
pub fn ifindex(name: &str) -> Result<u32, Error> {
    let c = std::ffi::CString::new(name).map_err(|_| Error::NoSuchDevice(name.to_owned()))?;
    // SAFETY: c is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(Error::NoSuchDevice(name.to_owned()));
    }
    Ok(i)
}
