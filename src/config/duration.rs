//! Durations as people write them in config and on the command line: `500ms`, `2s`, `1m`,
//! `1m30s`. Serialised back in the shortest exact unit so `config show` reads like the input.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer, de};

/// Parses `500ms`, `2s`, `1m`, `1h`, `1m30s`, or a bare number of seconds (`2.5`).
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return from_secs(secs).ok_or_else(|| format!("invalid duration `{t}`"));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("invalid duration `{t}` ({e}); use e.g. 500ms, 2s, 1m"))
}

fn from_secs(secs: f64) -> Option<Duration> {
    (secs.is_finite() && (0.0..1e12).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

/// Formats a duration in the largest unit that represents it exactly: `75s`, `500ms`, `2m`.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
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

/// Seconds as a float, the unit every report and JSON field uses for budgets.
pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
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
        u64::try_from(v)
            .map(Duration::from_secs)
            .map_err(|_| E::custom("a duration cannot be negative"))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        from_secs(v).ok_or_else(|| E::custom(format!("invalid duration {v}")))
    }
}

/// `Option<Duration>` in the same notation.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
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
