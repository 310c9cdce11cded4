//! Whether the dashboard can run here. It draws on standard output and reads keys from the
//! terminal: from standard input when that is one, otherwise from the controlling terminal
//! (`/dev/tty`, which crossterm opens then) — so `replay - < incident.jsonl` run in a
//! terminal still gets its keys. Every dashboard command asks this one question.

use std::io::{self, IsTerminal};

/// Standard output is a terminal and keys can be read from one.
pub(crate) fn can_run_dashboard() -> bool {
    io::stdout().is_terminal() && (io::stdin().is_terminal() || has_controlling_terminal())
}

#[cfg(unix)]
fn has_controlling_terminal() -> bool {
    std::fs::File::open("/dev/tty").is_ok_and(|f| f.is_terminal())
}

#[cfg(not(unix))]
fn has_controlling_terminal() -> bool {
    false
}
