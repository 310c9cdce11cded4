//! The certificate files a TLS connection uses, found and checked the way libpq's
//! `initialize_SSL` does it, each time the server agrees to TLS: the root certificate file
//! (`sslrootcert`, else `~/.postgresql/root.crt`; missing is an error only for verify-ca /
//! verify-full, and when present it is used to verify even under `require`), the CRL
//! (`sslcrl`, else `~/.postgresql/root.crl`, silently skipped when absent), and the client
//! certificate and key (`sslcert` / `sslkey`, else `~/.postgresql/postgresql.crt` / `.key`;
//! a key others can read is refused).

use std::io;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::config::SslMode;
use crate::config::target::{RootCert, TlsFiles};

/// Trust anchors for verifying the server, or none (no verification, as libpq without a
/// root certificate file).
pub(crate) enum Roots {
    None,
    Certs {
        certs: Vec<CertificateDer<'static>>,
        crls: Vec<CertificateRevocationListDer<'static>>,
    },
}

/// libpq's words for a root file that is not there.
fn missing_root(path: &Path) -> String {
    format!(
        "root certificate file \"{}\" does not exist\nEither provide the file, use the system's \
         trusted roots with sslrootcert=system, or change sslmode to disable server certificate \
         verification.",
        path.display()
    )
}

pub(crate) fn roots(t: &TlsFiles, mode: SslMode) -> Result<Roots, String> {
    let path = match &t.rootcert {
        RootCert::System => return system_roots(),
        RootCert::File(p) => Some(p.clone()),
        RootCert::Default => t.default_file("root.crt"),
    };
    let path = match path {
        Some(p) if p.exists() => p,
        Some(p) if mode.verifies_chain() => return Err(missing_root(&p)),
        None if mode.verifies_chain() => {
            return Err("could not get home directory to locate root certificate file".into());
        }
        _ => return Ok(Roots::None),
    };
    let certs = read_certs(&path).map_err(|e| {
        format!(
            "could not read root certificate file \"{}\": {e}",
            path.display()
        )
    })?;
    Ok(Roots::Certs {
        certs,
        crls: crls(t),
    })
}

fn system_roots() -> Result<Roots, String> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_string(), ToString::to_string);
        return Err(format!(
            "could not load system root certificate paths: {why}"
        ));
    }
    Ok(Roots::Certs {
        certs: found.certs,
        crls: Vec::new(),
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate in the file".into());
    }
    Ok(certs)
}

/// libpq loads the CRL file if it can and silently goes on without it otherwise.
fn crls(t: &TlsFiles) -> Vec<CertificateRevocationListDer<'static>> {
    let Some(path) = t.crl.clone().or_else(|| t.default_file("root.crl")) else {
        return Vec::new();
    };
    match CertificateRevocationListDer::pem_file_iter(&path) {
        Ok(it) => it.filter_map(Result::ok).collect(),
        Err(e) => {
            if path.exists() {
                tracing::warn!("ignoring CRL file {}: {e}", path.display());
            }
            Vec::new()
        }
    }
}

/// A client certificate chain and its key, when there is one to send.
pub(crate) type ClientCert = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

pub(crate) fn client_cert(t: &TlsFiles) -> Result<Option<ClientCert>, String> {
    let Some(cert_path) = t.cert.clone().or_else(|| t.default_file("postgresql.crt")) else {
        return Ok(None);
    };
    match std::fs::metadata(&cert_path) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(format!(
                "could not open certificate file \"{}\": {e}",
                cert_path.display()
            ));
        }
        Ok(_) => {}
    }
    let chain = read_certs(&cert_path).map_err(|e| {
        format!(
            "could not read certificate file \"{}\": {e}",
            cert_path.display()
        )
    })?;
    let key_path: PathBuf = t
        .key
        .clone()
        .or_else(|| t.default_file("postgresql.key"))
        .ok_or("no home directory for ~/.postgresql/postgresql.key")?;
    Ok(Some((chain, private_key(&key_path)?)))
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            format!(
                "certificate present, but not private key file \"{}\"",
                path.display()
            )
        } else {
            format!(
                "could not stat private key file \"{}\": {e}",
                path.display()
            )
        }
    })?;
    if !meta.is_file() {
        return Err(format!(
            "private key file \"{}\" is not a regular file",
            path.display()
        ));
    }
    check_key_mode(path, &meta)?;
    PrivateKeyDer::from_pem_file(path)
        .or_else(|_| {
            std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|b| PrivateKeyDer::try_from(b).map_err(ToString::to_string))
        })
        .map_err(|e| {
            format!(
                "could not load private key file \"{}\": {e}",
                path.display()
            )
        })
}

/// libpq: mode 0600 or less, or 0640 or less when root owns the file.
fn check_key_mode(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = meta.permissions().mode();
    let forbidden = if meta.uid() == 0 { 0o037 } else { 0o077 };
    if mode & forbidden != 0 {
        return Err(format!(
            "private key file \"{}\" has group or world access; file must have permissions \
             u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) \
             or less if owned by root",
            path.display()
        ));
    }
    Ok(())
}
