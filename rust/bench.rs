// SPDX-License-Identifier: GPL-2.0

//! In-module microbenchmarks for `make bench`, run at load time when the
//! module is loaded with `bench=1` (never otherwise; `bench=2` is the quick
//! version `make check`'s smoke run uses: 0.1 s crypto runs, no 1M trie):
//!
//! - the physical limit of the tunnel: lib/crypto ChaCha20-Poly1305 sealing
//!   and opening full-size messages on the CPU that loads the module;
//! - the allowed-IPs trie: nanoseconds per longest-prefix lookup with 1, 1k
//!   and 1M IPv4 prefixes.
//!
//! Every result is one kernel log line
//! `wgrs: bench: <figure> <value> <unit>`, which the benchmark's script
//! reads back. A benchmark that cannot allocate what it needs logs that and
//! is skipped; the module loads either way.

use crate::abstractions::crypto::{aead_open, aead_seal, KEY_LEN, TAG_LEN};
use crate::abstractions::rcu;
use crate::abstractions::trie::RcuTrie;
use kernel::prelude::*;
use kernel::time::{Instant, Monotonic};

/// Payload of a full-size message inside a 1420-byte MTU tunnel.
const MESSAGE: usize = 1424;
/// How long each crypto figure runs, in nanoseconds (full, quick).
const CRYPTO_NS: [i64; 2] = [1_000_000_000, 100_000_000];
/// Lookups per trie figure (full, quick).
const LOOKUPS: [u32; 2] = [1 << 20, 1 << 16];

/// xorshift64*: the same deterministic stream for every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn v4(&mut self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..4].copy_from_slice(&(self.next() as u32).to_be_bytes());
        k
    }
}

/// Runs every benchmark (`quick`: the short version), logging one line per
/// figure.
pub(crate) fn run(quick: bool) {
    pr_info!("bench: starting ({})\n", if quick { "quick" } else { "full" });
    if let Err(e) = crypto(CRYPTO_NS[usize::from(quick)]) {
        pr_warn!("bench: crypto skipped: {:?}\n", e);
    }
    let sizes: &[u32] = if quick { &[1, 1_000] } else { &[1, 1_000, 1_000_000] };
    for &n in sizes {
        if let Err(e) = trie(n, LOOKUPS[usize::from(quick)]) {
            pr_warn!("bench: allowedips_{} skipped: {:?}\n", n, e);
        }
    }
    pr_info!("bench: done\n");
}

/// Bytes per second of `op` over `MESSAGE`-byte messages, run for about
/// `run_ns` (the clock is read every 64 messages).
fn rate(buf: &mut [u8], run_ns: i64, mut op: impl FnMut(&mut [u8], u64) -> Result) -> Result<u64> {
    let start = Instant::<Monotonic>::now();
    let mut messages: u64 = 0;
    loop {
        for _ in 0..64 {
            op(buf, messages)?;
            messages = messages.wrapping_add(1);
        }
        let ns = start.elapsed().as_nanos();
        if ns >= run_ns {
            let bytes = messages.saturating_mul(MESSAGE as u64);
            return Ok(bytes.saturating_mul(1_000_000_000) / (ns as u64));
        }
    }
}

fn crypto(run_ns: i64) -> Result {
    let key = [0x5au8; KEY_LEN];
    let mut buf = KVec::from_elem(0u8, MESSAGE + TAG_LEN, GFP_KERNEL)?;
    let seal = rate(&mut buf, run_ns, |b, n| aead_seal(b, &[], n, &key))?;
    // Open one fixed sealed message over and over (the tag is checked, the
    // plaintext written back and sealed again so each open verifies).
    aead_seal(&mut buf, &[], 0, &key)?;
    let mut sealed = KVec::from_elem(0u8, MESSAGE + TAG_LEN, GFP_KERNEL)?;
    sealed.copy_from_slice(&buf);
    let open = rate(&mut buf, run_ns, |b, _| {
        b.copy_from_slice(&sealed);
        aead_open(b, &[], 0, &key)
    })?;
    pr_info!("bench: crypto_seal {} MB/s\n", seal / 1_000_000);
    pr_info!("bench: crypto_open {} MB/s\n", open / 1_000_000);
    Ok(())
}

/// `n` IPv4 prefixes (random, /8 to /32), then `lookups` lookups of random
/// addresses, each under its own RCU read-side section as on the data path.
fn trie(n: u32, lookups: u32) -> Result {
    let t = KBox::pin_init(RcuTrie::<u32>::new(32), GFP_KERNEL)?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..n {
        let cidr = 8 + (rng.next() % 25) as u8;
        let key = rng.v4();
        t.insert(&key, cidr, i)?;
    }
    let mut found: u32 = 0;
    let start = Instant::<Monotonic>::now();
    for _ in 0..lookups {
        let addr = rng.v4();
        let g = rcu::read_lock();
        if t.lookup(&addr, &g).is_some() {
            found = found.wrapping_add(1);
        }
    }
    let ns = start.elapsed().as_nanos();
    // Per lookup, in tenths of a nanosecond for one decimal.
    let tenths = (ns as u64).saturating_mul(10) / u64::from(lookups.max(1));
    pr_info!(
        "bench: allowedips_{} {}.{} ns ({} of {} lookups matched)\n",
        n,
        tenths / 10,
        tenths % 10,
        found,
        lookups
    );
    t.clear_sync();
    Ok(())
}
