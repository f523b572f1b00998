//! An axum server with per-route policies from `resilience::tower`, sharing the registry with
//! the annotated functions of the same program.
//!
//! Run with `cargo run --example axum`. It builds the router, sends it a few requests in process
//! (`tower::ServiceExt::oneshot`: the same path a request takes from `axum::serve`, without a
//! socket or an HTTP client), prints each answer, and ends with the registry's table. It takes
//! about a second.
//!
//! Each route has its own policy, and one `answer` function turns a rejection into its HTTP
//! status (`Error::http_status`) with a `Retry-After` header when the rejection knows one.

use std::future::{ready, Ready};
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use resilience::tower::{
    BulkheadLayer, CircuitBreakerLayer, RateLimitLayer, RetryLayer, TimeoutLayer,
};
use resilience::{
    circuit_breaker, registry, Bulkhead, CircuitBreaker, Error, RateLimiter, Retry, Timeout,
};
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};

/// Turns what the layers return into a response: a rejection answers with its own status
/// (503 open circuit or full bulkhead, 429 rate limit, 504 timeout) and, when it knows one, a
/// `Retry-After` in whole seconds, rounded up; the inner service's own error is a 502.
async fn answer(error: BoxError) -> Response {
    let Some(rejection) = error.downcast_ref::<Error>() else {
        return (StatusCode::BAD_GATEWAY, format!("upstream failed: {error}")).into_response();
    };
    let status =
        StatusCode::from_u16(rejection.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = (status, format!("{}: {rejection}", rejection.code())).into_response();
    if let Some(after) = rejection.retry_after() {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The inventory service this server depends on: down for the whole example.
fn inventory_upstream(request: Request<Body>) -> Ready<Result<Response, io::Error>> {
    let _ = request;
    ready(Err(io::Error::other(
        "inventory service refused the connection",
    )))
}

/// A background job that talks to the same inventory service, through the same breaker.
#[circuit_breaker(name = "inventory")]
async fn sync_inventory() -> Result<u32, io::Error> {
    Err(io::Error::other("inventory service refused the connection"))
}

fn router(quote_calls: Arc<AtomicU32>) -> Result<Router, BoxError> {
    // Settings fixed at startup; every site naming the policy joins it.
    let inventory = CircuitBreaker::builder("inventory")
        .failure_threshold(3)
        .reset_timeout(Duration::from_secs(10));
    let search = RateLimiter::builder("search")
        .rate(2)
        .per(Duration::from_secs(1));
    let report = Timeout::builder("report").duration(Duration::from_millis(200));
    let export = Bulkhead::builder("export").max_concurrent(1);
    let quote = Retry::builder("quote")
        .max_attempts(3)
        .fixed(Duration::from_millis(20));

    // A flaky pricing service: the first two attempts of every request fail.
    let pricing = service_fn(move |_: Request<()>| {
        let attempt = quote_calls.fetch_add(1, Ordering::SeqCst);
        ready(if attempt % 3 < 2 {
            Err(io::Error::other("pricing service reset the connection"))
        } else {
            Ok("quote: 42.00 EUR".into_response())
        })
    });

    Ok(Router::new()
        .route_service(
            "/inventory",
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(answer))
                .layer(CircuitBreakerLayer::register(inventory)?)
                .service(service_fn(inventory_upstream)),
        )
        .route(
            "/search",
            get(|| async { "3 results" }).layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(answer))
                    .layer(RateLimitLayer::register(search)?),
            ),
        )
        .route(
            "/report",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                "the report"
            })
            .layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(answer))
                    .layer(TimeoutLayer::register(report)?),
            ),
        )
        .route(
            "/export",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "export.csv"
            })
            .layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(answer))
                    .layer(BulkheadLayer::register(export)?),
            ),
        )
        .route_service(
            "/quote",
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(answer))
                // A retry sends each attempt a clone of the request: axum's `Request<Body>` is
                // not `Clone`, a bodiless `Request<()>` is.
                .map_request(|request: Request<Body>| request.map(|_| ()))
                .layer(RetryLayer::register(quote)?)
                .service(pricing),
        ))
}

/// Sends `GET path` to the router and prints the answer as an operator reads it.
async fn get_and_print(router: &Router, path: &str) -> Result<StatusCode, BoxError> {
    let request = Request::get(path).body(Body::empty())?;
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .map(|secs| format!("  Retry-After: {secs}"))
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await?;
    println!(
        "GET {path:<11} {status}{retry_after}\n    {}",
        String::from_utf8_lossy(&body)
    );
    Ok(status)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let quote_calls = Arc::new(AtomicU32::new(0));
    let router = router(Arc::clone(&quote_calls))?;

    println!("== /inventory: a breaker in front of a dependency that is down");
    for _ in 0..4 {
        get_and_print(&router, "/inventory").await?;
    }
    match sync_inventory().await {
        Ok(n) => println!("background sync: {n} items"),
        Err(error) => println!("background sync (same breaker, annotated fn): {error}"),
    }

    println!("\n== /search: 2 requests per second");
    for _ in 0..3 {
        get_and_print(&router, "/search").await?;
    }

    println!("\n== /report: 200ms timeout on a handler that takes a second");
    get_and_print(&router, "/report").await?;

    println!("\n== /export: one export at a time");
    let running = tokio::spawn({
        let router = router.clone();
        async move {
            get_and_print(&router, "/export")
                .await
                .map_err(|e| e.to_string())
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    get_and_print(&router, "/export").await?;
    running.await??;

    println!("\n== /quote: a retry over a flaky pricing service");
    get_and_print(&router, "/quote").await?;
    println!(
        "    pricing service called {} times",
        quote_calls.load(Ordering::SeqCst)
    );

    println!("\n== the registry: routes and annotated functions side by side");
    print!("{}", registry().snapshot());
    Ok(())
}
