//! Error → class. Server errors are classified by SQLSTATE (the wording changes between
//! Postgres versions); client-side failures, which carry no SQLSTATE, by `io::ErrorKind` and
//! OS error number. Every probe kind (database, HTTP, WebSocket) uses the same words.

use std::io;

use crate::event::{ErrorClass, Failure, Step};

/// Linux errno values that mean "no route": EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN.
const UNREACHABLE_ERRNO: [i32; 4] = [113, 101, 112, 100];

/// The class of an operating-system level failure while connecting or talking.
pub(crate) fn io_class(e: &io::Error) -> ErrorClass {
    if let Some(code) = e.raw_os_error()
        && UNREACHABLE_ERRNO.contains(&code)
    {
        return ErrorClass::Unreachable;
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ErrorClass::Refused,
        // A unix socket path with nothing behind it: the local equivalent of a refused port.
        io::ErrorKind::NotFound => ErrorClass::Refused,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ErrorClass::Timeout,
        io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::NetworkDown => ErrorClass::Unreachable,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::InvalidData => ErrorClass::Protocol,
        _ => ErrorClass::Other,
    }
}

/// The class of a Postgres server error, by SQLSTATE — and for 57P03, which covers four states
/// PostgreSQL tells apart only in words, by its message and DETAIL.
pub(crate) fn sqlstate_class(code: &str, message: &str, detail: Option<&str>) -> ErrorClass {
    match code {
        "53300" => ErrorClass::TooManyConnections,
        "57P03" => cannot_connect_now(message, detail),
        "57P01" | "57P02" => ErrorClass::ShuttingDown,
        "3D000" => ErrorClass::DatabaseMissing,
        "28P01" | "28000" => ErrorClass::Auth,
        c if c.starts_with("08") => ErrorClass::Protocol,
        _ => ErrorClass::Other,
    }
}

/// 57P03: "shutting down"; "not accepting connections" / DETAIL "Hot standby mode is
/// disabled" (a standby that never will); "starting up", "not yet accepting connections"
/// (recovery has not reached consistency) and "in recovery mode" (crash recovery) are all the
/// server coming up.
fn cannot_connect_now(message: &str, detail: Option<&str>) -> ErrorClass {
    if message.contains("shutting down") {
        ErrorClass::ShuttingDown
    } else if message.contains("is not accepting connections")
        || detail.is_some_and(|d| d.contains("Hot standby mode is disabled"))
    {
        ErrorClass::NotAccepting
    } else {
        ErrorClass::StartingUp
    }
}

/// An OS error as a `Failure`, message kept (and scrubbed of secrets).
pub(crate) fn io_failure(step: Step, e: &io::Error) -> Failure {
    failure(io_class(e), step, None, e.to_string())
}

/// A deadline hit at `step`.
pub(crate) fn timeout(step: Step, limit: std::time::Duration) -> Failure {
    let what = match step {
        Step::Dns => "name resolution",
        Step::Tcp | Step::Connect => "TCP connection",
        Step::Tls => "TLS handshake",
        Step::Handshake => "startup and authentication",
        Step::Query => "answer to SELECT 1",
        Step::FirstByte => "response headers",
        Step::Body => "response body",
        Step::Reply => "reply",
        Step::Acquire => "connection from the pool",
    };
    failure(
        ErrorClass::Timeout,
        step,
        None,
        format!(
            "no {what} within {}",
            crate::config::duration::format(limit)
        ),
    )
}

/// A sqlx error (the pool probe) as a `Failure` at `step`: the pool giving up is a timeout at
/// `acquire` — sqlx retried 53300 / 57P03 / refused connects quietly until then, so the cause
/// is not in it; a server error by SQLSTATE (57P03 by its words, as above), an OS error by its
/// kind, TLS and protocol failures as such.
pub(crate) fn sqlx_failure(
    step: Step,
    e: &sqlx::Error,
    acquire_timeout: std::time::Duration,
) -> Failure {
    use sqlx::Error as E;
    match e {
        E::PoolTimedOut => timeout(Step::Acquire, acquire_timeout),
        E::Database(db) => {
            let code = db.code().map(|c| c.into_owned());
            let detail = db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .and_then(|pg| pg.detail());
            let class = code.as_deref().map_or(ErrorClass::Other, |c| {
                sqlstate_class(c, db.message(), detail)
            });
            let message = match detail {
                Some(d) => format!("{} — DETAIL: {d}", db.message()),
                None => db.message().to_string(),
            };
            failure(class, step, code, message)
        }
        E::Io(io) => io_failure(step, io),
        E::Tls(t) => failure(ErrorClass::Tls, Step::Tls, None, t.to_string()),
        E::Protocol(m) => failure(ErrorClass::Protocol, step, None, m),
        other => failure(ErrorClass::Other, step, None, other.to_string()),
    }
}

pub(crate) fn failure(
    class: ErrorClass,
    step: Step,
    sqlstate: Option<String>,
    message: impl AsRef<str>,
) -> Failure {
    Failure {
        class,
        step: Some(step),
        sqlstate,
        message: crate::secret::scrub(message.as_ref()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_classes() {
        assert_eq!(
            sqlstate_class("53300", "sorry, too many clients already", None),
            ErrorClass::TooManyConnections
        );
        assert_eq!(
            sqlstate_class("53300", "remaining connection slots are reserved", None),
            ErrorClass::TooManyConnections
        );
        assert_eq!(
            sqlstate_class("57P03", "the database system is starting up", None),
            ErrorClass::StartingUp
        );
        assert_eq!(
            sqlstate_class("57P03", "the database system is shutting down", None),
            ErrorClass::ShuttingDown
        );
        assert_eq!(
            sqlstate_class("3D000", "database \"x\" does not exist", None),
            ErrorClass::DatabaseMissing
        );
        assert_eq!(
            sqlstate_class("28P01", "password authentication failed", None),
            ErrorClass::Auth
        );
        assert_eq!(
            sqlstate_class("28000", "no pg_hba.conf entry", None),
            ErrorClass::Auth
        );
        assert_eq!(
            sqlstate_class("08P01", "invalid startup packet", None),
            ErrorClass::Protocol
        );
        assert_eq!(sqlstate_class("XX000", "internal", None), ErrorClass::Other);
    }

    #[test]
    fn the_four_57p03_states_are_told_apart() {
        let c = |m, d| sqlstate_class("57P03", m, d);
        assert_eq!(
            c(
                "the database system is not accepting connections",
                Some("Hot standby mode is disabled.")
            ),
            ErrorClass::NotAccepting
        );
        assert_eq!(
            c(
                "the database system is not yet accepting connections",
                Some("Consistent recovery state has not been yet reached.")
            ),
            ErrorClass::StartingUp
        );
        assert_eq!(
            c("the database system is in recovery mode", None),
            ErrorClass::StartingUp
        );
        assert_eq!(
            c("the database system is shutting down", None),
            ErrorClass::ShuttingDown
        );
    }

    #[test]
    fn sqlx_errors_map_to_the_same_classes() {
        let t = std::time::Duration::from_secs(45);
        let f = sqlx_failure(Step::Acquire, &sqlx::Error::PoolTimedOut, t);
        assert_eq!(
            (f.class, f.step),
            (ErrorClass::Timeout, Some(Step::Acquire))
        );
        assert_eq!(f.message, "no connection from the pool within 45s");
        let io = sqlx::Error::Io(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(
            sqlx_failure(Step::Acquire, &io, t).class,
            ErrorClass::Refused
        );
        let tls = sqlx::Error::Tls("unknown issuer".into());
        let f = sqlx_failure(Step::Acquire, &tls, t);
        assert_eq!((f.class, f.step), (ErrorClass::Tls, Some(Step::Tls)));
        let p = sqlx::Error::Protocol("unexpected message".into());
        assert_eq!(sqlx_failure(Step::Query, &p, t).class, ErrorClass::Protocol);
        assert_eq!(
            sqlx_failure(Step::Acquire, &sqlx::Error::PoolClosed, t).class,
            ErrorClass::Other
        );
    }

    #[test]
    fn os_errors_map_to_classes() {
        assert_eq!(
            io_class(&io::Error::from(io::ErrorKind::ConnectionRefused)),
            ErrorClass::Refused
        );
        assert_eq!(
            io_class(&io::Error::from_raw_os_error(113)),
            ErrorClass::Unreachable
        );
        assert_eq!(
            io_class(&io::Error::from_raw_os_error(101)),
            ErrorClass::Unreachable
        );
        assert_eq!(
            io_class(&io::Error::from(io::ErrorKind::TimedOut)),
            ErrorClass::Timeout
        );
        assert_eq!(
            io_class(&io::Error::from(io::ErrorKind::ConnectionReset)),
            ErrorClass::Protocol
        );
        assert_eq!(
            io_class(&io::Error::from(io::ErrorKind::PermissionDenied)),
            ErrorClass::Other
        );
    }
}
