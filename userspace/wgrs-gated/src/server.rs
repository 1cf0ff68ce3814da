//! Listening sockets bound to a device (`SO_BINDTODEVICE`) and the
//! connection loop: HTTP/1.1 on hyper with a header read timeout
//! (slowloris), a deadline for the whole connection, a cap on concurrent
//! connections; the request body limit is the router's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use wgrs_gate_state::HttpConfig;

use crate::http::ConnInfo;

/// A TCP listener on `addr`, bound to `device` if given.
pub fn bind(addr: SocketAddr, device: Option<&str>) -> anyhow::Result<TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .context("socket")?;
    sock.set_reuse_address(true).context("SO_REUSEADDR")?;
    if addr.is_ipv6() {
        sock.set_only_v6(true).context("IPV6_V6ONLY")?;
    }
    if let Some(dev) = device {
        sock.bind_device(Some(dev.as_bytes()))
            .with_context(|| format!("SO_BINDTODEVICE {dev}"))?;
    }
    sock.set_nonblocking(true).context("O_NONBLOCK")?;
    sock.bind(&addr.into())
        .with_context(|| format!("bind {addr}"))?;
    sock.listen(128)
        .with_context(|| format!("listen on {addr}"))?;
    TcpListener::from_std(sock.into()).context("register the listener")
}

/// The addresses to listen on: the configured ones, or both wildcards.
pub fn listen_addrs(listen: &[IpAddr], port: u16) -> Vec<(SocketAddr, bool)> {
    if listen.is_empty() {
        vec![
            (
                SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
                true,
            ),
            (
                SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
                true,
            ),
        ]
    } else {
        listen
            .iter()
            .map(|a| (SocketAddr::new(*a, port), false))
            .collect()
    }
}

/// Serves `app` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, app: Router, limits: HttpConfig) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let header_timeout = Duration::from_secs(limits.header_timeout_seconds);
    let deadline = Duration::from_secs(limits.request_timeout_seconds);
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (stream, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                // EMFILE and friends: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(local) = stream.local_addr() else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let info = ConnInfo { remote, local };
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(info);
                app.clone().oneshot(req)
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(16 * 1024);
            let conn = builder.serve_connection(TokioIo::new(stream), svc);
            // Past the deadline the connection is dropped, whatever it does.
            let _ = tokio::time::timeout(deadline, conn).await;
        });
    }
}
