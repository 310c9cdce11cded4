//! Peak memory of reading big inputs: `report` of an 80 MB recording (from a file and from
//! standard input) and `config check` of a 1 MiB configuration. Each is the real binary's own
//! peak resident set (its `VmHWM`, see `fault_bin::Run::max_rss_kib`), the median of the
//! rounds.
//!
//! Run: `cargo bench --bench memory` (CONNSCOPE_BENCH_MB=200 for a bigger recording). Target:
//! under 64 MB for the 80 MB recording — memory is the state's, not the file's. Fails loudly
//! when a run fails or a figure is over its target.

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::process::Stdio;
use std::time::Duration;

use common::fault_bin::{self, Run};

const ROUNDS: usize = 5;
const LIMIT: Duration = Duration::from_secs(600);
const TARGET_KIB: i64 = 64 * 1024;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `make()` ROUNDS times; prints the median peak RSS and time; fails on a bad exit.
fn measure(what: &str, ok: impl Fn(Option<i32>) -> bool, make: impl Fn() -> Run) -> f64 {
    let runs: Vec<Run> = (0..ROUNDS).map(|_| make()).collect();
    for r in &runs {
        assert!(ok(r.code), "{what}: exit {:?}: {}", r.code, r.stderr);
    }
    let rss = median(runs.iter().map(|r| r.max_rss_kib as f64).collect());
    let secs = median(runs.iter().map(|r| r.took.as_secs_f64()).collect());
    let max = runs.iter().map(|r| r.max_rss_kib).max().unwrap_or(0);
    println!(
        "{what:<48} peak RSS median {:>7.1} MB (max {:.1} MB), {secs:.2} s",
        rss / 1024.0,
        max as f64 / 1024.0
    );
    rss
}

fn main() {
    let mb: usize = common::setting("CONNSCOPE_BENCH_MB", 80);
    let dir = tempfile::tempdir().expect("tmp");
    let rec = dir.path().join("long.jsonl");
    common::recordings::long(&rec, mb << 20);
    let size = std::fs::metadata(&rec).map(|m| m.len()).unwrap_or(0);
    let rec_s = rec.to_str().expect("utf8").to_string();
    println!(
        "recording: {:.1} MB; {ROUNDS} rounds each",
        size as f64 / 1e6
    );
    let verdict = |c: Option<i32>| c.is_some_and(|c| c <= 2);
    let mut over = Vec::new();
    for format in ["json", "markdown"] {
        let what = format!("report {mb} MB --format {format}");
        let rss = measure(&what, verdict, || {
            fault_bin::run(&["report", &rec_s, "--format", format], &[], LIMIT)
        });
        if rss >= TARGET_KIB as f64 {
            over.push(what);
        }
    }
    let what = format!("report - < {mb} MB (stdin)");
    let rss = measure(&what, verdict, || {
        let mut c = fault_bin::command();
        c.args(["report", "-", "--format", "json"])
            .stdin(std::fs::File::open(&rec).expect("recording"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        fault_bin::run_prepared(c, LIMIT)
    });
    if rss >= TARGET_KIB as f64 {
        over.push(what);
    }
    let config = dir.path().join("big.toml");
    let mut text = String::from("environment = \"staging\"\n");
    let line = "# a comment line, as a generated or damaged file might have by the million\n";
    while text.len() + line.len() <= 1 << 20 {
        text.push_str(line);
    }
    std::fs::write(&config, text).expect("write config");
    let config_s = config.to_str().expect("utf8").to_string();
    let rss = measure(
        "config check, 1 MiB config",
        |c| c == Some(0),
        || fault_bin::run(&["--config", &config_s, "config", "check"], &[], LIMIT),
    );
    if rss >= TARGET_KIB as f64 {
        over.push("config check".into());
    }
    assert!(over.is_empty(), "over {TARGET_KIB} KiB: {over:?}");
}
