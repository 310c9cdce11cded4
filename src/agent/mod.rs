//! `connscope agent`: the probes of `watch` with no terminal, where the service runs, serving
//! what they measure — `/metrics` for Prometheus, `/events` for attached dashboards
//! (`watch --agent`), `/state` for scripts, `/healthz` for load balancers. It runs until
//! SIGTERM / SIGINT; then the server stops, every probe is cancelled and awaited (its
//! connections closed), within the same bounded shutdown as the rest of connscope.

pub(crate) mod auth;
pub(crate) mod hub;
pub(crate) mod metrics;
pub(crate) mod server;
pub(crate) mod tls;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{AgentError, AppResult};
use crate::exit::ExitCode;
use crate::probe::{Kind, Mode};
use crate::record::{Header, Recorder};
use crate::state::{State, StateConfig};
use crate::supervisor::Running;

/// The default port: 9466, beside the Prometheus exporters' range; `--listen` changes it.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:9466";
/// How long the server may take to finish its requests at shutdown.
const SERVER_GRACE: Duration = Duration::from_secs(5);

pub(crate) struct Options {
    pub listen: SocketAddr,
    pub token: Option<auth::Token>,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub force: bool,
}

/// `--listen`: an address and a port (`127.0.0.1:9466`, `[::1]:9466`, `0.0.0.0:9466`), or
/// `localhost:PORT`.
pub(crate) fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    match s.strip_prefix("localhost:").map(str::parse::<u16>) {
        Some(Ok(port)) => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
        _ => Err(format!(
            "expected ADDRESS:PORT such as 127.0.0.1:9466 or 0.0.0.0:9466, got `{s}`"
        )),
    }
}

/// Beyond loopback, only with a token: an agent tells anyone who asks how the database is
/// reached and what the service's health endpoints say.
pub(crate) fn check_exposure(
    listen: SocketAddr,
    token: Option<&auth::Token>,
) -> Result<(), AgentError> {
    if listen.ip().is_loopback() || token.is_some() {
        return Ok(());
    }
    Err(AgentError::Exposed(listen))
}

/// Runs the agent until a signal; the exit code (0, or 74 when the recording failed).
pub(crate) async fn run(
    config: Config,
    kinds: BTreeSet<Kind>,
    opts: Options,
    mut recorder: Option<Recorder>,
) -> AppResult<ExitCode> {
    let state_cfg = StateConfig::from_config(&config);
    let hub = hub::Hub::new(
        Header::new("agent", &config, &state_cfg),
        State::new(state_cfg),
    );
    let tcp = TcpListener::bind(opts.listen)
        .await
        .map_err(|source| AgentError::Listen {
            addr: opts.listen,
            source,
        })?;
    let bound = tcp.local_addr().map_err(AgentError::Socket)?;
    let (running, mut rx) = Running::start(&config, &kinds, Mode::Live, opts.force)?;
    let shutdown = CancellationToken::new();
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let server = spawn_server(
        tcp,
        opts.tls,
        server::router(hub.clone(), opts.token.clone(), shutdown.clone()),
        &shutdown,
    )?;
    announce(&kinds, &format!("{scheme}://{bound}"), opts.token.is_some());
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => ingest(&hub, recorder.as_mut(), &ev),
                None => break,
            },
            () = crate::signal::shutdown() => break,
        }
    }
    tracing::info!("agent: shutting down");
    shutdown.cancel();
    running.shutdown().await;
    while let Some(ev) = rx.try_recv() {
        ingest(&hub, recorder.as_mut(), &ev);
    }
    stop_server(server, &hub).await;
    Ok(match recorder {
        Some(r) if r.incomplete() => ExitCode::Pass.with_incomplete_recording(),
        _ => ExitCode::Pass,
    })
}

fn announce(kinds: &BTreeSet<Kind>, url: &str, token: bool) {
    let guard = if token {
        "bearer token required"
    } else {
        "no token: loopback only"
    };
    crate::output::stderr_line(&format!(
        "connscope agent: probing {}; serving /metrics /events /state /healthz on {url} ({guard})",
        kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
    ));
}

/// Waits for the server (already told to stop), then for attached dashboards to be told it is
/// going away (a close frame) before the process ends.
async fn stop_server(server: tokio::task::JoinHandle<()>, hub: &hub::Hub) {
    if tokio::time::timeout(SERVER_GRACE, server).await.is_err() {
        tracing::warn!("agent: the server did not stop within {SERVER_GRACE:?}");
    }
    let closing = async {
        while hub.clients() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
}

fn ingest(hub: &hub::Hub, recorder: Option<&mut Recorder>, ev: &crate::event::Event) {
    if let Some(r) = recorder {
        r.write(ev);
    }
    hub.ingest(ev);
}

fn spawn_server(
    tcp: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: axum::Router,
    shutdown: &CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, AgentError> {
    let stop = shutdown.clone().cancelled_owned();
    Ok(match tls {
        Some(cfg) => {
            let listener = tls::TlsListener::start(tcp, cfg, shutdown.clone())
                .map_err(AgentError::TlsListener)?;
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    tracing::warn!("agent server: {e}");
                }
            })
        }
        None => tokio::spawn(async move {
            if let Err(e) = axum::serve(tcp, app).with_graceful_shutdown(stop).await {
                tracing::warn!("agent server: {e}");
            }
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_parse_and_exposure_needs_a_token() {
        let a = parse_listen("127.0.0.1:9466").expect("parses");
        assert!(check_exposure(a, None).is_ok());
        assert!(check_exposure(parse_listen("[::1]:1").expect("v6"), None).is_ok());
        assert_eq!(
            parse_listen("localhost:80").expect("localhost"),
            SocketAddr::from(([127, 0, 0, 1], 80))
        );
        let wide = parse_listen("0.0.0.0:9466").expect("parses");
        let e = check_exposure(wide, None).expect_err("refused");
        assert_eq!(e.exit_code(), ExitCode::Config);
        assert!(e.to_string().contains("without a token"), "{e}");
        assert!(check_exposure(wide, Some(&auth::Token::new("t"))).is_ok());
        assert!(parse_listen("9466").is_err());
        assert!(parse_listen("example.com:9466").is_err());
    }
}
