//! The fault suite (issue 7): every probe kind against the network faults of an outage —
//! a black hole (accepts, never answers), SYNs dropped (TCP never connects), a closed port, a
//! name under `.invalid` (answered by connscope itself), and a real DNS server that fails
//! (SERVFAIL), denies the name (NXDOMAIN) or never answers — plus slow and huge answers,
//! malformed inputs, secrets given in every place, and cancellation in the middle of every
//! kind of wait. Every fault is real: nothing here is a hand-built error.
//!
//! Most rows run the real binary (`check --only KIND --progress json`), so what is asserted is
//! what an on-call engineer or a CI job would see. Loopback only: every server here binds a
//! 127.x address, and the DNS rows point the binary's resolver at one (`common::dns`).
//!
//! Bounds: a deadline that fires must fire at its timeout, no earlier, and no later than
//! timeout + 5 % + `common::DEADLINE_SLACK` (scheduling on a shared, loaded machine — far less
//! than a wrong deadline would add), measured on the probe's own clock where the event carries
//! it. The process as a whole gets `PROCESS` more for starting and stopping, and must exit
//! within `LINGER` of its last event (well under the 5 s shutdown grace a wedged task would
//! cost). How precisely steps are timed is measured in `benches/fidelity.rs`.

use crate::common;
use crate::common::fault_bin;
use crate::common::fault_net;
use common::http_servers;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use connscope::config::{Config, FlagOverride, LoadOptions};
use connscope::event::{Event, EventBody, NoteLevel};
use connscope::probe::capacity::{self, CapacityParams};
use connscope::probe::conn::connect::ConnectParams;
use connscope::probe::http::{self as http_probe, HttpEndpoint, HttpParams};
use connscope::probe::init::{self, InitParams};
use connscope::probe::pool::{self, PoolParams};
use connscope::probe::rehearsal::{self, RehearsalParams};
use connscope::probe::startup::{self, Input, Matcher, Pacing, StartupParams};
use connscope::probe::ws::{self, WsParams};
use connscope::probe::{Control, Ctx, Kind, Mode, db};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use common::dns::{self, Answer, DnsServer};
use common::pg::{PgOptions, TempPg};
use fault_bin::Run;
use fault_net::{BlackHole, SynBlackHole};

/// The timeout given to every configurable probe in the table.
const T: Duration = Duration::from_secs(1);
/// Scheduling slack on top of timeout + 5 % (the machine is shared and loaded).
const SLACK: Duration = common::DEADLINE_SLACK;
/// What a process needs besides its probes: exec, runtime, configuration, shutdown — on a
/// shared two-core machine with other processes starting at the same moment.
const PROCESS: Duration = Duration::from_millis(1500);
/// From a run's last event to its exit: the report, closing, the runtime's shutdown.
const LINGER: Duration = Duration::from_secs(2);
/// Rows of the table run at once.
const WORKERS: usize = 6;
/// A failure that needs no deadline (refused, a name under .invalid) is back within this.
const FAST: Duration = Duration::from_millis(500);
/// Hard limit for any one run of the binary.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn within_deadline(took: Duration, limit: Duration, slack: Duration) -> bool {
    took >= limit && took <= limit.mul_f64(1.05) + slack
}

fn ms(v: &Value) -> Option<Duration> {
    v.as_f64()
        .filter(|m| m.is_finite() && *m >= 0.0)
        .map(|m| Duration::from_secs_f64(m / 1000.0))
}

/// `at` of an event, as time since the process started.
fn since_start(ev: &Value, started: SystemTime) -> Option<Duration> {
    let at: chrono::DateTime<chrono::Utc> = ev["at"].as_str()?.parse().ok()?;
    SystemTime::from(at).duration_since(started).ok()
}

// =============================================================================================
// 1. Black hole, closed port and unresolvable name, for every probe kind (the real binary)
// =============================================================================================

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    BlackHole,
    /// SYNs dropped: a full accept queue, TCP never connects.
    SynDropped,
    Closed,
    /// A name under `.invalid`: connscope answers it itself.
    Dns,
    /// The system resolver, pointed at a real DNS server answering SERVFAIL.
    ServFail,
    /// … answering NXDOMAIN.
    NxDomain,
    /// … never answering.
    DnsSilent,
}

impl Fault {
    /// What the DNS server of this fault answers, for the rows that need one.
    fn answer(self) -> Option<Answer> {
        match self {
            Fault::ServFail => Some(Answer::ServFail),
            Fault::NxDomain => Some(Answer::NxDomain),
            Fault::DnsSilent => Some(Answer::Silent),
            _ => None,
        }
    }
}

/// The ports and names the faults live at.
struct Faulty {
    hole: u16,
    syn: u16,
    closed: u16,
}

/// Names only the rows' DNS servers know (and deny).
const DB_NAME: &str = "db.outage.test";
const API_NAME: &str = "api.outage.test";

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Every event of `kind` failed with this class at this step.
    Failed {
        kind: &'static str,
        class: &'static str,
        step: &'static str,
    },
    /// The rehearsal stopped at this phase (later phases not reached).
    PhaseFailed { phase: &'static str },
    /// The startup probe left a note at this level.
    Note { level: &'static str },
}

#[derive(Debug, Clone, Copy)]
enum Timing {
    /// The probe's deadline fired: its own time is within [limit, limit × 1.05 + slack].
    Deadline(Duration),
    /// No deadline involved: back within `FAST`.
    Fast,
}

struct Row {
    probe: &'static str,
    fault: Fault,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    expect: Expect,
    /// Words the failure's message must contain, and must not.
    says: &'static [&'static str],
    not: &'static [&'static str],
    timing: Timing,
    /// The deadlines the run goes through one after another (the process's budget).
    wall: Duration,
    exit: i32,
}

impl Row {
    /// A failure that needs no deadline, exit 2, until said otherwise.
    fn new(probe: &'static str, fault: Fault, args: Vec<String>, expect: Expect) -> Self {
        Self {
            probe,
            fault,
            args,
            env: Vec::new(),
            expect,
            says: &[],
            not: &[],
            timing: Timing::Fast,
            wall: Duration::ZERO,
            exit: 2,
        }
    }

    fn says(mut self, words: &'static [&'static str]) -> Self {
        self.says = words;
        self
    }

    fn never_says(mut self, words: &'static [&'static str]) -> Self {
        self.not = words;
        self
    }

    /// The probe's deadline `limit` fires; the run waits `wall` in deadlines in all.
    fn deadline(mut self, limit: Duration, wall: Duration) -> Self {
        self.timing = Timing::Deadline(limit);
        self.wall = wall;
        self
    }

    fn env(mut self, key: &'static str, value: String) -> Self {
        self.env.push((key, value));
        self
    }

    fn exit(mut self, code: i32) -> Self {
        self.exit = code;
        self
    }
}

fn fails(kind: &'static str, class: &'static str, step: &'static str) -> Expect {
    Expect::Failed { kind, class, step }
}

fn stops_at(phase: &'static str) -> Expect {
    Expect::PhaseFailed { phase }
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn rows(at: &Faulty) -> Vec<Row> {
    let (hole, closed) = (at.hole, at.closed);
    use Fault::*;
    let pg = |port: u16, mode: &str| format!("postgres://app@127.0.0.1:{port}/app?sslmode={mode}");
    let (bh, cp) = (pg(hole, "disable"), pg(closed, "disable"));
    let dns = "postgres://app@db.connscope.invalid:5432/app?sslmode=disable";
    let db = |url: &str| {
        let to = ["--connect-timeout", "1s", "--db-url", url];
        args(&[&["--only", "db", "--attempts", "1"][..], &to].concat())
    };
    let init = |url: &str| args(&["--only", "init", "--init-timeout", "1s", "--db-url", url]);
    // The capacity test reads the server's numbers on a connection of its own first, then
    // opens its wave: two connect deadlines one after the other.
    let cap = |url: &str| {
        let a = ["--only", "capacity", "--capacity", "3", "--hold", "100ms"];
        args(&[&a[..], &["--connect-timeout", "1s", "--db-url", url]].concat())
    };
    let http = |url: String| {
        let ep = format!("backend={url}");
        args(&[
            "--only",
            "http",
            "--health-timeout",
            "1s",
            "--endpoint",
            &ep,
        ])
    };
    let ws = |url: String| args(&["--only", "ws", "--ws", &url]);
    let reh = |extra: &[&str]| {
        let a = [
            "--only",
            "rehearsal",
            "--connect-timeout",
            "1s",
            "--init-timeout",
            "1s",
        ];
        args(&[&a[..], &["--health-timeout", "1s"], extra].concat())
    };
    // The WebSocket's opening handshake has a built-in 10 s timeout.
    let ten = Duration::from_secs(10);
    let mut rows = vec![
        Row::new(
            "db",
            BlackHole,
            db(&bh),
            fails("db_attempt", "timeout", "handshake"),
        )
        .says(&["within 1s"])
        .deadline(T, T),
        Row::new("db", Closed, db(&cp), fails("db_attempt", "refused", "tcp")).says(&["refused"]),
        Row::new("db", Dns, db(dns), fails("db_attempt", "dns", "dns")).says(&["RFC 6761"]),
        Row::new(
            "init",
            BlackHole,
            init(&bh),
            fails("init", "timeout", "handshake"),
        )
        .says(&["within 1s"])
        .deadline(T, T),
        Row::new(
            "init",
            BlackHole,
            init(&pg(hole, "prefer")),
            fails("init", "timeout", "tls"),
        )
        .says(&["TLS"])
        .deadline(T, T),
        Row::new("init", Closed, init(&cp), fails("init", "refused", "tcp")).says(&["refused"]),
        Row::new("init", Dns, init(dns), fails("init", "dns", "dns")).says(&["RFC 6761"]),
        Row::new(
            "capacity",
            BlackHole,
            cap(&bh),
            fails("capacity_conn", "timeout", "handshake"),
        )
        .says(&["within 1s"])
        .never_says(&["TCP connection"])
        .deadline(T, T * 2),
        Row::new(
            "capacity",
            Closed,
            cap(&cp),
            fails("capacity_conn", "refused", "tcp"),
        )
        .says(&["refused"]),
        Row::new(
            "capacity",
            Dns,
            cap(dns),
            fails("capacity_conn", "dns", "dns"),
        )
        .says(&["RFC 6761"]),
        Row::new(
            "http",
            BlackHole,
            http(format!("http://127.0.0.1:{hole}")),
            fails("http_check", "timeout", "first_byte"),
        )
        .says(&["within 1s"])
        .deadline(T, T),
        Row::new(
            "http",
            Closed,
            http(format!("http://127.0.0.1:{closed}")),
            fails("http_check", "refused", "connect"),
        )
        .says(&["refused"]),
        Row::new(
            "http",
            Dns,
            http("http://backend.invalid:8080".into()),
            fails("http_check", "dns", "dns"),
        )
        .says(&["RFC 6761"]),
        Row::new(
            "ws",
            BlackHole,
            ws(format!("ws://127.0.0.1:{hole}/ws")),
            fails("ws_check", "timeout", "connect"),
        )
        .says(&["within 10s"])
        .never_says(&["no TCP connection"])
        .deadline(ten, ten),
        Row::new(
            "ws",
            Closed,
            ws(format!("ws://127.0.0.1:{closed}/ws")),
            fails("ws_check", "refused", "connect"),
        )
        .says(&["refused"]),
        Row::new(
            "ws",
            Dns,
            ws("ws://backend.invalid/ws".into()),
            fails("ws_check", "dns", "dns"),
        )
        .says(&["RFC 6761"]),
        Row::new(
            "rehearsal",
            BlackHole,
            reh(&["--db-url", &bh]),
            stops_at("database"),
        )
        .says(&["timeout at handshake"])
        .deadline(T, T),
        Row::new(
            "rehearsal",
            BlackHole,
            reh(&["--endpoint", &format!("be=http://127.0.0.1:{hole}")]),
            stops_at("services"),
        )
        .says(&["timeout", "response headers"])
        .deadline(T, T),
        Row::new(
            "rehearsal",
            Closed,
            reh(&["--db-url", &cp]),
            stops_at("dependencies"),
        )
        .says(&["refused"]),
        Row::new(
            "rehearsal",
            Dns,
            reh(&["--db-url", dns]),
            stops_at("dependencies"),
        )
        .says(&["RFC 6761"]),
        // A log command that cannot reach its source. (One that reaches a black hole is held
        // to the check's limit of 60 s: see the library-level test below.)
        Row::new(
            "startup",
            Closed,
            args(&["--only", "startup"]),
            Expect::Note { level: "warn" },
        )
        .env(
            "CONNSCOPE_STARTUP__COMMAND",
            format!("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{closed}'"),
        )
        .says(&["exited with code 1", "refused"])
        .exit(1),
    ];
    rows.extend(syn_rows(at.syn));
    rows.extend(resolver_rows());
    for r in rows.iter_mut().filter(|r| r.probe == "http") {
        r.env
            .push(("CONNSCOPE_HEALTH__PATHS", r#"["/health"]"#.to_string()));
    }
    rows
}

/// SYNs dropped: every probe's TCP connect waits out its deadline (`tcp` for the database
/// probes, `connect` for HTTP and WebSocket).
fn syn_rows(port: u16) -> Vec<Row> {
    let url = format!("postgres://app@127.0.0.1:{port}/app?sslmode=disable");
    let db_timeout = ["--connect-timeout", "1s", "--db-url", &url];
    let with = |a: &[&str], b: &[&str]| args(&[a, b].concat());
    let no_tcp: &[&str] = &["no TCP connection within 1s"];
    vec![
        Row::new(
            "db",
            Fault::SynDropped,
            with(&["--only", "db", "--attempts", "1"], &db_timeout),
            fails("db_attempt", "timeout", "tcp"),
        )
        .says(no_tcp)
        .deadline(T, T),
        Row::new(
            "init",
            Fault::SynDropped,
            args(&["--only", "init", "--init-timeout", "1s", "--db-url", &url]),
            fails("init", "timeout", "tcp"),
        )
        .says(no_tcp)
        .deadline(T, T),
        // The headroom check's connection first, then the wave: two deadlines in a row.
        Row::new(
            "capacity",
            Fault::SynDropped,
            with(
                &["--only", "capacity", "--capacity", "3", "--hold", "100ms"],
                &db_timeout,
            ),
            fails("capacity_conn", "timeout", "tcp"),
        )
        .says(no_tcp)
        .deadline(T, T * 2),
        Row::new(
            "http",
            Fault::SynDropped,
            args(&[
                "--only",
                "http",
                "--health-timeout",
                "1s",
                "--endpoint",
                &format!("be=http://127.0.0.1:{port}"),
            ]),
            fails("http_check", "timeout", "connect"),
        )
        .says(no_tcp)
        .deadline(T, T),
        Row::new(
            "ws",
            Fault::SynDropped,
            args(&["--only", "ws", "--ws", &format!("ws://127.0.0.1:{port}/ws")]),
            fails("ws_check", "timeout", "connect"),
        )
        .env("CONNSCOPE_WEBSOCKET__CONNECT_TIMEOUT", "1s".into())
        .says(no_tcp)
        .deadline(T, T),
        Row::new(
            "rehearsal",
            Fault::SynDropped,
            with(
                &["--only", "rehearsal", "--connect-timeout", "1s"],
                &["--init-timeout", "1s", "--db-url", &url],
            ),
            stops_at("dependencies"),
        )
        .says(&["no connection within 1s"])
        .deadline(T, T),
    ]
}

/// The system resolver against a real DNS server: its own failures (glibc's words) come back
/// at once as `dns`; when it never answers, the probe's deadline fires in the DNS step.
fn resolver_rows() -> Vec<Row> {
    let db = format!("postgres://app@{DB_NAME}:5432/app?sslmode=disable");
    let http = format!("be=http://{API_NAME}:8080");
    let ws = format!("ws://{API_NAME}/ws");
    let mut rows = Vec::new();
    let glibc: [(Fault, &'static [&'static str]); 2] = [
        (Fault::ServFail, &["Temporary failure in name resolution"]),
        (Fault::NxDomain, &["Name or service not known"]),
    ];
    for (fault, words) in glibc {
        rows.extend([
            Row::new(
                "db",
                fault,
                args(&["--only", "db", "--attempts", "1", "--db-url", &db]),
                fails("db_attempt", "dns", "dns"),
            )
            .says(words),
            Row::new(
                "http",
                fault,
                args(&["--only", "http", "--endpoint", &http]),
                fails("http_check", "dns", "dns"),
            )
            .says(words),
            Row::new(
                "ws",
                fault,
                args(&["--only", "ws", "--ws", &ws]),
                fails("ws_check", "dns", "dns"),
            )
            .says(words),
            Row::new(
                "rehearsal",
                fault,
                args(&["--only", "rehearsal", "--db-url", &db]),
                stops_at("dependencies"),
            )
            .says(words),
        ]);
    }
    let silent = |probe, a: Vec<String>, expect| Row::new(probe, Fault::DnsSilent, a, expect);
    rows.extend([
        silent(
            "db",
            args(&[
                "--only",
                "db",
                "--attempts",
                "1",
                "--connect-timeout",
                "1s",
                "--db-url",
                &db,
            ]),
            fails("db_attempt", "timeout", "dns"),
        )
        .says(&["no name resolution within 1s"])
        .deadline(T, T),
        silent(
            "http",
            args(&[
                "--only",
                "http",
                "--health-timeout",
                "1s",
                "--endpoint",
                &http,
            ]),
            fails("http_check", "timeout", "dns"),
        )
        .says(&["no name resolution within 1s"])
        .deadline(T, T),
        // The WebSocket probe's one deadline covers DNS, TCP, TLS and the upgrade; a name that
        // never resolved is said as the `dns` step it hit.
        silent(
            "ws",
            args(&["--only", "ws", "--ws", &ws]),
            fails("ws_check", "timeout", "dns"),
        )
        .says(&["no name resolution within 1s"])
        .env("CONNSCOPE_WEBSOCKET__CONNECT_TIMEOUT", "1s".into())
        .deadline(T, T),
        silent(
            "rehearsal",
            args(&[
                "--only",
                "rehearsal",
                "--connect-timeout",
                "1s",
                "--db-url",
                &db,
            ]),
            stops_at("dependencies"),
        )
        .says(&["DNS: no answer within 1s"])
        .deadline(T, T),
    ]);
    rows
}

/// What one row observed, for the coverage table and the verdict on the row.
struct Observed {
    line: String,
    problems: Vec<String>,
}

fn judge_row(r: &Row, run: &Run) -> Observed {
    let mut problems = Vec::new();
    let mut fail = |m: String| problems.push(m);
    if run.stderr.contains("panicked") {
        fail(format!("panicked: {}", run.stderr));
    }
    if run.code != Some(r.exit) {
        fail(format!("exit {:?}, want {}", run.code, r.exit));
    }
    let events = run.events();
    // (what it was, message, the probe's own time)
    let mut seen: Vec<(String, String, Option<Duration>)> = Vec::new();
    match r.expect {
        Expect::Failed { kind, class, step } => {
            let evs: Vec<&Value> = events.iter().filter(|e| e["kind"] == kind).collect();
            if evs.is_empty() {
                fail(format!("no {kind} event in {}", run.stderr));
            }
            for e in evs {
                let err = &e["error"];
                let got = format!(
                    "{}/{}",
                    err["class"].as_str().unwrap_or("-"),
                    err["step"].as_str().unwrap_or("-")
                );
                if got != format!("{class}/{step}") {
                    fail(format!("{kind}: {got}, want {class}/{step}: {e}"));
                }
                let own = match kind {
                    "db_attempt" => ms(&e["total_ms"]),
                    "init" => ms(&e["elapsed_ms"]),
                    "capacity_conn" => ms(&e["connect_ms"]),
                    "http_check" => ms(&e["latency_ms"]),
                    _ => None,
                };
                seen.push((
                    got,
                    err["message"].as_str().unwrap_or_default().to_string(),
                    own,
                ));
            }
        }
        Expect::PhaseFailed { phase } => {
            let of = |status: &str| {
                events.iter().find(|e| {
                    e["kind"] == "startup_phase" && e["name"] == phase && e["status"] == status
                })
            };
            let failed: Vec<&Value> = events
                .iter()
                .filter(|e| e["kind"] == "startup_phase" && e["status"] == "failed")
                .collect();
            match (of("started"), of("failed")) {
                (Some(s), Some(f)) if failed.len() == 1 => {
                    let ts = |e: &Value| {
                        e["ts"]
                            .as_str()
                            .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
                    };
                    let own = match (ts(s), ts(f)) {
                        (Some(a), Some(b)) => (b - a).to_std().ok(),
                        _ => None,
                    };
                    seen.push((
                        format!("phase {phase} failed"),
                        f["message"].as_str().unwrap_or_default().to_string(),
                        own,
                    ));
                }
                _ => fail(format!(
                    "want exactly phase {phase} failed; failed: {failed:?}"
                )),
            }
        }
        Expect::Note { level } => {
            let notes: Vec<&Value> = events
                .iter()
                .filter(|e| e["kind"] == "note" && e["level"] == level)
                .collect();
            match notes.first() {
                Some(n) => seen.push((
                    format!("{level} note"),
                    n["message"].as_str().unwrap_or_default().to_string(),
                    None,
                )),
                None => fail(format!("no {level} note in {}", run.stderr)),
            }
        }
    }
    for (what, message, own) in &seen {
        for w in r.says {
            if !message.contains(w) {
                fail(format!("{what}: message lacks `{w}`: {message}"));
            }
        }
        for w in r.not {
            if message.contains(w) {
                fail(format!("{what}: message says `{w}`: {message}"));
            }
        }
        match (r.timing, own) {
            (Timing::Deadline(limit), Some(t)) if !within_deadline(*t, limit, SLACK) => fail(
                format!("{what}: took {t:?} by its own clock for a {limit:?} deadline"),
            ),
            (Timing::Fast, Some(t)) if *t > FAST => fail(format!("{what}: took {t:?}")),
            _ => {}
        }
    }
    // Events that carry no duration of their own (WebSocket, notes): their time since the
    // process started, which includes starting it.
    if let (Timing::Deadline(limit), Expect::Failed { kind, .. }) = (r.timing, r.expect)
        && seen.iter().all(|(_, _, own)| own.is_none())
    {
        for e in events.iter().filter(|e| e["kind"] == kind) {
            match since_start(e, run.started_at) {
                Some(t) if within_deadline(t, limit, PROCESS) => {}
                t => fail(format!(
                    "{kind} came {t:?} after start for a {limit:?} deadline"
                )),
            }
        }
    }
    // The process as a whole: no longer than its deadlines plus starting and stopping, and
    // once the last event is out it must not linger (rendering, closing, runtime shutdown).
    let wall = r.wall.mul_f64(1.05) + PROCESS;
    if run.took > wall {
        fail(format!("the run took {:?} (bound {wall:?})", run.took));
    }
    let exited = run.started_at + run.took;
    let last = events
        .iter()
        .filter_map(|e| {
            e["at"]
                .as_str()?
                .parse::<chrono::DateTime<chrono::Utc>>()
                .ok()
        })
        .max();
    match last.and_then(|at| exited.duration_since(SystemTime::from(at)).ok()) {
        Some(linger) if linger > LINGER => fail(format!("exited {linger:?} after its last event")),
        _ => {}
    }
    let what = seen
        .iter()
        .map(|(w, _, own)| match own {
            Some(t) => format!("{w} in {:.0} ms", t.as_secs_f64() * 1000.0),
            None => w.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let bound = match r.timing {
        Timing::Deadline(l) => format!("≤ {l:?} + 5 % + {SLACK:?}"),
        Timing::Fast => format!("≤ {FAST:?}"),
    };
    Observed {
        line: format!(
            "{:<10} {:<10} {what}; run {:.2} s, exit {:?}; bound {bound}",
            r.probe,
            format!("{:?}", r.fault),
            run.took.as_secs_f64(),
            run.code
        ),
        problems,
    }
}

/// A DNS server per resolver fault, and the resolv.conf that points at it.
struct Resolvers {
    servers: Vec<(Fault, DnsServer, std::path::PathBuf)>,
    _dir: tempfile::TempDir,
}

impl Resolvers {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let servers = [Fault::ServFail, Fault::NxDomain, Fault::DnsSilent]
            .into_iter()
            .filter_map(|f| Some((f, f.answer()?)))
            .map(|(f, answer)| {
                let server = DnsServer::start(answer);
                // glibc's own timeout well past the probes' 1 s, so theirs fires first.
                let conf = server.resolv_conf(dir.path(), "timeout:3 attempts:1");
                (f, server, conf)
            })
            .collect();
        Self { servers, _dir: dir }
    }

    fn conf(&self, fault: Fault) -> Option<std::path::PathBuf> {
        self.servers
            .iter()
            .find(|(f, _, _)| *f == fault)
            .map(|(_, _, c)| c.clone())
    }
}

/// Runs one row: through the row's resolver when it has one, else as it is.
fn run_row(r: &Row, resolvers: &Resolvers) -> Run {
    let mut args: Vec<&str> = vec!["check", "--format", "json", "--progress", "json"];
    args.extend(r.args.iter().map(String::as_str));
    let env: Vec<(&str, &str)> = r.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let Some(conf) = resolvers.conf(r.fault) else {
        return fault_bin::run(&args, &env, RUN_LIMIT);
    };
    let mut c = dns::connscope_with_resolver(&conf);
    c.args(&args)
        .envs(env)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    fault_bin::run_prepared(c, RUN_LIMIT)
}

#[test]
fn every_probe_kind_fails_each_network_fault_with_its_class_and_step_in_time() {
    let hole = BlackHole::start();
    let syn = SynBlackHole::start();
    let closed = common::ClosedPort::new();
    let resolvers = Arc::new(Resolvers::start());
    let mut table = rows(&Faulty {
        hole: hole.port(),
        syn: syn.port(),
        closed: closed.port(),
    });
    // The longest row (the WebSocket's 10 s handshake) first, so it overlaps all the others.
    table.sort_by_key(|r| std::cmp::Reverse(r.wall));
    let queue = Arc::new(std::sync::Mutex::new(table.into_iter().collect::<Vec<_>>()));
    // Rows run side by side in a few workers (most of a row is waiting for a deadline).
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (queue, resolvers) = (queue.clone(), resolvers.clone());
            std::thread::spawn(move || {
                let mut done = Vec::new();
                loop {
                    let next = queue
                        .lock()
                        .ok()
                        .and_then(|mut q| (!q.is_empty()).then(|| q.remove(0)));
                    let Some(r) = next else { break };
                    let run = run_row(&r, &resolvers);
                    done.push(judge_row(&r, &run));
                }
                done
            })
        })
        .collect();
    let mut problems = Vec::new();
    eprintln!("probe      fault      observed");
    for w in workers {
        match w.join() {
            Ok(rows) => {
                for o in rows {
                    eprintln!("{}", o.line);
                    problems.extend(o.problems.into_iter().map(|p| format!("{}: {p}", o.line)));
                }
            }
            Err(_) => problems.push("a worker panicked".into()),
        }
    }
    // The resolver rows were answered by their servers, not by something else on the way.
    for (fault, server, _) in &resolvers.servers {
        if server.queries() == 0 {
            problems.push(format!("{fault:?}: its DNS server was never asked"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A command that connects to its log source and then hears nothing (`kubectl logs -f` behind a
/// dead connector) is stopped at `check`'s limit: the probe returns within limit + 5 %, says so,
/// and the command — with its socket — is gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_startup_command_stuck_on_a_black_hole_is_stopped_at_the_check_limit() {
    let hole = BlackHole::start();
    let cmd = format!(
        "bash -c 'exec 3<>/dev/tcp/127.0.0.1/{}; cat <&3'",
        hole.port()
    );
    let limit = Duration::from_secs(1);
    let mut p = StartupParams::new(matcher(), Input::Command(cmd));
    p.pacing.once_limit = limit;
    let (tx, mut rx) = mpsc::channel(64);
    let task = tokio::spawn(startup::run(
        Ctx::new(tx, CancellationToken::new()),
        Mode::Once,
        p,
    ));
    let connected = blocking(move || {
        let ok = hole.wait_accepted(1, Duration::from_secs(5));
        (ok, hole)
    })
    .await;
    let (ok, hole) = connected;
    assert!(ok, "the command never reached the black hole");
    let start = Instant::now();
    let joined = tokio::time::timeout(Duration::from_secs(10), task).await;
    let took = start.elapsed();
    assert!(matches!(joined, Ok(Ok(()))), "the probe did not end");
    assert!(took <= limit.mul_f64(1.05) + SLACK, "{took:?}");
    let mut notes = Vec::new();
    let mut last_log = None;
    while let Ok(ev) = rx.try_recv() {
        match ev.body {
            EventBody::Note(n) => notes.push((n.level, n.message)),
            EventBody::StartupLog(l) => last_log = Some(l),
            _ => {}
        }
    }
    assert!(
        notes
            .iter()
            .any(|(l, m)| *l == NoteLevel::Warn && m.contains("had not ended")),
        "{notes:?}"
    );
    assert_eq!(last_log.map(|l| (l.lines, l.ended)), Some((0, false)));
    let (closed, _hole) =
        blocking(move || (hole.wait_all_closed(Duration::from_secs(5)), hole)).await;
    assert!(closed, "the command's connection outlived the probe");
}

fn matcher() -> Matcher {
    Matcher::new(&connscope::config::Startup::default()).expect("default matcher")
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

// =============================================================================================
// 2. Slow servers and huge answers
// =============================================================================================

async fn run_bin(args: Vec<String>, env: Vec<(String, String)>) -> Run {
    blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        fault_bin::run(&a, &e, RUN_LIMIT)
    })
    .await
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn one_path_env() -> Vec<(String, String)> {
    vec![(
        "CONNSCOPE_HEALTH__PATHS".to_string(),
        r#"["/health"]"#.to_string(),
    )]
}

fn http_check_args(url: &str, timeout: &str) -> Vec<String> {
    strings(&[
        "check",
        "--only",
        "http",
        "--health-timeout",
        timeout,
        "--endpoint",
        &format!("backend={url}"),
        "--format",
        "json",
        "--progress",
        "json",
    ])
}

fn first(run: &Run, kind: &str) -> Value {
    run.events()
        .into_iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} event: {}", run.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_trickling_past_the_deadline_times_out_in_the_body_step() {
    common::init();
    // Headers and a first byte at once, then one byte every 100 ms for 10 s.
    let drip = || async { http_servers::trickle_body(100, Duration::from_millis(100)) };
    let s = http_servers::serve(Router::new().route("/health", get(drip))).await;
    let run = run_bin(http_check_args(&s.url(), "1s"), one_path_env()).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let c = first(&run, "http_check");
    assert_eq!(c["error"]["class"], "timeout", "{c}");
    assert_eq!(c["error"]["step"], "body", "{c}");
    assert_eq!(c["status"], 200);
    assert!(c["steps_ms"]["first_byte"].as_f64().is_some(), "{c}");
    let latency = ms(&c["latency_ms"]).expect("latency");
    assert!(within_deadline(latency, T, SLACK), "{latency:?}");
    let got = c["body_excerpt"].as_str().unwrap_or_default().len();
    assert!(
        (5..=15).contains(&got),
        "{got} bytes in a second of 10 bytes/s: {c}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delaying_connector_in_front_of_postgres_shows_in_the_handshake_and_stays_ok() {
    use connscope::lab::{Faults, Proxy};
    common::init();
    let pg = blocking(TempPg::start).await;
    let upstream = format!("127.0.0.1:{}", pg.port).parse().expect("addr");
    let proxy = Proxy::start(upstream, Faults::default())
        .await
        .expect("proxy");
    let url = format!(
        "postgres://app@127.0.0.1:{}/app?sslmode=disable",
        proxy.addr().port()
    );
    let p = common::db_params(&url, Duration::from_secs(10));
    // Median of three attempts, so one scheduling hiccup does not decide.
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let measure = async |label: &str| {
        let mut hs = Vec::new();
        let mut q = Vec::new();
        for seq in 1..=3 {
            let a = db::attempt_once(seq, &p).await;
            assert!(a.ok, "{label}: {:?}", a.error);
            hs.push(a.steps_ms.handshake.expect("handshake timed"));
            q.push(a.steps_ms.query.expect("query timed"));
        }
        (median(hs), median(q))
    };
    let (hs0, q0) = measure("direct").await;
    let delay = Duration::from_millis(60);
    proxy.set_faults(Faults {
        latency: delay,
        ..Faults::default()
    });
    let (hs1, q1) = measure("delayed").await;
    let rt = 2.0 * delay.as_secs_f64() * 1000.0;
    eprintln!(
        "+{delay:?} per chunk each way: handshake {hs0:.1} → {hs1:.1} ms, query {q0:.1} → {q1:.1} ms"
    );
    // Startup + authentication is one round trip under trust auth, SELECT 1 another: each
    // gains the delay twice (there and back), and not wildly more.
    assert!(
        hs1 >= rt && hs1 <= hs0 + 4.0 * rt,
        "handshake {hs0} → {hs1}"
    );
    assert!(q1 >= rt && q1 <= q0 + 4.0 * rt, "query {q0} → {q1}");
    proxy.shutdown().await;
    assert_eq!(
        blocking(move || pg.wait_sessions_gone("connscope")).await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_50_mb_body_is_cut_at_the_limit_with_bounded_memory() {
    use http_servers::StreamTrace;
    common::init();
    const TOTAL: u64 = 50 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let trace = Arc::new(StreamTrace::default());
    let t = trace.clone();
    let huge = move || {
        let t = t.clone();
        async move { http_servers::traced_body(TOTAL, CHUNK, t) }
    };
    let s = http_servers::serve(
        Router::new()
            .route("/health", get(huge))
            .route("/small/health", get(|| async { "ok" })),
    )
    .await;
    // The same check against a tiny body: what the process needs anyway.
    let baseline = run_bin(
        http_check_args(&format!("{}/small", s.url()), "5s"),
        one_path_env(),
    )
    .await;
    assert_eq!(baseline.code, Some(0), "{}", baseline.stderr);
    let run = run_bin(http_check_args(&s.url(), "5s"), one_path_env()).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let c = first(&run, "http_check");
    assert_eq!(c["ok"], true, "{c}");
    let excerpt = c["body_excerpt"].as_str().unwrap_or_default();
    assert_eq!(excerpt.chars().count(), http_probe::EXCERPT_CHARS);
    assert!(
        ms(&c["latency_ms"]).is_some_and(|l| l < Duration::from_secs(2)),
        "{c}"
    );
    assert!(run.took < Duration::from_secs(3), "{:?}", run.took);
    let grew = run.max_rss_kib - baseline.max_rss_kib;
    eprintln!(
        "50 MB body: peak RSS {} KiB (tiny body {} KiB), server produced {} KiB",
        run.max_rss_kib,
        baseline.max_rss_kib,
        trace.produced.load(Ordering::SeqCst) / 1024
    );
    assert!(
        grew < 16 * 1024,
        "peak memory grew by {grew} KiB for a 50 MB body"
    );
    let hung_up = http_servers::eventually(Duration::from_secs(5), || {
        trace.dropped_early.load(Ordering::SeqCst)
    })
    .await;
    assert!(hung_up, "the server never saw the client hang up");
    assert!(trace.produced.load(Ordering::SeqCst) < TOTAL / 2);
}

/// A WebSocket that accepts the upgrade and then says nothing at all — no reply, no answer to
/// a close frame. `seen` is set when the probe's message arrives.
async fn silent_ws(ws: WebSocketUpgrade, State(seen): State<Arc<AtomicBool>>) -> Response {
    ws.on_upgrade(move |mut socket| async move {
        if let Some(Ok(_)) = socket.recv().await {
            seen.store(true, Ordering::SeqCst);
        }
        // Holds the socket without reading, until the test's runtime ends.
        tokio::time::sleep(Duration::from_secs(600)).await;
        drop(socket);
    })
}

async fn silent_ws_server() -> (http_servers::Server, Arc<AtomicBool>) {
    let seen = Arc::new(AtomicBool::new(false));
    let router = Router::new()
        .route("/ws", get(silent_ws))
        .with_state(seen.clone());
    (http_servers::serve(router).await, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endlessly_silent_websocket_times_out_at_reply_after_the_default_5s() {
    silent_websocket_times_out_at_reply(Vec::new(), Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_websocket_reply_timeout_is_configurable() {
    let env = vec![(
        "CONNSCOPE_WEBSOCKET__REPLY_TIMEOUT".to_string(),
        "1500ms".to_string(),
    )];
    silent_websocket_times_out_at_reply(env, Duration::from_millis(1500)).await;
}

async fn silent_websocket_times_out_at_reply(env: Vec<(String, String)>, reply: Duration) {
    common::init();
    let (s, seen) = silent_ws_server().await;
    let url = format!("ws://{}/ws", s.addr);
    let run = run_bin(
        strings(&[
            "check",
            "--only",
            "ws",
            "--ws",
            &url,
            "--format",
            "json",
            "--progress",
            "json",
        ]),
        env,
    )
    .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(seen.load(Ordering::SeqCst), "the ping never arrived");
    let c = first(&run, "ws_check");
    assert_eq!(c["error"]["class"], "timeout", "{c}");
    assert_eq!(c["error"]["step"], "reply", "{c}");
    assert!(c["rtt_ms"].is_null(), "{c}");
    let connect = ms(&c["connect_ms"]).expect("the handshake completed");
    // Opening handshake, `reply` of silence, then a polite close never answered (1 s).
    let close = Duration::from_secs(1);
    let at = since_start(&c, run.started_at).expect("event time");
    assert!(
        at >= connect + reply && at <= connect + reply.mul_f64(1.05) + close + PROCESS,
        "event {at:?} after start, reply timeout {reply:?}"
    );
    let v = run.json();
    assert_eq!(v["websockets"][0]["error"]["step"], "reply");
}

// =============================================================================================
// 3. Malformed inputs the binary reads (the configuration corpus is in config_corpus.rs)
// =============================================================================================

#[test]
fn binary_garbage_as_a_startup_log_is_counted_and_skipped_never_fatal() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("garbage.bin");
    // Deterministic noise: every byte value, NULs, lone CRs, invalid UTF-8, a 200 KiB
    // line without a newline, and a few lines that almost parse.
    let mut rng = fastrand::Rng::with_seed(7);
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    bytes.extend((0..300_000).map(|_| rng.u8(..)));
    bytes.extend(std::iter::repeat_n(b'{', 200 * 1024));
    bytes.extend(b"\n{\"phase\":3,\"status\":\xff}\n\r\r\n{\"phase\":\n\0\0\0\n");
    std::fs::write(&path, &bytes).expect("write");
    let log = path.to_str().expect("utf8");
    for format in ["json", "text"] {
        let run = fault_bin::run(
            &[
                "check",
                "--only",
                "startup",
                "--startup-log",
                log,
                "--format",
                format,
            ],
            &[],
            RUN_LIMIT,
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        // Nothing in it is a startup phase: a warning, not a pass and not a crash.
        assert_eq!(run.code, Some(1), "{format}: {}{}", run.stdout, run.stderr);
        if format == "json" {
            let v = run.json();
            let l = &v["startup_log"];
            let (lines, skipped) = (l["lines"].as_u64(), l["skipped"].as_u64());
            assert!(lines.is_some_and(|n| n > 100), "{l}");
            assert_eq!(lines, skipped, "every line skipped: {l}");
            assert_eq!(l["ended"], true);
            assert!(
                v["reasons"].as_array().is_some_and(|r| r
                    .iter()
                    .any(|r| r.as_str().is_some_and(|r| r.contains("startup log")))),
                "{}",
                v["reasons"]
            );
        } else {
            assert!(
                run.stdout.contains("matched nothing and were skipped"),
                "{}",
                run.stdout
            );
        }
    }
}

#[test]
fn report_refuses_more_kinds_of_garbage_in_one_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut rng = fastrand::Rng::with_seed(11);
    let noise: Vec<u8> = (0..65_536).map(|_| rng.u8(..)).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("noise.bin", noise),
        ("nul.jsonl", vec![0u8; 4096]),
        ("array.json", b"[1,2,3]\n".to_vec()),
        (
            "cut-header.jsonl",
            b"{\"format\":\"connscope-recording\",\"version\":1,\"con".to_vec(),
        ),
        (
            "version-text.jsonl",
            b"{\"format\":\"connscope-recording\",\"version\":\"1\"}\n".to_vec(),
        ),
        (
            "utf16.jsonl",
            "{\"format\":1}"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
        ),
        ("one-long-line.jsonl", vec![b'['; 2 * 1024 * 1024]),
    ];
    let mut paths: Vec<String> = cases
        .iter()
        .map(|(name, bytes)| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).expect("write");
            p.to_string_lossy().into_owned()
        })
        .collect();
    let directory = dir.path().to_string_lossy().into_owned();
    paths.push(directory.clone());
    for p in &paths {
        // Not a recording: 78. Not a regular file at all: 66 (EX_NOINPUT).
        let want = if *p == directory { 66 } else { 78 };
        for format in ["markdown", "json", "junit", "text"] {
            let run = fault_bin::run(&["report", p, "--format", format], &[], RUN_LIMIT);
            assert_eq!(run.code, Some(want), "{p} {format}: {}", run.stderr);
            assert!(run.stdout.is_empty(), "{p}: {}", run.stdout);
            assert_eq!(
                run.stderr.trim_end().lines().count(),
                1,
                "{p}: {}",
                run.stderr
            );
            assert!(
                run.stderr.contains(p.as_str()),
                "names the file: {}",
                run.stderr
            );
            assert!(!run.stderr.contains("panicked"));
        }
    }
}

// =============================================================================================
// 4. Secrets: given in every place they can be, found in no output
// =============================================================================================

/// Echoes what it was sent: the request URI (with its token) and the Authorization header
/// (basic auth of the URL's user:password) in the body; the WebSocket URI in its reply.
fn echo_router() -> Router {
    async fn health(uri: Uri, headers: HeaderMap) -> String {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        format!("ok uri={uri} authorization={auth}")
    }
    async fn ws_echo(ws: WebSocketUpgrade, uri: Uri) -> Response {
        ws.on_upgrade(move |mut socket| async move {
            if let Some(Ok(_)) = socket.recv().await {
                let _ = socket.send(Message::text(format!("pong uri={uri}"))).await;
            }
            // Answer the close frame.
            while let Some(Ok(_)) = socket.recv().await {}
        })
    }
    Router::new()
        .route("/health", get(health))
        .route("/ws", get(ws_echo))
}

/// Where the database password comes from in one run; every place of lower precedence is
/// given a (wrong) secret too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PwFrom {
    Url,
    ConfigFile,
    PgPassword,
    PgPass,
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_given_anywhere_reaches_any_output() {
    use base64::Engine as _;
    common::init();
    let pg = blocking(|| {
        TempPg::start_with(PgOptions {
            app_password: Some("initial-Pw-0000"),
            ..PgOptions::default()
        })
    })
    .await;
    let pg = Arc::new(pg);
    let echo = http_servers::serve(echo_router()).await;
    let dir = tempfile::tempdir().expect("tmp");
    for (n, from) in [
        PwFrom::Url,
        PwFrom::ConfigFile,
        PwFrom::PgPassword,
        PwFrom::PgPass,
    ]
    .into_iter()
    .enumerate()
    {
        let secret = |what: &str| format!("{what}-{n}-Qx7Kv");
        let (url_pw, cfg_pw, env_pw, pass_pw) = (
            secret("urlpw"),
            secret("cfgpw"),
            secret("envpw"),
            secret("passfilepw"),
        );
        let (http_pw, http_tok, ws_tok, cmd_pw) = (
            secret("httppw"),
            secret("httptok"),
            secret("wstok"),
            secret("cmdpw"),
        );
        let right = match from {
            PwFrom::Url => &url_pw,
            PwFrom::ConfigFile => &cfg_pw,
            PwFrom::PgPassword => &env_pw,
            PwFrom::PgPass => &pass_pw,
        };
        let sql = format!("ALTER ROLE app PASSWORD '{right}'");
        let pg2 = pg.clone();
        blocking(move || pg2.psql(&sql)).await;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("probe:{http_pw}"));
        let mut secrets = vec![
            http_pw.clone(),
            http_tok.clone(),
            ws_tok.clone(),
            cmd_pw.clone(),
            basic,
        ];
        // Every place of the same or lower precedence than the one that wins.
        let userinfo = if from <= PwFrom::Url {
            secrets.push(url_pw.clone());
            format!("app:{url_pw}")
        } else {
            "app".into()
        };
        let config_pw = if from <= PwFrom::ConfigFile {
            secrets.push(cfg_pw.clone());
            format!("password = \"{cfg_pw}\"\n")
        } else {
            String::new()
        };
        let mut env: Vec<(String, String)> = vec![("CONNSCOPE_LOG".into(), "debug".into())];
        if from <= PwFrom::PgPassword {
            secrets.push(env_pw.clone());
            env.push(("PGPASSWORD".into(), env_pw.clone()));
        }
        secrets.push(pass_pw.clone());
        let pgpass = dir.path().join(format!("pgpass-{n}"));
        std::fs::write(
            &pgpass,
            format!("127.0.0.1:{}:app:app:{pass_pw}\n", pg.port),
        )
        .expect("pgpass");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        env.push(("PGPASSFILE".into(), pgpass.to_string_lossy().into_owned()));

        let config = dir.path().join(format!("connscope-{n}.toml"));
        let port = echo.addr.port();
        std::fs::write(
            &config,
            format!(
                r#"[database]
url = "postgres://{userinfo}@127.0.0.1:{pg_port}/app?sslmode=disable"
{config_pw}
[health]
paths = ["/health"]

[[endpoints]]
name = "backend"
url = "http://probe:{http_pw}@127.0.0.1:{port}/?token={http_tok}"
websocket = "ws://127.0.0.1:{port}/ws?token={ws_tok}"

[startup]
command = "echo connecting --password={cmd_pw} >&2; exit 3"
"#,
                pg_port = pg.port
            ),
        )
        .expect("config");
        let cfg = config.to_string_lossy().into_owned();
        let rec = dir.path().join(format!("rec-{n}.jsonl"));
        let log = dir.path().join(format!("log-{n}.txt"));
        let (rec_s, log_s) = (
            rec.to_string_lossy().into_owned(),
            log.to_string_lossy().into_owned(),
        );
        let run = run_bin(
            strings(&[
                "--config",
                &cfg,
                "check",
                "--only",
                "db,init,capacity,http,ws,startup,rehearsal",
                "--attempts",
                "1",
                "--capacity",
                "2",
                "--hold",
                "50ms",
                "--format",
                "json",
                "--progress",
                "json",
                "--record",
                &rec_s,
                "--log-file",
                &log_s,
            ]),
            env.clone(),
        )
        .await;
        // The secret that wins really was used, and the echoes really came back (masked).
        let v = run.json();
        assert_eq!(
            v["database"]["attempts"][0]["ok"], true,
            "{from:?}: {}",
            run.stdout
        );
        assert_eq!(v["init"]["ok"], true, "{from:?}");
        assert_eq!(v["capacity"]["succeeded"], 2, "{from:?}: {}", v["capacity"]);
        let body = v["endpoints"][0]["checks"][0]["body_excerpt"]
            .as_str()
            .unwrap_or_default();
        assert!(
            body.contains("token=***") && body.contains("Basic ***"),
            "{from:?}: {body}"
        );
        let reply = first(&run, "ws_check")["reply_excerpt"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(reply.contains("token=***"), "{from:?}: {reply}");
        assert!(
            run.events().iter().any(|e| e["kind"] == "note"
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("exited with code 3"))),
            "the command's error output was reported"
        );

        let mut outputs = vec![
            ("check".to_string(), run.all_output()),
            (
                "recording".into(),
                std::fs::read_to_string(&rec).unwrap_or_default(),
            ),
        ];
        for format in ["markdown", "json", "junit", "text"] {
            let r = run_bin(strings(&["report", &rec_s, "--format", format]), Vec::new()).await;
            assert!(
                r.code.is_some_and(|c| c <= 2),
                "report {format}: {}",
                r.stderr
            );
            outputs.push((format!("report {format}"), r.all_output()));
        }
        for format in ["text", "json"] {
            let r = run_bin(
                strings(&["--config", &cfg, "config", "show", "--format", format]),
                env.clone(),
            )
            .await;
            assert_eq!(r.code, Some(0), "config show {format}: {}", r.stderr);
            outputs.push((format!("config show {format}"), r.all_output()));
        }
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            !log_text.is_empty(),
            "debug logging wrote nothing to search"
        );
        outputs.push(("log file".into(), log_text));
        for (place, text) in &outputs {
            for s in &secrets {
                assert!(
                    !text.contains(s.as_str()),
                    "{from:?}: {place} leaked `{s}`:\n{text}"
                );
            }
        }
    }
    assert_eq!(
        blocking(move || pg.wait_sessions_gone("connscope")).await,
        0
    );
}

// =============================================================================================
// 5. Cancellation in the middle of every kind of wait
// =============================================================================================

/// A probe task caught mid-wait, and what it holds that must be let go.
struct Mid {
    what: &'static str,
    cancel: CancellationToken,
    task: JoinHandle<()>,
    _rx: mpsc::Receiver<Event>,
    hole: Option<BlackHole>,
    pg: Option<TempPg>,
    /// The application_name its sessions carry in `pg`.
    app: &'static str,
    /// Servers and files that must outlive the wait.
    _keep: Vec<Box<dyn std::any::Any + Send>>,
}

/// How long a cancelled probe may take to end.
const JOIN_BOUND: Duration = Duration::from_millis(500);
/// Upper bound for getting a probe into its wait.
const SETUP: Duration = Duration::from_secs(10);

fn ctx() -> (Ctx, CancellationToken, mpsc::Receiver<Event>) {
    let (tx, rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    (Ctx::new(tx, cancel.clone()), cancel, rx)
}

async fn wait_accepted(hole: BlackHole, n: usize) -> BlackHole {
    let (ok, hole) = blocking(move || (hole.wait_accepted(n, SETUP), hole)).await;
    assert!(ok, "{n} connection(s) never reached the black hole");
    hole
}

async fn next_event(rx: &mut mpsc::Receiver<Event>, what: &str) -> Event {
    match tokio::time::timeout(SETUP, rx.recv()).await {
        Ok(Some(ev)) => ev,
        other => panic!("{what}: no event ({other:?})"),
    }
}

async fn mid_wait(kind: Kind) -> Mid {
    let (ctx, cancel, mut rx) = ctx();
    let long = Duration::from_secs(60);
    let hole_url =
        |h: &BlackHole| format!("postgres://app@127.0.0.1:{}/app?sslmode=disable", h.port());
    let mid = |what: &'static str,
               task: JoinHandle<()>,
               rx: mpsc::Receiver<Event>,
               hole: Option<BlackHole>,
               pg: Option<TempPg>,
               keep: Vec<Box<dyn std::any::Any + Send>>| Mid {
        what,
        cancel: cancel.clone(),
        task,
        _rx: rx,
        hole,
        pg,
        app: "connscope",
        _keep: keep,
    };
    match kind {
        Kind::Db => {
            let closed = common::ClosedPort::new();
            let mut p = common::db_params(
                &format!(
                    "postgres://app@127.0.0.1:{}/app?sslmode=disable",
                    closed.port()
                ),
                Duration::from_secs(5),
            );
            p.interval = Duration::from_secs(30);
            p.max_backoff = long;
            let task = tokio::spawn(db::run(ctx, Control::inert(), Mode::Live, p));
            let ev = next_event(&mut rx, "db").await;
            assert!(
                matches!(&ev.body, EventBody::DbAttempt(a) if !a.ok),
                "{ev:?}"
            );
            mid(
                "db in backoff after a refusal",
                task,
                rx,
                None,
                None,
                vec![Box::new(closed)],
            )
        }
        Kind::Init => {
            let hole = BlackHole::start();
            let t = common::target(&hole_url(&hole));
            let p = InitParams {
                connect: ConnectParams::new(&t, long, Duration::from_secs(5)).expect("params"),
                target: t,
            };
            let task = tokio::spawn(init::run(ctx, Control::inert(), Mode::Once, p));
            let hole = wait_accepted(hole, 1).await;
            mid(
                "init waiting in the handshake",
                task,
                rx,
                Some(hole),
                None,
                Vec::new(),
            )
        }
        Kind::Capacity => {
            let pg = blocking(TempPg::start).await;
            let p = CapacityParams {
                target: common::target(&pg.url("app", "app")),
                requested: 3,
                hold: long,
                cap: 35,
                margin: 0.8,
                force: false,
                connect_timeout: Duration::from_secs(5),
                statement_timeout: Duration::from_secs(5),
            };
            let task = tokio::spawn(capacity::run(ctx, 1, p));
            let (held, pg) = blocking(move || {
                let ok = common::wait_until(SETUP, || pg.sessions("connscope") == 3);
                (ok, pg)
            })
            .await;
            assert!(held, "the capacity test never held its 3 connections");
            mid(
                "capacity holding 3 connections",
                task,
                rx,
                None,
                Some(pg),
                Vec::new(),
            )
        }
        Kind::Pool => {
            let pg = blocking(TempPg::start).await;
            // A pool of 3 with every connection held and a 4th borrower waiting in acquire.
            let p = PoolParams {
                target: common::target(&pg.url("app", "app")),
                size: 2,
                max_overflow: 1,
                acquire_timeout: long,
                borrowers: Some(4),
                hold: long,
                duration: long,
                pause: Duration::ZERO,
                recycle: None,
                pre_ping: false,
                cap: 35,
                margin: 0.8,
                force: false,
                connect_timeout: Duration::from_secs(5),
                statement_timeout: Duration::from_secs(5),
            };
            let stop = cancel.child_token();
            let task = tokio::spawn(pool::run(ctx, stop, 1, p));
            let (held, pg) = blocking(move || {
                let ok = common::wait_until(SETUP, || pg.sessions(pool::APPLICATION_NAME) == 3);
                (ok, pg)
            })
            .await;
            assert!(held, "the pool never held its 3 connections");
            Mid {
                app: pool::APPLICATION_NAME,
                ..mid(
                    "pool holding 3, a borrower waiting",
                    task,
                    rx,
                    None,
                    Some(pg),
                    Vec::new(),
                )
            }
        }
        Kind::Http => {
            let hole = BlackHole::start();
            let p = HttpParams {
                endpoints: vec![HttpEndpoint {
                    name: "backend".into(),
                    url: format!("http://127.0.0.1:{}", hole.port()),
                }],
                paths: vec!["/health".into()],
                tries: 1,
                tries_interval: Duration::from_millis(50),
                timeout: long,
                body_limit: 4096,
                interval: long,
                tls: None,
            };
            let task = tokio::spawn(http_probe::run(ctx, Control::inert(), Mode::Once, p));
            let hole = wait_accepted(hole, 1).await;
            mid(
                "http waiting for response headers",
                task,
                rx,
                Some(hole),
                None,
                Vec::new(),
            )
        }
        Kind::Ws => {
            let (server, seen) = silent_ws_server().await;
            let p = WsParams {
                urls: vec![format!("ws://{}/ws", server.addr)],
                connect_timeout: Duration::from_secs(10),
                reply_timeout: long,
                // The default: a cancel must not wait it out for a server that never answers.
                close_timeout: Duration::from_secs(1),
                interval: long,
                message: ws::PING.into(),
                tls: None,
            };
            let task = tokio::spawn(ws::run(ctx, Control::inert(), Mode::Once, p));
            let pinged = http_servers::eventually(SETUP, || seen.load(Ordering::SeqCst)).await;
            assert!(pinged, "the WebSocket ping never arrived");
            mid(
                "ws waiting for a reply",
                task,
                rx,
                None,
                None,
                vec![Box::new(server) as Box<dyn std::any::Any + Send>],
            )
        }
        Kind::Startup => {
            let dir = tempfile::tempdir().expect("tmp");
            let path = dir.path().join("startup.log");
            std::fs::write(
                &path,
                "{\"timestamp\":\"2026-11-25T10:00:00Z\",\"phase\":1,\"status\":\"started\"}\n",
            )
            .expect("write");
            let mut p = StartupParams::new(matcher(), Input::File(path));
            p.pacing = Pacing {
                poll: Duration::from_millis(20),
                ..Pacing::default()
            };
            let task = tokio::spawn(startup::run(ctx, Mode::Live, p));
            let ev = next_event(&mut rx, "startup").await;
            assert!(matches!(ev.body, EventBody::StartupPhase(_)), "{ev:?}");
            mid(
                "startup following a file",
                task,
                rx,
                None,
                None,
                vec![Box::new(dir) as Box<dyn std::any::Any + Send>],
            )
        }
        Kind::Rehearsal => {
            let hole = BlackHole::start();
            let flag = |key, value: &str, flag| FlagOverride {
                key,
                value: toml::Value::String(value.into()),
                flag,
            };
            let config = Config::load(&LoadOptions {
                flags: vec![
                    flag("database.url", &hole_url(&hole), "--db-url"),
                    flag("timeouts.initialization", "60s", "--init-timeout"),
                ],
                ..LoadOptions::default()
            })
            .expect("config");
            let p = RehearsalParams::from_config(&config);
            let task = tokio::spawn(rehearsal::run(ctx, p));
            // Phase 2 reaches the port (one connection), phase 3 connects and hangs (two).
            let hole = wait_accepted(hole, 2).await;
            mid(
                "rehearsal in the database phase",
                task,
                rx,
                Some(hole),
                None,
                Vec::new(),
            )
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_probe_kind_ends_promptly_when_cancelled_mid_wait() {
    common::init();
    let mut problems = Vec::new();
    for kind in Kind::ALL {
        let m = mid_wait(kind).await;
        // Settle into the wait (the readiness signal can come a moment before it).
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !m.task.is_finished(),
            "{}: ended before it was cancelled",
            m.what
        );
        let start = Instant::now();
        m.cancel.cancel();
        let joined = tokio::time::timeout(Duration::from_secs(10), m.task).await;
        let took = start.elapsed();
        eprintln!(
            "{:<34} joined {:.1} ms after cancel",
            m.what,
            took.as_secs_f64() * 1000.0
        );
        if !matches!(joined, Ok(Ok(()))) {
            problems.push(format!("{}: did not end cleanly: {joined:?}", m.what));
        } else if took > JOIN_BOUND {
            problems.push(format!("{}: ended {took:?} after cancel", m.what));
        }
        if let Some(hole) = m.hole {
            let (closed, hole) =
                blocking(move || (hole.wait_all_closed(Duration::from_secs(2)), hole)).await;
            if !closed {
                problems.push(format!(
                    "{}: {} of {} connections still open",
                    m.what,
                    hole.accepted() - hole.closed_by_client(),
                    hole.accepted()
                ));
            }
        }
        if let Some(pg) = m.pg {
            let app = m.app;
            let left = blocking(move || pg.wait_sessions_gone(app)).await;
            if left != 0 {
                problems.push(format!("{}: {left} sessions left", m.what));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
