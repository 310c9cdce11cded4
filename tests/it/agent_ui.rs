//! Agents attached to the real dashboard in a pseudo-terminal: two vantage points — one
//! through the lab's black-holing proxy, one direct to the same PostgreSQL — side by side with
//! the diagnosis naming the connector path; an agent killed and restarted under the
//! dashboard, shown lost and then live again.

use std::net::SocketAddr;
use std::time::Duration;

use connscope::lab::proxy::{Faults, Proxy};

use crate::common::agent::Agent;
use crate::common::dashboard::spawn_at;
use crate::common::pg::{TempPg, free_port};

const LIMIT: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn two_agents_side_by_side_name_the_connector_path_and_are_recorded() {
    let pg = TempPg::start();
    let rt = runtime();
    let upstream: SocketAddr = format!("127.0.0.1:{}", pg.port).parse().expect("addr");
    let hole = Faults {
        black_hole: true,
        ..Faults::default()
    };
    let proxy = rt.block_on(Proxy::start(upstream, hole)).expect("proxy");
    let via = format!(
        "postgres://postgres@{}/postgres?sslmode=disable",
        proxy.addr()
    );
    let direct = pg.url("postgres", "postgres");
    let quick = [
        "--only",
        "db",
        "--interval",
        "300ms",
        "--connect-timeout",
        "1s",
    ];
    let vpc = Agent::start(&[&["--db-url", via.as_str()][..], &quick].concat(), &[]);
    let bastion = Agent::start(&[&["--db-url", direct.as_str()][..], &quick].concat(), &[]);
    let dir = tempfile::tempdir().expect("dir");
    let rec = dir.path().join("attached.jsonl");
    let (a, b) = (
        format!("vpc={}", vpc.url()),
        format!("bastion={}", bastion.url()),
    );
    let rec_s = rec.to_string_lossy();
    let args = ["watch", "--agent", &a, "--agent", &b, "--record", &rec_s];
    let mut p = spawn_at(&args, &[], 170, 50);
    let s = p.expect_text("The path from vpc is at fault — the connector path", LIMIT);
    assert!(
        s.contains("▌vpc live ✗") && s.contains("▌bastion live ✓"),
        "{s}"
    );
    assert!(
        s.contains("vantages: vpc, bastion"),
        "the header names both:\n{s}"
    );
    assert!(s.contains("bastion connections succeed in"), "{s}");
    // One at a time: `v` shows vpc alone, then bastion alone.
    p.key('v');
    p.wait_for(LIMIT, |s| s.contains("▌vpc") && !s.contains("▌bastion"))
        .unwrap_or_else(|s| panic!("v did not show vpc alone:\n{s}"));
    p.key('v');
    p.wait_for(LIMIT, |s| s.contains("▌bastion") && !s.contains("▌vpc"))
        .unwrap_or_else(|s| panic!("v did not show bastion alone:\n{s}"));
    p.key('q');
    assert!(p.wait_exit(Duration::from_secs(15)).is_some(), "q quits");
    // The recording holds every vantage: its report judges both and compares them.
    let out = crate::common::agent::command(&["report", &rec_s, "--format", "json"], &[])
        .output()
        .expect("report runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&str> = report["vantages"]
        .as_array()
        .map(|v| v.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["vpc", "bastion"], "{report}");
    assert!(
        report["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x["rule"] == "vantage_path")),
        "{report}"
    );
    // And replay shows both vantages again, from the recording alone.
    let mut r = spawn_at(&["replay", &rec_s, "--speed", "50"], &[], 170, 50);
    let s = r.expect_text("The path from vpc is at fault", LIMIT);
    assert!(
        s.contains("▌vpc") && s.contains("▌bastion") && s.contains("REPLAY"),
        "{s}"
    );
    r.key('q');
    assert!(
        r.wait_exit(Duration::from_secs(15)).is_some(),
        "q quits the replay"
    );
    rt.block_on(proxy.shutdown());
}

#[test]
fn an_agent_killed_and_restarted_under_the_dashboard_is_lost_then_live_again() {
    let pg = TempPg::start();
    let url = pg.url("postgres", "postgres");
    let port = free_port();
    let args = [
        "--db-url",
        url.as_str(),
        "--only",
        "db",
        "--interval",
        "300ms",
    ];
    let mut first = Agent::start_on(port, &args, &[], false);
    let vm = format!("vm=http://127.0.0.1:{port}");
    let mut p = spawn_at(&["watch", "--agent", &vm], &[], 120, 40);
    p.expect_text("▌vm live ✓", LIMIT);
    first.kill();
    let s = p.expect_text("LOST since", LIMIT);
    assert!(s.contains("vm LOST"), "the header says it too:\n{s}");
    assert!(
        s.contains("vm: agent lost since"),
        "the verdict's reason:\n{s}"
    );
    let _second = Agent::start_on(port, &args, &[], false);
    p.wait_for(LIMIT, |s| s.contains("▌vm live ✓") && !s.contains("LOST"))
        .unwrap_or_else(|s| panic!("not live again:\n{s}"));
    p.key('q');
    assert!(p.wait_exit(Duration::from_secs(15)).is_some(), "q quits");
}
