//! The front door: the listener clients connect to. It bounds what a client can hold (header,
//! idle and body timeouts, a connection cap, header sizes, HTTP/2 streams and resets),
//! terminates TLS when configured, and shuts down gracefully.

pub(crate) mod der;
mod idle;
mod threads;
mod tls;

pub use threads::Threading;
pub(crate) use threads::{bind, serve_all, Door};

pub use tls::{acceptor as tls_acceptor, TlsError, TlsFiles};
pub use tokio_rustls::TlsAcceptor;

use idle::{Busy, IdleTimeout};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Limits and TLS of the listener; every one is configurable under `server:`.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontSettings {
    /// A request's headers must arrive within this (HTTP/1; also bounds the wait for the next
    /// request on a kept-alive connection).
    pub header_timeout: Duration,
    /// A connection with no traffic and no request in progress is closed after this.
    pub idle_timeout: Duration,
    /// A request body must arrive whole within this.
    pub body_timeout: Duration,
    /// Connections open at once; past it a new connection waits `connection_wait` for a free
    /// slot and is then closed (and counted).
    pub max_connections: usize,
    /// See `max_connections`.
    pub connection_wait: Duration,
    /// Largest request head (HTTP/1) or header list (HTTP/2), in bytes.
    pub max_header_bytes: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub http2_max_streams: u32,
    /// Streams an HTTP/2 client may reset before the server accepts them; past it the
    /// connection is closed (rapid-reset protection).
    pub http2_max_pending_resets: usize,
    /// TLS, when the listener serves HTTPS.
    pub tls: Option<TlsFiles>,
    /// A TLS handshake must finish within this.
    pub tls_handshake_timeout: Duration,
}

impl Default for FrontSettings {
    fn default() -> Self {
        FrontSettings {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            body_timeout: Duration::from_secs(60),
            max_connections: 4096,
            connection_wait: Duration::from_millis(100),
            max_header_bytes: 64 << 10,
            http2_max_streams: 128,
            http2_max_pending_resets: 20,
            tls: None,
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// What the front door has done, for logs and tests.
#[derive(Debug, Default)]
pub struct FrontStats {
    refused: AtomicU64,
    accepted: AtomicU64,
}

impl FrontStats {
    /// Connections closed because the connection cap was reached.
    pub fn refused_connections(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections accepted.
    pub fn accepted_connections(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

/// A client connection, plain or TLS.
enum Stream {
    Plain(IdleTimeout<TcpStream>),
    Tls(Box<tokio_rustls::server::TlsStream<IdleTimeout<TcpStream>>>),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Plain($s) => {
                let $s = Pin::new($s);
                $e
            }
            Stream::Tls($s) => {
                let $s = Pin::new($s.as_mut());
                $e
            }
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        delegate!(self, s => s.poll_write(cx, b))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => s.poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// A response body that keeps its request counted as in progress until it is done.
struct Tracked {
    body: axum::body::Body,
    _busy: idle::BusyGuard,
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The connection builder with every limit set.
fn builder(
    settings: &FrontSettings,
) -> hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor> {
    use hyper_util::rt::{TokioExecutor, TokioTimer};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .max_buf_size(settings.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.http2_max_streams)
        .max_header_list_size(settings.max_header_bytes as u32)
        .max_pending_accept_reset_streams(settings.http2_max_pending_resets)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// Serves `door.app` on `listener` (over TLS with `door.acceptor`) until `shutdown` resolves,
/// then lets connections in flight finish for at most `door.grace`. A connection holds one of
/// `slots` (the `max_connections` cap, shared by every listener of the process) while open.
pub(crate) async fn serve(
    listener: TcpListener,
    door: Door,
    slots: Arc<Semaphore>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let Door {
        app,
        settings,
        acceptor,
        stats,
        grace,
    } = door;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = Arc::new(builder(&settings));
    let settings = Arc::new(settings);
    let mut last_refusal_log = Instant::now() - Duration::from_secs(60);
    tokio::pin!(shutdown);
    loop {
        let (tcp, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Past the cap: wait briefly for a slot off the accept loop, else close.
                let slots = slots.clone();
                let stats = stats.clone();
                let wait = settings.connection_wait;
                let log = last_refusal_log.elapsed() > Duration::from_secs(10);
                if log {
                    last_refusal_log = Instant::now();
                }
                let conn = ConnTask {
                    builder: builder.clone(),
                    app: app.clone(),
                    settings: settings.clone(),
                    acceptor: acceptor.clone(),
                    watcher: graceful.watcher(),
                };
                tokio::spawn(async move {
                    match tokio::time::timeout(wait, slots.acquire_owned()).await {
                        Ok(Ok(permit)) => conn.run(tcp, permit, &stats).await,
                        _ => {
                            let refused = stats.refused.fetch_add(1, Ordering::Relaxed) + 1;
                            if log {
                                tracing::warn!(
                                    refused,
                                    "connection refused: max_connections reached"
                                );
                            }
                        }
                    }
                });
                continue;
            }
        };
        let conn = ConnTask {
            builder: builder.clone(),
            app: app.clone(),
            settings: settings.clone(),
            acceptor: acceptor.clone(),
            watcher: graceful.watcher(),
        };
        let stats = stats.clone();
        tokio::spawn(async move { conn.run(tcp, permit, &stats).await });
    }
    drop(listener);
    tracing::info!(
        "shutting down: no new connections; waiting up to {grace:?} for requests in flight"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over; exiting with requests still in flight");
    }
}

/// What one connection needs.
struct ConnTask {
    builder: Arc<hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>>,
    app: axum::Router,
    settings: Arc<FrontSettings>,
    acceptor: Option<TlsAcceptor>,
    watcher: hyper_util::server::graceful::Watcher,
}

impl ConnTask {
    async fn run(
        self,
        tcp: TcpStream,
        _slot: tokio::sync::OwnedSemaphorePermit,
        stats: &FrontStats,
    ) {
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let busy = Busy::default();
        let tcp = IdleTimeout::new(tcp, self.settings.idle_timeout, busy.clone());
        let stream = match &self.acceptor {
            None => Stream::Plain(tcp),
            Some(acceptor) => {
                let handshake = acceptor.accept(tcp);
                match tokio::time::timeout(self.settings.tls_handshake_timeout, handshake).await {
                    Ok(Ok(tls)) => Stream::Tls(Box::new(tls)),
                    Ok(Err(e)) => {
                        tracing::debug!("TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake timed out");
                        return;
                    }
                }
            }
        };
        let app = self.app;
        let service =
            hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let guard = busy.enter();
                let app = app.clone();
                async move {
                    let mut app = app;
                    let response =
                        tower_service::Service::call(&mut app, request.map(axum::body::Body::new))
                            .await
                            .unwrap_or_else(|never| match never {});
                    Ok::<_, std::convert::Infallible>(
                        response.map(|body| axum::body::Body::new(Tracked { body, _busy: guard })),
                    )
                }
            });
        let io = hyper_util::rt::TokioIo::new(stream);
        let conn = self.builder.serve_connection_with_upgrades(io, service);
        let _ = self.watcher.watch(conn.into_owned()).await;
    }
}
