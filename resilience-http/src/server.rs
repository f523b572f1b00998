//! [`Server`]: the API on a listener of its own, with a graceful shutdown.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

#[cfg(feature = "metrics")]
use metrics_exporter_prometheus::PrometheusHandle;
use resilience::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Api, ServerError};

/// The address a [`Server`] listens on unless told otherwise: `127.0.0.1:9464`, local only.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9464);

/// A standalone server for the [`Api`]: configure, then [`start`](Self::start).
///
/// ```
/// use resilience_http::Server;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), resilience_http::ServerError> {
/// let server = Server::bind(([127, 0, 0, 1], 0)).control_token("s3cret").start().await?;
/// println!("dashboard at http://{}/", server.local_addr());
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a server does nothing until started"]
pub struct Server {
    addr: SocketAddr,
    api: Api,
    shutdown_timeout: Duration,
    header_read_timeout: Duration,
}

impl Server {
    /// A server for `addr` (port 0: any free port), over the global registry, control disabled.
    /// Listen on `0.0.0.0` only on purpose: the read endpoints need no token.
    pub fn bind(addr: impl Into<SocketAddr>) -> Self {
        Server {
            addr: addr.into(),
            api: Api::new(),
            shutdown_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(10),
        }
    }

    /// Enables the control endpoints with this bearer token; see [`Api::control_token`].
    pub fn control_token(mut self, token: impl AsRef<str>) -> Self {
        self.api = self.api.control_token(token);
        self
    }

    /// Serves `registry` instead of the global one; see [`Api::for_registry`].
    pub fn registry(mut self, registry: &'static Registry) -> Self {
        self.api = self.api.with_registry(registry);
        self
    }

    /// Serves `/metrics` from this Prometheus handle; see [`Api::prometheus`].
    #[cfg(feature = "metrics")]
    pub fn prometheus(mut self, handle: PrometheusHandle) -> Self {
        self.api = self.api.prometheus(handle);
        self
    }

    /// How long [`RunningServer::shutdown`] waits for open requests to finish before it drops
    /// them; 5 s unless set.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How long a client may take to send a request's headers before its connection is
    /// closed; 10 s unless set. A client that sends half a request and then nothing holds a
    /// connection no longer than this.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Binds the address and serves on the current Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`ServerError::Bind`] when the address cannot be bound.
    pub async fn start(self) -> Result<RunningServer, ServerError> {
        let listener = TcpListener::bind(self.addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: self.addr,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: self.addr,
            source,
        })?;
        let (closing, closed) = watch::channel(false);
        let api = self.api.closing(closed.clone());
        let app = api.router();
        let task = tokio::spawn(crate::serve::serve(
            listener,
            app,
            self.header_read_timeout,
            closed,
        ));
        Ok(RunningServer {
            local_addr,
            api,
            closing,
            task,
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

impl Default for Server {
    /// [`Server::bind`]`(`[`DEFAULT_ADDR`]`)`.
    fn default() -> Self {
        Server::bind(DEFAULT_ADDR)
    }
}

/// A started [`Server`]. Dropping it stops the server at once; [`shutdown`](Self::shutdown)
/// stops it gracefully.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    api: Api,
    closing: watch::Sender<bool>,
    task: JoinHandle<()>,
    shutdown_timeout: Duration,
}

impl RunningServer {
    /// The address it listens on (with the port chosen, when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://{local_addr}/`: the dashboard.
    pub fn url(&self) -> String {
        format!("http://{}/", self.local_addr)
    }

    /// How many `/events` streams are open now.
    pub fn event_streams(&self) -> usize {
        self.api.event_streams()
    }

    /// Stops accepting connections, ends the `/events` streams, lets the requests under way
    /// finish for up to the [shutdown timeout](Server::shutdown_timeout), then drops every
    /// connection left (a client that sends nothing cannot hold the shutdown up).
    pub async fn shutdown(mut self) {
        let _ = self.closing.send(true);
        if tokio::time::timeout(self.shutdown_timeout, &mut self.task)
            .await
            .is_err()
        {
            // Its connections are in the task's `JoinSet`: aborted with it.
            self.task.abort();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.closing.send(true);
        self.task.abort();
    }
}
