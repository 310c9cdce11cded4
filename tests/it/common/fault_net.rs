//! Faulty network peers for the fault suite, on loopback only: a black hole (accepts every
//! connection and never says a word) and a closed port. The black hole runs on a plain thread,
//! so it serves a child process (the real binary) as well as in-process probes, with or
//! without a tokio runtime. Dropping it stops the thread and closes every held connection.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::wait_until;

/// How long a black hole serves at most, whatever the test does (every loop is bounded).
const LIFETIME: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(5);

#[derive(Default)]
struct Seen {
    accepted: AtomicUsize,
    /// Connections the client closed (a read returned end of stream or an error).
    closed_by_client: AtomicUsize,
}

/// Accepts, reads and discards what the client sends, never writes, never closes first.
pub struct BlackHole {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    seen: Arc<Seen>,
    thread: Option<JoinHandle<()>>,
}

impl BlackHole {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Seen::default());
        let thread = std::thread::Builder::new()
            .name("fault-black-hole".into())
            .spawn({
                let (stop, seen) = (stop.clone(), seen.clone());
                move || serve(&listener, &stop, &seen)
            })
            .expect("spawn the black hole");
        Self {
            addr,
            stop,
            seen,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn accepted(&self) -> usize {
        self.seen.accepted.load(Ordering::SeqCst)
    }

    pub fn closed_by_client(&self) -> usize {
        self.seen.closed_by_client.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until at least `n` connections were accepted.
    pub fn wait_accepted(&self, n: usize, limit: Duration) -> bool {
        wait_until(limit, || self.accepted() >= n)
    }

    /// Waits (bounded) until the client has closed every connection it opened.
    pub fn wait_all_closed(&self, limit: Duration) -> bool {
        wait_until(limit, || {
            self.accepted() > 0 && self.closed_by_client() == self.accepted()
        })
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(listener: &TcpListener, stop: &AtomicBool, seen: &Seen) {
    let start = Instant::now();
    let mut held: Vec<TcpStream> = Vec::new();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) && start.elapsed() < LIFETIME {
        // Bounded per round, so a connection storm cannot starve the stop check.
        for _ in 0..64 {
            match listener.accept() {
                Ok((s, _)) => {
                    let _ = s.set_nonblocking(true);
                    seen.accepted.fetch_add(1, Ordering::SeqCst);
                    held.push(s);
                }
                Err(_) => break,
            }
        }
        held.retain_mut(|s| {
            // Drain what is there (bounded); keep the connection unless the client left.
            for _ in 0..16 {
                match s.read(&mut buf) {
                    Ok(0) => {
                        seen.closed_by_client.fetch_add(1, Ordering::SeqCst);
                        return false;
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        seen.closed_by_client.fetch_add(1, Ordering::SeqCst);
                        return false;
                    }
                }
            }
            true
        });
        std::thread::sleep(POLL);
    }
}

/// A port where TCP connects never complete: a listener whose accept queue is full and never
/// drained, so the kernel drops every further SYN and the client's connect waits (retrying
/// its SYN) until its own deadline — what a firewall dropping packets, or a connector that
/// stopped answering, looks like from the client. Checked when made: a connect to it must
/// still be pending after a while, or this panics rather than let a test pass on a port
/// that answers.
pub struct SynBlackHole {
    listener: socket2::Socket,
    /// The connections that fill the accept queue; never accepted.
    _filling: Vec<socket2::Socket>,
}

impl SynBlackHole {
    pub fn start() -> Self {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a socket");
        listener
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .expect("bind a loopback port");
        // Backlog 0: Linux lets one connection wait in the accept queue, then drops SYNs.
        listener.listen(0).expect("listen");
        let addr = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .expect("an IPv4 address");
        let mut filling = Vec::new();
        for _ in 0..8 {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a socket");
            s.set_nonblocking(true).expect("non-blocking");
            let _ = s.connect(&addr.into());
            if wait_until(Duration::from_millis(300), || connected(&s)) {
                filling.push(s);
                continue;
            }
            // This one is left hanging: the queue is full. Verified, so drop it.
            return Self {
                listener,
                _filling: filling,
            };
        }
        panic!("connects to {addr} kept completing: no SYN black hole on this machine");
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .expect("bound")
    }
}

/// A non-blocking connect has completed (the socket has a peer).
fn connected(s: &socket2::Socket) -> bool {
    s.peer_addr().is_ok()
}
