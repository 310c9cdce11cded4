//! The initialization probe: what the service's startup phase 3 does — connect and warm up
//! within the initialization timeout (75 s on staging) — timed by step like any attempt, so a
//! timeout says which step it hung in.

use std::time::Duration;

use tokio::time::Instant;

use super::conn::classify;
use super::conn::connect::{self, ConnectParams, Session, pg_failure};
use super::{Control, Ctx, Mode};
use crate::config::{Config, DbTarget};
use crate::event::{EventBody, Failure, InitResult, Step};

#[derive(Clone)]
pub struct InitParams {
    pub target: DbTarget,
    pub connect: ConnectParams,
}

impl InitParams {
    pub fn from_config(c: &Config, target: &DbTarget) -> Result<Self, String> {
        let s = &c.settings;
        let connect = ConnectParams::new(
            target,
            s.timeouts.initialization,
            s.database.statement_timeout,
        )?;
        Ok(Self {
            target: target.clone(),
            connect,
        })
    }
}

struct Warm {
    ms: f64,
    version: Option<String>,
    max_connections: Option<u32>,
}

async fn show(s: &Session, setting: &str) -> Result<Option<String>, tokio_postgres::Error> {
    let rows = s.client.simple_query(&format!("SHOW {setting}")).await?;
    Ok(rows.into_iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    }))
}

async fn warm_up(s: &Session, remaining: Duration) -> Result<Warm, Failure> {
    let t = Instant::now();
    let work = async {
        s.client.simple_query("SELECT 1").await?;
        let version = show(s, "server_version").await?;
        let max = show(s, "max_connections")
            .await?
            .and_then(|v| v.parse().ok());
        Ok::<_, tokio_postgres::Error>((version, max))
    };
    match tokio::time::timeout(remaining, work).await {
        Ok(Ok((version, max_connections))) => Ok(Warm {
            ms: connect::ms(t),
            version,
            max_connections,
        }),
        Ok(Err(e)) => Err(pg_failure(Step::Query, &e)),
        Err(_) => Err(classify::timeout(Step::Query, remaining)),
    }
}

pub async fn check(p: &InitParams) -> InitResult {
    let start = Instant::now();
    let a = connect::attempt(&p.target, &p.connect).await;
    let (warm, error) = match a.result {
        Ok(session) => {
            let remaining = p.connect.timeout.saturating_sub(start.elapsed());
            let w = warm_up(&session, remaining).await;
            session.close().await;
            match w {
                Ok(w) => (Some(w), None),
                Err(f) => (None, Some(f)),
            }
        }
        Err(f) => (None, Some(f)),
    };
    InitResult {
        ok: error.is_none(),
        elapsed_ms: connect::ms(start),
        timeout_ms: p.connect.timeout.as_secs_f64() * 1000.0,
        steps_ms: a.steps,
        warmup_ms: warm.as_ref().map(|w| w.ms),
        server_version: warm.as_ref().and_then(|w| w.version.clone()),
        server_max_connections: warm.and_then(|w| w.max_connections),
        error,
    }
}

/// `check`: once. `watch`: again every initialization timeout (and on "run now"), so the
/// verdict follows the database back up instead of remembering a failure from the start.
pub async fn run(ctx: Ctx, mut ctl: Control, mode: Mode, p: InitParams) {
    loop {
        let r = tokio::select! {
            r = check(&p) => r,
            () = ctx.cancel.cancelled() => return,
        };
        if !ctx.send(EventBody::Init(r)).await || mode == Mode::Once {
            return;
        }
        if !ctl.wait(p.connect.timeout, &ctx.cancel).await {
            return;
        }
    }
}
