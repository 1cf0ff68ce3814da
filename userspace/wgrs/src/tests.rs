//! Golden-output and parser tests. Expected strings were derived by hand
//! from wireguard-tools' show.c, showconf.c and config.c.

use std::io::Read;
use std::net::SocketAddr;

use wgrs_netlink::{AllowedIp, Device, Peer, Timespec};

use crate::config::{self, ConfigError};
use crate::encoding::key_to_base64;
use crate::show::{self, Options};
use crate::terminal::{filter_ansi, render};

const NOW: i64 = 1_800_000_000;

fn k(n: u8) -> [u8; 32] {
    [n; 32]
}

fn b(n: u8) -> String {
    key_to_base64(&k(n))
}

fn aip(s: &str) -> AllowedIp {
    let (a, c) = s.split_once('/').expect("cidr");
    AllowedIp {
        addr: a.parse().expect("ip"),
        cidr: c.parse().expect("cidr"),
        remove_me: false,
    }
}

fn sample() -> Device {
    let mut d = Device {
        name: "wg0".into(),
        listen_port: 51820,
        fwmark: 0x1234,
        ..Default::default()
    };
    d.flags.has_private_key = true;
    d.flags.has_public_key = true;
    d.private_key = k(1);
    d.public_key = k(2);
    let mut a = Peer {
        public_key: k(10),
        ..Default::default()
    };
    a.flags.has_public_key = true;
    a.flags.has_preshared_key = true;
    a.preshared_key = k(11);
    a.endpoint = Some("192.0.2.1:51820".parse().expect("ep"));
    a.allowed_ips = vec![aip("10.0.0.1/32"), aip("fd00::/64")];
    a.last_handshake_time = Timespec {
        sec: NOW - 63,
        nsec: 0,
    };
    a.rx_bytes = 1152;
    a.tx_bytes = 3 * 1024 * 1024;
    a.persistent_keepalive_interval = 25;
    let mut bpeer = Peer {
        public_key: k(20),
        ..Default::default()
    };
    bpeer.flags.has_public_key = true;
    let mut c = Peer {
        public_key: k(30),
        ..Default::default()
    };
    c.flags.has_public_key = true;
    c.endpoint = Some("[2001:db8::1]:1234".parse().expect("ep"));
    c.last_handshake_time = Timespec {
        sec: NOW - (366 * 86400 + 3661),
        nsec: 9,
    };
    c.tx_bytes = 5;
    d.peers = vec![a, bpeer, c];
    d
}

fn opts() -> Options {
    Options {
        now: NOW,
        hide_keys: true,
    }
}

#[test]
fn pretty_show_golden() {
    let want = format!(
        "interface: wg0\n  public key: {}\n  private key: (hidden)\n  listening port: 51820\n  fwmark: 0x1234\n\n\
peer: {}\n  preshared key: (hidden)\n  endpoint: 192.0.2.1:51820\n  allowed ips: 10.0.0.1/32, fd00::/64\n  latest handshake: 1 minute, 3 seconds ago\n  transfer: 1.12 KiB received, 3.00 MiB sent\n  persistent keepalive: every 25 seconds\n\n\
peer: {}\n  endpoint: [2001:db8::1]:1234\n  allowed ips: (none)\n  latest handshake: 1 year, 1 day, 1 hour, 1 minute, 1 second ago\n  transfer: 0 B received, 5 B sent\n\n\
peer: {}\n  allowed ips: (none)\n",
        b(2),
        b(10),
        b(30),
        b(20)
    );
    assert_eq!(render(&show::pretty(&sample(), &opts()), false), want);
}

#[test]
fn pretty_show_colours_and_unhidden_keys() {
    let o = Options {
        now: NOW,
        hide_keys: false,
    };
    let s = show::pretty(&sample(), &o);
    assert!(s.starts_with(
        "\x1b[0m\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32mwg0\x1b[0m\n  \x1b[1mpublic key\x1b[0m: "
    ));
    assert!(s.contains(&format!("  \x1b[1mprivate key\x1b[0m: {}\n", b(1))));
    assert!(s.contains(&format!(
        "\x1b[33m\x1b[1mpeer\x1b[0m: \x1b[33m{}\x1b[0m\n",
        b(10)
    )));
    assert!(s.contains("10.0.0.1\x1b[36m/\x1b[0m32, fd00::\x1b[36m/\x1b[0m64\n"));
    assert!(s.contains("1 \x1b[36mminute\x1b[0m, 3 \x1b[36mseconds\x1b[0m ago"));
    assert!(s.contains("1.12 \x1b[36mKiB\x1b[0m received, 3.00 \x1b[36mMiB\x1b[0m sent"));
    assert!(render(&s, false).contains(&format!("preshared key: {}\n", b(11))));
}

#[test]
fn pretty_minimal_device() {
    let d = Device {
        name: "wg9".into(),
        ..Default::default()
    };
    assert_eq!(
        render(&show::pretty(&d, &opts()), false),
        "interface: wg9\n"
    );
}

#[test]
fn relative_times_and_units() {
    assert_eq!(
        filter_ansi(&show::ago(&Timespec { sec: NOW, nsec: 0 }, NOW)),
        "Now"
    );
    assert_eq!(
        filter_ansi(&show::ago(
            &Timespec {
                sec: NOW + 1,
                nsec: 0
            },
            NOW
        )),
        "(System clock wound backward; connection problems may ensue.)"
    );
    assert_eq!(
        filter_ansi(&show::ago(
            &Timespec {
                sec: NOW - 1,
                nsec: 0
            },
            NOW
        )),
        "1 second ago"
    );
    assert_eq!(
        filter_ansi(&show::ago(
            &Timespec {
                sec: NOW - 7200,
                nsec: 0
            },
            NOW
        )),
        "2 hours ago"
    );
    assert_eq!(
        filter_ansi(&show::ago(
            &Timespec {
                sec: NOW - 2 * 86400 - 59,
                nsec: 0
            },
            NOW
        )),
        "2 days, 59 seconds ago"
    );
    assert_eq!(filter_ansi(&show::every(1)), "every 1 second");
    assert_eq!(
        filter_ansi(&show::every(65535)),
        "every 18 hours, 12 minutes, 15 seconds"
    );
    let cases = [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.00 KiB"),
        (1152, "1.12 KiB"),
        (1408, "1.38 KiB"),
        (1024 * 1024 - 1, "1024.00 KiB"),
        (1024 * 1024, "1.00 MiB"),
        (5 * 1024 * 1024 * 1024 + 1, "5.00 GiB"),
        (3 * 1024u64.pow(4), "3.00 TiB"),
        (2048 * 1024u64.pow(4), "2048.00 TiB"),
    ];
    for (n, want) in cases {
        assert_eq!(filter_ansi(&show::bytes(n)), want, "{n}");
    }
}

#[test]
fn dump_golden() {
    let d = sample();
    let want = format!(
        "{}\t{}\t51820\t0x1234\n{}\t{}\t192.0.2.1:51820\t10.0.0.1/32,fd00::/64\t{}\t1152\t3145728\t25\n{}\t(none)\t(none)\t(none)\t0\t0\t0\toff\n{}\t(none)\t[2001:db8::1]:1234\t(none)\t{}\t0\t5\toff\n",
        b(1),
        b(2),
        b(10),
        b(11),
        NOW - 63,
        b(20),
        b(30),
        NOW - (366 * 86400 + 3661)
    );
    assert_eq!(show::dump(&d, false), want);
    let with_if: String = want.lines().map(|l| format!("wg0\t{l}\n")).collect();
    assert_eq!(show::dump(&d, true), with_if);
    let empty = Device {
        name: "x".into(),
        ..Default::default()
    };
    assert_eq!(show::dump(&empty, true), "x\t(none)\t(none)\t0\toff\n");
}

#[test]
fn ugly_params_golden() {
    let d = sample();
    let u = |p: &str| show::ugly(&d, p, false).expect("known param");
    assert_eq!(u("public-key"), format!("{}\n", b(2)));
    assert_eq!(u("private-key"), format!("{}\n", b(1)));
    assert_eq!(u("listen-port"), "51820\n");
    assert_eq!(u("fwmark"), "0x1234\n");
    assert_eq!(u("peers"), format!("{}\n{}\n{}\n", b(10), b(20), b(30)));
    assert_eq!(
        u("preshared-keys"),
        format!(
            "{}\t{}\n{}\t(none)\n{}\t(none)\n",
            b(10),
            b(11),
            b(20),
            b(30)
        )
    );
    assert_eq!(
        u("endpoints"),
        format!(
            "{}\t192.0.2.1:51820\n{}\t(none)\n{}\t[2001:db8::1]:1234\n",
            b(10),
            b(20),
            b(30)
        )
    );
    assert_eq!(
        u("allowed-ips"),
        format!(
            "{}\t10.0.0.1/32 fd00::/64\n{}\t(none)\n{}\t(none)\n",
            b(10),
            b(20),
            b(30)
        )
    );
    assert_eq!(
        u("latest-handshakes"),
        format!(
            "{}\t{}\n{}\t0\n{}\t{}\n",
            b(10),
            NOW - 63,
            b(20),
            b(30),
            NOW - (366 * 86400 + 3661)
        )
    );
    assert_eq!(
        u("transfer"),
        format!(
            "{}\t1152\t3145728\n{}\t0\t0\n{}\t0\t5\n",
            b(10),
            b(20),
            b(30)
        )
    );
    assert_eq!(
        u("persistent-keepalive"),
        format!("{}\t25\n{}\toff\n{}\toff\n", b(10), b(20), b(30))
    );
    assert_eq!(
        show::ugly(&d, "listen-port", true).expect("known"),
        "wg0\t51820\n"
    );
    assert_eq!(
        show::ugly(&d, "peers", true)
            .expect("known")
            .lines()
            .count(),
        3
    );
    assert!(show::ugly(&d, "bogus", false).is_none());
    let off = Device::default();
    assert_eq!(show::ugly(&off, "fwmark", false).expect("known"), "off\n");
    assert_eq!(
        show::ugly(&off, "public-key", false).expect("known"),
        "(none)\n"
    );
    assert_eq!(show::ugly(&off, "peers", false).expect("known"), "");
}

#[test]
fn showconf_golden() {
    let want = format!(
        "[Interface]\nListenPort = 51820\nFwMark = 0x1234\nPrivateKey = {}\n\n[Peer]\nPublicKey = {}\nPresharedKey = {}\nAllowedIPs = 10.0.0.1/32, fd00::/64\nEndpoint = 192.0.2.1:51820\nPersistentKeepalive = 25\n\n[Peer]\nPublicKey = {}\n\n[Peer]\nPublicKey = {}\nEndpoint = [2001:db8::1]:1234\n",
        b(1),
        b(10),
        b(11),
        b(20),
        b(30)
    );
    assert_eq!(show::showconf(&sample()), want);
    assert_eq!(show::showconf(&Device::default()), "[Interface]\n\n");
}

#[test]
fn pretty_sort_is_by_latest_handshake() {
    let mut d = Device::default();
    for (n, sec, nsec) in [
        (1u8, 0i64, 0i64),
        (2, 100, 0),
        (3, 200, 0),
        (4, 100, 5),
        (5, 0, 0),
    ] {
        let mut p = Peer {
            public_key: k(n),
            ..Default::default()
        };
        p.last_handshake_time = Timespec { sec, nsec };
        d.peers.push(p);
    }
    let s = render(
        &show::pretty(
            &d,
            &Options {
                now: 1000,
                hide_keys: true,
            },
        ),
        false,
    );
    let order: Vec<String> = s
        .lines()
        .filter_map(|l| l.strip_prefix("peer: ").map(str::to_owned))
        .collect();
    assert_eq!(order, vec![b(3), b(4), b(2), b(1), b(5)]);
}

const CONF: &str = "\
# a comment
[Interface]
PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=   # trailing comment
listenport=51820
FwMark = 0x10

[peer]
PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
PresharedKey = FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=
AllowedIPs = 10.192.122.3/32, 10.192.124.1/24
AllowedIPs = fd00::/64
Endpoint = 192.95.5.67:1234
PersistentKeepalive = 25

[Peer]
PublicKey = TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=
AllowedIPs = -10.0.0.0/8,+10.1.0.0/16
Endpoint = [2607:5300:60:6b0::c05f:543]:2468
PersistentKeepalive = off
";

#[test]
fn config_parses_like_wg() {
    let d = config::parse_config(CONF.as_bytes(), false).expect("valid config");
    assert!(
        d.flags.replace_peers
            && d.flags.has_private_key
            && d.flags.has_listen_port
            && d.flags.has_fwmark
    );
    assert_eq!(
        key_to_base64(&d.private_key),
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
    );
    assert_eq!((d.listen_port, d.fwmark), (51820, 0x10));
    assert_eq!(d.peers.len(), 2);
    let p = &d.peers[0];
    assert!(
        p.flags.replace_allowed_ips
            && p.flags.has_preshared_key
            && p.flags.has_persistent_keepalive_interval
    );
    assert_eq!(
        p.allowed_ips,
        vec![
            aip("10.192.122.3/32"),
            aip("10.192.124.1/24"),
            aip("fd00::/64")
        ]
    );
    assert_eq!(
        p.endpoint,
        Some("192.95.5.67:1234".parse::<SocketAddr>().expect("ep"))
    );
    assert_eq!(p.persistent_keepalive_interval, 25);
    let q = &d.peers[1];
    assert!(
        !q.flags.replace_allowed_ips,
        "+/- prefixes make allowed IPs incremental"
    );
    assert!(q.allowed_ips[0].remove_me && !q.allowed_ips[1].remove_me);
    assert_eq!(
        q.endpoint,
        Some(
            "[2607:5300:60:6b0::c05f:543]:2468"
                .parse::<SocketAddr>()
                .expect("ep")
        )
    );
    assert!(q.flags.has_persistent_keepalive_interval);
    assert_eq!(q.persistent_keepalive_interval, 0);

    let a = config::parse_config(
        b"[Peer]\nPublicKey=xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n",
        true,
    )
    .expect("addconf");
    assert!(!a.flags.replace_peers && !a.flags.has_private_key && !a.flags.has_listen_port);
    assert!(config::parse_config(b"", false)
        .expect("empty")
        .peers
        .is_empty());
}

fn line_err(text: &str) -> (usize, String) {
    match config::parse_config(text.as_bytes(), false) {
        Err(ConfigError::Line(e)) => (e.line, e.message),
        other => panic!("expected a line error, got {other:?}"),
    }
}

#[test]
fn config_errors_name_the_line() {
    assert_eq!(
        line_err("[Interface]\nPrivateKey = abc\n"),
        (2, "Key is not the correct length or format: `abc'".into())
    );
    assert_eq!(
        line_err("ListenPort = 1\n"),
        (1, "Line unrecognized: `ListenPort=1'".into())
    );
    assert_eq!(
        line_err("[Interface]\n\n# x\nBogus = 1\n"),
        (4, "Line unrecognized: `Bogus=1'".into())
    );
    assert_eq!(
        line_err("[Interface]\nPublicKey = x\n"),
        (2, "Line unrecognized: `PublicKey=x'".into())
    );
    assert_eq!(
        line_err("[Peer]\nAllowedIPs =\n"),
        (2, "Line unrecognized: `AllowedIPs='".into())
    );
    assert_eq!(
        line_err("[Peer]\nAllowedIPs = 10.0.0.0/8, 10.0.0.300/32\n"),
        (2, "Unable to parse IP address: `10.0.0.300'".into())
    );
    assert_eq!(
        line_err("[Peer]\nAllowedIPs = 10.0.0.0/33\n"),
        (
            2,
            "AllowedIP is not in the correct format: `10.0.0.0/33'".into()
        )
    );
    assert_eq!(
        line_err("[Peer]\nAllowedIPs = fd00::/129\n"),
        (
            2,
            "AllowedIP is not in the correct format: `fd00::/129'".into()
        )
    );
    assert_eq!(
        line_err("[Peer]\nAllowedIPs = 10.0.0.0/x\n"),
        (
            2,
            "AllowedIP is not in the correct format: `10.0.0.0/x'".into()
        )
    );
    assert_eq!(
        line_err("[Peer]\nAllowedIPs = 10.0.0.0/8,\n"),
        (2, "Unable to parse IP address: `'".into())
    );
    assert_eq!(
        line_err("[Peer]\nEndpoint = 1.2.3.4\n"),
        (2, "Unable to find port of endpoint: `1.2.3.4'".into())
    );
    assert_eq!(
        line_err("[Peer]\nEndpoint = [::1:5\n"),
        (
            2,
            "Unable to find matching brace of endpoint: `[::1:5'".into()
        )
    );
    assert_eq!(
        line_err("[Peer]\nEndpoint = [::1]5\n"),
        (2, "Unable to find port of endpoint: `[::1]5'".into())
    );
    assert_eq!(
        line_err("[Peer]\nPersistentKeepalive = 65536\n"),
        (
            2,
            "Persistent keepalive interval is neither 0/off nor 1-65535: `65536'".into()
        )
    );
    assert_eq!(
        line_err("[Interface]\nFwMark = -1\n"),
        (2, "Fwmark is neither 0/off nor 0-0xffffffff: `-1'".into())
    );
    match config::parse_config(b"[Peer]\nAllowedIPs = 10.0.0.0/8\n[Peer]\n", false) {
        Err(ConfigError::Invalid(e)) => assert_eq!(
            (e.line, e.message.as_str()),
            (1, "A peer is missing a public key")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn scalar_parsers() {
    assert_eq!(config::parse_fwmark("off"), Ok(0));
    assert_eq!(config::parse_fwmark("OFF"), Ok(0));
    assert_eq!(config::parse_fwmark("0"), Ok(0));
    assert_eq!(config::parse_fwmark("4294967295"), Ok(u32::MAX));
    assert!(config::parse_fwmark("4294967296").is_err());
    assert_eq!(config::parse_fwmark("0xffffffff"), Ok(u32::MAX));
    assert_eq!(config::parse_fwmark("0xAb"), Ok(0xab));
    assert!(config::parse_fwmark("0x").is_err());
    assert!(config::parse_fwmark("0X10").is_err());
    assert!(config::parse_fwmark("x10").is_err());
    assert!(config::parse_fwmark("").is_err());
    assert_eq!(config::parse_persistent_keepalive("0"), Ok(0));
    assert_eq!(config::parse_persistent_keepalive("65535"), Ok(65535));
    assert_eq!(config::parse_persistent_keepalive("007"), Ok(7));
    assert!(config::parse_persistent_keepalive("+5").is_err());
    assert_eq!(config::parse_port("51820"), Ok(51820));
    assert_eq!(config::parse_port("0"), Ok(0));
    assert_eq!(
        config::parse_port(""),
        Err("Unable to parse empty port".into())
    );
    // glibc does not range-check numeric services: wg accepts 65536 as 0 too.
    assert_eq!(config::parse_port("65536"), Ok(0));
    assert!(config::parse_port("nope-not-a-service").is_err());
    assert_eq!(
        config::parse_endpoint("127.0.0.1:9"),
        Ok("127.0.0.1:9".parse().expect("ep"))
    );
    assert_eq!(
        config::parse_endpoint("[::1]:9"),
        Ok("[::1]:9".parse().expect("ep"))
    );
    assert_eq!(
        config::parse_endpoint(""),
        Err("Unable to parse empty endpoint".into())
    );
    assert_eq!(
        config::parse_endpoint("1.2.3.4:"),
        Err("Unable to find port of endpoint: `1.2.3.4:'".into())
    );
}

#[test]
fn set_arguments() {
    let args = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
    let d = config::parse_cmd(&args(
        "listen-port 1234 fwmark 0x5 peer xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg= allowed-ips 10.0.0.0/8,-10.1.0.0/16 persistent-keepalive 5 peer TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0= remove",
    ))
    .expect("valid");
    assert!(!d.flags.replace_peers && !d.flags.has_private_key);
    assert_eq!((d.listen_port, d.fwmark), (1234, 5));
    assert!(!d.peers[0].flags.replace_allowed_ips);
    assert!(d.peers[0].allowed_ips[1].remove_me);
    assert!(d.peers[1].flags.remove_me);
    let e = |s: &str| config::parse_cmd(&args(s)).expect_err("invalid");
    assert_eq!(e("peer"), "Invalid argument: peer");
    assert_eq!(e("remove"), "Invalid argument: remove");
    assert_eq!(
        e("peer xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg= listen-port 5"),
        "Invalid argument: listen-port"
    );
    assert_eq!(
        e("peer abc"),
        "Key is not the correct length or format: `abc'"
    );
    assert_eq!(e("listen-port"), "Invalid argument: listen-port");
    let spaced = config::parse_cmd(&[
        "peer".into(),
        "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=".into(),
        "allowed-ips".into(),
        " 10.0.0.1/32 , fd00::1 ".into(),
    ])
    .expect("spaces are stripped");
    assert_eq!(
        spaced.peers[0].allowed_ips,
        vec![aip("10.0.0.1/32"), aip("fd00::1/128")]
    );
    let cleared = config::parse_cmd(&[
        "peer".into(),
        "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=".into(),
        "allowed-ips".into(),
        "".into(),
    ])
    .expect("empty clears");
    assert!(cleared.peers[0].flags.replace_allowed_ips && cleared.peers[0].allowed_ips.is_empty());
}

#[test]
fn key_files() {
    let dir = std::env::temp_dir().join(format!("wgrs-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmpdir");
    let write = |name: &str, data: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, data).expect("write");
        p.to_string_lossy().into_owned()
    };
    let good = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    assert!(config::parse_keyfile(&write("a", format!("{good}\n\n").as_bytes())).is_ok());
    assert_eq!(config::parse_keyfile(&write("b", b"")), Ok([0; 32]));
    assert_eq!(
        config::parse_keyfile(&write("c", b"short\n")),
        Err("Invalid length key in key file".into())
    );
    assert_eq!(
        config::parse_keyfile(&write("d", format!("{good} x").as_bytes())),
        Err("Found trailing character in key file: `x'".into())
    );
    assert_eq!(
        config::parse_keyfile(&write("e", b"yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk!")),
        Err("Key is not the correct length or format: `yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk!'".into())
    );
    assert_eq!(
        config::parse_keyfile(dir.join("missing").to_str().expect("utf8")),
        Err("fopen: No such file or directory".into())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn syncconf_plan() {
    let mut runtime = Device::default();
    for n in [1u8, 2, 3] {
        let mut p = Peer {
            public_key: k(n),
            ..Default::default()
        };
        p.flags.has_public_key = true;
        p.flags.has_preshared_key = n == 2;
        p.preshared_key = if n == 2 { k(99) } else { [0; 32] };
        p.persistent_keepalive_interval = if n == 2 { 25 } else { 0 };
        runtime.peers.push(p);
    }
    let mut file = config::parse_config(
        format!(
            "[Peer]\nPublicKey={}\n[Peer]\nPublicKey={}\nAllowedIPs=10.0.0.4/32\n",
            b(2),
            b(4)
        )
        .as_bytes(),
        false,
    )
    .expect("valid");
    crate::sync_conf(&mut file, &runtime);
    assert!(!file.flags.replace_peers, "peers are updated in place");
    let summary: Vec<(String, bool)> = file
        .peers
        .iter()
        .map(|p| (key_to_base64(&p.public_key), p.flags.remove_me))
        .collect();
    assert_eq!(
        summary,
        vec![(b(3), true), (b(1), true), (b(2), false), (b(4), false)]
    );
    let p2 = &file.peers[2];
    assert!(
        p2.flags.has_preshared_key && p2.preshared_key == [0; 32],
        "stale PSK cleared"
    );
    assert!(p2.flags.has_persistent_keepalive_interval && p2.persistent_keepalive_interval == 0);
    assert!(!file.peers[3].flags.has_preshared_key);

    // No peers in the file: plain setconf semantics (replace everything).
    let mut empty = config::parse_config(b"[Interface]\nListenPort=1\n", false).expect("valid");
    crate::sync_conf(&mut empty, &runtime);
    assert!(empty.flags.replace_peers && empty.peers.is_empty());
}

#[test]
fn key_streams_stop_at_the_first_bad_byte() {
    use crate::config::{read_key_stream, KeyReadError};
    let good = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    // An endless stream of NULs: wg fails on the first trailing byte (key
    // files) and so must we, instead of reading forever.
    let zeros = std::io::repeat(0u8);
    assert!(matches!(
        read_key_stream(zeros, false),
        Err(KeyReadError::Trailing(0))
    ));
    let endless = std::io::Cursor::new(format!("{good}\n  ")).chain(std::io::repeat(b'y'));
    assert!(matches!(
        read_key_stream(endless, true),
        Err(KeyReadError::Trailing(b'y'))
    ));
    // pubkey tolerates NULs after the key, key files do not.
    let nul = format!("{good}\0\n");
    assert!(read_key_stream(nul.as_bytes(), true).is_ok());
    assert!(matches!(
        read_key_stream(nul.as_bytes(), false),
        Err(KeyReadError::Trailing(0))
    ));
    assert!(matches!(
        read_key_stream(&b""[..], true),
        Err(KeyReadError::Empty)
    ));
    assert!(matches!(
        read_key_stream(&b"abc"[..], true),
        Err(KeyReadError::Short)
    ));
    assert!(read_key_stream(format!("{good}\n").as_bytes(), true).is_ok());
}
