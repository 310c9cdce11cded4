//! The startup rehearsal: connscope runs the service's startup phases itself, against the same
//! dependencies, timed against the same budgets — so a failing phase can be reproduced from a
//! bastion host without the service's logs. Phases map by name (or, for the standard 7, by
//! position): init = the configuration; dependencies = DNS + TCP reach of every dependency;
//! database = the initialization probe; cache = TCP reach and Redis PING of `startup.cache`;
//! services = each endpoint's first health path; websocket = the WebSocket probe; finalize.
//! Like the service, it stops at the first failed phase; later phases are not reached.

use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::Ctx;
use super::conn::net;
use super::http::{HttpEndpoint, HttpParams};
use super::init::InitParams;
use super::ws::WsParams;
use crate::config::{Config, DbHost, DbTarget};
use crate::event::{EventBody, PhaseStatus, StartupPhase, StartupSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Init,
    Dependencies,
    Database,
    Cache,
    Services,
    WebSocket,
    Finalize,
}

const STANDARD: [(&str, Action); 7] = [
    ("init", Action::Init),
    ("dependencies", Action::Dependencies),
    ("database", Action::Database),
    ("cache", Action::Cache),
    ("services", Action::Services),
    ("websocket", Action::WebSocket),
    ("finalize", Action::Finalize),
];

fn action_for(name: &str, index: usize, count: usize) -> Option<Action> {
    let lower = name.to_ascii_lowercase();
    STANDARD
        .iter()
        .find(|(n, _)| lower.contains(n))
        .map(|(_, a)| *a)
        .or_else(|| (count == STANDARD.len()).then(|| STANDARD[index].1))
}

#[derive(Clone)]
pub struct RehearsalParams {
    phases: Vec<String>,
    target: Option<DbTarget>,
    init: Option<InitParams>,
    http: HttpParams,
    ws: WsParams,
    cache: Option<String>,
    reach_timeout: Duration,
    environment: String,
}

impl RehearsalParams {
    pub fn from_config(c: &Config) -> Self {
        let s = &c.settings;
        let init = c
            .database
            .as_ref()
            .and_then(|t| InitParams::from_config(c, t).ok());
        let mut http = HttpParams::from_settings(s);
        http.paths.truncate(1);
        Self {
            phases: s.startup.phases.iter().map(|p| p.name.clone()).collect(),
            target: c.database.clone(),
            init,
            http,
            ws: WsParams::from_settings(s),
            cache: s.startup.cache.clone(),
            reach_timeout: s.timeouts.connection,
            environment: s.environment.clone(),
        }
    }
}

async fn phase_event(
    ctx: &Ctx,
    n: usize,
    name: &str,
    status: PhaseStatus,
    message: Option<String>,
) -> bool {
    let phase = u8::try_from(n + 1).unwrap_or(u8::MAX);
    ctx.send(EventBody::StartupPhase(StartupPhase {
        source: StartupSource::Rehearsal,
        phase,
        name: name.to_string(),
        status,
        ts: Utc::now(),
        message: message.map(|m| crate::secret::scrub(&m).into_owned()),
    }))
    .await
}

pub async fn run(ctx: Ctx, p: RehearsalParams) {
    let count = p.phases.len();
    for (i, name) in p.phases.iter().enumerate() {
        if !phase_event(&ctx, i, name, PhaseStatus::Started, None).await {
            return;
        }
        let outcome = tokio::select! {
            r = perform(action_for(name, i, count), &p, &ctx) => r,
            () = ctx.cancel.cancelled() => return,
        };
        let (status, message) = match outcome {
            Ok(done) => done,
            Err(m) => (PhaseStatus::Failed, m),
        };
        if !phase_event(&ctx, i, name, status, Some(message)).await || status == PhaseStatus::Failed
        {
            return;
        }
    }
}

/// Completed or skipped (nothing to rehearse: never a pass it did not earn), with what it
/// found; or why it failed.
type Outcome = Result<(PhaseStatus, String), String>;

fn ran(message: impl Into<String>) -> Outcome {
    Ok((PhaseStatus::Completed, message.into()))
}

fn skipped(message: &str) -> Outcome {
    Ok((PhaseStatus::Skipped, message.into()))
}

/// `Ok(text)` ran, `Err(text)` failed.
fn outcome(r: Result<String, String>) -> Outcome {
    r.and_then(ran)
}

async fn perform(action: Option<Action>, p: &RehearsalParams, ctx: &Ctx) -> Outcome {
    match action {
        None => skipped("no rehearsal step for this phase"),
        Some(Action::Init) => ran(format!(
            "configuration loaded (environment {})",
            p.environment
        )),
        Some(Action::Dependencies) => dependencies(p).await,
        Some(Action::Database) => database(p).await,
        Some(Action::Cache) => cache(p).await,
        Some(Action::Services) => services(p, ctx).await,
        Some(Action::WebSocket) => websockets(p, ctx).await,
        Some(Action::Finalize) => ran("startup sequence complete"),
    }
}

/// Every host:port the service depends on, as (label, host, port).
fn dependency_list(p: &RehearsalParams) -> Vec<(String, String, u16)> {
    let mut deps = Vec::new();
    if let Some(DbTarget {
        host: DbHost::Tcp(h),
        port,
        ..
    }) = &p.target
    {
        deps.push(("database".to_string(), h.clone(), *port));
    }
    for e in &p.http.endpoints {
        if let Ok(u) = url::Url::parse(&e.url)
            && let (Some(h), Some(port)) = (u.host_str(), u.port_or_known_default())
        {
            deps.push((e.name.clone(), h.to_string(), port));
        }
    }
    if let Some((h, port)) = p.cache.as_deref().and_then(|c| c.rsplit_once(':')) {
        deps.push(("cache".into(), h.to_string(), port.parse().unwrap_or(6379)));
    }
    deps
}

async fn reach(host: &str, port: u16, limit: Duration) -> Result<(f64, f64), String> {
    let t = Instant::now();
    let addrs = tokio::time::timeout(limit, net::lookup(host, port))
        .await
        .map_err(|_| {
            format!(
                "DNS: no answer within {}",
                crate::config::duration::format(limit)
            )
        })?
        .map_err(|e| format!("DNS: {e}"))?;
    let dns = super::conn::connect::ms(t);
    let t = Instant::now();
    let first = addrs.first().copied().ok_or("DNS: no address")?;
    tokio::time::timeout(limit, TcpStream::connect(first))
        .await
        .map_err(|_| {
            format!(
                "TCP {first}: no connection within {}",
                crate::config::duration::format(limit)
            )
        })?
        .map_err(|e| format!("TCP {first}: {e}"))?;
    Ok((dns, super::conn::connect::ms(t)))
}

async fn dependencies(p: &RehearsalParams) -> Outcome {
    let deps = dependency_list(p);
    if deps.is_empty() {
        return skipped("no network dependencies configured");
    }
    let results = futures::future::join_all(
        deps.iter()
            .map(|(_, h, port)| reach(h, *port, p.reach_timeout)),
    )
    .await;
    let mut lines = Vec::new();
    let mut failed = false;
    for ((label, h, port), r) in deps.iter().zip(results) {
        match r {
            Ok((dns, tcp)) => lines.push(format!(
                "{label} {h}:{port} dns {dns:.1} ms, tcp {tcp:.1} ms"
            )),
            Err(e) => {
                failed = true;
                lines.push(format!("{label} {h}:{port} unreachable — {e}"));
            }
        }
    }
    let text = lines.join("; ");
    if failed { Err(text) } else { ran(text) }
}

async fn database(p: &RehearsalParams) -> Outcome {
    let Some(init) = &p.init else {
        return skipped("no database configured");
    };
    let r = super::init::check(init).await;
    match r.error {
        None => ran(format!("connected and warmed up in {:.1} ms", r.elapsed_ms)),
        Some(e) => {
            let step = e
                .step
                .map(|s| format!(" at {}", s.as_str()))
                .unwrap_or_default();
            Err(format!(
                "database initialization failed after {:.1} s: {}{step} — {}",
                r.elapsed_ms / 1000.0,
                e.class,
                e.message
            ))
        }
    }
}

async fn cache(p: &RehearsalParams) -> Outcome {
    let Some(addr) = &p.cache else {
        return skipped("no cache configured");
    };
    outcome(ping_cache(addr, p.reach_timeout).await)
}

/// TCP reach and a Redis `PING` of `host:port`.
async fn ping_cache(addr: &str, limit: Duration) -> Result<String, String> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("cache address `{addr}` is not host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("cache address `{addr}` has no valid port"))?;
    let addrs = tokio::time::timeout(limit, net::lookup(host, port))
        .await
        .map_err(|_| "DNS: no answer in time".to_string())?
        .map_err(|e| format!("DNS: {e}"))?;
    let first = addrs.first().copied().ok_or("DNS: no address")?;
    let t = Instant::now();
    let mut s = tokio::time::timeout(limit, TcpStream::connect(first))
        .await
        .map_err(|_| format!("cache {first}: no TCP connection in time"))?
        .map_err(|e| format!("cache {first}: {e}"))?;
    let tcp = super::conn::connect::ms(t);
    let ping = async {
        s.write_all(b"PING\r\n").await?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).await?;
        Ok::<_, std::io::Error>(buf[..n].starts_with(b"+PONG"))
    };
    match tokio::time::timeout(Duration::from_secs(2).min(limit), ping).await {
        Ok(Ok(true)) => Ok(format!(
            "cache {first}: tcp {tcp:.1} ms, PING answered PONG"
        )),
        _ => Ok(format!(
            "cache {first}: tcp {tcp:.1} ms (reachable; no Redis PONG)"
        )),
    }
}

async fn services(p: &RehearsalParams, ctx: &Ctx) -> Outcome {
    if p.http.endpoints.is_empty() {
        return skipped("no endpoints configured");
    }
    let checks = futures::future::join_all(
        p.http
            .endpoints
            .iter()
            .map(|e: &HttpEndpoint| super::http::check_path(ctx, &p.http, e, 0, 1)),
    )
    .await;
    let mut lines = Vec::new();
    let mut failed = false;
    for (e, c) in p.http.endpoints.iter().zip(checks) {
        let Some(c) = c else {
            return Err("cancelled".into());
        };
        failed |= !c.ok;
        let what = match (c.status, &c.error) {
            (Some(st), _) => format!("HTTP {st}"),
            (None, Some(f)) => format!("{} — {}", f.class, f.message),
            (None, None) => "no answer".into(),
        };
        lines.push(format!(
            "{} {}: {what} in {:.0} ms",
            e.name, c.path, c.latency_ms
        ));
    }
    let text = lines.join("; ");
    if failed { Err(text) } else { ran(text) }
}

async fn websockets(p: &RehearsalParams, ctx: &Ctx) -> Outcome {
    if p.ws.urls.is_empty() {
        return skipped("no WebSocket configured");
    }
    let mut lines = Vec::new();
    let mut failed = false;
    for url in &p.ws.urls {
        let Some(c) = super::ws::check(url, &p.ws, &ctx.cancel).await else {
            return Err("cancelled".into());
        };
        failed |= !c.ok;
        lines.push(match &c.error {
            None => format!(
                "{}: handshake {:.1} ms, round trip {:.1} ms",
                c.url,
                c.connect_ms.unwrap_or(0.0),
                c.rtt_ms.unwrap_or(0.0)
            ),
            Some(f) => format!("{}: {} — {}", c.url, f.class, f.message),
        });
    }
    let text = lines.join("; ");
    if failed { Err(text) } else { ran(text) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_map_by_name_then_by_position() {
        assert_eq!(action_for("Database", 0, 3), Some(Action::Database));
        assert_eq!(action_for("phase_4_cache", 1, 3), Some(Action::Cache));
        assert_eq!(action_for("warmup", 2, 7), Some(Action::Database));
        assert_eq!(action_for("warmup", 2, 3), None);
    }
}
