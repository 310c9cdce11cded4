//! First, do no harm: before opening many connections (the capacity test, a pool probe), read
//! what the server has room for — `max_connections`, the reserved slots, the role's and the
//! database's CONNECTION LIMIT, the sessions in use — and cap the number of connections at
//! `min(profile cap, floor(free ordinary slots × safety margin))`. Reserved slots are never
//! counted as free, so a DBA (superuser) and the application's role can still log in while the
//! connections are held.
//!
//! Sessions are counted as an ordinary role sees `pg_stat_activity`: other roles' rows show
//! most columns (`backend_type` included) as NULL, but `datid` and `usesysid` stay visible. A
//! row counts when it is a client backend, or hidden and attached to a database; server
//! processes (checkpointer, walwriter, launchers, physical WAL senders) have no database and
//! do not take a connection slot. Hidden background workers attached to a database
//! (autovacuum, parallel workers) are counted too: the safe direction.

use std::time::Duration;

use tokio_postgres::SimpleQueryMessage;

use super::connect::{self, ConnectParams, Session};
use crate::config::DbTarget;
use crate::event::{Failure, Headroom};

/// The numbers read from the server, as the connecting role sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerLimits {
    pub max_connections: u32,
    pub superuser_reserved: u32,
    /// `reserved_connections` (PostgreSQL 16+; 0 before).
    pub reserved: u32,
    pub superuser: bool,
    /// `rolconnlimit` / `datconnlimit` when set (≥ 0); they do not bind a superuser.
    pub role_limit: Option<u32>,
    pub db_limit: Option<u32>,
    /// Client sessions open, this one excluded (it is closed before anything is opened).
    pub sessions: u32,
    pub role_sessions: u32,
    pub db_sessions: u32,
}

/// One query, every number: settings, limits, and sessions counted as described above.
const LIMITS_SQL: &str = "\
WITH s AS (SELECT * FROM pg_catalog.pg_stat_activity a WHERE a.pid <> pg_catalog.pg_backend_pid() \
  AND (a.backend_type = 'client backend' OR (a.backend_type IS NULL AND a.datid IS NOT NULL))) \
SELECT pg_catalog.current_setting('max_connections'), \
  pg_catalog.current_setting('superuser_reserved_connections'), \
  coalesce(pg_catalog.current_setting('reserved_connections', true), '0'), \
  r.rolsuper::text, r.rolconnlimit::text, d.datconnlimit::text, \
  (SELECT count(*) FROM s)::text, \
  (SELECT count(*) FROM s WHERE s.usesysid = r.oid)::text, \
  (SELECT count(*) FROM s WHERE s.datid = d.oid)::text \
FROM pg_catalog.pg_roles r, pg_catalog.pg_database d \
WHERE r.rolname = current_user AND d.datname = pg_catalog.current_database()";

impl ServerLimits {
    fn from_row(v: &[Option<&str>]) -> Option<Self> {
        let n = |i: usize| v.get(i).copied().flatten()?.trim().parse::<i64>().ok();
        let u = |i: usize| n(i).and_then(|x| u32::try_from(x).ok());
        let superuser = v.get(3).copied().flatten()? == "true";
        let limit = |i: usize| u(i).filter(|_| !superuser);
        Some(Self {
            max_connections: u(0)?,
            superuser_reserved: u(1)?,
            reserved: u(2).unwrap_or(0),
            superuser,
            role_limit: limit(4),
            db_limit: limit(5),
            sessions: u(6)?,
            role_sessions: u(7)?,
            db_sessions: u(8)?,
        })
    }

    pub async fn read(session: &Session) -> Result<Self, String> {
        let rows = tokio::time::timeout(
            Duration::from_secs(5),
            session.client.simple_query(LIMITS_SQL),
        )
        .await
        .map_err(|_| "no answer within 5 s".to_string())?
        .map_err(|e| e.to_string())?;
        rows.iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    let v: Vec<Option<&str>> = (0..r.len()).map(|i| r.get(i)).collect();
                    Self::from_row(&v)
                }
                _ => None,
            })
            .ok_or_else(|| "the server's limits could not be read".to_string())
    }

    pub fn reserved_slots(&self) -> u32 {
        self.superuser_reserved.saturating_add(self.reserved)
    }

    /// Slots an ordinary login of this role to this database can still take, and which limit
    /// binds (`None`: the server's).
    pub fn free_ordinary(&self) -> (u32, Option<&'static str>) {
        let server = self
            .max_connections
            .saturating_sub(self.reserved_slots())
            .saturating_sub(self.sessions);
        let mut free = (server, None);
        for (limit, used, what) in [
            (
                self.role_limit,
                self.role_sessions,
                "the role's CONNECTION LIMIT",
            ),
            (
                self.db_limit,
                self.db_sessions,
                "the database's CONNECTION LIMIT",
            ),
        ] {
            if let Some(l) = limit {
                let room = l.saturating_sub(used);
                if room < free.0 {
                    free = (room, Some(what));
                }
            }
        }
        free
    }
}

/// The profile's cap when the server's numbers are unknown, saying why.
fn unknown(profile_cap: u32, margin: f64, why: &str) -> Headroom {
    Headroom {
        cap: profile_cap,
        reason: format!("the server's limits are unknown ({why}): the profile's cap {profile_cap}"),
        profile_cap,
        safety_margin: margin,
        max_connections: None,
        reserved_slots: None,
        sessions_in_use: None,
        free_ordinary: None,
        role_limit: None,
        role_sessions: None,
        db_limit: None,
        db_sessions: None,
        left: None,
    }
}

/// The cap and its reason, from the numbers (pure: the arithmetic every caller shares).
pub(crate) fn plan(
    limits: Option<&ServerLimits>,
    profile_cap: u32,
    margin: f64,
    why_unknown: &str,
) -> Headroom {
    let Some(l) = limits else {
        return unknown(profile_cap, margin, why_unknown);
    };
    let (free, binding) = l.free_ordinary();
    // The tiny epsilon keeps 10 × 0.8 at 8 despite binary fractions.
    let by_headroom = (f64::from(free) * margin + 1e-9).floor().max(0.0) as u32;
    let cap = by_headroom.min(profile_cap);
    let slots = if free == 1 { "slot" } else { "slots" };
    let within = binding
        .map(|b| format!(" (within {b})"))
        .unwrap_or_default();
    let reason = if by_headroom < profile_cap {
        format!(
            "{free} free ordinary {slots}{within} × {margin} = {by_headroom}, under the profile's cap {profile_cap}"
        )
    } else {
        format!(
            "the profile's cap {profile_cap} ({free} free ordinary {slots}{within} × {margin} = {by_headroom})"
        )
    };
    Headroom {
        cap,
        reason,
        profile_cap,
        safety_margin: margin,
        max_connections: Some(l.max_connections),
        reserved_slots: Some(l.reserved_slots()),
        sessions_in_use: Some(l.sessions),
        free_ordinary: Some(free),
        role_limit: l.role_limit,
        role_sessions: l.role_limit.map(|_| l.role_sessions),
        db_limit: l.db_limit,
        db_sessions: l.db_limit.map(|_| l.db_sessions),
        left: Some(free.saturating_sub(cap)),
    }
}

/// What `measure` found: the headroom and cap, the numbers behind them when they could be
/// read, and — when the server refused even the check's own connection for capacity — that
/// refusal (its connect time and failure), which is evidence in its own right.
#[derive(Debug, Clone)]
pub struct Measured {
    pub headroom: Headroom,
    pub limits: Option<ServerLimits>,
    pub refused: Option<(f64, Failure)>,
}

/// `measure` for a probe about to open many connections (capacity test, pool probe): the
/// headroom read on a session of its own (so it never needs a slot the probe takes), or the
/// profile's cap, said so, when the connection parameters cannot be used.
pub async fn read(
    target: &DbTarget,
    connect_timeout: Duration,
    statement_timeout: Duration,
    profile_cap: u32,
    margin: f64,
) -> Measured {
    match ConnectParams::new(target, connect_timeout, statement_timeout) {
        Ok(cp) => measure(target, &cp, profile_cap, margin).await,
        Err(e) => Measured {
            headroom: plan(None, profile_cap, margin, &e),
            limits: None,
            refused: None,
        },
    }
}

/// Connects (a session of its own, closed before returning), reads the limits and plans the
/// cap. A server that refuses even this one connection for capacity gets a cap of 0.
pub async fn measure(
    target: &DbTarget,
    cp: &ConnectParams,
    profile_cap: u32,
    margin: f64,
) -> Measured {
    let a = connect::attempt(target, cp).await;
    let session = match a.result {
        Ok(s) => s,
        Err(f) if f.class.wants_backoff() => {
            let mut headroom = plan(None, 0, margin, &f.message);
            headroom.reason = format!(
                "the server refused the headroom check ({}: {}): nothing more is opened",
                f.class, f.message
            );
            return Measured {
                headroom,
                limits: None,
                refused: Some((a.total_ms, f)),
            };
        }
        Err(f) => {
            return Measured {
                headroom: plan(None, profile_cap, margin, &f.message),
                limits: None,
                refused: None,
            };
        }
    };
    let limits = ServerLimits::read(&session).await;
    session.close().await;
    let (headroom, limits) = match limits {
        Ok(l) => (plan(Some(&l), profile_cap, margin, ""), Some(l)),
        Err(e) => (plan(None, profile_cap, margin, &e), None),
    };
    Measured {
        headroom,
        limits,
        refused: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: u32, su: u32, sessions: u32) -> ServerLimits {
        ServerLimits {
            max_connections: max,
            superuser_reserved: su,
            sessions,
            ..ServerLimits::default()
        }
    }

    #[test]
    fn the_issue_server_leaves_ordinary_and_reserved_slots() {
        // max_connections=20, superuser_reserved_connections=3, staging's cap 35, margin 0.8.
        let h = plan(Some(&limits(20, 3, 0)), 35, 0.8, "");
        assert_eq!((h.cap, h.free_ordinary, h.left), (13, Some(17), Some(4)));
        assert!(
            h.reason
                .starts_with("17 free ordinary slots × 0.8 = 13, under the profile's cap 35"),
            "{}",
            h.reason
        );
        let h = plan(Some(&limits(20, 3, 5)), 16, 0.8, "");
        assert_eq!(h.cap, 9, "12 free × 0.8");
    }

    #[test]
    fn the_profile_cap_binds_on_a_big_server() {
        let h = plan(Some(&limits(100, 3, 10)), 35, 0.8, "");
        assert_eq!(h.cap, 35);
        assert!(
            h.reason.starts_with("the profile's cap 35 (87 free"),
            "{}",
            h.reason
        );
    }

    #[test]
    fn reserved_connections_and_role_and_database_limits_bind() {
        let mut l = limits(50, 3, 10);
        l.reserved = 5;
        assert_eq!(plan(Some(&l), 100, 0.8, "").cap, 25, "32 free × 0.8 = 25.6");
        l.role_limit = Some(8);
        l.role_sessions = 3;
        let h = plan(Some(&l), 100, 0.8, "");
        assert_eq!((h.cap, h.free_ordinary), (4, Some(5)));
        assert!(
            h.reason.contains("the role's CONNECTION LIMIT"),
            "{}",
            h.reason
        );
        l.db_limit = Some(2);
        l.db_sessions = 2;
        assert_eq!(plan(Some(&l), 100, 0.8, "").cap, 0, "the database is full");
    }

    #[test]
    fn a_full_or_nearly_full_server_gets_nothing() {
        assert_eq!(plan(Some(&limits(20, 3, 17)), 35, 0.8, "").cap, 0);
        assert_eq!(
            plan(Some(&limits(20, 3, 30)), 35, 0.8, "").cap,
            0,
            "superusers in reserved slots"
        );
        assert_eq!(
            plan(Some(&limits(20, 3, 16)), 35, 0.8, "").cap,
            0,
            "1 × 0.8 floors to 0"
        );
        assert_eq!(plan(Some(&limits(20, 3, 15)), 35, 0.8, "").cap, 1);
    }

    #[test]
    fn unknown_limits_fall_back_to_the_profile_cap_and_say_why() {
        let h = plan(None, 16, 0.8, "password authentication failed");
        assert_eq!(h.cap, 16);
        assert!(
            h.reason
                .contains("unknown (password authentication failed)")
        );
        assert_eq!(h.free_ordinary, None);
    }

    #[test]
    fn a_row_reads_with_superusers_exempt_from_limits() {
        let row = |su: &'static str| {
            [
                Some("20"),
                Some("3"),
                Some("0"),
                Some(su),
                Some("5"),
                Some("-1"),
                Some("4"),
                Some("2"),
                Some("4"),
            ]
        };
        let l = ServerLimits::from_row(&row("false")).expect("reads");
        assert_eq!((l.role_limit, l.db_limit, l.sessions), (Some(5), None, 4));
        let l = ServerLimits::from_row(&row("true")).expect("reads");
        assert_eq!(l.role_limit, None);
    }
}
