//! TOTP vectors, replay, rate limiting, database safety, enrollment.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};

use wgrs_gate_state::totp::{self, step_of, Check, Secret};
use wgrs_gate_state::{Config, LoginOutcome, RateConfig, StateError, Store};

static N: AtomicU32 = AtomicU32::new(0);

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!(
            "wgrs-gate-state-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).expect("mkdir");
        Self(p)
    }
    fn db(&self) -> PathBuf {
        self.0.join("state.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const KEY: [u8; 32] = [7; 32];
const OTHER: [u8; 32] = [8; 32];
const RATE: RateConfig = RateConfig {
    burst: 5,
    refill_seconds: 60,
};

fn ok() -> Result<(), String> {
    Ok(())
}

/// Enrolls and confirms KEY on wg0 at time `t`; returns the secret.
fn enrolled(store: &Store, t: i64) -> Secret {
    let s = store.enroll("wg0", &KEY, t).expect("enroll");
    let code = s.code_at(t as u64).expect("code");
    assert_eq!(
        store.confirm("wg0", &KEY, &code, t).expect("confirm"),
        Check::Ok(step_of(t as u64))
    );
    s
}

#[test]
fn rfc6238_sha1_vectors() {
    // RFC 6238 appendix B, SHA-1 rows, 8 digits, T0 = 0, X = 30.
    let s = Secret::from_bytes(b"12345678901234567890".to_vec()).expect("secret");
    for (t, want) in [
        (59u64, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ] {
        assert_eq!(s.code_at_step(t / 30, 8).expect("code"), want, "T = {t}");
    }
    // The 6-digit code is the low 6 digits of the same HOTP value.
    assert_eq!(s.code_at(59).expect("code"), "287082");
}

#[test]
fn check_window_and_format() {
    let s = Secret::from_bytes(b"12345678901234567890".to_vec()).expect("secret");
    let t = 1_111_111_111u64;
    let now = step_of(t);
    for d in [-1i64, 0, 1] {
        let step = (now as i64 + d) as u64;
        let code = s.code_at_step(step, 6).expect("code");
        assert_eq!(
            totp::check(&s, &code, t, None).expect("check"),
            Check::Ok(step)
        );
    }
    for step in [now - 2, now + 2] {
        let code = s.code_at_step(step, 6).expect("code");
        assert_eq!(
            totp::check(&s, &code, t, None).expect("check"),
            Check::Wrong
        );
    }
    for bad in ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", " 12345"] {
        assert_eq!(totp::check(&s, bad, t, None).expect("check"), Check::Wrong);
    }
}

#[test]
fn secrets_never_show() {
    let s = Secret::generate().expect("secret");
    let b32 = s.base32().expect("b32");
    assert_eq!(format!("{s:?}"), "Secret(..)");
    let uri = totp::otpauth_uri(&s, "ACME VPN", "wg0 peer").expect("uri");
    assert!(uri.starts_with("otpauth://totp/ACME%20VPN:wg0%20peer?secret="));
    assert!(uri.contains(&b32));
    assert!(uri.ends_with("&issuer=ACME%20VPN&algorithm=SHA1&digits=6&period=30"));
    let d = TempDir::new();
    let store = Store::open(&d.db()).expect("open");
    let secret = enrolled(&store, 1_000_000);
    let dump = format!("{:?} {:?}", store, store.list(None).expect("list"));
    assert!(!dump.contains(&secret.base32().expect("b32")));
}

#[test]
fn login_and_replay_same_step_lower_step_and_after_restart() {
    let d = TempDir::new();
    let t0 = 1_700_000_000i64 - 1_700_000_000 % 30;
    let secret;
    {
        let store = Store::open(&d.db()).expect("open");
        secret = enrolled(&store, t0);
        // The confirm step cannot be used to log in.
        let code0 = secret.code_at(t0 as u64).expect("code");
        assert_eq!(
            store
                .login("wg0", &KEY, &code0, t0, &RATE, ok)
                .expect("login"),
            LoginOutcome::Replay
        );
        // Next step: accepted once.
        let t1 = t0 + 30;
        let code1 = secret.code_at(t1 as u64).expect("code");
        assert_eq!(
            store
                .login("wg0", &KEY, &code1, t1, &RATE, ok)
                .expect("login"),
            LoginOutcome::Authorized {
                step: step_of(t1 as u64)
            }
        );
        // Same step again: replay.
        assert_eq!(
            store
                .login("wg0", &KEY, &code1, t1 + 5, &RATE, ok)
                .expect("login"),
            LoginOutcome::Replay
        );
        // The previous step is still inside the window, but lower: replay.
        assert_eq!(
            store
                .login("wg0", &KEY, &code0, t1 + 10, &RATE, ok)
                .expect("login"),
            LoginOutcome::Replay
        );
    }
    // A restart (new Store on the same file) remembers the step.
    let store = Store::open(&d.db()).expect("reopen");
    let t1 = t0 + 30;
    let code1 = secret.code_at(t1 as u64).expect("code");
    assert_eq!(
        store
            .login("wg0", &KEY, &code1, t1 + 20, &RATE, ok)
            .expect("login"),
        LoginOutcome::Replay
    );
    let t2 = t0 + 60;
    let code2 = secret.code_at(t2 as u64).expect("code");
    assert_eq!(
        store
            .login("wg0", &KEY, &code2, t2, &RATE, ok)
            .expect("login"),
        LoginOutcome::Authorized {
            step: step_of(t2 as u64)
        }
    );
}

#[test]
fn kernel_refusal_keeps_the_step_consumed() {
    let d = TempDir::new();
    let store = Store::open(&d.db()).expect("open");
    let t0 = 1_800_000_000i64;
    let s = enrolled(&store, t0);
    let t = t0 + 30;
    let code = s.code_at(t as u64).expect("code");
    let out = store
        .login("wg0", &KEY, &code, t, &RATE, || Err("no such peer"))
        .expect("login");
    assert_eq!(
        out,
        LoginOutcome::KernelRefused {
            step: step_of(t as u64),
            reason: "no such peer".into()
        }
    );
    assert_eq!(
        store
            .login("wg0", &KEY, &code, t, &RATE, ok)
            .expect("login"),
        LoginOutcome::Replay
    );
}

#[test]
fn parallel_wrong_guesses_are_charged_before_checking() {
    let d = TempDir::new();
    let store = Arc::new(Store::open(&d.db()).expect("open"));
    let t = 1_900_000_000i64;
    let s = enrolled(&store, t);
    let checks_before = store.code_checks();
    let right = s.code_at(t as u64).expect("code");
    let barrier = Arc::new(Barrier::new(20));
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            let right = right.clone();
            std::thread::spawn(move || {
                // Twenty different wrong codes.
                let mut guess = format!("{:06}", 100_000 + i * 7919);
                if guess == right {
                    guess = format!("{:06}", 999_999 - i);
                }
                barrier.wait();
                store
                    .login("wg0", &KEY, &guess, t, &RATE, ok)
                    .expect("login")
            })
        })
        .collect();
    let outcomes: Vec<LoginOutcome> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let wrong = outcomes
        .iter()
        .filter(|o| **o == LoginOutcome::WrongCode)
        .count();
    let limited = outcomes
        .iter()
        .filter(|o| matches!(o, LoginOutcome::RateLimited { .. }))
        .count();
    assert_eq!(wrong, RATE.burst as usize);
    assert_eq!(limited, 20 - RATE.burst as usize);
    // Only the bucket's allowance reached the code check.
    assert_eq!(store.code_checks() - checks_before, u64::from(RATE.burst));
    // Even the right code is refused while the bucket is empty...
    assert!(matches!(
        store
            .login("wg0", &KEY, &right, t, &RATE, ok)
            .expect("login"),
        LoginOutcome::RateLimited { .. }
    ));
    // ...and other peers are not affected.
    assert_eq!(
        store
            .login("wg0", &OTHER, "123456", t, &RATE, ok)
            .expect("login"),
        LoginOutcome::NotEnrolled
    );
    // One token back after refill_seconds.
    let later = t + i64::from(RATE.refill_seconds);
    let code = s.code_at(later as u64).expect("code");
    assert!(matches!(
        store
            .login("wg0", &KEY, &code, later, &RATE, ok)
            .expect("login"),
        LoginOutcome::Authorized { .. }
    ));
}

#[test]
fn database_is_created_private() {
    let d = TempDir::new();
    let _store = Store::open(&d.db()).expect("open");
    let mode = std::fs::metadata(d.db())
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn database_with_group_or_other_bits_is_refused() {
    let d = TempDir::new();
    drop(Store::open(&d.db()).expect("open"));
    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(d.db(), std::fs::Permissions::from_mode(mode)).expect("chmod");
        let err = Store::open(&d.db()).expect_err("must refuse");
        assert!(matches!(err, StateError::Permissions { .. }), "{err}");
        assert!(err.to_string().contains(&format!("{mode:04o}")), "{err}");
    }
}

fn expect_corrupt(path: &Path) {
    let err = Store::open(path).expect_err("must refuse");
    assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("refusing"), "{err}");
}

#[test]
fn corrupt_database_is_refused_not_reset() {
    let d = TempDir::new();
    {
        let store = Store::open(&d.db()).expect("open");
        enrolled(&store, 1_000_000_000);
    }
    // Clobber the header and the first pages.
    let mut bytes = std::fs::read(d.db()).expect("read");
    let garbage: Vec<u8> = (0..bytes.len().min(8192))
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    bytes[..garbage.len()].copy_from_slice(&garbage);
    std::fs::write(d.db(), &bytes).expect("write");
    let before = std::fs::read(d.db()).expect("read");
    expect_corrupt(&d.db());
    assert_eq!(
        std::fs::read(d.db()).expect("read"),
        before,
        "file untouched"
    );

    // Plain text is not a database either.
    let p = d.0.join("text.db");
    std::fs::write(&p, b"hello, I am not SQLite\n").expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    expect_corrupt(&p);

    // Another program's SQLite database is refused.
    let p = d.0.join("other.db");
    {
        let c = rusqlite::Connection::open(&p).expect("sqlite");
        c.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .expect("create");
    }
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    expect_corrupt(&p);
}

#[test]
fn enroll_confirm_flow() {
    let d = TempDir::new();
    let store = Store::open(&d.db()).expect("open");
    let t = 1_600_000_000i64;
    let s1 = store.enroll("wg0", &KEY, t).expect("enroll");
    // Pending only: no login yet (a user who did not scan is not locked
    // out by a secret they do not have).
    let c = s1.code_at(t as u64).expect("code");
    assert_eq!(
        store.login("wg0", &KEY, &c, t, &RATE, ok).expect("login"),
        LoginOutcome::NotEnrolled
    );
    let rec = &store.list(Some("wg0")).expect("list")[0];
    assert!(rec.pending && !rec.confirmed);
    // A wrong code leaves it pending.
    let wrong = if c == "000000" { "111111" } else { "000000" };
    assert_eq!(
        store.confirm("wg0", &KEY, wrong, t).expect("confirm"),
        Check::Wrong
    );
    assert!(store.list(None).expect("list")[0].pending);
    assert_eq!(
        store.confirm("wg0", &KEY, &c, t).expect("confirm"),
        Check::Ok(step_of(t as u64))
    );
    let rec = &store.list(None).expect("list")[0];
    assert!(rec.confirmed && !rec.pending);

    // Re-enrolling keeps the old secret active until the new one is
    // confirmed.
    let t2 = t + 90;
    let s2 = store.enroll("wg0", &KEY, t2).expect("enroll");
    let old = s1.code_at(t2 as u64).expect("code");
    assert!(matches!(
        store
            .login("wg0", &KEY, &old, t2, &RATE, ok)
            .expect("login"),
        LoginOutcome::Authorized { .. }
    ));
    let t3 = t2 + 30;
    let new = s2.code_at(t3 as u64).expect("code");
    assert_eq!(
        store.confirm("wg0", &KEY, &new, t3).expect("confirm"),
        Check::Ok(step_of(t3 as u64))
    );
    let t4 = t3 + 30;
    let old = s1.code_at(t4 as u64).expect("code");
    assert_eq!(
        store
            .login("wg0", &KEY, &old, t4, &RATE, ok)
            .expect("login"),
        LoginOutcome::WrongCode
    );
    // Confirm with nothing pending is an error.
    assert!(matches!(
        store.confirm("wg0", &KEY, "123456", t4),
        Err(StateError::NothingPending(_))
    ));
    assert!(store.remove("wg0", &KEY).expect("remove"));
    assert!(!store.remove("wg0", &KEY).expect("remove"));
    assert!(store.list(None).expect("list").is_empty());
}

#[test]
fn exempt_and_audit_outbox() {
    let d = TempDir::new();
    let store = Store::open(&d.db()).expect("open");
    store.set_exempt("wg0", &OTHER, true).expect("exempt");
    let l = store.list(Some("wg0")).expect("list");
    assert!(l[0].exempt && !l[0].confirmed);
    store.queue_audit("{\"event\":\"a\"}").expect("queue");
    store.queue_audit("{\"event\":\"b\"}").expect("queue");
    assert_eq!(
        store.drain_audit().expect("drain"),
        vec!["{\"event\":\"a\"}", "{\"event\":\"b\"}"]
    );
    assert!(store.drain_audit().expect("drain").is_empty());
}

#[test]
fn config_defaults_and_validation() {
    let c = Config::parse("[[device]]\nname = \"wg0\"\n", Path::new("t.toml")).expect("parse");
    let d = &c.devices[0];
    assert_eq!(d.auth_port, 51821);
    assert_eq!(d.issuer, "wgrs");
    assert_eq!(d.state_db, Path::new("/var/lib/wgrs-gated/state.db"));
    assert!(d.listen.is_empty());
    assert_eq!(c.rate, RateConfig::default());
    let text = c.to_toml().expect("toml");
    assert_eq!(Config::parse(&text, Path::new("t")).expect("reparse"), c);

    for bad in [
        "[[device]]\nname = \"wg0\"\nauth_port = 0\n",
        "[[device]]\nname = \"wg0\"\n[[device]]\nname = \"wg0\"\n",
        "[[device]]\nname = \"a-very-long-interface-name\"\n",
        "[[device]]\nname = \"wg0\"\nstate_db = \"relative.db\"\n",
        "[[device]]\nname = \"wg0\"\nissuer = \"a:b\"\n",
        "[rate]\nburst = 0\n",
        "[[device]]\nname = \"wg0\"\nlisten_on = []\n",
        "[[device]]\nname = \"wg0\"\nlisten = [\"not an address\"]\n",
    ] {
        let e = Config::parse(bad, Path::new("bad.toml")).expect_err(bad);
        assert!(e.to_string().starts_with("bad.toml: "), "{e}");
    }
}
