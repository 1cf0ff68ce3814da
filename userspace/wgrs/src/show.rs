//! `show` and `showconf` formatting (show.c, showconf.c). The formatters
//! are pure functions of the device (and of "now" for relative times) so
//! they can be tested against golden strings.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::IpAddr;

use wgrs_netlink::{AllowedIp, Device, Key, Peer, Timespec};

use crate::encoding::key_to_base64;
use crate::sys::{format_endpoint, ntop6};
use crate::terminal::{BOLD, FG_CYAN, FG_GREEN, FG_RED, FG_YELLOW, RESET};

/// The parameters `show <iface> <param>` accepts.
pub const USAGE_PARAMS: &str = "[public-key | private-key | listen-port | fwmark | peers | preshared-keys | endpoints | allowed-ips | latest-handshakes | transfer | persistent-keepalive | dump]";

/// Formatting options taken from the environment.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `time(NULL)` for "N seconds ago".
    pub now: i64,
    /// `WG_HIDE_KEYS` is not `never`: private and preshared keys print as `(hidden)`.
    pub hide_keys: bool,
}

impl Options {
    pub fn from_env() -> Self {
        Self {
            now: crate::sys::now(),
            hide_keys: std::env::var_os("WG_HIDE_KEYS").is_none_or(|v| v != "never"),
        }
    }
}

fn key(k: &Key) -> String {
    key_to_base64(k)
}

fn maybe_key(k: &Key, have: bool) -> String {
    if have {
        key(k)
    } else {
        "(none)".into()
    }
}

fn masked_key(k: &Key, opts: &Options) -> String {
    if opts.hide_keys {
        "(hidden)".into()
    } else {
        key(k)
    }
}

/// An address as inet_ntop prints it.
pub fn ip(addr: &IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => ntop6(a),
    }
}

/// Years (365 days), days, hours, minutes, seconds, zero units omitted.
pub fn pretty_time(mut left: u64) -> String {
    let units = [
        (365 * 24 * 60 * 60, "year"),
        (24 * 60 * 60, "day"),
        (60 * 60, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    let mut out = String::new();
    for (size, name) in units {
        let n = left / size;
        left %= size;
        if n != 0 {
            let sep = if out.is_empty() { "" } else { ", " };
            let plural = if n == 1 { "" } else { "s" };
            let _ = write!(out, "{sep}{n} {FG_CYAN}{name}{plural}{RESET}");
        }
    }
    out
}

/// "1 minute, 3 seconds ago", "Now", or the clock warning.
pub fn ago(t: &Timespec, now: i64) -> String {
    match now.cmp(&t.sec) {
        Ordering::Equal => "Now".into(),
        Ordering::Less => {
            format!("({FG_RED}System clock wound backward; connection problems may ensue.{RESET})")
        }
        Ordering::Greater => format!("{} ago", pretty_time(now.wrapping_sub(t.sec) as u64)),
    }
}

/// "every 25 seconds".
pub fn every(seconds: u16) -> String {
    format!("every {}", pretty_time(u64::from(seconds)))
}

/// "1.23 KiB" and friends, like wg's `bytes()`.
pub fn bytes(b: u64) -> String {
    const K: u64 = 1024;
    if b < K {
        format!("{b} {FG_CYAN}B{RESET}")
    } else if b < K * K {
        format!("{:.2} {FG_CYAN}KiB{RESET}", b as f64 / 1024.0)
    } else if b < K * K * K {
        format!("{:.2} {FG_CYAN}MiB{RESET}", b as f64 / (1024.0 * 1024.0))
    } else if b < K * K * K * K {
        format!(
            "{:.2} {FG_CYAN}GiB{RESET}",
            b as f64 / (1024.0 * 1024.0 * 1024.0)
        )
    } else {
        format!(
            "{:.2} {FG_CYAN}TiB{RESET}",
            b as f64 / (1024.0 * 1024.0 * 1024.0) / 1024.0
        )
    }
}

fn is_zero(t: &Timespec) -> bool {
    t.sec == 0 && t.nsec == 0
}

/// wg's peer order for pretty output: most recent handshake first, peers
/// that never completed a handshake last (stable otherwise).
pub fn peer_cmp(a: &Peer, b: &Peer) -> Ordering {
    let (ta, tb) = (&a.last_handshake_time, &b.last_handshake_time);
    if is_zero(ta) && !is_zero(tb) {
        return Ordering::Greater;
    }
    if is_zero(tb) && !is_zero(ta) {
        return Ordering::Less;
    }
    let mut diff = ta.sec.wrapping_sub(tb.sec);
    if diff == 0 {
        diff = ta.nsec.wrapping_sub(tb.nsec);
    }
    0.cmp(&diff)
}

fn endpoint_of(p: &Peer) -> Option<String> {
    p.endpoint.as_ref().map(format_endpoint)
}

/// Pretty output of one device, with ANSI codes (filter them with
/// [`crate::terminal::render`]).
pub fn pretty(dev: &Device, opts: &Options) -> String {
    let mut o = String::new();
    let _ = write!(o, "{RESET}");
    let _ = writeln!(
        o,
        "{FG_GREEN}{BOLD}interface{RESET}: {FG_GREEN}{}{RESET}",
        dev.name
    );
    if dev.flags.has_public_key {
        let _ = writeln!(o, "  {BOLD}public key{RESET}: {}", key(&dev.public_key));
    }
    if dev.flags.has_private_key {
        let _ = writeln!(
            o,
            "  {BOLD}private key{RESET}: {}",
            masked_key(&dev.private_key, opts)
        );
    }
    if dev.listen_port != 0 {
        let _ = writeln!(o, "  {BOLD}listening port{RESET}: {}", dev.listen_port);
    }
    if dev.fwmark != 0 {
        let _ = writeln!(o, "  {BOLD}fwmark{RESET}: 0x{:x}", dev.fwmark);
    }
    let mut peers: Vec<&Peer> = dev.peers.iter().collect();
    if !peers.is_empty() {
        peers.sort_by(|a, b| peer_cmp(a, b));
        o.push('\n');
    }
    for (i, p) in peers.iter().enumerate() {
        let _ = writeln!(
            o,
            "{FG_YELLOW}{BOLD}peer{RESET}: {FG_YELLOW}{}{RESET}",
            key(&p.public_key)
        );
        if p.flags.has_preshared_key {
            let _ = writeln!(
                o,
                "  {BOLD}preshared key{RESET}: {}",
                masked_key(&p.preshared_key, opts)
            );
        }
        if let Some(ep) = endpoint_of(p) {
            let _ = writeln!(o, "  {BOLD}endpoint{RESET}: {ep}");
        }
        let _ = write!(o, "  {BOLD}allowed ips{RESET}: ");
        if p.allowed_ips.is_empty() {
            o.push_str("(none)\n");
        } else {
            for (j, a) in p.allowed_ips.iter().enumerate() {
                let sep = if j + 1 < p.allowed_ips.len() {
                    ", "
                } else {
                    "\n"
                };
                let _ = write!(o, "{}{FG_CYAN}/{RESET}{}{sep}", ip(&a.addr), a.cidr);
            }
        }
        if p.last_handshake_time.sec != 0 {
            let _ = writeln!(
                o,
                "  {BOLD}latest handshake{RESET}: {}",
                ago(&p.last_handshake_time, opts.now)
            );
        }
        if p.rx_bytes != 0 || p.tx_bytes != 0 {
            let _ = write!(o, "  {BOLD}transfer{RESET}: ");
            let _ = write!(o, "{} received, ", bytes(p.rx_bytes));
            let _ = writeln!(o, "{} sent", bytes(p.tx_bytes));
        }
        if p.persistent_keepalive_interval != 0 {
            let _ = writeln!(
                o,
                "  {BOLD}persistent keepalive{RESET}: {}",
                every(p.persistent_keepalive_interval)
            );
        }
        if i + 1 < peers.len() {
            o.push('\n');
        }
    }
    o
}

fn allowed_list(ips: &[AllowedIp], sep: char, end: char) -> String {
    let mut o = String::new();
    for (j, a) in ips.iter().enumerate() {
        let s = if j + 1 < ips.len() { sep } else { end };
        let _ = write!(o, "{}/{}{s}", ip(&a.addr), a.cidr);
    }
    o
}

fn fwmark_or_off(m: u32) -> String {
    if m != 0 {
        format!("0x{m:x}")
    } else {
        "off".into()
    }
}

/// `show <iface> dump` (tab-separated, one line for the device, one per peer).
pub fn dump(dev: &Device, with_interface: bool) -> String {
    let mut o = String::new();
    let prefix = if with_interface {
        format!("{}\t", dev.name)
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "{prefix}{}\t{}\t{}\t{}",
        maybe_key(&dev.private_key, dev.flags.has_private_key),
        maybe_key(&dev.public_key, dev.flags.has_public_key),
        dev.listen_port,
        fwmark_or_off(dev.fwmark)
    );
    for p in &dev.peers {
        let _ = write!(
            o,
            "{prefix}{}\t{}\t{}\t",
            key(&p.public_key),
            maybe_key(&p.preshared_key, p.flags.has_preshared_key),
            endpoint_of(p).unwrap_or_else(|| "(none)".into())
        );
        if p.allowed_ips.is_empty() {
            o.push_str("(none)\t");
        } else {
            o.push_str(&allowed_list(&p.allowed_ips, ',', '\t'));
        }
        let _ = write!(
            o,
            "{}\t{}\t{}\t",
            p.last_handshake_time.sec as u64, p.rx_bytes, p.tx_bytes
        );
        if p.persistent_keepalive_interval != 0 {
            let _ = writeln!(o, "{}", p.persistent_keepalive_interval);
        } else {
            o.push_str("off\n");
        }
    }
    o
}

/// `show <iface> <param>`; `None` for an unknown parameter.
pub fn ugly(dev: &Device, param: &str, with_interface: bool) -> Option<String> {
    let prefix = if with_interface {
        format!("{}\t", dev.name)
    } else {
        String::new()
    };
    let mut o = String::new();
    let per_peer = |f: &dyn Fn(&Peer) -> String| -> String {
        dev.peers
            .iter()
            .map(|p| format!("{prefix}{}", f(p)))
            .collect()
    };
    match param {
        "public-key" => {
            let _ = writeln!(
                o,
                "{prefix}{}",
                maybe_key(&dev.public_key, dev.flags.has_public_key)
            );
        }
        "private-key" => {
            let _ = writeln!(
                o,
                "{prefix}{}",
                maybe_key(&dev.private_key, dev.flags.has_private_key)
            );
        }
        "listen-port" => {
            let _ = writeln!(o, "{prefix}{}", dev.listen_port);
        }
        "fwmark" => {
            let _ = writeln!(o, "{prefix}{}", fwmark_or_off(dev.fwmark));
        }
        "endpoints" => {
            o = per_peer(&|p| {
                format!(
                    "{}\t{}\n",
                    key(&p.public_key),
                    endpoint_of(p).unwrap_or_else(|| "(none)".into())
                )
            });
        }
        "allowed-ips" => {
            o = per_peer(&|p| {
                let list = if p.allowed_ips.is_empty() {
                    "(none)\n".to_owned()
                } else {
                    allowed_list(&p.allowed_ips, ' ', '\n')
                };
                format!("{}\t{list}", key(&p.public_key))
            });
        }
        "latest-handshakes" => {
            o = per_peer(&|p| {
                format!(
                    "{}\t{}\n",
                    key(&p.public_key),
                    p.last_handshake_time.sec as u64
                )
            });
        }
        "transfer" => {
            o = per_peer(&|p| format!("{}\t{}\t{}\n", key(&p.public_key), p.rx_bytes, p.tx_bytes));
        }
        "persistent-keepalive" => {
            o = per_peer(&|p| {
                if p.persistent_keepalive_interval != 0 {
                    format!(
                        "{}\t{}\n",
                        key(&p.public_key),
                        p.persistent_keepalive_interval
                    )
                } else {
                    format!("{}\toff\n", key(&p.public_key))
                }
            });
        }
        "preshared-keys" => {
            o = per_peer(&|p| {
                format!(
                    "{}\t{}\n",
                    key(&p.public_key),
                    maybe_key(&p.preshared_key, p.flags.has_preshared_key)
                )
            });
        }
        "peers" => {
            o = per_peer(&|p| format!("{}\n", key(&p.public_key)));
        }
        "dump" => o = dump(dev, with_interface),
        _ => return None,
    }
    Some(o)
}

/// `showconf <iface>`.
pub fn showconf(dev: &Device) -> String {
    let mut o = String::from("[Interface]\n");
    if dev.listen_port != 0 {
        let _ = writeln!(o, "ListenPort = {}", dev.listen_port);
    }
    if dev.fwmark != 0 {
        let _ = writeln!(o, "FwMark = 0x{:x}", dev.fwmark);
    }
    if dev.flags.has_private_key {
        let _ = writeln!(o, "PrivateKey = {}", key(&dev.private_key));
    }
    o.push('\n');
    for (i, p) in dev.peers.iter().enumerate() {
        let _ = writeln!(o, "[Peer]\nPublicKey = {}", key(&p.public_key));
        if p.flags.has_preshared_key {
            let _ = writeln!(o, "PresharedKey = {}", key(&p.preshared_key));
        }
        if !p.allowed_ips.is_empty() {
            o.push_str("AllowedIPs = ");
            for (j, a) in p.allowed_ips.iter().enumerate() {
                let _ = write!(o, "{}/{}", ip(&a.addr), a.cidr);
                if j + 1 < p.allowed_ips.len() {
                    o.push_str(", ");
                }
            }
            o.push('\n');
        }
        if let Some(ep) = endpoint_of(p) {
            let _ = writeln!(o, "Endpoint = {ep}");
        }
        if p.persistent_keepalive_interval != 0 {
            let _ = writeln!(
                o,
                "PersistentKeepalive = {}",
                p.persistent_keepalive_interval
            );
        }
        if i + 1 < dev.peers.len() {
            o.push('\n');
        }
    }
    o
}
