//! Every byte connscope writes to standard output or standard error goes through here, so a
//! write that fails never panics (`println!` does on EPIPE and ENOSPC) and means one thing:
//!
//! - Standard output closed by its reader (`connscope config show | head -1`): the command
//!   stops quietly with exit 0, as ripgrep and other Unix tools do — there is nobody left to
//!   tell anything.
//! - Standard output failing otherwise (`> /dev/full`, EIO): one line on stderr and exit 74.
//! - Standard error closed: its lines are dropped from then on; the run goes on.
//!
//! Lines on stderr pass the secret scrubber. While the dashboard owns the terminal, warnings
//! wait (`warn`) and are printed once it has been restored.

use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::OutputError;

static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);
static TERMINAL_OWNED: AtomicBool = AtomicBool::new(false);
static DEFERRED: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Warnings kept for after the dashboard at most (each kind is said once anyway).
const MAX_DEFERRED: usize = 16;

/// Writes `text` to standard output and flushes it.
pub(crate) fn stdout(text: &str) -> Result<(), OutputError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// What a failed write to standard output means (see the module comment).
pub(crate) fn stdout_error(e: io::Error) -> OutputError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        OutputError::Closed
    } else {
        OutputError::Failed(e)
    }
}

/// One line on standard error, scrubbed; dropped once stderr is known to be closed.
pub(crate) fn stderr_line(text: &str) {
    stderr_bytes(format!("{}\n", crate::secret::scrub(text)).as_bytes());
}

/// Raw bytes to standard error (already scrubbed by the caller), for the log writer.
pub(crate) fn stderr_bytes(bytes: &[u8]) {
    if STDERR_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut err = io::stderr().lock();
    if let Err(e) = err.write_all(bytes).and_then(|()| err.flush())
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        STDERR_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// `connscope: <message>` on standard error.
pub(crate) fn say(message: &str) {
    stderr_line(&format!("connscope: {message}"));
}

/// The dashboard is about to own the terminal (`true`) or has given it back (`false`).
pub(crate) fn terminal_owned(owned: bool) {
    TERMINAL_OWNED.store(owned, Ordering::Relaxed);
}

/// A warning for the person: said now, or — while the dashboard owns the terminal, where it
/// would scribble over the screen — kept and said by `say_deferred` after it.
pub(crate) fn warn(message: &str) {
    if !TERMINAL_OWNED.load(Ordering::Relaxed) {
        say(message);
        return;
    }
    if let Ok(mut d) = DEFERRED.lock()
        && d.len() < MAX_DEFERRED
    {
        d.push(message.to_string());
    }
}

/// Says the warnings kept while the dashboard ran.
pub(crate) fn say_deferred() {
    let kept = DEFERRED.lock().map(|mut d| std::mem::take(&mut *d));
    for m in kept.unwrap_or_default() {
        say(&m);
    }
}
