//! `wgrs gate …`: the administrator's side of the gate (enrollment, policy,
//! exemptions, status, overrides) and the user's `login` for wg-quick.
//!
//! The CLI shares the agent's state database (the path comes from
//! gated.toml) and queues its audit records there; the agent prints them in
//! its log. Kernel operations go straight to the `wgrs_gate` family.

use std::fmt::Write as _;
use std::io::{BufRead, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wgrs_gate_netlink::{GateClient, GateKernel, GateStatus, Key, PeerState, PolicyUpdate};
use wgrs_gate_state::config::{DEFAULT_AUTH_PORT, DEFAULT_CONFIG_PATH};
use wgrs_gate_state::{totp, Audit, Check, Config, DeviceConfig, PeerRecord, Store};

use crate::encoding::{key_from_base64, key_to_base64};
use crate::show::pretty_time;
use crate::terminal::{self, BOLD, FG_GREEN, FG_RED, FG_YELLOW, RESET};

pub const USAGE: &str = "Usage: wgrs gate [--config FILE] <command> [<args>]

Commands:
  enroll <interface> <peer> [--png FILE]   new TOTP secret (active after confirm)
  confirm <interface> <peer> <code>         activate the enrolled secret
  list [<interface>]                        enrolled peers
  remove <interface> <peer>                 forget the peer's secrets (and lock it)
  policy <interface> [idle-timeout S] [max-session S] [auth-port P]
  exempt <interface> <peer> on|off          never gate this peer (site-to-site)
  status <interface>                        kernel gate state and enrollments
  authorize <interface> <peer>              unlock now (administrator override)
  revoke <interface> <peer>                 lock now
  login <interface> [--code CODE] [--server ADDR:PORT] [--port PORT] [--timeout S]
                                            unlock this side's peer through the tunnel

The configuration (state database, issuer) is read from --config, or
$WGRS_GATED_CONFIG, or /etc/wgrs/gated.toml.
";

/// A failure: message for stderr, exit status 1.
#[derive(Debug)]
pub struct Fail(pub String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.to_string())
    }
}

type R<T> = Result<T, Fail>;

fn fail<T>(msg: impl Into<String>) -> R<T> {
    Err(Fail(msg.into()))
}

struct Ctx {
    config_path: PathBuf,
    config: Option<Config>,
    config_error: Option<String>,
}

impl Ctx {
    fn load(path: PathBuf) -> Self {
        match Config::load(&path) {
            Ok(c) => Self {
                config_path: path,
                config: Some(c),
                config_error: None,
            },
            Err(e) => Self {
                config_path: path,
                config: None,
                config_error: Some(e.to_string()),
            },
        }
    }

    /// The gated device `name` (it must be in the configuration).
    fn device(&self, name: &str) -> R<&DeviceConfig> {
        let Some(c) = &self.config else {
            return fail(self.config_error.clone().unwrap_or_default());
        };
        match c.device(name) {
            Some(d) => Ok(d),
            None => fail(format!(
                "{name} is not a gated device in {} (add a [[device]] for it)",
                self.config_path.display()
            )),
        }
    }

    fn store(&self, name: &str) -> R<(Store, &DeviceConfig)> {
        let d = self.device(name)?;
        Ok((Store::open(&d.state_db)?, d))
    }

    /// Queues an audit record, if the device is gated (warns otherwise).
    fn audit(&self, device: &str, event: &str, fields: &[(&str, Value)]) {
        let Ok((store, _)) = self.store(device) else {
            eprintln!("warning: not audited: {device} is not a gated device");
            return;
        };
        let mut f: Vec<(&str, Value)> = vec![("device", json!(device))];
        f.extend(fields.iter().cloned());
        f.push(("by", json!(format!("cli:{}", operator()))));
        if let Err(e) = store.queue_audit(&Audit::format(event, &f)) {
            eprintln!("warning: audit record not queued: {e}");
        }
    }
}

fn operator() -> String {
    for v in ["SUDO_USER", "USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(v) {
            if !u.is_empty() {
                return u;
            }
        }
    }
    // SAFETY: getuid has no preconditions.
    format!("uid {}", unsafe { libc::getuid() })
}

fn now() -> i64 {
    crate::sys::now()
}

fn parse_key(s: &str) -> R<Key> {
    key_from_base64(s.as_bytes()).ok_or_else(|| Fail(format!("`{s}' is not a valid public key")))
}

fn ifindex(dev: &str) -> R<u32> {
    Ok(wgrs_gate_netlink::ifindex(dev)?)
}

fn kernel() -> R<GateClient> {
    Ok(GateClient::open()?)
}

/// Entry point: `args[0]` is "gate".
pub fn main(args: &[String]) -> u8 {
    let mut rest = &args[1.min(args.len())..];
    let mut config = std::env::var_os("WGRS_GATED_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH));
    if rest.len() >= 2 && rest[0] == "--config" {
        config = PathBuf::from(&rest[1]);
        rest = &rest[2..];
    }
    let Some(cmd) = rest.first() else {
        eprint!("{USAGE}");
        return 1;
    };
    if matches!(cmd.as_str(), "-h" | "--help" | "help") {
        print!("{USAGE}");
        return 0;
    }
    let ctx = Ctx::load(config);
    let a = &rest[1..];
    let res = match (cmd.as_str(), a.len()) {
        ("enroll", 2 | 4) => enroll(&ctx, a),
        ("confirm", 3) => confirm(&ctx, a),
        ("list", 0 | 1) => list(&ctx, a.first().map(String::as_str)),
        ("remove", 2) => remove(&ctx, a),
        ("policy", n) if n >= 1 => policy(&ctx, a),
        ("exempt", 3) => exempt(&ctx, a),
        ("status", 1) => status(&ctx, &a[0]),
        ("authorize", 2) => override_(&ctx, a, true),
        ("revoke", 2) => override_(&ctx, a, false),
        ("login", n) if n >= 1 => login(a),
        _ => {
            eprint!(
                "wgrs gate: bad command or arguments: {}\n{USAGE}",
                rest.join(" ")
            );
            return 1;
        }
    };
    match res {
        Ok(()) => 0,
        Err(Fail(m)) => {
            eprintln!("wgrs gate {cmd}: {m}");
            1
        }
    }
}

fn enroll(ctx: &Ctx, a: &[String]) -> R<()> {
    let (dev, key) = (&a[0], parse_key(&a[1])?);
    let png = match a.get(2).map(String::as_str) {
        None => None,
        Some("--png") => a.get(3).map(PathBuf::from),
        Some(o) => return fail(format!("unknown option {o}")),
    };
    if let Ok(d) = wgrs_netlink::get_device(dev) {
        if !d.peers.iter().any(|p| p.public_key == key) {
            eprintln!("warning: {dev} has no peer {} (yet)", a[1]);
        }
    }
    let (store, cfg) = ctx.store(dev)?;
    let secret = store.enroll(dev, &key, now())?;
    let account = format!("{dev} {}", a[1].get(..8).unwrap_or(&a[1]));
    let uri = totp::otpauth_uri(&secret, &cfg.issuer, &account)?;
    let code = qrcode::QrCode::new(uri.as_bytes())?;
    let qr = code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    let mut o = String::new();
    let _ = writeln!(o, "Scan this with the user's authenticator app:\n\n{qr}\n");
    let _ = writeln!(o, "{uri}\n");
    let _ = writeln!(
        o,
        "Manual entry: {} (SHA1, 6 digits, 30 s)",
        secret.base32()?
    );
    if let Some(path) = &png {
        let n = code.width();
        let dark: Vec<bool> = code
            .to_colors()
            .iter()
            .map(|c| *c == qrcode::Color::Dark)
            .collect();
        write_private(path, &crate::png::qr_png(&dark, n, 8))?;
        let _ = writeln!(
            o,
            "QR code written to {} (mode 0600: it holds the secret)",
            path.display()
        );
    }
    let _ = writeln!(
        o,
        "\nThe secret becomes active only after: wgrs gate confirm {dev} {} <code>",
        a[1]
    );
    print!("{o}");
    ctx.audit(dev, "enrolled", &[("peer", json!(a[1]))]);
    Ok(())
}

fn write_private(path: &std::path::Path, data: &[u8]) -> R<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Fail(format!("{}: {e}", path.display())))?;
    f.write_all(data)
        .map_err(|e| Fail(format!("{}: {e}", path.display())))?;
    Ok(())
}

fn confirm(ctx: &Ctx, a: &[String]) -> R<()> {
    let (dev, key) = (&a[0], parse_key(&a[1])?);
    let (store, _) = ctx.store(dev)?;
    let code: String = a[2].chars().filter(|c| !c.is_whitespace()).collect();
    match store.confirm(dev, &key, &code, now())? {
        Check::Ok(_) => {
            println!(
                "{dev}: the authenticator of {} is confirmed and active",
                a[1]
            );
            ctx.audit(dev, "confirmed", &[("peer", json!(a[1]))]);
            Ok(())
        }
        Check::Wrong | Check::Replay => {
            ctx.audit(dev, "confirm_failed", &[("peer", json!(a[1]))]);
            fail("the code does not match the enrolled secret (is the phone's clock right?); the enrollment stays pending")
        }
    }
}

fn date(t: Option<i64>) -> String {
    match t {
        None => "never".into(),
        Some(t) => match now() - t {
            0 => "just now".into(),
            d if d > 0 => terminal::filter_ansi(&format!("{} ago", pretty_time(d as u64))),
            _ => "in the future".into(),
        },
    }
}

fn totp_state(r: &PeerRecord) -> &'static str {
    match (r.confirmed, r.pending) {
        (true, true) => "confirmed (new secret pending)",
        (true, false) => "confirmed",
        (false, true) => "pending confirmation",
        (false, false) => "none",
    }
}

fn list(ctx: &Ctx, dev: Option<&str>) -> R<()> {
    let mut devices: Vec<&DeviceConfig> = Vec::new();
    match dev {
        Some(d) => devices.push(ctx.device(d)?),
        None => {
            let Some(c) = &ctx.config else {
                return fail(ctx.config_error.clone().unwrap_or_default());
            };
            devices.extend(c.devices.iter());
        }
    }
    let mut o = String::new();
    for d in devices {
        let store = Store::open(&d.state_db)?;
        for r in store.list(Some(&d.name))? {
            let _ = writeln!(
                o,
                "{}\t{}\t{}\texempt={}\tlast login: {}",
                r.device,
                key_to_base64(&r.public_key),
                totp_state(&r),
                if r.exempt { "yes" } else { "no" },
                date(r.last_login_at)
            );
        }
    }
    print!("{o}");
    Ok(())
}

fn remove(ctx: &Ctx, a: &[String]) -> R<()> {
    let (dev, key) = (&a[0], parse_key(&a[1])?);
    let (store, _) = ctx.store(dev)?;
    if !store.remove(dev, &key)? {
        return fail(format!("{dev}: {} is not enrolled", a[1]));
    }
    println!("{dev}: forgot the secrets of {}", a[1]);
    ctx.audit(dev, "removed", &[("peer", json!(a[1]))]);
    // Its current session ends too (best effort: the kernel side may be
    // gone, or the peer removed already).
    match ifindex(dev).and_then(|i| Ok(kernel()?.revoke(i, &key)?)) {
        Ok(()) => println!("{dev}: {} is locked", a[1]),
        Err(Fail(e)) => eprintln!("warning: could not lock {}: {e}", a[1]),
    }
    Ok(())
}

/// `[idle-timeout S] [max-session S] [auth-port P]`.
pub fn parse_policy(a: &[String]) -> R<PolicyUpdate> {
    let mut u = PolicyUpdate::default();
    let mut i = 0;
    while i < a.len() {
        let val = a
            .get(i + 1)
            .ok_or_else(|| Fail(format!("{} needs a value", a[i])))?;
        let num = |max: u64| -> R<u64> {
            match val.parse::<u64>() {
                Ok(v) if v <= max => Ok(v),
                _ => fail(format!("{}: `{val}' is not a number from 0 to {max}", a[i])),
            }
        };
        match a[i].as_str() {
            "idle-timeout" => u.idle_timeout = Some(num(u64::from(u32::MAX))? as u32),
            "max-session" => u.max_session = Some(num(u64::from(u32::MAX))? as u32),
            "auth-port" => {
                let p = num(u64::from(u16::MAX))? as u16;
                if p == 0 {
                    return fail("auth-port must not be 0");
                }
                u.auth_port = Some(p)
            }
            other => return fail(format!("unknown policy setting `{other}'")),
        }
        i += 2;
    }
    Ok(u)
}

fn seconds(s: u32) -> String {
    if s == 0 {
        "off".into()
    } else {
        pretty_time(u64::from(s))
    }
}

fn policy(ctx: &Ctx, a: &[String]) -> R<()> {
    let dev = &a[0];
    let u = parse_policy(&a[1..])?;
    let idx = ifindex(dev)?;
    let k = kernel()?;
    if !u.is_empty() {
        k.set_policy(idx, &u)?;
        ctx.audit(
            dev,
            "policy",
            &[
                ("idle_timeout", json!(u.idle_timeout)),
                ("max_session", json!(u.max_session)),
                ("auth_port", json!(u.auth_port)),
            ],
        );
        if let Ok(d) = ctx.device(dev) {
            if u.auth_port.is_some_and(|p| p != d.auth_port) {
                eprintln!(
                    "warning: the agent serves {dev}'s auth page on port {} (gated.toml); \
                     locked peers can now reach only the new port",
                    d.auth_port
                );
            }
        }
    }
    let s = k.get(idx)?;
    let color = terminal::color_mode();
    let text = format!(
        "{BOLD}gate{RESET}: {BOLD}{dev}{RESET}\n  {BOLD}idle timeout{RESET}: {}\n  {BOLD}max session{RESET}: {}\n  {BOLD}auth port{RESET}: {}\n",
        seconds(s.policy.idle_timeout),
        seconds(s.policy.max_session),
        s.policy.auth_port
    );
    print!("{}", terminal::render(&text, color));
    Ok(())
}

fn exempt(ctx: &Ctx, a: &[String]) -> R<()> {
    let (dev, key) = (&a[0], parse_key(&a[1])?);
    let on = match a[2].as_str() {
        "on" => true,
        "off" => false,
        o => return fail(format!("`{o}': expected on or off")),
    };
    kernel()?.peer_set(ifindex(dev)?, &key, on)?;
    // Recorded so the agent re-applies it when the device is re-created.
    if let Ok((store, _)) = ctx.store(dev) {
        store.set_exempt(dev, &key, on)?;
    }
    ctx.audit(
        dev,
        "exempt",
        &[("peer", json!(a[1])), ("exempt", json!(on))],
    );
    println!(
        "{dev}: {} is {}",
        a[1],
        if on { "exempt from the gate" } else { "gated" }
    );
    Ok(())
}

fn ms(v: u64) -> String {
    let s = v / 1000;
    if s == 0 {
        "less than a second".into()
    } else {
        pretty_time(s)
    }
}

/// The `status` text, `wg show` style (colours filtered by the caller).
pub fn format_status(dev: &str, s: &GateStatus, records: &[PeerRecord]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{BOLD}gate{RESET}: {BOLD}{dev}{RESET}");
    let _ = writeln!(
        o,
        "  {BOLD}enforcing{RESET}: {}",
        if s.enforcing {
            format!("{FG_GREEN}yes{RESET}")
        } else {
            format!("{FG_YELLOW}no{RESET}")
        }
    );
    let _ = writeln!(
        o,
        "  {BOLD}idle timeout{RESET}: {}",
        seconds(s.policy.idle_timeout)
    );
    let _ = writeln!(
        o,
        "  {BOLD}max session{RESET}: {}",
        seconds(s.policy.max_session)
    );
    let _ = writeln!(o, "  {BOLD}auth port{RESET}: {}", s.policy.auth_port);
    if s.events_lost != 0 {
        let _ = writeln!(
            o,
            "  {BOLD}events lost{RESET}: {FG_RED}{}{RESET}",
            s.events_lost
        );
    }
    for p in &s.peers {
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "{FG_YELLOW}{BOLD}peer{RESET}: {FG_YELLOW}{}{RESET}",
            key_to_base64(&p.public_key)
        );
        let state = if p.exempt {
            format!("{FG_GREEN}exempt{RESET}")
        } else if p.state == PeerState::Authorized {
            format!("{FG_GREEN}authorized{RESET}")
        } else {
            format!(
                "{FG_RED}locked{RESET}{}",
                p.lock_reason
                    .map(|r| format!(" ({})", r.as_str()))
                    .unwrap_or_default()
            )
        };
        let _ = writeln!(o, "  {BOLD}gate{RESET}: {state}");
        if let Some(v) = p.authorized_age_ms {
            let _ = writeln!(o, "  {BOLD}authorized{RESET}: {} ago", ms(v));
        }
        if let Some(v) = p.session_remaining_ms {
            let _ = writeln!(o, "  {BOLD}session ends in{RESET}: {}", ms(v));
        }
        if let Some(v) = p.idle_ms {
            let _ = writeln!(o, "  {BOLD}idle{RESET}: {}", ms(v));
        }
        let rec = records.iter().find(|r| r.public_key == p.public_key);
        let _ = writeln!(o, "  {BOLD}totp{RESET}: {}", rec.map_or("none", totp_state));
        if let Some(t) = rec.and_then(|r| r.last_login_at) {
            let n = now();
            if n >= t {
                let _ = writeln!(
                    o,
                    "  {BOLD}last login{RESET}: {} ago",
                    pretty_time((n - t) as u64)
                );
            }
        }
        if p.rx_dropped != 0 || p.tx_dropped != 0 {
            let _ = writeln!(
                o,
                "  {BOLD}dropped{RESET}: {} received, {} sent",
                p.rx_dropped, p.tx_dropped
            );
        }
    }
    o
}

fn status(ctx: &Ctx, dev: &str) -> R<()> {
    let s = kernel()?.get(ifindex(dev)?)?;
    let records = match ctx.store(dev) {
        Ok((store, _)) => store.list(Some(dev))?,
        Err(Fail(e)) => {
            eprintln!("warning: no enrollment data: {e}");
            Vec::new()
        }
    };
    print!(
        "{}",
        terminal::render(&format_status(dev, &s, &records), terminal::color_mode())
    );
    Ok(())
}

fn override_(ctx: &Ctx, a: &[String], unlock: bool) -> R<()> {
    let (dev, key) = (&a[0], parse_key(&a[1])?);
    let k = kernel()?;
    let idx = ifindex(dev)?;
    if unlock {
        k.authorize(idx, &key)?;
    } else {
        k.revoke(idx, &key)?;
    }
    let event = if unlock { "authorized" } else { "revoked" };
    ctx.audit(
        dev,
        event,
        &[("peer", json!(a[1])), ("override", json!(true))],
    );
    println!("{dev}: {} {event}", a[1]);
    Ok(())
}

/// The auth service's address from this side's peer configuration: the
/// first allowed IP of the first peer; a network's first host address
/// (10.8.0.0/24 → 10.8.0.1), a host route's address itself. Default
/// routes (`0.0.0.0/0`, `::/0`) say nothing about the server and are
/// skipped.
pub fn server_from_allowed_ips(ips: &[(IpAddr, u8)], port: u16) -> Option<SocketAddr> {
    let (addr, cidr) = *ips.iter().find(|(_, cidr)| *cidr != 0)?;
    let host = match addr {
        IpAddr::V4(a) if cidr >= 31 => IpAddr::V4(a),
        IpAddr::V4(a) => {
            let mask = if cidr == 0 {
                0
            } else {
                u32::MAX << (32 - cidr)
            };
            IpAddr::V4(Ipv4Addr::from((u32::from(a) & mask) + 1))
        }
        IpAddr::V6(a) if cidr >= 127 => IpAddr::V6(a),
        IpAddr::V6(a) => {
            let mask = if cidr == 0 {
                0
            } else {
                u128::MAX << (128 - cidr)
            };
            IpAddr::V6(Ipv6Addr::from((u128::from(a) & mask) + 1))
        }
    };
    if host.is_unspecified() {
        return None;
    }
    Some(SocketAddr::new(host, port))
}

/// Status code and body of an HTTP/1.1 response.
pub fn parse_http_response(raw: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

fn read_code() -> R<String> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty");
    let mut line = String::new();
    match tty {
        Ok(mut t) => {
            let _ = t.write_all(b"TOTP code: ");
            let _ = t.flush();
            std::io::BufReader::new(t).read_line(&mut line)?;
        }
        Err(_) => {
            eprint!("TOTP code: ");
            std::io::stdin().lock().read_line(&mut line)?;
        }
    }
    let code: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    if code.is_empty() {
        return fail("no code given");
    }
    Ok(code)
}

fn connect(server: SocketAddr, dev: &str, deadline: Instant) -> R<std::net::TcpStream> {
    loop {
        let sock = socket2::Socket::new(
            socket2::Domain::for_address(server),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        // Through the tunnel only (best effort: needs a recent kernel or
        // privileges; the route normally goes there anyway).
        let _ = sock.bind_device(Some(dev.as_bytes()));
        let left = deadline.saturating_duration_since(Instant::now());
        match sock.connect_timeout(&server.into(), left.min(Duration::from_secs(3))) {
            Ok(()) => return Ok(sock.into()),
            Err(e) if Instant::now() >= deadline => {
                return fail(format!("cannot reach the auth service at {server}: {e}"))
            }
            // The tunnel may still be coming up (first handshake).
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

fn login(a: &[String]) -> R<()> {
    let dev = &a[0];
    let mut code = None;
    let mut server: Option<SocketAddr> = None;
    let mut port = DEFAULT_AUTH_PORT;
    let mut timeout = 15u64;
    let mut i = 1;
    while i < a.len() {
        let v = a
            .get(i + 1)
            .ok_or_else(|| Fail(format!("{} needs a value", a[i])))?;
        match a[i].as_str() {
            "--code" => code = Some(v.clone()),
            "--server" => {
                server = Some(
                    v.parse()
                        .map_err(|_| Fail(format!("`{v}' is not ADDRESS:PORT")))?,
                )
            }
            "--port" => {
                port = v
                    .parse()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| Fail(format!("`{v}' is not a port")))?
            }
            "--timeout" => {
                timeout = v
                    .parse()
                    .ok()
                    .filter(|t| *t != 0)
                    .ok_or_else(|| Fail(format!("`{v}' is not a number of seconds")))?
            }
            o => return fail(format!("unknown option {o}")),
        }
        i += 2;
    }
    let server = match server {
        Some(s) => s,
        None => {
            let d = wgrs_netlink::get_device(dev)
                .map_err(|e| Fail(format!("read {dev}: {e} (or give --server ADDR:PORT)")))?;
            let ips: Vec<(IpAddr, u8)> = d
                .peers
                .first()
                .map(|p| p.allowed_ips.iter().map(|x| (x.addr, x.cidr)).collect())
                .unwrap_or_default();
            server_from_allowed_ips(&ips, port).ok_or_else(|| {
                Fail(format!(
                    "{dev}: its peer's allowed IPs do not tell the auth service's address (a full tunnel?); give --server ADDR:PORT"
                ))
            })?
        }
    };
    let code = match code {
        Some(c) => c,
        None => read_code()?,
    };
    let body = json!({ "code": code }).to_string();
    let host = match server {
        SocketAddr::V6(s) => format!("[{}]:{}", s.ip(), s.port()),
        SocketAddr::V4(s) => s.to_string(),
    };
    let req = format!(
        "POST /login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut s = connect(server, dev, deadline)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(req.as_bytes())
        .map_err(|e| Fail(format!("send to {server}: {e}")))?;
    let mut resp = Vec::new();
    s.take(64 * 1024)
        .read_to_end(&mut resp)
        .map_err(|e| Fail(format!("read from {server}: {e}")))?;
    let (status, body) =
        parse_http_response(&resp).ok_or_else(|| Fail(format!("{server} did not answer HTTP")))?;
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| body.trim().to_owned());
    if status == 200 {
        println!("{dev}: unlocked");
        Ok(())
    } else {
        fail(format!("{message} (HTTP {status} from {server})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgrs_gate_netlink::{LockReason, PeerStatus, Policy};

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn policy_arguments() {
        let u = parse_policy(&s(&["idle-timeout", "900", "auth-port", "8443"])).expect("ok");
        assert_eq!(
            u,
            PolicyUpdate {
                idle_timeout: Some(900),
                max_session: None,
                auth_port: Some(8443)
            }
        );
        assert!(parse_policy(&[]).expect("ok").is_empty());
        for bad in [
            &["idle-timeout"][..],
            &["idle-timeout", "-1"],
            &["max-session", "4294967296"],
            &["auth-port", "0"],
            &["auth-port", "65536"],
            &["bogus", "1"],
        ] {
            assert!(parse_policy(&s(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn auth_service_address() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            server_from_allowed_ips(&[(ip("10.8.0.0"), 24), (ip("10.9.0.0"), 16)], 51821),
            Some("10.8.0.1:51821".parse().expect("addr"))
        );
        assert_eq!(
            server_from_allowed_ips(&[(ip("10.8.0.7"), 32)], 80),
            Some("10.8.0.7:80".parse().expect("addr"))
        );
        assert_eq!(
            server_from_allowed_ips(&[(ip("fd00:8::"), 64)], 51821),
            Some("[fd00:8::1]:51821".parse().expect("addr"))
        );
        assert_eq!(
            server_from_allowed_ips(&[(ip("fd00:8::5"), 128)], 1),
            Some("[fd00:8::5]:1".parse().expect("addr"))
        );
        assert_eq!(server_from_allowed_ips(&[], 1), None);
        // A full tunnel's default routes are skipped.
        assert_eq!(
            server_from_allowed_ips(&[(ip("0.0.0.0"), 0), (ip("::"), 0)], 1),
            None
        );
        assert_eq!(
            server_from_allowed_ips(&[(ip("0.0.0.0"), 0), (ip("10.8.0.0"), 24)], 1),
            Some("10.8.0.1:1".parse().expect("addr"))
        );
    }

    #[test]
    fn http_responses() {
        assert_eq!(
            parse_http_response(
                b"HTTP/1.1 401 Unauthorized\r\ncontent-type: x\r\n\r\n{\"ok\":false}"
            ),
            Some((401, "{\"ok\":false}".into()))
        );
        assert_eq!(parse_http_response(b"garbage"), None);
    }

    #[test]
    fn status_text() {
        let key = [3u8; 32];
        let st = GateStatus {
            ifindex: 1,
            policy: Policy {
                idle_timeout: 900,
                max_session: 0,
                auth_port: 51821,
            },
            enforcing: true,
            events_lost: 2,
            peers: vec![
                PeerStatus {
                    lock_reason: Some(LockReason::Idle),
                    idle_ms: Some(1_000_000),
                    rx_dropped: 4,
                    ..PeerStatus::new_locked(key)
                },
                PeerStatus {
                    state: PeerState::Authorized,
                    lock_reason: None,
                    authorized_age_ms: Some(61_000),
                    session_remaining_ms: None,
                    ..PeerStatus::new_locked([4u8; 32])
                },
            ],
        };
        let rec = PeerRecord {
            device: "wg0".into(),
            public_key: key,
            confirmed: true,
            pending: false,
            enrolled_at: None,
            confirmed_at: None,
            last_login_at: None,
            exempt: false,
        };
        let text = terminal::filter_ansi(&format_status("wg0", &st, &[rec]));
        let want = format!(
            "gate: wg0\n  enforcing: yes\n  idle timeout: 15 minutes\n  max session: off\n  auth port: 51821\n  events lost: 2\n\n\
peer: {}\n  gate: locked (idle)\n  idle: 16 minutes, 40 seconds\n  totp: confirmed\n  dropped: 4 received, 0 sent\n\n\
peer: {}\n  gate: authorized\n  authorized: 1 minute, 1 second ago\n  totp: none\n",
            key_to_base64(&key),
            key_to_base64(&[4u8; 32])
        );
        assert_eq!(text, want);
    }
}
