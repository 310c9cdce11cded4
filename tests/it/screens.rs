//! Every lab scenario on the dashboard at 80×24, 120×35, 160×50 and 200×60, drawn from real
//! data: a `check --record` of each scenario against `lab --headless`
//! (`tests/fixtures/recordings/scenario-*.jsonl`, made by `make-scenario-recordings.sh`)
//! replayed into the state, announced as the lab announces a scenario, and drawn with the
//! dashboard's own `draw` on a `TestBackend`. Snapshots in `tests/it/snapshots/`.
//!
//! And the guard for every snapshot in the project: no line may end in a cut word of a label
//! the dashboard uses (`(18 res`, `initializa…`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common::frames::frame;
use connscope::event::{ErrorClass, Event, EventBody, LabScenario};
use connscope::record;
use connscope::state::State;
use connscope::ui::{App, Keymap, UiOptions, ViewMode};

const SIZES: [(u16, u16); 4] = [(80, 24), (120, 35), (160, 50), (200, 60)];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The dashboard `connscope lab` would show after the recorded events.
fn lab_app(scenario: &str) -> App {
    let path = root().join(format!(
        "tests/fixtures/recordings/scenario-{scenario}.jsonl"
    ));
    let rec = record::read(&path).expect("the scenario recording reads");
    let scenarios = connscope::lab::scenario::list();
    let description = scenarios
        .iter()
        .find(|(n, _)| n == scenario)
        .map(|(_, d)| d.clone())
        .expect("a built-in scenario");
    let mut state = State::new(rec.header.state.clone());
    let first = rec.events.first().map(|e| e.at).expect("events recorded");
    state.apply(&Event::at(
        first,
        EventBody::LabScenario(LabScenario {
            name: scenario.into(),
            description,
        }),
    ));
    for ev in &rec.events {
        state.apply(ev);
    }
    let opts = UiOptions {
        mode: ViewMode::Lab { scenarios },
        capacity_connections: Some(10),
        ..UiOptions::default()
    };
    App::new(&opts, state)
}

fn scenario_screens(scenario: &str) {
    let mut app = lab_app(scenario);
    for (w, h) in SIZES {
        let text = frame(&mut app, w, h);
        insta::assert_snapshot!(format!("{scenario}_{w}x{h}"), text);
    }
}

#[test]
fn healthy_at_four_sizes() {
    scenario_screens("healthy");
}

#[test]
fn connector_saturation_at_four_sizes() {
    scenario_screens("connector-saturation");
}

#[test]
fn db_capacity_at_four_sizes() {
    scenario_screens("db-capacity");
}

#[test]
fn startup_timeout_at_four_sizes() {
    scenario_screens("startup-timeout");
}

#[test]
fn flapping_at_four_sizes() {
    scenario_screens("flapping");
}

/// What matters in each scenario is on screen at every size, the smallest included.
#[test]
fn the_failure_that_matters_survives_the_smallest_screen() {
    let cases = [
        ("startup-timeout", "timeout@tls"),
        ("db-capacity", "too_many_connections"),
        ("connector-saturation", "timeout"),
    ];
    for (scenario, needle) in cases {
        let mut app = lab_app(scenario);
        for (w, h) in SIZES {
            let text = frame(&mut app, w, h);
            assert!(
                text.contains(needle),
                "{scenario} {w}x{h}: no {needle}\n{text}"
            );
            assert!(
                text.contains("init "),
                "{scenario} {w}x{h}: no init row\n{text}"
            );
        }
    }
}

// ---- no cut words -----------------------------------------------------------------------

/// Words of the labels the dashboard draws: panel titles, keys, verdicts, classes, phases,
/// scenario names and the words panels put together.
fn label_words() -> BTreeSet<String> {
    let mut text = String::from(
        "Database attempts via VPC connector Startup phases Endpoints Capacity Alerts and \
         diagnosis Event log targets alert timeline success failing in a row errors none \
         steps successful attempts timeout violations scale robust full capacity error \
         init connected limit fired near far from the configured no result yet \
         result total time error times ms startup failure consistent intermittent fell back \
         WebSocket handshake rtt down up not checked yet from service's log connscope's \
         rehearsal run restart restarts lines unmatched reading phase budgets earlier exit \
         total pass over budget FAILED running not yet test running took stopped early \
         opened cap capped FORCED past server max in use reserved connect avg start a of \
         connections asks first likely possible maybe more findings finding alerts \
         CRITICAL WARNING INFRA CAPACITY since raised cleared theme dark light high-contrast \
         MASKED PAUSED LAB REPLAY PROBES ENDED PASS WARN FAIL scenario switching elapsed \
         direct Postgres Cloud SQL unix socket waiting for the first probe results every \
         target met quit help zoom mask unmask focus pause resume speed seek next \
         nothing logged shown ever closes initialization database connection pool headroom \
         check beneath acquired borrowers",
    );
    for (_, keys, what) in Keymap::default_for(&ViewMode::Replay).help() {
        text.push_str(&format!(" {keys} {what}"));
    }
    let lab = ViewMode::Lab {
        scenarios: connscope::lab::scenario::list(),
    };
    for (_, keys, what) in Keymap::default_for(&lab).help() {
        text.push_str(&format!(" {keys} {what}"));
    }
    for c in ErrorClass::ALL {
        text.push_str(&format!(" {}", c.as_str()));
    }
    for ph in connscope::config::Phase::outage_defaults() {
        text.push_str(&format!(" {}", ph.name));
    }
    for name in connscope::lab::scenario::names() {
        text.push_str(&format!(" {name}"));
    }
    text.split(|c: char| c.is_whitespace() || c == '/' || c == '@')
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| w.chars().count() >= 3)
        .collect()
}

/// Every `.snap` under `dir`, as `(file name, text below the header)`.
fn snapshots(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p: PathBuf = e.path();
        if p.extension().is_some_and(|x| x == "snap") {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            // The insta header ends with its second `---` line.
            let body = text
                .splitn(3, "\n---\n")
                .nth(2)
                .unwrap_or(&text)
                .to_string();
            out.push((
                p.file_name().unwrap_or_default().to_string_lossy().into(),
                body,
            ));
        }
    }
    out
}

/// Runs of text between borders: what a panel drew on one line.
fn segments(line: &str) -> Vec<&str> {
    line.split(|c: char| {
        matches!(
            c,
            '│' | '┃' | '║' | '╭' | '╮' | '╰' | '╯' | '┏' | '┓' | '┗' | '┛'
        )
    })
    .map(str::trim_end)
    .filter(|s| !s.trim().is_empty())
    .collect()
}

fn bare(token: &str) -> String {
    token
        .trim_end_matches('…')
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

/// Words seen whole somewhere: not at the end of a segment, nor ended with `…`.
fn whole_words(texts: &[(String, String)]) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for (_, body) in texts {
        for line in body.lines() {
            for seg in segments(line) {
                let tokens: Vec<&str> = seg.split_whitespace().collect();
                for t in tokens.iter().take(tokens.len().saturating_sub(1)) {
                    if !t.ends_with('…') {
                        words.insert(bare(t));
                    }
                }
            }
        }
    }
    words
}

/// `token` is the beginning of a label word but not a word in its own right. A token its
/// writer closed (`open)`, `done.`, `3,`) was not cut.
fn cut_label(token: &str, labels: &BTreeSet<String>, words: &BTreeSet<String>) -> Option<String> {
    if token.ends_with([')', ']', '.', ',', ':', ';', '"']) {
        return None;
    }
    let stem = bare(token);
    if stem.chars().count() < 2 || labels.contains(&stem) || words.contains(&stem) {
        return None;
    }
    labels
        .iter()
        .find(|l| l.len() > stem.len() && l.starts_with(&stem))
        .map(|l| format!("{token:?} is a cut {l:?}"))
}

fn cut_words_in(texts: &[(String, String)]) -> Vec<String> {
    let labels = label_words();
    let words = whole_words(texts);
    let mut found = Vec::new();
    for (name, body) in texts {
        for line in body.lines() {
            for seg in segments(line) {
                let tokens: Vec<&str> = seg.split_whitespace().collect();
                let last = tokens.last().copied().filter(|t| !t.ends_with('…'));
                let ellipsed = tokens.iter().copied().filter(|t| t.ends_with('…'));
                for t in last.into_iter().chain(ellipsed) {
                    if let Some(why) = cut_label(t, &labels, &words) {
                        found.push(format!("{name}: {why} in {line:?}"));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn no_snapshot_line_ends_in_a_cut_word_of_a_label() {
    let mut texts = snapshots(&root().join("src/ui/snapshots"));
    texts.extend(snapshots(&root().join("tests/it/snapshots")));
    assert!(
        texts.len() > 40,
        "the snapshots were found: {}",
        texts.len()
    );
    let found = cut_words_in(&texts);
    assert!(found.is_empty(), "cut words:\n{}", found.join("\n"));
}

/// The guard itself: the cuts the issue reported are caught, whole words are not.
#[test]
fn the_cut_word_guard_catches_the_reported_cuts() {
    let texts = vec![(
        "example".to_string(),
        "│run #19 (18 res│\n│✗ phase 3 database: database initializa…│\n\
         │from the service's startup log · run #3 (2 restarts)   │\n│1 init  ✓ pass│\n"
            .to_string(),
    )];
    let found = cut_words_in(&texts);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(cut_words_in(&[("x".into(), "│pause (probes go on)│\n".into())]).is_empty());
    assert!(found[0].contains("\"res\""), "{found:#?}");
    assert!(found[1].contains("initializa…"), "{found:#?}");
}
