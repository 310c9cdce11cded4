//! The HTML report and the markdown's chart files through the real binary: the SVG structure
//! of the sample outage and of a real pool run (snapshot: elements, classes, ids and words —
//! not coordinates), the page drawn by a real headless Chromium (the charts' regions are not
//! blank and carry the theme's colours), secrets planted in a recording reach neither the page
//! nor the files, and the flags' errors.

mod chromium;
mod planted;
mod structure;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::fault_bin;

const LIMIT: Duration = Duration::from_secs(60);

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/outage.jsonl")
}

/// A real `check --only pool --record` against a cluster with fewer slots than the pool
/// (tests/fixtures/recordings/make-pool-recording.sh): 7 acquire timeouts, 53300 beneath.
fn pool_run() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings/pool-53300.jsonl")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `report FILE --format html` (plus `extra`), its exit code and page.
fn html_of(file: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["report", path_str(file), "--format", "html"];
    args.extend_from_slice(extra);
    let r = fault_bin::run(&args, &[], LIMIT);
    (r.code, r.stdout)
}

/// Every inline `<svg>…</svg>` of a page.
fn inline_svgs(page: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find("<svg") {
        let Some(len) = rest[start..].find("</svg>") else {
            break;
        };
        let end = start + len + "</svg>".len();
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

#[test]
fn the_sample_outage_page_is_self_contained_and_tells_the_story() {
    let (code, page) = html_of(&sample(), &[]);
    assert_eq!(code, Some(2), "the outage fails");
    assert!(page.starts_with("<!DOCTYPE html>"));
    for fetched in ["<script", "src=", "href=", "@import", "url(", "@font-face"] {
        assert!(
            !page.contains(fetched),
            "nothing fetched, no script: {fetched}"
        );
    }
    assert!(
        page.contains("default-src 'none'"),
        "the browser is told so"
    );
    for words in [
        "FAIL",
        "database down since 21:20:10 UTC",
        "The outage&#39;s signature",
        "Configuration in force",
        "timeouts.connection",
        "2026-11-25 21:20:06 UTC → 2026-11-25 21:20:32 UTC (26 s)",
    ] {
        assert!(page.contains(words), "{words}");
    }
    let ids: Vec<String> = inline_svgs(&page)
        .iter()
        .map(|s| {
            let doc = roxmltree::Document::parse(s).expect("each chart is well-formed XML");
            doc.root_element().attribute("id").unwrap_or("").to_string()
        })
        .collect();
    assert_eq!(ids, vec!["db-timeline", "startup-phases", "status-strips"]);
    assert!(page.contains("No capacity test ran."));
    assert!(
        !page.contains("s-pool-waits") && !page.contains("Application pool"),
        "no pool section without a pool run: the probe is never on by default"
    );
    assert!(
        page.contains(r#"<body class="theme-light">"#),
        "documents are light by default"
    );
}

#[test]
fn svg_structure_of_the_sample_outage() {
    let (_, page) = html_of(&sample(), &[]);
    // Apart from the screens' snapshots: these are drawings' structure, not terminal text.
    insta::with_settings!({ snapshot_path => "html/snapshots", prepend_module_to_snapshot => false }, {
        for svg in inline_svgs(&page) {
            let summary = structure::summary(svg);
            let id = structure::id(svg);
            insta::assert_snapshot!(format!("structure_{id}"), summary);
        }
    });
}

#[test]
fn svg_structure_of_a_pool_run() {
    let (_, page) = html_of(&pool_run(), &[]);
    let svgs = inline_svgs(&page);
    let pool = svgs
        .iter()
        .find(|s| structure::id(s) == "pool-waits")
        .expect("the pool chart");
    insta::with_settings!({ snapshot_path => "html/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("structure_pool-waits", structure::summary(pool));
    });
}

#[test]
fn a_pool_run_is_charted_with_its_judgement_and_what_lay_beneath() {
    let (code, page) = html_of(&pool_run(), &[]);
    assert_eq!(code, Some(2), "acquire timeouts fail");
    let svgs = inline_svgs(&page);
    let ids: Vec<String> = svgs.iter().map(|s| structure::id(s)).collect();
    assert_eq!(ids, vec!["db-timeline", "pool-waits"]);
    let pool = structure::summary(svgs[1]);
    for words in [
        "run 1",
        "acquire timeout 1.00 s",
        "×7",
        "beneath",
        "too_many_connections (53300) ×10, before authentication",
        "933 acquired, 7 timed out, 0 errors",
    ] {
        assert!(pool.contains(words), "{words}\n{pool}");
    }
    // The 7 timeouts of one interval are one mark in their lane, not a wait drawn to them.
    assert!(
        pool.contains("   1  g.run > g.fail-lane.f-pool-timeout > rect.mark.mark-timeout\n"),
        "{pool}"
    );
    // Nothing but the database and the pool ran: "At the end" says so, no empty table.
    let end = &page[page.find(r#"id="numbers""#).expect("numbers")..];
    let end = &end[..end.find("</section>").expect("section end")];
    assert!(
        end.contains("No initialization, endpoint or WebSocket check ran.")
            && !end.contains("<table"),
        "{end}"
    );
    let beneath = "pool: 7 acquire timeouts (1.00 s) — beneath: too_many_connections (53300) ×10";
    let at = |id: &str| page.find(&format!(r#"id="{id}""#)).expect(id);
    let reasons = &page[at("reasons")..at("findings")];
    assert!(
        reasons.contains(beneath),
        "the pool's judgement is a reason"
    );
    let findings = &page[at("findings")..at("s-db-timeline")];
    assert!(
        findings.contains("The pool&#39;s waits are the database&#39;s capacity"),
        "the pool_beneath finding"
    );
    let section = &page[at("s-pool-waits")..at("targets")];
    assert!(section.contains(beneath), "and is written under its chart");
}

/// `report FILE --format markdown --assets DIR` writes each of the page's charts as a file
/// with its own stylesheet, linked relatively; the markdown.
fn assets_are_the_pages_charts(file: &Path) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let assets = dir.path().join("post mortem").join("charts");
    let r = fault_bin::run(
        &[
            "report",
            path_str(file),
            "--format",
            "markdown",
            "--assets",
            path_str(&assets),
        ],
        &[],
        LIMIT,
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    let (_, page) = html_of(file, &[]);
    let link = path_str(&assets).replace(' ', "%20");
    for svg in inline_svgs(&page) {
        let id = structure::id(svg);
        let file = assets.join(format!("{id}.svg"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        assert!(
            text.contains("<style>"),
            "a file carries its own stylesheet"
        );
        assert_eq!(
            structure::summary(&text),
            structure::summary(svg),
            "{id}: the file is the page's chart"
        );
        assert!(
            r.stdout.contains(&format!("]({link}/{id}.svg)")),
            "linked: {id}\n{}",
            r.stdout
        );
    }
    r.stdout
}

#[test]
fn markdown_assets_are_the_same_charts_as_files_linked_relatively() {
    let md = assets_are_the_pages_charts(&sample());
    let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(
        &headings[..3],
        ["## Verdict: ❌ FAIL (exit 2)", "## Charts", "## Timeline"]
    );
    let md = assets_are_the_pages_charts(&pool_run());
    assert!(md.contains("pool-waits.svg)"), "{md}");
}

#[test]
fn document_flags_are_checked_before_anything_runs() {
    let r = fault_bin::run(
        &[
            "report",
            path_str(&sample()),
            "--format",
            "html",
            "--assets",
            "x",
        ],
        &[],
        LIMIT,
    );
    assert_eq!(r.code, Some(64), "{}", r.stderr);
    assert!(r.stderr.contains("--format markdown"), "{}", r.stderr);
    let r = fault_bin::run(
        &[
            "report",
            path_str(&sample()),
            "--format",
            "html",
            "--theme",
            "sepia",
        ],
        &[],
        LIMIT,
    );
    assert_eq!(r.code, Some(64), "{}", r.stderr);
    assert!(r.stderr.contains("sepia"), "{}", r.stderr);
    let (_, page) = html_of(&sample(), &["--theme", "high-contrast"]);
    assert!(page.contains(r#"<body class="theme-high-contrast">"#));
    assert!(page.contains("--bg:#000000"), "the high-contrast palette");
    let dir = tempfile::tempdir().expect("tmp");
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, "not a directory").expect("write");
    let r = fault_bin::run(
        &[
            "report",
            path_str(&sample()),
            "--assets",
            path_str(&blocked.join("charts")),
        ],
        &[],
        LIMIT,
    );
    assert_eq!(r.code, Some(73), "{}", r.stderr);
    assert!(
        r.stdout.is_empty(),
        "no markdown linking charts that were not written"
    );
}

#[test]
fn check_writes_html_too() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("startup.log");
    let lines = [
        r#"{"timestamp":"2026-11-25T10:00:00Z","phase":1,"status":"started"}"#,
        r#"{"timestamp":"2026-11-25T10:00:00.5Z","phase":1,"status":"completed"}"#,
        r#"{"timestamp":"2026-11-25T10:00:00.5Z","phase":2,"status":"started"}"#,
        r#"{"timestamp":"2026-11-25T10:00:02Z","phase":2,"status":"failed","message":"redis unreachable"}"#,
        r#"{"timestamp":"2026-11-25T10:00:02.1Z","event":"exit","code":3}"#,
    ];
    std::fs::write(&log, lines.join("\n") + "\n").expect("write log");
    let r = fault_bin::run(
        &[
            "check",
            "--only",
            "startup",
            "--startup-log",
            path_str(&log),
            "--format",
            "html",
        ],
        &[],
        LIMIT,
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    let svgs = inline_svgs(&r.stdout);
    assert_eq!(svgs.len(), 1, "only the phase chart has data");
    let s = structure::summary(svgs[0]);
    assert!(s.contains("✗ 2 dependencies 1.5 s"), "{s}");
    assert!(s.contains("exit 3"), "{s}");
    assert!(r.stdout.contains("No database attempt was recorded."));
}

#[test]
fn a_ten_minute_recording_at_50_per_second_marks_every_failure_in_under_2_mb() {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = dir.path().join("busy.jsonl");
    let busy = crate::common::recordings::busy(&rec, 600, 50);
    assert_eq!(busy.attempts, 30_000);
    let (code, page) = html_of(&rec, &[]);
    assert!(code.is_some_and(|c| c <= 2), "{code:?}");
    assert!(page.len() < 2_000_000, "{} bytes", page.len());
    assert_eq!(
        crate::common::recordings::marked_failures(&page),
        busy.failed,
        "every failed attempt is in a mark"
    );
    let ids: Vec<String> = inline_svgs(&page)
        .iter()
        .map(|s| structure::id(s))
        .collect();
    assert_eq!(
        ids,
        vec![
            "db-timeline",
            "startup-phases",
            "status-strips",
            "capacity-tests"
        ]
    );
    for words in [
        "down 10:01:00",
        "recovered 10:05:00",
        "too_many_connections",
        "refused",
    ] {
        assert!(page.contains(words), "{words}");
    }
}

#[test]
fn the_readme_charts_are_the_sample_outage_as_drawn_now() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = fault_bin::run(
        &[
            "report",
            path_str(&sample()),
            "--format",
            "markdown",
            "--assets",
            path_str(dir.path()),
        ],
        &[],
        LIMIT,
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/report");
    for name in ["db-timeline.svg", "startup-phases.svg", "status-strips.svg"] {
        let now = std::fs::read_to_string(dir.path().join(name)).expect("drawn");
        let kept = std::fs::read_to_string(committed.join(name)).unwrap_or_default();
        assert!(
            now == kept,
            "assets/report/{name} is stale: connscope report assets/outage.jsonl --format markdown --assets assets/report > /dev/null"
        );
    }
}
