//! The HTML report and the markdown's chart files through the real binary: the SVG structure
//! of the sample outage (snapshot: elements, classes, ids and words — not coordinates), the
//! page drawn by a real headless Chromium (the charts' regions are not blank and carry the
//! theme's colours), secrets planted in a recording reach neither the page nor the files,
//! and the flags' errors.

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
fn markdown_assets_are_the_same_charts_as_files_linked_relatively() {
    let dir = tempfile::tempdir().expect("tmp");
    let assets = dir.path().join("post mortem").join("charts");
    let r = fault_bin::run(
        &[
            "report",
            path_str(&sample()),
            "--format",
            "markdown",
            "--assets",
            path_str(&assets),
        ],
        &[],
        LIMIT,
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    let (_, page) = html_of(&sample(), &[]);
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
    let headings: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(
        &headings[..3],
        ["## Verdict: ❌ FAIL (exit 2)", "## Charts", "## Timeline"]
    );
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
