//! A temporary directory removed on drop (also when a test panics) and, once `guard`ed, by a
//! watchdog process when the lab dies without running any drop (see `watchdog.rs`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::watchdog::{ClusterStop, Watchdog};

pub(super) struct TempDir {
    path: PathBuf,
    removed: bool,
    guard: Option<Watchdog>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TempDir {
    /// Creates `$TMPDIR/connscope-lab-<what>-<pid>-<n>-<random>`; `create_dir` fails rather
    /// than reuse an existing directory.
    pub(super) fn new(what: &str) -> io::Result<TempDir> {
        let base = std::env::temp_dir();
        for _ in 0..8 {
            let name = format!(
                "connscope-lab-{what}-{}-{}-{:08x}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed),
                fastrand::u32(..)
            );
            let path = base.join(name);
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    return Ok(TempDir {
                        path,
                        removed: false,
                        guard: None,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(
            "could not create a unique temporary directory",
        ))
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a watchdog that removes the directory (after stopping `cluster` in it) if this
    /// process dies without removing it. Best effort: without `sh` there is no watchdog.
    pub(super) fn guard(&mut self, cluster: Option<&ClusterStop>) {
        match Watchdog::spawn(&self.path, cluster) {
            Ok(g) => self.guard = Some(g),
            Err(e) => tracing::warn!(
                "no watchdog for {} (it stays behind if connscope is killed): {e}",
                self.path.display()
            ),
        }
    }

    pub(super) fn remove(&mut self) -> io::Result<()> {
        if self.removed {
            return Ok(());
        }
        self.removed = true;
        let result = match std::fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        // Removed: the watchdog finds nothing to do. Not removed: it tries once more.
        if let Some(mut g) = self.guard.take() {
            g.disarm();
        }
        result
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            tracing::warn!("could not remove {}: {e}", self.path.display());
        }
    }
}
