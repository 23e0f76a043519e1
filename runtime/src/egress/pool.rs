//! The upstream connection pool: keep-alive HTTP/1.1 connections, each driven by the request
//! that uses it rather than by a task of its own.
//!
//! hyper's pooled client spawns a task per connection, and every request, response head and body
//! frame is handed between that task and the caller: a wake-up and a turn of the scheduler each
//! (for a stream, one per event). Here a request checks a connection out, polls it while it
//! waits for the response head, and hands it to the response body, which polls it while it is
//! read; when the body ends, the connection goes back to the pool. An idle connection is polled
//! by nobody: one the server closed meanwhile is found closed at checkout and dropped, and a
//! request that a reused connection could not start is sent again on a fresh one.

use super::allow::default_port;
use super::client::GuardedConnector;
use super::WasiBody;
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tower_service::Service;

type Io = MaybeHttpsStream<TokioIo<TcpStream>>;

/// Why a request through the pool failed: the connector's error (SSRF guard, DNS, connect, TLS)
/// or hyper's.
pub(crate) type SendError = Box<dyn std::error::Error + Send + Sync>;

/// One HTTP/1.1 connection: the handle requests are sent through and the state machine that does
/// the reading and writing, polled by whoever holds the connection.
struct H1Connection {
    sender: http1::SendRequest<WasiBody>,
    driver: http1::Connection<Io, WasiBody>,
}

impl H1Connection {
    /// Polls the connection without a waker to keep: lets it finish a response and become idle,
    /// or notice that the server closed it. Whether it can take a request now.
    fn settle(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        if Pin::new(&mut self.driver).poll(&mut cx).is_ready() {
            return false;
        }
        self.sender.is_ready()
    }
}

/// Where a pooled connection leads: scheme and authority.
#[derive(Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    https: bool,
    authority: Authority,
}

impl PoolKey {
    fn of(uri: &Uri) -> Option<PoolKey> {
        Some(PoolKey {
            https: uri.scheme() == Some(&Scheme::HTTPS),
            authority: uri.authority()?.clone(),
        })
    }
}

struct IdleConnection {
    connection: H1Connection,
    since: Instant,
}

#[derive(Default)]
struct IdleSet {
    by_key: HashMap<PoolKey, Vec<IdleConnection>>,
    last_sweep: Option<Instant>,
}

/// A pool of keep-alive HTTP/1.1 connections (plain or over rustls) whose connector applies the
/// SSRF guard.
pub(crate) struct InlinePool {
    connector: HttpsConnector<GuardedConnector>,
    idle: Mutex<IdleSet>,
    idle_timeout: Duration,
    max_idle_per_host: usize,
}

impl InlinePool {
    /// A pool that opens connections with `connector` and keeps up to `max_idle_per_host` idle
    /// connections per destination for `idle_timeout` each.
    pub(crate) fn new(
        connector: HttpsConnector<GuardedConnector>,
        idle_timeout: Duration,
        max_idle_per_host: usize,
    ) -> InlinePool {
        InlinePool {
            connector,
            idle: Mutex::new(IdleSet::default()),
            idle_timeout,
            max_idle_per_host,
        }
    }

    /// Sends `request` (absolute URI) on a pooled connection, or a new one, and returns the
    /// response whose body drives the connection while it is read.
    pub(crate) async fn request(
        self: &Arc<Self>,
        mut request: Request<WasiBody>,
    ) -> Result<Response<PooledBody>, SendError> {
        let uri = request.uri().clone();
        let key = PoolKey::of(&uri).ok_or("the request URL has no host")?;
        prepare_http1(&mut request, &uri, key.https);
        loop {
            let (mut connection, reused) = match self.checkout(&key) {
                Some(connection) => (connection, true),
                None => (self.connect(&uri).await?, false),
            };
            let mut sent = std::pin::pin!(connection.sender.try_send_request(request));
            let mut ended = false;
            let outcome = std::future::poll_fn(|cx| {
                if !ended {
                    ended = Pin::new(&mut connection.driver).poll(cx).is_ready();
                }
                sent.as_mut().poll(cx)
            })
            .await;
            match outcome {
                Ok(response) => {
                    let lease = (!ended).then(|| Lease {
                        connection,
                        pool: self.clone(),
                        key,
                    });
                    return Ok(response.map(|body| PooledBody { body, lease }));
                }
                Err(mut failed) => match failed.take_message() {
                    // A reused connection the server closed before the request started: once
                    // more on a new one (a new connection failing so is not retried).
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(failed.into_error().into()),
                },
            }
        }
    }

    /// The most recently used idle connection to `key` that can take a request now, if any.
    fn checkout(&self, key: &PoolKey) -> Option<H1Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        self.sweep(&mut idle);
        let list = idle.by_key.get_mut(key)?;
        while let Some(mut entry) = list.pop() {
            if entry.since.elapsed() < self.idle_timeout && entry.connection.settle() {
                return Some(entry.connection);
            }
        }
        None
    }

    /// Drops the connections idle for longer than the timeout, at most once per timeout.
    fn sweep(&self, idle: &mut IdleSet) {
        let now = Instant::now();
        if idle
            .last_sweep
            .is_some_and(|at| now.duration_since(at) < self.idle_timeout)
        {
            return;
        }
        idle.last_sweep = Some(now);
        for list in idle.by_key.values_mut() {
            list.retain(|entry| now.duration_since(entry.since) < self.idle_timeout);
        }
        idle.by_key.retain(|_, list| !list.is_empty());
    }

    /// Puts a connection whose response ended back, when it can take another request.
    fn release(&self, key: PoolKey, mut connection: H1Connection) {
        if !connection.settle() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.by_key.entry(key).or_default();
        if list.len() < self.max_idle_per_host {
            list.push(IdleConnection {
                connection,
                since: Instant::now(),
            });
        }
    }

    async fn connect(&self, uri: &Uri) -> Result<H1Connection, SendError> {
        let io = self.connector.clone().call(uri.clone()).await?;
        let (sender, driver) = http1::Builder::new().handshake(io).await?;
        Ok(H1Connection { sender, driver })
    }
}

/// Sets `host` (with the port when it is not the scheme's) and turns the URI into origin form
/// (`/path?query`), as an HTTP/1.1 request line wants it.
fn prepare_http1(request: &mut Request<WasiBody>, uri: &Uri, https: bool) {
    if !request.headers().contains_key(http::header::HOST) {
        if let Some(authority) = uri.authority() {
            let host = match authority.port_u16() {
                Some(port) if port != default_port(https) => authority.as_str(),
                _ => authority.host(),
            };
            if let Ok(value) = HeaderValue::from_str(host) {
                request.headers_mut().insert(http::header::HOST, value);
            }
        }
    }
    let origin = match uri.path_and_query() {
        Some(pq) if pq.as_str() != "/" => {
            let mut parts = http::uri::Parts::default();
            parts.path_and_query = Some(pq.clone());
            Uri::from_parts(parts).unwrap_or_default()
        }
        _ => Uri::default(),
    };
    *request.uri_mut() = origin;
}

/// A connection lent to one response: it goes back to the pool when the body has ended.
struct Lease {
    connection: H1Connection,
    pool: Arc<InlinePool>,
    key: PoolKey,
}

/// A response body read from a pooled connection, which it drives while it is read.
pub(crate) struct PooledBody {
    body: Incoming,
    /// The connection, until the body ends (then back to the pool) or the connection does.
    lease: Option<Lease>,
}

impl PooledBody {
    /// Returns the connection to the pool once the body has ended, and drops it when the body
    /// failed.
    fn after_frame(&mut self, frame: &Option<Result<Frame<bytes::Bytes>, hyper::Error>>) {
        match frame {
            Some(Err(_)) => self.lease = None,
            None => self.release(),
            Some(Ok(_)) if self.body.is_end_stream() => self.release(),
            Some(Ok(_)) => {}
        }
    }

    fn release(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.pool.release(lease.key, lease.connection);
        }
    }
}

impl Body for PooledBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.after_frame(&frame);
            return Poll::Ready(frame);
        }
        if let Some(lease) = &mut this.lease {
            // Reads what the socket has into the body (or ends the body when the connection ends).
            if Pin::new(&mut lease.connection.driver).poll(cx).is_ready() {
                this.lease = None;
            }
        }
        let frame = std::task::ready!(Pin::new(&mut this.body).poll_frame(cx));
        this.after_frame(&frame);
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // A body dropped after its last frame but before it was polled to the end.
        if self.body.is_end_stream() {
            self.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::client::{ClientConfig, EgressClient};
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::mpsc;

    /// What the test server saw of one request: its connection's number, request line and host.
    #[derive(Debug)]
    struct Seen {
        connection: usize,
        line: String,
        host: String,
    }

    /// A loopback HTTP/1.1 server that answers every request with the next of `answers` (raw
    /// bytes) and reports what it saw; it closes a connection after an answer marked `close`.
    /// Over TLS when given an acceptor.
    async fn server_over(
        tls: Option<tokio_rustls::TlsAcceptor>,
        answers: Vec<(&'static str, bool)>,
    ) -> (Uri, mpsc::UnboundedReceiver<Seen>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let uri = format!("{scheme}://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let (seen, reports) = mpsc::unbounded_channel();
        let answers = Arc::new(Mutex::new(answers.into_iter()));
        let connections = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (answers, seen, tls) = (answers.clone(), seen.clone(), tls.clone());
                let connection = connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    match tls {
                        Some(tls) => {
                            let Ok(socket) = tls.accept(socket).await else {
                                return;
                            };
                            answer(socket, connection, answers, seen).await;
                        }
                        None => answer(socket, connection, answers, seen).await,
                    }
                });
            }
        });
        (uri, reports)
    }

    async fn server(answers: Vec<(&'static str, bool)>) -> (Uri, mpsc::UnboundedReceiver<Seen>) {
        server_over(None, answers).await
    }

    type Answers = Arc<Mutex<std::vec::IntoIter<(&'static str, bool)>>>;

    async fn answer<S>(
        mut socket: S,
        connection: usize,
        answers: Answers,
        seen: mpsc::UnboundedSender<Seen>,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            if !head.ends_with(b"\r\n\r\n") {
                match socket.read(&mut byte).await {
                    Ok(1) => head.push(byte[0]),
                    _ => return,
                }
                continue;
            }
            let text = String::from_utf8_lossy(&head).to_string();
            head.clear();
            let mut lines = text.lines();
            let line = lines.next().unwrap_or_default().to_string();
            let host = lines
                .find_map(|l| l.strip_prefix("host: "))
                .unwrap_or_default()
                .to_string();
            let _ = seen.send(Seen {
                connection,
                line,
                host,
            });
            let next = answers.lock().unwrap().next();
            let Some((text, close)) = next else { return };
            if socket.write_all(text.as_bytes()).await.is_err() || close {
                let _ = socket.shutdown().await;
                return;
            }
            let _ = socket.flush().await;
        }
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";

    fn pool() -> Arc<InlinePool> {
        EgressClient::new(&ClientConfig::default())
            .unwrap()
            .pool(true)
    }

    fn get(uri: &Uri, path: &str) -> Request<WasiBody> {
        let body = http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let authority = uri.authority().unwrap();
        Request::get(format!("http://{authority}{path}"))
            .body(body)
            .unwrap()
    }

    async fn fetch(pool: &Arc<InlinePool>, uri: &Uri, path: &str) -> String {
        let response = tokio::time::timeout(Duration::from_secs(10), pool.request(get(uri, path)))
            .await
            .unwrap()
            .unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_connection_is_reused_once_its_response_was_read() {
        let (uri, mut seen) = server(vec![(OK, false); 3]).await;
        let pool = pool();
        for _ in 0..3 {
            assert_eq!(fetch(&pool, &uri, "/v1/models?x=1").await, "hello");
        }
        for _ in 0..3 {
            let seen = seen.recv().await.unwrap();
            assert_eq!(seen.connection, 0);
            assert_eq!(seen.line, "GET /v1/models?x=1 HTTP/1.1");
            assert_eq!(seen.host, uri.authority().unwrap().as_str());
        }
    }

    #[tokio::test]
    async fn a_request_on_a_connection_the_server_closed_goes_out_on_a_new_one() {
        let (uri, mut seen) = server(vec![(OK, true), (OK, false)]).await;
        let pool = pool();
        assert_eq!(fetch(&pool, &uri, "/").await, "hello");
        assert_eq!(seen.recv().await.unwrap().connection, 0);
        // Let the close reach the client before the pooled connection is checked out.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(fetch(&pool, &uri, "/").await, "hello");
        let second = seen.recv().await.unwrap();
        assert_eq!(
            (second.connection, second.line.as_str()),
            (1, "GET / HTTP/1.1")
        );
    }

    #[tokio::test]
    async fn a_connection_that_answered_connection_close_is_not_kept() {
        let close = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\nhello";
        let (uri, mut seen) = server(vec![(close, false), (OK, false)]).await;
        let pool = pool();
        assert_eq!(fetch(&pool, &uri, "/").await, "hello");
        assert_eq!(fetch(&pool, &uri, "/").await, "hello");
        assert_eq!(seen.recv().await.unwrap().connection, 0);
        assert_eq!(seen.recv().await.unwrap().connection, 1);
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_does_not_return_its_connection() {
        let chunked = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n";
        let (uri, mut seen) = server(vec![(chunked, false), (OK, false)]).await;
        let pool = pool();
        let response = pool.request(get(&uri, "/")).await.unwrap();
        let mut body = response.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"hello");
        drop(body);
        assert_eq!(fetch(&pool, &uri, "/").await, "hello");
        assert_eq!(seen.recv().await.unwrap().connection, 0);
        assert_eq!(seen.recv().await.unwrap().connection, 1);
    }

    #[tokio::test]
    async fn a_streamed_body_arrives_while_the_reader_drives_its_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: Uri = format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let (step, mut steps) = mpsc::unbounded_channel::<&'static str>();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                .await
                .unwrap();
            while let Some(part) = steps.recv().await {
                socket.write_all(part.as_bytes()).await.unwrap();
            }
        });
        let pool = pool();
        let response = pool.request(get(&uri, "/")).await.unwrap();
        let mut body = response.into_body();
        for (part, text) in [("3\r\none\r\n", "one"), ("3\r\ntwo\r\n", "two")] {
            step.send(part).unwrap();
            let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(frame.into_data().unwrap(), text);
        }
        step.send("0\r\n\r\n").unwrap();
        let end = tokio::time::timeout(Duration::from_secs(10), body.frame()).await;
        assert!(end.unwrap().is_none());
    }

    #[tokio::test]
    async fn idle_connections_past_the_timeout_are_not_used() {
        let (uri, mut seen) = server(vec![(OK, false); 2]).await;
        let config = ClientConfig {
            pool_idle_timeout: Duration::from_millis(20),
            ..ClientConfig::default()
        };
        let pool = EgressClient::new(&config).unwrap().pool(true);
        assert_eq!(fetch(&pool, &uri, "/").await, "hello");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(fetch(&pool, &uri, "/").await, "hello");
        assert_eq!(seen.recv().await.unwrap().connection, 0);
        assert_eq!(seen.recv().await.unwrap().connection, 1);
    }

    fn tls_acceptor(pki: &wasmgate_test_support::pki::TestPki) -> tokio_rustls::TlsAcceptor {
        use rustls_pki_types::pem::PemObject;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(&pki.server.cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(&pki.server.key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }

    #[tokio::test]
    async fn https_connections_are_verified_and_reused() {
        let dir = std::env::temp_dir().join(format!("wasmgate-pool-tls-{}", std::process::id()));
        let pki = wasmgate_test_support::pki::TestPki::create(&dir);
        let (uri, mut seen) = server_over(Some(tls_acceptor(&pki)), vec![(OK, false); 2]).await;
        let config = ClientConfig {
            extra_root_certificates: vec![std::fs::read(&pki.ca).unwrap()],
            ..ClientConfig::default()
        };
        let trusting = EgressClient::new(&config).unwrap().pool(true);
        let https = |uri: &Uri| {
            let body = http_body_util::Empty::new()
                .map_err(|never| match never {})
                .boxed_unsync();
            Request::get(format!("https://{}/v1/models", uri.authority().unwrap()))
                .body(body)
                .unwrap()
        };
        for _ in 0..2 {
            let response = trusting.request(https(&uri)).await.unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"hello");
        }
        for _ in 0..2 {
            let seen = seen.recv().await.unwrap();
            // HTTP/1.1 although the server offers HTTP/2 as well.
            assert_eq!(
                (seen.connection, seen.line.as_str()),
                (0, "GET /v1/models HTTP/1.1")
            );
        }
        // Without the test CA, the server's certificate is refused.
        let Err(error) = pool().request(https(&uri)).await else {
            panic!("a certificate from an unknown CA was accepted");
        };
        assert!(
            matches!(
                super::super::hooks::error_code(&*error),
                wasmtime_wasi_http::Error::TlsCertificateError
            ),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn chunks_read_together_come_joined_after_the_first() {
        const FOUR_CHUNKS: &str = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
            3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n4\r\nfour\r\n0\r\n\r\n";
        async fn texts<B: Body<Data = bytes::Bytes> + Unpin>(mut body: B) -> Vec<String> {
            let mut out = Vec::new();
            while let Some(Ok(frame)) = body.frame().await {
                out.extend(
                    frame
                        .data_ref()
                        .map(|d| String::from_utf8_lossy(d).into_owned()),
                );
            }
            out
        }
        let (uri, _seen) = server(vec![(FOUR_CHUNKS, false); 2]).await;
        let pool = pool();
        // hyper hands each chunk over on its own, although one read brought them all.
        let plain = pool.request(get(&uri, "/")).await.unwrap().into_body();
        assert_eq!(texts(plain).await, ["one", "two", "three", "four"]);
        // The first passes at once; the rest, there already, come together.
        let body = pool.request(get(&uri, "/")).await.unwrap().into_body();
        let joined = super::super::body::JoinReady::new(body);
        assert_eq!(texts(joined).await, ["one", "twothreefour"]);
    }
}
