//! HTTPS and HTTP/2 over TLS against a local server whose certificate is generated here
//! (rcgen): trusted through `--cacert`, accepted with `--insecure`, refused otherwise.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use scalelab_loadgen::{LoadError, Outcome, TlsOptions, run};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::measure::constant;

struct TlsServer {
    url: String,
    ca_pem: PathBuf,
    dir: PathBuf,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An HTTPS server (HTTP/1.1 and h2 by ALPN) on 127.0.0.1:0 with a fresh self-signed
/// certificate for 127.0.0.1; its certificate is written as a PEM file for `--cacert`.
async fn tls_server(name: &str) -> TlsServer {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = params.self_signed(&key).unwrap();
    let dir = std::env::temp_dir().join(format!("scalelab-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_pem = dir.join("ca.pem");
    std::fs::write(&ca_pem, cert.pem()).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(|req: Request<Incoming>| async move {
                    // The protocol the client spoke, for the test to check.
                    let body = format!("{:?}", req.version());
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    TlsServer { url, ca_pem, dir }
}

async fn load(
    url: &str,
    tweak: impl FnOnce(&mut scalelab_loadgen::LoadConfig),
) -> scalelab_loadgen::LoadReport {
    let mut cfg = constant(url, 40.0, 500);
    cfg.connect_timeout = Duration::from_secs(2);
    tweak(&mut cfg);
    let report = run(&cfg).await.unwrap();
    assert_eq!(report.recorder.intended, 20);
    assert_eq!(report.recorder.finished_count(), 20);
    report
}

#[tokio::test]
async fn https_with_the_servers_ca_succeeds() {
    let s = tls_server("h1").await;
    let r = load(&s.url, |c| {
        c.tls = TlsOptions {
            insecure: false,
            cacert: Some(s.ca_pem.clone()),
        }
    })
    .await;
    assert_eq!(r.recorder.outcome(Outcome::Http2xx), 20);
    // "HTTP/1.1" is 8 bytes: the requests went over HTTP/1.1.
    assert_eq!(r.recorder.bytes_received, 20 * 8);
}

#[tokio::test]
async fn http2_over_tls_is_negotiated_and_multiplexed() {
    let s = tls_server("h2").await;
    let r = load(&s.url, |c| {
        c.http2 = true;
        c.tls.cacert = Some(s.ca_pem.clone());
    })
    .await;
    assert_eq!(r.recorder.outcome(Outcome::Http2xx), 20);
    // "HTTP/2.0" is 8 bytes too; one shared connection carried all of them.
    assert_eq!(r.recorder.bytes_received, 20 * 8);
    assert_eq!(r.connections_opened, 1);
}

#[tokio::test]
async fn insecure_accepts_a_certificate_nobody_vouches_for() {
    let s = tls_server("insecure").await;
    let r = load(&s.url, |c| c.tls.insecure = true).await;
    assert_eq!(r.recorder.outcome(Outcome::Http2xx), 20);
    // Without it, the bundled roots do not trust the certificate: a connect error each time.
    let r = load(&s.url, |_| {}).await;
    assert_eq!(r.recorder.outcome(Outcome::ConnectError), 20);
}

#[tokio::test]
async fn a_cacert_without_certificates_is_bad_input() {
    let s = tls_server("badca").await;
    let bad = s.dir.join("not-a-cert.pem");
    std::fs::write(&bad, "hello\n").unwrap();
    let mut cfg = constant(&s.url, 1.0, 100);
    cfg.tls.cacert = Some(bad);
    match run(&cfg).await {
        Err(e @ LoadError::CaCert { .. }) => assert!(e.to_string().contains("--cacert"), "{e}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a bad --cacert was accepted"),
    }
}
