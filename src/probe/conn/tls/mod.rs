//! TLS for a PostgreSQL connection, with libpq's sslmode semantics, on rustls with ring.
//!
//! Every connection gets a client configuration of its own, built when the server has agreed to
//! TLS (as libpq's `initialize_SSL` does), with resumption off: no session ticket and no
//! remembered key-exchange group carries over from one attempt to the next, so each attempt
//! pays what a new application process pays — including PostgreSQL's HelloRetryRequest (the
//! server wants P-256, a fresh client offers X25519 first).

mod files;
mod verify;

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::config::target::{HostSpec, TlsVersion};
use crate::config::{DbHost, DbTarget, SslMode};

/// Installs ring as the process's rustls provider. Idempotent; call before any TLS use.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The name the server must carry (verify-full) and the name sent as SNI: the `host`, never
/// `hostaddr`, as libpq does.
fn host_name(host: &HostSpec) -> Option<&str> {
    match &host.host {
        DbHost::Tcp(h) if !h.is_empty() => Some(h.trim_matches(['[', ']'])),
        _ => None,
    }
}

/// A fresh client configuration for one connection to `host`, and the server name to use.
pub(crate) fn client_config(
    t: &DbTarget,
    host: &HostSpec,
    peer: IpAddr,
) -> Result<(Arc<ClientConfig>, ServerName<'static>), String> {
    let name = host_name(host);
    let check_name = match (t.sslmode, name) {
        (SslMode::VerifyFull, Some(n)) => Some(n.to_string()),
        (SslMode::VerifyFull, None) => {
            return Err("host name must be specified for a verified SSL connection".into());
        }
        _ => None,
    };
    let provider = provider();
    let verifier =
        verify::LibpqVerifier::new(files::roots(&t.tls, t.sslmode)?, check_name, &provider)?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(t.tls.min_version, t.tls.max_version))
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match files::client_cert(&t.tls)? {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => {
                    "certificate does not match private key file".to_string()
                }
                e => format!("could not use the client certificate: {e}"),
            })?,
        None => builder.with_no_client_auth(),
    };
    config.resumption = Resumption::disabled();
    config.enable_sni = t.tls.sni;
    let server_name = match name.map(|n| ServerName::try_from(n.to_string())) {
        Some(Ok(n)) => n,
        Some(Err(e)) => return Err(format!("invalid TLS server name {name:?}: {e}")),
        None => ServerName::IpAddress(peer.into()),
    };
    Ok((Arc::new(config), server_name))
}

fn versions(
    min: Option<TlsVersion>,
    max: Option<TlsVersion>,
) -> Vec<&'static rustls::SupportedProtocolVersion> {
    let lo = min.unwrap_or(TlsVersion::V12);
    let hi = max.unwrap_or(TlsVersion::V13);
    [
        (TlsVersion::V13, &rustls::version::TLS13),
        (TlsVersion::V12, &rustls::version::TLS12),
    ]
    .into_iter()
    .filter(|(v, _)| *v >= lo && *v <= hi)
    .map(|(_, p)| p)
    .collect()
}

/// A handshake error in libpq's (OpenSSL's) words where they exist.
pub(crate) fn describe(e: &io::Error) -> String {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return e.to_string();
    };
    let verify = |what: &str| format!("certificate verify failed: {what}");
    match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => verify("unable to get local issuer certificate"),
            CertificateError::BadSignature => verify("certificate signature failure"),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                verify("certificate has expired")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                verify("certificate is not yet valid")
            }
            CertificateError::Revoked => verify("certificate revoked"),
            CertificateError::UnknownRevocationStatus => verify("unable to get certificate CRL"),
            CertificateError::Other(o) => o.to_string(),
            other => verify(&other.to_string()),
        },
        other => other.to_string(),
    }
}

/// SCRAM's `tls-server-end-point` binding (RFC 5929): the server certificate's hash, with
/// SHA-256 standing in for MD5 and SHA-1, as PostgreSQL computes it.
pub(crate) fn server_end_point(cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).ok()?;
    let oid = parsed.signature_algorithm.algorithm.to_id_string();
    let alg = match oid.as_str() {
        // sha384WithRSAEncryption, ecdsa-with-SHA384
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => &ring::digest::SHA384,
        // sha512WithRSAEncryption, ecdsa-with-SHA512
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => &ring::digest::SHA512,
        // Ed25519 / Ed448 have no hash to take: PostgreSQL cannot bind to them either.
        "1.3.101.112" | "1.3.101.113" => return None,
        _ => &ring::digest::SHA256,
    };
    Some(ring::digest::digest(alg, cert.as_ref()).as_ref().to_vec())
}
