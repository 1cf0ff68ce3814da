//! The few libc facilities whose exact behaviour wg(8) exposes: getaddrinfo
//! (name/port resolution and its error strings), inet_pton, if_indextoname,
//! strerror, isatty and fstat. All `unsafe` of the CLI lives here.

use std::ffi::{CStr, CString};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// `strerror(errno)` text, without Rust's " (os error N)" suffix.
pub fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// `gai_strerror(code)`.
pub fn gai_strerror(code: i32) -> String {
    // SAFETY: gai_strerror returns a pointer to a static, NUL-terminated
    // string for any code.
    unsafe { CStr::from_ptr(libc::gai_strerror(code)) }
        .to_string_lossy()
        .into_owned()
}

/// A getaddrinfo failure: the `EAI_*` code and the message wg prints for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaiError {
    pub code: i32,
    pub message: String,
}

/// Permanent getaddrinfo failures (no point retrying).
pub fn gai_is_permanent(code: i32) -> bool {
    code == libc::EAI_NONAME || code == libc::EAI_FAIL || code == libc::EAI_NODATA
}

/// First result of `getaddrinfo(host, service)` for UDP, as wg asks for it.
/// `Ok(None)` when the first result is neither IPv4 nor IPv6.
pub fn getaddrinfo(
    host: Option<&str>,
    service: &str,
    passive: bool,
) -> Result<Option<SocketAddr>, GaiError> {
    let bad = || GaiError {
        code: libc::EAI_NONAME,
        message: gai_strerror(libc::EAI_NONAME),
    };
    let c_host = match host {
        Some(h) => Some(CString::new(h).map_err(|_| bad())?),
        None => None,
    };
    let c_service = CString::new(service).map_err(|_| bad())?;
    // SAFETY: addrinfo is a plain C struct for which all-zero is valid.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_DGRAM;
    hints.ai_protocol = libc::IPPROTO_UDP;
    if passive {
        hints.ai_flags = libc::AI_PASSIVE;
    }
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: all pointers are valid NUL-terminated strings or null, hints is
    // initialised and res is a valid out-pointer.
    let ret = unsafe {
        libc::getaddrinfo(
            c_host.as_ref().map_or(std::ptr::null(), |h| h.as_ptr()),
            c_service.as_ptr(),
            &hints,
            &mut res,
        )
    };
    if ret != 0 {
        let message = if ret == libc::EAI_SYSTEM {
            strerror(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            gai_strerror(ret)
        };
        return Err(GaiError { code: ret, message });
    }
    // SAFETY: on success res points to at least one valid addrinfo whose
    // ai_addr holds ai_addrlen bytes; it is freed exactly once below.
    let out = unsafe {
        let ai = &*res;
        let out = if ai.ai_family == libc::AF_INET
            && ai.ai_addrlen as usize == std::mem::size_of::<libc::sockaddr_in>()
        {
            let sin = &*(ai.ai_addr as *const libc::sockaddr_in);
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        } else if ai.ai_family == libc::AF_INET6
            && ai.ai_addrlen as usize == std::mem::size_of::<libc::sockaddr_in6>()
        {
            let sin6 = &*(ai.ai_addr as *const libc::sockaddr_in6);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            )))
        } else {
            None
        };
        libc::freeaddrinfo(res);
        out
    };
    Ok(out)
}

extern "C" {
    // POSIX, in every libc; the libc crate does not bind it.
    fn inet_pton(af: libc::c_int, src: *const libc::c_char, dst: *mut libc::c_void) -> libc::c_int;
}

/// `inet_pton(AF_INET, s)`.
pub fn inet_pton4(s: &str) -> Option<Ipv4Addr> {
    let c = CString::new(s).ok()?;
    let mut buf = [0u8; 4];
    // SAFETY: c is NUL-terminated, buf has room for a struct in_addr.
    let r = unsafe { inet_pton(libc::AF_INET, c.as_ptr(), buf.as_mut_ptr().cast()) };
    (r == 1).then(|| Ipv4Addr::from(buf))
}

/// `inet_pton(AF_INET6, s)`.
pub fn inet_pton6(s: &str) -> Option<Ipv6Addr> {
    let c = CString::new(s).ok()?;
    let mut buf = [0u8; 16];
    // SAFETY: c is NUL-terminated, buf has room for a struct in6_addr.
    let r = unsafe { inet_pton(libc::AF_INET6, c.as_ptr(), buf.as_mut_ptr().cast()) };
    (r == 1).then(|| Ipv6Addr::from(buf))
}

/// `if_indextoname(index)`.
pub fn if_indextoname(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes as the function requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success buf holds a NUL-terminated name.
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// `isatty(STDOUT_FILENO)`.
pub fn stdout_is_tty() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(libc::STDOUT_FILENO) == 1 }
}

/// Whether stdout is a regular file that others may access (genkey warns).
pub fn stdout_is_world_accessible_file() -> bool {
    // SAFETY: stat is plain data; fstat fills it or fails.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid out-pointer.
    let r = unsafe { libc::fstat(libc::STDOUT_FILENO, &mut st) };
    r == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFREG && st.st_mode & libc::S_IRWXO != 0
}

/// `time(NULL)`.
pub fn now() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Restores the default SIGPIPE action, so `wgrs show | head` ends quietly
/// like a C program instead of reporting EPIPE.
pub fn default_sigpipe() {
    // SAFETY: setting a signal disposition to SIG_DFL has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `inet_ntop(AF_INET6)` as glibc formats it: longest run (>= 2) of zero
/// groups compressed, first run on ties, and the last 32 bits as IPv4 for
/// `::a.b.c.d` and `::ffff:a.b.c.d`.
pub fn ntop6(ip: &Ipv6Addr) -> String {
    let w = ip.segments();
    let (mut best_base, mut best_len) = (None::<usize>, 0usize);
    let mut cur: Option<(usize, usize)> = None;
    for (i, &word) in w.iter().enumerate() {
        if word == 0 {
            cur = Some(match cur {
                Some((b, l)) => (b, l + 1),
                None => (i, 1),
            });
        } else {
            cur = None;
        }
        if let Some((b, l)) = cur {
            if l > best_len {
                best_base = Some(b);
                best_len = l;
            }
        }
    }
    if best_len < 2 {
        best_base = None;
    }
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some(b) = best_base {
            if i >= b && i < b + best_len {
                if i == b {
                    out.push(':');
                }
                i += 1;
                continue;
            }
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && best_base == Some(0) && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let o = ip.octets();
            out.push_str(&format!("{}.{}.{}.{}", o[12], o[13], o[14], o[15]));
            return out;
        }
        out.push_str(&format!("{:x}", w[i]));
        i += 1;
    }
    if best_base.is_some_and(|b| b + best_len == 8) {
        out.push(':');
    }
    out
}

/// An endpoint as wg prints it (getnameinfo with NI_NUMERICHOST |
/// NI_NUMERICSERV): `a.b.c.d:port` or `[v6%scope]:port`, where a scope is an
/// interface name for link-local addresses when it resolves.
pub fn format_endpoint(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => {
            let mut host = ntop6(a.ip());
            if a.scope_id() != 0 {
                let seg0 = a.ip().segments()[0];
                let link_local = (seg0 & 0xffc0) == 0xfe80 || (seg0 & 0xff0f) == 0xff02;
                let scope = if link_local {
                    if_indextoname(a.scope_id())
                } else {
                    None
                };
                host.push('%');
                host.push_str(&scope.unwrap_or_else(|| a.scope_id().to_string()));
            }
            format!("[{host}]:{}", a.port())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntop6_matches_glibc() {
        let cases = [
            ("::", "::"),
            ("::1", "::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("2001:0:0:1:0:0:1:1", "2001::1:0:0:1:1"),
            ("1:0:1:1:1:1:1:1", "1:0:1:1:1:1:1:1"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("fe80::", "fe80::"),
            ("fd00::abcd:0:0", "fd00::abcd:0:0"),
            ("1::", "1::"),
        ];
        for (input, want) in cases {
            let ip: Ipv6Addr = input.parse().expect("literal");
            assert_eq!(ntop6(&ip), want, "{input}");
        }
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            format_endpoint(&"192.0.2.1:51820".parse().expect("lit")),
            "192.0.2.1:51820"
        );
        assert_eq!(
            format_endpoint(&"[2001:db8::1]:1".parse().expect("lit")),
            "[2001:db8::1]:1"
        );
        assert_eq!(
            format_endpoint(&"[2001:db8::1%7]:1".parse().expect("lit")),
            "[2001:db8::1%7]:1"
        );
        assert_eq!(
            format_endpoint(&"[fe80::1%4000000]:1".parse().expect("lit")),
            "[fe80::1%4000000]:1"
        );
    }

    #[test]
    fn pton() {
        assert_eq!(inet_pton4("10.0.0.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_pton4("10.0.0"), None);
        assert_eq!(inet_pton4("10.0.0.256"), None);
        assert_eq!(inet_pton6("fd00::1"), "fd00::1".parse().ok());
        assert_eq!(inet_pton6("fd00:::1"), None);
    }
}
