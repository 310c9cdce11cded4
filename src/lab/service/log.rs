//! The service's startup log in connscope's default format: one JSON object per line,
//! `{"timestamp","phase","status","message"}` for phases and `{"timestamp","event":"exit","code"}`
//! for exits. Writes are synchronous and whole-line: a startup run interrupted by a restart
//! must never leave half a line behind, and a line is on disk the moment it is written so a
//! follower sees it as it happens.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{SecondsFormat, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LineStatus {
    Started,
    Completed,
    Failed,
}

#[derive(Serialize)]
struct PhaseLine<'a> {
    timestamp: String,
    phase: u8,
    status: LineStatus,
    message: &'a str,
}

#[derive(Serialize)]
struct ExitLine {
    timestamp: String,
    event: &'static str,
    code: i32,
}

pub(crate) struct StartupLog {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl StartupLog {
    pub(crate) fn create(path: &Path) -> std::io::Result<StartupLog> {
        let file = std::fs::File::create(path)?;
        Ok(StartupLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn phase(&self, phase: u8, status: LineStatus, message: &str) {
        self.write(&PhaseLine {
            timestamp: now(),
            phase,
            status,
            message,
        });
    }

    pub(crate) fn exit(&self, code: i32) {
        self.write(&ExitLine {
            timestamp: now(),
            event: "exit",
            code,
        });
    }

    fn write<T: Serialize>(&self, line: &T) {
        let Ok(mut text) = serde_json::to_string(line) else {
            return;
        };
        text.push('\n');
        let Ok(mut file) = self.file.lock() else {
            return;
        };
        // A full disk must not stop the stand-in service; the log line is what is lost.
        if let Err(e) = file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
            tracing::warn!("lab service: cannot write {}: {e}", self.path.display());
        }
    }
}
