//! Netlink I/O: a small generic netlink client (family resolution, requests
//! acknowledged with `NLM_F_ACK`, multi-message dumps) on `netlink-sys`
//! sockets, with message framing by `netlink-packet-core` and
//! `netlink-packet-generic`.

use netlink_packet_core::{
    DecodeError, Emitable, NetlinkBuffer, NetlinkDeserializable, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NetlinkSerializable, ParseableParametrized, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use netlink_sys::{protocols, Socket, SocketAddr};

use crate::attr::{attrs, get_str, get_u16, AttrWriter};
use crate::codec::{build_set_payloads, coalesce_peers, parse_device_payload};
use crate::consts::*;
use crate::model::Device;
use crate::Error;

const ENOENT: i32 = 2;
const EINTR: i32 = 4;
const ENAMETOOLONG: i32 = 36;
const EPROTONOSUPPORT: i32 = 93;
const IFNAMSIZ: usize = 16;

/// A generic netlink payload kept as raw attribute bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawGenl {
    pub cmd: u8,
    pub version: u8,
    pub attrs: Vec<u8>,
}

impl GenlFamily for RawGenl {
    fn family_name() -> &'static str {
        // The family id is always resolved at run time and set explicitly.
        WG_GENL_NAME
    }
    fn command(&self) -> u8 {
        self.cmd
    }
    fn version(&self) -> u8 {
        self.version
    }
}

impl Emitable for RawGenl {
    fn buffer_len(&self) -> usize {
        self.attrs.len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        buffer[..self.attrs.len()].copy_from_slice(&self.attrs);
    }
}

impl ParseableParametrized<[u8], GenlHeader> for RawGenl {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(Self {
            cmd: header.cmd,
            version: header.version,
            attrs: buf.to_vec(),
        })
    }
}

/// An rtnetlink message kept raw (we only need `RTM_GETLINK`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RawRoute {
    message_type: u16,
    payload: Vec<u8>,
}

impl NetlinkSerializable for RawRoute {
    fn message_type(&self) -> u16 {
        self.message_type
    }
    fn buffer_len(&self) -> usize {
        self.payload.len()
    }
    fn serialize(&self, buffer: &mut [u8]) {
        buffer[..self.payload.len()].copy_from_slice(&self.payload);
    }
}

impl NetlinkDeserializable for RawRoute {
    type Error = DecodeError;
    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, Self::Error> {
        Ok(Self {
            message_type: header.message_type,
            payload: payload.to_vec(),
        })
    }
}

struct NlSocket {
    sock: Socket,
    seq: u32,
}

impl NlSocket {
    fn open(protocol: isize) -> Result<Self, Error> {
        let mut sock = Socket::new(protocol)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        let seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1);
        Ok(Self { sock, seq })
    }

    fn send<I: NetlinkSerializable>(&mut self, flags: u16, inner: I) -> Result<u32, Error> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(inner));
        msg.finalize();
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut buf);
        self.sock.send(&buf, 0)?;
        Ok(self.seq)
    }

    /// Receives until the request `seq` is finished (ACK, error or
    /// `NLMSG_DONE`), handing every data message to `f` with its flags.
    fn recv<I, F>(&mut self, seq: u32, mut f: F) -> Result<(), Error>
    where
        I: NetlinkDeserializable,
        F: FnMut(u16, I) -> Result<(), Error>,
    {
        loop {
            let (buf, _) = self.sock.recv_from_full()?;
            let mut off = 0;
            while off < buf.len() {
                let rest = &buf[off..];
                let len = NetlinkBuffer::new_checked(rest)
                    .map_err(|e| Error::Decode(e.to_string()))?
                    .length() as usize;
                let msg = NetlinkMessage::<I>::deserialize(&rest[..len])
                    .map_err(|e| Error::Decode(e.to_string()))?;
                off += crate::attr::align4(len);
                if msg.header.sequence_number != seq {
                    continue;
                }
                let flags = msg.header.flags;
                match msg.payload {
                    NetlinkPayload::InnerMessage(inner) => f(flags, inner)?,
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(()),
                            Some(code) => Err(Error::Kernel(code.get().saturating_abs())),
                        }
                    }
                    NetlinkPayload::Done(d) => {
                        return if d.code == 0 {
                            Ok(())
                        } else {
                            Err(Error::Kernel(d.code.saturating_abs()))
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

/// A generic netlink socket bound to one resolved family.
pub struct GenlSocket {
    nl: NlSocket,
    family_id: u16,
    version: u8,
}

impl GenlSocket {
    /// Resolves `family` with the generic netlink controller. A missing family
    /// is reported as `EPROTONOSUPPORT`, like wg does.
    pub fn open(family: &str, version: u8) -> Result<Self, Error> {
        let mut nl = NlSocket::open(protocols::NETLINK_GENERIC)?;
        let mut w = AttrWriter::new(usize::MAX);
        w.put_strz(CTRL_ATTR_FAMILY_NAME, family);
        let req = RawGenl {
            cmd: CTRL_CMD_GETFAMILY,
            version: 1,
            attrs: w.into_vec(),
        };
        let seq = nl.send(
            NLM_F_REQUEST | NLM_F_ACK,
            GenlMessage::new(
                GenlHeader {
                    cmd: req.cmd,
                    version: 1,
                },
                req,
                GENL_ID_CTRL,
            ),
        )?;
        let mut id = None;
        let res = nl.recv(seq, |_, m: GenlMessage<RawGenl>| {
            for a in attrs(&m.payload.attrs) {
                let (kind, v) = a?;
                if kind == CTRL_ATTR_FAMILY_ID {
                    id = Some(get_u16("CTRL_ATTR_FAMILY_ID", v)?);
                }
            }
            Ok(())
        });
        match res {
            Err(Error::Kernel(ENOENT)) => return Err(Error::Kernel(EPROTONOSUPPORT)),
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        let family_id =
            id.ok_or_else(|| Error::Decode("no CTRL_ATTR_FAMILY_ID in reply".into()))?;
        Ok(Self {
            nl,
            family_id,
            version,
        })
    }

    /// Sends one request with `NLM_F_REQUEST | NLM_F_ACK | extra_flags` and
    /// receives until it is finished, passing every reply's attributes and
    /// netlink flags to `f`.
    pub fn request<F>(
        &mut self,
        cmd: u8,
        extra_flags: u16,
        attrs: Vec<u8>,
        mut f: F,
    ) -> Result<(), Error>
    where
        F: FnMut(u16, &[u8]) -> Result<(), Error>,
    {
        let payload = RawGenl {
            cmd,
            version: self.version,
            attrs,
        };
        let msg = GenlMessage::new(
            GenlHeader {
                cmd,
                version: self.version,
            },
            payload,
            self.family_id,
        );
        let seq = self.nl.send(NLM_F_REQUEST | NLM_F_ACK | extra_flags, msg)?;
        self.nl.recv(seq, |flags, m: GenlMessage<RawGenl>| {
            f(flags, &m.payload.attrs)
        })
    }
}

/// Reads the whole configuration of `ifname` (`WG_CMD_GET_DEVICE` dump),
/// merging peers that the kernel split across messages. Restarts when the
/// kernel reports that the dump was interrupted by a concurrent change.
pub fn get_device(ifname: &str) -> Result<Device, Error> {
    if ifname.len() >= IFNAMSIZ {
        return Err(Error::Kernel(ENAMETOOLONG));
    }
    loop {
        let mut sock = GenlSocket::open(WG_GENL_NAME, WG_GENL_VERSION)?;
        let mut w = AttrWriter::new(usize::MAX);
        w.put_strz(WGDEVICE_A_IFNAME, ifname);
        let mut dev = Device::default();
        let mut interrupted = false;
        let res = sock.request(WG_CMD_GET_DEVICE, NLM_F_DUMP, w.into_vec(), |flags, a| {
            interrupted |= flags & NLM_F_DUMP_INTR != 0;
            parse_device_payload(a, &mut dev)
        });
        match res {
            Err(Error::Kernel(EINTR)) => continue,
            Err(e) => return Err(e),
            Ok(()) if interrupted => continue,
            Ok(()) => {}
        }
        coalesce_peers(&mut dev.peers);
        return Ok(dev);
    }
}

/// Applies `dev` (`WG_CMD_SET_DEVICE`), split into as many messages as
/// needed, each acknowledged before the next is sent.
pub fn set_device(dev: &Device) -> Result<(), Error> {
    let payloads = build_set_payloads(dev, DEFAULT_MESSAGE_SIZE - NLMSG_HDRLEN - GENL_HDRLEN)?;
    let mut sock = GenlSocket::open(WG_GENL_NAME, WG_GENL_VERSION)?;
    for p in payloads {
        sock.request(WG_CMD_SET_DEVICE, 0, p, |_, _| Ok(()))?;
    }
    Ok(())
}

/// Names of all interfaces of link kind `wireguard`, in kernel order.
pub fn list_devices() -> Result<Vec<String>, Error> {
    let mut nl = NlSocket::open(protocols::NETLINK_ROUTE)?;
    // struct ifinfomsg, all zero: AF_UNSPEC.
    let req = RawRoute {
        message_type: RTM_GETLINK,
        payload: vec![0; IFINFOMSG_LEN],
    };
    let seq = nl.send(NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, req)?;
    let mut names = Vec::new();
    let res = nl.recv(seq, |_, m: RawRoute| {
        if m.message_type != RTM_NEWLINK || m.payload.len() < IFINFOMSG_LEN {
            return Ok(());
        }
        let mut name = None;
        let mut is_wg = false;
        for a in attrs(&m.payload[IFINFOMSG_LEN..]) {
            let (kind, v) = a?;
            match kind {
                IFLA_IFNAME => name = Some(get_str(v)),
                IFLA_LINKINFO => {
                    for b in attrs(v) {
                        let (k, kv) = b?;
                        if k == IFLA_INFO_KIND && get_str(kv) == WG_GENL_NAME {
                            is_wg = true;
                        }
                    }
                }
                _ => {}
            }
        }
        if let (Some(n), true) = (name, is_wg) {
            if !n.is_empty() {
                names.push(n);
            }
        }
        Ok(())
    });
    match res {
        // Like wg: an interrupted dump is used as it is.
        Ok(()) | Err(Error::Kernel(EINTR)) => Ok(names),
        Err(e) => Err(e),
    }
}
