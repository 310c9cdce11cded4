//! The terminal dashboard. The caller (the `watch`, `lab` and `replay` commands) builds a
//! `State`, a feed channel and an outbound channel, and awaits [`run`]:
//!
//! ```text
//! probes ──Event──▶ Feed channel ──▶ ui::run ──Outbound──▶ probes / lab / replay
//! ```
//!
//! `run` owns the terminal and restores it on every exit; everything else here is pure and
//! drawn through [`draw::draw`], which tests and benches call on a `TestBackend`.

pub(crate) mod app;
pub mod draw;
mod event_loop;
pub mod feed;
pub mod fixtures;
pub(crate) mod fmt;
pub(crate) mod judged;
pub(crate) mod keys;
pub(crate) mod layout;
pub(crate) mod mask;
pub mod options;
pub(crate) mod panels;
mod terminal;
pub(crate) mod text;
pub mod theme;
pub(crate) mod vantages;
pub(crate) mod view;

pub use app::App;
pub use event_loop::{LoopOptions, run, run_loop};
pub use keys::{Action, Keymap};
pub use options::{Outbound, UiOptions, ViewMode, no_color_env};
pub use terminal::restore as restore_terminal;
pub use theme::ThemeName;

#[cfg(test)]
mod loop_tests;
#[cfg(test)]
mod tests;
