//! Recordings made for tests and benches: the committed sample, and long ones built from it.

#![allow(dead_code)] // each user needs a different subset

use std::path::{Path, PathBuf};

/// The committed sample recording of the outage (`tests/fixtures/recordings/outage.jsonl`).
pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings/outage.jsonl")
}

/// A recording of a long watch: the sample's events again and again, 200 s apart, to `bytes`.
pub fn long(path: &Path, bytes: usize) {
    use std::io::Write as _;
    let text = std::fs::read_to_string(sample()).expect("fixture");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let events: Vec<serde_json::Value> =
        lines.filter_map(|l| serde_json::from_str(l).ok()).collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    writeln!(out, "{header}").expect("write");
    let mut written = header.len();
    for round in 0i64.. {
        for ev in &events {
            let mut ev = ev.clone();
            let at = ev["at"]
                .as_str()
                .and_then(|a| chrono::DateTime::parse_from_rfc3339(a).ok())
                .expect("event time");
            ev["at"] = serde_json::Value::String(
                (at + chrono::Duration::seconds(200 * round)).to_rfc3339(),
            );
            let line = ev.to_string();
            writeln!(out, "{line}").expect("write");
            written += line.len() + 1;
        }
        if written >= bytes {
            break;
        }
    }
    out.flush().expect("flush");
}
