//! Name resolution and TLS roots shared by every probe (database, HTTP, WebSocket), so all of
//! them resolve names the same way and trust the same roots.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;

/// RFC 6761 §6.4: names under `.invalid` never resolve. Answering that locally keeps a
/// misconfigured (or deliberately invalid) host from sending a DNS query off the machine.
fn is_reserved_invalid(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "invalid" || h.ends_with(".invalid")
}

/// Resolves `host` with the system resolver (getaddrinfo, as libpq and curl do). An IP literal
/// comes back as itself without a lookup. `port` is only copied into the addresses.
pub(crate) async fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if is_reserved_invalid(host) {
        return Err(io::Error::other(format!(
            "{host}: names under .invalid never resolve (RFC 6761)"
        )));
    }
    // IPv6 literals arrive bracketed from URLs; getaddrinfo wants them bare.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port)).await?.collect();
    if addrs.is_empty() {
        return Err(io::Error::other(format!("{host}: no addresses")));
    }
    Ok(addrs)
}

/// libpq's keepalive settings on a TCP connection (it turns keepalives on by default). Best
/// effort: a platform without one of the options keeps its default.
pub(crate) fn keepalives(s: &tokio::net::TcpStream, k: &crate::config::target::Keepalives) {
    let sock = socket2::SockRef::from(s);
    if !k.enabled {
        let _ = sock.set_keepalive(false);
        return;
    }
    let _ = sock.set_keepalive(true);
    let mut ka = socket2::TcpKeepalive::new();
    if let Some(idle) = k.idle {
        ka = ka.with_time(idle);
    }
    if let Some(interval) = k.interval {
        ka = ka.with_interval(interval);
    }
    if let Some(count) = k.count {
        ka = ka.with_retries(count);
    }
    if k.idle.is_some() || k.interval.is_some() || k.count.is_some() {
        let _ = sock.set_tcp_keepalive(&ka);
    }
    if let Some(t) = k.user_timeout {
        let _ = sock.set_tcp_user_timeout(Some(t));
    }
}

/// One TLS client configuration for the whole process: ring as the provider (the build has no
/// other) and the webpki (Mozilla) roots, the same roots the database probe trusts. Built once
/// so that loading roots is never counted in a probe's TLS time.
pub(crate) fn tls_config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|e| format!("TLS client setup failed: {e}"))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_names_are_recognised() {
        assert!(is_reserved_invalid("backend.invalid"));
        assert!(is_reserved_invalid("Backend.INVALID."));
        assert!(is_reserved_invalid("invalid"));
        assert!(!is_reserved_invalid("invalid.example.com"));
        assert!(!is_reserved_invalid("127.0.0.1"));
    }

    #[tokio::test]
    async fn invalid_names_fail_without_a_query_and_literals_need_none() {
        let e = lookup("x.invalid", 80).await.err();
        assert!(e.is_some_and(|e| e.to_string().contains("RFC 6761")));
        let a = lookup("127.0.0.1", 8080).await.ok();
        assert_eq!(a, Some(vec!["127.0.0.1:8080".parse().expect("addr")]));
        let a6 = lookup("[::1]", 9).await.ok();
        assert_eq!(a6, Some(vec!["[::1]:9".parse().expect("addr")]));
    }
}
