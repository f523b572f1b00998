//! The accept loop of a [`Server`](crate::Server): hyper's HTTP/1 connections over the router.
//!
//! axum's own `serve` would do, but it gives hyper no timer, so a client that sends half its
//! headers and then nothing holds its connection (and a graceful shutdown) for ever. Here each
//! connection has a header read timeout, and the connections live in a `JoinSet` owned by the
//! loop: when a shutdown outlasts its timeout and the loop's task is aborted, they go with it.

use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Serves `app` on `listener` until `closing` turns `true` (or its sender goes), then stops
/// accepting, lets every connection finish its request under way and closes the idle ones.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    mut closing: watch::Receiver<bool>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let service = TowerToHyperService::new(app.clone());
                    let connection = http.serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection);
                    connections.spawn(async move {
                        // A connection's error (reset, bad request, timeout) is its own end.
                        let _ = connection.await;
                    });
                }
                // Out of file descriptors, or a connection reset before it was accepted: back
                // off a little rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = turned(&mut closing) => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    while connections.join_next().await.is_some() {}
}

/// Until `closing` turns `true` or its sender goes (the guard `wait_for` gives is not `Send`).
async fn turned(closing: &mut watch::Receiver<bool>) {
    let _ = closing.wait_for(|closing| *closing).await;
}
