//! Owning the terminal: raw mode and the alternate screen on the way in, and back to a usable
//! shell on every way out — return, error, signal or panic. A dashboard that leaves the
//! terminal in raw mode mid-outage costs the on-call engineer their shell.

use std::io::{self, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

/// Whether raw mode / the alternate screen are ours to undo. Shared by the guard and the
/// panic hook so whichever runs first restores once.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Puts the terminal back. Idempotent; errors are ignored because the terminal may be gone
/// (SIGHUP) and there is nobody left to tell.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let mut out = io::stdout();
        let _ = execute!(out, LeaveAlternateScreen, Show);
        let _ = out.flush();
    }
}

/// Restores the terminal before the previous hook prints the panic message, so the message
/// lands on the normal screen instead of vanishing with the alternate one. Installed once per
/// process and chained to whatever hook was there before.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// After a panic in some other task (a probe), the hook has already restored the terminal
/// while the dashboard goes on running. Take it back: raw mode and the alternate screen
/// again. Returns true when it did, so the caller redraws everything.
pub(super) fn reclaim() -> io::Result<bool> {
    if !GUARDED.load(Ordering::SeqCst) || ACTIVE.load(Ordering::SeqCst) {
        return Ok(false);
    }
    ACTIVE.store(true, Ordering::SeqCst);
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen)?;
    Ok(true)
}

/// A guard is alive: the dashboard owns the terminal.
static GUARDED: AtomicBool = AtomicBool::new(false);

pub(super) struct TerminalGuard(());

impl TerminalGuard {
    /// The panic hook goes in first: nothing that can panic runs before it.
    pub(super) fn enter() -> io::Result<Self> {
        install_panic_hook();
        ACTIVE.store(true, Ordering::SeqCst);
        GUARDED.store(true, Ordering::SeqCst);
        // From here on a failure must undo what was done; the guard's Drop does that.
        let guard = Self(());
        enable_raw_mode()?;
        execute!(io::stdout(), EnterAlternateScreen)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        GUARDED.store(false, Ordering::SeqCst);
        restore();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panic_hook_restores_the_terminal_and_chains() {
        install_panic_hook();
        ACTIVE.store(true, Ordering::SeqCst);
        let r = std::panic::catch_unwind(|| panic!("boom (expected by this test)"));
        assert!(r.is_err());
        assert!(!ACTIVE.load(Ordering::SeqCst), "restored by the hook");
    }
}
