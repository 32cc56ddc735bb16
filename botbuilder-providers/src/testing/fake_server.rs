//! [`FakeServer`]: a scripted HTTP/1.1 server on 127.0.0.1 written on a bare TCP socket, so a
//! test controls every byte: how a streamed body is split into TCP writes, a body cut off
//! mid-way, a stream that never ends, and whether the client closed the connection.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// What the server does with the next request.
#[derive(Debug, Clone)]
pub enum Step {
    /// A complete response with `Content-Length`.
    Respond {
        /// Status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// Body.
        body: String,
        /// Content type.
        content_type: &'static str,
    },
    /// An OpenAI embeddings answer for however many `input` texts the request carries:
    /// vectors of `dimensions` made from the texts' bytes (equal texts, equal vectors).
    Embeddings {
        /// Length of every vector.
        dimensions: usize,
    },
    /// A `200 text/event-stream` body sent as these separate TCP writes (a short pause
    /// between them), then `end`.
    Stream {
        /// The writes, in order.
        writes: Vec<Vec<u8>>,
        /// What happens after the last write.
        end: StreamEnd,
    },
}

impl Step {
    /// A JSON response.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self::Respond {
            status,
            headers: Vec::new(),
            body: body.into(),
            content_type: "application/json",
        }
    }

    /// This response with an extra header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Self::Respond { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// A stream of `events`, each in one write, closed at the end.
    pub fn events(events: Vec<String>) -> Self {
        Self::Stream {
            writes: events.into_iter().map(String::into_bytes).collect(),
            end: StreamEnd::Close,
        }
    }

    /// This stream left open after its last write, until the client hangs up.
    #[must_use]
    pub fn hanging(mut self) -> Self {
        if let Self::Stream { end, .. } = &mut self {
            *end = StreamEnd::Hang;
        }
        self
    }

    /// The same bytes as [`Step::events`], re-cut into writes of `size` bytes (so events and
    /// even UTF-8 characters are split across TCP writes).
    pub fn events_in_pieces(events: Vec<String>, size: usize) -> Self {
        let bytes = events.concat().into_bytes();
        let writes = bytes.chunks(size.max(1)).map(<[u8]>::to_vec).collect();
        Self::Stream {
            writes,
            end: StreamEnd::Close,
        }
    }
}

/// How a streamed body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The server closes the connection (the body is close-delimited).
    Close,
    /// The server keeps the connection open until the client closes it.
    Hang,
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST`, ...
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

impl Recorded {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct Shared {
    script: Mutex<VecDeque<Step>>,
    fallback: Mutex<Option<Step>>,
    requests: Mutex<Vec<Recorded>>,
    closed_by_client: AtomicUsize,
    closed: Notify,
}

/// The server; it stops when dropped.
#[derive(Debug)]
pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// Starts a server on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let shared = Arc::new(Shared::default());
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, serving.clone()));
            }
        });
        Self { addr, shared, task }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address (to allow in a fetch policy).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues what to do with a later request (unscripted requests get a 500).
    pub fn push(&self, step: Step) {
        self.shared.script.lock().expect("poisoned").push_back(step);
    }

    /// What to do with requests once the script is used up (default: a 500).
    pub fn otherwise(&self, step: Step) {
        *self.shared.fallback.lock().expect("poisoned") = Some(step);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().expect("poisoned").clone()
    }

    /// How many streams the client closed before the server was done with them.
    pub fn closed_by_client(&self) -> usize {
        self.shared.closed_by_client.load(Ordering::SeqCst)
    }

    /// Waits (up to `limit`) until the client has closed `count` hanging streams.
    pub async fn wait_closed_by_client(&self, count: usize, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.shared.closed.notified();
            if self.closed_by_client() >= count {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.closed_by_client() >= count;
            }
        }
    }
}

/// Reads one request (headers and a `Content-Length` body).
async fn read_request(socket: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// An embeddings answer for `input` (a text or a list of texts).
fn embeddings(input: &serde_json::Value, dimensions: usize) -> String {
    let texts: Vec<String> = match input {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|t| t.as_str().unwrap_or_default().to_owned())
            .collect(),
        other => vec![other.as_str().unwrap_or_default().to_owned()],
    };
    let data: Vec<serde_json::Value> = texts
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let size = dimensions.max(1);
            let mut vector = vec![0.0f32; size];
            for (i, byte) in text.to_lowercase().bytes().enumerate() {
                vector[(usize::from(byte) + i) % size] += 1.0;
            }
            serde_json::json!({ "object": "embedding", "index": index, "embedding": vector })
        })
        .collect();
    serde_json::json!({ "object": "list", "data": data, "model": "fake-embed",
        "usage": { "prompt_tokens": texts.len(), "total_tokens": texts.len() } })
    .to_string()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

async fn serve(mut socket: TcpStream, shared: Arc<Shared>) {
    while let Some(request) = read_request(&mut socket).await {
        let input = request.json()["input"].clone();
        shared.requests.lock().expect("poisoned").push(request);
        let step = shared.script.lock().expect("poisoned").pop_front();
        let step = step
            .or_else(|| shared.fallback.lock().expect("poisoned").clone())
            .unwrap_or_else(|| {
                Step::json(
                    500,
                    r#"{"error":{"message":"no scripted response","type":"server_error"}}"#,
                )
            });
        let step = match step {
            Step::Embeddings { dimensions } => Step::json(200, embeddings(&input, dimensions)),
            other => other,
        };
        match step {
            Step::Respond {
                status,
                headers,
                body,
                content_type,
            } => {
                let mut head = format!(
                    "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
                    reason(status),
                    body.len()
                );
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                if socket.write_all(head.as_bytes()).await.is_err()
                    || socket.write_all(body.as_bytes()).await.is_err()
                {
                    return;
                }
            }
            Step::Embeddings { .. } => unreachable!("turned into a response above"),
            Step::Stream { writes, end } => {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                    cache-control: no-cache\r\nconnection: close\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut hung_up = false;
                for piece in writes {
                    if socket.write_all(&piece).await.is_err() || socket.flush().await.is_err() {
                        hung_up = true;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                if end == StreamEnd::Hang && !hung_up {
                    // Wait for the client to hang up (a read of 0 bytes or an error).
                    let mut sink = [0u8; 1024];
                    while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
                    hung_up = true;
                }
                if hung_up {
                    shared.closed_by_client.fetch_add(1, Ordering::SeqCst);
                    shared.closed.notify_waiters();
                }
                return; // close-delimited body
            }
        }
    }
}
