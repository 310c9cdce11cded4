//! Real DNS failures for the real binary: a tiny DNS server on a loopback address of its own
//! (port 53, so the test runs as root), and the binary started with the system resolver
//! pointed at it — `unshare --mount` gives the child a mount namespace in which a temporary
//! resolv.conf is bind-mounted over /etc/resolv.conf. The host's file is never touched (the
//! namespace's mounts are private); glibc's getaddrinfo, which connscope uses as libpq and
//! curl do, then asks this server and gets its SERVFAIL, NXDOMAIN, silence or address.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a server answers at most, whatever the test does.
const LIFETIME: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// RCODE 2: the server failed (getaddrinfo: EAI_AGAIN, "Temporary failure in name
    /// resolution").
    ServFail,
    /// RCODE 3: no such name (EAI_NONAME, "Name or service not known").
    NxDomain,
    /// Never answers: the resolver waits out its own timeout.
    Silent,
    /// An A record with this address (AAAA: no data), for names that resolve.
    A(Ipv4Addr),
}

pub struct DnsServer {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DnsServer {
    /// Binds port 53 on a free 127.0.0.X and answers every query with `answer`.
    pub fn start(answer: Answer) -> Self {
        let socket = (0..32)
            .find_map(|_| {
                let ip = Ipv4Addr::new(127, 0, fastrand::u8(..), fastrand::u8(2..=254));
                UdpSocket::bind((ip, 53)).ok()
            })
            .expect("bind port 53 on a loopback address (the DNS tests run as root)");
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("read timeout");
        let addr = socket.local_addr().expect("local addr");
        let queries = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("fault-dns".into())
            .spawn({
                let (queries, stop) = (queries.clone(), stop.clone());
                move || serve(&socket, answer, &queries, &stop)
            })
            .expect("spawn the DNS server");
        Self {
            addr,
            queries,
            stop,
            thread: Some(thread),
        }
    }

    pub fn ip(&self) -> std::net::IpAddr {
        self.addr.ip()
    }

    /// Queries received so far: proof the resolver really asked this server.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }

    /// A resolv.conf in `dir` naming only this server, with glibc `options` (e.g.
    /// `timeout:1 attempts:1`).
    pub fn resolv_conf(&self, dir: &Path, options: &str) -> PathBuf {
        let path = dir.join(format!("resolv-{}.conf", self.addr.ip()));
        std::fs::write(
            &path,
            format!("nameserver {}\noptions {options}\n", self.addr.ip()),
        )
        .expect("write resolv.conf");
        path
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(socket: &UdpSocket, answer: Answer, queries: &AtomicUsize, stop: &AtomicBool) {
    let start = Instant::now();
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::SeqCst) && start.elapsed() < LIFETIME {
        let Ok((n, peer)) = socket.recv_from(&mut buf) else {
            continue;
        };
        queries.fetch_add(1, Ordering::SeqCst);
        if let Some(reply) = reply(&buf[..n], answer) {
            let _ = socket.send_to(&reply, peer);
        }
    }
}

/// The response to one query (RFC 1035 §4.1), or none for `Silent` or a malformed query.
fn reply(query: &[u8], answer: Answer) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // The question: labels up to the root, then QTYPE and QCLASS.
    let mut end = 12;
    while *query.get(end)? != 0 {
        end += usize::from(query[end]) + 1;
    }
    let question = query.get(12..end + 5)?;
    let qtype = u16::from_be_bytes([question[question.len() - 4], question[question.len() - 3]]);
    let (rcode, address) = match answer {
        Answer::Silent => return None,
        Answer::ServFail => (2, None),
        Answer::NxDomain => (3, None),
        Answer::A(ip) => (0, (qtype == 1).then_some(ip)),
    };
    // QR, the query's opcode and RD, RA; the RCODE.
    let flags = 0x8000 | (u16::from_be_bytes([query[2], query[3]]) & 0x7900) | 0x0080 | rcode;
    let mut r = Vec::with_capacity(64);
    r.extend_from_slice(&query[..2]);
    r.extend_from_slice(&flags.to_be_bytes());
    r.extend_from_slice(&[0, 1, 0, u8::from(address.is_some()), 0, 0, 0, 0]);
    r.extend_from_slice(question);
    if let Some(ip) = address {
        // A pointer to the question's name, type A, class IN, TTL 0, 4 bytes of address.
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4]);
        r.extend_from_slice(&ip.octets());
    }
    Some(r)
}

/// The connscope binary, run through `unshare --mount` with `resolv_conf` bind-mounted over
/// /etc/resolv.conf in that namespace only; a clean environment as `fault_bin::command`.
pub fn connscope_with_resolver(resolv_conf: &Path) -> Command {
    let mut c = Command::new("unshare");
    super::fault_bin::clean_env(&mut c);
    c.args(["--mount", "--", "sh", "-c"])
        .arg(r#"mount --bind "$0" /etc/resolv.conf && exec "$@""#)
        .arg(resolv_conf)
        .arg(super::bin_path());
    c
}
