//! Colour handling of wg's terminal.c: ANSI sequences are emitted when
//! `WG_COLOR_MODE=always`, or stdout is a terminal and the mode is not
//! `never`; otherwise they are filtered out of the formatted text.

pub const RESET: &str = "\x1b[0m";
pub const BOLD: &str = "\x1b[1m";
pub const FG_RED: &str = "\x1b[31m";
pub const FG_GREEN: &str = "\x1b[32m";
pub const FG_YELLOW: &str = "\x1b[33m";
pub const FG_CYAN: &str = "\x1b[36m";

/// Whether to keep colours, from `WG_COLOR_MODE` and whether stdout is a tty.
pub fn color_mode() -> bool {
    match std::env::var_os("WG_COLOR_MODE") {
        Some(v) if v == "always" => true,
        Some(v) if v == "never" => false,
        _ => crate::sys::stdout_is_tty(),
    }
}

/// Removes ANSI CSI sequences the way terminal.c's `filter_ansi()` does: an
/// `ESC [` starting before the last two bytes, up to and including the next
/// ASCII letter (or to the end of the text if there is none).
pub fn filter_ansi(s: &str) -> String {
    let b = s.as_bytes();
    let len = b.len();
    let mut keep = vec![true; len];
    if len >= 2 {
        let mut i = 0;
        while i < len - 2 {
            if keep[i] && b[i] == 0x1b && b[i + 1] == b'[' {
                keep[i] = false;
                keep[i + 1] = false;
                let mut j = i + 2;
                while j < len {
                    let alpha = b[j].is_ascii_alphabetic();
                    keep[j] = false;
                    if alpha {
                        break;
                    }
                    j += 1;
                }
            }
            i += 1;
        }
    }
    let out: Vec<u8> = b
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(c, _)| *c)
        .collect();
    String::from_utf8_lossy(&out).into_owned()
}

/// Text as it must be printed in the current colour mode.
pub fn render(s: &str, color: bool) -> String {
    if color {
        s.to_owned()
    } else {
        filter_ansi(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_like_terminal_c() {
        assert_eq!(filter_ansi("\x1b[0m"), "");
        assert_eq!(
            filter_ansi("\x1b[32m\x1b[1minterface\x1b[0m: x\n"),
            "interface: x\n"
        );
        assert_eq!(filter_ansi("plain"), "plain");
        // An ESC [ in the last two bytes is left alone, like the C loop bound.
        assert_eq!(filter_ansi("ab\x1b["), "ab\x1b[");
        // No terminating letter: everything after is dropped.
        assert_eq!(filter_ansi("a\x1b[123"), "a");
    }
}
