//! The README's screenshot, from a real run: `connscope lab` (the phase-3 startup-timeout
//! scenario) in a 160×50 pseudo-terminal, read back through a vt100 parser once the outage's
//! signature is on screen, and written as an SVG of the cell grid with its colours.
//!
//! ```sh
//! cargo build && cargo run --example screenshot -- assets/screenshot.svg
//! cargo run --example screenshot -- assets/screenshot-light.svg --theme light
//! ```
//!
//! `--bin PATH` picks the connscope binary (default: the one next to `target/*/examples`).
//! Every wait is bounded; the lab is ended with `q`, so it stops its database itself.

#[path = "../../tests/it/common/pty.rs"]
mod pty;
mod svg;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

const COLS: u16 = 160;
const ROWS: u16 = 50;
/// The lab needs a few seconds to start and one restart of the stand-in service before the
/// signature shows; a slow machine gets more.
const WAIT: Duration = Duration::from_secs(90);

fn arg_after(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

/// `target/debug/examples/screenshot` → `target/debug/connscope`.
fn default_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("where this example runs from")?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the example is not inside a target directory")?;
    Ok(dir.join("connscope"))
}

/// Everything the picture should tell: the database attempts timing out, the service's
/// health at 503, its exit code 3, and the diagnosis naming the outage.
/// A few attempts in, so the chart shows the timeouts as a series rather than one mark.
fn signature_shown(s: &str) -> bool {
    ["The outage's signature", "exit 3", "✗ 503"]
        .iter()
        .all(|w| s.contains(w))
        && s.matches("✗ fail ").count() >= 3
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map_or_else(|| PathBuf::from("assets/screenshot.svg"), PathBuf::from);
    let theme = arg_after(&args, "--theme").unwrap_or_else(|| "dark".into());
    let profile = match theme.as_str() {
        "light" => &svg::LIGHT,
        "dark" | "high-contrast" => &svg::DARK,
        other => bail!("--theme {other}: expected dark, light or high-contrast"),
    };
    let bin = match arg_after(&args, "--bin") {
        Some(b) => PathBuf::from(b),
        None => default_bin()?,
    };
    if !bin.exists() {
        bail!(
            "{} not found: run `cargo build` first, or pass --bin",
            bin.display()
        );
    }
    let mut p = pty::spawn(
        &bin,
        &["lab", "--scenario", "startup-timeout", "--theme", &theme],
        &[],
        COLS,
        ROWS,
    );
    let shown = p.wait_for(WAIT, signature_shown);
    // One more frame so the numbers settle into a steady picture.
    std::thread::sleep(Duration::from_millis(600));
    let picture = p.with_screen(|s| {
        svg::render(
            profile,
            s,
            "connscope lab: the phase-3 startup timeout, live",
        )
    });
    p.key('q');
    let ended = p.wait_exit(Duration::from_secs(20));
    if let Err(screen) = shown {
        bail!("the outage's signature did not show within {WAIT:?}:\n{screen}");
    }
    if ended.is_none() {
        eprintln!("warning: the lab did not end within 20 s of q");
    }
    std::fs::write(&out, picture).with_context(|| format!("writing {}", out.display()))?;
    println!("{}", out.display());
    Ok(())
}
