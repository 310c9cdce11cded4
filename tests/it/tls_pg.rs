//! TLS against a real PostgreSQL with certificates the test makes, every case run through psql
//! (libpq) beside connscope on the same server with the same files: sslmode's fallbacks under
//! hostssl / hostnossl rules, the root certificate rules (sslrootcert, ~/.postgresql/root.crt,
//! require with a root file, a CRL), a self-signed server certificate as its own root, client
//! certificates, channel binding, and a fresh TLS handshake on every attempt.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::certs::{self, Ca};
use common::oracle::{Parity, home};
use common::pg::{PgOptions, ServerTls, TempPg};
use connscope::event::ErrorClass;

const T: Duration = Duration::from_secs(10);
const P: Parity = Parity { limit: T };

const HBA: &str = "local all all trust
host replication all 127.0.0.1/32 trust
hostssl all postgres 127.0.0.1/32 trust
hostnossl all plain 127.0.0.1/32 trust
hostssl all tlsonly 127.0.0.1/32 trust
hostssl all certuser 127.0.0.1/32 cert
hostssl all scram 127.0.0.1/32 scram-sha-256
host all app 127.0.0.1/32 trust
";

/// A server whose certificate (serial 7) names only `localhost`, signed by `ca`, which also
/// signs client certificates; roles for each pg_hba rule.
fn server(ca: &Ca) -> TempPg {
    let leaf = ca.leaf(&["localhost"], "localhost", 7);
    let pg = TempPg::start_with(PgOptions {
        tls: Some(ServerTls {
            cert: leaf.cert,
            key: leaf.key,
            ca: Some(ca.pem.clone()),
        }),
        hba: Some(HBA.into()),
        ..PgOptions::default()
    });
    for role in ["plain", "tlsonly", "certuser"] {
        pg.psql(&format!("CREATE ROLE {role} LOGIN"));
    }
    pg.psql("CREATE ROLE scram LOGIN PASSWORD 'scram-pw-4711'");
    pg
}

#[tokio::test]
async fn sslmode_fallbacks_follow_libpq_under_hostssl_and_hostnossl_rules() {
    common::init();
    let pg = server(&certs::ca("connscope test CA"));
    let h = home();
    let url = |role: &str, mode: &str| {
        format!("postgres://{role}@127.0.0.1:{}/app?sslmode={mode}", pg.port)
    };
    // hostnossl only: prefer falls back to a connection without TLS, as libpq does.
    let c = P.agree_ok(&url("plain", "prefer"), h.path(), &[]).await;
    assert_eq!(c.tries.len(), 2, "{:?}", c.tries);
    assert!(c.tries[0].tls && !c.tries[0].ok && !c.tries[1].tls && c.tries[1].ok);
    P.agree_ok(&url("plain", "allow"), h.path(), &[]).await;
    P.agree_ok(&url("plain", "disable"), h.path(), &[]).await;
    P.agree_fail(
        &url("plain", "require"),
        h.path(),
        &[],
        "no pg_hba.conf entry",
        ErrorClass::Auth,
        "no pg_hba.conf entry",
    )
    .await;
    // hostssl only: allow retries with TLS; disable cannot get in.
    let c = P.agree_ok(&url("tlsonly", "allow"), h.path(), &[]).await;
    assert!(
        c.tries.len() == 2 && !c.tries[0].tls && c.tries[1].tls,
        "{:?}",
        c.tries
    );
    P.agree_ok(&url("tlsonly", "prefer"), h.path(), &[]).await;
    P.agree_fail(
        &url("tlsonly", "disable"),
        h.path(),
        &[],
        "no pg_hba.conf entry",
        ErrorClass::Auth,
        "no pg_hba.conf entry",
    )
    .await;
    let c = P.agree_ok(&url("app", "prefer"), h.path(), &[]).await;
    assert!(
        c.steps.tls.is_some() && c.tries.is_empty(),
        "one TLS connection"
    );
}

#[tokio::test]
async fn root_certificate_rules_follow_libpq() {
    common::init();
    let ca = certs::ca("connscope test CA");
    let pg = server(&ca);
    let files = tempfile::tempdir().expect("files");
    let ca_file = certs::write(files.path(), "ca.crt", &ca.pem, 0o644);
    let other = certs::write(
        files.path(),
        "other.crt",
        &certs::ca("another CA").pem,
        0o644,
    );
    let p = pg.port;
    let root = |mode: &str, host: &str| {
        format!(
            "host={host} port={p} user=app dbname=app sslmode={mode} sslrootcert={}",
            ca_file.display()
        )
    };
    let empty = home();
    P.agree_ok(&root("verify-ca", "127.0.0.1"), empty.path(), &[])
        .await;
    P.agree_ok(&root("verify-full", "localhost"), empty.path(), &[])
        .await;
    // The DNS name and the Common Name are both examined for an IP address, as libpq does.
    let mismatch = "server certificate for \"localhost\" (and 1 other name) does not match host name \"127.0.0.1\"";
    P.agree_fail(
        &root("verify-full", "127.0.0.1"),
        empty.path(),
        &[],
        mismatch,
        ErrorClass::Tls,
        mismatch,
    )
    .await;
    // No root file anywhere: libpq's words, not an unknown issuer.
    let missing = format!(
        "root certificate file \"{}/.postgresql/root.crt\" does not exist",
        empty.path().display()
    );
    let plain =
        |mode: &str, host: &str| format!("host={host} port={p} user=app dbname=app sslmode={mode}");
    P.agree_fail(
        &plain("verify-ca", "127.0.0.1"),
        empty.path(),
        &[],
        &missing,
        ErrorClass::Tls,
        &missing,
    )
    .await;
    // ~/.postgresql/root.crt is the default root file.
    let with_root = home();
    certs::write(with_root.path(), ".postgresql/root.crt", &ca.pem, 0o644);
    P.agree_ok(&plain("verify-full", "localhost"), with_root.path(), &[])
        .await;
    // With a root file that does not sign the server, require verifies (as verify-ca) and
    // fails, while prefer falls back to a connection without TLS.
    let wrong_root = home();
    std::fs::create_dir_all(wrong_root.path().join(".postgresql")).expect("mkdir");
    std::fs::copy(&other, wrong_root.path().join(".postgresql/root.crt")).expect("copy");
    P.agree_fail(
        &plain("require", "127.0.0.1"),
        wrong_root.path(),
        &[],
        "certificate verify failed",
        ErrorClass::Tls,
        "certificate verify failed",
    )
    .await;
    let c = P
        .agree_ok(&plain("prefer", "127.0.0.1"), wrong_root.path(), &[])
        .await;
    assert!(c.tries.len() == 2 && !c.tries[1].tls, "{:?}", c.tries);
    // A CRL that revokes the server's certificate.
    let crl = certs::write(files.path(), "root.crl", &ca.crl(&[7]), 0o644);
    let revoked = format!(
        "{} sslcrl={}",
        root("verify-ca", "127.0.0.1"),
        crl.display()
    );
    P.agree_fail(
        &revoked,
        empty.path(),
        &[],
        "certificate verify failed",
        ErrorClass::Tls,
        "certificate verify failed: certificate revoked",
    )
    .await;
    let clean = certs::write(files.path(), "clean.crl", &ca.crl(&[99]), 0o644);
    P.agree_ok(
        &format!(
            "{} sslcrl={}",
            root("verify-ca", "127.0.0.1"),
            clean.display()
        ),
        empty.path(),
        &[],
    )
    .await;
}

#[tokio::test]
async fn a_self_signed_server_certificate_is_its_own_root() {
    common::init();
    let files = tempfile::tempdir().expect("files");
    let leaf = certs::openssl_self_signed(files.path(), "localhost");
    let root = certs::write(files.path(), "root.crt", &leaf.cert, 0o644);
    let pg = TempPg::start_with(PgOptions {
        tls: Some(ServerTls {
            cert: leaf.cert,
            key: leaf.key,
            ca: None,
        }),
        ..PgOptions::default()
    });
    let h = home();
    let s = |mode: &str, host: &str| {
        format!(
            "host={host} port={} user=app dbname=app sslmode={mode} sslrootcert={}",
            pg.port,
            root.display()
        )
    };
    P.agree_ok(&s("verify-ca", "127.0.0.1"), h.path(), &[])
        .await;
    P.agree_ok(&s("verify-full", "localhost"), h.path(), &[])
        .await;
    let mismatch = "server certificate for \"localhost\" does not match host name \"127.0.0.1\"";
    P.agree_fail(
        &s("verify-full", "127.0.0.1"),
        h.path(),
        &[],
        mismatch,
        ErrorClass::Tls,
        mismatch,
    )
    .await;
    P.agree_ok(&s("require", "127.0.0.1"), h.path(), &[]).await;
}

#[tokio::test]
async fn client_certificates_follow_libpq() {
    common::init();
    let ca = certs::ca("connscope test CA");
    let pg = server(&ca);
    let files = tempfile::tempdir().expect("files");
    let mine = ca.leaf(&[], "certuser", 20);
    let crt = certs::write(files.path(), "c.crt", &mine.cert, 0o644);
    let key = certs::write(files.path(), "c.key", &mine.key, 0o600);
    let url = |extra: &str| {
        format!(
            "host=127.0.0.1 port={} user=certuser dbname=app sslmode=require {extra}",
            pg.port
        )
    };
    let h = home();
    P.agree_ok(
        &url(&format!(
            "sslcert={} sslkey={}",
            crt.display(),
            key.display()
        )),
        h.path(),
        &[],
    )
    .await;
    P.agree_fail(
        &url(""),
        h.path(),
        &[],
        "connection requires a valid client certificate",
        ErrorClass::Auth,
        "connection requires a valid client certificate",
    )
    .await;
    // The defaults: ~/.postgresql/postgresql.crt and .key.
    let with_cert = home();
    certs::write(
        with_cert.path(),
        ".postgresql/postgresql.crt",
        &mine.cert,
        0o644,
    );
    certs::write(
        with_cert.path(),
        ".postgresql/postgresql.key",
        &mine.key,
        0o600,
    );
    P.agree_ok(&url(""), with_cert.path(), &[]).await;
    let leaky = certs::write(files.path(), "leaky.key", &mine.key, 0o644);
    let open_key = "has group or world access";
    P.agree_fail(
        &url(&format!(
            "sslcert={} sslkey={}",
            crt.display(),
            leaky.display()
        )),
        h.path(),
        &[],
        open_key,
        ErrorClass::Tls,
        open_key,
    )
    .await;
    let someone_else = ca.leaf(&[], "app", 21);
    let crt2 = certs::write(files.path(), "o.crt", &someone_else.cert, 0o644);
    let key2 = certs::write(files.path(), "o.key", &someone_else.key, 0o600);
    P.agree_fail(
        &url(&format!(
            "sslcert={} sslkey={}",
            crt2.display(),
            key2.display()
        )),
        h.path(),
        &[],
        "certificate authentication failed",
        ErrorClass::Auth,
        "certificate authentication failed",
    )
    .await;
}

#[tokio::test]
async fn channel_binding_is_required_and_given_over_tls() {
    common::init();
    let pg = server(&certs::ca("connscope test CA"));
    let h = home();
    let pw = [("PGPASSWORD", "scram-pw-4711")];
    let url = |cb: &str| {
        format!(
            "host=127.0.0.1 port={} user=scram dbname=app sslmode=require channel_binding={cb}",
            pg.port
        )
    };
    P.agree_ok(&url("require"), h.path(), &pw).await;
    P.agree_ok(&url("disable"), h.path(), &pw).await;
    // Trust authentication never binds the channel: require cannot be satisfied.
    let trusted = format!(
        "host=127.0.0.1 port={} user=app dbname=app sslmode=require channel_binding=require",
        pg.port
    );
    P.agree_fail(
        &trusted,
        h.path(),
        &[],
        "channel binding required",
        ErrorClass::Auth,
        "channel binding required, but server authenticated client without channel binding",
    )
    .await;
}

/// Through a path that adds 25 ms each way, a TLS 1.3 handshake with PostgreSQL's
/// HelloRetryRequest costs three round trips after the SSLRequest's (SSLRequest, ClientHello →
/// HelloRetryRequest, ClientHello → ServerHello…Finished): ≥ 150 ms on every attempt. A client
/// that remembered the server's key-exchange group would pay one round trip less from the
/// second attempt on.
#[tokio::test]
async fn every_attempt_pays_a_fresh_tls_handshake() {
    common::init();
    let pg = server(&certs::ca("connscope test CA"));
    let proxy = connscope::lab::proxy::Proxy::start(
        ([127, 0, 0, 1], pg.port).into(),
        connscope::lab::proxy::Faults {
            latency: Duration::from_millis(25),
            ..Default::default()
        },
    )
    .await
    .expect("proxy");
    let url = format!(
        "postgres://app@127.0.0.1:{}/app?sslmode=require",
        proxy.addr().port()
    );
    let t = common::target(&url);
    let cp = connscope::probe::conn::connect::ConnectParams::new(&t, T, T).expect("params");
    for i in 0..3 {
        let a = connscope::probe::conn::connect::attempt(&t, &cp).await;
        let s = a.result.unwrap_or_else(|e| panic!("attempt {i}: {e:?}"));
        s.close().await;
        let tls = a.steps.tls.expect("tls timed");
        assert!(
            tls >= 150.0,
            "attempt {i}: tls {tls} ms is under three round trips"
        );
    }
    proxy.shutdown().await;
}

/// `sslrootcert=system` (libpq 16; psql 15 here predates it): the system's roots — as OpenSSL
/// finds them, `SSL_CERT_FILE` included — and verify-full, through the real binary.
#[test]
fn sslrootcert_system_uses_the_system_roots_with_verify_full() {
    let ca = certs::ca("connscope test CA");
    let pg = server(&ca);
    let files = tempfile::tempdir().expect("files");
    let ours = certs::write(files.path(), "ca.crt", &ca.pem, 0o644);
    let theirs = certs::write(
        files.path(),
        "other.crt",
        &certs::ca("another CA").pem,
        0o644,
    );
    let run = |host: &str, roots: &Path| {
        let url = format!(
            "host={host} port={} user=app dbname=app sslrootcert=system",
            pg.port
        );
        let roots = roots.to_str().expect("a UTF-8 path");
        let run = common::fault_bin::check_db(&url, &[("SSL_CERT_FILE", roots)]);
        let v = run.json();
        v["database"]["attempts"][0].clone()
    };
    let a = run("localhost", &ours);
    assert_eq!(a["ok"], true, "{a:#}");
    let a = run("localhost", &theirs);
    assert_eq!(a["error"]["class"], "tls", "{a:#}");
    assert!(
        a["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unable to get local issuer certificate")),
        "{a:#}"
    );
    let a = run("127.0.0.1", &ours);
    assert!(
        a["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not match host name")),
        "verify-full is implied: {a:#}"
    );
}
