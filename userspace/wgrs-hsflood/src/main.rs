// SPDX-License-Identifier: GPL-2.0

//! `wgrs-hsflood`: a WireGuard handshake-initiation flood generator, for the
//! benchmark figure "handshakes completed per second under an initiation
//! flood from many sources, with and without cookies engaged".
//!
//! ```text
//! wgrs-hsflood --target IP:PORT --server-public KEY_B64 --keys FILE
//!              --sources IP[,IP...] --seconds S [--cookies] [--rate N]
//!              [--replay N]
//! ```
//!
//! * `--keys FILE`: one base64 private key per line (empty lines and `#`
//!   comments ignored): the initiators' static keys, which the responder
//!   must have as peers.
//! * Initiators: `max(keys, sources)` of them, initiator `i` using key
//!   `i mod K` and source `i mod S`, each with its own UDP socket bound to
//!   `SOURCE:0` and connected to the target, and its own handshake and
//!   cookie state (the responder's cookie is per source address and port).
//! * Sends initiations round-robin over the initiators, as fast as one
//!   thread can (or `--rate N` per second in total), for `S` seconds, and
//!   drains the same non-blocking sockets in between. Every initiation is a
//!   fresh `create_initiation` (new ephemeral key) with the wall-clock time
//!   as TAI64N at full nanosecond resolution, strictly increasing per key
//!   (the responder rejects a timestamp not above the last one it took).
//!   The last [`flood::SLOTS`] initiations of each initiator are kept, so a
//!   response to any of them completes a handshake.
//! * Without `--cookies` cookie replies are counted and ignored (an attacker
//!   that does not do cookies: mac1 only); with it they are consumed, and
//!   the initiator's later initiations carry a valid mac2 (a cookie-aware
//!   attacker, which only the responder's per-source rate limiter bounds).
//! * `--replay N`: each new initiation goes out N + 1 times. The copies
//!   cost the flood a send each but the responder two X25519 operations
//!   before its timestamp check rejects them, so a responder that keeps up
//!   with what one thread can make fresh still comes under load (cookies
//!   engaged) when the copies are added.
//!
//! Prints on stdout
//!
//! ```text
//! hsflood sent <n> cookie_replies <n> responses <n> seconds <float> hs_per_s <float>
//! ```
//!
//! where `responses` counts handshake responses that `consume_response`
//! accepts (handshakes completed, including those arriving within 250 ms
//! after the flood), `seconds` is the flood's duration and `hs_per_s =
//! responses / seconds`; and a line of details on stderr. Exit status 0
//! after a flood (whatever came back), 1 on errors (arguments, key file,
//! sockets).

mod args;
mod b64;
mod flood;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::process::ExitCode;

/// Writes a line to stdout; `false` if that failed (closed pipe...).
fn out(line: &str) -> bool {
    let mut o = std::io::stdout().lock();
    writeln!(o, "{line}").and_then(|()| o.flush()).is_ok()
}

fn main() -> ExitCode {
    let cfg = match args::parse(std::env::args().skip(1)) {
        Ok(args::Command::Help) => {
            let _ = out(args::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(args::Command::Run(c)) => c,
        Err(e) => {
            eprintln!("wgrs-hsflood: {e}");
            return ExitCode::from(1);
        }
    };
    let ids = match args::read_keys(&cfg.keys) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("wgrs-hsflood: {e}");
            return ExitCode::from(1);
        }
    };
    let started = |n: usize| {
        eprintln!(
            "wgrs-hsflood: flooding {} from {} initiators for {:.3} s{}{}",
            cfg.target,
            n,
            cfg.duration.as_secs_f64(),
            if cfg.cookies { ", with cookies" } else { "" },
            cfg.rate.map(|r| format!(", {r}/s")).unwrap_or_default()
        );
    };
    match flood::run(&cfg, ids, started) {
        Ok(r) => {
            eprintln!("{}", r.details());
            if out(&r.line()) {
                ExitCode::SUCCESS
            } else {
                eprintln!("wgrs-hsflood: cannot write the result to stdout");
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("wgrs-hsflood: {e}");
            ExitCode::from(1)
        }
    }
}
