//! The zone of a startup log's timestamps that carry none (Python logging's default
//! `2026-11-25 10:00:00,123`). Only the machine that wrote the log knows it: a container on
//! Cloud Run or Kubernetes logs in UTC (the default here), a service on a laptop or a VM set to
//! its zone logs in local time. Read in the wrong zone, a phase that started a minute ago is
//! hours old — stalled — or hours ahead.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Local, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogZone {
    /// This machine's zone (`TZ`, else `/etc/localtime`): the log was written here.
    Local,
    /// A fixed offset from UTC; `UTC` is the offset 0.
    Fixed(FixedOffset),
}

impl Default for LogZone {
    fn default() -> Self {
        LogZone::Fixed(Utc.fix())
    }
}

impl LogZone {
    /// The moment a zone-less timestamp names. A local time that happens twice (the hour the
    /// clocks go back) is the first; one that never happens (the hour they skip) is read with
    /// the offset before the skip, as the writer's clock, not yet moved, would have printed it.
    pub(crate) fn resolve(self, n: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self {
            LogZone::Fixed(o) => o.from_local_datetime(&n).single().map(|t| t.to_utc()),
            LogZone::Local => match Local.from_local_datetime(&n) {
                LocalResult::Single(t) => Some(t.to_utc()),
                // The two readings come in no promised order (chrono gives the later first).
                LocalResult::Ambiguous(a, b) => Some(a.min(b).to_utc()),
                LocalResult::None => {
                    // Skipped hours are at most a few: three hours earlier is before the skip.
                    let before = Local
                        .offset_from_local_datetime(&(n - chrono::TimeDelta::hours(3)))
                        .earliest()?;
                    before.from_local_datetime(&n).single().map(|t| t.to_utc())
                }
            },
        }
    }
}

impl FromStr for LogZone {
    type Err = String;

    /// `local`, `UTC` (or `Z`), or an offset: `+05:30`, `-0800`, `+01`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let wrong = || {
            format!(
                "invalid zone `{t}`: use `UTC`, `local`, or an offset such as `+02:00` or `-05:00`"
            )
        };
        match t.to_ascii_lowercase().as_str() {
            "local" => return Ok(LogZone::Local),
            "utc" | "z" => return Ok(LogZone::default()),
            _ => {}
        }
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => return Err(wrong()),
        };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
            return Err(wrong());
        }
        let hours: i32 = digits[..2].parse().map_err(|_| wrong())?;
        let minutes: i32 = if digits.len() == 4 {
            digits[2..].parse().map_err(|_| wrong())?
        } else {
            0
        };
        if hours > 14 || minutes > 59 {
            return Err(wrong());
        }
        FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
            .map(LogZone::Fixed)
            .ok_or_else(wrong)
    }
}

impl fmt::Display for LogZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogZone::Local => f.write_str("local"),
            LogZone::Fixed(o) if o.local_minus_utc() == 0 => f.write_str("UTC"),
            LogZone::Fixed(o) => write!(f, "{o}"),
        }
    }
}

impl Serialize for LogZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LogZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("valid")
    }

    #[test]
    fn zones_are_read_as_written_and_shown_back() {
        for (text, shown) in [
            ("UTC", "UTC"),
            ("utc", "UTC"),
            ("Z", "UTC"),
            ("local", "local"),
            ("+05:30", "+05:30"),
            ("-0800", "-08:00"),
            ("+01", "+01:00"),
            ("+00:00", "UTC"),
        ] {
            let z: LogZone = text.parse().expect(text);
            assert_eq!(z.to_string(), shown, "{text}");
        }
        for bad in [
            "",
            "CET",
            "+5",
            "+15:00",
            "+05:60",
            "05:00",
            "+05:3x",
            "Europe/Berlin",
        ] {
            let e = bad.parse::<LogZone>().expect_err(bad);
            assert!(e.contains("use `UTC`, `local`"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_fixed_zone_moves_the_moment_by_its_offset() {
        let n = naive("2026-11-30 17:12:47");
        let at = |z: &str| z.parse::<LogZone>().expect(z).resolve(n).expect("resolves");
        assert_eq!(at("UTC").to_rfc3339(), "2026-11-30T17:12:47+00:00");
        assert_eq!(at("+05:30").to_rfc3339(), "2026-11-30T11:42:47+00:00");
        assert_eq!(at("-05:00").to_rfc3339(), "2026-11-30T22:12:47+00:00");
    }
}
