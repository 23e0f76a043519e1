//! Certificates for the TLS tests, made fresh in a folder: a CA, a server certificate for
//! `localhost` and `127.0.0.1` signed by it, a client certificate it signed, a client
//! certificate from another CA, and an expired server certificate.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

/// The test PKI's files.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate clients and the server trust.
    pub ca: PathBuf,
    /// The server's certificate for `localhost` / `127.0.0.1`.
    pub server: Pair,
    /// A client certificate issued by the CA.
    pub client: Pair,
    /// A client certificate issued by another CA.
    pub stranger: Pair,
    /// A server certificate that expired in 2021.
    pub expired: Pair,
}

fn write(dir: &Path, name: &str, cert: &rcgen::Certificate, key: &KeyPair) -> Pair {
    let pair = Pair {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&pair.cert, cert.pem()).expect("write certificate");
    std::fs::write(&pair.key, key.serialize_pem()).expect("write key");
    pair
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // What strict verifiers (OpenSSL's X509_STRICT, Python 3.13+) ask of a CA.
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA")
}

fn leaf(
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: &CertifiedIssuer<'static, KeyPair>,
    expired: bool,
) -> (rcgen::Certificate, KeyPair) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("params");
    params.extended_key_usages = vec![usage];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params
        .distinguished_name
        .push(DnType::CommonName, "wasmgate test");
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, issuer).expect("sign");
    (cert, key)
}

impl TestPki {
    /// Makes every file in `dir` (created if needed).
    pub fn create(dir: &Path) -> TestPki {
        std::fs::create_dir_all(dir).expect("create the PKI folder");
        let authority = ca("wasmgate test CA");
        let other = ca("someone else's CA");
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, authority.pem()).expect("write CA");
        let hosts = ["localhost", "127.0.0.1"];
        let server_usage = ExtendedKeyUsagePurpose::ServerAuth;
        let client_usage = ExtendedKeyUsagePurpose::ClientAuth;
        let (cert, key) = leaf(&hosts, server_usage.clone(), &authority, false);
        let server = write(dir, "server", &cert, &key);
        let (cert, key) = leaf(&["client"], client_usage.clone(), &authority, false);
        let client = write(dir, "client", &cert, &key);
        let (cert, key) = leaf(&["client"], client_usage, &other, false);
        let stranger = write(dir, "stranger", &cert, &key);
        let (cert, key) = leaf(&hosts, server_usage, &authority, true);
        let expired = write(dir, "expired", &cert, &key);
        TestPki {
            ca: ca_path,
            server,
            client,
            stranger,
            expired,
        }
    }
}
