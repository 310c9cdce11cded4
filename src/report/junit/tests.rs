use roxmltree::{Document, Node};

use crate::report::{Context, Report, to_junit};
use crate::state::fixtures::{self, build, staging_config};

fn staging_settings() -> serde_json::Value {
    serde_json::json!({
        "minimums": {"initialization": "35s", "connection": "25s"},
        "capacity": {"connections": 10}
    })
}

fn ctx() -> Context {
    Context {
        settings: Some(staging_settings()),
        ..Context::default()
    }
}

fn suite<'a>(doc: &'a Document<'a>, name: &str) -> Node<'a, 'a> {
    doc.descendants()
        .find(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some(name))
        .unwrap_or_else(|| panic!("no suite {name}"))
}

fn case<'a>(s: Node<'a, 'a>, name: &str) -> Node<'a, 'a> {
    s.children()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
        .unwrap_or_else(|| panic!("no case {name}"))
}

fn outcome(c: Node<'_, '_>) -> &'static str {
    if c.children().any(|n| n.has_tag_name("failure")) {
        "failure"
    } else if c.children().any(|n| n.has_tag_name("skipped")) {
        "skipped"
    } else {
        "passed"
    }
}

fn num(n: Node<'_, '_>, attr: &str) -> usize {
    n.attribute(attr)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{attr} missing or not a number"))
}

/// Counts on every suite and on the root agree with the test cases they hold.
fn assert_counts_agree(doc: &Document<'_>) {
    let root = doc.root_element();
    assert!(root.has_tag_name("testsuites"));
    let mut total = [0usize; 3];
    for s in root.children().filter(|n| n.has_tag_name("testsuite")) {
        let cases: Vec<_> = s
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        let fails = cases.iter().filter(|c| outcome(**c) == "failure").count();
        let skips = cases.iter().filter(|c| outcome(**c) == "skipped").count();
        assert_eq!(num(s, "tests"), cases.len());
        assert_eq!(num(s, "failures"), fails);
        assert_eq!(num(s, "skipped"), skips);
        assert_eq!(num(s, "errors"), 0);
        assert!(
            s.attribute("time")
                .is_some_and(|t| t.parse::<f64>().is_ok())
        );
        total[0] += cases.len();
        total[1] += fails;
        total[2] += skips;
    }
    assert_eq!(
        [
            num(root, "tests"),
            num(root, "failures"),
            num(root, "skipped")
        ],
        total
    );
}

#[test]
fn the_outage_fails_integration_and_e2e_but_not_configuration() {
    let xml = to_junit(
        &Report::of(&build(staging_config(), &fixtures::outage())),
        &ctx(),
    );
    let doc = Document::parse(&xml).expect("valid XML");
    assert_counts_agree(&doc);
    let names: Vec<_> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(names, ["configuration", "integration", "e2e"]);

    let conf = suite(&doc, "configuration");
    for c in conf.children().filter(|n| n.has_tag_name("testcase")) {
        assert_eq!(outcome(c), "passed", "{:?}", c.attribute("name"));
    }
    let int = suite(&doc, "integration");
    let rate = case(int, "database connection success rate");
    assert_eq!(outcome(rate), "failure");
    let msg = rate
        .children()
        .find(|n| n.has_tag_name("failure"))
        .and_then(|f| f.attribute("message"));
    assert_eq!(
        msg,
        Some("missed: > 90 % connection success rate — actual 0 % (last 5)")
    );
    assert_eq!(
        outcome(case(int, "database timeout-violation rate")),
        "failure"
    );
    assert_eq!(
        outcome(case(int, "database initialization within its timeout")),
        "skipped"
    );
    assert_eq!(outcome(case(int, "concurrent capacity test")), "skipped");

    let e2e = suite(&doc, "e2e");
    assert_eq!(outcome(case(e2e, "backend GET /health healthy")), "failure");
    assert_eq!(
        outcome(case(e2e, "startup phase 2 dependencies within 40 s")),
        "passed"
    );
    assert_eq!(
        outcome(case(e2e, "startup phase 3 database within 90 s")),
        "failure"
    );
    assert_eq!(
        outcome(case(e2e, "startup phase 4 cache within 20 s")),
        "skipped"
    );
    let total = case(e2e, "whole startup sequence within budget");
    let msg = total
        .children()
        .find(|n| n.has_tag_name("failure"))
        .and_then(|f| f.attribute("message"))
        .unwrap_or_default();
    assert!(msg.contains("exited with code 3"), "{msg}");
    assert_eq!(
        outcome(case(
            e2e,
            "websocket wss://backend.staging.example.com/ws answers a ping"
        )),
        "failure"
    );
}

#[test]
fn a_healthy_run_has_no_failures() {
    let xml = to_junit(
        &Report::of(&build(staging_config(), &fixtures::healthy())),
        &ctx(),
    );
    let doc = Document::parse(&xml).expect("valid XML");
    assert_counts_agree(&doc);
    assert_eq!(num(doc.root_element(), "failures"), 0, "{xml}");
}

#[test]
fn timeouts_under_the_minimum_fail_the_configuration_suite() {
    let mut cfg = staging_config();
    cfg.connection_timeout = std::time::Duration::from_secs(20);
    let xml = to_junit(&Report::of(&build(cfg, &fixtures::healthy())), &ctx());
    let doc = Document::parse(&xml).expect("valid XML");
    let c = case(
        suite(&doc, "configuration"),
        "connection timeout meets the Cloud SQL regression minimum",
    );
    assert_eq!(outcome(c), "failure");
    // Without the configuration in the context there is nothing to judge it by.
    let xml = to_junit(
        &Report::of(&build(staging_config(), &fixtures::healthy())),
        &Context::default(),
    );
    let doc = Document::parse(&xml).expect("valid XML");
    let c = case(
        suite(&doc, "configuration"),
        "connection timeout meets the Cloud SQL regression minimum",
    );
    assert_eq!(outcome(c), "skipped");
}

#[test]
fn hostile_server_text_stays_valid_xml_and_round_trips() {
    let body = "a \"quoted\" <b>&amp;</b> 'x'\u{1}\u{7}\u{0} end";
    let mut ev = fixtures::outage();
    ev.push((
        90.0,
        fixtures::http("backend", "/health/database", 503, 50.0, body),
    ));
    let xml = to_junit(&Report::of(&build(staging_config(), &ev)), &ctx());
    let doc = Document::parse(&xml).expect("valid XML");
    let c = case(suite(&doc, "e2e"), "backend GET /health/database healthy");
    let details = c
        .children()
        .find(|n| n.has_tag_name("failure"))
        .and_then(|f| f.text())
        .unwrap_or_default();
    assert_eq!(
        details,
        "a \"quoted\" <b>&amp;</b> 'x'\u{FFFD}\u{FFFD}\u{FFFD} end"
    );
}

#[test]
fn element_text_escapes_markup_and_attributes_also_quotes_and_whitespace() {
    let s = "a<b>&\"c'\nd\te\r";
    assert_eq!(super::text(s), "a&lt;b&gt;&amp;\"c'\nd\te\r");
    assert_eq!(
        super::attr(s),
        "a&lt;b&gt;&amp;&quot;c&apos;&#10;d&#9;e&#13;"
    );
}
