// SPDX-License-Identifier: GPL-2.0
//! The deterministic transcript self-test that the kernel module runs on top
//! of lib/crypto: with RustCrypto it must give `TRANSCRIPT_DIGEST`, and a
//! provider that gets any primitive wrong must not.

use wgrs_proto::proto::crypto::Crypto;
use wgrs_proto::proto::selftest::{
    transcript, transcript_with, Fault, Faulty, Phase, Scratch, SelftestError, Step,
    TRANSCRIPT_DIGEST,
};
use wgrs_proto::rustcrypto::RustCrypto;

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn rustcrypto_gives_the_expected_digest() {
    let d = transcript(&RustCrypto);
    if let Ok(d) = &d {
        eprintln!("transcript digest: {}", hex(d));
    }
    assert_eq!(d, Ok(TRANSCRIPT_DIGEST));
}

#[test]
fn scratch_is_reusable_and_runs_are_deterministic() {
    let mut s = Box::new(Scratch::new());
    for _ in 0..3 {
        assert_eq!(transcript_with(&RustCrypto, &mut s), Ok(TRANSCRIPT_DIGEST));
    }
    // The randomness of the wrapped provider is never used.
    struct NoRandom;
    impl Crypto for NoRandom {
        fn blake2s(&self, o: &mut [u8], k: &[u8], d: &[&[u8]]) -> bool {
            RustCrypto.blake2s(o, k, d)
        }
        fn chacha20poly1305_seal(&self, b: &mut [u8], ad: &[u8], n: u64, k: &[u8; 32]) -> bool {
            RustCrypto.chacha20poly1305_seal(b, ad, n, k)
        }
        fn chacha20poly1305_open(&self, b: &mut [u8], ad: &[u8], n: u64, k: &[u8; 32]) -> bool {
            RustCrypto.chacha20poly1305_open(b, ad, n, k)
        }
        fn xchacha20poly1305_seal(
            &self,
            b: &mut [u8],
            ad: &[u8],
            n: &[u8; 24],
            k: &[u8; 32],
        ) -> bool {
            RustCrypto.xchacha20poly1305_seal(b, ad, n, k)
        }
        fn xchacha20poly1305_open(
            &self,
            b: &mut [u8],
            ad: &[u8],
            n: &[u8; 24],
            k: &[u8; 32],
        ) -> bool {
            RustCrypto.xchacha20poly1305_open(b, ad, n, k)
        }
        fn curve25519(&self, o: &mut [u8; 32], s: &[u8; 32], p: &[u8; 32]) -> bool {
            RustCrypto.curve25519(o, s, p)
        }
        fn curve25519_generate_public(&self, o: &mut [u8; 32], s: &[u8; 32]) -> bool {
            RustCrypto.curve25519_generate_public(o, s)
        }
        fn random(&self, _: &mut [u8]) {
            panic!("the self-test must not use the provider's randomness");
        }
    }
    assert_eq!(transcript(&NoRandom), Ok(TRANSCRIPT_DIGEST));
}

#[test]
fn a_wrong_primitive_changes_the_result() {
    for f in Fault::ALL {
        let r = transcript(&Faulty::new(&RustCrypto, f));
        eprintln!(
            "{f:?}: {}",
            match &r {
                Ok(d) => format!("digest {}", hex(d)),
                Err(e) => format!("error {e}"),
            }
        );
        assert_ne!(r, Ok(TRANSCRIPT_DIGEST), "{f:?} went unnoticed");
    }
}

#[test]
fn failures_name_the_step() {
    // A consistent but wrong BLAKE2s still completes (both peers agree), so
    // only the digest catches it; a broken AEAD seal is caught at the first
    // message the other side opens.
    assert!(
        matches!(transcript(&Faulty::new(&RustCrypto, Fault::Blake2s)), Ok(d) if d != TRANSCRIPT_DIGEST)
    );
    assert_eq!(
        transcript(&Faulty::new(&RustCrypto, Fault::ChachaSeal)),
        Err(SelftestError {
            phase: Phase::Handshake,
            step: Step::ConsumeInitiation
        })
    );
    assert_eq!(
        transcript(&Faulty::new(&RustCrypto, Fault::XChachaSeal)),
        Err(SelftestError {
            phase: Phase::CookieReply,
            step: Step::ConsumeCookieReply
        })
    );
    assert_eq!(
        format!(
            "{}",
            SelftestError {
                phase: Phase::Data,
                step: Step::Payload
            }
        ),
        "Data: Payload"
    );
}

#[test]
fn scratch_size() {
    let n = core::mem::size_of::<Scratch>();
    eprintln!("size_of::<Scratch>() = {n}");
    // Heap-allocated by every caller (KBox in the module): it holds the two
    // peers' replay windows, 1 KiB each since the window has 8192 bits.
    assert!(n < 12 * 1024, "Scratch grew to {n} bytes");
}

/// Peak stack use of `f`, measured by painting the stack below the current
/// frame and looking for the deepest overwritten byte afterwards. Runs on a
/// fresh 1 MiB thread so the painted region is mapped and otherwise unused.
fn stack_use(f: impl FnOnce() + Send + 'static) -> usize {
    const SPAN: usize = 256 * 1024;
    const PAINT: u8 = 0xa5;
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            let marker = 0u8;
            let top = std::hint::black_box(&marker) as *const u8 as usize;
            // Leave room for this frame's own callee area (paint loop etc.).
            let top = top - 512;
            let bottom = top - SPAN;
            for a in bottom..top {
                // SAFETY (test tool): unused stack of this thread, below the
                // current frame and within its 1 MiB mapping.
                unsafe { std::ptr::write_volatile(a as *mut u8, PAINT) };
            }
            f();
            let mut deepest = top;
            for a in bottom..top {
                // SAFETY: as above; only reads.
                if unsafe { std::ptr::read_volatile(a as *const u8) } != PAINT {
                    deepest = a;
                    break;
                }
            }
            top + 512 - deepest
        })
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn stack_use_of_the_selftest() {
    // Allocated here, outside the measured thread: `Box::new(Scratch::new())`
    // may build the value on the stack first.
    let mut scratch = Box::new(Scratch::new());
    let with = stack_use(move || {
        assert_eq!(
            transcript_with(&RustCrypto, &mut scratch),
            Ok(TRANSCRIPT_DIGEST)
        );
    });
    let plain = stack_use(|| assert_eq!(transcript(&RustCrypto), Ok(TRANSCRIPT_DIGEST)));
    eprintln!(
        "stack use with RustCrypto: transcript_with {with} bytes, transcript {plain} bytes \
         (Scratch {} bytes)",
        core::mem::size_of::<Scratch>()
    );
    // The kernel runs it on a 16 KiB stack with lib/crypto, not RustCrypto:
    // the protocol core's own share is bounded by the Featherweight test
    // below. Most of this figure is curve25519-dalek's SIMD backend, so this
    // bound only guards against a gross regression; only optimised builds
    // are representative.
    if !cfg!(debug_assertions) {
        assert!(
            with < 12 * 1024,
            "transcript_with uses {with} bytes of stack"
        );
    }
}

/// A "provider" that costs next to no stack and is self-consistent (DH is
/// XOR, hashes fold their input, the AEAD is the identity with a zero tag),
/// so the exchange completes: measures the protocol core's own share.
struct Featherweight;

impl Crypto for Featherweight {
    fn blake2s(&self, out: &mut [u8], key: &[u8], data: &[&[u8]]) -> bool {
        out.fill(0x5a);
        let mut i = 0usize;
        for part in std::iter::once(key).chain(data.iter().copied()) {
            for b in part {
                let n = out.len();
                out[i % n] = out[i % n].rotate_left(3) ^ b;
                i += 1;
            }
        }
        true
    }
    fn chacha20poly1305_seal(&self, buf: &mut [u8], _: &[u8], _: u64, _: &[u8; 32]) -> bool {
        let Some(n) = buf.len().checked_sub(16) else {
            return false;
        };
        buf[n..].fill(0);
        true
    }
    fn chacha20poly1305_open(&self, buf: &mut [u8], _: &[u8], _: u64, _: &[u8; 32]) -> bool {
        buf.len() >= 16 && buf[buf.len() - 16..].iter().all(|b| *b == 0)
    }
    fn xchacha20poly1305_seal(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        _: &[u8; 24],
        k: &[u8; 32],
    ) -> bool {
        self.chacha20poly1305_seal(buf, ad, 0, k)
    }
    fn xchacha20poly1305_open(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        _: &[u8; 24],
        k: &[u8; 32],
    ) -> bool {
        self.chacha20poly1305_open(buf, ad, 0, k)
    }
    fn curve25519(&self, out: &mut [u8; 32], s: &[u8; 32], p: &[u8; 32]) -> bool {
        for ((o, a), b) in out.iter_mut().zip(s).zip(p) {
            *o = a ^ b;
        }
        out.iter().any(|b| *b != 0)
    }
    fn curve25519_generate_public(&self, out: &mut [u8; 32], s: &[u8; 32]) -> bool {
        *out = *s;
        true
    }
    fn random(&self, _: &mut [u8]) {}
}

#[test]
fn stack_use_of_the_protocol_core_alone() {
    assert!(transcript(&Featherweight).is_ok());
    let mut scratch = Box::new(Scratch::new());
    let used = stack_use(move || {
        assert!(transcript_with(&Featherweight, &mut scratch).is_ok());
    });
    eprintln!("stack use of transcript_with without real crypto: {used} bytes");
    if !cfg!(debug_assertions) {
        assert!(
            used < 5 * 1024,
            "transcript_with uses {used} bytes of stack"
        );
    }
}
