//! The agent against the fake kernel: HTTP login, identification by
//! source address, limits, re-sync after lost notifications.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wgrs_gate_netlink::fake::FakeKernel;
use wgrs_gate_netlink::{GateKernel, LockReason, PeerState, Policy};
use wgrs_gate_state::config::DeviceConfig;
use wgrs_gate_state::{Audit, HttpConfig, RateConfig, Store};
use wgrs_gated::peers::AllowedIpsMap;
use wgrs_gated::{Agent, DeviceCtx, PeerMap};

const IFX: u32 = 3;
const A: [u8; 32] = [0xa1; 32];
const B: [u8; 32] = [0xb2; 32];
const T0: i64 = 1_750_000_020; // a step boundary

static N: AtomicU32 = AtomicU32::new(0);

struct StaticPeers(AllowedIpsMap);

impl PeerMap for StaticPeers {
    fn allowed_ips(&self, _ifname: &str) -> anyhow::Result<AllowedIpsMap> {
        Ok(self.0.clone())
    }
}

struct Env {
    agent: Arc<Agent>,
    kernel: FakeKernel,
    audit: Audit,
    addr: SocketAddr,
    clock: Arc<AtomicI64>,
    dir: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn tmpdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "wgrs-gated-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

fn device_cfg(dir: &std::path::Path) -> DeviceConfig {
    DeviceConfig {
        name: "wg0".into(),
        issuer: "test".into(),
        state_db: dir.join("state.db"),
        listen: vec![],
        auth_port: 51821,
        idle_timeout: None,
        max_session: None,
    }
}

/// Loopback is peer A's address unless `loopback_is_a` is false.
async fn setup(loopback_is_a: bool, http: HttpConfig) -> Env {
    let dir = tmpdir();
    let kernel = FakeKernel::new();
    kernel.add_device(
        IFX,
        Policy {
            idle_timeout: 600,
            max_session: 3600,
            auth_port: 0,
        },
    );
    kernel.add_peer(IFX, A);
    kernel.add_peer(IFX, B);
    let mut map: AllowedIpsMap = vec![(B, vec![(ip("10.0.0.2"), 32)])];
    if loopback_is_a {
        map.push((A, vec![(ip("127.0.0.0"), 8)]));
    }
    let audit = Audit::memory();
    let clock = Arc::new(AtomicI64::new(T0));
    let c = Arc::clone(&clock);
    let store = Arc::new(Store::open(&dir.join("state.db")).expect("store"));
    let agent = Arc::new(Agent {
        kernel: Arc::new(kernel.clone()),
        peers: Arc::new(StaticPeers(map)),
        devices: vec![DeviceCtx::new(device_cfg(&dir), IFX, store)],
        rate: RateConfig {
            burst: 3,
            refill_seconds: 60,
        },
        http,
        audit: audit.clone(),
        clock: Arc::new(move || c.load(Ordering::SeqCst)),
        resolver: None,
    });
    agent.startup().expect("startup");
    let listener =
        wgrs_gated::server::bind("127.0.0.1:0".parse().expect("addr"), None).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = wgrs_gated::http::router(Arc::clone(&agent), 0);
    tokio::spawn(wgrs_gated::server::serve(listener, app, agent.http));
    Env {
        agent,
        kernel,
        audit,
        addr,
        clock,
        dir,
    }
}

/// Enrolls and confirms peer A at T0; returns the code of the next step.
fn enroll_a(env: &Env) -> String {
    let store = &env.agent.devices[0].store;
    let s = store.enroll("wg0", &A, T0).expect("enroll");
    let c = s.code_at(T0 as u64).expect("code");
    store.confirm("wg0", &A, &c, T0).expect("confirm");
    env.clock.store(T0 + 30, Ordering::SeqCst);
    s.code_at((T0 + 30) as u64).expect("code")
}

async fn raw(addr: SocketAddr, req: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(req).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_owned(), body.to_owned())
}

async fn post(addr: SocketAddr, path: &str, ctype: &str, body: &[u8]) -> (u16, String, String) {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: gate\r\nConnection: close\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw(addr, &req).await
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: gate\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
}

fn audited(env: &Env, needle: &str) -> bool {
    env.audit.lines().iter().any(|l| l.contains(needle))
}

#[tokio::test]
async fn login_unlocks_only_the_mapped_peer() {
    let env = setup(true, HttpConfig::default()).await;
    let code = enroll_a(&env);
    let (st, _, body) = post(
        env.addr,
        "/login",
        "application/json",
        format!("{{\"code\":\"{code}\"}}").as_bytes(),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("\"state\":\"authorized\""), "{body}");
    assert_eq!(
        env.kernel.peer(IFX, &A).expect("A").state,
        PeerState::Authorized
    );
    assert_eq!(
        env.kernel.peer(IFX, &B).expect("B").state,
        PeerState::Locked
    );
    assert!(audited(&env, "\"event\":\"login_ok\""));
    // The policy's auth port was pushed at start.
    assert_eq!(env.kernel.get(IFX).expect("get").policy.auth_port, 51821);

    // Status and page show it; logout locks A again, B untouched.
    let (st, _, body) = get(env.addr, "/status").await;
    assert_eq!(st, 200);
    assert!(body.contains("\"state\":\"authorized\""), "{body}");
    let (st, _, body) = get(env.addr, "/").await;
    assert_eq!(st, 200);
    assert!(body.contains("action=\"/logout\""), "{body}");
    let (st, _, _) = post(
        env.addr,
        "/logout",
        "application/x-www-form-urlencoded",
        b"",
    )
    .await;
    assert_eq!(st, 200);
    let a = env.kernel.peer(IFX, &A).expect("A");
    assert_eq!(a.state, PeerState::Locked);
    assert_eq!(a.lock_reason, Some(LockReason::Revoked));
    assert!(audited(&env, "\"event\":\"revoked\""));
}

#[tokio::test]
async fn phone_form_flow_without_javascript() {
    let env = setup(true, HttpConfig::default()).await;
    let code = enroll_a(&env);
    let (st, head, body) = get(env.addr, "/").await;
    assert_eq!(st, 200);
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: text/html"));
    assert!(
        body.contains("<form method=\"post\" action=\"/login\">"),
        "{body}"
    );
    assert!(!body.contains("<script"));
    // "123 456" as typed on a phone.
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let form = format!("code={}", spaced.replace(' ', "+"));
    let (st, _, body) = post(
        env.addr,
        "/login",
        "application/x-www-form-urlencoded",
        form.as_bytes(),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("Unlocked"), "{body}");
    // The same code again: replay, shown as a page with the form.
    let (st, _, body) = post(
        env.addr,
        "/login",
        "application/x-www-form-urlencoded",
        form.as_bytes(),
    )
    .await;
    assert_eq!(st, 401);
    assert!(body.contains("already used"), "{body}");
    assert!(audited(&env, "\"reason\":\"replay\""));
}

#[tokio::test]
async fn source_of_no_peer_is_refused() {
    let env = setup(false, HttpConfig::default()).await;
    enroll_a(&env);
    for (path, st_want) in [("/login", 403), ("/logout", 403)] {
        let (st, _, _) = post(env.addr, path, "application/json", b"{\"code\":\"123456\"}").await;
        assert_eq!(st, st_want, "{path}");
    }
    let (st, _, _) = get(env.addr, "/").await;
    assert_eq!(st, 403);
    let (st, _, _) = get(env.addr, "/status").await;
    assert_eq!(st, 403);
    assert!(!env
        .kernel
        .calls()
        .iter()
        .any(|c| c.starts_with("authorize") || c.starts_with("revoke")));
    assert!(audited(&env, "\"reason\":\"unknown_peer\""));
}

#[tokio::test]
async fn huge_body_is_refused() {
    let env = setup(true, HttpConfig::default()).await;
    enroll_a(&env);
    // Announced too big: refused before it is read.
    let (st, _, _) = raw(
        env.addr,
        b"POST /login HTTP/1.1\r\nHost: gate\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000000\r\n\r\ncode=",
    )
    .await;
    assert_eq!(st, 413);
    // Sent too big (chunked, no length): refused too.
    let mut req = b"POST /login HTTP/1.1\r\nHost: gate\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    // Three chunks of 2 KiB, past the 4 KiB limit, and no end: the server
    // must answer without waiting for the rest.
    for _ in 0..3 {
        req.extend_from_slice(b"800\r\n");
        req.extend_from_slice(&[b' '; 0x800]);
        req.extend_from_slice(b"\r\n");
    }
    let (st, _, _) = raw(env.addr, &req).await;
    assert_eq!(st, 413);
    assert!(!env
        .kernel
        .calls()
        .iter()
        .any(|c| c.starts_with("authorize")));
}

#[tokio::test]
async fn slow_headers_time_out() {
    let env = setup(
        true,
        HttpConfig {
            header_timeout_seconds: 1,
            ..HttpConfig::default()
        },
    )
    .await;
    let mut s = TcpStream::connect(env.addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: gate\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "the server kept a half-sent request open");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_utf8_form_is_rejected_cleanly() {
    let env = setup(true, HttpConfig::default()).await;
    enroll_a(&env);
    for body in [
        &b"code=%FF%FE%FD"[..],
        &b"code=\xff\xfe123456"[..],
        &b"\xc3\x28=1"[..],
    ] {
        let (st, _, text) = post(
            env.addr,
            "/login",
            "application/x-www-form-urlencoded",
            body,
        )
        .await;
        assert_eq!(st, 400, "{body:?}");
        assert!(text.contains("not valid UTF-8"), "{text}");
    }
    let (st, _, text) = post(
        env.addr,
        "/login",
        "application/json",
        b"{\"code\":\"\xff\"}",
    )
    .await;
    assert_eq!(st, 400);
    assert!(text.contains("JSON"), "{text}");
    // Still fine afterwards, and nothing was unlocked.
    assert_eq!(
        env.kernel.peer(IFX, &A).expect("A").state,
        PeerState::Locked
    );
    let (st, _, _) = get(env.addr, "/status").await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn rate_limited_over_http() {
    let env = setup(true, HttpConfig::default()).await;
    let code = enroll_a(&env);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        let (st, _, _) = post(
            env.addr,
            "/login",
            "application/json",
            format!("{{\"code\":\"{wrong}\"}}").as_bytes(),
        )
        .await;
        assert_eq!(st, 401);
    }
    let (st, head, _) = post(
        env.addr,
        "/login",
        "application/json",
        format!("{{\"code\":\"{code}\"}}").as_bytes(),
    )
    .await;
    assert_eq!(st, 429);
    assert!(
        head.to_ascii_lowercase().contains("retry-after: "),
        "{head}"
    );
    assert_eq!(
        env.kernel.peer(IFX, &A).expect("A").state,
        PeerState::Locked
    );
    assert!(audited(&env, "\"reason\":\"rate_limited\""));
    assert!(audited(&env, "\"reason\":\"wrong_code\""));
}

#[tokio::test]
async fn kernel_refusal_is_told_and_the_code_stays_used() {
    let env = setup(true, HttpConfig::default()).await;
    let code = enroll_a(&env);
    env.kernel.fail_authorize(Some(1));
    let body = format!("{{\"code\":\"{code}\"}}");
    let (st, _, text) = post(env.addr, "/login", "application/json", body.as_bytes()).await;
    assert_eq!(st, 502, "{text}");
    assert!(text.contains("refused"), "{text}");
    assert!(audited(&env, "\"event\":\"authorize_failed\""));
    env.kernel.fail_authorize(None);
    let (st, _, _) = post(env.addr, "/login", "application/json", body.as_bytes()).await;
    assert_eq!(st, 401);
    assert_eq!(
        env.kernel.peer(IFX, &A).expect("A").state,
        PeerState::Locked
    );
}

#[tokio::test]
async fn lost_events_resync_restores_locks() {
    let env = setup(true, HttpConfig::default()).await;
    let mut events = env.kernel.events().expect("subscribe");
    env.kernel.authorize(IFX, &A).expect("authorize");
    let ev = events.next_event().expect("event");
    env.agent.handle_event(&ev);
    let dev = &env.agent.devices[0];
    assert_eq!(dev.peer_view(&A).expect("A").state, PeerState::Authorized);

    // A lock whose notification is lost, then the overflow.
    env.kernel.expire(IFX, &A, LockReason::Idle, true);
    env.kernel.overflow();
    let ev = events.next_event().expect("event");
    assert_eq!(ev, wgrs_gate_netlink::GateEvent::Lost);
    env.agent.handle_event(&ev);
    let v = dev.peer_view(&A).expect("A");
    assert_eq!(v.state, PeerState::Locked);
    assert_eq!(v.reason, Some(LockReason::Idle));
    assert!(env
        .audit
        .lines()
        .iter()
        .any(|l| l.contains("\"event\":\"locked\"")
            && l.contains("\"reason\":\"idle\"")
            && l.contains("events lost")));

    // Notifications that do arrive are handled too.
    env.kernel.authorize(IFX, &B).expect("authorize");
    env.agent.handle_event(&events.next_event().expect("event"));
    assert_eq!(dev.peer_view(&B).expect("B").state, PeerState::Authorized);
    env.kernel.expire(IFX, &B, LockReason::MaxSession, false);
    env.agent.handle_event(&events.next_event().expect("event"));
    assert_eq!(
        dev.peer_view(&B).expect("B").reason,
        Some(LockReason::MaxSession)
    );
    env.kernel.knock(IFX, &A, Some(ip("127.0.0.1")));
    env.agent.handle_event(&events.next_event().expect("event"));
    assert!(audited(&env, "\"event\":\"knock\""));
}

#[tokio::test]
async fn restart_never_unlocks() {
    let env = setup(true, HttpConfig::default()).await;
    let before = env.kernel.calls().len();
    // A second agent on the same kernel and database: a restart.
    let store = Arc::new(Store::open(&env.dir.join("state.db")).expect("store"));
    let again = Agent {
        kernel: Arc::new(env.kernel.clone()),
        peers: Arc::new(StaticPeers(vec![])),
        devices: vec![DeviceCtx::new(device_cfg(&env.dir), IFX, store)],
        rate: RateConfig::default(),
        http: HttpConfig::default(),
        audit: Audit::memory(),
        clock: Arc::new(|| T0),
        resolver: None,
    };
    again.startup().expect("startup");
    let calls = env.kernel.calls();
    assert!(calls[before..]
        .iter()
        .all(|c| c.starts_with("set-policy") || c.starts_with("get")));
    assert_eq!(
        again.devices[0].peer_view(&A).expect("A").state,
        PeerState::Locked
    );
    assert!(again
        .audit
        .lines()
        .iter()
        .any(|l| l.contains("\"event\":\"locked\"") && l.contains("\"reason\":\"new\"")));
}

#[tokio::test]
async fn recorded_exemptions_are_reapplied() {
    let env = setup(true, HttpConfig::default()).await;
    env.agent.devices[0]
        .store
        .set_exempt("wg0", &B, true)
        .expect("exempt");
    env.agent.startup().expect("startup");
    assert!(env.kernel.peer(IFX, &B).expect("B").exempt);
    assert!(!env.kernel.peer(IFX, &A).expect("A").exempt);
}

#[tokio::test]
async fn cli_audit_records_reach_the_log() {
    let env = setup(true, HttpConfig::default()).await;
    env.agent.devices[0]
        .store
        .queue_audit("{\"event\":\"enrolled\",\"device\":\"wg0\"}")
        .expect("queue");
    env.agent.drain_audit();
    assert!(audited(&env, "\"event\":\"enrolled\""));
}

#[tokio::test]
async fn event_thread_feeds_the_agent() {
    let env = setup(true, HttpConfig::default()).await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let stream = env.kernel.events().expect("subscribe");
    let kernel: Arc<dyn GateKernel> = Arc::new(env.kernel.clone());
    wgrs_gated::agent::spawn_event_thread(kernel, stream, tx, env.audit.clone());
    env.kernel.authorize(IFX, &B).expect("authorize");
    let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("in time")
        .expect("event");
    env.agent.handle_event(&ev);
    assert_eq!(
        env.agent.devices[0].peer_view(&B).expect("B").state,
        PeerState::Authorized
    );
}

#[test]
fn binding_to_a_missing_device_fails_clearly() {
    let e = wgrs_gated::server::bind("127.0.0.1:0".parse().expect("addr"), Some("nosuchdev9"))
        .expect_err("must fail");
    assert!(
        format!("{e:#}").contains("SO_BINDTODEVICE nosuchdev9"),
        "{e:#}"
    );
    let all = wgrs_gated::server::listen_addrs(&[], 51821);
    assert_eq!(all.len(), 2);
    assert!(all
        .iter()
        .all(|(a, wildcard)| *wildcard && a.ip().is_unspecified()));
}

#[test]
fn check_config_prints_the_effective_configuration() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/gated.toml");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_wgrs-gated"))
        .args(["--check-config", example])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("[[device]]\nname = \"wg0\""), "{out}");
    assert!(out.contains("refill_seconds = 60"), "{out}");
    let bad = tmpdir();
    let f = bad.join("bad.toml");
    std::fs::write(&f, "[[device]]\nname = \"wg0\"\nauth_port = 0\n").expect("write");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_wgrs-gated"))
        .arg("--check-config")
        .arg(&f)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("auth_port must not be 0"));
    let _ = std::fs::remove_dir_all(bad);
}
