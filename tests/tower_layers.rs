//! The `tower` layers on a real axum `Router`, driven in process with `ServiceExt::oneshot`:
//! the same named policies as the attributes, answered as HTTP statuses.

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
    circuit_breaker, registry, Bulkhead, CircuitBreaker, CircuitState, Error, RateLimiter, Retry,
    Timeout,
};
use tower::util::ServiceFn;
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};

/// What the example's server answers for an error of the layers: a rejection's own status and
/// `Retry-After` (whole seconds, rounded up), anything else a 500.
async fn answer(error: BoxError) -> Response {
    let Some(rejection) = error.downcast_ref::<Error>() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response();
    };
    let status =
        StatusCode::from_u16(rejection.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = (status, rejection.to_string()).into_response();
    if let Some(after) = rejection.retry_after() {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// An inner service that fails every request, counting the requests that reach it.
fn failing(
    reached: &Arc<AtomicU32>,
) -> ServiceFn<
    impl Fn(Request<Body>) -> Ready<Result<Response, io::Error>> + Clone + Send + Sync + 'static,
> {
    let reached = Arc::clone(reached);
    service_fn(move |_: Request<Body>| {
        reached.fetch_add(1, Ordering::SeqCst);
        ready(Err(io::Error::other("payment provider down")))
    })
}

async fn get_status(router: &Router, uri: &str) -> Response {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    router.clone().oneshot(request).await.unwrap()
}

#[resilience::test]
async fn an_open_breaker_answers_503_without_calling_the_handler() {
    let reached = Arc::new(AtomicU32::new(0));
    let breaker = CircuitBreaker::builder("tower-pay")
        .failure_threshold(2)
        .reset_timeout(Duration::from_secs(30));
    let router = Router::new().route_service(
        "/pay",
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(answer))
            .layer(CircuitBreakerLayer::register(breaker).unwrap())
            .service(failing(&reached)),
    );

    for _ in 0..2 {
        let response = get_status(&router, "/pay").await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert_eq!(reached.load(Ordering::SeqCst), 2);
    let breaker = registry().circuit_breaker("tower-pay").unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);

    let response = get_status(&router, "/pay").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "30");
    assert_eq!(
        reached.load(Ordering::SeqCst),
        2,
        "the handler ran while open"
    );
    assert_eq!(breaker.stats().rejected, 1);
}

#[circuit_breaker(name = "tower-shared", failure_threshold = 3)]
async fn charge(ok: bool) -> Result<&'static str, io::Error> {
    if ok {
        Ok("charged")
    } else {
        Err(io::Error::other("declined"))
    }
}

#[resilience::test]
async fn a_layer_and_an_annotated_function_share_one_named_breaker() {
    // The function's site registers the breaker with its settings on its first call.
    assert!(charge(false).await.is_err());
    let layer = CircuitBreakerLayer::named("tower-shared").unwrap();
    let shared = registry().circuit_breaker("tower-shared").unwrap();
    assert!(Arc::ptr_eq(layer.policy(), &shared));

    let reached = Arc::new(AtomicU32::new(0));
    let router = Router::new().route_service(
        "/charge",
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(answer))
            .layer(layer)
            .service(failing(&reached)),
    );
    // Function, route, function: three failures in a row between them open the circuit.
    let response = get_status(&router, "/charge").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(shared.stats().consecutive_failures, 2);
    assert!(charge(false).await.is_err());
    assert_eq!(shared.state(), CircuitState::Open);

    // Both are rejected now, whichever opened it.
    assert!(matches!(
        charge(true).await,
        Err(e) if e.kind() == io::ErrorKind::Other && e.to_string().contains("is open")
    ));
    let response = get_status(&router, "/charge").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reached.load(Ordering::SeqCst), 1);
    let stats = shared.stats();
    assert_eq!((stats.failures, stats.rejected), (3, 2));

    // One reset through the registry closes it for both.
    assert!(registry().reset("tower-shared"));
    assert_eq!(charge(true).await.unwrap(), "charged");
    let response = get_status(&router, "/charge").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[resilience::test]
async fn a_full_bulkhead_rejects_with_503_and_gives_its_slot_back() {
    let layer =
        BulkheadLayer::register(Bulkhead::builder("tower-report").max_concurrent(1)).unwrap();
    let bulkhead = Arc::clone(layer.policy());
    let router = Router::new().route(
        "/report",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            "report"
        })
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(answer))
                .layer(layer),
        ),
    );

    // The first request holds the one slot while it sleeps; the second finds it taken.
    let first = resilience::testing::spawn({
        let router = router.clone();
        async move { get_status(&router, "/report").await }
    });
    tokio::task::yield_now().await;
    assert_eq!(bulkhead.stats().in_flight, 1);
    let response = get_status(&router, "/report").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(bulkhead.stats().rejected, 1);

    assert_eq!(first.await.unwrap().status(), StatusCode::OK);
    assert_eq!(bulkhead.stats().in_flight, 0);
    assert_eq!(
        get_status(&router, "/report").await.status(),
        StatusCode::OK
    );
}

#[resilience::test]
async fn a_dropped_request_gives_its_bulkhead_slot_back() {
    let layer =
        BulkheadLayer::register(Bulkhead::builder("tower-dropped").max_concurrent(1)).unwrap();
    let bulkhead = Arc::clone(layer.policy());
    let router = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "late"
        })
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(answer))
                .layer(layer),
        ),
    );
    let gave_up = tokio::time::timeout(Duration::from_secs(1), get_status(&router, "/slow")).await;
    assert!(gave_up.is_err());
    assert_eq!(bulkhead.stats().in_flight, 0);
}

#[resilience::test]
async fn a_rate_limit_answers_429_with_retry_after() {
    let limiter = RateLimiter::builder("tower-search")
        .rate(2)
        .per(Duration::from_secs(10));
    let router = Router::new().route(
        "/search",
        get(|| async { "results" }).layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(answer))
                .layer(RateLimitLayer::register(limiter).unwrap()),
        ),
    );

    for _ in 0..2 {
        assert_eq!(
            get_status(&router, "/search").await.status(),
            StatusCode::OK
        );
    }
    let response = get_status(&router, "/search").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // One cell every 5 seconds: the next one is 5 seconds off.
    assert_eq!(response.headers()[header::RETRY_AFTER], "5");

    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        get_status(&router, "/search").await.status(),
        StatusCode::OK
    );
}

#[resilience::test]
async fn a_limiter_with_a_wait_makes_the_request_wait_instead() {
    let limiter = RateLimiter::builder("tower-wait")
        .rate(1)
        .per(Duration::from_secs(1))
        .wait(Duration::from_secs(2));
    let router = Router::new().route(
        "/",
        get(|| async { "ok" }).layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(answer))
                .layer(RateLimitLayer::register(limiter).unwrap()),
        ),
    );
    let start = tokio::time::Instant::now();
    assert_eq!(get_status(&router, "/").await.status(), StatusCode::OK);
    assert_eq!(get_status(&router, "/").await.status(), StatusCode::OK);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(
        registry()
            .rate_limiter("tower-wait")
            .unwrap()
            .stats()
            .waited,
        1
    );
}

#[resilience::test]
async fn a_slow_handler_times_out_with_504() {
    let timeout = Timeout::builder("tower-slow").duration(Duration::from_millis(250));
    let router = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route("/fast", get(|| async { "fast" }))
        .route_layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(answer))
                .layer(TimeoutLayer::register(timeout).unwrap()),
        );

    let start = tokio::time::Instant::now();
    let response = get_status(&router, "/slow").await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    assert_eq!(get_status(&router, "/fast").await.status(), StatusCode::OK);
    let stats = registry().timeout("tower-slow").unwrap().stats();
    assert_eq!((stats.calls, stats.timeouts), (2, 1));
}

#[resilience::test]
async fn a_retry_retries_a_failing_inner_service() {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&calls);
    let flaky = service_fn(move |_: Request<()>| {
        let attempt = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if attempt < 2 {
                Err(io::Error::other("connection reset"))
            } else {
                Ok::<_, io::Error>("third time lucky".into_response())
            }
        }
    });
    let retry = Retry::builder("tower-flaky")
        .max_attempts(3)
        .fixed(Duration::from_millis(100));
    let router = Router::new().route_service(
        "/flaky",
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(answer))
            // The retry sends each attempt a clone: a bodiless `Request<()>` is `Clone`, axum's
            // `Request<Body>` is not.
            .map_request(|request: Request<Body>| request.map(|_| ()))
            .layer(RetryLayer::register(retry).unwrap())
            .service(flaky),
    );

    let start = tokio::time::Instant::now();
    let response = get_status(&router, "/flaky").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert_eq!(registry().retry("tower-flaky").unwrap().stats().retries, 2);
}

#[resilience::test]
async fn stacked_layers_count_as_stacked_attributes() {
    // retry(breaker(timeout(handler))): the timeouts are retried, and each counts as a breaker
    // failure; an open circuit is not retried.
    let reached = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&reached);
    let hanging = service_fn(move |_: Request<()>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, io::Error>("never".into_response())
        }
    });
    let router = Router::new().route_service(
        "/stack",
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(answer))
            .map_request(|request: Request<Body>| request.map(|_| ()))
            .layer(RetryLayer::register(Retry::builder("tower-stack").max_attempts(3)).unwrap())
            .layer(
                CircuitBreakerLayer::register(
                    CircuitBreaker::builder("tower-stack").failure_threshold(2),
                )
                .unwrap(),
            )
            .layer(
                TimeoutLayer::register(
                    Timeout::builder("tower-stack").duration(Duration::from_secs(1)),
                )
                .unwrap(),
            )
            .service(hanging),
    );

    let response = get_status(&router, "/stack").await;
    // Two timeouts open the circuit; the third attempt is refused and not retried further.
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reached.load(Ordering::SeqCst), 2);
    let breaker = registry().circuit_breaker("tower-stack").unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.stats().failures, 2);
}

#[resilience::test]
async fn a_full_bulkhead_below_a_breaker_is_neutral() {
    let breaker = CircuitBreakerLayer::register(
        CircuitBreaker::builder("tower-neutral").failure_threshold(1),
    )
    .unwrap();
    let bulkhead =
        BulkheadLayer::register(Bulkhead::builder("tower-neutral").max_concurrent(1)).unwrap();
    let held = Arc::clone(bulkhead.policy());
    let _slot = held.try_acquire().unwrap();
    let router = Router::new().route(
        "/",
        get(|| async { "ok" }).layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(answer))
                .layer(breaker)
                .layer(bulkhead),
        ),
    );
    for _ in 0..3 {
        let response = get_status(&router, "/").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let breaker = registry().circuit_breaker("tower-neutral").unwrap();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.stats().ignored, 3);
}

#[resilience::test]
async fn a_panicking_request_is_a_breaker_failure_and_frees_its_slot() {
    let breaker = CircuitBreakerLayer::register(CircuitBreaker::builder("tower-panic")).unwrap();
    let bulkhead =
        BulkheadLayer::register(Bulkhead::builder("tower-panic").max_concurrent(1)).unwrap();
    let (shared_breaker, shared_bulkhead) =
        (Arc::clone(breaker.policy()), Arc::clone(bulkhead.policy()));
    let service = ServiceBuilder::new()
        .layer(breaker)
        .layer(bulkhead)
        .service(service_fn(|fail: bool| async move {
            assert!(!fail, "the handler panicked");
            Ok::<_, io::Error>("fine")
        }));

    let panicked = resilience::testing::spawn(service.clone().oneshot(true)).await;
    assert!(panicked.unwrap_err().is_panic());
    assert_eq!(shared_breaker.stats().failures, 1);
    assert_eq!(shared_bulkhead.stats().in_flight, 0);
    assert_eq!(service.oneshot(false).await.unwrap(), "fine");
}
