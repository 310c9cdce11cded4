//! Exit codes a script can act on: one enum with the values README's "Exit codes" table
//! documents, and one conversion to the process's code (`ExitCode::code`).

use std::fmt;

use serde::{Serialize, Serializer};

/// Declares the enum and `ExitCode::ALL` from one list, so the list cannot miss a variant
/// (the README test compares `ALL` with the documented table).
macro_rules! exit_codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, )*) => {
        /// How a run of connscope ends, as the process's exit code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum ExitCode {
            $( $(#[$doc])* $name = $code, )*
        }

        impl ExitCode {
            /// Every exit code connscope can end with.
            pub const ALL: &[ExitCode] = &[$(ExitCode::$name),*];
        }
    };
}

exit_codes! {
    /// Verdict `pass` (and a reader of standard output that went away: nobody to tell).
    Pass = 0,
    /// Verdict `warn`.
    Warn = 1,
    /// Verdict `fail`.
    Fail = 2,
    /// Bad command line (sysexits EX_USAGE).
    Usage = 64,
    /// An input file that does not exist, cannot be read, is not a regular file or is larger
    /// than its bound (sysexits EX_NOINPUT).
    NoInput = 66,
    /// connscope itself failed (sysexits EX_SOFTWARE).
    Software = 70,
    /// An output file (`--log-file`, `--record`) that cannot be created (sysexits EX_CANTCREAT).
    CantCreate = 73,
    /// Writing failed part-way: the recording is incomplete, or standard output could not be
    /// written (disk full, EIO). The results measured were still printed (sysexits EX_IOERR).
    IoError = 74,
    /// Bad configuration or input file (sysexits EX_CONFIG).
    Config = 78,
    /// Stopped by SIGINT / SIGTERM / SIGHUP before finishing (128 + SIGINT).
    Interrupted = 130,
}

impl ExitCode {
    /// The process's exit code: the one place the enum becomes a number.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The code of a run whose recording could not be written to the end: 74 replaces the
    /// verdict's 0 / 1 / 2 (the evidence kept is incomplete; the verdict is still printed),
    /// while a worse outcome of the run itself (interrupted 130, an internal error 70) keeps
    /// its code.
    pub(crate) fn with_incomplete_recording(self) -> Self {
        match self {
            Self::Pass | Self::Warn | Self::Fail => Self::IoError,
            other => other,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        Self::from(c.code())
    }
}

/// The number, as reports print it (`exit 2`).
impl fmt::Display for ExitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.code().fmt(f)
    }
}

/// The JSON report's `"exit_code"` is the number scripts compare with `$?`.
impl Serialize for ExitCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::ExitCode;

    /// The codes in README's "Exit codes" table: rows `| N | meaning |` after its heading.
    fn documented() -> BTreeSet<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README.md is readable");
        let table = readme
            .split_once("### Exit codes\n")
            .expect("README has an `### Exit codes` section")
            .1;
        table
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.split('|').nth(1))
            .filter_map(|cell| cell.trim().parse().ok())
            .collect()
    }

    #[test]
    fn the_enum_is_the_readme_table() {
        let documented = documented();
        assert!(documented.len() >= 3, "table not found: {documented:?}");
        let ours: BTreeSet<u8> = ExitCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(ours.len(), ExitCode::ALL.len(), "two variants share a code");
        assert_eq!(
            ours, documented,
            "every README row is an ExitCode and every ExitCode a README row"
        );
    }

    #[test]
    fn an_incomplete_recording_replaces_only_a_verdict() {
        for c in [ExitCode::Pass, ExitCode::Warn, ExitCode::Fail] {
            assert_eq!(c.with_incomplete_recording(), ExitCode::IoError);
        }
        for c in [ExitCode::Interrupted, ExitCode::Software, ExitCode::Usage] {
            assert_eq!(c.with_incomplete_recording(), c);
        }
    }

    #[test]
    fn serialises_and_prints_as_its_number() {
        let json = serde_json::to_string(&ExitCode::Interrupted).expect("serialises");
        assert_eq!(json, "130");
        assert_eq!(ExitCode::CantCreate.to_string(), "73");
    }
}
