//! `connscope check`: every selected probe once, events into the state, one report out, and an
//! exit code a script can act on.

use crate::cli::{CheckArgs, Format, Global};
use crate::event::{Event, EventBody, RunEnded};
use crate::exit::AppResult;
use crate::probe::Mode;
use crate::record::{Header, Recorder};
use crate::state::{State, StateConfig};
use crate::supervisor::{self, Running};

pub async fn run(g: &Global, args: &CheckArgs) -> AppResult<i32> {
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
    let mut recorder = match &g.record {
        Some(path) => Some(Recorder::create(
            path,
            &Header::new("check", &config, &state_cfg),
        )?),
        None => None,
    };
    let (mut running, mut rx) = Running::start(&config, &kinds, Mode::Once, g.force)?;
    // An agent's current window (its backfill), judged here by the same state.
    running.attach(&agents, crate::probe::remote::Reach::Window);
    running.close_intake();
    let mut state = State::new(state_cfg);
    let on_tty = super::progress::Progress::start(&config, &kinds, args.progress.is_some());
    let mut consume = |ev: Event| -> AppResult<()> {
        on_tty.event(&ev);
        if let Some(r) = recorder.as_mut() {
            r.write(&ev);
        }
        if args.progress.is_some() {
            progress(&ev);
        }
        state.apply(&ev);
        Ok(())
    };
    // One listener for the whole run: a signal between two events must not be missed.
    let signal = crate::signal::shutdown();
    tokio::pin!(signal);
    let interrupted = loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => consume(ev)?,
                None => break false,
            },
            () = &mut signal => break true,
        }
    };
    // Every probe is awaited first: how each ended (cancelled, crashed) is evidence too.
    running.shutdown().await;
    while let Ok(ev) = rx.try_recv() {
        consume(ev)?;
    }
    let end = Event::now(EventBody::RunEnded(RunEnded { interrupted }));
    let judged_at = end.at;
    consume(end)?;
    on_tty.finish().await;
    // Judged once, at the run's end: `report` of the recording judges at the same moment.
    let mut report = crate::report::Report::build(&state, state.judge(Some(judged_at)));
    if recorder.as_ref().is_some_and(Recorder::incomplete) {
        report.recording_incomplete();
    }
    let mut ctx = crate::report::Context::live("check", crate::record::redacted_settings(&config));
    doc.apply(&report, &mut ctx)?;
    print(&report, args.format, &ctx)?;
    Ok(report.exit_code)
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
    crate::output::stdout(&format!("{text}\n"))
}
