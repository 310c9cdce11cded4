//! Numbers as a person reads them at a glance: a unit that fits the size, a dash for
//! "not measured" (never a zero that was not observed).

use chrono::{DateTime, Utc};

pub const NONE: &str = "—";

/// `0.42 ms`, `12.3 ms`, `1.25 s`, `35.0 s`.
pub fn ms(v: f64) -> String {
    if !v.is_finite() {
        return NONE.into();
    }
    if v < 1.0 {
        format!("{v:.2} ms")
    } else if v < 1000.0 {
        format!("{v:.1} ms")
    } else if v < 10_000.0 {
        format!("{:.2} s", v / 1000.0)
    } else {
        format!("{:.1} s", v / 1000.0)
    }
}

pub fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| NONE.into(), ms)
}

/// Compact for table columns: `0.4`, `12`, `1.2k`, `35k` milliseconds without the unit.
pub fn ms_short(v: Option<f64>) -> String {
    match v {
        None => NONE.into(),
        Some(v) if !v.is_finite() => NONE.into(),
        Some(v) if v < 10.0 => format!("{v:.1}"),
        Some(v) if v < 1000.0 => format!("{v:.0}"),
        Some(v) if v < 10_000.0 => format!("{:.1}s", v / 1000.0),
        Some(v) => format!("{:.0}s", v / 1000.0),
    }
}

/// Six columns at most: `0.4ms`, `120ms`, `1.25s`, `35.0s`.
pub fn ms_compact(v: f64) -> String {
    match v {
        v if !v.is_finite() => NONE.into(),
        v if v < 10.0 => format!("{v:.1}ms"),
        v if v < 1000.0 => format!("{v:.0}ms"),
        v if v < 10_000.0 => format!("{:.2}s", v / 1000.0),
        v => format!("{:.1}s", v / 1000.0),
    }
}

pub fn pct(f: f64) -> String {
    format!("{:.0} %", f * 100.0)
}

/// `45s`, `3m 05s`, `2h 03m`.
pub fn span(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Wall-clock time of day, UTC (the recording's clock; the header says UTC once).
pub fn clock(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S").to_string()
}

/// Seconds with one decimal: `77.2 s`.
pub fn secs(v: f64) -> String {
    format!("{v:.1} s")
}

/// A bar of `width` cells filled to `fraction` (clamped), in eighths for a smooth edge.
pub fn bar(fraction: f64, width: usize) -> (String, String) {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let f = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let eighths = (f * (width * 8) as f64).round() as usize;
    let full = eighths / 8;
    let rest = eighths % 8;
    let mut filled: String = "█".repeat(full);
    let mut used = full;
    if rest > 0 && used < width {
        filled.push(PARTS[rest]);
        used += 1;
    }
    (filled, "░".repeat(width.saturating_sub(used)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_size() {
        assert_eq!(ms(0.42), "0.42 ms");
        assert_eq!(ms(12.34), "12.3 ms");
        assert_eq!(ms(1250.0), "1.25 s");
        assert_eq!(ms(35_000.0), "35.0 s");
        assert_eq!(opt_ms(None), "—");
        assert_eq!(span(185.0), "3m 05s");
    }

    #[test]
    fn bars_never_exceed_width() {
        for f in [-1.0, 0.0, 0.33, 0.999, 1.0, 7.0, f64::NAN] {
            let (a, b) = bar(f, 10);
            assert_eq!(a.chars().count() + b.chars().count(), 10, "{f}");
        }
        assert_eq!(bar(0.0, 0), (String::new(), String::new()));
    }
}
