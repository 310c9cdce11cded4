//! Bounds at the door, against the real binary: every duration (flag, environment, file; any
//! unit) at most 7 days, counts within their ranges, config files at most 1 MiB — refused
//! before anything runs (64 for a flag, 78 for the environment or a file), never a panic or a
//! hang. (Files with a bad value are in the config corpus, `config_corpus.rs`.)

use crate::common::fault_bin;

use std::time::Duration;

/// Generous: a refused value is answered at once, and the hangs these guard against
/// (`--interval 99999999999999s`) would exceed any limit.
const LIMIT: Duration = Duration::from_secs(30);

fn refused(args: &[&str], env: &[(&str, &str)], code: i32, says: &str) {
    let run = fault_bin::run(args, env, LIMIT);
    assert_eq!(run.code, Some(code), "{args:?} {env:?}: {}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "{args:?}: nothing ran: {}",
        run.stdout
    );
    assert!(
        run.stderr.contains(says),
        "{args:?}: want `{says}`: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn a_duration_flag_over_seven_days_is_a_usage_error_in_any_unit() {
    let db = "postgres://app@127.0.0.1:1/app";
    let cases: &[&[&str]] = &[
        &[
            "check",
            "--db-url",
            db,
            "--connect-timeout",
            "18446744073709551615s",
        ],
        &[
            "config",
            "show",
            "--env",
            "staging",
            "--connect-timeout",
            "18446744073709551615s",
        ],
        &["check", "--db-url", db, "--interval", "99999999999999s"],
        &["check", "--db-url", db, "--capacity", "2", "--hold", "8d"],
        &["check", "--db-url", db, "--init-timeout", "1e300"],
        &["check", "--db-url", db, "--health-timeout", "2w"],
        &["check", "--db-url", db, "--tries-interval", "1y"],
        &["check", "--db-url", db, "--interval", "604801"],
    ];
    for args in cases {
        refused(args, &[], 64, "longer than the limit of 7 days");
    }
    // Exactly 7 days is allowed.
    let run = fault_bin::run(&["config", "show", "--hold", "7d"], &[], LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
fn a_duration_over_seven_days_in_the_environment_names_the_variable() {
    for (var, value) in [
        ("CONNSCOPE_TIMEOUTS__CONNECTION", "18446744073709551615s"),
        ("CONNSCOPE_DATABASE__INTERVAL", "700000"),
        ("CONNSCOPE_CAPACITY__HOLD", "8d"),
    ] {
        refused(
            &["config", "check"],
            &[(var, value)],
            78,
            &format!("connscope: {var}: "),
        );
    }
}

#[test]
fn counts_out_of_range_on_flags_are_usage_errors_naming_the_flag() {
    let db = "postgres://app@127.0.0.1:1/app";
    for (args, says) in [
        (
            vec!["check", "--db-url", db, "--attempts", "0"],
            "--attempts: database.attempts: 0 is outside",
        ),
        (
            vec!["check", "--db-url", db, "--capacity", "999999"],
            "--capacity: capacity.connections: 999999 is outside",
        ),
        (
            vec!["check", "--db-url", db, "--tries", "1000"],
            "--tries: health.tries: 1000 is outside",
        ),
        (
            vec!["check", "--db-url", db, "--attempts", "99999999999"],
            "invalid value",
        ),
    ] {
        refused(&args, &[], 64, says);
    }
}

fn comments(bytes: usize) -> String {
    let line = "# a comment line, as a generated or damaged file might have by the million\n";
    let mut text = String::from("environment = \"staging\"\n");
    while text.len() + line.len() <= bytes {
        text.push_str(line);
    }
    text
}

/// A config file over 1 MiB is refused before it is parsed (a 100 MB file of comments once
/// took 1 GB); one just under it is read, in memory far below that.
#[test]
fn a_config_file_over_1_mib_is_refused_before_parsing() {
    let dir = tempfile::tempdir().expect("tmp");
    let big = dir.path().join("big.toml");
    std::fs::write(&big, comments(2 << 20)).expect("write");
    let big = big.to_str().expect("utf8");
    refused(
        &["--config", big, "config", "check"],
        &[],
        78,
        &format!("connscope: {big}: config file is larger than 1024 KiB"),
    );
    let fits = dir.path().join("fits.toml");
    std::fs::write(&fits, comments(1 << 20)).expect("write");
    let run = fault_bin::run(
        &["--config", fits.to_str().expect("utf8"), "config", "check"],
        &[],
        LIMIT,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    eprintln!(
        "config check of a 1 MiB config: peak RSS {} KiB",
        run.max_rss_kib
    );
    assert!(
        run.max_rss_kib < 64 * 1024,
        "peak RSS {} KiB",
        run.max_rss_kib
    );
    // Endless input as a config (a device): read no further than the bound.
    refused(
        &["--config", "/dev/zero", "config", "check"],
        &[],
        78,
        "config file is larger than 1024 KiB",
    );
}
