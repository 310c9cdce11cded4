//! Durations as people write them in config and on the command line: `500ms`, `2s`, `1m`,
//! `1m30s`. Serialised back in the shortest exact unit so `config show` reads like the input.
//!
//! Every duration connscope accepts — flag, environment variable, config file, recording
//! header; any unit — is at most `MAX` (7 days), checked here at parsing. No timeout, interval
//! or budget of an outage tool is longer, and the bound keeps every sum and multiple of
//! durations far from overflowing (`u64::MAX` seconds once panicked a probe and hung `check`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer, de};

/// The longest duration accepted anywhere.
pub(crate) const MAX: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses `500ms`, `2s`, `1m`, `1h`, `1m30s`, or a bare number of seconds (`2.5`); at most
/// `MAX`.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let d = if let Ok(secs) = t.parse::<f64>() {
        if !(secs.is_finite() && secs >= 0.0) {
            return Err(format!("invalid duration `{t}`"));
        }
        from_secs(secs)
    } else {
        humantime::parse_duration(t)
            .map_err(|e| format!("invalid duration `{t}` ({e}); use e.g. 500ms, 2s, 1m"))?
    };
    bounded(d).ok_or_else(|| too_long(t))
}

fn too_long(shown: &str) -> String {
    format!("duration `{shown}` is longer than the limit of 7 days")
}

fn bounded(d: Duration) -> Option<Duration> {
    (d <= MAX).then_some(d)
}

/// Seconds as a `Duration`, saturating rather than panicking (callers bound the result).
fn from_secs(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// `d × factor`, saturating at `Duration::MAX` (and 0 for a negative or NaN factor) where
/// `Duration::mul_f64` would panic.
pub(crate) fn mul_f64(d: Duration, factor: f64) -> Duration {
    if factor.is_nan() || factor <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

/// The sum, saturating at `Duration::MAX` where `Iterator::sum` would panic.
pub(crate) fn sum<I: IntoIterator<Item = Duration>>(items: I) -> Duration {
    items
        .into_iter()
        .fold(Duration::ZERO, Duration::saturating_add)
}

/// Formats a duration in the largest unit that represents it exactly: `75s`, `500ms`, `2m`.
pub(crate) fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if !d.subsec_nanos().is_multiple_of(1_000) {
        return format!("{}ns", d.as_nanos());
    }
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        return format!("{}us", d.as_micros());
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    // Seconds read best next to the outage's numbers (75 s, 120 s); minutes only when long.
    if s != 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s > 600 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

struct DurationVisitor;

impl de::Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a duration such as \"500ms\", \"2s\" or \"1m\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        let secs = u64::try_from(v).map_err(|_| E::custom("a duration cannot be negative"))?;
        self.visit_u64(secs)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        bounded(Duration::from_secs(v)).ok_or_else(|| E::custom(too_long(&v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        if !(v.is_finite() && v >= 0.0) {
            return Err(E::custom(format!("invalid duration {v}")));
        }
        bounded(from_secs(v)).ok_or_else(|| E::custom(too_long(&v.to_string())))
    }
}

/// `Option<Duration>` in the same notation.
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super")] Duration);
        Option::<Wrap>::deserialize(d).map(|w| w.map(|Wrap(d)| d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse("soon").is_err());
        assert!(parse("-1").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn nothing_longer_than_seven_days_in_any_unit() {
        assert_eq!(parse("7d"), Ok(MAX));
        assert_eq!(parse("604800"), Ok(MAX));
        assert_eq!(parse("168h"), Ok(MAX));
        for long in [
            "7d 1s",
            "604801",
            "604800.5",
            "18446744073709551615s",
            "99999999999999s",
            "1e300",
            "inf",
            "NaN",
            "10000000000000000000000ns",
            "2w",
        ] {
            let e = parse(long).expect_err(long);
            assert!(!e.is_empty(), "{long}");
        }
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(mul_f64(Duration::MAX, 2.0), Duration::MAX);
        assert_eq!(mul_f64(Duration::from_secs(2), 1.5), Duration::from_secs(3));
        assert_eq!(mul_f64(Duration::from_secs(2), f64::NAN), Duration::ZERO);
        assert_eq!(sum([Duration::MAX, Duration::MAX]), Duration::MAX);
    }

    proptest::proptest! {
        /// Whatever the text, parsing returns (never panics) and never exceeds the bound; what
        /// it accepts formats back to the same duration.
        #[test]
        fn any_text_parses_within_the_bound_or_is_refused(text in "\\PC{0,40}") {
            if let Ok(d) = parse(&text) {
                proptest::prop_assert!(d <= MAX);
                proptest::prop_assert_eq!(parse(&format(d)), Ok(d));
            }
        }

        #[test]
        fn numbers_with_units_are_bounded(n in proptest::num::u64::ANY,
                                          unit in proptest::sample::select(vec!["ns", "us", "ms", "s", "m", "h", "d", "w", "M", "y", ""])) {
            let text = format!("{n}{unit}");
            match parse(&text) {
                Ok(d) => proptest::prop_assert!(d <= MAX),
                Err(e) => proptest::prop_assert!(!e.is_empty()),
            }
        }
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        assert_eq!(format(Duration::from_secs(75)), "75s");
        assert_eq!(format(Duration::from_millis(500)), "500ms");
        assert_eq!(format(Duration::from_secs(120)), "120s");
        assert_eq!(format(Duration::from_secs(900)), "15m");
        assert_eq!(format(Duration::from_secs(7200)), "2h");
        assert_eq!(format(Duration::from_millis(7500)), "7500ms");
        assert_eq!(format(Duration::ZERO), "0s");
    }
}
