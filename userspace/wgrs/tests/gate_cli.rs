//! `wgrs gate` as a program: enroll → confirm → list → remove on a
//! temporary configuration, and `login` against the agent's HTTP service
//! (with the fake kernel).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use wgrs_gate_netlink::fake::FakeKernel;
use wgrs_gate_netlink::{PeerState, Policy};
use wgrs_gate_state::config::DeviceConfig;
use wgrs_gate_state::{Audit, HttpConfig, RateConfig, Secret, Store};
use wgrs_gated::peers::AllowedIpsMap;
use wgrs_gated::{Agent, DeviceCtx, PeerMap};

const PEER: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

struct Tmp(PathBuf);

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmp(tag: &str) -> Tmp {
    let d = std::env::temp_dir().join(format!("wgrs-gate-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    Tmp(d)
}

fn write_config(dir: &Path) -> PathBuf {
    let cfg = dir.join("gated.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[device]]\nname = \"wgtest0\"\nissuer = \"Test VPN\"\nstate_db = \"{}\"\n",
            dir.join("state.db").display()
        ),
    )
    .expect("write");
    cfg
}

fn wgrs(cfg: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wgrs"))
        .arg("gate")
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env("WG_COLOR_MODE", "never")
        .output()
        .expect("run wgrs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn base32_decode(s: &str) -> Vec<u8> {
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("bad base32 {c}"),
        };
        bits = (bits << 5) | u64::from(v);
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

fn secret_from_enroll(out: &str) -> Secret {
    let line = out
        .lines()
        .find(|l| l.starts_with("Manual entry: "))
        .expect("manual entry line");
    let b32 = line["Manual entry: ".len()..]
        .split(' ')
        .next()
        .expect("secret");
    Secret::from_bytes(base32_decode(b32)).expect("secret")
}

#[test]
fn enroll_confirm_list_remove() {
    let d = tmp("flow");
    let cfg = write_config(&d.0);
    let png = d.0.join("qr.png");
    let o = wgrs(
        &cfg,
        &[
            "enroll",
            "wgtest0",
            PEER,
            "--png",
            png.to_str().expect("utf8"),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("otpauth://totp/Test%20VPN:wgtest0%20xTIBA5rb?secret="),
        "{out}"
    );
    assert!(
        out.contains('▀') || out.contains('▄') || out.contains('█'),
        "no QR: {out}"
    );
    let png_bytes = std::fs::read(&png).expect("png");
    assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&png).expect("stat").permissions().mode() & 0o777,
        0o600
    );
    let secret = secret_from_enroll(&out);

    // Pending until confirmed.
    let o = wgrs(&cfg, &["list", "wgtest0"]);
    assert!(text(&o).contains("pending confirmation"), "{}", text(&o));

    // A wrong code leaves it pending, with exit status 1.
    let right = secret.code_at(now()).expect("code");
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let o = wgrs(&cfg, &["confirm", "wgtest0", PEER, wrong]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("does not match"), "{}", text(&o));

    let o = wgrs(
        &cfg,
        &[
            "confirm",
            "wgtest0",
            PEER,
            &secret.code_at(now()).expect("code"),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = wgrs(&cfg, &["list"]);
    let l = text(&o);
    assert!(
        l.contains(&format!("wgtest0\t{PEER}\tconfirmed\texempt=no")),
        "{l}"
    );
    assert!(!l.contains(&secret.base32().expect("b32")));

    // The audit records wait in the database for the agent.
    let store = Store::open(&d.0.join("state.db")).expect("store");
    let lines = store.drain_audit().expect("drain");
    assert!(lines.iter().any(|l| l.contains("\"event\":\"enrolled\"")));
    assert!(lines
        .iter()
        .any(|l| l.contains("\"event\":\"confirm_failed\"")));
    assert!(lines.iter().any(|l| l.contains("\"event\":\"confirmed\"")));
    drop(store);

    let o = wgrs(&cfg, &["remove", "wgtest0", PEER]);
    assert!(o.status.success(), "{}", text(&o));
    let o = wgrs(&cfg, &["list"]);
    assert!(String::from_utf8_lossy(&o.stdout).is_empty());
    let o = wgrs(&cfg, &["remove", "wgtest0", PEER]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn errors_are_clear() {
    let d = tmp("errors");
    let cfg = write_config(&d.0);
    let o = wgrs(&cfg, &["enroll", "wg9", PEER]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("wg9 is not a gated device"),
        "{}",
        text(&o)
    );
    let o = wgrs(&cfg, &["enroll", "wgtest0", "not-a-key"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("not a valid public key"), "{}", text(&o));
    let o = wgrs(&cfg, &["confirm", "wgtest0", PEER, "123456"]);
    assert!(text(&o).contains("no pending enrollment"), "{}", text(&o));
    let o = wgrs(&cfg, &["frobnicate"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("Usage: wgrs gate"));
    let o = wgrs(&d.0.join("missing.toml"), &["list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("missing.toml"), "{}", text(&o));
    // A database others can read is refused.
    let o = wgrs(&cfg, &["enroll", "wgtest0", PEER]);
    assert!(o.status.success());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.0.join("state.db"), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let o = wgrs(&cfg, &["list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("0644"), "{}", text(&o));
    // wg's own help is unchanged: no "gate" in it.
    let o = Command::new(env!("CARGO_BIN_EXE_wgrs"))
        .arg("--help")
        .output()
        .expect("run");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("gate:"));
}

struct LoopbackIsPeer([u8; 32]);

impl PeerMap for LoopbackIsPeer {
    fn allowed_ips(&self, _: &str) -> anyhow::Result<AllowedIpsMap> {
        Ok(vec![(self.0, vec![("127.0.0.1".parse()?, 32)])])
    }
}

#[test]
fn login_through_the_auth_service() {
    let d = tmp("login");
    let key = [0x42u8; 32];
    let kernel = FakeKernel::new();
    kernel.add_device(7, Policy::default());
    kernel.add_peer(7, key);
    let store = Arc::new(Store::open(&d.0.join("state.db")).expect("store"));
    let t = now() as i64;
    let secret = store.enroll("wg0", &key, t).expect("enroll");
    store
        .confirm("wg0", &key, &secret.code_at(t as u64).expect("code"), t)
        .expect("confirm");
    let agent = Arc::new(Agent {
        kernel: Arc::new(kernel.clone()),
        peers: Arc::new(LoopbackIsPeer(key)),
        devices: vec![DeviceCtx::new(
            DeviceConfig {
                name: "wg0".into(),
                issuer: "t".into(),
                state_db: d.0.join("state.db"),
                listen: vec![],
                auth_port: 51821,
                idle_timeout: None,
                max_session: None,
            },
            7,
            store,
        )],
        rate: RateConfig::default(),
        http: HttpConfig::default(),
        audit: Audit::memory(),
        clock: Arc::new(move || t + 30),
        resolver: None,
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(async { wgrs_gated::server::bind("127.0.0.1:0".parse().expect("a"), None) })
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = wgrs_gated::http::router(Arc::clone(&agent), 0);
    let http = agent.http;
    std::thread::spawn(move || rt.block_on(wgrs_gated::server::serve(listener, app, http)));

    let cfg = d.0.join("unused.toml");
    let server = addr.to_string();
    let wrong = {
        let c = secret.code_at(t as u64 + 30).expect("code");
        if c == "000000" {
            "111111".to_owned()
        } else {
            "000000".to_owned()
        }
    };
    let o = wgrs(
        &cfg,
        &["login", "lo", "--server", &server, "--code", &wrong],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("Wrong code. (HTTP 401"), "{}", text(&o));
    assert_eq!(kernel.peer(7, &key).expect("peer").state, PeerState::Locked);

    let code = secret.code_at(t as u64 + 30).expect("code");
    let o = wgrs(&cfg, &["login", "lo", "--server", &server, "--code", &code]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("lo: unlocked"), "{}", text(&o));
    assert_eq!(
        kernel.peer(7, &key).expect("peer").state,
        PeerState::Authorized
    );

    // Nothing listening: a clear failure, not a hang.
    let o = wgrs(
        &cfg,
        &[
            "login",
            "lo",
            "--server",
            "127.0.0.1:9",
            "--code",
            &code,
            "--timeout",
            "2",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("cannot reach the auth service"),
        "{}",
        text(&o)
    );
}
