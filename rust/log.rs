// SPDX-License-Identifier: GPL-2.0

//! Lifetime log lines ("wg0: Peer 3 created", ...), as the C driver prints
//! them in its debug build, and the timers' handshake decisions (retries,
//! new handshakes after silence), behind the module parameter `debug`
//! (`/sys/module/wgrs/parameters/debug`). The upstream selftest pairs the
//! lifetime lines to find leaks. Never used per packet.

/// Whether lifetime logging is on.
pub(crate) fn enabled() -> bool {
    crate::abstractions::debug_param()
}

/// The printable part of a NUL-padded interface name.
pub(crate) fn ifname(name: &[u8; 16]) -> &str {
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    core::str::from_utf8(name.get(..end).unwrap_or(&[])).unwrap_or("?")
}

/// Logs a lifetime event at KERN_DEBUG when `debug` is on.
macro_rules! lifetime {
    ($($arg:tt)*) => {
        if $crate::log::enabled() {
            kernel::print_macro!(kernel::print::format_strings::DEBUG, false, $($arg)*);
        }
    };
}
pub(crate) use lifetime;
