//! A TCP proxy in front of a server (the test Postgres) that can go away, closing every
//! connection and refusing new ones (its port closed), then come back on the same port: what
//! a database restart looks like from the application's side, without disturbing the other
//! tests sharing that server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// The proxy (see the module docs); it stops with the test's runtime.
pub(crate) struct Outage {
    addr: SocketAddr,
    target: SocketAddr,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// The accepting task while the proxy is up.
    accepting: Option<JoinHandle<()>>,
    /// Every forwarding task of the current up period.
    links: Vec<AbortHandle>,
}

impl Outage {
    /// Forwards a free local port to `target`.
    pub(crate) async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self {
            addr: listener.local_addr().unwrap(),
            target,
            state: Arc::default(),
        };
        proxy.accept(listener);
        proxy
    }

    fn accept(&self, listener: TcpListener) {
        let (state, target) = (self.state.clone(), self.target);
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                // Under the lock, so `go_down` never misses a link accepted just before it.
                state.lock().unwrap().links.push(link.abort_handle());
            }
        });
        self.state.lock().unwrap().accepting = Some(accepting);
    }

    /// `url` (`postgres://user@host:port/db`) pointed at this proxy instead.
    pub(crate) fn rewrite(&self, url: &str) -> String {
        let (scheme_user, rest) = url.split_once('@').expect("user@host in the URL");
        let (_, database) = rest.split_once('/').expect("a database in the URL");
        format!("{scheme_user}@{}/{database}", self.addr)
    }

    /// Closes the port (new connections are refused) and every open connection.
    pub(crate) async fn go_down(&self) {
        // Stop accepting first (the listener is dropped: the port refuses), then close every
        // link, including one accepted in the meantime.
        let accepting = self.state.lock().unwrap().accepting.take();
        if let Some(accepting) = accepting {
            accepting.abort();
            let _ = accepting.await;
        }
        for link in self.state.lock().unwrap().links.drain(..) {
            link.abort();
        }
    }

    /// Opens the port again.
    pub(crate) async fn come_back(&self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.accept(listener);
    }
}

/// The `host:port` of a `postgres://user@host:port/db` URL.
pub(crate) fn server_of(url: &str) -> SocketAddr {
    let (_, rest) = url.split_once('@').expect("user@host in the URL");
    let (host_port, _) = rest.split_once('/').expect("a database in the URL");
    host_port.parse().expect("an IP address and port")
}
