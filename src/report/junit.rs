//! JUnit XML for CI: the outage test plan's three categories as test suites — `configuration`
//! (timeouts against the regression minimums, the capacity cap), `integration` (database
//! attempts, initialization, capacity test) and `e2e` (health endpoints, WebSockets, the startup
//! sequence) — one test case per check. A missed check is a `<failure>`, a check with no data a
//! `<skipped>`. The layout follows the common JUnit schema (testsuites / testsuite / testcase,
//! with name, tests, failures, errors, skipped and time on every suite).

mod checks;

use std::fmt::Write;

use super::context::Context;
use super::model::Report;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Passed,
    /// A short message (the attribute) and the details (the element's text).
    Failed {
        message: String,
        details: String,
    },
    /// Nothing to judge: why.
    Skipped(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Case {
    pub name: String,
    /// Seconds the checked thing took, where that is meaningful; 0 otherwise.
    pub(crate) time_s: f64,
    pub outcome: Outcome,
    /// The measured value, kept beside the verdict for whoever reads the CI log.
    pub(crate) actual: Option<String>,
}

impl Case {
    fn new(name: impl Into<String>, outcome: Outcome) -> Self {
        Self {
            name: name.into(),
            time_s: 0.0,
            outcome,
            actual: None,
        }
    }

    fn time(mut self, secs: Option<f64>) -> Self {
        self.time_s = secs.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(0.0);
        self
    }

    fn actual(mut self, actual: Option<String>) -> Self {
        self.actual = actual;
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Suite {
    pub name: &'static str,
    pub cases: Vec<Case>,
}

impl Suite {
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.outcome)).count()
    }

    fn failures(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed { .. }))
    }

    fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }

    fn time(&self) -> f64 {
        self.cases.iter().map(|c| c.time_s).sum()
    }
}

/// The suites, in the test plan's order.
pub(crate) fn suites(r: &Report, ctx: &Context) -> Vec<Suite> {
    vec![
        Suite {
            name: "configuration",
            cases: checks::configuration(r, ctx),
        },
        Suite {
            name: "integration",
            cases: checks::integration(r),
        },
        Suite {
            name: "e2e",
            cases: checks::e2e(r),
        },
    ]
}

pub(crate) fn render(r: &Report, ctx: &Context) -> String {
    let suites = suites(r, ctx);
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total = |f: fn(&Suite) -> usize| suites.iter().map(f).sum::<usize>();
    let _ = writeln!(
        o,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">",
        attr(&format!("connscope {}", r.environment)),
        total(|s| s.cases.len()),
        total(Suite::failures),
        total(Suite::skipped),
        suites.iter().map(Suite::time).sum::<f64>()
    );
    let props = properties(r, ctx);
    for suite in &suites {
        write_suite(&mut o, suite, r, &props);
    }
    o.push_str("</testsuites>\n");
    o
}

fn properties(r: &Report, ctx: &Context) -> String {
    let mut p = vec![
        ("environment", r.environment.clone()),
        ("verdict", r.verdict.as_str().to_string()),
        ("exit_code", r.exit_code.to_string()),
        ("interrupted", r.interrupted.to_string()),
    ];
    if let Some(t) = &r.target {
        p.push(("target", t.clone()));
    }
    if !ctx.source.is_empty() {
        p.push(("source", ctx.source.clone()));
    }
    let mut o = String::from("    <properties>\n");
    for (k, v) in p {
        let _ = writeln!(o, "      <property name=\"{k}\" value=\"{}\"/>", attr(&v));
    }
    o.push_str("    </properties>\n");
    o
}

fn write_suite(o: &mut String, suite: &Suite, r: &Report, props: &str) {
    // The schema's timestamp is a local date-time without zone; ours is UTC.
    let stamp = r
        .started_at
        .map(|t| format!(" timestamp=\"{}\"", t.format("%Y-%m-%dT%H:%M:%S")))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\"{stamp}>",
        suite.name,
        suite.cases.len(),
        suite.failures(),
        suite.skipped(),
        suite.time()
    );
    o.push_str(props);
    for c in &suite.cases {
        write_case(o, suite.name, c);
    }
    o.push_str("  </testsuite>\n");
}

fn write_case(o: &mut String, suite: &str, c: &Case) {
    let _ = write!(
        o,
        "    <testcase name=\"{}\" classname=\"connscope.{suite}\" time=\"{:.3}\"",
        attr(&c.name),
        c.time_s
    );
    let out = c
        .actual
        .as_deref()
        .map(|a| format!("      <system-out>actual: {}</system-out>\n", text(a)))
        .unwrap_or_default();
    match &c.outcome {
        Outcome::Passed if out.is_empty() => o.push_str("/>\n"),
        Outcome::Passed => {
            let _ = write!(o, ">\n{out}    </testcase>\n");
        }
        Outcome::Failed { message, details } => {
            let _ = write!(
                o,
                ">\n      <failure message=\"{}\" type=\"missed\">{}</failure>\n{out}    </testcase>\n",
                attr(message),
                text(details)
            );
        }
        Outcome::Skipped(why) => {
            let _ = write!(
                o,
                ">\n      <skipped message=\"{}\"/>\n{out}    </testcase>\n",
                attr(why)
            );
        }
    }
}

/// Characters XML 1.0 cannot carry even escaped (most C0 controls) become U+FFFD, so a
/// server's binary error message cannot make the document unparsable.
fn allowed(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
        c => c,
    }
}

/// Element text.
fn text(s: &str) -> String {
    escape(s, false)
}

/// Attribute values: also quotes, and whitespace kept as character references (a parser
/// would otherwise normalise a newline in an attribute to a space).
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, in_attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(allowed) {
        let reference = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' if in_attr => "&quot;",
            '\'' if in_attr => "&apos;",
            '\n' if in_attr => "&#10;",
            '\r' if in_attr => "&#13;",
            '\t' if in_attr => "&#9;",
            c => {
                out.push(c);
                continue;
            }
        };
        out.push_str(reference);
    }
    out
}

#[cfg(test)]
mod tests;
