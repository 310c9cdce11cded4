//! Diagnostics for connscope itself (not the outage): to stderr for headless commands, to a
//! file when asked, never to the dashboard's terminal. Every line passes the secret scrubber.
//!
//! A `--log-file` that cannot be opened stops connscope before anything runs (exit 73): the
//! warnings it would swallow are exactly what the person asked to keep. A log file that fails
//! later (disk full) is reported once, with its path, and the run goes on without it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::Cli;
use crate::error::{AppError, AppResult};

/// Where scrubbed log lines go. Write errors never reach tracing (which would print them with
/// `eprintln!`, a panic once stderr is closed).
enum Sink {
    Stderr,
    File {
        file: Mutex<File>,
        path: PathBuf,
        failed: AtomicBool,
    },
}

impl Sink {
    fn write(&self, bytes: &[u8]) {
        match self {
            Sink::Stderr => crate::output::stderr_bytes(bytes),
            Sink::File { file, path, failed } => {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(mut f) = file.lock() else { return };
                if let Err(e) = f.write_all(bytes)
                    && !failed.swap(true, Ordering::Relaxed)
                {
                    crate::output::warn(&format!(
                        "{}: cannot write the log file: {e}; later log lines are dropped",
                        path.display()
                    ));
                }
            }
        }
    }
}

/// One log record's writer: collects the formatted line, scrubs it and writes it whole.
pub(crate) struct Scrubbed<'a>(&'a Sink);

impl Write for Scrubbed<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write(crate::secret::scrub(&text).as_bytes());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Scrubbed<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Scrubbed(self)
    }
}

/// Opens the log file (if any) and installs the subscriber. Errors only for a `--log-file`
/// that cannot be opened for appending (exit 73, before anything runs).
pub(crate) fn init(cli: &Cli) -> AppResult<()> {
    let sink = match &cli.global.log_file {
        Some(path) => Some(open(path)?),
        None if cli.owns_terminal() => None,
        None => Some(Sink::Stderr),
    };
    let Some(sink) = sink else { return Ok(()) };
    let filter =
        EnvFilter::try_from_env("CONNSCOPE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .log_internal_errors(false)
        .with_writer(sink)
        .try_init();
    Ok(())
}

fn open(path: &Path) -> AppResult<Sink> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| AppError::LogFile {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(Sink::File {
        file: Mutex::new(file),
        path: path.to_path_buf(),
        failed: AtomicBool::new(false),
    })
}
