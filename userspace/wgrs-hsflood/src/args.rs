// SPDX-License-Identifier: GPL-2.0

//! Command line and key file parsing.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use wgrs_proto::proto::constants::KEY_LEN;
use wgrs_proto::proto::noise::StaticIdentity;
use wgrs_proto::rustcrypto::RustCrypto;

use crate::b64::key_from_base64;

/// Usage text (`--help`).
pub const USAGE: &str = "\
usage: wgrs-hsflood --target IP:PORT --server-public KEY_B64 --keys FILE
                    --sources IP[,IP...] --seconds S [--cookies] [--rate N]
                    [--replay N]

Floods a WireGuard responder with handshake initiations and counts what
comes back. Initiator i (i = 0 .. max(keys, sources) - 1) uses key i mod K
and source i mod S, each with a UDP socket of its own bound to SOURCE:0.

  --target IP:PORT        the responder (its listen address)
  --server-public KEY     the responder's public key (base64)
  --keys FILE             initiators' private keys, one base64 key per line
                          (empty lines and lines starting with '#' ignored);
                          the responder must know their public keys as peers
  --sources IP[,IP...]    source addresses to send from (same family as
                          the target)
  --seconds S             flood duration (may be fractional)
  --cookies               consume cookie replies, so that later initiations
                          carry a valid mac2 (a cookie-aware attacker);
                          without it initiations carry mac1 only
  --rate N                at most N new initiations per second in total
                          (default: as fast as possible)
  --replay N              send each new initiation N more times, the same
                          bytes again (default 0): copies cost the flood one
                          send each and the responder two X25519 operations
                          before it can see that the timestamp is not new,
                          so the responder's queue fills and it comes under
                          load (0 to 1000)
  -h, --help              this text

Prints, on stdout:
  hsflood sent N cookie_replies N responses N seconds F hs_per_s F
sent = initiations put on the wire (new ones and copies), responses = handshake responses that complete the handshake, hs_per_s =
responses / seconds (the flood duration; responses arriving up to 250 ms
after it are still counted). Details go to stderr.";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Responder address.
    pub target: SocketAddr,
    /// Responder static public key.
    pub server_public: [u8; KEY_LEN],
    /// File of the initiators' private keys.
    pub keys: PathBuf,
    /// Source addresses.
    pub sources: Vec<IpAddr>,
    /// Flood duration.
    pub duration: Duration,
    /// Consume cookie replies.
    pub cookies: bool,
    /// Total new initiations per second, `None` for unlimited.
    pub rate: Option<u64>,
    /// Copies sent after each new initiation.
    pub replay: u32,
}

/// Outcome of parsing the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Print [`USAGE`] and exit successfully.
    Help,
    /// Flood.
    Run(Config),
}

/// Longest flood accepted (a day): keeps durations and rates sane.
const MAX_SECONDS: f64 = 86_400.0;
/// Most copies per new initiation.
pub const MAX_REPLAY: u32 = 1000;

fn parse_seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= MAX_SECONDS => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "--seconds: '{s}' is not a number of seconds in (0, {MAX_SECONDS}]"
        )),
    }
}

fn parse_sources(s: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let ip = part
            .parse::<IpAddr>()
            .map_err(|_| format!("--sources: '{part}' is not an IP address"))?;
        out.push(ip);
    }
    Ok(out)
}

/// Parses the arguments (without the program name).
pub fn parse<I, S>(args: I) -> Result<Command, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut target = None;
    let mut server_public = None;
    let mut keys = None;
    let mut sources: Option<Vec<IpAddr>> = None;
    let mut duration = None;
    let mut cookies = false;
    let mut rate = None;
    let mut replay = None;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let arg = arg.as_ref();
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        if arg == "--cookies" {
            if cookies {
                return Err("--cookies given twice".into());
            }
            cookies = true;
            continue;
        }
        let known = [
            "--target",
            "--server-public",
            "--keys",
            "--sources",
            "--seconds",
            "--rate",
            "--replay",
        ];
        if !known.contains(&arg) {
            return Err(format!("unknown argument '{arg}' (see --help)"));
        }
        let Some(value) = it.next() else {
            return Err(format!("{arg} needs a value"));
        };
        let value = value.as_ref();
        let twice = || format!("{arg} given twice");
        match arg {
            "--target" => {
                let t = value
                    .parse::<SocketAddr>()
                    .map_err(|_| format!("--target: '{value}' is not IP:PORT"))?;
                if t.port() == 0 {
                    return Err("--target: port 0".into());
                }
                if target.replace(t).is_some() {
                    return Err(twice());
                }
            }
            "--server-public" => {
                let k = key_from_base64(value.trim())
                    .ok_or_else(|| format!("--server-public: '{value}' is not a base64 key"))?;
                if server_public.replace(k).is_some() {
                    return Err(twice());
                }
            }
            "--keys" => {
                if keys.replace(PathBuf::from(value)).is_some() {
                    return Err(twice());
                }
            }
            "--sources" => {
                if sources.replace(parse_sources(value)?).is_some() {
                    return Err(twice());
                }
            }
            "--seconds" => {
                if duration.replace(parse_seconds(value)?).is_some() {
                    return Err(twice());
                }
            }
            "--replay" => {
                let n = match value.parse::<u32>() {
                    Ok(n) if n <= MAX_REPLAY => n,
                    _ => {
                        return Err(format!(
                            "--replay: '{value}' is not a whole number from 0 to {MAX_REPLAY}"
                        ))
                    }
                };
                if replay.replace(n).is_some() {
                    return Err(twice());
                }
            }
            _ => {
                let n = match value.parse::<u64>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("--rate: '{value}' is not a positive integer")),
                };
                if rate.replace(n).is_some() {
                    return Err(twice());
                }
            }
        }
    }
    let missing = |o: &str| format!("{o} is required (see --help)");
    let target = target.ok_or_else(|| missing("--target"))?;
    let server_public = server_public.ok_or_else(|| missing("--server-public"))?;
    let keys = keys.ok_or_else(|| missing("--keys"))?;
    let sources = sources.ok_or_else(|| missing("--sources"))?;
    let duration = duration.ok_or_else(|| missing("--seconds"))?;
    if let Some(bad) = sources.iter().find(|s| s.is_ipv4() != target.is_ipv4()) {
        return Err(format!(
            "--sources: {bad} is not of the address family of --target {target}"
        ));
    }
    Ok(Command::Run(Config {
        target,
        server_public,
        keys,
        sources,
        duration,
        cookies,
        rate,
        replay: replay.unwrap_or(0),
    }))
}

/// Parses a key file's text (`name` for messages): one base64 private key
/// per line, empty lines and `#` comments ignored.
pub fn parse_keys(name: &str, text: &str) -> Result<Vec<StaticIdentity>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let lineno = n + 1;
        let private = key_from_base64(line)
            .ok_or_else(|| format!("{name}:{lineno}: not a base64 WireGuard private key"))?;
        let id = StaticIdentity::from_private(&RustCrypto, &private)
            .ok_or_else(|| format!("{name}:{lineno}: the key has no usable public key"))?;
        out.push(id);
    }
    if out.is_empty() {
        return Err(format!("{name}: no keys"));
    }
    Ok(out)
}

/// Reads and parses the key file.
pub fn read_keys(path: &std::path::Path) -> Result<Vec<StaticIdentity>, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    parse_keys(&name, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";

    fn base() -> Vec<&'static str> {
        vec![
            "--target",
            "192.168.77.2:51878",
            "--server-public",
            KEY,
            "--keys",
            "/tmp/keys",
            "--sources",
            "192.168.77.100,192.168.77.101",
            "--seconds",
            "2.5",
        ]
    }

    fn err(args: &[&str]) -> String {
        match parse(args.iter().copied()) {
            Err(e) => e,
            Ok(c) => panic!("{args:?} parsed: {c:?}"),
        }
    }

    #[test]
    fn good_command_line() {
        let Ok(Command::Run(c)) = parse(base()) else {
            panic!("base did not parse")
        };
        assert_eq!(c.target, "192.168.77.2:51878".parse().unwrap());
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.duration, Duration::from_millis(2500));
        assert!(!c.cookies);
        assert_eq!(c.rate, None);
        assert_eq!(c.replay, 0);
        let mut a = base();
        a.extend(["--cookies", "--rate", "1000", "--replay", "15"]);
        let Ok(Command::Run(c)) = parse(a) else {
            panic!("with options did not parse")
        };
        assert!(c.cookies);
        assert_eq!(c.rate, Some(1000));
        assert_eq!(c.replay, 15);
        assert_eq!(parse(["--help"]), Ok(Command::Help));
        let mut a = base();
        a.push("-h");
        assert_eq!(parse(a), Ok(Command::Help));
    }

    #[test]
    fn argument_errors() {
        assert!(err(&[]).contains("--target is required"));
        for drop in [
            "--target",
            "--server-public",
            "--keys",
            "--sources",
            "--seconds",
        ] {
            let a: Vec<&str> = base()
                .chunks(2)
                .filter(|p| p[0] != drop)
                .flatten()
                .copied()
                .collect();
            assert!(err(&a).contains(&format!("{drop} is required")), "{drop}");
        }
        let with = |extra: &[&'static str]| {
            let mut a = base();
            a.extend_from_slice(extra);
            err(&a)
        };
        assert!(with(&["--bogus"]).contains("unknown argument"));
        assert!(with(&["--rate"]).contains("needs a value"));
        assert!(with(&["--rate", "0"]).contains("positive integer"));
        assert!(with(&["--rate", "-3"]).contains("positive integer"));
        assert!(with(&["--rate", "x"]).contains("positive integer"));
        assert!(with(&["--cookies", "--cookies"]).contains("twice"));
        assert!(with(&["--replay"]).contains("needs a value"));
        assert!(with(&["--replay", "1001"]).contains("from 0 to 1000"));
        assert!(with(&["--replay", "-1"]).contains("from 0 to 1000"));
        assert!(with(&["--replay", "2", "--replay", "3"]).contains("twice"));
        assert!(with(&["--target", "10.0.0.1:1"]).contains("twice"));
        let set = |opt: &str, v: &'static str| {
            let mut a = base();
            let i = a.iter().position(|x| *x == opt).unwrap();
            a[i + 1] = v;
            err(&a)
        };
        assert!(set("--target", "192.168.77.2").contains("not IP:PORT"));
        assert!(set("--target", "host:51878").contains("not IP:PORT"));
        assert!(set("--target", "192.168.77.2:0").contains("port 0"));
        assert!(set("--target", "[::1]:51878").contains("address family"));
        assert!(set("--server-public", "nope").contains("not a base64 key"));
        assert!(set("--server-public", &KEY[1..]).contains("not a base64 key"));
        assert!(set("--sources", "192.168.77.1,,").contains("not an IP address"));
        assert!(set("--sources", "192.168.77.300").contains("not an IP address"));
        for s in ["0", "-1", "nan", "inf", "abc", "100000"] {
            assert!(set("--seconds", s).contains("--seconds"), "{s}");
        }
    }

    #[test]
    fn key_file() {
        let ids = parse_keys("k", &format!("# flood keys\n\n  {KEY}  \n{KEY}\n")).unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0].public, ids[1].public);
        let e = parse_keys("k", &format!("{KEY}\nAAAA\n")).err().unwrap();
        assert_eq!(e, "k:2: not a base64 WireGuard private key");
        assert_eq!(parse_keys("k", "\n# none\n").err().unwrap(), "k: no keys");
        let e = read_keys(std::path::Path::new("/nonexistent/wgrs-hsflood-keys"))
            .err()
            .unwrap();
        assert!(e.starts_with("/nonexistent/wgrs-hsflood-keys: "), "{e}");
    }
}
