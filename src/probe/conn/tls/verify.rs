//! Server certificate checks as libpq (OpenSSL) makes them, on webpki:
//! - with a root certificate file, the chain must lead to one of its certificates — also when
//!   the server's certificate *is* one of them (a self-signed certificate given as
//!   `sslrootcert`), which OpenSSL accepts and webpki alone would refuse as a CA used as an
//!   end entity;
//! - only `verify-full` checks the name, with libpq's rules: subjectAltName entries of the
//!   host's kind (DNS name or IP address), else the subject's Common Name; `*.` wildcards
//!   match one label, case-insensitively;
//! - without a root file nothing is verified (libpq's `require` / `prefer` / `allow`), but the
//!   handshake signatures are still checked so the session keys are sound.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::files::Roots;

#[derive(Debug)]
pub(crate) struct LibpqVerifier {
    chain: Option<Chain>,
    /// The host name (or address) to match, for `verify-full`.
    name: Option<String>,
    algs: WebPkiSupportedAlgorithms,
}

#[derive(Debug)]
struct Chain {
    webpki: Arc<WebPkiServerVerifier>,
    roots: Vec<CertificateDer<'static>>,
}

impl LibpqVerifier {
    pub(super) fn new(
        roots: Roots,
        name: Option<String>,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Self, String> {
        let chain = match roots {
            Roots::None => None,
            Roots::Certs { certs, crls } => {
                let mut store = RootCertStore::empty();
                let (added, _) = store.add_parsable_certificates(certs.iter().cloned());
                if added == 0 {
                    return Err("no usable certificate in the root certificate file".into());
                }
                let mut b =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone());
                if !crls.is_empty() {
                    b = b.with_crls(crls);
                }
                Some(Chain {
                    webpki: b.build().map_err(|e| e.to_string())?,
                    roots: certs,
                })
            }
        };
        Ok(Self {
            chain,
            name,
            algs: provider.signature_verification_algorithms,
        })
    }
}

fn other(message: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
        std::io::Error::other(message),
    ))))
}

impl Chain {
    fn verify(
        &self,
        ee: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        if self.roots.iter().any(|r| r.as_ref() == ee.as_ref()) {
            // OpenSSL trusts a certificate found in the trust store as it is; only its dates
            // are left to check.
            return check_dates(ee, now);
        }
        match self
            .webpki
            .verify_server_cert(ee, intermediates, server_name, &[], now)
        {
            // The name is libpq's business below, and only for verify-full.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ))
            | Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn check_dates(ee: &CertificateDer<'_>, now: UnixTime) -> Result<(), rustls::Error> {
    let (_, cert) = X509Certificate::from_der(ee.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let v = cert.validity();
    if now < v.not_before.timestamp() {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet,
        ));
    }
    if now > v.not_after.timestamp() {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}

impl ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        ee: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(chain) = &self.chain {
            chain.verify(ee, intermediates, server_name, now)?;
        }
        if let Some(host) = &self.name {
            matches_host(ee, host).map_err(other)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// libpq's wildcard rule: `*.` only at the start, matching exactly one label.
fn wildcard_match(pattern: &str, host: &str) -> bool {
    let Some(suffix) = pattern.strip_prefix('*') else {
        return false;
    };
    if !suffix.starts_with('.') || suffix.len() < 2 || host.len() < pattern.len() {
        return false;
    }
    let cut = host.len() - suffix.len();
    host.get(cut..)
        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
        && !host.get(..cut).unwrap_or(".").contains('.')
}

fn name_matches(name: &str, host: &str) -> bool {
    name.eq_ignore_ascii_case(host) || wildcard_match(name, host)
}

/// libpq's `verify-full` name check: Ok, or its error message.
pub(crate) fn matches_host(ee: &CertificateDer<'_>, host: &str) -> Result<(), String> {
    let (_, cert) = X509Certificate::from_der(ee.as_ref())
        .map_err(|_| "could not parse the server certificate".to_string())?;
    let host_ip: Option<IpAddr> = host.trim_matches(['[', ']']).parse().ok();
    let mut names = Vec::new();
    let mut same_kind = false;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => {
                    same_kind |= host_ip.is_none();
                    if name_matches(d, host) {
                        return Ok(());
                    }
                    names.push((*d).to_string());
                }
                GeneralName::IPAddress(b) => {
                    same_kind |= host_ip.is_some();
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*b).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if ip.is_some() && ip == host_ip {
                        return Ok(());
                    }
                    names.extend(ip.map(|i| i.to_string()));
                }
                _ => {}
            }
        }
    }
    if !same_kind && let Some(cn) = cert.subject().iter_common_name().next() {
        let cn = cn.as_str().unwrap_or_default();
        if name_matches(cn, host) {
            return Ok(());
        }
        names.push(cn.to_string());
    }
    Err(match names.as_slice() {
        [] => "could not get server's host name from server certificate".into(),
        [one] => format!("server certificate for \"{one}\" does not match host name \"{host}\""),
        [first, rest @ ..] => format!(
            "server certificate for \"{first}\" (and {} other name{}) does not match host name \"{host}\"",
            rest.len(),
            if rest.len() == 1 { "" } else { "s" }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(names: &[&str], cn: &str) -> CertificateDer<'static> {
        let mut p =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        p.distinguished_name
            .push(rcgen::DnType::CommonName, cn.to_string());
        let key = rcgen::KeyPair::generate().expect("key");
        p.self_signed(&key).expect("cert").der().clone()
    }

    #[test]
    fn san_first_then_common_name_with_libpqs_rules() {
        let san = cert(
            &["db.example.com", "*.pg.example.com", "127.0.0.1"],
            "ignored",
        );
        assert!(matches_host(&san, "DB.example.com").is_ok());
        assert!(matches_host(&san, "a.pg.example.com").is_ok());
        assert!(
            matches_host(&san, "a.b.pg.example.com").is_err(),
            "one label only"
        );
        assert!(matches_host(&san, "127.0.0.1").is_ok());
        let e = matches_host(&san, "ignored").expect_err("CN not used when DNS SANs exist");
        assert!(e.contains("(and 2 other names)"), "{e}");
        let cn_only = cert(&[], "localhost");
        assert!(matches_host(&cn_only, "localhost").is_ok());
        let e = matches_host(&cn_only, "127.0.0.1").expect_err("no match");
        assert_eq!(
            e,
            "server certificate for \"localhost\" does not match host name \"127.0.0.1\""
        );
        let dns_only = cert(&["localhost"], "127.0.0.1");
        assert!(
            matches_host(&dns_only, "127.0.0.1").is_ok(),
            "an IP host falls back to the CN when there is no IP SAN"
        );
    }
}
