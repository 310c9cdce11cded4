//! Optional TLS for the agent (`--tls-cert`, `--tls-key`): rustls with the build's one
//! provider (ring). TCP connections are accepted in a loop and each TLS handshake runs in a
//! task of its own (bounded in time and in number), so a client that stalls mid-handshake
//! delays nobody; finished handshakes are handed to axum as a `Listener`.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::error::AgentError;

/// A handshake that has not finished in this time is dropped.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more wait for TCP accept.
const HANDSHAKES: usize = 64;

/// The server configuration from PEM files: the certificate chain and its private key.
pub(crate) fn server_config(
    cert: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, AgentError> {
    fn bad(path: &Path, what: &'static str) -> impl Fn(pem::Error) -> AgentError {
        let path = path.to_path_buf();
        move |source| AgentError::TlsFile {
            path: path.clone(),
            what,
            source,
        }
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(bad(cert, "TLS certificate"))?
        .collect::<Result<_, _>>()
        .map_err(bad(cert, "TLS certificate"))?;
    if chain.is_empty() {
        return Err(AgentError::NoCertificate(cert.to_path_buf()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(bad(key, "TLS key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(AgentError::TlsProvider)?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|source| AgentError::KeyMismatch {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            source,
        })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp` until `cancel`.
    pub(crate) fn start(
        tcp: TcpListener,
        cfg: Arc<rustls::ServerConfig>,
        cancel: CancellationToken,
    ) -> io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(HANDSHAKES);
        tokio::spawn(accept_loop(tcp, TlsAcceptor::from(cfg), tx, cancel));
        Ok(Self { ready, local })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    cancel: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(HANDSHAKES));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            a = tcp.accept() => a,
        };
        let (stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors and the like: pause instead of spinning.
                tracing::warn!("agent: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (acceptor, tx) = (acceptor.clone(), tx.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, addr)).await;
                }
                Ok(Err(e)) => tracing::debug!(%addr, "agent: TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%addr, "agent: TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept loop has stopped (shutdown): no connection will come again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
