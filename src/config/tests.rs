use std::time::Duration;

use super::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn load_env(env: &str) -> Config {
    let opts = LoadOptions {
        flags: vec![FlagOverride {
            key: "environment",
            value: Value::String(env.into()),
            flag: "--env",
        }],
        ..LoadOptions::default()
    };
    Config::load(&opts).expect("built-in profile loads")
}

fn load_file(
    text: &str,
    flags: Vec<FlagOverride>,
    env: &[(&str, &str)],
) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).expect("write");
    let opts = LoadOptions {
        file: Some(path.to_string_lossy().into_owned()),
        flags,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        lab: Vec::new(),
    };
    Config::load(&opts)
}

#[test]
fn staging_profile_holds_the_outage_numbers() {
    let c = load_env("staging");
    let s = &c.settings;
    assert!(s.cloud_sql);
    assert_eq!(s.timeouts.initialization, secs(75.0));
    assert_eq!(s.timeouts.connection, secs(35.0));
    assert_eq!(s.timeouts.pool, secs(45.0));
    assert_eq!(s.timeouts.health_check, secs(20.0));
    let min = s.minimums.expect("staging has minimums");
    assert_eq!(min.initialization, secs(35.0));
    assert_eq!(min.connection, secs(25.0));
    let v = s.vpc_connector.expect("staging has a connector");
    assert_eq!(v.throughput_baseline_gbps, 2.0);
    assert_eq!(v.throughput_max_gbps, 10.0);
    assert_eq!(v.scaling_delay, secs(30.0));
    assert_eq!(v.concurrent_connection_limit, 50);
    assert_eq!(v.capacity_pressure_threshold, 0.7);
    assert!(v.monitoring);
    assert_eq!(s.pool.size, 10);
    assert_eq!(s.pool.max_overflow, 15);
    assert_eq!(s.pool.timeout, secs(90.0));
    assert_eq!(s.pool.reserved_for_scaling, 5);
    assert_eq!(s.pool.safety_margin, 0.8);
    assert_eq!(
        c.source("timeouts.initialization"),
        Source::Profile {
            env: "staging".into()
        }
    );
}

#[test]
fn production_is_at_least_staging_and_cloud_sql() {
    let st = load_env("staging").settings;
    let p = load_env("production").settings;
    assert!(p.cloud_sql);
    assert!(p.timeouts.initialization >= st.timeouts.initialization);
    assert!(p.timeouts.connection >= st.timeouts.connection);
    assert!(p.timeouts.pool >= st.timeouts.pool);
    assert!(p.timeouts.health_check >= st.timeouts.health_check);
}

#[test]
fn development_and_test_are_local_and_short() {
    for env in ["development", "test"] {
        let c = load_env(env);
        assert!(!c.settings.cloud_sql, "{env}");
        assert!(c.settings.vpc_connector.is_none(), "{env}");
        assert!(c.settings.timeouts.connection <= secs(5.0), "{env}");
        assert!(c.settings.minimums.is_none(), "{env}");
    }
}

#[test]
fn capacity_aware_timeout_adds_buffers_only_on_cloud_sql() {
    assert_eq!(load_env("staging").capacity_aware(secs(30.0)), secs(56.0));
    assert_eq!(load_env("staging").capacity_aware(secs(75.0)), secs(110.0));
    assert_eq!(
        load_env("production").capacity_aware(secs(30.0)),
        secs(56.0)
    );
    assert_eq!(
        load_env("development").capacity_aware(secs(30.0)),
        secs(30.0)
    );
    assert_eq!(load_env("test").capacity_aware(secs(30.0)), secs(30.0));
}

#[test]
fn staging_capacity_cap_is_35() {
    let cap = load_env("staging").capacity_cap();
    assert_eq!((cap.limit, cap.reserved, cap.cap), (50, 5, 35));
    assert_eq!(load_env("development").capacity_cap().cap, 16);
}

#[test]
fn default_environment_is_development() {
    let c = Config::load(&LoadOptions::default()).expect("loads");
    assert_eq!(c.settings.environment, "development");
    assert_eq!(c.source("environment"), Source::Default);
}

#[test]
fn precedence_is_flag_over_env_over_file_over_profile() {
    let file = "environment = \"staging\"\n[timeouts]\nconnection = \"40s\"\npool = \"50s\"\nhealth_check = \"21s\"\n";
    let c = load_file(file, vec![], &[]).expect("loads");
    assert_eq!(c.settings.timeouts.connection, secs(40.0));
    assert!(matches!(
        c.source("timeouts.connection"),
        Source::File { line: 3, .. }
    ));
    assert_eq!(
        c.settings.timeouts.initialization,
        secs(75.0),
        "profile value kept"
    );

    let env = [
        ("CONNSCOPE_TIMEOUTS__CONNECTION", "45s"),
        ("CONNSCOPE_TIMEOUTS__POOL", "55s"),
    ];
    let c = load_file(file, vec![], &env).expect("loads");
    assert_eq!(c.settings.timeouts.connection, secs(45.0));
    assert_eq!(c.settings.timeouts.pool, secs(55.0));
    assert_eq!(
        c.source("timeouts.pool"),
        Source::Env {
            var: "CONNSCOPE_TIMEOUTS__POOL".into()
        }
    );

    let flag = FlagOverride {
        key: "timeouts.connection",
        value: Value::String("50s".into()),
        flag: "--connect-timeout",
    };
    let c = load_file(file, vec![flag], &env).expect("loads");
    assert_eq!(c.settings.timeouts.connection, secs(50.0));
    assert_eq!(
        c.source("timeouts.connection"),
        Source::Flag {
            flag: "--connect-timeout".into()
        }
    );
    assert_eq!(
        c.settings.timeouts.health_check,
        secs(21.0),
        "file still beats profile"
    );
}

#[test]
fn environment_selection_precedence() {
    let file = "environment = \"staging\"\n";
    assert_eq!(
        load_file(file, vec![], &[])
            .expect("loads")
            .settings
            .environment,
        "staging"
    );
    let c = load_file(file, vec![], &[("CONNSCOPE_ENV", "production")]).expect("loads");
    assert_eq!(c.settings.environment, "production");
    let flag = FlagOverride {
        key: "environment",
        value: Value::String("test".into()),
        flag: "--env",
    };
    let c = load_file(file, vec![flag], &[("CONNSCOPE_ENV", "production")]).expect("loads");
    assert_eq!(c.settings.environment, "test");
    assert_eq!(
        c.settings.timeouts.connection,
        secs(3.0),
        "test profile applied"
    );
}

#[test]
fn database_url_from_env_and_flag() {
    let c = load_file("", vec![], &[("DATABASE_URL", "postgres://a@h1/d")]).expect("loads");
    assert_eq!(
        c.source("database.url"),
        Source::Env {
            var: "DATABASE_URL".into()
        }
    );
    assert_eq!(
        c.database.as_ref().map(|t| t.endpoint_label()),
        Some("h1:5432".into())
    );
    let flag = FlagOverride {
        key: "database.url",
        value: Value::String("postgres://a@h2/d".into()),
        flag: "--db-url",
    };
    let c = load_file("", vec![flag], &[("DATABASE_URL", "postgres://a@h1/d")]).expect("loads");
    assert_eq!(
        c.database.as_ref().map(|t| t.endpoint_label()),
        Some("h2:5432".into())
    );
}

/// The error as the person sees it: one line with its cause.
fn err(text: &str) -> String {
    crate::error::line(&load_file(text, vec![], &[]).expect_err("should fail"))
}

#[test]
fn unknown_key_is_located() {
    let e = err("[timeouts]\nconection = \"5s\"\n");
    assert!(
        e.contains("c.toml:2:1: timeouts.conection: unknown field `conection`"),
        "{e}"
    );
}

#[test]
fn unknown_top_level_section_is_located() {
    let e = err("environment = \"staging\"\n\n[databse]\nurl = \"x\"\n");
    assert!(
        e.contains("c.toml:3:2: databse: unknown field `databse`"),
        "{e}"
    );
}

#[test]
fn bad_duration_is_located_at_the_value() {
    let e = err("[timeouts]\nconnection = \"soon\"\n");
    assert!(
        e.contains("c.toml:2:14: timeouts.connection: invalid duration `soon`"),
        "{e}"
    );
}

#[test]
fn wrong_type_is_located() {
    let e = err("[database]\nattempts = \"five\"\n");
    assert!(e.contains("c.toml:2:12: database.attempts:"), "{e}");
}

#[test]
fn syntax_error_is_located() {
    let e = err("[timeouts\nconnection = 1\n");
    assert!(
        e.starts_with(&"".to_string()) && e.contains("c.toml:1:"),
        "{e}"
    );
    assert!(e.contains("TOML syntax error"), "{e}");
}

#[test]
fn out_of_range_values_are_located() {
    let e = err("[alerts]\ncritical_success_rate_below = 1.5\n");
    assert!(
        e.contains("c.toml:2:31: alerts.critical_success_rate_below: 1.5 is not a fraction"),
        "{e}"
    );
    let e = err("[database]\nattempts = 0\n");
    assert!(
        e.contains("c.toml:2:12: database.attempts: 0 is outside"),
        "{e}"
    );
}

#[test]
fn unknown_environment_is_located() {
    let e = err("environment = \"stagin\"\n");
    assert!(
        e.contains("c.toml:1:15: unknown environment `stagin`"),
        "{e}"
    );
}

#[test]
fn bad_endpoint_url_is_located() {
    let e = err("[[endpoints]]\nname = \"api\"\nurl = \"ftp://x\"\n");
    assert!(e.contains("c.toml:3:7: endpoints[0].url:"), "{e}");
    let e = err(
        "[[endpoints]]\nname = \"api\"\nurl = \"http://a\"\n[[endpoints]]\nname = \"api\"\nurl = \"http://b\"\n",
    );
    assert!(
        e.contains("c.toml:5:8: endpoints[1].name: duplicate endpoint name"),
        "{e}"
    );
}

#[test]
fn bad_regex_is_located() {
    let e = err("[startup.patterns]\nstarted = \"(unclosed\"\n");
    assert!(
        e.contains("c.toml:2:11: startup.patterns.started: invalid regular expression"),
        "{e}"
    );
}

#[test]
fn bad_database_url_is_located() {
    let e = err("[database]\nurl = \"mysql://x\"\n");
    assert!(e.contains("c.toml:2:7: database.url:"), "{e}");
}

#[test]
fn bad_env_override_names_the_variable() {
    let e =
        load_file("", vec![], &[("CONNSCOPE_TIMEOUTS__CONNECTION", "later")]).expect_err("fails");
    assert!(
        e.to_string()
            .starts_with("CONNSCOPE_TIMEOUTS__CONNECTION: timeouts.connection: invalid duration"),
        "{e}"
    );
    let e = load_file("", vec![], &[("CONNSCOPE_TIMEOUTS__NOPE", "1s")]).expect_err("fails");
    assert!(
        e.to_string()
            .starts_with("CONNSCOPE_TIMEOUTS__NOPE: timeouts.nope: unknown field"),
        "{e}"
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let opts = LoadOptions {
        file: Some("/nonexistent/connscope.toml".into()),
        ..LoadOptions::default()
    };
    let e = Config::load(&opts).expect_err("fails");
    let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
    assert_eq!(
        io.map(std::io::Error::kind),
        Some(std::io::ErrorKind::NotFound)
    );
    let e = crate::error::line(&e);
    assert!(
        e.starts_with("/nonexistent/connscope.toml: cannot read config file: "),
        "{e}"
    );
}

#[test]
fn findings_flag_timeouts_under_the_regression_minimum() {
    let c = load_file(
        "environment = \"staging\"\n[timeouts]\ninitialization = \"30s\"\nconnection = \"20s\"\n",
        vec![],
        &[],
    )
    .expect("valid, just unwise");
    let f = c.findings();
    let fails: Vec<_> = f
        .iter()
        .filter(|f| f.level == FindingLevel::Fail)
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(
        fails,
        vec!["timeouts.initialization", "timeouts.connection"]
    );
    assert!(
        f[0].message.contains("below the 35 s minimum"),
        "{}",
        f[0].message
    );
    assert!(
        load_env("staging")
            .findings()
            .iter()
            .all(|f| f.level != FindingLevel::Fail)
    );
}

#[test]
fn shipped_config_files_are_valid() {
    for name in ["connscope.toml", "staging.example.toml"] {
        let path = format!("{}/config/{name}", env!("CARGO_MANIFEST_DIR"));
        let opts = LoadOptions {
            file: Some(path.clone()),
            ..LoadOptions::default()
        };
        let c = Config::load(&opts).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            c.findings().iter().all(|f| f.level != FindingLevel::Fail),
            "{name}"
        );
    }
}
