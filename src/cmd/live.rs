//! The live dashboard session shared by `watch` and `lab`: probes → (recording) → dashboard,
//! and the dashboard's commands back to the probes or the lab. On exit every probe task is
//! cancelled and awaited (closing its connections), then the lab is stopped.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::Global;
use crate::config::{Config, LoadOptions};
use crate::error::{AppError, AppResult};
use crate::event::{Event, EventBody, Events, LabScenario};
use crate::exit::ExitCode;
use crate::lab::{Lab, LabOptions};
use crate::probe::capacity::CapacityParams;
use crate::probe::remote::{AgentTarget, Reach};
use crate::probe::{Kind, Mode};
use crate::record::{Header, Recorder};
use crate::state::{State, StateConfig};
use crate::supervisor::{self, Running};
use crate::ui::feed::Feed;
use crate::ui::{self, Outbound, UiOptions, ViewMode};

const FEED: usize = 4096;

fn require_terminal() -> AppResult<()> {
    if crate::tty::can_run_dashboard() {
        Ok(())
    } else {
        Err(AppError::usage(
            "the dashboard needs a terminal; for scripts and CI use `connscope check`",
        ))
    }
}

pub(super) async fn watch(g: &Global) -> AppResult<ExitCode> {
    require_terminal()?;
    let agents = super::attach::targets(g)?;
    let config = super::load_config(g)?;
    let kinds = live_kinds(g, &config, !agents.is_empty())?;
    session(g, config, kinds, ViewMode::Live, None, &agents).await
}

pub(super) async fn lab(g: &Global, opts: LabOptions) -> AppResult<ExitCode> {
    require_terminal()?;
    let lab = Lab::start(opts).await?;
    let settings = match lab.suggested_settings() {
        Ok(s) => s,
        Err(e) => {
            let _ = lab.shutdown().await;
            return Err(e.into());
        }
    };
    let mut load = LoadOptions::from_process(g.config.clone(), g.overrides());
    load.lab = settings;
    let config = match Config::load(&load) {
        Ok(c) => c,
        Err(e) => {
            let _ = lab.shutdown().await;
            return Err(e.into());
        }
    };
    let scenarios = Lab::scenarios();
    let lab = Arc::new(lab);
    let result = match live_kinds(g, &config, false) {
        Ok(kinds) => {
            session(
                g,
                config,
                kinds,
                ViewMode::Lab { scenarios },
                Some(lab.clone()),
                &[],
            )
            .await
        }
        Err(e) => Err(e),
    };
    match Arc::try_unwrap(lab) {
        Ok(lab) => {
            if let Err(e) = lab.shutdown().await {
                crate::output::warn(&format!("lab shutdown: {}", crate::error::line(&e)));
            }
        }
        // Only reachable if a task still holds it; Drop then stops the database and removes files.
        Err(lab) => drop(lab),
    }
    result
}

/// Everything configured, except the capacity test (started from the keyboard); the rehearsal
/// once at start when there is no startup log to follow. The pool probe starts at once when
/// asked for (`--only pool`, `pool_probe.enabled`) — in production only from `o`, which asks.
/// With agents attached (`agents`), nothing configured locally means no local probe.
pub(super) fn live_kinds(g: &Global, c: &Config, agents: bool) -> AppResult<BTreeSet<Kind>> {
    let mut kinds = supervisor::select_beside_agents(g.only.as_deref(), c, false, agents)?;
    kinds.remove(&Kind::Capacity);
    if crate::ui::app::needs_confirmation(&c.settings.environment) {
        kinds.remove(&Kind::Pool);
    }
    let has_log = c.settings.startup.log.is_some() || c.settings.startup.command.is_some();
    if g.only.is_none() && !has_log && (c.database.is_some() || !c.settings.endpoints.is_empty()) {
        kinds.insert(Kind::Rehearsal);
    }
    Ok(kinds)
}

async fn session(
    g: &Global,
    config: Config,
    kinds: BTreeSet<Kind>,
    mode: ViewMode,
    lab: Option<Arc<Lab>>,
    agents: &[AgentTarget],
) -> AppResult<ExitCode> {
    let state_cfg = StateConfig::from_config(&config);
    let command = if lab.is_some() { "lab" } else { "watch" };
    // The headroom rule keeps connscope off slots that others' work needs. The lab's database
    // is its own temporary cluster, full only of its own hog: there the capacity test and the
    // pool probe go where the service's connections go (marked FORCED past the headroom), so
    // `db-capacity` shows what the service feels.
    let force = g.force || lab.is_some();
    let recorder = match &g.record {
        Some(path) => Some(Recorder::create(
            path,
            &Header::new(command, &config, &state_cfg),
        )?),
        None => None,
    };
    let (mut running, rx) = Running::start(&config, &kinds, Mode::Live, force)?;
    running.attach(agents, Reach::Live);
    if let (Some(lab), Some(tx)) = (&lab, running.events()) {
        let info = lab.current();
        let _ = tx
            .send(Event::now(EventBody::LabScenario(LabScenario {
                name: info.name,
                description: info.description,
            })))
            .await;
    }
    let (feed_tx, feed_rx) = mpsc::channel(FEED);
    let (out_tx, out_rx) = mpsc::channel(64);
    let forward = tokio::spawn(forward(rx, recorder, feed_tx));
    let commands = tokio::spawn(commands(out_rx, running, lab));
    let shutdown = CancellationToken::new();
    let dashboard = ui::run(
        ui_options(&config, mode, force),
        State::new(state_cfg),
        feed_rx,
        out_tx,
        shutdown.clone(),
    );
    let ui_result = super::panic_drill::around(dashboard).await;
    shutdown.cancel();
    let recording_incomplete = finish(commands, forward).await?;
    ui_result?;
    let code = ended_by();
    Ok(if recording_incomplete {
        code.with_incomplete_recording()
    } else {
        code
    })
}

/// The dashboard's options, with the connections its capacity test and pool probe would open
/// (for the confirmation it asks before either).
fn ui_options(config: &Config, mode: ViewMode, force: bool) -> UiOptions {
    let mut opts = UiOptions::from_config(&config.settings.ui, mode);
    opts.capacity_connections = config.database.as_ref().map(|t| {
        // The most it can open: the server's headroom, read when it starts, may lower it.
        let params = CapacityParams::from_config(config, t, force);
        params.planned(params.cap).0
    });
    opts.pool_connections = config
        .database
        .as_ref()
        .map(|t| crate::probe::pool::PoolParams::from_config(config, t, force).requested());
    opts
}

/// `q` is the dashboard's normal end; a signal interrupts it (the README's exit codes).
pub(super) fn ended_by() -> ExitCode {
    if crate::signal::received() {
        ExitCode::Interrupted
    } else {
        ExitCode::Pass
    }
}

/// Events from the probes: recorded (if asked), then to the dashboard. Ends when every probe
/// has stopped and the session dropped its sender; true when the recording is incomplete.
async fn forward(mut rx: Events, mut recorder: Option<Recorder>, feed: mpsc::Sender<Feed>) -> bool {
    let mut delivering = true;
    let mut failure_shown = false;
    while let Some(ev) = rx.recv().await {
        if let Some(r) = recorder.as_mut() {
            r.write(&ev);
            if let Some(note) = r.failure_note().filter(|_| !failure_shown) {
                failure_shown = true;
                let _ = feed.send(Feed::Event(recording_failed(note))).await;
            }
        }
        // After the dashboard has gone, keep draining (and recording) so no probe blocks.
        if delivering && feed.send(Feed::Event(ev)).await.is_err() {
            delivering = false;
        }
    }
    failure_shown
}

fn recording_failed(message: String) -> Event {
    Event::now(EventBody::Note(crate::event::Note {
        probe: "recording".into(),
        level: crate::event::NoteLevel::Error,
        message,
    }))
}

/// The dashboard's requests, until it closes its sender; then the probes are shut down.
async fn commands(mut out: mpsc::Receiver<Outbound>, mut running: Running, lab: Option<Arc<Lab>>) {
    while let Some(o) = out.recv().await {
        match o {
            Outbound::Probe(cmd) => running.command(cmd),
            Outbound::Scenario(name) => switch(&running, lab.as_deref(), &name).await,
            Outbound::Replay(_) => {}
        }
    }
    running.shutdown().await;
}

async fn switch(running: &Running, lab: Option<&Lab>, name: &str) {
    let Some(lab) = lab else { return };
    let Some(tx) = running.events() else { return };
    let body = match lab.switch(name).await {
        Ok(()) => {
            let info = lab.current();
            EventBody::LabScenario(LabScenario {
                name: info.name,
                description: info.description,
            })
        }
        Err(e) => EventBody::Note(crate::event::Note {
            probe: "lab".into(),
            level: crate::event::NoteLevel::Error,
            message: format!("cannot switch to {name}: {}", crate::error::line(&e)),
        }),
    };
    let _ = tx.send(Event::now(body)).await;
}

/// Waits for the probes and the forwarder; true when the recording is incomplete.
async fn finish(commands: JoinHandle<()>, forward: JoinHandle<bool>) -> AppResult<bool> {
    let task = |what| move |source| AppError::Task { what, source };
    commands.await.map_err(task("probe shutdown"))?;
    forward.await.map_err(task("recording"))
}
