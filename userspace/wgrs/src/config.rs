//! The configuration grammar of wg(8) (config.c): `[Interface]`/`[Peer]`
//! files for setconf/addconf/syncconf and the argument list of `set`.
//! Parsing resolves everything (including endpoints) before anything is sent,
//! so a bad input never leaves a device half-configured.

use std::fs::File;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};

use wgrs_netlink::{AllowedIp, Device, Key, Peer};

use crate::encoding::{key_from_base64, KEY_B64_LEN};
use crate::sys;

/// wg's `char_is_space()`: \t \n \v \f \r and space.
pub fn is_space(c: u8) -> bool {
    matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

fn strip_spaces(s: &str) -> String {
    s.bytes()
        .filter(|c| !is_space(*c))
        .map(char::from)
        .collect()
}

/// `strtoul`-style parse of a string that must consist of digits of `radix`
/// only; saturates instead of overflowing (any huge value is out of range
/// anyway).
fn parse_digits(s: &str, radix: u32) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for c in s.chars() {
        let d = c.to_digit(radix)?;
        v = v
            .saturating_mul(u64::from(radix))
            .saturating_add(u64::from(d));
    }
    Some(v)
}

fn starts_with_digit(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// `ListenPort` / `listen-port`: a number or service name, via getaddrinfo.
pub fn parse_port(value: &str) -> Result<u16, String> {
    if value.is_empty() {
        return Err("Unable to parse empty port".into());
    }
    match sys::getaddrinfo(None, value, true) {
        Err(e) => Err(format!("{}: `{value}'", e.message)),
        Ok(None) => Err(format!("Neither IPv4 nor IPv6 address found: `{value}'")),
        Ok(Some(addr)) => Ok(addr.port()),
    }
}

/// `FwMark`: `off`, decimal, or `0x` hexadecimal, at most 32 bits.
pub fn parse_fwmark(value: &str) -> Result<u32, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(0);
    }
    let err = || format!("Fwmark is neither 0/off nor 0-0xffffffff: `{value}'");
    if !starts_with_digit(value) {
        return Err(err());
    }
    let v = if value.len() > 2 && value.starts_with("0x") {
        parse_digits(&value[2..], 16)
    } else {
        parse_digits(value, 10)
    };
    v.and_then(|v| u32::try_from(v).ok()).ok_or_else(err)
}

/// A base64 key given inline.
pub fn parse_key(value: &str) -> Result<Key, String> {
    key_from_base64(value.as_bytes())
        .ok_or_else(|| format!("Key is not the correct length or format: `{value}'"))
}

/// A key read from a file (`set private-key FILE`, `preshared-key FILE`): an
/// empty file means the all-zero key (which removes the key); otherwise
/// exactly one key optionally followed by white space.
pub fn parse_keyfile(path: &str) -> Result<Key, String> {
    let f = File::open(path)
        .map_err(|e| format!("fopen: {}", sys::strerror(e.raw_os_error().unwrap_or(0))))?;
    read_key_stream(f, false).map_err(|e| match e {
        // Empty cannot happen here: an empty file is the zero key.
        KeyReadError::Empty | KeyReadError::Short => "Invalid length key in key file".into(),
        KeyReadError::Trailing(c) => {
            format!("Found trailing character in key file: `{}'", char::from(c))
        }
        KeyReadError::Io(e) => format!("getc: {}", sys::strerror(e.raw_os_error().unwrap_or(0))),
        KeyReadError::Format(text) => format!("Key is not the correct length or format: `{text}'"),
    })
}

/// Why [`read_key_stream`] failed.
#[derive(Debug)]
pub enum KeyReadError {
    /// Nothing at all could be read (only when `empty_is_error`).
    Empty,
    /// Fewer than 44 bytes.
    Short,
    /// A byte that is not white space after the key.
    Trailing(u8),
    /// Reading failed.
    Io(std::io::Error),
    /// 44 bytes that are not a key (the text up to any NUL).
    Format(String),
}

/// Reads a key the way wg does from a key file or stdin: exactly 44 bytes,
/// then only white space (and, with `allow_nul`, NUL bytes) until EOF. The
/// input is consumed incrementally, so an endless stream fails at its first
/// unexpected byte instead of being read forever. An empty input is the
/// all-zero key unless `empty_is_error`.
pub fn read_key_stream<R: Read>(input: R, empty_is_error: bool) -> Result<Key, KeyReadError> {
    let mut r = std::io::BufReader::new(input);
    let mut buf = [0u8; KEY_B64_LEN];
    let mut got = 0;
    while got < KEY_B64_LEN {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(KeyReadError::Io(e)),
        }
    }
    if got == 0 && !empty_is_error {
        return Ok([0; 32]);
    }
    if got == 0 {
        return Err(KeyReadError::Empty);
    }
    if got < KEY_B64_LEN {
        return Err(KeyReadError::Short);
    }
    let mut byte = [0u8; 1];
    loop {
        match r.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if is_space(byte[0]) || (empty_is_error && byte[0] == 0) => {}
            Ok(_) => return Err(KeyReadError::Trailing(byte[0])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(KeyReadError::Io(e)),
        }
    }
    // C string semantics: the key text ends at a NUL byte.
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    key_from_base64(&buf[..end])
        .ok_or_else(|| KeyReadError::Format(String::from_utf8_lossy(&buf[..end]).into_owned()))
}

fn parse_ip(value: &str) -> Result<IpAddr, String> {
    let ip = if value.contains(':') {
        sys::inet_pton6(value).map(IpAddr::V6)
    } else {
        sys::inet_pton4(value).map(IpAddr::V4)
    };
    ip.ok_or_else(|| format!("Unable to parse IP address: `{value}'"))
}

fn dns_retries() -> Result<i64, String> {
    match std::env::var("WG_ENDPOINT_RESOLUTION_RETRIES") {
        Err(_) => Ok(15),
        Ok(v) if v == "infinity" => Ok(-1),
        Ok(v) => parse_digits(&v, 10)
            .filter(|n| *n <= i32::MAX as u64)
            .map(|n| n as i64)
            .ok_or_else(|| format!("Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: `{v}'")),
    }
}

/// `Endpoint`: `host:port` or `[v6]:port`, resolved now with wg's retry
/// policy for transient resolver failures.
pub fn parse_endpoint(value: &str) -> Result<SocketAddr, String> {
    let mut retries = dns_retries()?;
    if value.is_empty() {
        return Err("Unable to parse empty endpoint".into());
    }
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return Err(format!(
                "Unable to find matching brace of endpoint: `{value}'"
            ));
        };
        let after = &rest[close + 1..];
        match after.strip_prefix(':') {
            Some(p) if !p.is_empty() => (&rest[..close], p),
            _ => return Err(format!("Unable to find port of endpoint: `{value}'")),
        }
    } else {
        match value.rfind(':') {
            Some(i) if i + 1 < value.len() => (&value[..i], &value[i + 1..]),
            _ => return Err(format!("Unable to find port of endpoint: `{value}'")),
        }
    };
    let mut timeout_us: u64 = 1_000_000;
    loop {
        match sys::getaddrinfo(Some(host), port, false) {
            Ok(Some(addr)) => return Ok(addr),
            Ok(None) => return Err(format!("Neither IPv4 nor IPv6 address found: `{value}'")),
            Err(e) => {
                let give_up = sys::gai_is_permanent(e.code)
                    || (retries >= 0 && {
                        let out = retries == 0;
                        retries -= 1;
                        out
                    });
                if give_up {
                    return Err(format!("{}: `{value}'", e.message));
                }
                eprintln!(
                    "{}: `{value}'. Trying again in {:.2} seconds...",
                    e.message,
                    timeout_us as f64 / 1_000_000.0
                );
                std::thread::sleep(std::time::Duration::from_micros(timeout_us));
                timeout_us = (timeout_us * 6 / 5).min(20_000_000);
            }
        }
    }
}

/// `PersistentKeepalive`: `off` or 0-65535 seconds.
pub fn parse_persistent_keepalive(value: &str) -> Result<u16, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(0);
    }
    let err = || format!("Persistent keepalive interval is neither 0/off nor 1-65535: `{value}'");
    if !starts_with_digit(value) {
        return Err(err());
    }
    parse_digits(value, 10)
        .and_then(|v| u16::try_from(v).ok())
        .ok_or_else(err)
}

fn host_bits_set(ip: &IpAddr, cidr: u8) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let v = u32::from(*a);
            cidr < 32 && v & (u32::MAX >> cidr) != 0
        }
        IpAddr::V6(a) => {
            let v = u128::from(*a);
            cidr < 128 && v & (u128::MAX >> cidr) != 0
        }
    }
}

/// `AllowedIPs`: comma-separated `ip[/cidr]`, each optionally prefixed by
/// `+` (add) or `-` (remove); any prefix turns off replacing the peer's
/// existing allowed IPs. An empty value replaces them with nothing.
pub fn parse_allowedips(peer: &mut Peer, value: &str) -> Result<(), String> {
    peer.flags.replace_allowed_ips = true;
    if value.is_empty() {
        return Ok(());
    }
    for entry in value.split(',') {
        let mut remove_me = false;
        let entry = if let Some(e) = entry.strip_prefix('-') {
            remove_me = true;
            peer.flags.replace_allowed_ips = false;
            e
        } else if let Some(e) = entry.strip_prefix('+') {
            peer.flags.replace_allowed_ips = false;
            e
        } else {
            entry
        };
        let (ip_str, mask) = match entry.split_once('/') {
            Some((i, m)) => (i, Some(m)),
            None => (entry, None),
        };
        let addr = parse_ip(ip_str)?;
        let bad = || format!("AllowedIP is not in the correct format: `{entry}'");
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let cidr = match mask {
            Some(m) => {
                if !starts_with_digit(m) {
                    return Err(bad());
                }
                match parse_digits(m, 10) {
                    Some(c) if c <= max => c as u8,
                    _ => return Err(bad()),
                }
            }
            None => max as u8,
        };
        if host_bits_set(&addr, cidr) {
            eprintln!(
                "Warning: AllowedIP has nonzero host part: {ip_str}/{}",
                mask.unwrap_or("(null)")
            );
        }
        peer.allowed_ips.push(AllowedIp {
            addr,
            cidr,
            remove_me,
        });
    }
    Ok(())
}

/// A configuration error with the 1-based line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {message}")]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// Errors of [`parse_config`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A line could not be parsed (wg: "Configuration parsing error").
    #[error("line {}: {}", .0.line, .0.message)]
    Line(LineError),
    /// The file parsed but is not a valid configuration (wg: "Invalid configuration").
    #[error("line {}: {}", .0.line, .0.message)]
    Invalid(LineError),
}

fn get_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    if key.len() >= line.len() || !line.is_char_boundary(key.len()) {
        return None;
    }
    line[..key.len()]
        .eq_ignore_ascii_case(key)
        .then(|| &line[key.len()..])
}

#[derive(PartialEq)]
enum Section {
    None,
    Interface,
    Peer,
}

/// Parses a configuration file. Without `append` (setconf, syncconf) the
/// result replaces the device's whole configuration, including resetting the
/// private key, listen port and fwmark when the file does not set them.
pub fn parse_config(text: &[u8], append: bool) -> Result<Device, ConfigError> {
    let mut dev = Device::default();
    if !append {
        dev.flags.replace_peers = true;
        dev.flags.has_private_key = true;
        dev.flags.has_fwmark = true;
        dev.flags.has_listen_port = true;
    }
    let mut section = Section::None;
    let mut peer_lines: Vec<usize> = Vec::new();
    for (idx, raw) in text.split(|&c| c == b'\n').enumerate() {
        let lineno = idx + 1;
        let raw = raw.split(|&c| c == 0).next().unwrap_or_default();
        let raw = raw.split(|&c| c == b'#').next().unwrap_or_default();
        let cleaned: Vec<u8> = raw.iter().copied().filter(|c| !is_space(*c)).collect();
        if cleaned.is_empty() {
            continue;
        }
        let line = String::from_utf8_lossy(&cleaned).into_owned();
        let fail = |message: String| {
            ConfigError::Line(LineError {
                line: lineno,
                message,
            })
        };
        if line.eq_ignore_ascii_case("[Interface]") {
            section = Section::Interface;
            continue;
        }
        if line.eq_ignore_ascii_case("[Peer]") {
            let mut p = Peer::default();
            p.flags.replace_allowed_ips = true;
            dev.peers.push(p);
            peer_lines.push(lineno);
            section = Section::Peer;
            continue;
        }
        let unrecognized = || fail(format!("Line unrecognized: `{line}'"));
        match section {
            Section::Interface => {
                if let Some(v) = get_value(&line, "ListenPort=") {
                    dev.listen_port = parse_port(v).map_err(fail)?;
                    dev.flags.has_listen_port = true;
                } else if let Some(v) = get_value(&line, "FwMark=") {
                    dev.fwmark = parse_fwmark(v).map_err(fail)?;
                    dev.flags.has_fwmark = true;
                } else if let Some(v) = get_value(&line, "PrivateKey=") {
                    dev.private_key = parse_key(v).map_err(fail)?;
                    dev.flags.has_private_key = true;
                } else {
                    return Err(unrecognized());
                }
            }
            Section::Peer => {
                let Some(peer) = dev.peers.last_mut() else {
                    return Err(unrecognized());
                };
                if let Some(v) = get_value(&line, "Endpoint=") {
                    peer.endpoint = Some(parse_endpoint(v).map_err(fail)?);
                } else if let Some(v) = get_value(&line, "PublicKey=") {
                    peer.public_key = parse_key(v).map_err(fail)?;
                    peer.flags.has_public_key = true;
                } else if let Some(v) = get_value(&line, "AllowedIPs=") {
                    parse_allowedips(peer, v).map_err(fail)?;
                } else if let Some(v) = get_value(&line, "PersistentKeepalive=") {
                    peer.persistent_keepalive_interval =
                        parse_persistent_keepalive(v).map_err(fail)?;
                    peer.flags.has_persistent_keepalive_interval = true;
                } else if let Some(v) = get_value(&line, "PresharedKey=") {
                    peer.preshared_key = parse_key(v).map_err(fail)?;
                    peer.flags.has_preshared_key = true;
                } else {
                    return Err(unrecognized());
                }
            }
            Section::None => return Err(unrecognized()),
        }
    }
    for (peer, line) in dev.peers.iter().zip(&peer_lines) {
        if !peer.flags.has_public_key {
            return Err(ConfigError::Invalid(LineError {
                line: *line,
                message: "A peer is missing a public key".into(),
            }));
        }
    }
    Ok(dev)
}

/// Parses the arguments of `wg set <interface> ...` (after the interface).
/// Errors carry wg's message (printed as is).
pub fn parse_cmd(args: &[String]) -> Result<Device, String> {
    let mut dev = Device::default();
    let mut i = 0;
    let mut have_peer = false;
    while i < args.len() {
        let a = args[i].as_str();
        let has_value = i + 1 < args.len();
        let next = || args[i + 1].as_str();
        if a == "listen-port" && has_value && !have_peer {
            dev.listen_port = parse_port(next())?;
            dev.flags.has_listen_port = true;
            i += 2;
        } else if a == "fwmark" && has_value && !have_peer {
            dev.fwmark = parse_fwmark(next())?;
            dev.flags.has_fwmark = true;
            i += 2;
        } else if a == "private-key" && has_value && !have_peer {
            dev.private_key = parse_keyfile(next())?;
            dev.flags.has_private_key = true;
            i += 2;
        } else if a == "peer" && has_value {
            let mut p = Peer {
                public_key: parse_key(next())?,
                ..Default::default()
            };
            p.flags.has_public_key = true;
            dev.peers.push(p);
            have_peer = true;
            i += 2;
        } else if let (true, Some(peer)) = (a == "remove", dev.peers.last_mut()) {
            peer.flags.remove_me = true;
            i += 1;
        } else if let (true, true, Some(peer)) = (a == "endpoint", has_value, dev.peers.last_mut())
        {
            peer.endpoint = Some(parse_endpoint(&args[i + 1])?);
            i += 2;
        } else if let (true, true, Some(peer)) =
            (a == "allowed-ips", has_value, dev.peers.last_mut())
        {
            parse_allowedips(peer, &strip_spaces(&args[i + 1]))?;
            i += 2;
        } else if let (true, true, Some(peer)) =
            (a == "persistent-keepalive", has_value, dev.peers.last_mut())
        {
            peer.persistent_keepalive_interval = parse_persistent_keepalive(&args[i + 1])?;
            peer.flags.has_persistent_keepalive_interval = true;
            i += 2;
        } else if let (true, true, Some(peer)) =
            (a == "preshared-key", has_value, dev.peers.last_mut())
        {
            peer.preshared_key = parse_keyfile(&args[i + 1])?;
            peer.flags.has_preshared_key = true;
            i += 2;
        } else {
            return Err(format!("Invalid argument: {a}"));
        }
    }
    Ok(dev)
}
