//! Exit codes a script can act on, and the one error type commands return.

use std::fmt;

pub const PASS: i32 = 0;
pub const WARN: i32 = 1;
pub const FAIL: i32 = 2;
/// Bad command line (sysexits EX_USAGE).
pub const USAGE: i32 = 64;
/// An input file that does not exist, cannot be read, is not a regular file or is larger
/// than its bound (sysexits EX_NOINPUT).
pub const NO_INPUT: i32 = 66;
/// connscope itself failed (sysexits EX_SOFTWARE).
pub const SOFTWARE: i32 = 70;
/// An output file (`--log-file`, `--record`) that cannot be created (sysexits EX_CANTCREAT).
pub const CANT_CREATE: i32 = 73;
/// Writing failed part-way: the recording is incomplete, or standard output could not be
/// written (disk full, EIO). The results measured were still printed (sysexits EX_IOERR).
pub const IO_ERROR: i32 = 74;
/// Bad configuration or input file (sysexits EX_CONFIG).
pub const CONFIG: i32 = 78;
/// Stopped by SIGINT / SIGTERM before finishing.
pub const INTERRUPTED: i32 = 130;

/// A one-line error and the exit code that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    pub code: i32,
    pub message: String,
}

impl AppError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: USAGE,
            message: message.into(),
        }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self {
            code: CONFIG,
            message: message.into(),
        }
    }

    pub fn software(message: impl Into<String>) -> Self {
        Self {
            code: SOFTWARE,
            message: message.into(),
        }
    }

    pub fn no_input(message: impl Into<String>) -> Self {
        Self {
            code: NO_INPUT,
            message: message.into(),
        }
    }

    pub fn cant_create(message: impl Into<String>) -> Self {
        Self {
            code: CANT_CREATE,
            message: message.into(),
        }
    }

    pub fn io(message: impl Into<String>) -> Self {
        Self {
            code: IO_ERROR,
            message: message.into(),
        }
    }

    /// The reader of standard output went away (`| head`): like other Unix tools, connscope
    /// stops quietly with exit 0 — nothing is printed, and there is nobody to print to.
    pub fn pipe_closed() -> Self {
        Self {
            code: PASS,
            message: String::new(),
        }
    }

    /// Nothing to say on stderr (see `pipe_closed`).
    pub fn is_quiet(&self) -> bool {
        self.message.is_empty()
    }
}

/// The exit code of a run whose recording could not be written to the end: 74 replaces the
/// verdict's 0 / 1 / 2 (the evidence kept is incomplete; the verdict is still printed), while
/// a worse outcome of the run itself (interrupted 130, an internal error 70) keeps its code.
pub fn with_incomplete_recording(code: i32) -> i32 {
    if matches!(code, PASS | WARN | FAIL) {
        IO_ERROR
    } else {
        code
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::secret::scrub(&self.message))
    }
}

impl std::error::Error for AppError {}

impl From<crate::config::ConfigError> for AppError {
    /// A value given as a flag is a usage error (64); anything else is the configuration (78).
    fn from(e: crate::config::ConfigError) -> Self {
        let code = if e.from_flag { USAGE } else { CONFIG };
        AppError {
            code,
            message: e.to_string(),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
