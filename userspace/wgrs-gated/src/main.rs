//! `wgrs-gated [--config FILE]` runs the agent;
//! `wgrs-gated --check-config [FILE]` validates a configuration and prints
//! it with every default filled in.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::json;
use wgrs_gate_netlink::{GateClient, GateKernel};
use wgrs_gate_state::config::DEFAULT_CONFIG_PATH;
use wgrs_gate_state::{Audit, Config, Store};
use wgrs_gated::agent::{spawn_event_thread, system_clock};
use wgrs_gated::{Agent, DeviceCtx, NetlinkPeers};

const USAGE: &str = "Usage: wgrs-gated [--config FILE]
       wgrs-gated --check-config [FILE]

Runs the wgrs gate agent: TOTP second factor for the gated WireGuard
devices named in the configuration (default /etc/wgrs/gated.toml).
See wgrs-gated(8) and gated.toml(5).
";

enum Mode {
    Run(PathBuf),
    Check(PathBuf),
}

fn parse_args(args: &[String]) -> anyhow::Result<Option<Mode>> {
    let default = || PathBuf::from(DEFAULT_CONFIG_PATH);
    match args {
        [] => Ok(Some(Mode::Run(default()))),
        [h] if h == "-h" || h == "--help" => Ok(None),
        [v] if v == "-V" || v == "--version" => {
            println!("wgrs-gated {}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0);
        }
        [c] if c == "--check-config" => Ok(Some(Mode::Check(default()))),
        [c, f] if c == "--check-config" => Ok(Some(Mode::Check(PathBuf::from(f)))),
        [c, f] if c == "--config" => Ok(Some(Mode::Run(PathBuf::from(f)))),
        _ => bail!("bad arguments\n{USAGE}"),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mode = match parse_args(&args) {
        Ok(Some(m)) => m,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("wgrs-gated: {e:#}");
            return ExitCode::from(2);
        }
    };
    let res = match mode {
        Mode::Check(path) => check(&path),
        Mode::Run(path) => run(&path),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wgrs-gated: {e:#}");
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Status("failed")]);
            ExitCode::FAILURE
        }
    }
}

fn check(path: &Path) -> anyhow::Result<()> {
    let cfg = Config::load(path)?;
    if cfg.devices.is_empty() {
        eprintln!(
            "wgrs-gated: warning: {}: no [[device]]: nothing is gated",
            path.display()
        );
    }
    print!(
        "# effective configuration of {}\n{}",
        path.display(),
        cfg.to_toml()?
    );
    Ok(())
}

fn run(path: &Path) -> anyhow::Result<()> {
    let cfg = Config::load(path)?;
    if cfg.devices.is_empty() {
        bail!("{}: no [[device]] to gate", path.display());
    }
    let audit = Audit::stdout();
    let kernel: Arc<dyn GateKernel> = Arc::new(GateClient::open()?);
    // Subscribe before the first read, so nothing falls between the two.
    let stream = kernel.events()?;

    let mut stores: HashMap<PathBuf, Arc<Store>> = HashMap::new();
    let mut devices = Vec::new();
    for d in &cfg.devices {
        let ifindex = wgrs_gate_netlink::ifindex(&d.name)
            .with_context(|| format!("gated device {}", d.name))?;
        let store = match stores.get(&d.state_db) {
            Some(s) => Arc::clone(s),
            None => {
                let s = Arc::new(Store::open(&d.state_db)?);
                stores.insert(d.state_db.clone(), Arc::clone(&s));
                s
            }
        };
        devices.push(DeviceCtx::new(d.clone(), ifindex, store));
    }
    let agent = Arc::new(Agent {
        kernel: Arc::clone(&kernel),
        peers: Arc::new(NetlinkPeers),
        devices,
        rate: cfg.rate,
        http: cfg.http,
        audit: audit.clone(),
        clock: system_clock(),
        resolver: Some(wgrs_gate_netlink::ifindex),
    });
    agent.startup()?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        let mut listeners = Vec::new();
        for (i, d) in agent.devices.iter().enumerate() {
            for (addr, wildcard) in wgrs_gated::server::listen_addrs(&d.cfg.listen, d.cfg.auth_port)
            {
                match wgrs_gated::server::bind(addr, Some(&d.cfg.name)) {
                    Ok(l) => {
                        agent.audit.log(
                            "listening",
                            &[
                                ("device", json!(d.cfg.name)),
                                ("address", json!(addr.to_string())),
                            ],
                        );
                        listeners.push((i, l));
                    }
                    // The IPv6 wildcard fails where IPv6 is off: fine.
                    Err(e) if wildcard && addr.is_ipv6() => agent.audit.log(
                        "warning",
                        &[
                            ("device", json!(d.cfg.name)),
                            ("error", json!(format!("{e:#}"))),
                        ],
                    ),
                    Err(e) => return Err(e.context(format!("{}: auth page", d.cfg.name))),
                }
            }
        }
        for (i, l) in listeners {
            let app = wgrs_gated::http::router(Arc::clone(&agent), i);
            tokio::spawn(wgrs_gated::server::serve(l, app, agent.http));
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        spawn_event_thread(Arc::clone(&agent.kernel), stream, tx, agent.audit.clone());
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        agent
            .audit
            .log("started", &[("devices", json!(agent.devices.len()))]);

        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("SIGTERM handler")?;
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(ev) => {
                        let a = Arc::clone(&agent);
                        tokio::task::spawn_blocking(move || a.handle_event(&ev))
                            .await
                            .context("event worker")?;
                    }
                    None => bail!("the event thread stopped"),
                },
                _ = tick.tick() => {
                    let a = Arc::clone(&agent);
                    let _ = tokio::task::spawn_blocking(move || a.drain_audit()).await;
                }
                _ = term.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
            }
        }
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        agent.drain_audit();
        agent.audit.log("stopped", &[]);
        Ok(())
    })
}
