//! A corpus of broken configuration files (`tests/fixtures/config/bad/`), each run through the
//! real binary. Every one must be refused with exit 78 and exactly one line on stderr,
//! `connscope: FILE:LINE:COL: what is wrong`, pointing at the right place — never a panic,
//! never a silent default. The expected location is in the file's name (`NAME--LINE-COL.toml`);
//! what the message must say is in the table below, which must list every file.

use crate::common::fault_bin;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File stem (without the location) → words the message must contain.
const EXPECTED: &[(&str, &str)] = &[
    ("unknown_key_top", "frobnicate: unknown field `frobnicate`"),
    (
        "unknown_key_nested",
        "timeouts.conection: unknown field `conection`",
    ),
    (
        "unknown_key_in_endpoint",
        "endpoints[0].colour: unknown field `colour`",
    ),
    (
        "wrong_type",
        "database.attempts: invalid type: string \"five\", expected u32",
    ),
    (
        "wrong_type_in_array",
        "health.paths[1]: invalid type: integer `2`, expected a string",
    ),
    ("table_expected", "timeouts: invalid type: integer `5`"),
    ("environment_not_a_string", "`environment` must be a string"),
    (
        "bad_duration",
        "health.tries_interval: invalid duration `5 parsecs`",
    ),
    (
        "zero_duration",
        "timeouts.connection: must be longer than 0s",
    ),
    (
        "negative_number",
        "database.attempts: invalid value: integer `-3`",
    ),
    (
        "number_too_big",
        "capacity.connections: invalid value: integer `4294967296`",
    ),
    (
        "fraction_out_of_range",
        "pool.safety_margin: 1.5 is not a fraction between 0 and 1",
    ),
    (
        "duplicate_endpoint",
        "endpoints[1].name: duplicate endpoint name `api`",
    ),
    (
        "bad_url_scheme",
        "endpoints[0].url: `ftp` must be a http or https URL",
    ),
    (
        "bad_ws_scheme",
        "endpoints[0].websocket: `http` must be a ws or wss URL",
    ),
    ("endpoint_without_url", "endpoints[0]: missing field `url`"),
    (
        "bad_regex",
        "startup.patterns.started: invalid regular expression",
    ),
    ("syntax_unclosed_table", "TOML syntax error: unclosed table"),
    (
        "syntax_missing_equals",
        "TOML syntax error: key with no value, expected `=`",
    ),
    (
        "syntax_unterminated_string",
        "TOML syntax error: invalid basic string",
    ),
    ("syntax_duplicate_key", "TOML syntax error: duplicate key"),
    ("syntax_duplicate_table", "TOML syntax error: duplicate key"),
    ("non_utf8", "not valid UTF-8"),
    ("empty_endpoint", "endpoints[0]: missing field `name`"),
    (
        "log_and_command",
        "startup.command: give either startup.log or startup.command",
    ),
    ("unknown_environment", "unknown environment `prod`"),
    ("invalid_database_url", "database.url: invalid port `99999`"),
    ("bad_sslmode", "database.url: invalid sslmode `maybe`"),
    ("unknown_theme", "ui.theme: unknown theme `neon`"),
    (
        "crlf_bad_duration",
        "timeouts.connection: invalid duration `x`",
    ),
    ("bom_then_unknown", "bogus: unknown field `bogus`"),
    (
        "duration_too_long",
        "timeouts.connection: duration `18446744073709551615s` is longer than the limit of 7 days",
    ),
    (
        "phase_budgets_overflow",
        "startup.phases[0].budget: duration `18446744073709551615s` is longer than the limit of 7 days",
    ),
    (
        "duration_seconds_too_long",
        "database.interval: duration `700000` is longer than the limit of 7 days",
    ),
    (
        "duration_weeks",
        "capacity.hold: duration `2w` is longer than the limit of 7 days",
    ),
    (
        "pool_size_too_big",
        "pool.size: 4000000000 is outside 0..=100000",
    ),
];

struct Case {
    path: PathBuf,
    stem: String,
    line: usize,
    col: usize,
}

fn corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/bad");
    let mut out: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let parsed = name.strip_suffix(".toml").and_then(|n| {
                let (stem, at) = n.rsplit_once("--")?;
                let (l, c) = at.split_once('-')?;
                Some((stem.to_string(), l.parse().ok()?, c.parse().ok()?))
            });
            let (stem, line, col) =
                parsed.unwrap_or_else(|| panic!("{name}: expected NAME--LINE-COL.toml"));
            Case {
                path,
                stem,
                line,
                col,
            }
        })
        .collect();
    out.sort_by(|a, b| a.stem.cmp(&b.stem));
    out
}

#[test]
fn the_corpus_and_the_table_name_the_same_files() {
    let cases = corpus();
    assert!(cases.len() >= 15, "{} files", cases.len());
    let on_disk: Vec<&str> = cases.iter().map(|c| c.stem.as_str()).collect();
    let mut in_table: Vec<&str> = EXPECTED.iter().map(|(s, _)| *s).collect();
    in_table.sort_unstable();
    assert_eq!(on_disk, in_table);
}

#[test]
fn every_bad_config_is_refused_in_one_located_line_with_exit_78() {
    let expected: BTreeMap<&str, &str> = EXPECTED.iter().copied().collect();
    let mut problems = Vec::new();
    for c in corpus() {
        let file = c.path.to_str().expect("utf-8 path");
        let want = expected.get(c.stem.as_str()).copied().unwrap_or("?");
        for command in [&["config", "check"][..], &["config", "show"]] {
            let args = [&["--config", file][..], command].concat();
            let run = fault_bin::run(&args, &[], Duration::from_secs(30));
            let err = run.stderr.trim_end();
            let prefix = format!("connscope: {file}:{}:{}: ", c.line, c.col);
            let problem = if run.code != Some(78) {
                Some(format!("exit {:?}", run.code))
            } else if err.lines().count() != 1 {
                Some("not exactly one line".into())
            } else if !err.starts_with(&prefix) {
                Some(format!("want the location {}:{}", c.line, c.col))
            } else if !err.contains(want) {
                Some(format!("want `{want}`"))
            } else if err.contains("panicked") || !run.stdout.is_empty() {
                Some("panicked or printed to stdout".into())
            } else {
                None
            };
            if let Some(p) = problem {
                problems.push(format!("{} ({command:?}): {p}; stderr: {err}", c.stem));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The same mistakes given through the environment are located by the variable's name.
#[test]
fn a_bad_value_from_the_environment_names_the_variable() {
    let run = fault_bin::run(
        &["config", "check"],
        &[("CONNSCOPE_TIMEOUTS__CONNECTION", "soon")],
        Duration::from_secs(30),
    );
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert_eq!(run.stderr.trim_end().lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("connscope: CONNSCOPE_TIMEOUTS__CONNECTION: timeouts.connection: invalid duration `soon`"),
        "{}",
        run.stderr
    );
}
