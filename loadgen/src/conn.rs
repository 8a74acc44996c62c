//! Opening connections: TCP (with a connect timeout), TLS through rustls with ALPN, and the
//! HTTP/1.1 or HTTP/2 handshake. Each connection's I/O runs in its own task; callers get a
//! [`Sender`] handle.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::LoadError;
use crate::outcome::Outcome;
use crate::target::{Scheme, Target};

/// An HTTP/1.1 request handle (one request at a time).
pub(crate) type H1Sender = http1::SendRequest<Full<Bytes>>;
/// An HTTP/2 request handle (cloneable, multiplexed).
pub(crate) type H2Sender = http2::SendRequest<Full<Bytes>>;

/// A freshly opened connection.
pub(crate) enum Sender {
    H1(H1Sender),
    H2(H2Sender),
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
            Scheme::Https => Some(tls_connector(target, http2)?),
        };
        Ok(Connector {
            addrs,
            tls,
            http2,
            connect_timeout,
        })
    }

    /// Opens a connection: TCP, TLS when the URL is https, then the HTTP handshake, all within
    /// the connect timeout.
    pub(crate) async fn connect(&self) -> Result<Sender, Outcome> {
        let open = async {
            let tcp = TcpStream::connect(&self.addrs[..])
                .await
                .map_err(|e| Outcome::from_connect_io(&e))?;
            // Requests are small and latency-sensitive; Nagle would hold them back.
            let _ = tcp.set_nodelay(true);
            match &self.tls {
                None => handshake(tcp, self.http2).await,
                Some((connector, name)) => {
                    let tls =
                        connector
                            .connect(name.clone(), tcp)
                            .await
                            .map_err(|e| match e.kind() {
                                std::io::ErrorKind::ConnectionReset => Outcome::Reset,
                                _ => Outcome::ConnectError,
                            })?;
                    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                    handshake(tls, h2).await
                }
            }
        };
        match tokio::time::timeout(self.connect_timeout, open).await {
            Ok(r) => r,
            Err(_) => Err(Outcome::ConnectTimeout),
        }
    }
}

async fn handshake<S>(io: S, h2: bool) -> Result<Sender, Outcome>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let io = TokioIo::new(io);
    if h2 {
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .handshake(io)
            .await
            .map_err(|e| Outcome::from_hyper(&e))?;
        tokio::spawn(async move {
            // The connection's end is seen by the senders (is_closed); its error is reported
            // there, per request.
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
}

fn tls_connector(
    target: &Target,
    http2: bool,
) -> Result<(TlsConnector, ServerName<'static>), LoadError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LoadError::BadConfig(format!("tls: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
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
