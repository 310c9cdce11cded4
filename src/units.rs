//! One way to write numbers, durations and times — for the screen, every report and every
//! message the state writes — so one screen never shows `3.5 s`, `3500ms` and `1.50s` side by
//! side. A value always carries its unit after a space (`350 ms`, `3.50 s`); a dash means
//! "not measured", never a zero that was not observed. Configuration files keep their own
//! notation (`75s`, see `config::duration`); this module is for reading, not for writing config.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// What is shown where nothing was measured.
pub(crate) const NONE: &str = "—";

/// A measured time in milliseconds: `0.42 ms`, `12.3 ms`, `350 ms`, `1.25 s`, `35.0 s`.
pub(crate) fn ms(v: f64) -> String {
    match v {
        v if !v.is_finite() => NONE.into(),
        v if v < 1.0 => format!("{v:.2} ms"),
        v if v < 100.0 => format!("{v:.1} ms"),
        v if v < 999.5 => format!("{v:.0} ms"),
        v if v < 9_995.0 => format!("{:.2} s", v / 1000.0),
        v => format!("{:.1} s", v / 1000.0),
    }
}

/// [`ms`], or a dash when nothing was measured.
pub(crate) fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| NONE.into(), ms)
}

/// A configured duration, exact as written: `75 s`, `7.5 s`, `500 ms`, `0.1 s`.
pub(crate) fn duration(d: Duration) -> String {
    if d < Duration::from_secs(1) && d.subsec_nanos().is_multiple_of(1_000_000) {
        return format!("{} ms", d.as_millis());
    }
    secs_exact(d.as_secs_f64())
}

/// Seconds to the millisecond, trailing zeros dropped: `75 s`, `7.5 s`, `0.125 s`.
pub(crate) fn secs_exact(v: f64) -> String {
    let r = (v * 1000.0).round() / 1000.0;
    if r.fract() == 0.0 {
        format!("{r:.0} s")
    } else {
        format!("{r} s")
    }
}

/// Measured seconds with one decimal: `77.2 s`.
pub(crate) fn secs(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1} s")
    } else {
        NONE.into()
    }
}

/// How long something lasted or has been going on: `8.5 s`, `45 s`, `3 min 05 s`,
/// `2 h 03 min` — precise when short, readable when long.
pub(crate) fn span(secs: f64) -> String {
    let secs = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
    if secs < 9.95 {
        return format!("{secs:.1} s");
    }
    let whole = secs.round() as u64;
    let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60);
    match whole {
        0..60 => format!("{s} s"),
        60..3600 => format!("{m} min {s:02} s"),
        _ => format!("{h} h {m:02} min"),
    }
}

/// A measured duration: seconds with one decimal while short (`77.2 s`), then as a span
/// (`26 h 40 min`) — a phase stuck for a day is not read as 96049.3 s.
pub(crate) fn elapsed(secs_: f64) -> String {
    if secs_ < 600.0 {
        secs(secs_)
    } else {
        span(secs_)
    }
}

/// A fraction 0..1 as a whole percentage: `45 %`.
pub(crate) fn pct(f: f64) -> String {
    if f.is_finite() {
        format!("{:.0} %", f * 100.0)
    } else {
        NONE.into()
    }
}

/// [`pct`], or a dash when there is nothing to count.
pub(crate) fn opt_pct(f: Option<f64>) -> String {
    f.map_or_else(|| NONE.into(), pct)
}

/// A count and its noun, singular or plural: `1 attempt`, `3 attempts`, `1 try`, `2 tries`.
pub(crate) fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        return format!("1 {noun}");
    }
    let plural = match noun.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{stem}ies"),
        _ => format!("{noun}s"),
    };
    format!("{n} {plural}")
}

/// Wall-clock time of day, UTC (the recording's clock; outputs say UTC once).
pub(crate) fn clock(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S").to_string()
}

/// `" since HH:MM:SS UTC"` for a known moment, nothing for an unknown one: the clause
/// every output puts after "down".
pub(crate) fn since_clause(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| format!(" since {} UTC", clock(t)))
        .unwrap_or_default()
}

/// Seconds from `a` to `b` (negative when `b` is earlier), to the microsecond; saturates
/// instead of overflowing for spans no recording can have.
pub(crate) fn secs_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    let d = b.signed_duration_since(a);
    d.num_microseconds()
        .map_or_else(|| d.num_seconds() as f64, |us| us as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_say_singular_and_plural() {
        assert_eq!(count(1u32, "try"), "1 try");
        assert_eq!(count(2u32, "try"), "2 tries");
        assert_eq!(count(0u32, "attempt"), "0 attempts");
        assert_eq!(count(1u64, "attempt"), "1 attempt");
        assert_eq!(count(3u32, "day"), "3 days");
    }

    #[test]
    fn measured_times_pick_the_unit_by_size() {
        assert_eq!(ms(0.42), "0.42 ms");
        assert_eq!(ms(12.34), "12.3 ms");
        assert_eq!(ms(350.2), "350 ms");
        assert_eq!(ms(999.4), "999 ms");
        assert_eq!(ms(999.6), "1.00 s");
        assert_eq!(ms(1504.0), "1.50 s");
        assert_eq!(ms(35_000.4), "35.0 s");
        assert_eq!(ms(f64::NAN), NONE);
        assert_eq!(opt_ms(None), NONE);
    }

    #[test]
    fn configured_durations_read_as_written() {
        assert_eq!(duration(Duration::from_secs(75)), "75 s");
        assert_eq!(duration(Duration::from_millis(7500)), "7.5 s");
        assert_eq!(duration(Duration::from_millis(500)), "500 ms");
        assert_eq!(duration(Duration::from_millis(100)), "100 ms");
        assert_eq!(duration(Duration::from_secs(120)), "120 s");
        assert_eq!(secs_exact(0.125), "0.125 s");
    }

    #[test]
    fn spans_read_well_at_every_scale() {
        assert_eq!(span(0.0), "0.0 s");
        assert_eq!(span(8.54), "8.5 s");
        assert_eq!(span(37.04), "37 s");
        assert_eq!(span(185.0), "3 min 05 s");
        assert_eq!(span(3725.0), "1 h 02 min");
        assert_eq!(span(f64::NAN), "0.0 s");
        assert_eq!(span(-3.0), "0.0 s");
    }

    #[test]
    fn percentages_and_clock() {
        assert_eq!(pct(0.456), "46 %");
        assert_eq!(opt_pct(None), NONE);
        let t: DateTime<Utc> = "2026-11-25T04:19:44.5Z".parse().expect("time");
        assert_eq!(clock(t), "04:19:44");
        let u: DateTime<Utc> = "2026-11-25T04:19:46Z".parse().expect("time");
        assert_eq!(secs_between(t, u), 1.5);
        assert_eq!(secs_between(u, t), -1.5);
    }
}
