//! Local mode's TCP server: [`serve`] is `axum::serve` plus the limits it lacks, so a client that
//! opens sockets and sends nothing cannot use up the process's file descriptors and silence the UI,
//! the API and `/healthz`.
//!
//! - **Header-read timeout.** A connection must send a whole request header within
//!   [`Limits::header_read_timeout`] of opening, and again within it after each response (hyper
//!   starts the same timer whenever the connection is idle); otherwise it is closed.
//! - **Connection cap.** At most [`Limits::max_connections`] HTTP connections are open at once. A new
//!   connection past the cap closes the oldest one that has no request in progress (a half-open socket,
//!   or an idle keep-alive one: a browser reopens those at no cost); if every connection is busy, the
//!   new one is closed instead. Sockets upgraded to WebSockets leave this count: they are authenticated
//!   and capped per user (`hub::MAX_CONNECTIONS_PER_USER`).
//! - **Accept errors** (such as running out of descriptors) are logged and retried after a pause,
//!   instead of ending the server.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long a connection may take to send a request header (and may stay idle between requests).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The connection cap [`Limits::for_this_process`] never exceeds.
const MAX_CONNECTIONS: usize = 1024;

/// How long an open connection may take to finish once the server is told to stop.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The limits [`serve`] enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    /// [`HEADER_READ_TIMEOUT`], and a cap of half the process's file descriptor limit (the other half
    /// stays for the database, the runner's pipes, WebSockets and the agent's files), at most 1,024.
    pub fn for_this_process() -> Self {
        let descriptors = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX);
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: usize::try_from(descriptors / 2)
                .unwrap_or(MAX_CONNECTIONS)
                .clamp(16, MAX_CONNECTIONS),
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then lets open requests
/// finish (for a few seconds at most).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(OpenConnections::default());
    let stopping = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(connection) = open.admit(limits.max_connections) else {
            tracing::warn!(
                max = limits.max_connections,
                "connection refused: every open connection is busy"
            );
            continue;
        };
        tasks.spawn(serve_connection(
            stream,
            router.clone(),
            limits,
            connection,
            Arc::clone(&open),
            stopping.clone(),
        ));
        while tasks.try_join_next().is_some() {}
    }
    stopping.cancel();
    if tokio::time::timeout(DRAIN_TIMEOUT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::info!("closing connections still open after {DRAIN_TIMEOUT:?}");
    }
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    connection: Admitted,
    open: Arc<OpenConnections>,
    stopping: CancellationToken,
) {
    // Small frames (deltas) go out at once, as with `axum::serve`.
    let _ = stream.set_nodelay(true);
    let busy = Arc::clone(&connection.busy);
    let service = service_fn(move |request: Request<Incoming>| {
        let counted = InFlight::enter(&busy);
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await;
            drop(counted);
            response
        }
    });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(served);
    tokio::select! {
        _ = served.as_mut() => {}
        () = connection.evict.cancelled() => {}
        () = stopping.cancelled() => {
            served.as_mut().graceful_shutdown();
            let _ = served.await;
        }
    }
    open.remove(connection.id);
}

/// The open connections, oldest first.
#[derive(Default)]
struct OpenConnections {
    next_id: AtomicU64,
    entries: Mutex<BTreeMap<u64, Entry>>,
}

struct Entry {
    busy: Arc<AtomicUsize>,
    evict: CancellationToken,
}

/// A connection let in by [`OpenConnections::admit`].
struct Admitted {
    id: u64,
    /// Requests in progress on it.
    busy: Arc<AtomicUsize>,
    /// Cancelled when a newer connection needs its place.
    evict: CancellationToken,
}

impl OpenConnections {
    /// Lets a new connection in, closing the oldest idle one when `max` are open; `None` when all
    /// `max` are busy.
    fn admit(&self, max: usize) -> Option<Admitted> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= max {
            let idle = entries
                .iter()
                .find(|(_, entry)| entry.busy.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id)?;
            if let Some(entry) = entries.remove(&idle) {
                entry.evict.cancel();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let busy = Arc::new(AtomicUsize::new(0));
        let evict = CancellationToken::new();
        entries.insert(
            id,
            Entry {
                busy: Arc::clone(&busy),
                evict: evict.clone(),
            },
        );
        Some(Admitted { id, busy, evict })
    }

    fn remove(&self, id: u64) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
}

/// Counts one request in progress on its connection until dropped.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(busy: &Arc<AtomicUsize>) -> Self {
        busy.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(busy))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Serves a one-route app within `limits`; its address.
    async fn server(limits: Limits) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/healthz", get(|| async { "ok" }));
        tokio::spawn(serve(listener, app, limits, std::future::pending()));
        addr
    }

    /// Reads until the server closes the socket; fails if that takes more than `within`.
    async fn closed_within(socket: &mut TcpStream, within: Duration) -> Vec<u8> {
        let mut read = Vec::new();
        tokio::time::timeout(within, socket.read_to_end(&mut read))
            .await
            .expect("the server closes the connection")
            .ok();
        read
    }

    async fn healthz(addr: std::net::SocketAddr) -> String {
        let mut socket = TcpStream::connect(addr).await.unwrap();
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8(closed_within(&mut socket, Duration::from_secs(5)).await).unwrap()
    }

    #[tokio::test]
    async fn a_connection_that_sends_no_whole_header_is_closed_after_the_timeout() {
        let addr = server(Limits {
            header_read_timeout: Duration::from_millis(200),
            max_connections: 16,
        })
        .await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut partial = TcpStream::connect(addr).await.unwrap();
        partial
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: loc")
            .await
            .unwrap();
        assert!(
            closed_within(&mut silent, Duration::from_secs(5))
                .await
                .is_empty()
        );
        // hyper answers a header cut short by its timeout with 408 before closing.
        let answer = closed_within(&mut partial, Duration::from_secs(5)).await;
        assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
        // An idle keep-alive connection is closed the same way after its response.
        let mut kept = TcpStream::connect(addr).await.unwrap();
        kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let answer = closed_within(&mut kept, Duration::from_secs(5)).await;
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200 OK"));
    }

    #[tokio::test]
    async fn half_open_sockets_past_the_cap_make_room_for_a_real_request() {
        let addr = server(Limits {
            header_read_timeout: Duration::from_secs(60),
            max_connections: 4,
        })
        .await;
        let mut silent = Vec::new();
        for _ in 0..4 {
            silent.push(TcpStream::connect(addr).await.unwrap());
        }
        assert!(healthz(addr).await.ends_with("ok"));
        assert!(
            closed_within(&mut silent[0], Duration::from_secs(5))
                .await
                .is_empty(),
            "the oldest idle socket was closed for it"
        );
    }

    #[test]
    fn past_the_cap_the_oldest_idle_connection_makes_room() {
        let open = OpenConnections::default();
        let first = open.admit(2).unwrap();
        let second = open.admit(2).unwrap();
        let _busy = InFlight::enter(&first.busy);
        let third = open.admit(2).expect("an idle connection makes room");
        assert!(!first.evict.is_cancelled(), "a busy connection stays");
        assert!(second.evict.is_cancelled(), "the oldest idle one goes");
        let _also_busy = InFlight::enter(&third.busy);
        assert!(open.admit(2).is_none(), "all busy: the new one is refused");
        open.remove(first.id);
        assert!(
            open.admit(2).is_some(),
            "a closed connection frees its place"
        );
    }
}
