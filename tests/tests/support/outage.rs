//! A TCP proxy in front of a server (the test Postgres) that can cut every connection and
//! refuse new ones, then let them through again: what a database restart looks like from the
//! application's side, without disturbing the other tests sharing that server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// The proxy (see the module docs); it stops with the test's runtime.
pub(crate) struct Outage {
    addr: SocketAddr,
    up: AtomicBool,
    links: Mutex<Vec<AbortHandle>>,
}

impl Outage {
    /// Forwards a free local port to `target`.
    pub(crate) async fn start(target: SocketAddr) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Arc::new(Self {
            addr: listener.local_addr().unwrap(),
            up: AtomicBool::new(true),
            links: Mutex::new(Vec::new()),
        });
        let accepting = proxy.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.up.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                accepting.links.lock().unwrap().push(link.abort_handle());
            }
        });
        proxy
    }

    /// `url` (`postgres://user@host:port/db`) pointed at this proxy instead.
    pub(crate) fn rewrite(&self, url: &str) -> String {
        let (scheme_user, rest) = url.split_once('@').expect("user@host in the URL");
        let (_, database) = rest.split_once('/').expect("a database in the URL");
        format!("{scheme_user}@{}/{database}", self.addr)
    }

    /// Cuts every open connection and refuses new ones.
    pub(crate) fn go_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Lets connections through again.
    pub(crate) fn come_back(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// The `host:port` of a `postgres://user@host:port/db` URL.
pub(crate) fn server_of(url: &str) -> SocketAddr {
    let (_, rest) = url.split_once('@').expect("user@host in the URL");
    let (host_port, _) = rest.split_once('/').expect("a database in the URL");
    host_port.parse().expect("an IP address and port")
}
