//! How connections are spread over threads: one single-threaded runtime per core, each with its
//! own listener on the shared port (`SO_REUSEPORT`), or one listener on the process's shared
//! work-stealing runtime.
//!
//! Per core, a request, its adapter instance, the `wasi:http` tasks and the upstream connection
//! (the runtime's egress pools are per thread in this mode) all stay on the thread that accepted
//! the connection, so no step of it wakes another thread.

use super::{serve, FrontSettings, FrontStats, TlsAcceptor};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Semaphore};

/// How connections are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threading {
    /// This many threads, each with a single-threaded runtime and its own listener on the
    /// shared port; the kernel spreads connections over them. `PerCore(0)` serves with one.
    PerCore(usize),
    /// One listener on the caller's runtime (Tokio's work-stealing scheduler when the caller
    /// runs the multi-threaded one), as before the per-core design; kept to compare.
    WorkStealing,
}

impl Default for Threading {
    /// One thread per core where `SO_REUSEPORT` exists; elsewhere the shared runtime.
    fn default() -> Self {
        if cfg!(unix) {
            Threading::PerCore(std::thread::available_parallelism().map_or(1, |n| n.get()))
        } else {
            Threading::WorkStealing
        }
    }
}

impl Threading {
    /// Whether requests run on per-thread runtimes (so per-thread egress pools pay).
    pub fn per_core(self) -> bool {
        matches!(self, Threading::PerCore(_))
    }
}

/// Bound listening sockets, one per serving thread.
pub(crate) struct Listeners {
    /// The address they share.
    pub addr: SocketAddr,
    sockets: Vec<TcpListener>,
    threading: Threading,
}

/// Binds `addr` once per serving thread (all on the same port with `SO_REUSEPORT`; with port 0,
/// the port the first one got).
pub(crate) async fn bind(addr: SocketAddr, threading: Threading) -> io::Result<Listeners> {
    let count = match threading {
        Threading::PerCore(n) => n.max(1),
        Threading::WorkStealing => {
            let listener = TcpListener::bind(addr).await?;
            return Ok(Listeners {
                addr: listener.local_addr()?,
                sockets: vec![listener],
                threading,
            });
        }
    };
    let mut sockets = Vec::with_capacity(count);
    let mut shared = addr;
    for _ in 0..count {
        let socket = reuse_port_listener(shared)?;
        shared = socket.local_addr()?;
        sockets.push(socket);
    }
    Ok(Listeners {
        addr: shared,
        sockets,
        threading,
    })
}

#[cfg(unix)]
fn reuse_port_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

#[cfg(not(unix))]
fn reuse_port_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

/// What every serving thread serves with.
#[derive(Clone)]
pub(crate) struct Door {
    /// The routes.
    pub app: axum::Router,
    /// Limits and TLS settings.
    pub settings: FrontSettings,
    /// The TLS acceptor, when serving HTTPS.
    pub acceptor: Option<TlsAcceptor>,
    /// Counters shared by all threads.
    pub stats: Arc<FrontStats>,
    /// How long requests in flight may finish after the stop.
    pub grace: Duration,
}

/// Serves on every listener until `stop` fires (or is dropped), then lets each thread's
/// connections finish within the grace period. Resolves when all threads have stopped serving.
///
/// Each serving thread then keeps running its runtime until `release`'s sender is dropped:
/// connections to the key database or Redis opened from a request on that thread are driven
/// by it, and the gateway's last spend flush still needs them.
pub(crate) async fn serve_all(
    listeners: Listeners,
    door: Door,
    stop: oneshot::Receiver<()>,
    release: watch::Receiver<()>,
) -> io::Result<()> {
    // One connection cap for the whole process, however many threads accept.
    let slots = Arc::new(Semaphore::new(door.settings.max_connections));
    if listeners.threading == Threading::WorkStealing {
        let listener = listeners.sockets.into_iter().next().expect("one listener");
        let stopped = async move {
            let _ = stop.await;
        };
        serve(listener, door, slots, stopped).await;
        return Ok(());
    }
    let (signal, stopped) = watch::channel(false);
    let mut done = Vec::with_capacity(listeners.sockets.len());
    for (index, listener) in listeners.sockets.into_iter().enumerate() {
        // The socket leaves this runtime's reactor and joins the serving thread's.
        let listener = listener.into_std()?;
        let (finished, finished_rx) = oneshot::channel::<()>();
        let (door, slots) = (door.clone(), slots.clone());
        let mut stopped = stopped.clone();
        let mut release = release.clone();
        std::thread::Builder::new()
            .name(format!("wasmgate-serve-{index}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a single-threaded runtime");
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            tracing::error!("serving thread {index} cannot listen: {e}");
                            return;
                        }
                    };
                    let stop = async move {
                        // Stops on the signal, or when the gateway is gone.
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    serve(listener, door, slots, stop).await;
                    let _ = finished.send(());
                    while release.changed().await.is_ok() {}
                });
                // Tasks still spawned on this runtime (idle upstream connections) end here.
                drop(runtime);
            })?;
        done.push(finished_rx);
    }
    let _ = stop.await;
    let _ = signal.send(true);
    let mut result = Ok(());
    for (index, finished) in done.into_iter().enumerate() {
        if finished.await.is_err() {
            result = Err(io::Error::other(format!("serving thread {index} panicked")));
        }
    }
    result
}
