//! Opening connections: TCP (with a connect timeout), TLS through rustls with ALPN, and the
//! HTTP/1.1 or HTTP/2 handshake.
//!
//! HTTP/1.1 connections used by the request loop are [`H1Conn`]s (see [`crate::h1`]), owned
//! by the task that sends on them. HTTP/2 connections (shared by many requests) are hyper's,
//! run in a task of their own and handed out by [`crate::pool::Pool`] as [`Sender`]s.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use scalelab_core::Time;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::LoadError;
use crate::clock::Clock;
use crate::h1::H1Conn;
use crate::outcome::Outcome;
use crate::target::{Scheme, Target};

/// An HTTP/2 request handle (cloneable, multiplexed).
pub(crate) type H2Sender = http2::SendRequest<Full<Bytes>>;
/// An HTTP/1.1 request handle whose connection runs in a task of its own (pool path).
pub(crate) type H1Sender = http1::SendRequest<Full<Bytes>>;

/// A freshly opened connection of the pool path.
pub(crate) enum Sender {
    H1(H1Sender),
    H2(H2Sender),
}

/// How the server's certificate is checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Accept any certificate (self-signed, expired, wrong name): `--insecure`.
    pub insecure: bool,
    /// Trust the certificates in this PEM file instead of the bundled Mozilla roots: `--cacert`.
    pub cacert: Option<PathBuf>,
}

/// Everything needed to open one more connection to the target.
pub(crate) struct Connector {
    addrs: Vec<SocketAddr>,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    http2: bool,
    connect_timeout: Duration,
}

impl Connector {
    /// Resolves the target's host once and prepares TLS.
    pub(crate) async fn new(
        target: &Target,
        http2: bool,
        connect_timeout: Duration,
        tls: &TlsOptions,
    ) -> Result<Connector, LoadError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|e| LoadError::Resolve {
                host: target.host.clone(),
                reason: e.to_string(),
            })?
            .collect();
        if addrs.is_empty() {
            return Err(LoadError::Resolve {
                host: target.host.clone(),
                reason: "no addresses".into(),
            });
        }
        let tls = match target.scheme {
            Scheme::Http => None,
            Scheme::Https => Some(tls_connector(target, http2, tls)?),
        };
        Ok(Connector {
            addrs,
            tls,
            http2,
            connect_timeout,
        })
    }

    /// Opens TCP (and TLS when the URL is https), within `deadline` and the connect timeout.
    /// Returns the stream and whether ALPN chose HTTP/2.
    async fn open_io(&self) -> Result<(Io, bool), Outcome> {
        let tcp = TcpStream::connect(&self.addrs[..])
            .await
            .map_err(|e| Outcome::from_connect_io(&e))?;
        // Requests are small and latency-sensitive; Nagle would hold them back.
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok((Io::Plain(tcp), self.http2)),
            Some((connector, name)) => {
                let tls =
                    connector
                        .connect(name.clone(), tcp)
                        .await
                        .map_err(|e| match e.kind() {
                            io::ErrorKind::ConnectionReset => Outcome::Reset,
                            _ => Outcome::ConnectError,
                        })?;
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                Ok((Io::Tls(Box::new(tls)), h2))
            }
        }
    }

    /// A dedicated HTTP/1.1 connection for the request loop (TCP and, for https, TLS offering
    /// only http/1.1), within the connect timeout.
    pub(crate) async fn connect_h1(&self) -> Result<H1Conn, Outcome> {
        let open = async {
            let (io, _) = self.open_io().await?;
            Ok::<_, Outcome>(H1Conn::new(io))
        };
        match tokio::time::timeout(self.connect_timeout, open).await {
            Ok(r) => r,
            Err(_) => Err(Outcome::ConnectTimeout),
        }
    }

    /// A connection for the pool path (HTTP/2, or HTTP/1.1 when ALPN refused h2), its I/O in a
    /// task of its own, within the connect timeout.
    pub(crate) async fn connect_shared(&self) -> Result<Sender, Outcome> {
        let open = async {
            let (io, h2) = self.open_io().await?;
            let io = TokioIo::new(io);
            if h2 {
                let (sender, conn) = http2::Builder::new(TokioExecutor::new())
                    .handshake(io)
                    .await
                    .map_err(|e| Outcome::from_hyper(&e))?;
                tokio::spawn(async move {
                    // The connection's end is seen by the senders (is_closed); its error is
                    // reported there, per request.
                    let _ = conn.await;
                });
                Ok(Sender::H2(sender))
            } else {
                let (sender, conn) = http1::Builder::new()
                    .handshake(io)
                    .await
                    .map_err(|e| Outcome::from_hyper(&e))?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(Sender::H1(sender))
            }
        };
        match tokio::time::timeout(self.connect_timeout, open).await {
            Ok(r) => r,
            Err(_) => Err(Outcome::ConnectTimeout),
        }
    }
}

/// Plain or TLS, one concrete type for hyper.
pub(crate) enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A request's deadline on one long-lived tokio timer. Deadlines move forward with every request;
/// re-registering a timer for each would cost more than the request's own bookkeeping, so the
/// timer is re-armed only when it fires before the current deadline (or the deadline moves
/// earlier).
pub(crate) struct Deadline {
    sleep: Pin<Box<tokio::time::Sleep>>,
    armed: Time,
    target: Time,
    clock: Clock,
}

impl Deadline {
    /// A deadline at `target`.
    pub(crate) fn new(clock: Clock, target: Time) -> Deadline {
        Deadline {
            sleep: Box::pin(tokio::time::sleep_until(clock.instant(target))),
            armed: target,
            target,
            clock,
        }
    }

    /// Moves the deadline to `target`.
    pub(crate) fn set(&mut self, target: Time) {
        self.target = target;
        if target < self.armed {
            self.armed = target;
            self.sleep.as_mut().reset(self.clock.instant(target));
        }
    }

    /// The current deadline.
    pub(crate) fn target(&self) -> Time {
        self.target
    }

    /// True once the deadline has passed; otherwise registers the task to be woken at it.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
            if self.clock.now() >= self.target {
                return true;
            }
            self.armed = self.target;
            self.sleep.as_mut().reset(self.clock.instant(self.target));
        }
    }
}

fn tls_connector(
    target: &Target,
    http2: bool,
    opts: &TlsOptions,
) -> Result<(TlsConnector, ServerName<'static>), LoadError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| LoadError::BadConfig(format!("tls: {e}")))?;
    let mut config = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    } else {
        let roots = match &opts.cacert {
            Some(path) => roots_from_pem(path)?,
            None => rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    let name = ServerName::try_from(target.host.clone()).map_err(|e| LoadError::BadUrl {
        url: target.authority.clone(),
        reason: format!("not a valid TLS server name: {e}"),
    })?;
    Ok((TlsConnector::from(Arc::new(config)), name))
}

/// The certificates of a PEM file as trust anchors (`--cacert`).
fn roots_from_pem(path: &Path) -> Result<rustls::RootCertStore, LoadError> {
    let bad = |reason: String| LoadError::CaCert {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|e| bad(format!("not a PEM certificate: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("unusable certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into(),
        ));
    }
    Ok(roots)
}

/// `--insecure`: any certificate is accepted, but the handshake signatures are still checked
/// (so the session is encrypted to whoever holds the presented key, as curl -k does).
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
