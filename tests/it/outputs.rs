//! Outputs that fail and inputs that never end, against the real binary: a reader that closed
//! stdout (and stderr), a full disk on stdout, a recording or log file that cannot be written
//! (at the start, or when the disk fills mid-run), a log file that cannot be opened; `report`
//! and `replay` given a FIFO, a device, a directory or standard input; a large recording read
//! in bounded memory.

use crate::common::fault_bin::{self, Run};
use crate::common::recordings;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

fn recording() -> String {
    fixture("tests/fixtures/recordings/outage.jsonl")
}

fn healthy_log() -> String {
    fixture("tests/fixtures/startup/healthy.jsonl")
}

/// The write end of a pipe whose reader is already gone: every write to it is EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer
}

fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full"),
    )
}

fn run_with(args: &[&str], env: &[(&str, &str)], stdout: Stdio, stderr: Stdio) -> Run {
    let mut c = fault_bin::command();
    c.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    fault_bin::run_prepared(c, LIMIT)
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

fn commands_that_print() -> Vec<Vec<String>> {
    let (rec, log) = (recording(), healthy_log());
    [
        vec!["config", "show"],
        vec!["config", "show", "--format", "json", "--env", "staging"],
        vec!["config", "check"],
        vec!["--help"],
        vec!["report", &rec, "--format", "markdown"],
        vec!["report", &rec, "--format", "json"],
        vec!["check", "--startup-log", &log, "--format", "json"],
    ]
    .into_iter()
    .map(|a| a.into_iter().map(String::from).collect())
    .collect()
}

#[test]
fn a_reader_that_closed_stdout_ends_every_command_quietly_with_exit_0() {
    for args in commands_that_print() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = run_with(&args, &[], closed_pipe().into(), Stdio::piped());
        assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr, "",
            "{args:?}: nothing to say, nobody to say it to"
        );
    }
}

/// `connscope check … 2>&1 | head` once `head` has gone: stdout and stderr are one closed
/// pipe, and debug logging and progress lines are written to it all the time.
#[test]
fn closed_stdout_and_stderr_together_never_panic() {
    let log = healthy_log();
    let args = [
        "check",
        "--startup-log",
        &log,
        "--progress",
        "json",
        "--format",
        "json",
    ];
    let pipe = closed_pipe();
    let run = run_with(
        &args,
        &[("CONNSCOPE_LOG", "debug")],
        pipe.try_clone().expect("dup").into(),
        pipe.into(),
    );
    assert_eq!(run.code, Some(0), "ends quietly, never 101");
}

#[test]
fn a_full_disk_on_stdout_is_exit_74_in_one_line() {
    for args in commands_that_print() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = run_with(&args, &[], dev_full(), Stdio::piped());
        assert_eq!(run.code, Some(74), "{args:?}: {}", run.stderr);
        assert_eq!(lines(&run.stderr).len(), 1, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr
                .contains("cannot write to standard output: No space left on device"),
            "{}",
            run.stderr
        );
    }
}

fn check_recorded(rec: &str, extra_env: &[(&str, &str)]) -> Run {
    let log = healthy_log();
    fault_bin::run(
        &[
            "check",
            "--startup-log",
            &log,
            "--format",
            "json",
            "--record",
            rec,
        ],
        extra_env,
        LIMIT,
    )
}

/// The recording fails, the run does not: its results are printed, the failure is said once
/// with the path, and the exit code says the recording is incomplete.
fn assert_incomplete_recording(run: &Run, path: &str) {
    assert_eq!(run.code, Some(74), "{}", run.stderr);
    assert_eq!(run.json()["verdict"], "pass", "the results are printed");
    let said = lines(&run.stderr);
    assert_eq!(said.len(), 1, "said once: {}", run.stderr);
    assert!(
        said[0].contains(path) && said[0].contains("cannot write the recording"),
        "{}",
        said[0]
    );
}

#[test]
fn a_recording_on_a_full_disk_keeps_the_run_and_its_results() {
    let run = check_recorded("/dev/full", &[]);
    assert_incomplete_recording(&run, "/dev/full");
}

/// The disk fills mid-run: a file size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so the
/// write fails with EFBIG instead of killing the process) lets the header and a few events
/// through, then every write fails.
#[test]
fn a_disk_filling_mid_run_is_said_once_and_the_results_still_printed() {
    let dir = tempfile::tempdir().expect("tmp");
    let full = dir.path().join("full.jsonl");
    let whole = check_recorded(full.to_str().expect("utf8"), &[]);
    assert_eq!(whole.code, Some(0), "{}", whole.stderr);
    let text = std::fs::read_to_string(&full).expect("recording");
    let header = text.lines().next().map_or(0, str::len) as u64 + 1;
    let total = text.len() as u64;
    assert!(
        total > header + 400,
        "events after the header: {total} bytes"
    );
    let cap = header + (total - header) / 2;
    let cut = dir.path().join("cut.jsonl");
    let log = healthy_log();
    let mut c = fault_bin::command();
    c.args([
        "check",
        "--startup-log",
        &log,
        "--format",
        "json",
        "--record",
    ])
    .arg(&cut)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    limit_file_size(&mut c, cap);
    let run = fault_bin::run_prepared(c, LIMIT);
    assert_incomplete_recording(&run, cut.to_str().expect("utf8"));
    let kept = std::fs::metadata(&cut).expect("recording").len();
    assert_eq!(kept, cap, "written up to the limit");
    // What was written is still a recording: its events up to the failure are reported.
    let report = fault_bin::run(
        &["report", cut.to_str().expect("utf8"), "--format", "json"],
        &[],
        LIMIT,
    );
    assert!(report.code.is_some_and(|c| c <= 2), "{}", report.stderr);
}

fn limit_file_size(c: &mut std::process::Command, bytes: u64) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: between fork and exec only signal(2) and setrlimit(2) run: async-signal-safe
    // calls on the child's own state.
    unsafe {
        c.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn a_log_file_that_cannot_be_opened_stops_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("no-such-dir").join("connscope.log");
    let log = healthy_log();
    for target in [missing.as_path(), dir.path()] {
        let path = target.to_str().expect("utf8");
        let run = fault_bin::run(
            &["check", "--startup-log", &log, "--log-file", path],
            &[],
            LIMIT,
        );
        assert_eq!(run.code, Some(73), "{path}: {}", run.stderr);
        assert_eq!(run.stdout, "", "nothing ran");
        let said = lines(&run.stderr);
        assert_eq!(said.len(), 1, "{}", run.stderr);
        assert!(
            said[0].contains(path) && said[0].contains("cannot open the log file"),
            "{}",
            said[0]
        );
    }
}

#[test]
fn log_write_errors_are_said_once_and_the_run_goes_on() {
    let log = healthy_log();
    let run = fault_bin::run(
        &[
            "check",
            "--startup-log",
            &log,
            "--format",
            "json",
            "--log-file",
            "/dev/full",
        ],
        &[("CONNSCOPE_LOG", "debug")],
        LIMIT,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.json()["verdict"], "pass");
    let said = lines(&run.stderr);
    assert_eq!(said.len(), 1, "said once: {}", run.stderr);
    assert!(
        said[0].contains("/dev/full: cannot write the log file"),
        "{}",
        said[0]
    );
}

fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("fifo");
    let c = std::ffi::CString::new(path.to_str().expect("utf8")).expect("no NUL");
    // SAFETY: mkfifo(3) reads the NUL-terminated path and nothing else.
    let r = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(r, 0, "mkfifo: {}", std::io::Error::last_os_error());
    path
}

/// A FIFO nobody writes to would block for ever, `/dev/zero` never ends, a directory is not
/// a file: each is refused at once with exit 66 and one line naming it.
#[test]
fn report_and_replay_refuse_what_is_not_a_regular_file_at_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let fifo = fifo(dir.path());
    let dir_s = dir.path().to_string_lossy().into_owned();
    let fifo_s = fifo.to_string_lossy().into_owned();
    for (path, what) in [
        (fifo_s.as_str(), "a FIFO"),
        ("/dev/zero", "a device"),
        (dir_s.as_str(), "a directory"),
    ] {
        for cmd in ["report", "replay"] {
            let run = fault_bin::run(&[cmd, path], &[], LIMIT);
            assert_eq!(run.code, Some(66), "{cmd} {path}: {}", run.stderr);
            let said = lines(&run.stderr);
            assert_eq!(said.len(), 1, "{}", run.stderr);
            assert!(
                said[0].contains(path) && said[0].contains(what),
                "{}",
                said[0]
            );
        }
    }
}

#[test]
fn report_reads_standard_input_like_a_file() {
    let rec = recording();
    for format in ["json", "markdown"] {
        let from_file = fault_bin::run(&["report", &rec, "--format", format], &[], LIMIT);
        let mut c = fault_bin::command();
        c.args(["report", "-", "--format", format])
            .stdin(std::fs::File::open(&rec).expect("fixture"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let from_stdin = fault_bin::run_prepared(c, LIMIT);
        assert_eq!(from_stdin.code, from_file.code, "{}", from_stdin.stderr);
        // The source line names the file; everything else is the same report.
        let same = |s: &str| s.replace("outage.jsonl", "-");
        assert_eq!(same(&from_stdin.stdout), same(&from_file.stdout));
    }
    // Standard input that never ends and has no line in it: refused after 1 MiB.
    let mut c = fault_bin::command();
    c.args(["report", "-"])
        .stdin(std::fs::File::open("/dev/zero").expect("/dev/zero"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = fault_bin::run_prepared(c, LIMIT);
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert!(run.stderr.contains("longer than 1 MiB"), "{}", run.stderr);
}

/// A 32 MB recording (a 200 MB one once took 448 MB): report streams it, so its peak memory
/// is the state's, far below the file's size.
#[test]
fn a_large_recording_is_reported_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("long.jsonl");
    recordings::long(&path, 32 << 20);
    let run = fault_bin::run(
        &["report", path.to_str().expect("utf8"), "--format", "json"],
        &[],
        Duration::from_secs(300),
    );
    assert!(run.code.is_some_and(|c| c <= 2), "{}", run.stderr);
    eprintln!(
        "report of a 32 MB recording: peak RSS {} KiB in {:?}",
        run.max_rss_kib, run.took
    );
    assert!(
        run.max_rss_kib < 64 * 1024,
        "peak RSS {} KiB for a 32 MB recording",
        run.max_rss_kib
    );
}
