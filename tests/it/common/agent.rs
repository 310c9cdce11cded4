//! A real `connscope agent` process on a free loopback port (stopped with SIGTERM, then
//! killed, when dropped), a real Prometheus server scraping it, and small HTTP helpers.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pg::free_port;

/// An agent process. `port` is where it listens.
pub struct Agent {
    pub port: u16,
    pub child: Child,
    pub stderr: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = super::bin();
    c.args(args);
    for k in super::pty::SCRUBBED {
        c.env_remove(k);
    }
    c.env("HOME", super::pty::NO_HOME);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

impl Agent {
    /// Starts `connscope agent --listen 127.0.0.1:PORT ARGS…` and waits for `/healthz`.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Agent {
        Self::start_on(free_port(), args, env, false)
    }

    pub fn start_on(port: u16, args: &[&str], env: &[(&str, &str)], tls: bool) -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        let stderr = dir.path().join("agent.err");
        let listen = format!("127.0.0.1:{port}");
        let mut all = vec!["agent", "--listen", &listen];
        all.extend_from_slice(args);
        let child = command(&all, env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("the agent starts");
        let mut a = Agent {
            port,
            child,
            stderr,
            _dir: dir,
        };
        if !tls {
            a.wait_healthy(Duration::from_secs(30));
        }
        a
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn wait_healthy(&mut self, limit: Duration) {
        let url = format!("{}/healthz", self.url());
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("the agent exited ({st}): {}", self.stderr_text());
            }
            if get(&url, None).is_ok_and(|(code, _)| code == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no /healthz within {limit:?}: {}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM, then the exit status (killed after 15 s).
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                return self.child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// GET `url` with an optional bearer token: status and body.
pub fn get(url: &str, token: Option<&str>) -> Result<(u16, String), String> {
    get_with(url, token, None)
}

/// The same over TLS trusting `ca` (PEM) only.
pub fn get_with(url: &str, token: Option<&str>, ca: Option<&str>) -> Result<(u16, String), String> {
    super::init();
    runtime().block_on(async {
        let mut b = reqwest::Client::builder().timeout(Duration::from_secs(10));
        if let Some(ca) = ca {
            b = b.tls_backend_preconfigured(client_tls(ca));
        } else {
            b = b.tls_backend_preconfigured(client_tls(""));
        }
        let c = b.build().map_err(|e| e.to_string())?;
        let mut req = c.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| format!("{e:?}"))?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await.map_err(|e| e.to_string())?))
    })
}

fn client_tls(ca_pem: &str) -> rustls::ClientConfig {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()).flatten() {
        roots.add(c).expect("a CA certificate");
    }
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

/// A Prometheus server (Debian's package) scraping `targets` every second, with a bearer
/// token file when given; its TSDB in a temporary directory; killed when dropped.
pub struct Prometheus {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    pub fn start(targets: &[String], token: Option<&str>) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let auth = match token {
            Some(t) => {
                let f = dir.path().join("token");
                std::fs::write(&f, t).expect("token file");
                format!(
                    "    authorization:\n      credentials_file: {}\n",
                    f.display()
                )
            }
            None => String::new(),
        };
        let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let cfg = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: connscope\n    scrape_interval: 1s\n{auth}    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        );
        let cfg_path = dir.path().join("prometheus.yml");
        std::fs::write(&cfg_path, cfg).expect("config");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts (Debian: apt-get install prometheus)");
        let p = Prometheus {
            port,
            child,
            _dir: dir,
        };
        let ready = format!("http://127.0.0.1:{port}/-/ready");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !get(&ready, None).is_ok_and(|(c, _)| c == 200) {
            assert!(
                Instant::now() < deadline,
                "prometheus not ready within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    /// An instant PromQL query through the HTTP API: the `data.result` array.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let url = format!(
            "http://127.0.0.1:{}/api/v1/query?query={}",
            self.port,
            percent_encoding::utf8_percent_encode(promql, percent_encoding::NON_ALPHANUMERIC)
        );
        let Ok((200, body)) = get(&url, None) else {
            return Vec::new();
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
