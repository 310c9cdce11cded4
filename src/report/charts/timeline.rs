//! The database timeline: per vantage, successful attempts as bars stacked by step (dns, tcp,
//! tls, handshake, query), failures as marks in a lane of their class under the plot — never
//! a line through an outage —, outages as bands with "down" / "recovered" and their times,
//! and alerts as bands from raised to cleared above it.
//!
//! Drawing downsamples: the model's buckets are merged into columns a few units wide, and a
//! column keeps every failure class it holds (with its count), so nothing that failed is
//! averaged away however long the recording.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Drawn, GUTTER, RIGHT, WIDTH, mark, swatch};
use crate::event::{ErrorClass, Step};
use crate::report::model::Report;
use crate::report::series::{AlertSpan, DbLane};
use crate::report::svg::{Svg, TimeScale, ValueScale};
use crate::state::alerts::AlertLevel;
use crate::state::timeline::{Bucket, OutageSpan, STEPS};
use crate::units::{self, clock};

const PLOT_H: f64 = 190.0;
const ROW: f64 = 16.0;
/// Drawing units per column: about 270 columns across the plot.
const COL_W: f64 = 3.0;

/// What one column of the plot holds.
#[derive(Debug, Clone, Default)]
struct Col {
    attempts: u32,
    ok: u32,
    steps: [f64; 5],
    ok_max: f64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    fails: BTreeMap<ErrorClass, ColFail>,
}

#[derive(Debug, Clone)]
struct ColFail {
    count: u32,
    steps: Vec<Step>,
    sqlstate: Option<String>,
    first: DateTime<Utc>,
    max_ms: f64,
}

impl Col {
    fn add(&mut self, b: &Bucket) {
        self.attempts += b.attempts;
        self.ok += b.ok;
        for (a, v) in self.steps.iter_mut().zip(b.ok_steps_ms) {
            *a += v;
        }
        self.ok_max = self.ok_max.max(b.ok_max_ms);
        self.first = Some(self.first.map_or(b.first, |f| f.min(b.first)));
        self.last = Some(self.last.map_or(b.last, |l| l.max(b.last)));
        for f in &b.failures {
            let e = self.fails.entry(f.class).or_insert_with(|| ColFail {
                count: 0,
                steps: Vec::new(),
                sqlstate: f.sqlstate.clone(),
                first: f.first,
                max_ms: 0.0,
            });
            e.count += f.count;
            e.first = e.first.min(f.first);
            e.max_ms = e.max_ms.max(f.max_ms);
            if let Some(s) = f.step.filter(|s| !e.steps.contains(s)) {
                e.steps.push(s);
            }
        }
    }

    fn ok_mean(&self) -> Option<f64> {
        (self.ok > 0).then(|| self.steps.iter().sum::<f64>() / f64::from(self.ok))
    }

    fn when(&self) -> String {
        match (self.first, self.last) {
            (Some(a), Some(b)) if clock(a) != clock(b) => format!("{}–{}", clock(a), clock(b)),
            (Some(a), _) => clock(a),
            _ => String::new(),
        }
    }
}

/// Buckets into columns across `ts` (a bucket goes where its middle falls).
fn columns(buckets: &[Bucket], ts: &TimeScale) -> Vec<Col> {
    let n = (((ts.x1 - ts.x0) / COL_W).floor() as usize).max(1);
    let mut cols = vec![Col::default(); n];
    for b in buckets {
        let mid = b.first + (b.last - b.first) / 2;
        let f = (ts.x(mid) - ts.x0) / (ts.x1 - ts.x0);
        let i = ((f * n as f64).floor() as usize).min(n - 1);
        cols[i].add(b);
    }
    cols
}

/// The shape of a failure class: timeouts a square, capacity (53300) a diamond, the rest a cross.
fn family(c: ErrorClass) -> &'static str {
    match c {
        ErrorClass::Timeout => "timeout",
        ErrorClass::TooManyConnections => "capacity",
        _ => "other",
    }
}

/// A lane laid out: its columns and the failure classes that get a row under the plot.
struct Laid<'a> {
    lane: &'a DbLane,
    cols: Vec<Col>,
    classes: Vec<ErrorClass>,
}

impl<'a> Laid<'a> {
    fn new(lane: &'a DbLane, ts: &TimeScale) -> Self {
        let cols = columns(&lane.buckets, ts);
        let mut classes: Vec<ErrorClass> =
            cols.iter().flat_map(|c| c.fails.keys().copied()).collect();
        classes.sort();
        classes.dedup();
        Self {
            lane,
            cols,
            classes,
        }
    }

    fn height(&self) -> f64 {
        PLOT_H + 8.0 + self.classes.len().max(1) as f64 * ROW + 6.0
    }

    fn failed(&self) -> u32 {
        self.cols
            .iter()
            .flat_map(|c| c.fails.values())
            .map(|f| f.count)
            .sum()
    }

    fn outages(&self) -> usize {
        self.lane.outages.len() + usize::from(self.lane.open_outage.is_some())
    }
}

pub(super) fn chart(r: &Report) -> Option<Drawn> {
    let c = &r.charts;
    let (t0, t1) = c.span?;
    if c.lanes.is_empty() {
        return None;
    }
    let ts = TimeScale::new(t0, t1, GUTTER, WIDTH - RIGHT);
    let alerts = alert_rows(&c.alerts);
    let lanes: Vec<Laid> = c.lanes.iter().map(|l| Laid::new(l, &ts)).collect();
    let alerts_h = if alerts.is_empty() {
        0.0
    } else {
        alerts.len() as f64 * ROW + 6.0
    };
    let lanes_h: f64 = lanes.iter().map(Laid::height).sum();
    let h = 8.0 + alerts_h + lanes_h + 24.0 + 24.0;
    let mut svg = Svg::new("db-timeline", WIDTH, h, &label(&lanes));
    svg.rect(0.0, 0.0, WIDTH, h, "page", None);
    let mut y = 8.0;
    if !alerts.is_empty() {
        svg.group("alerts");
        for (i, (level, spans)) in alerts.iter().enumerate() {
            alert_row(&mut svg, &ts, y + i as f64 * ROW, *level, spans);
        }
        svg.end_group();
        y += alerts_h;
    }
    for l in &lanes {
        y = draw_lane(&mut svg, &ts, y, l);
    }
    axis(&mut svg, &ts, y, y - lanes_h);
    legend(&mut svg, y + 40.0);
    let caption = "Connection time of successful attempts stacked by step; failures as marks in the lane of their class (T timeout ■, 53300 ◆, other ✕); shaded bands are outages, with when the database went down and came back; alert bands run from raised to cleared. Times UTC.".to_string();
    Some(Drawn {
        id: "db-timeline",
        title: "Database attempts",
        caption,
        svg,
    })
}

fn label(lanes: &[Laid]) -> String {
    let attempts: u64 = lanes.iter().map(|l| l.lane.attempts).sum();
    let failed: u32 = lanes.iter().map(Laid::failed).sum();
    let outages: usize = lanes.iter().map(Laid::outages).sum();
    format!(
        "Database attempts over time: {}, {failed} failed, {}",
        units::count(attempts, "attempt"),
        units::count(outages as u64, "outage")
    )
}

/// One row per alert level, each with its raised → cleared spans.
fn alert_rows(spans: &[AlertSpan]) -> Vec<(AlertLevel, Vec<&AlertSpan>)> {
    let mut rows: BTreeMap<AlertLevel, Vec<&AlertSpan>> = BTreeMap::new();
    for s in spans {
        rows.entry(s.level).or_default().push(s);
    }
    rows.into_iter().collect()
}

fn alert_row(svg: &mut Svg, ts: &TimeScale, y: f64, level: AlertLevel, spans: &[&AlertSpan]) {
    svg.text(
        GUTTER - 8.0,
        y + 11.0,
        "axis end",
        &format!("{} alert", level.as_str()),
    );
    for s in spans {
        let x0 = ts.x(s.raised);
        let x1 = s.cleared.map_or(ts.x1, |c| ts.x(c)).max(x0 + 2.0);
        let until = s.cleared.map_or_else(
            || "still active".into(),
            |c| format!("cleared {}", clock(c)),
        );
        let tip = format!(
            "{} alert {}: raised {}, {until} — {}",
            level.as_str(),
            s.rule,
            clock(s.raised),
            s.message
        );
        svg.rect(
            x0,
            y + 2.0,
            x1 - x0,
            ROW - 4.0,
            &format!("alert a-{}", level.as_str()),
            Some(&tip),
        );
        if x1 - x0 > 110.0 {
            svg.text(
                x0 + 4.0,
                y + 11.5,
                "on-bar",
                &format!("raised {}", clock(s.raised)),
            );
        }
    }
}

/// The plot, its outage bands and its failure lanes; returns the y below them.
fn draw_lane(svg: &mut Svg, ts: &TimeScale, y: f64, laid: &Laid) -> f64 {
    let vs = ValueScale {
        top: scale_top(laid),
        y0: y + PLOT_H,
        y1: y,
    };
    svg.group("lane");
    svg.rect(ts.x0, y, ts.x1 - ts.x0, PLOT_H, "plot", None);
    value_axis(svg, ts, &vs, &laid.lane.vantage);
    outages(svg, ts, y, laid.lane);
    bars(svg, ts, &vs, &laid.cols);
    timeout_line(svg, ts, &vs, laid.lane.timeout_ms);
    let mut yy = y + PLOT_H + 8.0;
    if laid.classes.is_empty() {
        svg.text(GUTTER - 8.0, yy + 11.0, "axis end", "failures");
        svg.text(ts.x0 + 4.0, yy + 11.0, "axis", "no failed attempt");
        yy += ROW;
    }
    for class in &laid.classes {
        fail_lane(svg, ts, yy, *class, &laid.cols);
        yy += ROW;
    }
    svg.end_group();
    yy + 6.0
}

/// The dashboard's scale: near p95 of the columns' successes (slower ones are `▲` marks); with
/// no success at all, the timeout.
fn scale_top(laid: &Laid) -> f64 {
    use crate::ui::panels::chart::scale_top;
    use crate::ui::view::Scale;
    let mut means: Vec<f64> = laid.cols.iter().filter_map(Col::ok_mean).collect();
    if means.is_empty() {
        scale_top(&mut [laid.lane.timeout_ms], Scale::Full)
    } else {
        scale_top(&mut means, Scale::Robust)
    }
}

fn value_axis(svg: &mut Svg, ts: &TimeScale, vs: &ValueScale, vantage: &str) {
    for v in [vs.top, vs.top / 2.0, 0.0] {
        let y = vs.y(v);
        svg.line(ts.x0, y, ts.x1, y, "grid");
        let label = if v == 0.0 {
            "0".to_string()
        } else {
            units::ms(v)
        };
        svg.text(GUTTER - 8.0, y + 4.0, "axis end", &label);
    }
    svg.text(GUTTER - 8.0, vs.y1 + 30.0, "end bold", vantage);
    svg.text(GUTTER - 8.0, vs.y1 + 44.0, "axis end", "connection time");
}

fn timeout_line(svg: &mut Svg, ts: &TimeScale, vs: &ValueScale, timeout_ms: f64) {
    if timeout_ms <= vs.top {
        let y = vs.y(timeout_ms);
        svg.line(ts.x0, y, ts.x1, y, "limit");
        let words = format!("timeout {}", units::ms(timeout_ms));
        svg.text(ts.x1 - 4.0, y - 4.0, "axis end", &words);
    } else {
        // In the gutter: inside the plot it would cover an outage's words.
        let words = format!("timeout {}: off scale", units::ms(timeout_ms));
        svg.text(GUTTER - 8.0, vs.y1 + 60.0, "axis end small", &words);
    }
}

fn bars(svg: &mut Svg, ts: &TimeScale, vs: &ValueScale, cols: &[Col]) {
    let n = cols.len() as f64;
    let cw = (ts.x1 - ts.x0) / n;
    let occupied: Vec<usize> = (0..cols.len()).filter(|i| cols[*i].attempts > 0).collect();
    // Few attempts: wider bars (never wider than the gap to the next one).
    let gap = occupied
        .windows(2)
        .map(|w| (w[1] - w[0]) as f64 * cw)
        .fold(f64::INFINITY, f64::min);
    let bw = (gap * 0.7).clamp(cw * 0.8, 14.0).max(1.5);
    svg.group("bars");
    for &i in &occupied {
        let c = &cols[i];
        let cx = ts.x0 + (i as f64 + 0.5) * cw;
        if c.ok == 0 {
            let tip = format!(
                "{}: {} failed, none succeeded",
                c.when(),
                units::count(c.attempts, "attempt")
            );
            svg.rect(
                cx - cw / 2.0,
                vs.y1,
                cw,
                vs.y0 - vs.y1,
                "fail-col",
                Some(&tip),
            );
            continue;
        }
        stacked(svg, vs, c, cx, bw);
    }
    svg.end_group();
}

fn stacked(svg: &mut Svg, vs: &ValueScale, c: &Col, cx: f64, bw: f64) {
    let ok = f64::from(c.ok);
    let means = c.steps.map(|v| v / ok);
    let parts: Vec<String> = STEPS
        .iter()
        .zip(means)
        .filter(|(_, v)| *v > 0.0)
        .map(|(s, v)| format!("{s} {}", units::ms(v)))
        .collect();
    let failed = c.attempts - c.ok;
    let tip = format!(
        "{}: {}, {} ok{} — mean {} ({}), slowest {}",
        c.when(),
        units::count(c.attempts, "attempt"),
        c.ok,
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        },
        units::ms(means.iter().sum()),
        parts.join(", "),
        units::ms(c.ok_max)
    );
    svg.group_titled("col", &tip);
    let mut acc = 0.0;
    for (i, v) in means.iter().enumerate() {
        if *v <= 0.0 {
            continue;
        }
        let (lo, hi) = (vs.y(acc), vs.y(acc + v));
        acc += v;
        if lo - hi > 0.05 {
            svg.rect(cx - bw / 2.0, hi, bw, lo - hi, &format!("s{i}"), None);
        }
    }
    if c.ok_max > vs.top {
        let y = vs.y1;
        svg.path(
            &[(cx - 4.0, y + 7.0), (cx + 4.0, y + 7.0), (cx, y)],
            true,
            "over",
            None,
        );
    }
    svg.end_group();
}

fn outages(svg: &mut Svg, ts: &TimeScale, y: f64, lane: &DbLane) {
    let all = lane.outages.iter().map(|o| (o, false));
    let open = lane.open_outage.iter().map(|o| (o, true));
    svg.group("outages");
    for (o, is_open) in all.chain(open) {
        band(svg, ts, y, o, is_open);
    }
    svg.end_group();
}

fn band(svg: &mut Svg, ts: &TimeScale, y: f64, o: &OutageSpan, open: bool) {
    let from = o.outage.from;
    let (end, end_word) = match (o.outage.recovered_at, o.cut_at) {
        (Some(r), _) => (r, Some(format!("recovered {}", clock(r)))),
        (None, Some(c)) => (c, Some(format!("scenario switched {}", clock(c)))),
        (None, None) => (ts.t1, None),
    };
    let (x0, x1) = (ts.x(from), ts.x(end).max(ts.x(from) + 2.0));
    let tip = format!(
        "database down from {} ({}){}: {}",
        clock(from),
        units::count(o.outage.failed, "failed attempt"),
        end_word
            .as_deref()
            .map_or_else(|| ", still down at the end".into(), |w| format!(", {w}")),
        o.outage.classes_text()
    );
    svg.rect(x0, y, x1 - x0, PLOT_H, "outage", Some(&tip));
    svg.line(x0, y, x0, y + PLOT_H, "limit");
    let down = if open {
        format!("down since {}", clock(from))
    } else {
        format!("down {}", clock(from))
    };
    // Near the right edge the words go to the left of the line.
    let (dx, cls) = if x0 > ts.x1 - 140.0 {
        (-4.0, "bad end")
    } else {
        (4.0, "bad")
    };
    svg.text(x0 + dx, y + 14.0, cls, &down);
    if let Some(w) = end_word {
        // Where the database is back, reading on; near the right edge, before it.
        let (dx, cls) = if x1 > ts.x1 - 140.0 {
            (-4.0, "bold end")
        } else {
            (4.0, "bold")
        };
        svg.line(x1, y, x1, y + PLOT_H, "grid");
        svg.text(x1 + dx, y + 30.0, cls, &w);
    }
}

fn fail_lane(svg: &mut Svg, ts: &TimeScale, y: f64, class: ErrorClass, cols: &[Col]) {
    let fam = family(class);
    let label = class.as_str();
    svg.group(&format!("fail-lane f-{}", class.as_str()));
    svg.line(ts.x0, y + ROW / 2.0, ts.x1, y + ROW / 2.0, "grid");
    svg.text(GUTTER - 8.0, y + 11.5, "end", label);
    let cw = (ts.x1 - ts.x0) / cols.len() as f64;
    for (i, c) in cols.iter().enumerate() {
        let Some(f) = c.fails.get(&class) else {
            continue;
        };
        let cx = ts.x0 + (i as f64 + 0.5) * cw;
        let steps: Vec<&str> = f.steps.iter().map(|s| s.as_str()).collect();
        let at = if steps.is_empty() {
            String::new()
        } else {
            format!(" at {}", steps.join(", "))
        };
        let code = f
            .sqlstate
            .as_deref()
            .map_or_else(String::new, |s| format!(" [{s}]"));
        let tip = format!(
            "{}: {} × {}{at}{code}, after up to {}",
            if f.count > 1 {
                c.when()
            } else {
                clock(f.first)
            },
            f.count,
            class.as_str(),
            units::ms(f.max_ms)
        );
        mark(svg, cx, y + ROW / 2.0, fam, &tip);
    }
    svg.end_group();
}

fn axis(svg: &mut Svg, ts: &TimeScale, y: f64, plots_top: f64) {
    svg.group("time-axis");
    for (x, label) in ts.ticks(8) {
        svg.line(x, plots_top, x, y, "grid");
        svg.text(x, y + 14.0, "axis mid", &label);
    }
    svg.text(GUTTER - 34.0, y + 14.0, "axis end", "UTC");
    svg.end_group();
}

fn legend(svg: &mut Svg, y: f64) {
    svg.group("legend");
    let mut x = GUTTER;
    for (i, s) in STEPS.iter().enumerate() {
        x = swatch(svg, x, y, &format!("s{i}"), s);
    }
    svg.path(
        &[(x, y), (x + 8.0, y), (x + 4.0, y - 8.0)],
        true,
        "over",
        None,
    );
    svg.text(x + 14.0, y, "axis", "above the scale");
    x += 120.0;
    swatch(svg, x, y, "outage", "database down");
    svg.end_group();
}
