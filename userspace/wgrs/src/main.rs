//! `wgrs`: a drop-in for wireguard-tools' `wg`, speaking the `wireguard`
//! generic netlink family (C driver or the wgrs module alike).
//!
//! Every subcommand mirrors wg(8) v1.0.20260223: same arguments, same
//! output bytes, same messages and exit codes, except that configuration
//! file errors also name the file and line.

mod config;
mod encoding;
mod gate;
mod png;
mod show;
mod sys;
mod terminal;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::process::ExitCode;

use wgrs_netlink::{Device, Peer};

/// wireguard-tools version whose behaviour this mirrors.
const WG_COMPAT_VERSION: &str = "1.0.20260223";
const IFNAMSIZ: usize = 16;

struct Cmd {
    name: &'static str,
    run: fn(&str, &[String]) -> u8,
    description: &'static str,
}

const SUBCOMMANDS: &[Cmd] = &[
    Cmd {
        name: "show",
        run: show_main,
        description: "Shows the current configuration and device information",
    },
    Cmd {
        name: "showconf",
        run: showconf_main,
        description:
            "Shows the current configuration of a given WireGuard interface, for use with `setconf'",
    },
    Cmd {
        name: "set",
        run: set_main,
        description: "Change the current configuration, add peers, remove peers, or change peers",
    },
    Cmd {
        name: "setconf",
        run: setconf_main,
        description: "Applies a configuration file to a WireGuard interface",
    },
    Cmd {
        name: "addconf",
        run: setconf_main,
        description: "Appends a configuration file to a WireGuard interface",
    },
    Cmd {
        name: "syncconf",
        run: setconf_main,
        description: "Synchronizes a configuration file to a WireGuard interface",
    },
    Cmd {
        name: "genkey",
        run: genkey_main,
        description: "Generates a new private key and writes it to stdout",
    },
    Cmd {
        name: "genpsk",
        run: genkey_main,
        description: "Generates a new preshared key and writes it to stdout",
    },
    Cmd {
        name: "pubkey",
        run: pubkey_main,
        description: "Reads a private key from stdin and writes a public key to stdout",
    },
];

fn usage(prog: &str) -> String {
    let mut s = format!("Usage: {prog} <cmd> [<args>]\n\nAvailable subcommands:\n");
    for c in SUBCOMMANDS {
        s.push_str(&format!("  {}: {}\n", c.name, c.description));
    }
    s.push_str("You may pass `--help' to any of these subcommands to view usage.\n");
    s
}

/// Writes to stdout; output errors other than EPIPE (which kills us, as it
/// would a C program) are reported.
fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(s.as_bytes()).and_then(|()| o.flush()) {
        eprintln!("write: {}", sys::strerror(e.raw_os_error().unwrap_or(0)));
    }
}

/// The text wg's `perror()` would print for a netlink failure.
fn describe(e: &wgrs_netlink::Error) -> String {
    match e.errno() {
        Some(n) => sys::strerror(n),
        None => e.to_string(),
    }
}

/// `strncpy(name, arg, IFNAMSIZ - 1)`.
fn ifname(arg: &str) -> String {
    let b = arg.as_bytes();
    String::from_utf8_lossy(&b[..b.len().min(IFNAMSIZ - 1)]).into_owned()
}

fn main() -> ExitCode {
    sys::default_sigpipe();
    // Lossy, never panicking: wg treats arguments as byte strings anyway.
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let prog = args.first().cloned().unwrap_or_else(|| "wgrs".into());
    ExitCode::from(run(&prog, &args[1.min(args.len())..]))
}

fn run(prog: &str, args: &[String]) -> u8 {
    if args.len() == 1 && matches!(args[0].as_str(), "-v" | "--version" | "version") {
        out(&format!(
            "wgrs v{} (wireguard-tools v{WG_COMPAT_VERSION} compatible) - https://git.zx2c4.com/wireguard-tools/\n",
            env!("CARGO_PKG_VERSION")
        ));
        return 0;
    }
    if args.len() == 1 && matches!(args[0].as_str(), "-h" | "--help" | "help") {
        out(&usage(prog));
        return 0;
    }
    if args.is_empty() {
        return show_main(prog, &["show".to_owned()]);
    }
    // Not in SUBCOMMANDS: `wgrs --help` stays byte-identical to wg's.
    if args[0] == "gate" {
        return gate::main(args);
    }
    match SUBCOMMANDS.iter().find(|c| c.name == args[0]) {
        Some(c) => (c.run)(prog, args),
        None => {
            eprint!("Invalid subcommand: `{}'\n{}", args[0], usage(prog));
            1
        }
    }
}

fn show_usage(prog: &str, cmd: &str) {
    eprintln!(
        "Usage: {prog} {cmd} {{ <interface> | all | interfaces }} {}",
        show::USAGE_PARAMS
    );
}

/// `show` (argv[0] is the subcommand name, as in wg).
fn show_main(prog: &str, argv: &[String]) -> u8 {
    let cmd = argv[0].as_str();
    if argv.len() > 3 {
        show_usage(prog, cmd);
        return 1;
    }
    let opts = show::Options::from_env();
    let color = terminal::color_mode();
    if argv.len() == 1 || argv[1] == "all" {
        let names = match wgrs_netlink::list_devices() {
            Ok(n) => n,
            Err(e) => {
                eprintln!("Unable to list interfaces: {}", describe(&e));
                return 1;
            }
        };
        let mut ret = u8::from(!names.is_empty());
        for (i, name) in names.iter().enumerate() {
            let dev = match wgrs_netlink::get_device(name) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("Unable to access interface {name}: {}", describe(&e));
                    continue;
                }
            };
            if let Some(param) = argv.get(2) {
                match show::ugly(&dev, param, true) {
                    Some(s) => out(&s),
                    None => {
                        eprintln!("Invalid parameter: `{param}'");
                        show_usage(prog, cmd);
                        return 1;
                    }
                }
            } else {
                let mut s = terminal::render(&show::pretty(&dev, &opts), color);
                if i + 1 < names.len() {
                    s.push('\n');
                }
                out(&s);
            }
            ret = 0;
        }
        ret
    } else if argv[1] == "interfaces" {
        if argv.len() > 2 {
            show_usage(prog, cmd);
            return 1;
        }
        match wgrs_netlink::list_devices() {
            Ok(names) => {
                if !names.is_empty() {
                    out(&format!("{}\n", names.join(" ")));
                }
                0
            }
            Err(e) => {
                eprintln!("Unable to list interfaces: {}", describe(&e));
                1
            }
        }
    } else if argv.len() == 2 && matches!(argv[1].as_str(), "-h" | "--help" | "help") {
        show_usage(prog, cmd);
        0
    } else {
        let dev = match wgrs_netlink::get_device(&argv[1]) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("Unable to access interface: {}", describe(&e));
                return 1;
            }
        };
        if let Some(param) = argv.get(2) {
            match show::ugly(&dev, param, false) {
                Some(s) => {
                    out(&s);
                    0
                }
                None => {
                    eprintln!("Invalid parameter: `{param}'");
                    show_usage(prog, cmd);
                    1
                }
            }
        } else {
            out(&terminal::render(&show::pretty(&dev, &opts), color));
            0
        }
    }
}

fn showconf_main(prog: &str, argv: &[String]) -> u8 {
    if argv.len() != 2 {
        eprintln!("Usage: {prog} {} <interface>", argv[0]);
        return 1;
    }
    match wgrs_netlink::get_device(&argv[1]) {
        Ok(dev) => {
            out(&show::showconf(&dev));
            0
        }
        Err(e) => {
            eprintln!("Unable to access interface: {}", describe(&e));
            1
        }
    }
}

fn set_main(prog: &str, argv: &[String]) -> u8 {
    if argv.len() < 3 {
        eprintln!(
            "Usage: {prog} {} <interface> [listen-port <port>] [fwmark <mark>] [private-key <file path>] [peer <base64 public key> [remove] [preshared-key <file path>] [endpoint <ip>:<port>] [persistent-keepalive <interval seconds>] [allowed-ips [+|-]<ip1>/<cidr1>[,[+|-]<ip2>/<cidr2>]...] ]...",
            argv[0]
        );
        return 1;
    }
    let mut dev = match config::parse_cmd(&argv[2..]) {
        Ok(d) => d,
        Err(msg) => {
            eprintln!("{msg}");
            return 1;
        }
    };
    dev.name = ifname(&argv[1]);
    match wgrs_netlink::set_device(&dev) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Unable to modify interface: {}", describe(&e));
            1
        }
    }
}

/// syncconf: turn a setconf into a minimal update of the running device
/// (setconf.c `sync_conf()`): peers not in the file are removed, the others
/// are updated in place (keeping their sessions), and a PSK or keepalive the
/// file no longer sets is cleared.
pub fn sync_conf(file: &mut Device, runtime: &Device) {
    if file.peers.is_empty() || runtime.peers.is_empty() {
        return;
    }
    file.flags.replace_peers = false;
    // (peer, from_file) sorted by public key, runtime entries first on ties.
    let mut all: Vec<(usize, bool)> = (0..file.peers.len()).map(|i| (i, true)).collect();
    all.extend((0..runtime.peers.len()).map(|i| (i, false)));
    let key_of = |&(i, from_file): &(usize, bool)| {
        if from_file {
            file.peers[i].public_key
        } else {
            runtime.peers[i].public_key
        }
    };
    all.sort_by(|a, b| key_of(a).cmp(&key_of(b)).then(a.1.cmp(&b.1)));
    let mut removals: Vec<Peer> = Vec::new();
    let mut updates: Vec<(usize, bool, bool)> = Vec::new();
    for (n, entry) in all.iter().enumerate() {
        if entry.1 {
            continue;
        }
        let rt = &runtime.peers[entry.0];
        match all.get(n + 1) {
            Some(&(fi, true)) if file.peers[fi].public_key == rt.public_key => {
                let fp = &file.peers[fi];
                let clear_psk = rt.flags.has_preshared_key && !fp.flags.has_preshared_key;
                let clear_ka = rt.persistent_keepalive_interval != 0
                    && !fp.flags.has_persistent_keepalive_interval;
                updates.push((fi, clear_psk, clear_ka));
            }
            _ => {
                let mut p = Peer {
                    public_key: rt.public_key,
                    ..Default::default()
                };
                p.flags.has_public_key = true;
                p.flags.remove_me = true;
                removals.push(p);
            }
        }
    }
    for (fi, clear_psk, clear_ka) in updates {
        let fp = &mut file.peers[fi];
        if clear_psk {
            fp.preshared_key = [0; 32];
            fp.flags.has_preshared_key = true;
        }
        if clear_ka {
            fp.persistent_keepalive_interval = 0;
            fp.flags.has_persistent_keepalive_interval = true;
        }
    }
    // wg prepends each removal, so they end up in reverse order, first.
    removals.reverse();
    removals.append(&mut file.peers);
    file.peers = removals;
}

fn setconf_main(prog: &str, argv: &[String]) -> u8 {
    if argv.len() != 3 {
        eprintln!(
            "Usage: {prog} {} <interface> <configuration filename>",
            argv[0]
        );
        return 1;
    }
    let path = &argv[2];
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("fopen: {}", sys::strerror(e.raw_os_error().unwrap_or(0)));
            return 1;
        }
    };
    let mut dev = match config::parse_config(&text, argv[0] == "addconf") {
        Ok(d) => d,
        Err(config::ConfigError::Line(e)) => {
            eprintln!(
                "{path}:{}: {}\nConfiguration parsing error",
                e.line, e.message
            );
            return 1;
        }
        Err(config::ConfigError::Invalid(e)) => {
            eprintln!("{path}:{}: {}\nInvalid configuration", e.line, e.message);
            return 1;
        }
    };
    dev.name = ifname(&argv[1]);
    if argv[0] == "syncconf" && !dev.peers.is_empty() {
        match wgrs_netlink::get_device(&dev.name) {
            Ok(runtime) => sync_conf(&mut dev, &runtime),
            Err(e) => {
                eprintln!(
                    "Unable to retrieve current interface configuration: {}",
                    describe(&e)
                );
                return 1;
            }
        }
    }
    match wgrs_netlink::set_device(&dev) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Unable to modify interface: {}", describe(&e));
            1
        }
    }
}

fn genkey_main(prog: &str, argv: &[String]) -> u8 {
    if argv.len() != 1 {
        eprintln!("Usage: {prog} {}", argv[0]);
        return 1;
    }
    if sys::stdout_is_world_accessible_file() {
        eprint!("Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n");
    }
    let mut key = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut key) {
        eprintln!("getrandom: {e}");
        return 1;
    }
    if argv[0] == "genkey" {
        encoding::clamp(&mut key);
    }
    out(&format!("{}\n", encoding::key_to_base64(&key)));
    0
}

fn pubkey_main(prog: &str, argv: &[String]) -> u8 {
    if argv.len() != 1 {
        eprintln!("Usage: {prog} {}", argv[0]);
        return 1;
    }
    let private = match config::read_key_stream(std::io::stdin().lock(), true) {
        Ok(k) => k,
        Err(config::KeyReadError::Trailing(_)) => {
            eprintln!("{prog}: Trailing characters found after key");
            return 1;
        }
        Err(_) => {
            eprintln!("{prog}: Key is not the correct length or format");
            return 1;
        }
    };
    out(&format!(
        "{}\n",
        encoding::key_to_base64(&encoding::public_key(&private))
    ));
    0
}
