//! What every probe uses to reach a server and to read what went wrong, apart from the probes
//! themselves: opening a step-timed PostgreSQL session, name resolution, TLS, error classes,
//! and the pacing (interval, back-off, pause) of repeated attempts.

pub(crate) mod classify;
pub mod connect;
pub mod headroom;
pub(crate) mod net;
pub(crate) mod schedule;
mod startup;
pub mod tls;
pub(crate) mod wire;
