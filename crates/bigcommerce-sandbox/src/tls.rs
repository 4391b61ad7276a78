//! HTTPS for the sandbox, so that clients which only speak `https://` (BigCommerce's official
//! Python client builds every URL as `"https://" + host + path`) can be pointed at it by changing
//! nothing but the host.
//!
//! [`TlsIdentity::self_signed`] makes a throwaway certificate authority and a server certificate
//! it signs for `127.0.0.1`, `::1` and `localhost`; a client trusts the sandbox by trusting
//! [`TlsIdentity::ca_pem`] (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`,
//! `reqwest::Certificate::from_pem`). A CA plus a leaf, rather than one self-signed leaf, is what
//! every TLS stack accepts, including OpenSSL's strict mode (Python 3.13 turns it on) and
//! webpki, which refuses a CA certificate presented as the server's own.
//!
//! [`serve`] is the accept loop: rustls over each TCP connection, then hyper's HTTP/1.1 server
//! with the same axum router the plain-HTTP path serves.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The names a self-signed sandbox certificate is valid for: the loopback addresses a client may
/// use to reach a sandbox on this machine.
pub const LOOPBACK_NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// How long a client may take to finish the TLS handshake before its connection is dropped, so
/// that a silent client holds no task for ever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificate the sandbox serves HTTPS with, and the authority a client must trust.
#[derive(Clone)]
pub struct TlsIdentity {
    /// PEM of the certificate authority that signed [`TlsIdentity::cert_pem`]: what clients
    /// trust.
    pub ca_pem: String,
    /// PEM of the server certificate chain (the server certificate first).
    pub cert_pem: String,
    /// PEM of the server's private key (PKCS#8).
    pub key_pem: String,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("ca_pem", &self.ca_pem)
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"***")
            .finish()
    }
}

impl TlsIdentity {
    /// A fresh authority and a server certificate it signs for [`LOOPBACK_NAMES`]. Each call
    /// makes new keys: nothing is stored, so a certificate trusted once is not trusted by the
    /// next sandbox.
    pub fn self_signed() -> TlsIdentity {
        Self::generate(&LOOPBACK_NAMES).expect("rcgen signs loopback names with a fresh key")
    }

    fn generate(names: &[&str]) -> Result<TlsIdentity, rcgen::Error> {
        let mut ca = CertificateParams::new(Vec::new())?;
        ca.distinguished_name
            .push(DnType::CommonName, "Cenports BigCommerce sandbox CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca.self_signed(&ca_key)?;

        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut leaf = CertificateParams::new(names)?;
        leaf.distinguished_name
            .push(DnType::CommonName, "Cenports BigCommerce sandbox");
        leaf.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.use_authority_key_identifier_extension = true;
        let leaf_key = KeyPair::generate()?;
        let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key)?;

        Ok(TlsIdentity {
            ca_pem: ca_cert.pem(),
            cert_pem: leaf_cert.pem(),
            key_pem: leaf_key.serialize_pem(),
        })
    }

    /// The rustls configuration serving this identity over HTTP/1.1.
    pub(crate) fn server_config(&self) -> std::io::Result<ServerConfig> {
        let invalid = |what: &str, error: &dyn fmt::Display| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("TLS identity: {what}: {error}"),
            )
        };
        let chain = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| invalid("cert_pem is not PEM certificates", &error))?;
        if chain.is_empty() {
            return Err(invalid("cert_pem", &"holds no certificate"));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|error| invalid("key_pem is not a PEM private key", &error))?;
        // The provider is named rather than taken from the process default, which would panic
        // if more than one were compiled in.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| invalid("protocol versions", &error))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|error| invalid("certificate and key do not match", &error))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` turns true: then it stops accepting,
/// and each open connection finishes its request in flight and closes.
pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::error!(%error, "sandbox accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    // Usually a client that does not trust the certificate: its problem to
                    // report, not ours.
                    tracing::debug!(%error, %peer, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            // The `watch::Ref` that `wait_for` returns is not `Send`: drop it before awaiting.
            let stopping = async {
                let _ = shutdown.wait_for(|stop| *stop).await;
            };
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, %peer, "sandbox connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_identity_makes_a_server_config() {
        let identity = TlsIdentity::self_signed();
        assert!(identity.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(identity.ca_pem, identity.cert_pem);
        identity.server_config().expect("the identity is usable");
        assert!(!format!("{identity:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn a_broken_key_is_an_invalid_input_error() {
        let identity = TlsIdentity {
            key_pem: "not a key".to_string(),
            ..TlsIdentity::self_signed()
        };
        let error = identity.server_config().unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("key_pem"), "{error}");
    }
}
