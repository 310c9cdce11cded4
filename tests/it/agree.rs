//! One judge, every output: the same recording rendered as JSON, text, markdown and JUnit by
//! the real `report` command, and drawn by the dashboard (its own `draw` on a TestBackend,
//! fed the recording's events) — the verdict, its reasons and the alert set must agree.

use std::path::Path;

use connscope::event::Event;
use connscope::record;
use connscope::state::State;
use connscope::state::fixtures::{healthy, t};
use connscope::ui::feed::Feed;
use connscope::ui::{App, UiOptions};
use serde_json::Value;

use crate::common::fault_bin;
use crate::common::frames::frame;

const W: u16 = 240;
const H: u16 = 60;

/// What one output says: verdict word, reasons, alerts as (level, message).
#[derive(Debug, PartialEq)]
struct Said {
    verdict: String,
    reasons: Vec<String>,
    alerts: Vec<(String, String)>,
}

fn report(path: &str, format: &str) -> (Option<i32>, String) {
    let r = fault_bin::run(
        &["report", path, "--format", format],
        &[],
        std::time::Duration::from_secs(60),
    );
    (r.code, r.stdout)
}

fn json(path: &str) -> (i32, Said) {
    let (code, out) = report(path, "json");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["exit_code"].as_i64().map(|c| c as i32), code, "{v:#}");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let alerts = v["alerts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["level"].as_str().unwrap_or_default().to_string(),
                        x["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let said = Said {
        verdict: v["verdict"].as_str().unwrap_or_default().to_string(),
        reasons: strings(&v["reasons"]),
        alerts,
    };
    (code.unwrap_or(-1), said)
}

/// `  - reason` lines after the verdict line; `  LEVEL  message` lines under "Alerts".
fn text(path: &str) -> Said {
    let (_, out) = report(path, "text");
    let verdict_line = out
        .lines()
        .find(|l| l.starts_with("Verdict: "))
        .unwrap_or_else(|| panic!("no verdict line:\n{out}"));
    let verdict = verdict_line["Verdict: ".len()..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_lowercase();
    let reasons = out
        .lines()
        .skip_while(|l| !l.starts_with("Verdict: "))
        .skip(1)
        .filter_map(|l| l.strip_prefix("  - ").map(str::to_string))
        .collect();
    let alerts = out
        .lines()
        .skip_while(|l| *l != "Alerts")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let l = l.trim_start();
            let (level, msg) = l.split_once(' ')?;
            Some((level.to_lowercase(), msg.trim_start().to_string()))
        })
        .collect();
    Said {
        verdict,
        reasons,
        alerts,
    }
}

/// `## Verdict: ❌ FAIL (exit 2)` and its `- reason` list (table-cell escaping undone).
fn markdown(path: &str) -> (String, Vec<String>) {
    let (_, out) = report(path, "markdown");
    let head = out
        .lines()
        .find(|l| l.starts_with("## Verdict: "))
        .unwrap_or_else(|| panic!("no verdict heading:\n{out}"));
    let verdict = ["PASS", "WARN", "FAIL"]
        .into_iter()
        .find(|w| head.contains(w))
        .unwrap_or_default()
        .to_lowercase();
    let reasons = out
        .lines()
        .skip_while(|l| !l.starts_with("## Verdict: "))
        .skip(1)
        .skip_while(|l| l.is_empty())
        .take_while(|l| l.starts_with("- "))
        .map(|l| l[2..].replace("\\|", "|").replace("&lt;", "<"))
        .collect();
    (verdict, reasons)
}

/// The verdict property, and whether the infrastructure-alert case failed.
fn junit(path: &str) -> (String, bool) {
    let (_, out) = report(path, "junit");
    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let verdict = doc
        .descendants()
        .find(|n| n.has_tag_name("property") && n.attribute("name") == Some("verdict"))
        .and_then(|n| n.attribute("value"))
        .unwrap_or_default()
        .to_string();
    let infra_failed = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("testcase")
                && n.attribute("name") == Some("database timeout-violation rate")
        })
        .is_some_and(|n| n.children().any(|c| c.has_tag_name("failure")));
    (verdict, infra_failed)
}

/// The dashboard fed the recording, drawn: the header's two lines and the whole screen.
fn dashboard(path: &str) -> (String, String, String) {
    let rec = record::read(Path::new(path)).expect("reads");
    let mut app = App::new(&UiOptions::default(), State::new(rec.header.state.clone()));
    for ev in rec.events {
        app.apply_feed(Feed::Event(ev));
    }
    let screen = frame(&mut app, W, H);
    let lines: Vec<&str> = screen.lines().collect();
    (lines[0].to_string(), lines[1].to_string(), lines.join("\n"))
}

fn badge(verdict: &str) -> &'static str {
    match verdict {
        "pass" => "✓ PASS",
        "warn" => "! WARN",
        _ => "✗ FAIL",
    }
}

fn dashboard_level(level: &str) -> &'static str {
    match level {
        "critical" => "CRITICAL",
        "warning" => "WARNING",
        "infrastructure" => "INFRA",
        _ => "CAPACITY",
    }
}

fn assert_agree(path: &str) {
    let (code, j) = json(path);
    let t = text(path);
    assert_eq!(t, j, "text and JSON disagree on {path}");
    let (md_verdict, md_reasons) = markdown(path);
    assert_eq!(
        (md_verdict.as_str(), &md_reasons),
        (j.verdict.as_str(), &j.reasons),
        "{path}"
    );
    for (level, message) in &j.alerts {
        let line = format!("{level} alert: {message}");
        assert!(
            md_reasons.contains(&line),
            "markdown lacks `{line}`: {md_reasons:?}"
        );
    }
    let (ju_verdict, infra_failed) = junit(path);
    assert_eq!(ju_verdict, j.verdict, "{path}");
    assert_eq!(
        infra_failed,
        j.alerts.iter().any(|(l, _)| l == "infrastructure"),
        "JUnit's infrastructure case follows the alert, not a rule of its own: {path}"
    );
    let (line1, line2, screen) = dashboard(path);
    assert!(line1.ends_with(badge(&j.verdict)), "{path}: {line1}");
    match j.reasons.split_first() {
        None => assert!(line2.contains("every target met, no alert"), "{line2}"),
        Some((first, rest)) => {
            let more = if rest.is_empty() {
                String::new()
            } else {
                format!(" (+{} more)", rest.len())
            };
            assert!(
                line2.starts_with(&format!(" {first}{more}")),
                "{path}:\n{line2}\nwant {first}{more}"
            );
        }
    }
    for (level, message) in &j.alerts {
        let head: String = message.chars().take(40).collect();
        let shown = format!("{} {head}", dashboard_level(level));
        assert!(
            screen.lines().any(|l| l
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .contains(&shown)),
            "{path}: the dashboard lacks `{shown}`:\n{screen}"
        );
    }
    let levels_shown = ["CRITICAL ", "WARNING ", "INFRA ", "CAPACITY "]
        .iter()
        .filter(|w| screen.contains(&format!("│{w}")) || screen.contains(&format!("┃{w}")))
        .count();
    assert_eq!(
        levels_shown,
        j.alerts.len(),
        "{path}: one line per alert:\n{screen}"
    );
    assert_eq!(code, t_exit(&j.verdict), "{path}");
}

fn t_exit(verdict: &str) -> i32 {
    match verdict {
        "pass" => 0,
        "warn" => 1,
        _ => 2,
    }
}

#[test]
fn every_output_agrees_on_the_sample_outage() {
    let path = format!(
        "{}/tests/fixtures/recordings/outage.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    assert_agree(&path);
}

#[test]
fn every_output_agrees_on_a_recording_of_an_older_version() {
    // A real `check --record` of the lab's outage, written before this version: no probe
    // selection, the probe's own startup-failure flag in its 503s.
    let path = format!("{}/assets/outage.jsonl", env!("CARGO_MANIFEST_DIR"));
    assert_agree(&path);
}

#[test]
fn every_output_agrees_on_a_healthy_run() {
    let sample = format!(
        "{}/tests/fixtures/recordings/outage.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let header = std::fs::read_to_string(sample)
        .expect("the sample")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let mut text = header + "\n";
    for (at, body) in healthy() {
        text.push_str(&serde_json::to_string(&Event::at(t(at), body)).expect("encodes"));
        text.push('\n');
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("healthy.jsonl");
    std::fs::write(&path, text).expect("write");
    let path = path.display().to_string();
    assert_eq!(json(&path).1.verdict, "pass");
    assert_agree(&path);
}
