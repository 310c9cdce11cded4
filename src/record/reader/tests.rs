use proptest::prelude::*;

use super::*;
use crate::error::{AppError, RecordError};
use crate::event::EventBody;
use crate::exit::ExitCode::{self, Config as CONFIG};
use crate::state::fixtures::{self, t};

fn header_line(version: u32) -> String {
    let h = Header {
        format: FORMAT.into(),
        version,
        connscope: "0.1.0".into(),
        command: "check".into(),
        started_at: t(0.0),
        environment: "staging".into(),
        config: Value::Null,
        state: fixtures::staging_config(),
        backfill: None,
    };
    serde_json::to_string(&h).unwrap_or_default()
}

fn event_line(at: f64, body: EventBody) -> String {
    serde_json::to_string(&Event::at(t(at), body)).unwrap_or_default()
}

fn outage_lines() -> Vec<String> {
    fixtures::outage()
        .into_iter()
        .map(|(at, b)| event_line(at, b))
        .collect()
}

fn file(lines: &[String]) -> Vec<u8> {
    let mut s = header_line(VERSION);
    for l in lines {
        s.push('\n');
        s.push_str(l);
    }
    s.push('\n');
    s.into_bytes()
}

#[test]
fn a_clean_recording_reads_back_every_event_without_notes() {
    let lines = outage_lines();
    let rec = parse(&file(&lines), "x").expect("reads");
    assert_eq!(rec.events.len(), lines.len());
    assert_eq!(rec.skipped, 0);
    assert!(rec.notes.is_empty(), "{:?}", rec.notes);
    assert_eq!(rec.header.state, fixtures::staging_config());
    assert_eq!(rec.start(), t(0.0));
    assert_eq!(rec.end(), t(185.0));
}

#[test]
fn damaged_lines_are_skipped_counted_and_located() {
    let mut lines = outage_lines();
    let n = lines.len();
    lines[3] = "{\"at\":\"2026-11-25T10:00:02Z\",\"kind\":\"db_att".into();
    lines.insert(6, "{\"some\":\"other json\"}".into());
    lines.insert(7, "PID 4411 started".into());
    let mut bytes = file(&lines);
    // A binary line that is not UTF-8, then a last line cut off mid-write.
    bytes.extend_from_slice(b"\xff\xfe\x00garbage\n");
    bytes.extend_from_slice(b"{\"at\":\"2026-11-25T10:05:00Z\",\"ki");
    let rec = parse(&bytes, "x").expect("reads");
    assert_eq!(rec.events.len(), n - 1);
    assert_eq!(rec.skipped, 5);
    assert_eq!(
        rec.notes,
        vec!["skipped 5 unreadable lines (first at line 5; the last line was cut off)"]
    );
}

#[test]
fn blank_lines_and_crlf_are_not_damage() {
    let lines = outage_lines();
    let text = String::from_utf8(file(&lines)).unwrap_or_default();
    let crlf = format!("\n{}\n\n", text.replace('\n', "\r\n"));
    let rec = parse(crlf.as_bytes(), "x").expect("reads");
    assert_eq!(rec.events.len(), lines.len());
    assert_eq!(rec.skipped, 0);
}

#[test]
fn events_out_of_time_order_are_kept_in_file_order_with_a_note() {
    let mut lines = outage_lines();
    lines.swap(0, 5);
    let rec = parse(&file(&lines), "x").expect("reads");
    assert_eq!(rec.events.len(), lines.len());
    assert_eq!(rec.events[0].at, t(37.0));
    assert!(
        rec.notes[0].contains("applied in file order"),
        "{:?}",
        rec.notes
    );
}

/// A refusal as the person sees it: its exit code and its one line.
struct Said {
    code: ExitCode,
    message: String,
}

fn said(e: RecordError) -> Said {
    let e = AppError::from(e);
    Said {
        code: e.exit_code(),
        message: crate::error::line(&e),
    }
}

fn refused(bytes: &[u8]) -> Said {
    match parse(bytes, "f.jsonl") {
        Ok(_) => panic!("accepted: {}", String::from_utf8_lossy(bytes)),
        Err(e) => said(e),
    }
}

#[test]
fn things_that_are_not_recordings_are_refused_as_configuration_errors() {
    let cases: [(&[u8], &str); 6] = [
        (b"", "the file is empty"),
        (b"\n\n  \n", "the file is empty"),
        (b"hello world\n", "the first line is not a JSON header"),
        (b"\xff\xfe\n", "the first line is not a JSON header"),
        (b"{\"name\":\"package.json\"}\n", "no \"format\""),
        (b"[1,2,3]\n", "no \"format\""),
    ];
    for (bytes, why) in cases {
        let e = refused(bytes);
        assert_eq!(e.code, CONFIG);
        assert!(
            e.message
                .starts_with("f.jsonl: not a connscope recording (")
        );
        assert!(e.message.contains(why), "{}", e.message);
        assert!(!e.message.contains('\n'));
    }
}

#[test]
fn a_newer_format_version_is_refused_with_an_upgrade_hint() {
    let e = refused(format!("{}\n", header_line(2)).as_bytes());
    assert_eq!(e.code, CONFIG);
    assert_eq!(
        e.message,
        "f.jsonl: recording format version 2 is newer than this connscope understands (1); upgrade connscope"
    );
    // A newer header may not even have today's fields: still refused for its version.
    let e = refused(b"{\"format\":\"connscope-recording\",\"version\":7}\n");
    assert!(e.message.contains("version 7 is newer"), "{}", e.message);
}

#[test]
fn a_damaged_header_is_refused() {
    let e = refused(b"{\"format\":\"connscope-recording\",\"version\":1,\"state\":{}}\n");
    assert_eq!(e.code, CONFIG);
    assert!(
        e.message.contains("recording header is damaged"),
        "{}",
        e.message
    );
}

#[test]
fn a_missing_file_is_no_input_naming_it() {
    let e = match read(Path::new("/nonexistent/rec.jsonl")) {
        Ok(_) => panic!("read a missing file"),
        Err(e) => said(e),
    };
    assert_eq!(e.code, ExitCode::NoInput);
    assert!(
        e.message
            .starts_with("/nonexistent/rec.jsonl: cannot read recording")
    );
}

#[test]
fn only_regular_files_are_read() {
    for (path, what) in [
        ("/dev/zero", "a device"),
        ("/tmp", "a directory"),
        ("/dev/null", "a device"),
    ] {
        let e = match read(Path::new(path)) {
            Ok(_) => panic!("read {path}"),
            Err(e) => said(e),
        };
        assert_eq!(e.code, ExitCode::NoInput, "{path}");
        assert!(
            e.message.contains(&format!("{what} is not a regular file")),
            "{}",
            e.message
        );
    }
}

#[test]
fn a_line_over_the_limit_is_skipped_without_being_kept() {
    let mut lines = outage_lines();
    let n = lines.len();
    lines.insert(2, format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_LINE + 10)));
    let rec = parse(&file(&lines), "x").expect("reads");
    assert_eq!(rec.events.len(), n);
    assert_eq!(rec.skipped, 1);
    let mut long_header = vec![b'{'; MAX_LINE + 1];
    long_header.push(b'\n');
    assert!(refused(&long_header).message.contains("longer than 1 MiB"));
}

#[test]
fn rewinding_reads_the_same_events_and_tally_again() {
    let mut lines = outage_lines();
    lines.insert(3, "garbage".into());
    let bytes = file(&lines);
    let (_, mut r) = EventReader::new(std::io::Cursor::new(&bytes[..]), "x").expect("header");
    let first: Vec<Event> = r.by_ref().collect();
    let notes = r.notes();
    r.rewind().expect("rewind");
    let second: Vec<Event> = r.by_ref().collect();
    assert_eq!(first, second);
    assert_eq!(r.notes(), notes);
    assert_eq!(r.skipped(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&bytes, "p");
    }

    #[test]
    fn any_damage_after_a_valid_header_still_reads(
        tail in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = file(&outage_lines());
        bytes.extend_from_slice(&tail);
        let rec = parse(&bytes, "p");
        prop_assert!(rec.is_ok());
    }

    #[test]
    fn flipped_bytes_in_a_valid_recording_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
    ) {
        let mut bytes = file(&outage_lines());
        let len = bytes.len();
        for (at, b) in flips {
            bytes[at % len] = b;
        }
        let _ = parse(&bytes, "p");
    }

    #[test]
    fn cutting_a_recording_anywhere_keeps_every_whole_line(cut in 0usize..4000) {
        let full = file(&outage_lines());
        let header_len = header_line(VERSION).len() + 1;
        let cut = cut.min(full.len());
        match parse(&full[..cut], "p") {
            Ok(rec) => {
                let whole = full[..cut].iter().filter(|b| **b == b'\n').count();
                prop_assert!(rec.events.len() + 1 >= whole);
                prop_assert!(rec.skipped <= 1);
            }
            Err(_) => prop_assert!(cut < header_len),
        }
    }
}

#[test]
fn standard_input_is_spooled_within_its_bound() {
    let bytes = file(&outage_lines());
    let spooled = spool(&mut &bytes[..], bytes.len() as u64).expect("fits exactly");
    let (_, events) = EventReader::new(std::io::BufReader::new(spooled), "-").expect("reads");
    assert_eq!(events.count(), outage_lines().len());
    let e = said(spool(&mut &bytes[..], bytes.len() as u64 - 1).expect_err("one byte too many"));
    assert_eq!(e.code, ExitCode::NoInput);
    assert!(
        e.message.contains("standard input is longer than"),
        "{}",
        e.message
    );
    // Endless input without a line is refused after the line bound, not the size bound.
    let e = said(spool(&mut std::io::repeat(0), u64::MAX - 1).expect_err("refused"));
    assert!(e.message.contains("longer than 1 MiB"), "{}", e.message);
}
