use crate::report::{Context, Report, to_markdown};
use crate::state::fixtures::{self, build, staging_config};

fn outage() -> String {
    to_markdown(
        &Report::of(&build(staging_config(), &fixtures::outage())),
        &Context::default(),
    )
}

/// Unescaped `|` in a table line: every row of one table must have as many as its header.
fn columns(line: &str) -> usize {
    let mut n = 0;
    let mut prev = ' ';
    for c in line.chars() {
        if c == '|' && prev != '\\' {
            n += 1;
        }
        prev = c;
    }
    n
}

fn assert_tables_are_well_formed(md: &str) {
    let mut header: Option<usize> = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let n = columns(line);
        match header {
            None => header = Some(n),
            Some(h) => assert_eq!(n, h, "row breaks its table: {line}"),
        }
    }
}

#[test]
fn the_outage_report_has_title_verdict_phases_timeline_and_targets() {
    let md = outage();
    assert!(md.starts_with("# Incident report — staging (Cloud SQL)\n"));
    assert!(md.contains("| Target | `postgres://app@10.20.0.3:5432/app?sslmode=require` |"));
    assert!(md.contains("2026-11-25 10:00:00 UTC → 2026-11-25 10:03:05 UTC (3 min 05 s)"));
    assert!(md.contains("## Verdict: ❌ FAIL (exit 2)"));
    assert!(md.contains(
        "| 3 database | 90 s | 75.0 s | ❌ failed | database initialization timeout after 75.0s |"
    ));
    assert!(md.contains("| 4 cache | 20 s | — | ➖ not reached |"));
    assert!(md.contains("exit code 3; 1 run (0 restarts)"));
    assert!(md.contains("| +37 s | 10:00:37.000 | 🚨 raised critical | alert |"));
    assert!(md.contains(
        "| +1 min 17 s | 10:01:17.100 | ❌ error | startup | phase 3 database failed after 75.0 s"
    ));
    assert!(md.contains(
        "| < 10 s average connection time | 35.0 s (no successful connection) | ❌ missed |"
    ));
    assert!(md.contains("| > 90 % connection success rate | 0 % (last 5) | ❌ missed |"));
    assert!(md.contains("| timeout | 5 | timeout at tcp: no TCP connection within 35s |"));
    assert!(md.contains("| backend | `/health` | ❌ 503 |"));
    assert!(md.contains("startup failure"));
    assert!(md.contains("| `wss://backend.staging.example.com/ws` | ❌ failed |"));
    assert!(md.contains("## Diagnosis"));
    assert_tables_are_well_formed(&md);
}

#[test]
fn a_healthy_run_reads_as_a_pass_with_every_target_met() {
    let md = to_markdown(
        &Report::of(&build(staging_config(), &fixtures::healthy())),
        &Context::default(),
    );
    assert!(md.contains("## Verdict: ✅ PASS (exit 0)"));
    assert!(md.contains("Nothing failed"));
    assert_eq!(md.matches("✅ met").count(), 4, "{md}");
    assert!(!md.contains("missed"));
    assert!(md.contains("| 7 finalize | 10 s | 0.5 s | ✅ pass |"));
    assert_tables_are_well_formed(&md);
}

#[test]
fn the_capacity_test_gets_its_table() {
    let md = to_markdown(
        &Report::of(&build(staging_config(), &fixtures::capacity_exhausted())),
        &Context::default(),
    );
    assert!(md.contains("## Capacity test"));
    assert!(md.contains("| 10 | 3 | 7 | 7 |"), "{md}");
    assert!(md.contains("Errors: too_many_connections ×7."));
    assert!(md.contains("🚨 raised capacity"));
    assert_tables_are_well_formed(&md);
}

#[test]
fn server_text_cannot_break_a_table_or_inject_html() {
    let mut ev = fixtures::outage();
    ev.push((
        90.0,
        fixtures::http(
            "backend",
            "/health/database",
            503,
            50.0,
            "db | down <script>alert(1)</script>\nnext line",
        ),
    ));
    let md = to_markdown(
        &Report::of(&build(staging_config(), &ev)),
        &Context::default(),
    );
    assert!(!md.contains("<script>"));
    assert!(md.contains("db \\| down &lt;script>alert(1)&lt;/script> next line"));
    assert_tables_are_well_formed(&md);
}

#[test]
fn the_context_names_the_source_window_and_skipped_lines() {
    let ctx = Context {
        source: "recording outage.jsonl (check, connscope 0.1.0)".into(),
        origin: Some(fixtures::t(30.0)),
        from: Some(fixtures::t(30.0)),
        to: None,
        skipped_lines: 3,
        settings: None,
        ..Context::default()
    };
    let md = to_markdown(
        &Report::of(&build(staging_config(), &fixtures::outage())),
        &ctx,
    );
    assert!(md.contains("| Source | recording outage.jsonl (check, connscope 0.1.0) |"));
    assert!(md.contains("; 3 unreadable recording lines skipped |"));
    assert!(md.contains("| Scope | only events inside the window were applied;"));
    assert!(md.contains("10:00:30 UTC → 2026-11-25 10:03:05 UTC (2 min 35 s)"));
    assert!(
        md.contains("| +7.0 s | 10:00:37.000 |"),
        "relative to the origin"
    );
}

/// One describer (`VantageReport::link_words`) under both formats: each styles the same words.
#[test]
fn a_lost_vantage_reads_as_lost_since_its_loss_in_text_and_markdown() {
    use crate::event::LinkStatus;
    use crate::state::fixtures::vantages::{at, attached, link};
    let mut s = attached(5);
    s.apply(&at(10.0, "vpc", link(LinkStatus::Lost, false)));
    let r = Report::of(&s);
    let lost_at = crate::units::clock(fixtures::t(10.0));
    let text = crate::report::text::render(&r);
    assert!(
        text.contains(&format!(
            "=== Vantage vpc — {} — LOST since {lost_at} UTC — as measured then, not now",
            r.vantages[0].link.url
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "=== Vantage bastion — {} — live",
            r.vantages[1].link.url
        )),
        "{text}"
    );
    let md = to_markdown(&r, &Context::default());
    assert!(
        md.contains(&format!("| lost since {lost_at} UTC (as measured then) |")),
        "{md}"
    );
    assert!(md.contains("| live |"), "{md}");
}
