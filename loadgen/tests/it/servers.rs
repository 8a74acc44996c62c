//! Test targets.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// How a test server answers.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// 200 "ok".
    Ok,
    /// This status.
    Status(u16),
    /// 200 after this long.
    Slow(Duration),
    /// The request numbered `at` (0-based) stops the whole server for `stall`: it and every
    /// request that arrives while it lasts are answered when it ends (a GC pause).
    StallOnce { at: u64, stall: Duration },
}

/// A running hyper server (HTTP/1.1 and h2c) and its request counter.
pub struct Server {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicU64>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
    pub fn count(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

struct Stall {
    active: AtomicBool,
    released: Notify,
}

/// Starts a server on 127.0.0.1:0 in the current runtime.
pub async fn hyper_server(b: Behaviour) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicU64::new(0));
    let stall = Arc::new(Stall {
        active: AtomicBool::new(false),
        released: Notify::new(),
    });
    let counter = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (counter, stall) = (counter.clone(), stall.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |_req: Request<Incoming>| {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let stall = stall.clone();
                    async move {
                        let status = match b {
                            Behaviour::Ok => 200,
                            Behaviour::Status(s) => s,
                            Behaviour::Slow(d) => {
                                tokio::time::sleep(d).await;
                                200
                            }
                            Behaviour::StallOnce { at, stall: d } => {
                                if n == at {
                                    stall.active.store(true, Ordering::SeqCst);
                                    tokio::time::sleep(d).await;
                                    stall.active.store(false, Ordering::SeqCst);
                                    stall.released.notify_waiters();
                                } else {
                                    let released = stall.released.notified();
                                    if stall.active.load(Ordering::SeqCst) {
                                        released.await;
                                    }
                                }
                                200
                            }
                        };
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from_static(b"ok")))
                                .unwrap(),
                        )
                    }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    Server { addr, requests }
}

/// A raw TCP fault.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Answers every request with bytes that are not HTTP.
    Garbage,
    /// Reads the request, then resets the connection (RST).
    Reset,
    /// Reads the request and never answers.
    Stall,
    /// Accepts and never reads or answers (not even the TLS / HTTP handshake).
    Blackhole,
}

/// A raw TCP server with a fault; returns its URL.
pub async fn fault_server(f: Fault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(serve_fault(tcp, f));
        }
    });
    format!("http://{addr}/")
}

async fn serve_fault(mut tcp: TcpStream, f: Fault) {
    let mut buf = [0u8; 4096];
    match f {
        Fault::Blackhole => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Fault::Garbage => {
            if tcp.read(&mut buf).await.unwrap_or(0) > 0 {
                let _ = tcp
                    .write_all(b"SPLORK 9000 \x00\x01\x02 not http at all\r\n\r\n")
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Fault::Reset => {
            let _ = tcp.read(&mut buf).await;
            let _ = tcp.set_zero_linger();
            drop(tcp);
        }
        Fault::Stall => {
            let _ = tcp.read(&mut buf).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }
}

/// A URL on which nothing listens (connections are refused).
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/")
}
