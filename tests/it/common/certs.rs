//! Certificates made by the test: a CA that signs server and client certificates (with the
//! names each case needs) and its revocation list, and the self-signed server certificate the
//! operations recipe produces (`openssl req -x509`: CA:TRUE, a Common Name and no
//! subjectAltName), which libpq accepts as its own root.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber, date_time_ymd,
};

pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A PEM certificate and its (PKCS#8) key.
pub struct Leaf {
    pub cert: String,
    pub key: String,
}

pub fn ca(cn: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("CA key");
    let cert = p.self_signed(&key).expect("CA certificate");
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    }
}

impl Ca {
    /// A certificate for `names` (DNS names or IP addresses, as subjectAltName), `cn` as its
    /// Common Name, signed by this CA.
    pub fn leaf(&self, names: &[&str], cn: &str, serial: u64) -> Leaf {
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("leaf params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.serial_number = Some(SerialNumber::from(serial));
        p.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("leaf key");
        let cert = p.signed_by(&key, &self.issuer).expect("leaf certificate");
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A CRL from this CA revoking the certificates with these serial numbers.
    pub fn crl(&self, revoked: &[u64]) -> String {
        let p = CertificateRevocationListParams {
            this_update: date_time_ymd(2020, 1, 1),
            next_update: date_time_ymd(2090, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: date_time_ymd(2021, 1, 1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        p.signed_by(&self.issuer)
            .expect("CRL")
            .pem()
            .expect("CRL PEM")
    }
}

/// `openssl req -new -x509 -nodes -subj /CN=<cn>`: self-signed, CA:TRUE, no subjectAltName.
pub fn openssl_self_signed(dir: &Path, cn: &str) -> Leaf {
    let (crt, key) = (dir.join("selfsigned.crt"), dir.join("selfsigned.key"));
    let st = Command::new("openssl")
        .args(["req", "-new", "-x509", "-days", "2", "-nodes", "-subj"])
        .arg(format!("/CN={cn}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("run openssl");
    assert!(
        st.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    Leaf {
        cert: std::fs::read_to_string(&crt).expect("read cert"),
        key: std::fs::read_to_string(&key).expect("read key"),
    }
}

/// Writes `text` to `dir/name` with `mode`.
pub fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&path, text).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}
