//! Exit codes a script can act on, and the one error type commands return.

use std::fmt;

pub const PASS: i32 = 0;
pub const WARN: i32 = 1;
pub const FAIL: i32 = 2;
/// Bad command line (sysexits EX_USAGE).
pub const USAGE: i32 = 64;
/// connscope itself failed (sysexits EX_SOFTWARE).
pub const SOFTWARE: i32 = 70;
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
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::secret::scrub(&self.message))
    }
}

impl std::error::Error for AppError {}

impl From<crate::config::ConfigError> for AppError {
    fn from(e: crate::config::ConfigError) -> Self {
        AppError::config(e.to_string())
    }
}

pub type AppResult<T> = Result<T, AppError>;
