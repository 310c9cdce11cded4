//! `check` on a terminal: one line on stderr, redrawn in place, saying what is running, how
//! many attempts and checks are done, and elapsed time against the timeouts that bound the
//! wait — so minutes of a staging timeout are not minutes of silence. Nothing at all when
//! stderr is not a terminal (a pipe, a file, CI), and the line is erased before the report is
//! printed. It shows counts and durations only: no host, URL or message that could carry a
//! secret.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ratatui::style::Style;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::event::{Event, EventBody};
use crate::probe::Kind;
use crate::probe::http::HttpParams;
use crate::ui::text::{Piece, pack};
use crate::units;

/// How often the line is redrawn when nothing arrives (the clock still moves).
const TICK: Duration = Duration::from_millis(250);
/// When the terminal's width cannot be read.
const FALLBACK_WIDTH: usize = 80;

/// What `check` is waiting for, from its configuration and the events so far.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    kinds: BTreeSet<Kind>,
    db_planned: u32,
    db_done: u32,
    db_timeout: Duration,
    init_timeout: Duration,
    init_done: Option<bool>,
    http_planned: u32,
    http_done: u32,
    ws_planned: u32,
    ws_done: u32,
    capacity: Option<(u32, u32)>,
    startup_lines: u64,
    startup_ended: bool,
}

impl Tally {
    pub(crate) fn new(config: &Config, kinds: &BTreeSet<Kind>) -> Self {
        let s = &config.settings;
        let http = HttpParams::from_settings(s);
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let ws = s.endpoints.iter().filter(|e| e.websocket.is_some()).count() + s.websockets.len();
        Self {
            kinds: kinds.clone(),
            db_planned: s.database.attempts,
            db_done: 0,
            db_timeout: s.timeouts.connection,
            init_timeout: s.timeouts.initialization,
            init_done: None,
            http_planned: count(http.endpoints.len() * http.paths.len()).saturating_mul(http.tries),
            http_done: 0,
            ws_planned: count(ws),
            ws_done: 0,
            capacity: None,
            startup_lines: 0,
            startup_ended: false,
        }
    }

    pub(crate) fn apply(&mut self, ev: &Event) {
        match &ev.body {
            EventBody::DbAttempt(_) => self.db_done += 1,
            EventBody::Init(r) => self.init_done = Some(r.ok),
            EventBody::HttpCheck(_) => self.http_done += 1,
            EventBody::WsCheck(_) => self.ws_done += 1,
            EventBody::CapacityStarted(c) => self.capacity = Some((0, c.planned)),
            EventBody::CapacityConn(_) => {
                if let Some((done, _)) = &mut self.capacity {
                    *done += 1;
                }
            }
            EventBody::StartupLog(l) => {
                self.startup_lines = l.lines;
                self.startup_ended = l.ended;
            }
            _ => {}
        }
    }

    fn has(&self, k: Kind) -> bool {
        self.kinds.contains(&k)
    }

    /// The line, `width` columns at most: whole pieces, the least telling dropped first.
    pub(crate) fn line(&self, elapsed: Duration, width: usize) -> String {
        let secs = elapsed.as_secs_f64();
        let mut pieces = vec![Piece::one(
            0,
            format!("check {}", units::span(secs)),
            Style::new(),
        )];
        let mut add = |rank: u8, text: String| {
            pieces.push(Piece::one(rank, format!(" · {text}"), Style::new()))
        };
        if self.has(Kind::Db) {
            let each = units::duration(self.db_timeout);
            add(
                0,
                format!("db {}/{} attempts", self.db_done, self.db_planned),
            );
            if self.db_done < self.db_planned {
                add(3, format!("each up to {each}"));
            }
        }
        if self.has(Kind::Init) {
            let text = match self.init_done {
                None => format!(
                    "init {} of {}",
                    units::span(secs.min(self.init_timeout.as_secs_f64())),
                    units::duration(self.init_timeout)
                ),
                Some(true) => "init ok".into(),
                Some(false) => "init failed".into(),
            };
            add(1, text);
        }
        if self.has(Kind::Http) {
            add(2, format!("http {}/{}", self.http_done, self.http_planned));
        }
        if self.has(Kind::Ws) {
            add(2, format!("ws {}/{}", self.ws_done, self.ws_planned));
        }
        if let Some((done, planned)) = self.capacity {
            add(2, format!("capacity {done}/{planned}"));
        }
        if self.has(Kind::Startup) {
            let ended = if self.startup_ended { ", ended" } else { "" };
            add(
                2,
                format!("startup log {} lines{ended}", self.startup_lines),
            );
        }
        pack(pieces, width)
            .iter()
            .map(|s| s.content.as_ref())
            .collect()
    }
}

/// The redrawn line; inert when stderr is not a terminal or JSON progress was asked for.
pub(super) struct Progress {
    shared: Option<Arc<Mutex<Tally>>>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

fn lock(m: &Mutex<Tally>) -> MutexGuard<'_, Tally> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn width() -> usize {
    crossterm::terminal::size().map_or(FALLBACK_WIDTH, |(w, _)| usize::from(w))
}

/// Carriage return and erase-line: the next write replaces the line.
const ERASE: &str = "\r\x1b[2K";

fn draw(tally: &Mutex<Tally>, started: Instant) {
    // One column short of the edge: writing the last column makes some terminals wrap.
    let text = lock(tally).line(started.elapsed(), width().saturating_sub(1));
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{ERASE}{text}");
    let _ = err.flush();
}

impl Progress {
    /// Starts redrawing when stderr is a terminal and `json` progress lines are not wanted.
    pub(crate) fn start(config: &Config, kinds: &BTreeSet<Kind>, json: bool) -> Self {
        let stop = CancellationToken::new();
        if json || !std::io::stderr().is_terminal() {
            return Self {
                shared: None,
                stop,
                task: None,
            };
        }
        let shared = Arc::new(Mutex::new(Tally::new(config, kinds)));
        let started = Instant::now();
        let (tally, token) = (shared.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            loop {
                tokio::select! {
                    () = token.cancelled() => break,
                    _ = tick.tick() => draw(&tally, started),
                }
            }
        });
        Self {
            shared: Some(shared),
            stop,
            task: Some(task),
        }
    }

    pub(crate) fn event(&self, ev: &Event) {
        if let Some(t) = &self.shared {
            lock(t).apply(ev);
        }
    }

    /// Stops redrawing and erases the line, so the report starts on a clean one.
    pub(crate) async fn finish(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{ERASE}");
            let _ = err.flush();
        }
    }
}

/// Dropped without `finish` (a panic, a cancelled run): the line is still erased.
impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = write!(std::io::stderr().lock(), "{ERASE}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FlagOverride, LoadOptions};
    use crate::event::{DbAttempt, DbSteps};

    fn config() -> Config {
        let opts = LoadOptions {
            flags: vec![FlagOverride {
                key: "environment",
                value: toml::Value::String("staging".into()),
                flag: "--env",
            }],
            ..LoadOptions::default()
        };
        Config::load(&opts).expect("staging loads")
    }

    #[test]
    fn the_line_counts_attempts_and_times_init_against_its_timeout() {
        let kinds: BTreeSet<Kind> = [Kind::Db, Kind::Init].into_iter().collect();
        let mut t = Tally::new(&config(), &kinds);
        let attempt = EventBody::DbAttempt(DbAttempt {
            seq: 1,
            ok: false,
            total_ms: 35_000.0,
            steps_ms: DbSteps::default(),
            timeout_ms: 35_000.0,
            error: None,
            tries: Vec::new(),
        });
        t.apply(&Event::now(attempt));
        let line = t.line(Duration::from_secs(41), 200);
        assert_eq!(
            line,
            "check 41 s · db 1/5 attempts · each up to 35 s · init 41 s of 75 s"
        );
        // Narrow: the detail goes first, the counts stay.
        let narrow = t.line(Duration::from_secs(41), 40);
        assert_eq!(narrow, "check 41 s · db 1/5 attempts");
    }
}
