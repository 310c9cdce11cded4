//! The cost of `connscope agent` where the service runs, against a throwaway PostgreSQL and a
//! loopback health endpoint and WebSocket:
//!
//! - CPU (% of one core, the agent's own utime + stime from /proc) and resident memory over
//!   the soak, at 5 database attempts a second with the endpoint and the WebSocket probed;
//! - `/metrics` scrape latency: 1000 sequential scrapes on one keep-alive connection;
//! - the CPU 20 attached dashboards (`/events` WebSocket readers) add to the agent.
//!
//! Targets: < 1 % of a core and < 20 MB flat; scrape p99 < 2 ms; 20 dashboards < 5 %.
//! Run: `cargo bench --bench agent` (1 minute); the 10-minute soak:
//! `CONNSCOPE_SOAK=600 cargo bench --bench agent`.

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::agent::Agent;
use common::dashboard::Services;
use common::pg::TempPg;
use common::procfs::{cpu_percent, cpu_seconds, status_kib};
use futures::StreamExt;

fn rss_mb(pid: u32) -> f64 {
    status_kib(pid, "VmRSS").map_or(f64::NAN, |kb| kb as f64 / 1024.0)
}

/// One scrape of `/metrics`: the text, or the run stops.
fn scrape(url: &str) -> String {
    match common::agent::get(url, None) {
        Ok((200, body)) => body,
        other => panic!("scrape of {url}: {other:?}"),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

async fn scrapes(url: &str, n: usize) -> Vec<f64> {
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        )
        .build()
        .expect("client");
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = client.get(url).send().await.expect("scrape answered");
        assert_eq!(r.status(), 200, "scrape status");
        let body = r.bytes().await.expect("scrape body");
        assert!(!body.is_empty(), "an empty scrape");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    ms
}

/// `n` dashboards reading `/events` until dropped; each counts what it read.
async fn dashboards(url: String, n: usize) -> Vec<tokio::task::JoinHandle<u64>> {
    let mut out = Vec::new();
    for _ in 0..n {
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("a dashboard attaches");
        out.push(tokio::spawn(async move {
            let mut ws = ws;
            let mut read = 0u64;
            while let Some(Ok(_)) = ws.next().await {
                read += 1;
            }
            read
        }));
    }
    out
}

fn main() {
    common::init();
    let soak = common::setting("CONNSCOPE_SOAK", 60u64);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let pg = TempPg::start();
    let svc = Services::start();
    let url = pg.url("postgres", "postgres");
    let (endpoint, ws) = (svc.endpoint(), svc.ws());
    let mut agent = Agent::start(
        &[
            "--db-url",
            &url,
            "--only",
            "db,http,ws",
            "--interval",
            "200ms",
            "--endpoint",
            &endpoint,
            "--ws",
            &ws,
            "--tries",
            "1",
        ],
        &[("CONNSCOPE_HEALTH__INTERVAL", "2s")],
    );
    let pid = agent.child.id();
    std::thread::sleep(Duration::from_secs(5));

    println!("agent: 5 attempts/s, an endpoint (2 paths) and a WebSocket every 2 s; soak {soak} s");
    let (c0, t0) = (cpu_seconds(pid), Instant::now());
    let mut rss = vec![(0u64, rss_mb(pid))];
    let step = (soak / 10).max(1);
    for i in 1..=soak / step {
        std::thread::sleep(Duration::from_secs(step));
        assert!(
            matches!(agent.child.try_wait(), Ok(None)),
            "the agent died: {}",
            agent.stderr_text()
        );
        rss.push((i * step, rss_mb(pid)));
    }
    let cpu = (cpu_seconds(pid) - c0) / t0.elapsed().as_secs_f64() * 100.0;
    println!(
        "  CPU {cpu:.2} % of one core over {:.0} s",
        t0.elapsed().as_secs_f64()
    );
    let line: Vec<String> = rss.iter().map(|(s, m)| format!("{s}s {m:.1}")).collect();
    println!("  RSS MB: {}", line.join(", "));
    let metrics = format!("{}/metrics", agent.url());
    let attempts = scrape(&metrics)
        .lines()
        .filter(|l| l.starts_with("connscope_db_attempts_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    println!(
        "  {attempts:.0} attempts so far ({:.1}/s)",
        attempts / (t0.elapsed().as_secs_f64() + 5.0)
    );

    let ms = rt.block_on(scrapes(&metrics, 1000));
    println!(
        "  /metrics: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (1000 sequential scrapes)",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN)
    );

    let window = Duration::from_secs(30);
    let alone = cpu_percent(pid, window);
    let events = format!("ws://127.0.0.1:{}/events", agent.port);
    let readers = rt.block_on(dashboards(events, 20));
    std::thread::sleep(Duration::from_secs(2));
    let attached = cpu_percent(pid, window);
    assert!(
        matches!(agent.child.try_wait(), Ok(None)),
        "the agent died: {}",
        agent.stderr_text()
    );
    let clients = scrape(&metrics)
        .lines()
        .find_map(|l| l.strip_prefix("connscope_agent_clients "))
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(0);
    assert_eq!(clients, 20, "every dashboard is attached");
    println!(
        "  CPU over {} s: {alone:.2} % alone, {attached:.2} % with 20 dashboards attached (+{:.2} %)",
        window.as_secs(),
        attached - alone
    );
    let status = agent.stop();
    let read: Vec<u64> = rt.block_on(async {
        let mut v = Vec::new();
        for r in readers {
            v.push(
                tokio::time::timeout(Duration::from_secs(10), r)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or(0),
            );
        }
        v
    });
    println!(
        "  each dashboard read {}–{} messages; the agent exited with {status}",
        read.iter().min().unwrap_or(&0),
        read.iter().max().unwrap_or(&0)
    );
    assert!(read.iter().all(|n| *n > 0), "a dashboard read nothing");
    assert_eq!(
        status.code(),
        Some(0),
        "the agent's exit: {}",
        agent.stderr_text()
    );
}
