//! TLS termination: the certificate and key from files (checked at load: readable, a matching
//! pair, valid now), HTTP/2 and HTTP/1.1 by ALPN, optional client certificates checked against a
//! CA file (mTLS), and the files watched so a renewed certificate is served without a restart.

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_rustls::TlsAcceptor;

/// Where the TLS material is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM CA certificates; when set, clients must present a certificate it issued.
    pub client_ca: Option<PathBuf>,
    /// How often the files are checked for a renewed certificate.
    pub reload_every: Duration,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Reads and checks the certificate and key.
fn certified_key(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|iter| iter.collect())
        .map_err(|e| TlsError(format!("TLS certificate {}: {e}", files.cert.display())))?;
    let Some(leaf) = certs.first() else {
        return Err(TlsError(format!(
            "TLS certificate {}: no certificate in the file",
            files.cert.display()
        )));
    };
    match super::der::validity(leaf) {
        Some((_, not_after)) if not_after < now_unix() => {
            return Err(TlsError(format!(
                "TLS certificate {} expired on {}",
                files.cert.display(),
                super::der::format(not_after)
            )))
        }
        Some((not_before, _)) if not_before > now_unix() => {
            return Err(TlsError(format!(
                "TLS certificate {} is not valid before {}",
                files.cert.display(),
                super::der::format(not_before)
            )))
        }
        Some(_) => {}
        None => {
            return Err(TlsError(format!(
                "TLS certificate {}: its validity period cannot be read",
                files.cert.display()
            )))
        }
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| TlsError(format!("TLS key {}: {e}", files.key.display())))?;
    let signing = any_supported_type(&key)
        .map_err(|e| TlsError(format!("TLS key {}: {e}", files.key.display())))?;
    let certified = CertifiedKey::new(certs, signing);
    certified.keys_match().map_err(|_| {
        TlsError(format!(
            "TLS key {} does not belong to the certificate {}",
            files.key.display(),
            files.cert.display()
        ))
    })?;
    Ok(certified)
}

/// Serves the current certificate; the watcher swaps in a renewed one.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().ok().map(|c| c.clone())
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A TLS acceptor over `files`, and a task that reloads the certificate when the files change
/// (a renewal that fails its checks is logged and the old certificate kept).
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let current = Arc::new(Current(RwLock::new(Arc::new(certified_key(files)?))));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("TLS: {e}")))?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            let cas = CertificateDer::pem_file_iter(ca)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|e| TlsError(format!("TLS client CA {}: {e}", ca.display())))?;
            for cert in cas {
                roots
                    .add(cert)
                    .map_err(|e| TlsError(format!("TLS client CA {}: {e}", ca.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError(format!("TLS client CA {}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(current.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    watch(files.clone(), current);
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn watch(files: TlsFiles, current: Arc<Current>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(&current);
    drop(current);
    runtime.spawn(async move {
        let stamp = |f: &TlsFiles| (modified(&f.cert), modified(&f.key));
        let mut seen = stamp(&files);
        loop {
            tokio::time::sleep(files.reload_every).await;
            let Some(current) = weak.upgrade() else {
                return;
            };
            let now = stamp(&files);
            if now == seen {
                continue;
            }
            seen = now;
            match certified_key(&files) {
                Ok(key) => {
                    if let Ok(mut slot) = current.0.write() {
                        *slot = Arc::new(key);
                    }
                    tracing::info!("TLS certificate {} reloaded", files.cert.display());
                }
                Err(e) => {
                    tracing::warn!("TLS certificate not reloaded, the current one stays: {e}")
                }
            }
        }
    });
}
