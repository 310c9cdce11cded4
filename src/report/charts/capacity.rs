//! Capacity tests as bars: for each test, the connections that succeeded, those refused for
//! capacity (53300) and those that failed otherwise, against the number planned and the
//! safety cap.

use super::{Drawn, GUTTER, RIGHT, WIDTH, swatch};
use crate::report::model::Report;
use crate::report::series::CapacityTest;
use crate::report::svg::{LinearScale, Svg};
use crate::units::{self, clock};

const ROW: f64 = 28.0;
/// Room on the right of the bars for their numbers.
const NUMBERS: f64 = 300.0;

pub(super) fn chart(r: &Report) -> Option<Drawn> {
    let tests = &r.charts.capacity;
    if tests.is_empty() {
        return None;
    }
    let most = tests
        .iter()
        .map(|t| {
            t.bar
                .planned
                .max(t.bar.succeeded + t.bar.capacity_errors + t.bar.other_failures)
        })
        .max()
        .unwrap_or(1)
        .max(1);
    let sx = LinearScale {
        max: f64::from(most),
        x0: GUTTER,
        x1: WIDTH - RIGHT - NUMBERS,
    };
    let rows_h = tests.len() as f64 * ROW;
    let h = 10.0 + rows_h + 24.0 + 26.0;
    let label = format!(
        "Capacity tests: {}, connections that succeeded, hit 53300 or failed otherwise",
        units::count(tests.len() as u64, "test")
    );
    let mut svg = Svg::new("capacity-tests", WIDTH, h, &label);
    svg.rect(0.0, 0.0, WIDTH, h, "page", None);
    let top = 10.0;
    svg.rect(sx.x0, top, sx.x1 - sx.x0, rows_h, "plot", None);
    for v in sx.ticks(8) {
        let x = sx.x(v);
        svg.line(x, top, x, top + rows_h, "grid");
        svg.text(x, top + rows_h + 14.0, "axis mid", &format!("{v:.0}"));
    }
    svg.text(GUTTER - 8.0, top + rows_h + 14.0, "axis end", "connections");
    for (i, t) in tests.iter().enumerate() {
        row(&mut svg, &sx, top + i as f64 * ROW, t);
    }
    legend(&mut svg, h - 8.0);
    let caption = "Each capacity test: connections that succeeded, were refused for capacity (53300) or failed otherwise, out of those planned; a faded bar is history (a newer test or newer evidence replaced it).".to_string();
    Some(Drawn {
        id: "capacity-tests",
        title: "Capacity tests",
        caption,
        svg,
    })
}

fn row(svg: &mut Svg, sx: &LinearScale, y: f64, t: &CapacityTest) {
    let b = &t.bar;
    svg.group(if t.past { "test past" } else { "test" });
    let state = match (t.running, b.aborted) {
        (true, _) => " · running",
        (_, true) => " · stopped early",
        _ => "",
    };
    svg.text(
        GUTTER - 8.0,
        y + 18.0,
        "end bold",
        &format!("test {} · {}{state}", b.run, clock(b.started_at)),
    );
    let mut x = sx.x0;
    for (n, cls, word) in [
        (b.succeeded, "cap-ok", "succeeded"),
        (
            b.capacity_errors,
            "cap-53300",
            "refused for capacity (53300)",
        ),
        (b.other_failures, "cap-other", "failed otherwise"),
    ] {
        if n == 0 {
            continue;
        }
        let w = sx.x(f64::from(n)) - sx.x0;
        let tip = format!("test {}: {n} {word} of {} planned", b.run, b.planned);
        let class = if t.past {
            format!("{cls} past")
        } else {
            cls.to_string()
        };
        svg.rect(x, y + 6.0, w, ROW - 12.0, &class, Some(&tip));
        x += w;
    }
    let planned = sx.x(f64::from(b.planned));
    svg.rect(sx.x0, y + 4.0, planned - sx.x0, ROW - 8.0, "budget", None);
    let words = format!(
        "{} ok · {} × 53300 · {} other — of {} planned (cap {})",
        b.succeeded, b.capacity_errors, b.other_failures, b.planned, b.cap
    );
    svg.text(sx.x1 + 8.0, y + 18.0, "small", &words);
    svg.end_group();
}

fn legend(svg: &mut Svg, y: f64) {
    svg.group("legend");
    let mut x = GUTTER;
    for (cls, word) in [
        ("cap-ok", "succeeded"),
        ("cap-53300", "53300 too many connections"),
        ("cap-other", "other failure"),
        ("budget", "planned"),
    ] {
        x = swatch(svg, x, y, cls, word);
    }
    svg.end_group();
}
