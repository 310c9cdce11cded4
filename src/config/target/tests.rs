use super::*;

fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn resolve_with(url: Option<&str>, e: &EnvSnapshot) -> Result<Option<DbTarget>, TargetError> {
    resolve(&Resolve {
        url,
        config_password: None,
        application_name: "connscope",
        env: e,
    })
}

fn ok(url: &str) -> DbTarget {
    resolve_with(Some(url), &env(&[]))
        .expect("valid")
        .expect("configured")
}

fn bad(url: &str) -> TargetError {
    resolve_with(Some(url), &env(&[])).expect_err("refused")
}

#[test]
fn url_parts_are_read_and_decoded() {
    let t = ok("postgres://app:p%40ss@10.1.2.3:6543/app_db?sslmode=require");
    assert_eq!(t.host, DbHost::Tcp("10.1.2.3".into()));
    assert_eq!(t.port, 6543);
    assert_eq!(t.user, "app");
    assert_eq!(t.password.as_ref().map(Secret::expose), Some("p@ss"));
    assert_eq!(t.dbname, "app_db");
    assert_eq!(t.sslmode, SslMode::Require);
    assert_eq!(
        t.redacted(),
        "postgres://app:***@10.1.2.3:6543/app_db?sslmode=require"
    );
}

#[test]
fn cloud_sql_socket_directory_in_the_host_parameter() {
    let t = ok("postgres://app@/app?host=/cloudsql/proj:us-central1:pg");
    assert_eq!(t.host, DbHost::Unix("/cloudsql/proj:us-central1:pg".into()));
    assert!(t.is_cloud_sql_socket());
    assert_eq!(
        t.redacted(),
        "postgres://app@/app?host=/cloudsql/proj:us-central1:pg"
    );
}

#[test]
fn environment_fills_what_the_url_leaves_out() {
    let e = env(&[
        ("PGHOST", "db.internal"),
        ("PGUSER", "svc"),
        ("PGPASSWORD", "envpw-1234"),
        ("PGPORT", "5433"),
        ("PGCONNECT_TIMEOUT", "7"),
        ("PGTARGETSESSIONATTRS", "read-write"),
    ]);
    let t = resolve_with(Some("postgres:///orders"), &e)
        .expect("valid")
        .expect("configured");
    assert_eq!(t.host, DbHost::Tcp("db.internal".into()));
    assert_eq!(t.port, 5433);
    assert_eq!(t.user, "svc");
    assert_eq!(t.dbname, "orders");
    assert_eq!(t.origin["password"], "PGPASSWORD");
    assert_eq!(t.origin["host"], "PGHOST");
    assert_eq!(t.connect_timeout, Some(Duration::from_secs(7)));
    assert_eq!(t.target_session_attrs, TargetSessionAttrs::ReadWrite);
}

#[test]
fn nothing_configured_means_no_target() {
    assert!(
        resolve_with(None, &env(&[("USER", "me")]))
            .expect("valid")
            .is_none()
    );
    assert!(
        resolve_with(None, &env(&[("PGHOST", "/tmp")]))
            .expect("valid")
            .is_some()
    );
}

#[test]
fn keyvalue_form_with_quotes() {
    let t = ok("host=h1 port=5 user='a b' dbname=d sslmode=disable");
    assert_eq!(t.user, "a b");
    assert_eq!(t.port, 5);
    assert_eq!(t.sslmode, SslMode::Disable);
}

/// The service's own DATABASE_URL, as SQLAlchemy or JDBC holds it, is the URL to copy.
#[test]
fn sqlalchemy_and_jdbc_urls_are_libpq_urls_behind_their_scheme() {
    for url in [
        "postgresql+asyncpg://app:pw@10.1.2.3:6543/app_db",
        "postgresql+psycopg2://app:pw@10.1.2.3:6543/app_db",
        "postgresql+psycopg://app:pw@10.1.2.3:6543/app_db",
        "jdbc:postgresql://10.1.2.3:6543/app_db?user=app&password=pw",
    ] {
        let t = ok(url);
        assert_eq!(t.host, DbHost::Tcp("10.1.2.3".into()), "{url}");
        assert_eq!((t.port, t.user.as_str()), (6543, "app"), "{url}");
        assert_eq!(t.dbname, "app_db", "{url}");
        assert_eq!(t.password.as_ref().map(Secret::expose), Some("pw"), "{url}");
    }
    let e = bad("postgresql+asyncpg://app@h/d?ssl=require");
    assert!(e.to_string().contains("`ssl`"), "{e}");
    assert_eq!(e.at, Some(34));
    for not_pg in [
        "mysql+pymysql://h/d",
        "postgresql+://h/d",
        "postgresql+a-b://h/d",
    ] {
        assert!(bad(not_pg).to_string().contains("postgres://"), "{not_pg}");
    }
}

#[test]
fn bad_strings_say_what_is_wrong_and_where() {
    assert!(bad("mysql://x").to_string().contains("postgres://"));
    let e = bad("postgres://h:99999/d");
    assert!(e.to_string().contains("invalid port"), "{e}");
    assert_eq!(e.at, Some(14));
    assert!(
        bad("postgres://h/d?sslmode=maybe")
            .to_string()
            .contains("sslmode")
    );
    let e = bad("postgres://h/d?frobnicate=1");
    assert!(e.to_string().contains("`frobnicate`"), "{e}");
    assert_eq!(e.at, Some(27));
}

#[test]
fn a_password_with_an_unencoded_at_or_slash_is_never_shown() {
    for url in [
        "postgres://app:s3cr@t-pw@db.example.com/app",
        "postgres://app:s3cr/t-pw@db.example.com/app",
        "postgres://app:s3cr%zt-pw@db.example.com/app",
    ] {
        let e = bad(url);
        let text = e.to_string();
        assert!(e.at.is_some(), "{url}: {text}");
        for part in ["s3cr", "t-pw", "%zt"] {
            assert!(!text.contains(part), "{url}: {text}");
        }
    }
}

#[test]
fn host_lists_pair_with_port_lists() {
    let t = ok("host=a,b,/tmp/s port=1,2,3 dbname=d user=u");
    let got: Vec<String> = t.hosts.iter().map(HostSpec::label).collect();
    assert_eq!(got, ["a:1", "b:2", "/tmp/s"]);
    assert_eq!(t.hosts[2].port, 3);
    let t = ok("postgres://u@a:1,b/d");
    assert_eq!((t.hosts[0].port, t.hosts[1].port), (1, 5432));
    let t = ok("host=a,b port=7");
    assert_eq!((t.hosts[0].port, t.hosts[1].port), (7, 7));
    let e = bad("host=a,b,c port=1,2");
    assert!(
        e.to_string()
            .contains("could not match 2 port numbers to 3 hosts"),
        "{e}"
    );
    let t = ok("host=db.example.com hostaddr=127.0.0.1 port=6");
    assert_eq!(t.hosts[0].hostaddr, Some([127, 0, 0, 1].into()));
    assert_eq!(t.hosts[0].label(), "db.example.com:6");
}

#[test]
fn connect_timeout_is_libpqs_whole_seconds_with_a_two_second_floor() {
    assert_eq!(
        ok("host=h connect_timeout=1").connect_timeout,
        Some(Duration::from_secs(2))
    );
    assert_eq!(
        ok("host=h connect_timeout=10").connect_timeout,
        Some(Duration::from_secs(10))
    );
    assert_eq!(ok("host=h connect_timeout=0").connect_timeout, None);
    assert_eq!(ok("host=h connect_timeout=-3").connect_timeout, None);
    let e = bad("host=h connect_timeout=2s");
    assert!(e.to_string().contains("connect_timeout"), "{e}");
}

#[test]
fn unsupported_parameters_are_refused_by_name() {
    for (url, name) in [
        ("host=h sslpassword=x", "sslpassword"),
        ("host=h service=prod", "service"),
        ("host=h gssencmode=require", "gssencmode"),
        ("host=h client_encoding=LATIN1", "client_encoding"),
        (
            "host=h ssl_min_protocol_version=TLSv1",
            "ssl_min_protocol_version",
        ),
        ("host=h load_balance_hosts=random", "load_balance_hosts"),
        ("postgres://h/d?requirepeer=postgres", "requirepeer"),
    ] {
        let e = bad(url);
        assert!(e.to_string().contains(name), "{url}: {e}");
    }
    let e = resolve_with(Some("host=h"), &env(&[("PGSERVICE", "prod")])).expect_err("refused");
    assert_eq!(e.var.as_deref(), Some("PGSERVICE"));
    for accepted in [
        "host=h gssencmode=disable client_encoding=UTF8 sslcompression=0",
        "host=h keepalives=1 keepalives_idle=30 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=9000",
        "host=h channel_binding=require target_session_attrs=prefer-standby options='-c work_mem=4MB'",
        "host=h sslcert=/c sslkey=/k sslcrl=/r sslsni=0 ssl_min_protocol_version=TLSv1.3",
    ] {
        ok(accepted);
    }
}

#[test]
fn sslrootcert_system_means_verify_full() {
    let t = ok("host=h sslrootcert=system");
    assert_eq!(
        (t.sslmode, &t.tls.rootcert),
        (SslMode::VerifyFull, &RootCert::System)
    );
    let e = bad("host=h sslrootcert=system sslmode=require");
    assert!(e.to_string().contains("weak sslmode"), "{e}");
}

#[test]
fn application_name_follows_libpqs_order() {
    assert_eq!(ok("host=h").application_name, "connscope");
    assert_eq!(
        ok("host=h fallback_application_name=fb").application_name,
        "fb"
    );
    assert_eq!(
        ok("host=h application_name=app fallback_application_name=fb").application_name,
        "app"
    );
    let t = resolve_with(Some("host=h"), &env(&[("PGAPPNAME", "envapp")]))
        .expect("valid")
        .expect("configured");
    assert_eq!(t.application_name, "envapp");
}

fn private_file(dir: &Path, text: &str, mode: u32) -> PathBuf {
    let file = dir.join("pgpass");
    std::fs::write(&file, text).expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).expect("chmod");
    file
}

#[test]
fn the_password_file_is_read_per_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = private_file(
        dir.path(),
        "# comment\nh1:5432:*:app:pa\\:ss-word\nh2:*:*:*:other-pw\n",
        0o600,
    );
    let e = env(&[("PGPASSFILE", file.to_str().expect("utf8"))]);
    let t = resolve_with(Some("postgres://app@h1,h2/app"), &e)
        .expect("valid")
        .expect("configured");
    assert_eq!(t.password.as_ref().map(Secret::expose), Some("pa:ss-word"));
    assert_eq!(
        t.hosts[1].password.as_ref().map(Secret::expose),
        Some("other-pw")
    );
    assert_eq!(t.origin["password"], file.display().to_string());
    let t = ok(&format!("host=h3 user=app passfile={}", file.display()));
    assert!(t.password.is_none());
    assert!(
        t.password_note
            .as_deref()
            .is_some_and(|n| n.contains("no line for h3"))
    );
}

#[test]
fn world_readable_pgpass_is_ignored_and_said_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = private_file(dir.path(), "*:*:*:*:leaky-pw\n", 0o644);
    let e = env(&[("PGPASSFILE", file.to_str().expect("utf8"))]);
    let t = resolve_with(Some("postgres://app@h1/app"), &e)
        .expect("valid")
        .expect("configured");
    assert!(t.password.is_none());
    let note = t.password_note.unwrap_or_default();
    assert!(note.contains("group or world access"), "{note}");
}
