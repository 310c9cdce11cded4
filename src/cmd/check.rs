//! `connscope check`: every selected probe once, events into the state, one report out, and an
//! exit code a script can act on.

use chrono::{DateTime, Utc};

use crate::cli::{CheckArgs, Format, Global};
use crate::error::AppResult;
use crate::event::{Event, EventBody, Events, RunEnded};
use crate::exit::ExitCode;
use crate::probe::Mode;
use crate::record::{Header, Recorder};
use crate::state::{State, StateConfig};
use crate::supervisor::{self, Running};

pub(super) async fn run(g: &Global, args: &CheckArgs) -> AppResult<ExitCode> {
    let agents = super::attach::targets(g)?;
    let config = super::load_config(g)?;
    let doc = super::document::options(args.format, g.theme.as_deref(), args.assets.as_deref())?;
    let kinds = supervisor::select_beside_agents(
        g.only.as_deref(),
        &config,
        g.capacity.is_some(),
        !agents.is_empty(),
    )?;
    supervisor::pool_allowed(&kinds, &config, g.force)?;
    let state_cfg = StateConfig::from_config(&config);
    let recorder = match &g.record {
        Some(path) => Some(Recorder::create(
            path,
            &Header::new("check", &config, &state_cfg),
        )?),
        None => None,
    };
    let (mut running, rx) = Running::start(&config, &kinds, Mode::Once, g.force)?;
    // An agent's current window (its backfill), judged here by the same state.
    running.attach(&agents, crate::probe::remote::Reach::Window);
    running.close_intake();
    let mut intake = Intake {
        state: State::new(state_cfg),
        recorder,
        on_tty: super::progress::Progress::start(&config, &kinds, args.progress.is_some()),
        progress: args.progress.is_some(),
    };
    let judged_at = intake.until_done(running, rx).await;
    intake.on_tty.finish().await;
    // Judged once, at the run's end: `report` of the recording judges at the same moment.
    let state = &intake.state;
    let mut report = crate::report::Report::build(state, state.judge(Some(judged_at)));
    if intake.recorder.as_ref().is_some_and(Recorder::incomplete) {
        report.recording_incomplete();
    }
    let mut ctx = crate::report::Context::live("check", crate::record::redacted_settings(&config));
    doc.apply(&report, &mut ctx)?;
    print(&report, args.format, &ctx)?;
    Ok(report.exit_code)
}

/// Where each event of the run goes: the progress line on a terminal, the recording,
/// `--progress` on stderr, and the state that is judged at the end.
struct Intake {
    state: State,
    recorder: Option<Recorder>,
    on_tty: super::progress::Progress,
    progress: bool,
}

impl Intake {
    fn take(&mut self, ev: &Event) {
        self.on_tty.event(ev);
        if let Some(r) = self.recorder.as_mut() {
            r.write(ev);
        }
        if self.progress {
            progress(ev);
        }
        self.state.apply(ev);
    }

    /// Events until every probe has ended or a signal came; then every probe is awaited and
    /// what it still sent is taken too. The run's end comes last: its time is the moment
    /// judged.
    async fn until_done(&mut self, running: Running, mut rx: Events) -> DateTime<Utc> {
        // One listener for the whole run: a signal between two events must not be missed.
        let signal = crate::signal::shutdown();
        tokio::pin!(signal);
        let interrupted = loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(ev) => self.take(&ev),
                    None => break false,
                },
                () = &mut signal => break true,
            }
        };
        // Every probe is awaited first: how each ended (cancelled, crashed) is evidence too.
        running.shutdown().await;
        while let Some(ev) = rx.try_recv() {
            self.take(&ev);
        }
        let end = Event::now(EventBody::RunEnded(RunEnded { interrupted }));
        self.take(&end);
        end.at
    }
}

fn progress(ev: &Event) {
    if let Ok(line) = serde_json::to_string(ev) {
        crate::output::stderr_line(&line);
    }
}

fn print(
    report: &crate::report::Report,
    format: Format,
    ctx: &crate::report::Context,
) -> AppResult<()> {
    let text = crate::report::render(format, report, ctx);
    Ok(crate::output::stdout(&format!("{text}\n"))?)
}
