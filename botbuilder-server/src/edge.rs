//! The network edge: accepting connections so that no client, slow or many, can stop others
//! from being served.
//!
//! [`serve_connections`] is the accept loop the server runs (HTTP/1.1 on hyper):
//!
//! - **Connection caps.** At most [`EdgeLimits::max_connections`] at once, and at most
//!   [`EdgeLimits::max_connections_per_ip`] from one peer address (0: no per-address cap).
//!   A connection over a cap is answered `503` problem+json with `Retry-After` and closed, so
//!   a flood from one address leaves room for everyone else. The caps are clamped below the
//!   process's file-descriptor limit ([`raise_fd_limit`] lifts the soft limit first).
//! - **Timeouts on the connection** ([`TimedIo`]): a request head must arrive completely
//!   within [`EdgeLimits::header_timeout`] of its first byte, and a connection with no
//!   request in flight is closed after [`EdgeLimits::idle_timeout`] without traffic (the
//!   keep-alive timeout). Once a request is being handled, these stop counting: a long
//!   answer or an event stream is not cut. (The request *body* is bounded by the body
//!   timeouts of the middleware stack.)
//! - **Accept errors** (out of file descriptors) are logged at most once a second and the
//!   loop pauses briefly instead of spinning.
//! - **Graceful shutdown**: when `shutdown` resolves the listener closes, every connection
//!   finishes its current request and closes; [`serve_connections`] returns once all are
//!   gone (the caller bounds that wait with its grace period).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// Limits of the network edge (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Longest a request head may take from its first byte to its end.
    pub header_timeout: Duration,
    /// Longest a connection may sit without traffic while no request is in flight.
    pub idle_timeout: Duration,
    /// Most connections at once.
    pub max_connections: usize,
    /// Most connections at once from one peer address (0: no cap).
    pub max_connections_per_ip: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections: 10_000,
            max_connections_per_ip: 256,
        }
    }
}

/// Connections open now, in all and per peer address.
#[derive(Debug, Default)]
struct Census {
    by_ip: Mutex<HashMap<IpAddr, usize>>,
    total: AtomicUsize,
}

/// A connection's place in the [`Census`]; leaving frees it.
#[derive(Debug)]
struct Slot {
    census: Arc<Census>,
    ip: IpAddr,
}

impl Census {
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &EdgeLimits) -> Option<Slot> {
        let mut by_ip = self.by_ip.lock().expect("census poisoned");
        if self.total.load(Ordering::Relaxed) >= limits.max_connections {
            return None;
        }
        let mine = by_ip.entry(ip).or_default();
        if limits.max_connections_per_ip > 0 && *mine >= limits.max_connections_per_ip {
            return None;
        }
        *mine += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            census: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut by_ip = self.census.by_ip.lock().expect("census poisoned");
        if let Some(n) = by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                by_ip.remove(&self.ip);
            }
        }
        self.census.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Requests of one connection being handled (from the head parsed to the response's last
/// byte written), and the connection's reader to wake when the last one ends (so its idle
/// timer starts).
#[derive(Debug, Default)]
struct InFlight {
    count: AtomicUsize,
    reader: futures::task::AtomicWaker,
}

/// Counts one request in flight until dropped (it travels into the response body).
#[derive(Debug)]
struct InFlightGuard(Arc<InFlight>);

impl InFlightGuard {
    fn new(in_flight: &Arc<InFlight>) -> Self {
        in_flight.count.fetch_add(1, Ordering::SeqCst);
        Self(in_flight.clone())
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.reader.wake();
        }
    }
}

/// A connection's I/O with the header and idle timeouts (see the module docs): reads fail
/// with `TimedOut` when a head takes too long or an idle connection stays silent.
#[derive(Debug)]
pub struct TimedIo<T> {
    inner: T,
    in_flight: Arc<InFlight>,
    limits: EdgeLimits,
    /// When the current request head started arriving (a byte read with nothing in flight).
    head_started: Option<Instant>,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<T> TimedIo<T> {
    fn new(inner: T, in_flight: Arc<InFlight>, limits: EdgeLimits) -> Self {
        let now = Instant::now();
        Self {
            inner,
            in_flight,
            limits,
            head_started: None,
            last_activity: now,
            timer: Box::pin(tokio::time::sleep_until(now + limits.idle_timeout)),
        }
    }

    fn busy(&self) -> bool {
        self.in_flight.count.load(Ordering::SeqCst) > 0
    }

    /// The deadline in force: the head's, or the idle one's.
    fn deadline(&self) -> Instant {
        match self.head_started {
            Some(started) => started + self.limits.header_timeout,
            None => self.last_activity + self.limits.idle_timeout,
        }
    }

    /// After a write: bytes sent are activity.
    fn note_write(&mut self, written: &Poll<io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
            self.last_activity = Instant::now();
        }
    }

    /// After a read that produced `n` bytes.
    fn note_read(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let now = Instant::now();
        self.last_activity = now;
        if self.busy() {
            self.head_started = None;
        } else if self.head_started.is_none() {
            self.head_started = Some(now);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                let n = buf.filled().len() - before;
                self.note_read(n);
                Poll::Ready(result)
            }
            Poll::Pending => {
                self.in_flight.reader.register(cx.waker());
                if self.busy() {
                    // A request is being handled: its own time limits apply, not ours.
                    self.head_started = None;
                    return Poll::Pending;
                }
                let deadline = self.deadline();
                if Instant::now() >= deadline {
                    let what = if self.head_started.is_some() {
                        "the request head did not arrive in time"
                    } else {
                        "the connection was idle too long"
                    };
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                }
                self.timer.as_mut().reset(deadline);
                // Registers the waker for the deadline; Pending until then.
                let _ = self.timer.as_mut().poll(cx);
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note_write(&written);
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note_write(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The answer to a connection over a cap: 503 problem+json with `Retry-After`, then close.
fn busy_response() -> String {
    let body = "{\"type\":\"urn:botbuilder:problem:server_busy\",\"title\":\"Service Unavailable\",\
        \"status\":503,\"detail\":\"too many connections; retry shortly\",\"code\":\"server_busy\"}";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Refusals being written at once at most; beyond, a connection is just closed.
const MAX_REFUSALS: usize = 64;

async fn refuse(mut stream: TcpStream) {
    let answer = async {
        stream.write_all(busy_response().as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
    // Give the client a moment to read before the socket closes (a close with unread input
    // would reset the connection and lose the answer).
    let mut sink = [0u8; 1024];
    let drain = async {
        while tokio::io::AsyncReadExt::read(&mut stream, &mut sink)
            .await
            .is_ok_and(|n| n > 0)
        {}
    };
    let _ = tokio::time::timeout(Duration::from_millis(200), drain).await;
}

/// Whether an accept error concerns one connection only (the next accept may succeed).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then waits for the
/// open connections to finish (see the module docs). Each request carries
/// `ConnectInfo<SocketAddr>` of its peer.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: EdgeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let census = Arc::new(Census::default());
    let refusals = Arc::new(tokio::sync::Semaphore::new(MAX_REFUSALS));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    let (done_tx, done_rx) = tokio::sync::watch::channel(());
    let mut last_accept_error: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    if last_accept_error.is_none_or(|at| at.elapsed() > Duration::from_secs(1)) {
                        tracing::error!("accept failed: {e}");
                        last_accept_error = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = census.admit(crate::middleware::client_network(peer.ip()), &limits) else {
            metrics::counter!("http_connections_refused_total").increment(1);
            if let Ok(permit) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(permit);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let in_flight = Arc::new(InFlight::default());
        let io = TokioIo::new(TimedIo::new(stream, in_flight.clone(), limits));
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let guard = InFlightGuard::new(&in_flight);
            req.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move {
                let response = app.oneshot(req.map(Body::new)).await?;
                // The request stays in flight until its response is written.
                Ok::<_, std::convert::Infallible>(response.map(move |body| {
                    Body::new(body.map_frame(move |frame| {
                        let _ = &guard;
                        frame
                    }))
                }))
            }
        });
        let mut stop = stop_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.keep_alive(true);
            let connection = builder.serve_connection(io, service).with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!("connection from {peer} ended: {e}");
                    }
                }
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(slot);
            drop(done);
        });
    }
    drop(listener);
    let _ = stop_tx.send(());
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

/// Lifts the soft limit on open files to the hard limit and returns it (`None` where it
/// cannot be read). Unix only.
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.maximum != limit.current {
            let raised = Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                return limit.maximum.or(Some(u64::MAX));
            }
        }
        limit.current.or(Some(u64::MAX))
    }
    #[cfg(not(unix))]
    None
}

/// `limits` with the connection caps clamped below `fd_limit` (leaving room for the
/// database, document readers and outbound calls).
pub fn clamp_to_fd_limit(mut limits: EdgeLimits, fd_limit: Option<u64>) -> EdgeLimits {
    if let Some(fds) = fd_limit {
        let room = usize::try_from(fds.saturating_sub(128) * 9 / 10).unwrap_or(usize::MAX);
        if limits.max_connections > room {
            tracing::warn!(
                configured = limits.max_connections,
                allowed = room,
                "max_connections lowered below the open-file limit"
            );
            limits.max_connections = room.max(16);
        }
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_census_caps_in_all_and_per_address() {
        let census = Arc::new(Census::default());
        let limits = EdgeLimits {
            max_connections: 3,
            max_connections_per_ip: 2,
            ..EdgeLimits::default()
        };
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = census.admit(a, &limits).unwrap();
        let _second = census.admit(a, &limits).unwrap();
        assert!(census.admit(a, &limits).is_none(), "per address");
        let _third = census.admit(b, &limits).unwrap();
        assert!(census.admit(b, &limits).is_none(), "in all");
        drop(first);
        assert!(census.admit(a, &limits).is_some(), "a slot freed");
    }

    #[test]
    fn the_busy_answer_is_well_formed() {
        let full = busy_response();
        let (head, body) = full.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 503);
    }

    #[test]
    fn caps_stay_below_the_file_limit() {
        let limits = clamp_to_fd_limit(EdgeLimits::default(), Some(1024));
        assert!(limits.max_connections < 1024);
        let unlimited = clamp_to_fd_limit(EdgeLimits::default(), None);
        assert_eq!(unlimited.max_connections, 10_000);
    }
}
