//! Serving HTTP/1.1 connections under limits a hostile client cannot stretch: at most
//! `max_connections` at once (more wait in the listen backlog until one closes), a request's
//! headers within the header-read timeout, a kept-alive connection closed when it waits longer
//! than the idle timeout for its next request, a request body that pauses for longer than the
//! body timeout and a response the client stops reading for longer than the send timeout cut
//! off. A request in progress has no time limit of its own: a
//! followed staging log or a large download runs as long as it keeps moving.
//!
//! hyper has no idle timeout, and its header-read timeout starts when a kept-alive connection
//! goes idle (so it would be the idle timeout too); both are kept here, on the connection's
//! socket, which knows when bytes arrive, and its service, which knows when a request begins
//! and its response ends.

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use futures::task::AtomicWaker;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use crate::config::HttpArgs;

/// Largest request head (request line and headers) a client may send; hyper answers a larger
/// one with 431. It also bounds what a connection that never finishes its headers holds.
const MAX_HEAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
    pub send_timeout: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    pub fn from_args(args: &HttpArgs) -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(args.header_read_timeout_seconds),
            idle_timeout: Duration::from_secs(args.idle_timeout_seconds),
            body_timeout: Duration::from_secs(args.body_timeout_seconds),
            send_timeout: Duration::from_secs(args.send_timeout_seconds),
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets every open connection
/// finish the request it is serving (idle ones close at once) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        // The permit is taken before accepting: above the cap, clients wait in the backlog
        // instead of holding a socket and a task here.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    wait_after_accept_error(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let stopping = stopping.clone();
        connections.spawn(async move {
            serve_connection(stream, app, limits, stopping).await;
            drop(permit);
        });
    }
    // Clients still waiting in the backlog are refused now, not after the last response.
    drop(listener);
    let _ = stop.send(true);
    connections.close();
    connections.wait().await;
}

/// A refused or reset connection is the client's business; running out of file descriptors
/// is ours, and retrying at once would only spin (as axum::serve and hyper do, wait a second).
async fn wait_after_accept_error(err: io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "cannot accept connections");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn serve_connection(
    stream: TcpStream,
    app: Router,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) {
    // Responses are written whole by hyper; waiting for more to coalesce only adds latency.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TimedIo::new(stream, activity.clone(), limits);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = InFlight::begin(&activity);
        let request = request.map(|body| Body::new(TimeoutBody::new(limits.body_timeout, body)));
        let response = app.clone().oneshot(request);
        async move {
            let response = response.await?;
            Ok::<_, std::convert::Infallible>(response.map(|body| CountedBody {
                body,
                _in_flight: in_flight,
            }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.max_buf_size(MAX_HEAD_BYTES);
    let mut connection = pin!(builder.serve_connection(TokioIo::new(io), service));
    let stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = stop => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = ended {
        tracing::debug!(error = %err, "connection ended");
    }
}

/// What the connection's service tells its socket: whether a request is being served, and
/// since when the connection waits for the next one.
struct Activity {
    in_flight: AtomicUsize,
    waiting: Mutex<Waiting>,
    /// The read that found a request in flight (so armed no timer): woken when the request
    /// ends, so the wait for the next one is timed. hyper itself does not read again then.
    reader: AtomicWaker,
}

#[derive(Clone, Copy)]
struct Waiting {
    since: Instant,
    /// Requests begun on this connection so far; 0 while it waits for its first.
    requests: u64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            in_flight: AtomicUsize::new(0),
            waiting: Mutex::new(Waiting {
                since: Instant::now(),
                requests: 0,
            }),
            reader: AtomicWaker::new(),
        }
    }

    fn waiting(&self) -> Waiting {
        *self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One request being served, from its complete head until its response body is sent or
/// dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        activity
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .requests += 1;
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut waiting = self.0.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.since = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        drop(waiting);
        self.0.reader.wake();
    }
}

/// A response body that ends its request's `InFlight` when hyper is done with it.
struct CountedBody {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The connection's socket, failing a read with `TimedOut` when the client is late with a
/// request, and a write when the client stops reading the response.
struct TimedIo {
    stream: TcpStream,
    activity: Arc<Activity>,
    limits: ConnectionLimits,
    accepted: Instant,
    /// When the first byte of the next request arrived, and which request that was (the count
    /// of requests begun before it).
    first_byte: Option<(u64, Instant)>,
    read_timer: Timer,
    write_timer: Timer,
    /// While a write cannot proceed: when the client must have read enough for it to.
    write_deadline: Option<Instant>,
}

impl TimedIo {
    fn new(stream: TcpStream, activity: Arc<Activity>, limits: ConnectionLimits) -> Self {
        TimedIo {
            stream,
            activity,
            limits,
            accepted: Instant::now(),
            first_byte: None,
            read_timer: Timer::default(),
            write_timer: Timer::default(),
            write_deadline: None,
        }
    }

    /// When the client must have sent the rest of the next request's head; none while a
    /// request is being served (its body has its own per-chunk timeout).
    fn read_deadline(&self) -> Option<Instant> {
        if self.activity.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let waiting = self.activity.waiting();
        if waiting.requests == 0 {
            return Some(self.accepted + self.limits.header_read_timeout);
        }
        match self.first_byte {
            Some((request, at)) if request == waiting.requests => {
                Some(at + self.limits.header_read_timeout)
            }
            _ => Some(waiting.since + self.limits.idle_timeout),
        }
    }

    fn note_bytes_read(&mut self) {
        if self.activity.in_flight.load(Ordering::SeqCst) > 0 {
            return;
        }
        let requests = self.activity.waiting().requests;
        if self
            .first_byte
            .is_none_or(|(request, _)| request != requests)
        {
            self.first_byte = Some((requests, Instant::now()));
        }
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.note_bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => {
                this.activity.reader.register(cx.waker());
                match this.read_deadline() {
                    Some(deadline) => this.read_timer.poll_expired(deadline, cx, "request"),
                    None => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.after_write(written, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.after_write(written, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl TimedIo {
    /// A write that cannot proceed starts the send timeout; any progress clears it. (The
    /// socket turns writable again only once the client has read a good part of what the
    /// kernel holds for it, as for nginx's `send_timeout`.)
    fn after_write(
        &mut self,
        written: Poll<io::Result<usize>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        match written {
            Poll::Pending => {
                let deadline = *self
                    .write_deadline
                    .get_or_insert_with(|| Instant::now() + self.limits.send_timeout);
                self.write_timer.poll_expired(deadline, cx, "response")
            }
            ready => {
                self.write_deadline = None;
                ready
            }
        }
    }
}

/// A deadline on one direction of the socket, polled only while that direction waits.
#[derive(Default)]
struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Timer {
    /// `Pending` (with the waker registered) until `deadline`, then a `TimedOut` error.
    fn poll_expired<T>(
        &mut self,
        deadline: Instant,
        cx: &mut Context<'_>,
        what: &str,
    ) -> Poll<io::Result<T>> {
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() != deadline {
            sleep.as_mut().reset(deadline);
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client was too slow with the {what}"),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}
