//! Starting the probes a command asked for and stopping them: the one place that turns a
//! configuration into running probe tasks. Live, headless and lab runs all come through here.

use std::collections::BTreeSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::SetupError;
use crate::event::{Event, EventBody, Events, ProbeEnd, ProbeEnded, ProbesStarted};
use crate::probe::{self, Command, Control, ControlHandle, Ctx, Kind, Mode};

/// Events in flight between probes and the state; probes wait (briefly) when it is full.
const CHANNEL: usize = 4096;

/// Which probes run. Without `--only`: everything the configuration makes possible, except the
/// capacity test and the pool probe (they open many connections, so they run only when asked
/// for: `--capacity N`, `--only pool`, `pool_probe.enabled`) and the rehearsal. The pool probe
/// brings the raw database attempts with it: they tell what lies beneath its waits.
/// Attached to agents (`--agent`), with nothing configured locally it probes nothing itself,
/// and the agents are its only vantage points.
pub(crate) fn select_beside_agents(
    only: Option<&[Kind]>,
    c: &Config,
    capacity_asked: bool,
    agents: bool,
) -> Result<BTreeSet<Kind>, SetupError> {
    let s = &c.settings;
    let has = |k: Kind| match k {
        Kind::Db | Kind::Init | Kind::Capacity | Kind::Pool => c.database.is_some(),
        Kind::Http => !s.endpoints.is_empty(),
        Kind::Ws => s.endpoints.iter().any(|e| e.websocket.is_some()) || !s.websockets.is_empty(),
        Kind::Startup => s.startup.log.is_some() || s.startup.command.is_some(),
        Kind::Rehearsal => c.database.is_some() || !s.endpoints.is_empty(),
    };
    let mut kinds: BTreeSet<Kind> = match only {
        Some(list) => {
            if let Some(k) = list.iter().find(|k| !has(**k)) {
                return Err(missing(*k));
            }
            list.iter().copied().collect()
        }
        None => {
            let mut k: BTreeSet<Kind> = [Kind::Db, Kind::Init, Kind::Http, Kind::Ws, Kind::Startup]
                .into_iter()
                .filter(|k| has(*k))
                .collect();
            if capacity_asked && has(Kind::Capacity) {
                k.insert(Kind::Capacity);
            }
            if s.pool_probe.enabled && has(Kind::Pool) {
                k.insert(Kind::Pool);
            }
            k
        }
    };
    if kinds.contains(&Kind::Pool) {
        kinds.insert(Kind::Db);
    }
    if kinds.is_empty() && !agents {
        return Err(SetupError::NothingToCheck);
    }
    Ok(kinds)
}

/// In production the pool probe opens its connections only when told to: `--force` in
/// `check` (the dashboard asks instead), as a `y` confirms the capacity test there.
pub(crate) fn pool_allowed(
    kinds: &BTreeSet<Kind>,
    c: &Config,
    force: bool,
) -> Result<(), SetupError> {
    let env = &c.settings.environment;
    if kinds.contains(&Kind::Pool) && crate::ui::app::needs_confirmation(env) && !force {
        return Err(SetupError::PoolNeedsForce {
            connections: c
                .settings
                .pool
                .size
                .saturating_add(c.settings.pool.max_overflow),
            environment: env.clone(),
        });
    }
    Ok(())
}

fn missing(k: Kind) -> SetupError {
    let need = match k {
        Kind::Db | Kind::Init | Kind::Capacity | Kind::Pool => {
            "a database (--db-url, DATABASE_URL, PGHOST or database.url)"
        }
        Kind::Http => "endpoints (--endpoint NAME=URL or [[endpoints]])",
        Kind::Ws => "a WebSocket URL (--ws URL, or websocket = … on an endpoint)",
        Kind::Startup => "a startup log (--startup-log FILE, startup.log or startup.command)",
        Kind::Rehearsal => "a database or endpoints to rehearse against",
    };
    SetupError::Missing {
        probe: k.name(),
        need,
    }
}

/// Running probe tasks, and what the dashboard's commands act on.
pub(crate) struct Running {
    config: Config,
    cancel: CancellationToken,
    tasks: JoinSet<()>,
    control: ControlHandle,
    tx: Option<mpsc::Sender<Event>>,
    capacity: Option<CancellationToken>,
    rehearsal: Option<CancellationToken>,
    capacity_runs: u64,
    /// The running pool probe's stop token, and how many runs there were.
    pool: Option<CancellationToken>,
    pool_runs: u64,
    /// `check` with the pool probe: cancelled when its run ends, so the database attempts
    /// beneath it go on until then.
    pool_done: Option<CancellationToken>,
    force: bool,
}

impl Running {
    /// Starts the selected probes. Events arrive on the returned receiver, which closes when
    /// every probe has finished and `close_intake` has been called.
    pub(crate) fn start(
        config: &Config,
        kinds: &BTreeSet<Kind>,
        mode: Mode,
        force: bool,
    ) -> Result<(Running, Events), SetupError> {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let (control, ctl) = probe::control();
        let mut r = Running {
            config: config.clone(),
            cancel: CancellationToken::new(),
            tasks: JoinSet::new(),
            control,
            tx: Some(tx),
            capacity: None,
            rehearsal: None,
            capacity_runs: 0,
            pool: None,
            pool_runs: 0,
            pool_done: (mode == Mode::Once && kinds.contains(&Kind::Pool))
                .then(CancellationToken::new),
            force,
        };
        // First in the stream: each of these must produce evidence before the verdict passes.
        let probes = kinds.iter().map(|k| k.name().to_string()).collect();
        if let Some(tx) = &r.tx {
            let _ = tx.try_send(Event::now(EventBody::ProbesStarted(ProbesStarted {
                probes,
            })));
        }
        for k in kinds {
            r.spawn(*k, mode, &ctl)?;
        }
        tracing::debug!(probes = ?kinds, ?mode, tasks = r.tasks.len(), "probes started");
        Ok((r, Events::new(rx)))
    }

    fn ctx(&self) -> Option<Ctx> {
        self.tx
            .as_ref()
            .map(|tx| Ctx::new(tx.clone(), self.cancel.child_token()))
    }

    fn spawn(&mut self, kind: Kind, mode: Mode, ctl: &Control) -> Result<(), SetupError> {
        let Some(ctx) = self.ctx() else { return Ok(()) };
        let token = ctx.cancel.clone();
        let c = &self.config;
        let target = c.database.clone();
        match (kind, target) {
            (Kind::Db, Some(t)) => {
                let mut p = probe::db::DbParams::from_config(c, &t).map_err(SetupError::Target)?;
                p.until = self.pool_done.clone();
                self.watched(kind, token, probe::db::run(ctx, ctl.clone(), mode, p));
            }
            (Kind::Init, Some(t)) => {
                let p = probe::init::InitParams::from_config(c, &t).map_err(SetupError::Target)?;
                self.watched(kind, token, probe::init::run(ctx, ctl.clone(), mode, p));
            }
            (Kind::Capacity, Some(_)) => self.start_capacity(self.force),
            (Kind::Http, _) => {
                let p = probe::http::HttpParams::from_settings(&c.settings);
                self.watched(kind, token, probe::http::run(ctx, ctl.clone(), mode, p));
            }
            (Kind::Ws, _) => {
                let p = probe::ws::WsParams::from_settings(&c.settings);
                self.watched(kind, token, probe::ws::run(ctx, ctl.clone(), mode, p));
            }
            (Kind::Startup, _) => {
                let p = probe::startup::StartupParams::from_settings(&c.settings, None)?;
                if let Some(p) = p {
                    self.watched(kind, token, probe::startup::run(ctx, mode, p));
                }
            }
            (Kind::Rehearsal, _) => self.start_rehearsal(),
            (Kind::Pool, Some(_)) => self.start_pool(self.force),
            _ => {}
        }
        Ok(())
    }

    /// Runs a probe task and reports how it ended — also when it panicked, which the state
    /// then judges as a crash instead of as "nothing measured, so nothing wrong".
    fn watched(
        &mut self,
        kind: Kind,
        token: CancellationToken,
        probe: impl Future<Output = ()> + Send + 'static,
    ) {
        let tx = self.tx.clone();
        let drill = crash_drill(kind);
        self.tasks.spawn(async move {
            let probe = async move {
                assert!(!drill, "panic drill: the {} probe panicked", kind.name());
                probe.await;
            };
            let ended = AssertUnwindSafe(probe).catch_unwind().await;
            let (how, message) = match ended {
                Ok(()) if token.is_cancelled() => (ProbeEnd::Cancelled, None),
                Ok(()) => (ProbeEnd::Finished, None),
                Err(panic) => (ProbeEnd::Panicked, Some(panic_message(panic.as_ref()))),
            };
            tracing::debug!(probe = kind.name(), ?how, "probe ended");
            if let Some(tx) = tx {
                // Never waits: at shutdown nobody may be reading any more.
                let _ = tx.try_send(Event::now(EventBody::ProbeEnded(ProbeEnded {
                    probe: kind.name().to_string(),
                    how,
                    message,
                })));
            }
        });
    }

    /// Attaches to agents: each client's events (tagged with its vantage) enter the same
    /// stream as the local probes'. A client that panics is told as its agent lost.
    pub(crate) fn attach(
        &mut self,
        agents: &[probe::remote::AgentTarget],
        reach: probe::remote::Reach,
    ) {
        for t in agents {
            let Some(ctx) = self.ctx() else { return };
            let _ = ctx.tx.try_send(probe::remote::connecting(t));
            let (tx, t) = (ctx.tx.clone(), t.clone());
            self.tasks.spawn(async move {
                let name = t.name.clone();
                let shown = t.shown.clone();
                if let Err(panic) = AssertUnwindSafe(probe::remote::run(ctx, t, reach))
                    .catch_unwind()
                    .await
                {
                    let body = EventBody::Vantage(crate::event::VantageLink {
                        status: crate::event::LinkStatus::Lost,
                        url: shown,
                        message: Some(format!(
                            "the attach client crashed: {}",
                            panic_message(panic.as_ref())
                        )),
                        config: None,
                    });
                    let _ = tx.try_send(Event::now(body).with_vantage(&name));
                }
            });
        }
    }

    /// Starts a capacity test unless one is running.
    pub(crate) fn start_capacity(&mut self, force: bool) {
        if self.capacity.as_ref().is_some_and(|c| !c.is_cancelled()) {
            return;
        }
        let (Some(t), Some(tx)) = (self.config.database.clone(), self.tx.clone()) else {
            return;
        };
        self.capacity_runs += 1;
        tracing::debug!(run = self.capacity_runs, force, "capacity test started");
        let token = self.cancel.child_token();
        let ctx = Ctx::new(tx, token.clone());
        let p = probe::capacity::CapacityParams::from_config(&self.config, &t, force);
        let run = self.capacity_runs;
        let done = token.clone();
        let interrupted = self.cancel.clone();
        self.watched(Kind::Capacity, interrupted, async move {
            probe::capacity::run(ctx, run, p).await;
            // Marks the test finished so the next `c` can start another.
            done.cancel();
        });
        self.capacity = Some(token);
    }

    pub(crate) fn command(&mut self, cmd: Command) {
        tracing::debug!(?cmd, "command from the dashboard");
        match cmd {
            Command::RunNow => self.control.run_now(),
            Command::SetPaused(p) => self.control.set_paused(p),
            Command::StartCapacity { force } => self.start_capacity(force || self.force),
            Command::AbortCapacity => {
                if let Some(c) = &self.capacity {
                    c.cancel();
                }
            }
            Command::StartRehearsal => self.start_rehearsal(),
            Command::StartPool { force } => self.start_pool(force || self.force),
            Command::StopPool => {
                if let Some(p) = &self.pool {
                    p.cancel();
                }
            }
        }
    }

    /// Starts a pool probe run unless one is running. Its `stop` token ends it early (`o`);
    /// when it ends, the database attempts kept going for it (`check`) may stop too.
    pub(crate) fn start_pool(&mut self, force: bool) {
        if self.pool.as_ref().is_some_and(|c| !c.is_cancelled()) {
            return;
        }
        let (Some(t), Some(tx)) = (self.config.database.clone(), self.tx.clone()) else {
            return;
        };
        self.pool_runs += 1;
        tracing::debug!(run = self.pool_runs, force, "pool probe started");
        let ctx = Ctx::new(tx, self.cancel.child_token());
        let stop = ctx.cancel.child_token();
        let p = probe::pool::PoolParams::from_config(&self.config, &t, force);
        let run = self.pool_runs;
        let (done, finished) = (stop.clone(), self.pool_done.clone());
        let interrupted = self.cancel.clone();
        self.watched(Kind::Pool, interrupted, async move {
            // Dropped on every way out, a panic included.
            let _beneath = finished.map(CancellationToken::drop_guard);
            probe::pool::run(ctx, done.clone(), run, p).await;
            // Marks the run finished so the next `o` can start another.
            done.cancel();
        });
        self.pool = Some(stop);
    }

    /// Runs the startup rehearsal unless one is running.
    pub(crate) fn start_rehearsal(&mut self) {
        if self.rehearsal.as_ref().is_some_and(|c| !c.is_cancelled()) {
            return;
        }
        let Some(tx) = self.tx.clone() else { return };
        let token = self.cancel.child_token();
        let ctx = Ctx::new(tx, token.clone());
        let p = probe::rehearsal::RehearsalParams::from_config(&self.config);
        let done = token.clone();
        let interrupted = self.cancel.clone();
        self.watched(Kind::Rehearsal, interrupted, async move {
            probe::rehearsal::run(ctx, p).await;
            done.cancel();
        });
        self.rehearsal = Some(token);
    }

    /// A sender into the same event stream the probes use (for events the session itself
    /// produces, such as a lab scenario switch). `None` once intake is closed.
    pub(crate) fn events(&self) -> Option<mpsc::Sender<Event>> {
        self.tx.clone()
    }

    /// No more probes will be started; the event channel closes when the running ones finish.
    pub(crate) fn close_intake(&mut self) {
        self.tx = None;
    }

    /// Cancels every probe and waits for each to end (closing its connections), bounded so a
    /// wedged task cannot hold the process: after the grace period the rest are aborted.
    pub(crate) async fn shutdown(mut self) {
        self.tx = None;
        self.cancel.cancel();
        let started = std::time::Instant::now();
        let running = self.tasks.len();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if !crate::shutdown::within_grace("probe tasks", all).await {
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        tracing::debug!(tasks = running, took = ?started.elapsed(), "probes shut down");
    }
}

/// The text a panic carried (`panic!("…")` gives a `&str` or a `String`), secrets removed.
/// Debug builds only: `CONNSCOPE_DEBUG_PANIC=probe:db` (any probe's name) makes that probe panic
/// as it starts, so the tests prove in the real binary that a crash is judged a crash.
fn crash_drill(kind: Kind) -> bool {
    cfg!(debug_assertions)
        && std::env::var("CONNSCOPE_DEBUG_PANIC")
            .is_ok_and(|v| v.strip_prefix("probe:") == Some(kind.name()))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    crate::secret::scrub(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(
        only: Option<&[Kind]>,
        c: &Config,
        capacity: bool,
    ) -> Result<BTreeSet<Kind>, SetupError> {
        select_beside_agents(only, c, capacity, false)
    }

    fn config(flags: &[(&'static str, toml::Value)]) -> Config {
        let flags = flags
            .iter()
            .map(|(key, value)| crate::config::FlagOverride {
                key,
                value: value.clone(),
                flag: "test",
            })
            .collect();
        let opts = crate::config::LoadOptions {
            flags,
            ..crate::config::LoadOptions::default()
        };
        Config::load(&opts).expect("loads")
    }

    #[test]
    fn the_pool_probe_runs_only_when_asked_and_brings_the_raw_attempts() {
        let url = (
            "database.url",
            toml::Value::String("postgres://a@h/d".into()),
        );
        let c = config(std::slice::from_ref(&url));
        let all = select(None, &c, false).expect("selects");
        assert!(
            all.contains(&Kind::Db) && !all.contains(&Kind::Pool),
            "{all:?}"
        );
        let only = select(Some(&[Kind::Pool]), &c, false).expect("selects");
        assert_eq!(only.into_iter().collect::<Vec<_>>(), [Kind::Db, Kind::Pool]);
        let c = config(&[url, ("pool_probe.enabled", toml::Value::Boolean(true))]);
        assert!(
            select(None, &c, false)
                .expect("selects")
                .contains(&Kind::Pool)
        );
        let none = config(&[]);
        assert!(
            select(Some(&[Kind::Pool]), &none, false).is_err(),
            "needs a database"
        );
    }

    #[test]
    fn production_needs_force_for_the_pool_probe() {
        let prod = config(&[("environment", toml::Value::String("production".into()))]);
        let pool: BTreeSet<Kind> = [Kind::Db, Kind::Pool].into_iter().collect();
        let e = pool_allowed(&pool, &prod, false).expect_err("refused");
        let e = crate::error::AppError::from(e);
        assert_eq!(e.exit_code(), crate::exit::ExitCode::Usage, "{e:?}");
        assert!(pool_allowed(&pool, &prod, true).is_ok());
        let db: BTreeSet<Kind> = [Kind::Db].into_iter().collect();
        assert!(pool_allowed(&db, &prod, false).is_ok());
    }

    #[tokio::test]
    async fn a_panicking_probe_is_reported_not_lost() {
        let config = Config::load(&crate::config::LoadOptions::default()).expect("defaults load");
        let (mut r, mut rx) =
            Running::start(&config, &BTreeSet::new(), Mode::Once, false).expect("starts");
        let token = r.cancel.child_token();
        r.watched(Kind::Db, token.clone(), async {
            panic!("boom");
        });
        r.watched(Kind::Init, token, async {});
        r.close_intake();
        let mut ends = Vec::new();
        let collect = async {
            while let Some(ev) = rx.recv().await {
                if let EventBody::ProbeEnded(e) = ev.body {
                    ends.push(e);
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), collect)
            .await
            .expect("every task ends and the channel closes");
        ends.sort_by(|a, b| a.probe.cmp(&b.probe));
        assert_eq!(ends.len(), 2, "{ends:?}");
        assert_eq!(
            (ends[0].probe.as_str(), ends[0].how),
            ("db", ProbeEnd::Panicked)
        );
        let msg = ends[0].message.as_deref().unwrap_or_default();
        assert!(msg.starts_with("boom"), "{msg}");
        assert_eq!(
            (ends[1].probe.as_str(), ends[1].how),
            ("init", ProbeEnd::Finished)
        );
        r.shutdown().await;
    }
}
